"""A multimodal model's vision tower in serving memory: its own part of the breakdown, at the
checkpoint's precision (quantizers leave it unconverted), on the CLI and in the app.

Expected parameter counts are independent of llm_calc: transformers' meta-device build of the whole
multimodal wrapper less that of its language model (data/hf_configs/manifest.csv,
``meta_device_params_with_vision`` - ``meta_device_params``, from scripts/meta_param_counts.py).
Bytes are those counts times the storage derived by hand in each comment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_calc.cli import main
from llm_calc.hf_config import parse_checkpoint_text, parse_config_text
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.quantization import storage_plan

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "hf_configs"
GEMMA3_27B = CONFIGS / "google__gemma-3-27b-it.json"
QWEN3_5_27B = CONFIGS / "Qwen__Qwen3.5-27B.json"
DEVSTRAL_SMALL_2 = CONFIGS / "mistralai__Devstral-Small-2-24B-Instruct-2512.json"
LFM2_5_VL = CONFIGS / "LiquidAI__LFM2.5-VL-1.6B.json"  # the language model: LFM2-1.2B

GEMMA3_27B_VISION = 27_432_406_640 - 27_009_346_304  # = 423,060,336 (manifest: with vision - text)
QWEN3_5_27B_VISION = 27_356_728_560 - 26_895_998_464  # = 460,730,096
DEVSTRAL_SMALL_2_VISION = 24_011_361_280 - 23_572_403_200  # = 438,958,080


def memory_json(capsys, *args: str) -> dict:
    code = main(["memory", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize(
    "config, vision_params, vision_bytes",
    [
        # config dtype bfloat16: 2 bytes per parameter
        (GEMMA3_27B, GEMMA3_27B_VISION, 846_120_672),  # 423,060,336 x 2
        (QWEN3_5_27B, QWEN3_5_27B_VISION, 921_460_192),  # 460,730,096 x 2 (text_config dtype bfloat16; 16-bit default)
    ],
)
def test_the_vision_tower_is_its_own_part_of_serving_memory(capsys, config, vision_params, vision_bytes):
    """On main the tower was left out: a 27B multimodal model was sized as its language model alone."""
    report = memory_json(capsys, "--config", str(config))
    assert report["precision"] == "bf16"
    assert (report["vision_params"], report["vision_bytes"]) == (vision_params, vision_bytes)
    parts = ("weights_bytes", "vision_bytes", "kv_cache_bytes", "state_bytes", "activations_bytes", "overhead_bytes")
    assert report["total_bytes"] == sum(report[k] for k in parts)
    one_card = next(g for g in report["gpus"] if g["cards_used"] == 1)
    assert one_card["per_card_bytes"] == report["total_bytes"]  # a card holds the tower too
    assert report["vision_not_modelled"] is None


def test_fp8_checkpoint_keeps_its_vision_tower_in_bf16(capsys):
    """Devstral Small 2 ships fp8 with modules_to_not_convert = [model.vision_tower,
    model.multi_modal_projector, lm_head]: as shipped the tower stays bf16, 438,958,080 x 2 bytes."""
    report = memory_json(capsys, "--config", str(DEVSTRAL_SMALL_2))
    assert report["precision"] == "auto"
    assert report["vision_bytes"] == 877_916_160
    # the language model is not changed by the tower: its weights are the plan's groups alone
    assert report["weights_bytes"] == sum(row["bytes"] for row in report["weights_storage"])


@pytest.mark.parametrize(
    "precision, vision_bytes",
    [
        ("q4_k_m", 846_120_672),  # narrower than 16 bits: the tower stays 16-bit (an f16 mmproj), x 2
        ("fp8", 846_120_672),  # the same
        ("fp32", 1_692_241_344),  # a wider choice holds for the tower too: 423,060,336 x 4
    ],
)
def test_a_chosen_precision_never_quantizes_the_tower(capsys, precision, vision_bytes):
    report = memory_json(capsys, "--config", str(GEMMA3_27B), "--precision", precision)
    assert report["vision_bytes"] == vision_bytes


def gemma3_with(quantization: dict) -> bytes:
    config = json.loads(GEMMA3_27B.read_bytes())
    return json.dumps({**config, "quantization_config": quantization}).encode()


@pytest.mark.parametrize(
    "quantization",
    [
        {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"},
        {"quant_method": "gptq", "bits": 4, "group_size": 128},
        {
            "quant_method": "bitsandbytes",
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "llm_int8_skip_modules": ["vision_tower", "multi_modal_projector", "lm_head"],
        },
        {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "config_groups": {
                "group_0": {
                    "targets": ["Linear"],
                    "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128},
                }
            },
            "ignore": ["lm_head", "re:vision_tower.*", "re:multi_modal_projector.*"],
        },
    ],
    ids=["awq", "gptq", "bnb-skips-tower", "compressed-tensors-ignores-tower"],
)
def test_quantizations_that_leave_the_tower_keep_it_16_bit(quantization):
    """AutoAWQ/AutoGPTQ quantize the decoder blocks only; the others keep what their list names."""
    text = gemma3_with(quantization)
    spec, checkpoint = parse_config_text(text), parse_checkpoint_text(text)
    plan = storage_plan(spec, checkpoint)
    memory = inference_memory(
        spec, InferenceSettings(weight_format="auto", storage=plan, vision_params=checkpoint.vision_params)
    )
    assert memory.vision_bytes == 846_120_672  # 423,060,336 x 2


def test_a_quantization_that_converts_the_tower_is_refused():
    """bitsandbytes without a skip list converts every Linear, the tower's included: not modelled."""
    text = gemma3_with({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"})
    with pytest.raises(ValueError, match="converts the vision tower too"):
        storage_plan(parse_config_text(text), parse_checkpoint_text(text))


def test_lfm2_vl_counts_its_siglip2_tower(capsys):
    """LFM2.5-VL-1.6B: a SigLIP2 NaFlex tower and a pixel-unshuffle projector. On main its tower was
    not modelled. 1,596,625,904 - 1,170,340,608 = 426,285,296 parameters (manifest) x 2 bytes (bfloat16)."""
    report = memory_json(capsys, "--config", str(LFM2_5_VL))
    assert (report["vision_params"], report["vision_bytes"]) == (426_285_296, 852_570_592)


def test_a_vision_tower_not_modelled_is_said_not_counted(capsys, tmp_path):
    """A tower we do not size (here SigLIP2 with its pooling head) is named, not silently left out;
    the language model is still sized."""
    config = json.loads(LFM2_5_VL.read_bytes())
    config["vision_config"]["vision_use_head"] = True
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    report = memory_json(capsys, "--config", str(path))
    assert report["vision_bytes"] == 0
    assert "pooling head (vision_use_head) is not modelled" in report["vision_not_modelled"]
    assert main(["memory", "--config", str(path)]) == 0
    assert "vision tower   not counted" in capsys.readouterr().out


def test_a_text_model_has_no_vision_part(capsys):
    report = memory_json(capsys, "--config", str(CONFIGS / "Qwen__Qwen3-8B.json"))
    assert (report["vision_params"], report["vision_bytes"], report["vision_not_modelled"]) == (0, 0, None)


def test_vision_params_must_be_a_count():
    with pytest.raises(ValueError, match="vision_params"):
        InferenceSettings(vision_params=-1)


def test_the_app_shows_the_vision_tower(tmp_path):
    """Uploading Gemma 3 27B's config: 846,120,672 bytes = 806.9 MiB of vision tower, shown as its own part."""
    from apptest_pages import open_app_page

    at = open_app_page("app_pages/hardware_calculator.py")
    at.radio(key="source").set_value("config.json").run()
    at.file_uploader(key="config_upload").upload("config.json", GEMMA3_27B.read_bytes(), "application/json")
    at.run()
    assert not at.exception and not at.error
    (caption,) = [c.value for c in at.caption if "vision tower" in c.value]
    assert "807 MiB of vision tower" in caption and "423,060,336 parameters" in caption and "16 bits" in caption
    total = next(m for m in at.metric if m.label == "Total on one card")
    assert "vision tower" in total.help


def test_the_memory_chart_stacks_the_tower_at_every_context():
    """The tower does not grow with the context: the same 846,120,672 bytes on every bar."""
    from llm_calc.sweep import memory_by_context
    from llm_calc.units import GIB
    from ui.charts import memory_by_context_figure

    spec = parse_config_text(GEMMA3_27B.read_bytes())
    settings = InferenceSettings(context_tokens=8192, vision_params=GEMMA3_27B_VISION)
    figure = memory_by_context_figure(memory_by_context(spec, settings, 32_768), 8192)
    (tower,) = [bar for bar in figure.data if bar.name == "Vision tower"]
    assert set(tower.y) == {846_120_672 / GIB}
    text_only = memory_by_context_figure(memory_by_context(spec, InferenceSettings(context_tokens=8192), 8192), 8192)
    assert "Vision tower" not in {bar.name for bar in text_only.data}


def test_a_hub_id_counts_its_vision_tower(capsys, tmp_path, monkeypatch):
    """`--model ORG/NAME` reads the same config from the (local stand-in) Hub: the same tower."""
    from hub_server import Repo, serve

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with serve({"test-org/gemma-3-copy": Repo({"config.json": GEMMA3_27B.read_bytes()})}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        report = memory_json(capsys, "--model", "test-org/gemma-3-copy")
    assert (report["vision_params"], report["vision_bytes"]) == (GEMMA3_27B_VISION, 846_120_672)
