"""The catalog picker (``ui/model_picker.py``): a family filter beside a searchable model box, both
in the URL, the newest family and the newest model first."""

from apptest_pages import open_app_link, open_app_page

from llm_calc.catalog import default_models
from ui.model_picker import ALL_FAMILIES

CALCULATOR = "app_pages/hardware_calculator.py"


def test_families_are_listed_newest_first_after_all():
    """A user looking for a current model finds its family at the top: Qwen3.5 (February 2026) before
    Qwen3 (April 2025), which comes before Llama 2 (July 2023) and GPT-2 (2019), the oldest."""
    at = open_app_page(CALCULATOR)
    families = at.selectbox(key="family").options
    assert families[0] == ALL_FAMILIES
    assert families.index("Qwen3.5") < families.index("Qwen3") < families.index("Llama 2")
    assert families[-1] == "GPT-2"


def test_a_family_shows_only_its_models_newest_first():
    """Choosing Qwen3 lists Qwen3 models only, newest first (the August 2025 Thinking-2507 before the
    April 2025 Qwen3-8B), and shows the newest at once: the Llama chosen before is not a Qwen3 model."""
    at = open_app_page(CALCULATOR)
    at.selectbox(key="family").set_value("Qwen3").run()
    assert not at.exception
    box = at.selectbox(key="model")
    qwen3 = {m.name: m.released for m in default_models() if m.family == "Qwen3"}
    assert set(box.options) == set(qwen3)
    assert box.options.index("Qwen3-4B-Thinking-2507") < box.options.index("Qwen3-8B")
    assert qwen3[box.options[0]] == max(qwen3.values())
    assert box.value == box.options[0]
    assert box.value in at.subheader[0].value


def test_an_old_link_naming_only_a_model_still_opens_it():
    """Links shared before the family filter existed (?model=Llama+3+70B) open that model, with no
    warning that the link was ignored."""
    at = open_app_link(CALCULATOR, {"model": "Llama 3 70B"})
    assert at.selectbox(key="model").value == "Llama 3 70B"
    assert at.selectbox(key="family").value == ALL_FAMILIES
    assert not any("link" in w.value for w in at.warning)


def test_a_link_with_a_family_opens_its_newest_model():
    """?family=Qwen3-Next opens the hybrid Qwen3-Next from its catalog row, sized with its Gated
    DeltaNet layers: only its attention layers keep a KV cache."""
    at = open_app_link(CALCULATOR, {"family": "Qwen3-Next"})
    assert at.selectbox(key="model").value == "Qwen3-Next-80B-A3B-Thinking"
    assert not any("link" in w.value for w in at.warning)
    shown = {m.label: m.value for m in at.metric}
    # 12 of 48 layers attend (full_attention_interval 4): 12 x 2 KV heads x 256 x 2 (K, V) x 2 bytes
    # x 8,192 tokens = 201,326,592 B = 192 MiB (all 48 layers would be 768 MiB)
    assert shown["KV cache"] == "192 MiB"
    assert shown["Weights"] == "148.4 GiB"  # 79,674,391,296 meta-device parameters x 2 bytes


def test_a_link_with_a_model_outside_its_family_says_which_model_is_shown():
    """A hand-edited link whose model is not of its family is not followed silently."""
    at = open_app_link(CALCULATOR, {"family": "Qwen3-Next", "model": "Llama 3 70B"})
    (warning,) = [w.value for w in at.warning if "link" in w.value]
    assert "model = “Llama 3 70B” (using Qwen3\\-Next\\-80B\\-A3B\\-Thinking)" in warning  # escaped markdown


def test_a_catalog_model_that_ships_quantized_opens_as_shipped():
    """gpt-oss-120b picked from the catalog is sized as its MXFP4 checkpoint by default (60.8 GiB, as
    its model card's single 80 GB card says), not as bf16 (217.6 GiB); a user can still pick bf16.
    A catalog model shipped in 16 bits is not offered "auto" (no checkpoint on record)."""
    at = open_app_link(CALCULATOR, {"model": "gpt-oss-120b"})
    assert not at.exception
    assert at.selectbox(key="precision").value == "auto"
    assert {m.label: m.value for m in at.metric}["Weights"] == "60.8 GiB"
    at.selectbox(key="precision").set_value("bf16").run()
    assert {m.label: m.value for m in at.metric}["Weights"] == "217.6 GiB"
    llama = open_app_link(CALCULATOR, {"model": "Llama 3 70B"})
    assert "auto" not in llama.selectbox(key="precision").options


def test_a_catalog_model_shipped_in_fp8_without_its_config_opens_in_fp8_and_says_so():
    """DeepSeek-R1-0528's catalog row says fp8 block-wise, but no copy of its config.json is stored:
    fp8 stands in (not bf16), and the page says why it is not sized to the byte."""
    at = open_app_link(CALCULATOR, {"model": "DeepSeek-R1-0528"})
    assert not at.exception
    assert at.selectbox(key="precision").value == "fp8"
    assert any("stands in" in c.value and "fp8 block\\-wise" in c.value for c in at.sidebar.caption)
