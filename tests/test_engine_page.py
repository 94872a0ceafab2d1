"""The hardware calculator names the engine behind its speeds, shows time to first token and
concurrency, and keeps running when an engine does not run on the chosen cards."""

from apptest_pages import open_app_link

CALCULATOR = "app_pages/hardware_calculator.py"


def test_the_speed_tab_names_the_engine_and_shows_ttft():
    """A user would not know which engine the tokens/s assume, nor how long the first token takes."""
    at = open_app_link(CALCULATOR, {"vendor": "Apple", "gpu_class": "apple"})
    shown = {m.label: m.value for m in at.metric}
    assert shown["Engine"] == "mlx"  # bf16 safetensors on a Mac
    assert shown["Time to first token"].endswith(" s")
    assert int(shown["Most concurrent sequences"].replace(",", "")) >= 1


def test_an_engine_in_the_link_sets_the_selectbox_and_a_refused_card_is_explained():
    """A shared link with mlx on NVIDIA cards must say why there is no speed, not crash."""
    at = open_app_link(CALCULATOR, {"engine": "mlx", "vendor": "NVIDIA"})
    assert at.selectbox(key="engine").value == "mlx"
    assert any("mlx does not run on NVIDIA cards" in i.value for i in at.info)
    assert "Engine" not in {m.label for m in at.metric}


def test_llama_cpp_on_several_cards_splits_layers():
    """With llama.cpp the default split across cards is by layers, named in the link as auto."""
    at = open_app_link(CALCULATOR, {"engine": "llama.cpp", "precision": "q4_k_m", "gpus": "2", "vendor": "NVIDIA"})
    assert at.selectbox(key="parallel").value == "auto"
    assert {m.label: m.value for m in at.metric}["Engine"] == "llama.cpp"


def test_a_serving_engine_s_constants_say_which_releases_they_describe():
    """vLLM's constants are fitted on its releases from 2025-04 on; MLX's on every release."""
    vllm = open_app_link(CALCULATOR, {"engine": "vllm", "vendor": "NVIDIA"})
    (engine,) = [m for m in vllm.metric if m.label == "Engine"]
    assert engine.value == "vllm" and "on its releases from 2025-04 on:" in engine.help
    mlx = open_app_link(CALCULATOR, {"vendor": "Apple", "gpu_class": "apple"})
    (engine,) = [m for m in mlx.metric if m.label == "Engine"]
    assert engine.value == "mlx" and "releases" not in engine.help
