"""AppTest for the training page: the numbers follow the inputs and match hand-derived values."""

import pytest
from apptest_pages import open_app_page
from streamlit.testing.v1 import AppTest

PAGE = "app_pages/training.py"


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


def test_worked_example_reproduces_llama_65b(page):
    texts = [m.value for m in page.markdown]
    llama = next(t for t in texts if t.startswith("Ours") and "2,048" in t)
    assert "20.8 days" in llama
    assert any("$3.71 per A100-hour" in t for t in texts)


def test_more_gpus_with_zero3_shrink_memory_per_gpu(page):
    before = metric(page, "Memory per GPU")
    page.select_slider(key="n_gpus").set_value(8)
    page.radio(key="zero").set_value(3)
    page.run()
    assert metric(page, "Memory per GPU") != before and not page.exception


def test_time_follows_tokens_and_gpus(page):
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
