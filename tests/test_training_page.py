"""AppTest for the training page: the numbers follow the inputs and match hand-derived values."""

from pathlib import Path

import pytest
from apptest_pages import open_app_link, open_app_page
from streamlit.testing.v1 import AppTest

PAGE = "app_pages/training.py"
PAGE_FILE = str(Path(__file__).resolve().parent.parent / PAGE)


@pytest.fixture()
def page():
    return open_app_page(PAGE)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_full_fine_tuning_of_llama_31_8b_by_default(page):
    assert metric(page, "Trainable parameters") == "8.03 B"
    # 16 bytes x 8,030,261,248 = 119.7 GiB of model states before activations
    parts = dict(zip(page.dataframe[0].value["part"], page.dataframe[0].value["per GPU"], strict=True))
    assert parts["weights"] == "15.0 GiB" and parts["gradients"] == "15.0 GiB"
    assert parts["optimizer states"] == "89.7 GiB"  # 12 bytes x 8,030,261,248 = 96.36e9 bytes


def test_lora_on_llama2_7b_q_and_v(page):
    page.selectbox(key="model").set_value("Llama 2 7B")
    page.radio(key="method").set_value("lora").run()
    page.multiselect(key="targets").set_value(["q_proj", "v_proj"])
    page.select_slider(key="rank").set_value(8)
    page.run()
    assert not page.exception
    assert metric(page, "Trainable parameters") == "4.19 M"  # 4,194,304


def test_qlora_65b_fits_a_48_gb_card(page):
    page.selectbox(key="model").set_value("LLaMA 65B")
    page.radio(key="method").set_value("qlora").run()
    page.multiselect(key="targets").set_value(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    page.select_slider(key="rank").set_value(64)
    page.select_slider(key="seq").set_value(512)
    page.toggle(key="ckpt").set_value(True)
    page.selectbox(key="card").set_value("NVIDIA RTX A6000")
    page.run()
    assert not page.exception
    memory = next(m for m in page.metric if m.label == "Memory per GPU")
    assert "fits" in memory.delta


def parts_table(at: AppTest) -> dict[str, str]:
    return dict(zip(at.dataframe[0].value["part"], at.dataframe[0].value["per GPU"], strict=True))


def test_worked_example_predicts_llama_65b_and_scores_it(page):
    # 6 x 65,285,660,672 x 1.4e12 / (2,048 x 312e12 x 0.40) / 86,400 = 24.83 days; the paper says 21
    days = 6 * 65_285_660_672 * 1.4e12 / (2048 * 312e12 * 0.40) / 86_400
    texts = [m.value for m in page.markdown]
    llama = next(t for t in texts if t.startswith("Predicted") and "2,048" in t)
    assert f"**{days:,.1f} days**" in llama and "at 40% MFU" in llama
    cost = days * 24 * 2048 * 1.79  # the catalog's $1.79 per A100-80GB hour
    assert f"{cost:,.0f}" in llama
    error = next(t for t in texts if t.startswith("Error") and "21 days" in t)
    assert f"days {days / 21 - 1:+.0%} against the published 21 days" in error
    assert f"cost {cost / 3.8e6 - 1:+.0%}" in error
    assert not any("per A100-hour" in t for t in texts)  # no price solved backwards from the budget


def test_a_run_that_does_not_fit_shows_no_time_or_cost(page):
    # the default, Llama 3.1 8B full fine-tuning on one A100 80GB, needs 16 + 4 (foreach temporaries) = 20
    # bytes x 8,030,261,248 = 160.6e9 bytes > 80 GiB (85.9e9): no days, GPU-hours or dollars as results
    labels = [m.label for m in page.metric]
    assert "Cost" not in labels and "Time" not in labels and "GPU-hours" not in labels
    message = next(e.value for e in page.error if "Does not fit" in e.value)
    # ZeRO-3 on 2 GPUs: 10 x 8.03e9 = 80.3e9 + 1 GiB + 2 layers of bf16 gather buffers (2 x 218,112,128 x 2)
    # = 82.3e9 < 85.9e9
    assert "2 GPUs with ZeRO-3" in message
    page.select_slider(key="n_gpus").set_value(2)
    page.radio(key="zero").set_value(3)
    page.run()
    assert not page.exception and "Cost" in [m.label for m in page.metric]


def test_lora_optimizer_choice_changes_the_adapter_states(page):
    # Llama 3.1 8B, rank 16 on q, k, v, o: 32 x 16 x ((4096 + 4096) + 2 x (4096 + 1024) + (4096 + 4096))
    # = 13,631,488 adapter parameters; fp32 adapter + gradient (8 bytes) plus AdamW's two fp32 moments (8)
    # = 16 bytes -> 218,103,808 bytes = 208 MiB; SGD's one fp32 momentum (4) -> 12 bytes = 156 MiB
    page.radio(key="method").set_value("lora").run()
    assert not page.selectbox(key="optimizer").disabled
    assert parts_table(page)["adapters with their optimizer"] == "208 MiB"
    page.selectbox(key="optimizer").set_value("sgd").run()
    assert parts_table(page)["adapters with their optimizer"] == "156 MiB"


def test_pure_bf16_and_fused_optimizer_on_the_page(page):
    # pure bf16 AdamW: two bf16 moments, 4 x 8,030,261,248 = 32.1e9 bytes = 29.9 GiB; the foreach
    # temporary is bf16 too, 2 x 8,030,261,248 = 15.0 GiB; fused allocates none
    page.radio(key="weights_precision").set_value("bf16").run()
    parts = parts_table(page)
    assert parts["optimizer states"] == "29.9 GiB" and parts["optimizer step temporaries"] == "15.0 GiB"
    page.radio(key="optimizer_impl").set_value("fused").run()
    assert parts_table(page)["optimizer step temporaries"] == "0.0 MiB"


def test_rule_of_thumb_is_labelled_decimal_and_shown_in_gib(page):
    # 12 GB (10^9 bytes) per billion x 8.03 B = 96.36e9 bytes = 89.7 GiB
    box = next(m.value for m in page.markdown if m.value.startswith("**Rule of thumb**"))
    assert "12 GB (decimal, 10⁹ bytes) per billion parameters → **89.7 GiB**" in box
    assert " GB**" not in box


def test_a_link_gives_the_same_numbers_whatever_path_led_to_it():
    """A user who opens /training?method=lora sees what one who switched full -> lora sees."""
    fresh = AppTest.from_file(PAGE_FILE, default_timeout=60)
    fresh.query_params["method"] = "lora"
    fresh.run()
    switched = AppTest.from_file(PAGE_FILE, default_timeout=60).run()
    switched.radio(key="method").set_value("lora").run()
    assert not fresh.exception and not switched.exception
    assert metric(fresh, "Memory per GPU") == metric(switched, "Memory per GPU")
    assert fresh.toggle(key="ckpt").value == switched.toggle(key="ckpt").value


def test_more_gpus_with_zero3_shrink_memory_per_gpu(page):
    before = metric(page, "Memory per GPU")
    page.select_slider(key="n_gpus").set_value(8)
    page.radio(key="zero").set_value(3)
    page.run()
    assert metric(page, "Memory per GPU") != before and not page.exception


def test_time_follows_tokens_and_gpus(page):
    page.radio(key="method").set_value("lora").run()  # fits one A100, so time and cost are shown
    page.number_input(key="tokens").set_value(1_000_000_000).run()
    one = metric(page, "GPU-hours")
    page.select_slider(key="n_gpus").set_value(4).run()
    assert metric(page, "GPU-hours") == one  # same work, more GPUs: same GPU-hours, less time


def test_invalid_lora_target_for_the_architecture_is_explained(page):
    page.selectbox(key="model").set_value("GPT-3 175B")
    page.radio(key="method").set_value("lora").run()
    page.multiselect(key="targets").set_value(["gate_proj"])
    page.run()
    assert not page.exception
    assert any("no gate\\_proj" in e.value for e in page.error)


def test_the_primers_gpt3_link_lands_on_a_run_that_fits():
    """The hardware primer's "Recompute GPT-3" link shows days and cost, not "does not fit"."""
    at = AppTest.from_file(PAGE_FILE, default_timeout=60)
    query = {"model": "GPT-3 175B", "tokens": "300000000000", "n_gpus": "1024", "zero": "3", "ckpt": "true"}
    for name, value in {**query, "card": "NVIDIA H100 SXM"}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.error
    assert "Time" in [m.label for m in at.metric]


def test_tensor_parallel_beyond_the_gpus_is_said(page):
    page.select_slider(key="tp").set_value(8).run()
    assert not page.exception
    assert any("Tensor parallel 8 needs at least 8 GPUs" in w.value for w in page.warning)


def test_garbage_in_the_link_is_named_with_the_value_used():
    """Before, ?method=dora&micro=-3 silently showed full fine-tuning with a micro-batch of 1."""
    at = open_app_link("app_pages/training.py", {"method": "dora", "micro": "-3", "seq": "4096"})
    (warning,) = [w.value for w in at.warning if "link" in w.value]
    assert "method = “dora” (using full)" in warning
    assert "micro = “\\-3” (using 1)" in warning  # escaped markdown
    assert "seq" not in warning


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "23 Mamba layers are not modelled"),
        ("Qwen3.5-9B", "24 Gated DeltaNet layers are not modelled"),
    ],
)
def test_a_hybrid_model_names_what_its_training_estimate_lacks(page, model, message):
    """A user who picks a Mamba or DeltaNet hybrid reads which layers are not sized, not a number
    computed as if every layer were attention, and not a traceback."""
    page.selectbox(key="model").set_value(model)
    page.radio(key="method").set_value("lora").run()
    assert not page.exception
    assert any(message in error.value for error in page.error)
