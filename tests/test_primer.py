"""The primer pages: every concept has its heading, and the live examples follow their inputs
with values computed by hand."""

import re

import pytest
from apptest_pages import open_app_page, unseparated_numbers
from streamlit.testing.v1 import AppTest

from llm_calc.sampling import EXAMPLE_LOGITS, temperature_probabilities
from llm_calc.tokens import pages_for_tokens

PRIMER = {
    "app_pages/home.py": [],
    "app_pages/primer_foundations.py": ["What a large language model is", "Token", "Parameters", "Training",
                                        "Model size"],
    "app_pages/primer_inference.py": ["Loading a model and completing a prompt", "Context window", "Prompt",
                                      "Completion"],
    "app_pages/primer_hardware.py": ["Cloud GPU servers", "Training", "Fine-tuning", "Inference",
                                     "Memory rules of thumb", "Running models locally on a Mac",
                                     "Running models on a CPU"],
    "app_pages/primer_sources.py": ["Papers and documents", "Models (data/models.csv)", "GPUs (data/gpus.csv)"],
}  # fmt: skip


open_page = open_app_page


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("path", PRIMER)
def test_every_primer_page_runs_and_has_its_headings(path):
    at = open_page(path)
    assert [h.value for h in at.header][: len(PRIMER[path])] == PRIMER[path]


def test_model_size_slider_shows_hand_computed_weights():
    at = open_page("app_pages/primer_foundations.py")
    assert metric(at, "Weights at 16 bits") == "130.4 GiB"  # 70e9 x 2 bytes = 140e9 / 2^30
    assert metric(at, "Weights at 4 bits (Q4_0)") == "36.7 GiB"  # 70e9 x 4.5 / 8 = 39.375e9 / 2^30
    at.select_slider(key="primer_size").set_value(7).run()
    assert metric(at, "Weights at 16 bits") == "13.0 GiB"  # 14e9 / 2^30
    assert metric(at, "Weights at 4 bits (Q4_0)") == "3.7 GiB"  # 3.9375e9 / 2^30
    # 2.1 x 7e9 = 14.7e9 bytes = 13.7 GiB, 0.7 x 7e9 = 4.9e9 bytes = 4.6 GiB
    assert metric(at, "Rule of thumb, 16-bit / quantized") == "13.7 / 4.6 GiB"


def test_training_compute_is_six_n_d():
    at = open_page("app_pages/primer_foundations.py")
    assert metric(at, "Training compute") == "5.88e+22 FLOPs"  # 6 x 7e9 x 1.4e12
    at.select_slider(key="primer_train_params").set_value(70).run()
    assert metric(at, "Training compute") == "5.88e+23 FLOPs"


def test_token_example_tokenizes_in_place():
    at = open_page("app_pages/primer_foundations.py")
    at.text_input(key="primer_sentence").set_value("hello world").run()
    assert any(c.value.startswith("2 tokens for 2 words") for c in at.caption)


def test_pages_per_window():
    at = open_page("app_pages/primer_inference.py")
    assert metric(at, "131,072 tokens of English") == "≈ 202 pages"  # 131072 / 1.3 / 500 = 201.6
    at.select_slider(key="primer_window").set_value(4096).run()
    assert metric(at, "4,096 tokens of English") == "≈ 6 pages"  # 4096 / 1.3 / 500 = 6.3
    assert pages_for_tokens(650) == pytest.approx(1.0)


def test_temperature_reshapes_probabilities():
    # softmax of the example scores at T = 1: e^0 / (1 + e^-3.5 + e^-4 + e^-4.4 + e^-5.8 + e^-6.2)
    assert temperature_probabilities(EXAMPLE_LOGITS, 1.0)[" Paris"] == pytest.approx(0.93823, abs=1e-4)
    assert temperature_probabilities(EXAMPLE_LOGITS, 0.0)[" Paris"] == 1.0
    hot = temperature_probabilities(EXAMPLE_LOGITS, 2.0)
    assert hot[" Paris"] < 0.93823 and sum(hot.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        temperature_probabilities(EXAMPLE_LOGITS, -1)
    at = open_page("app_pages/primer_inference.py")
    at.slider(key="primer_temperature").set_value(0.0).run()
    assert not at.exception


def test_rules_of_thumb_follow_the_slider_in_gib():
    # the rules are decimal GB per billion parameters, shown converted to GiB (2^30 bytes)
    at = open_page("app_pages/primer_hardware.py")
    assert metric(at, "Inference, 16-bit") == "25.4 GiB"  # 2.1 x 13e9 = 27.3e9 bytes
    assert metric(at, "Inference, 4-bit") == "8.5 GiB"  # 0.7 x 13e9 = 9.1e9 bytes
    assert metric(at, "Full fine-tuning") == "145.3 GiB"  # 12 x 13e9 = 156e9 bytes
    at.select_slider(key="primer_rules").set_value(70).run()
    assert metric(at, "Inference, 16-bit") == "136.9 GiB"  # 2.1 x 70e9 = 147e9 bytes
    assert any("decimal gigabytes" in m.value for m in at.markdown)


def test_hardware_page_predicts_the_llama_example():
    # 6 x 65,285,660,672 x 1.4e12 / (2,048 x 312e12 x 0.40) / 86,400 days, against the paper's 21 days;
    # cost at the catalog's $1.79 per A100-hour against the often-quoted $3.8M
    days = 6 * 65_285_660_672 * 1.4e12 / (2048 * 312e12 * 0.40) / 86_400
    at = open_page("app_pages/primer_hardware.py")
    text = " ".join(m.value for m in at.markdown)
    assert f"**{days:.1f} days** ({days / 21 - 1:+.0%} against the paper)" in text
    assert f"({days * 24 * 2048 * 1.79 / 3.8e6 - 1:+.0%} against the often-quoted" in text
    assert "per GPU-hour**" not in text  # no price solved backwards from the $3.8M


def test_hardware_page_compares_engines_on_one_card():
    at = open_page("app_pages/primer_hardware.py")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "engine" in d.value.columns)
    speeds = table.set_index("engine")
    short, long = "tokens/s per user at 1,024 tokens", "tokens/s per user at 32,768 tokens"
    # Llama 3.1 8B in bf16: 8,030,261,248 parameters less the 128,256 x 4,096 input embedding (a lookup)
    # = 7,504,924,672, 2 bytes each, read every step; no engine beats one H100's 3,350 GB/s on them
    roofline = 3350e9 / (7_504_924_672 * 2)  # 223.2 tokens/s
    assert (speeds[short] < roofline).all() and (speeds[long] < roofline).all()
    # every engine slows down with a longer cache; eager generate, which also copies it, loses the most
    slowdown = speeds[long] / speeds[short]
    assert (slowdown < 1).all() and slowdown.idxmin() == "transformers"
    assert speeds[short].idxmin() == "transformers"


def test_hardware_page_orders_cpu_decode_by_memory_channels():
    at = open_page("app_pages/primer_hardware.py")
    text = next(m.value for m in at.markdown if "memory channels" in m.value)
    speeds = [float(s) for s in re.findall(r"\*\*(?:about )?(\d+)(?: tokens/s)?\*\*", text)]
    # Llama 3.1 8B at 4 bits: the EPYC's 12 channels (460.8 GB/s) beat the desktop's 2 (83.2 GB/s) by far,
    # and the RTX 4090's 1,008 GB/s beat both; each token reads at least the 7,504,924,672 weights past the
    # input embedding at 4.894 bits (4.59 GB), so none beats its bandwidth over 4.5 GB
    server, desktop, gpu = speeds
    assert desktop < server < gpu
    assert server < 460.8e9 / 4.5e9 and desktop < 83.2e9 / 4.5e9
    assert "12 channels, 460.8 GB/s" in text and "2 channels, 83.2 GB/s" in text


def test_sources_tables_show_big_numbers_with_separators():
    """On main the sources page listed 175000000000 parameters and 128000-token windows."""
    at = open_page("app_pages/primer_sources.py")
    assert unseparated_numbers(at) == {}
