"""AppTest: every page runs, and the calculator's numbers follow its inputs.

Expected values are hand-derived: Llama 3.1 8B has 8,030,261,248 parameters (16.06 GB at 2 bytes =
14.96 GiB) and 131,072 bytes of KV cache per token (8,192 tokens = 1 GiB).
"""

import pytest
from apptest_pages import APP, open_app_link, open_app_page, unseparated_numbers
from streamlit.testing.v1 import AppTest

from llm_calc.catalog import default_gpus

CALCULATOR = "app_pages/hardware_calculator.py"


def open_calculator() -> AppTest:
    return open_app_page(CALCULATOR)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_page_runs_and_links_to_the_calculator():
    at = open_app_page()
    assert at.title[0].value == "LLM Primer"


def test_calculator_defaults_to_llama_31_8b_at_bf16_and_8k():
    at = open_calculator()
    shown = metrics(at)
    assert shown["Weights"] == "15.0 GiB"
    assert shown["KV cache"] == "1.0 GiB"
    assert shown["Overhead per GPU"] == "1.0 GiB"
    assert "Llama 3.1 8B" in at.subheader[0].value


def test_the_done_when_scenario_shows_cards_and_counts():
    at = open_calculator()
    at.selectbox(key="model").set_value("Llama 3 70B")
    at.selectbox(key="precision").set_value("q4_k_m")
    at.select_slider(key="context").set_value(32768)
    at.number_input(key="batch").set_value(4)
    at.run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Weights"] == "40.2 GiB"  # 70,553,706,496 x 4.8944 bits
    assert shown["KV cache"] == "40.0 GiB"  # 327,680 B x 32,768 x 4
    table = at.dataframe[0].value
    h100 = table[table["card"] == "NVIDIA H100 SXM"].iloc[0]
    assert h100["cards needed"] == 2
    assert h100["decode (tokens/s per sequence)"] > 0
    assert any("trained for 8,192 tokens" in w.value for w in at.warning)
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "memory-bandwidth-bound" in why


def test_batch_grows_the_kv_cache_linearly():
    at = open_calculator()
    at.number_input(key="batch").set_value(8).run()
    assert metrics(at)["KV cache"] == "8.0 GiB"


def test_custom_size_builds_an_editable_architecture():
    at = open_calculator()
    at.radio(key="source").set_value("Custom size").run()
    at.select_slider(key="custom_size").set_value(70).run()
    assert not at.exception
    assert at.subheader[0].value.startswith("Custom 70B")
    before = metrics(at)["Weights"]
    at.number_input(key="arch_layers").set_value(10).run()
    assert metrics(at)["Weights"] != before


def test_invalid_custom_architecture_is_explained_not_crashed():
    at = open_calculator()
    at.radio(key="source").set_value("Custom size").run()
    at.number_input(key="arch_kv_heads").set_value(7).run()
    assert not at.exception
    # the message is shown as escaped markdown: "num\_kv\_heads" renders as num_kv_heads
    assert any("multiple of num\\_kv\\_heads" in e.value for e in at.error)


def test_config_mode_without_upload_asks_for_a_file():
    at = open_calculator()
    at.radio(key="source").set_value("config.json").run()
    assert not at.exception
    assert any("config.json" in i.value for i in at.info)


def test_custom_card_name_is_sanitised_and_listed():
    at = open_calculator()
    at.toggle(key="custom_card").set_value(True)
    at.text_input(key="card_name").set_value("<b>x</b> [L](http://e) $c$ :red[y]")
    at.run()
    cards = list(at.dataframe[0].value["card"])
    assert "bx/b L(http//e) c redy" in cards
    assert not any(set(card) & set("<>[]$:=") for card in cards)


def test_a_custom_card_whose_tensor_cores_cannot_keep_up_with_its_memory_is_flagged():
    # H20-like: 148 TFLOPS stream at most 148e3 / 64 = 2,312 GB/s of 16-bit weights, below 4,000
    at = open_calculator()
    at.toggle(key="custom_card").set_value(True)
    at.number_input(key="card_bw").set_value(4000.0)
    at.number_input(key="card_tflops").set_value(148.0)
    at.run()
    assert not at.exception
    flagged = [w.value for w in at.warning if "tensor cores can stream at most" in w.value]
    assert len(flagged) == 1 and "2,312 GB/s" in flagged[0] and "4,000 GB/s" in flagged[0]
    at.number_input(key="card_tflops").set_value(989.0).run()  # H100-like: 15,453 GB/s, ahead of its memory
    assert not [w for w in at.warning if "tensor cores can stream at most" in w.value]


def test_a_custom_cpu_socket_is_run_by_llama_cpp_s_cpu_backend():
    # a desktop with two channels of DDR5-5600: 2 x 5,600 MT/s x 8 bytes = 89.6 GB/s; 16 cores x 64 FLOPs a
    # cycle x 4.3 GHz = 4.4 TFLOPS; no tensor-core tile warning for a CPU
    at = open_calculator()
    at.selectbox(key="precision").set_value("q4_k_m")
    at.toggle(key="custom_card").set_value(True)
    at.radio(key="card_kind").set_value("CPU socket")
    at.text_input(key="card_name").set_value("My desktop")
    at.number_input(key="card_mem").set_value(96.0)
    at.number_input(key="card_bw").set_value(89.6)
    at.number_input(key="card_tflops").set_value(4.4)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    mine = table[table["card"] == "My desktop"].iloc[0]
    assert mine["class"] == "cpu"
    # Llama 3.1 8B at Q4_K_M reads at least 4.5 GB a token: no faster than 89.6 / 4.5 = 19.9 tokens/s
    assert 0 < mine["decode (tokens/s per sequence)"] < 89.6 / 4.5
    assert not [w for w in at.warning if "tensor cores can stream at most" in w.value]
    explain = at.selectbox(key="explain")
    explain.select_index(next(i for i, label in enumerate(explain.options) if label.startswith("My desktop"))).run()
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "The CPU's memory channels deliver it" in why and "llama.cpp overhead" in why


def test_filters_that_exclude_every_card_warn():
    at = open_calculator()
    at.multiselect(key="vendor").set_value([]).run()
    assert not at.exception
    assert any("No card matches" in w.value for w in at.warning)


@pytest.mark.parametrize("precision", ["fp32", "fp8", "int4", "q2_k"])
def test_every_precision_renders(precision):
    at = open_calculator()
    at.selectbox(key="precision").set_value(precision).run()
    assert not at.exception


def _drawn_position(axis, label: str) -> float | None:
    """Where Plotly puts an x value: its index on a category axis, the number on a numeric one, and
    nowhere (None) for a text label on a numeric axis, which Plotly drops."""
    if axis.type == "category":
        return list(axis.categoryarray).index(label)
    try:
        return float(label)
    except ValueError:
        return None


def test_memory_by_context_chart_draws_every_bar_and_marks_the_selected_one():
    """On main the default 8k view showed three bars and a floating marker: the "1k".."32k" labels
    sat on a numeric axis. Every context from 128 to 32,768 tokens (9 doublings) must get its own
    place, in order, and the "selected" marker must sit on the 8k bar."""
    from llm_calc.catalog import default_models
    from llm_calc.memory import InferenceSettings
    from llm_calc.sweep import memory_by_context
    from ui.charts import memory_by_context_figure

    spec = next(m.spec for m in default_models() if m.name == "Llama 3.1 8B")
    figure = memory_by_context_figure(memory_by_context(spec, InferenceSettings(context_tokens=8192), 32_768), 8192)
    expected = ["128", "256", "512", "1k", "2k", "4k", "8k", "16k", "32k"]
    for bar in figure.data:
        assert list(bar.x) == expected
        positions = [_drawn_position(figure.layout.xaxis, label) for label in bar.x]
        assert None not in positions, bar.name
        assert positions == sorted(set(positions)), bar.name  # distinct and in order
    (marker,) = figure.layout.annotations
    assert _drawn_position(figure.layout.xaxis, marker.x) == _drawn_position(figure.layout.xaxis, "8k")


def test_a_custom_model_has_no_inherited_training_context():
    """On main a custom 7 B model warned "trained for 2,048 tokens", LLaMA-7B's context, at the
    default 8k: a model that was never trained has no such limit."""
    at = open_calculator()
    at.radio(key="source").set_value("Custom size").run()
    at.select_slider(key="custom_size").set_value(7).run()
    assert not at.exception
    assert not any("trained for" in w.value for w in at.warning)


def test_hidden_size_not_divisible_by_heads_is_refused():
    """On main 7 heads on a 4,096 hidden size were accepted (4,096 / 7 = 585.14 dimensions a head)."""
    at = open_calculator()
    at.radio(key="source").set_value("Custom size").run()
    at.select_slider(key="custom_size").set_value(7).run()
    at.number_input(key="arch_hidden").set_value(4096)
    at.number_input(key="arch_heads").set_value(7)
    at.number_input(key="arch_kv_heads").set_value(7)
    at.run()
    assert not at.exception
    assert any("hidden size (4,096) must be a whole multiple of the attention heads (7)" in e.value for e in at.error)
    assert not at.metric  # no result drawn for an invalid architecture


def test_the_overview_is_linkable_by_its_name():
    """On main /overview opened "Page not found": Streamlit serves the default page at the root and
    finds a named page by matching the URL path against each registered page's url_pathname, which
    is empty for the default. Here a page answers to "overview" and shows the overview."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    named = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == "overview"]
    assert len(named) == 1
    at._page_hash = named[0]  # what the server resolves /overview to
    at.run()
    assert not at.exception
    assert at.title[0].value == "LLM Primer"


def test_garbage_in_the_link_is_named_with_the_value_used():
    """On main ?batch=abc&model=Nope silently showed batch 1 and Llama 3.1 8B: the user was not told
    the link was not followed. Valid values (16k, 2 GPUs) and the default spelled out (flash=True)
    are not mentioned."""
    at = open_app_link(
        CALCULATOR,
        {"batch": "abc", "model": "Nope", "vendor": ["NVIDIA", "Foo"], "context": "16k", "gpus": "2", "flash": "True"},
    )
    (warning,) = [w.value for w in at.warning if "link" in w.value]
    assert "batch = “abc” (using 1)" in warning
    assert "model = “Nope” (using Llama 3\\.1 8B)" in warning  # escaped markdown of "Llama 3.1 8B"
    assert "vendor = “NVIDIA, Foo” (using NVIDIA)" in warning
    for valid in ("context", "gpus", "flash"):
        assert valid not in warning
    assert at.session_state["context"] == 16384 and at.session_state["gpus"] == 2


def test_a_valid_link_and_later_changes_say_nothing_about_the_link():
    at = open_app_link(CALCULATOR, {"batch": "8", "precision": "fp8"})
    assert not any("link" in w.value for w in at.warning)
    at.number_input(key="batch").set_value(16).run()
    assert not any("link" in w.value for w in at.warning)
    assert metrics(at)["KV cache"] == "16.0 GiB"  # 131,072 B x 8,192 x 16


def test_big_numbers_in_the_calculator_tables_have_separators():
    """On main the GPU table showed e.g. "1234" for a cost per day: 64 H100s at a few dollars an
    hour cost thousands of dollars a day, and Llama 3 70B at batch 256 decodes thousands of tokens/s."""
    at = open_calculator()
    at.selectbox(key="model").set_value("Llama 3 70B")
    at.select_slider(key="gpus").set_value(2)
    at.number_input(key="batch").set_value(256)
    at.run()
    assert not at.exception
    assert at.dataframe[0].value["cost per day ($)"].max() >= 1000  # the case is really exercised
    assert unseparated_numbers(at) == {}


def test_the_speed_on_an_h20_says_its_weights_stream_at_the_measured_ceiling():
    at = open_calculator()
    explain = at.selectbox(key="explain")
    h20 = next(i for i, label in enumerate(explain.options) if label.startswith("NVIDIA H20 96GB"))
    explain.select_index(h20).run()
    assert not at.exception
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "no faster than the 1,884 GB/s this card's matrix kernels stream" in why
    h100 = next(i for i, label in enumerate(explain.options) if label.startswith("NVIDIA H100 SXM"))
    at.selectbox(key="explain").select_index(h100).run()
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "no faster than" not in why


def test_the_speed_with_eager_transformers_names_its_kv_cache_copies():
    at = open_calculator()
    at.selectbox(key="model").set_value("Llama 3.1 8B")
    at.selectbox(key="engine").set_value("transformers")
    at.run()
    assert not at.exception
    explain = at.selectbox(key="explain")
    h100 = next(i for i, label in enumerate(explain.options) if label.startswith("NVIDIA H100 SXM"))
    explain.select_index(h100).run()
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "transformers rebuilds the KV cache every step" in why and "3 passes over it in all" in why
    at.selectbox(key="engine").set_value("vllm").run()
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "rebuilds the KV cache" not in why


def test_the_calculator_compares_cpus_run_by_llama_cpp_and_explains_their_memory_channels():
    at = open_calculator()
    at.selectbox(key="precision").set_value("q4_k_m")
    at.multiselect(key="gpu_class").set_value(["cpu"])
    at.run()
    assert not at.exception
    assert any("llama.cpp's CPU backend" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert set(table["card"]) == {g.name for g in default_gpus() if g.is_cpu}
    explain = at.selectbox(key="explain")
    epyc = next(i for i, label in enumerate(explain.options) if label.startswith("AMD EPYC 9554"))
    explain.select_index(epyc).run()
    why = next(m.value for m in at.markdown if "Each decode step reads" in m.value)
    assert "The CPU's memory channels deliver it" in why and "at its vector FP32 peak" in why
    assert "llama.cpp overhead" in why and "interconnect" not in why
