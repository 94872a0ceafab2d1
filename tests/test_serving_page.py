"""The Serving page: one deployment under load, from a link or from the widgets, and a clear message
where it cannot run. Expected figures are derived by hand in the comments, not from the code."""

from apptest_pages import open_app_link, open_app_page

from llm_calc.engines import default_profiles, load_profiles

SERVING = "app_pages/serving.py"


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_page_renders_its_defaults_with_ttft_users_and_cost():
    """A user opening Serving would see no figures, or a chart without points, if this failed."""
    at = open_app_page(SERVING)
    shown = _metrics(at)
    assert shown["Time to first token"].endswith(" s")
    assert int(shown["Most users at once"].replace(",", "")) >= 1
    assert shown["Cost per 1M output tokens"].startswith("$")  # the default card has a catalog price
    assert not at.error and not at.warning
    assert any("Engine profile" in c.value for c in at.caption)
    chart = at.get("plotly_chart")[0]
    assert chart.proto.spec  # one figure placed


def test_a_link_gives_the_kv_limit_derived_by_hand():
    """A shared link to Llama 2 7B with vLLM on one H100 must say how many users fit, as derived.

    3,000 + 1,096 = 4,096 tokens a request; KV 524,288 bytes a token (32 layers x 2 x 4,096 x 2
    bytes) is 2,147,483,648 a request; weights 13,476,831,232 + activations 168,948,736 + 1 GiB
    overhead = 14,719,521,792; vLLM takes 0.9 x 80 GiB = 77,309,411,328, leaving 62,589,889,536:
    29 requests (29.1)."""
    params = {"model": "Llama 2 7B", "engine": "vllm", "prompt": "3000", "output": "1096"}
    at = open_app_link(SERVING, params)
    assert _metrics(at)["Most users at once"] == "29"
    assert at.selectbox(key="engine").value == "vllm"
    assert not at.warning


def test_a_shared_link_reproduces_the_view_set_by_hand():
    """What a user sets by hand, sent as the URL, must open the same figures for whoever follows it."""
    # the values as the bound widgets write them into the URL (plain option values)
    link = {"card": "NVIDIA A100 80GB SXM", "gpus": "2", "engine": "sglang", "prompt": "4000", "output": "800"}
    link["user_speed"] = "35"
    at = open_app_page(SERVING)
    at.selectbox(key="card").set_value(link["card"])
    at.select_slider(key="gpus").set_value(2)
    at.selectbox(key="engine").set_value(link["engine"])
    at.number_input(key="prompt").set_value(4000)
    at.number_input(key="output").set_value(800)
    at.slider(key="user_speed").set_value(35)
    at.run()
    assert not at.exception and not at.error
    by_hand = _metrics(at)
    assert by_hand["Users at ≥ 35 tokens/s each"]  # the slider's value reached the metrics
    followed = open_app_link(SERVING, link)
    assert not followed.warning
    assert _metrics(followed) == by_hand
    assert followed.subheader[0].value == at.subheader[0].value


def test_garbage_in_the_link_falls_back_with_one_warning():
    """A mistyped link must open the page on its defaults and say which values were ignored."""
    at = open_app_link(SERVING, {"prompt": "abc", "card": "Nope GPU", "engine": "warp-drive", "user_speed": "-5"})
    warning = " ".join(w.value for w in at.warning)
    assert "The link had values this page cannot use" in warning
    for key in ("prompt", "card", "engine"):
        assert key in warning
    assert at.number_input(key="prompt").value == 1000
    assert "Time to first token" in _metrics(at)


def test_an_engine_that_does_not_run_on_the_card_is_one_clear_message():
    """MLX on an NVIDIA card is impossible: the page says so and names what does run there."""
    at = open_app_link(SERVING, {"engine": "mlx"})
    assert len(at.error) == 1
    assert "mlx does not run on NVIDIA cards" in at.error[0].value.replace("\\", "")
    assert not at.metric


def test_a_model_too_large_for_the_deployment_is_one_clear_message():
    """DeepSeek-V3 (671 B parameters, 671 GB even at 8 bits) on one 24 GiB card cannot serve anyone."""
    at = open_app_link(SERVING, {"model": "DeepSeek-V3", "precision": "fp8", "card": "NVIDIA RTX 4090"})
    assert len(at.error) == 1
    assert "not one sequence" in at.error[0].value
    assert not at.metric


def test_the_chart_marks_the_memory_limit_and_the_chosen_concurrency():
    """Without the marks a user could not see where memory stops adding users, nor which point is priced."""
    from llm_calc.catalog import find_gpu
    from llm_calc.hardware import ServingCurve, ServingPoint
    from ui.charts import serving_figure

    points = (ServingPoint(1, 100.0, 100.0, 0.1), ServingPoint(8, 50.0, 400.0, 0.1), ServingPoint(12, 30.0, 360.0, 0.2))
    curve = ServingCurve(find_gpu("NVIDIA H100 SXM"), 1, default_profiles()["vllm"], "tp", 1, 1, 12, points, 3.6)
    figure = serving_figure(curve, points[1], 40)
    line, limit, chosen = figure.data
    assert list(line.x) == [100.0, 400.0, 360.0] and list(line.y) == [100.0, 50.0, 30.0]
    assert limit.name == "KV memory limit: 12 users" and list(limit.x) == [360.0]
    assert "8 users" in chosen.name and list(chosen.y) == [50.0]
    assert figure.layout.shapes[0].y0 == 40  # the per-user speed asked for


def test_a_card_without_a_price_says_so_instead_of_a_cost():
    """The MI325X has no rental price in data/gpus.csv (no public on-demand list price was found): a made-up
    cost would mislead."""
    at = open_app_link(SERVING, {"card": "AMD Instinct MI325X"})
    assert _metrics(at)["Cost per 1M output tokens"] == "—"
    assert any("no rental price for AMD Instinct MI325X" in i.value for i in at.info)


SHARED_KEYS = {
    "source": "radio",
    "family": "selectbox",
    "model": "selectbox",
    "precision": "selectbox",
    "gpus": "select_slider",
    "engine": "selectbox",
    "parallel": "selectbox",
    "kv": "selectbox",
}
"""The sidebar widgets the Serving page shares with the hardware calculator, by URL key."""


def test_a_link_opens_the_same_model_and_engine_widgets_as_on_the_calculator():
    """A link carried from the hardware calculator to Serving (or back) must open the same model,
    precision, card count, engine, split and KV precision, under the same labels and help: if the two
    sidebars drift apart, a user sees one setting named two ways (on main the card count read "Cards"
    here and "GPUs per deployment" there, and the engine's help differed)."""
    link = {"model": "Qwen2.5 14B", "precision": "q4_k_m", "gpus": "2", "engine": "vllm", "parallel": "tp", "kv": "fp8"}
    serving = open_app_link(SERVING, link)
    calculator = open_app_link("app_pages/hardware_calculator.py", link)
    for key, kind in SHARED_KEYS.items():
        here, there = getattr(serving, kind)(key=key), getattr(calculator, kind)(key=key)
        assert (here.label, here.help, here.value) == (there.label, there.help, there.value), key
        assert key not in link or str(here.value) == link[key], key
    assert not serving.warning and not calculator.warning


def test_an_moe_model_says_what_its_moe_overhead_rests_on():
    """DeepSeek-V3 on 8 H200 with SGLang: each of its 58 MoE layers pays the profile's MoE-layer
    overhead, and the page names the rows that overhead was fitted on; a dense model has no such
    overhead and no such note."""
    profile = load_profiles()["sglang"]
    split = {"model": "DeepSeek-V3", "card": "NVIDIA H200 SXM", "gpus": "8", "engine": "sglang"}
    at = open_app_link(SERVING, split)
    assert not at.exception and not at.error
    text = " ".join(c.value for c in at.caption)
    micro = profile.moe_layer_overhead_seconds * 1_000_000
    assert f"Each MoE layer adds {micro:,.0f} µs per step" in text
    assert "rows of MoE models" in text
    dense = open_app_link(SERVING, {"model": "Llama 3.1 70B", "card": "NVIDIA H200 SXM", "gpus": "8"})
    assert not dense.exception and not dense.error
    assert "MoE layer" not in " ".join(c.value for c in dense.caption)


def test_a_serving_engine_s_profile_says_which_releases_it_describes():
    """vLLM's profile is fitted on its rows measured from 2025-04 on (llm_calc.engines.RELEASES_FROM);
    llama.cpp's describes every release, and its note says nothing of releases."""
    vllm = open_app_link(SERVING, {"model": "Llama 3.1 8B", "card": "NVIDIA H100 SXM", "engine": "vllm"})
    assert "Engine profile **vllm** of its releases from 2025-04 on" in " ".join(c.value for c in vllm.caption)
    gguf = open_app_link(SERVING, {"model": "Llama 3.1 8B", "card": "NVIDIA RTX 4090", "engine": "llama.cpp"})
    assert not gguf.exception and not gguf.error
    assert "releases from" not in " ".join(c.value for c in gguf.caption)


def test_a_curve_no_measured_run_tests_beyond_one_user_says_so():
    # every llama.cpp row in the file is a llama-bench or single-stream run (concurrency 1); vLLM's
    # published serving runs go up to hundreds of users
    cpu = open_app_link(SERVING, {"card": "AMD EPYC 9554 (192 GB)", "precision": "q4_k_m"})
    assert not cpu.exception
    assert any("None of llama.cpp/cpu's measured runs served more than one user" in c.value for c in cpu.caption)
    h100 = open_app_link(SERVING, {"card": "NVIDIA H100 SXM", "engine": "vllm"})
    assert not h100.exception
    assert not any("served more than one user" in c.value for c in h100.caption)
