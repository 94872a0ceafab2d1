"""Checkpoints as shipped: ``quantization_config`` read into bytes, checked against published sizes.

Each published total is quoted with its source; our figure comes from the config alone (the
architecture and its quantization block), never from the published size. Hand-derived byte
counts are written out in comments. Sizes the Hub lists in "GB" are 10^9 bytes; the gpt-oss
model card states GiB (2^30 bytes).
"""

import json
from pathlib import Path

import pytest

from llm_calc.architecture import count_parameters, parameter_groups
from llm_calc.cli import main
from llm_calc.hardware import decode_read_bytes
from llm_calc.hf_config import ConfigError, checkpoint_from_config, parse_checkpoint_text, parse_config_text
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.quantization import (
    SUPPORTED_QUANT_METHODS,
    Checkpoint,
    parse_quantization,
    storage_plan,
)
from llm_calc.units import GIB

CONFIGS = Path(__file__).parent / "configs"
HF_CONFIGS = Path(__file__).parent.parent / "data" / "hf_configs"
DEEPSEEK_V3 = HF_CONFIGS / "deepseek-ai__DeepSeek-V3.json"  # the real config, quantization_config included
GB = 10**9


def _plan(path: Path):
    text = path.read_bytes()
    spec = parse_config_text(text, path.name)
    return spec, storage_plan(spec, parse_checkpoint_text(text, path.name))


# --- published totals -------------------------------------------------------------------------

PUBLISHED = [
    # OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card" (arXiv:2508.10925), Table 1, row "Checkpoint
    # Size": 60.8GiB (120b) and 12.8GiB (20b); text checked in a copy of the card in the GitHub
    # code index (find_string "60.8GiB", index id 54155621995).
    ("gpt-oss-120b", CONFIGS / "gpt-oss-120b.json", 60.8 * GIB),
    ("gpt-oss-20b", CONFIGS / "gpt-oss-20b.json", 12.8 * GIB),
    # https://huggingface.co/TheBloke/Mistral-7B-v0.1-AWQ README, "Provided files, and AWQ parameters": branch main,
    # 4 bits, GS 128, Size 4.15 GB (README copy in the GitHub code index, id 70911152566).
    ("Mistral-7B-v0.1-AWQ", CONFIGS / "Mistral-7B-v0.1-AWQ.json", 4.15 * GB),
    # https://huggingface.co/TheBloke/Llama-2-7b-Chat-GPTQ README, "Provided files, and GPTQ parameters": branch main,
    # 4 bits, GS 128, Act Order No, Size 3.90 GB (README copy in the GitHub code index, id 1467458793).
    ("Llama-2-7b-Chat-GPTQ", CONFIGS / "Llama-2-7b-Chat-GPTQ.json", 3.90 * GB),
    # https://huggingface.co/TheBloke/Mistral-7B-Instruct-v0.1-GPTQ README: branch main, 4 bits, GS 128, Act Order Yes,
    # Size 4.16 GB (README copy in the GitHub code index, id 47419400950).
    ("Mistral-7B-Instruct-v0.1-GPTQ", CONFIGS / "Mistral-7B-Instruct-v0.1-GPTQ.json", 4.16 * GB),
]


@pytest.mark.parametrize(("name", "path", "published"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_weights_as_shipped_are_within_two_percent_of_the_published_checkpoint(name, path, published):
    """Someone sizing a quantized checkpoint sees what its files weigh, not a bf16 copy."""
    _, plan = _plan(path)
    assert abs(plan.weights_bytes / published - 1) < 0.02


def test_deepseek_v3_checkpoint_as_stored_matches_its_files():
    """DeepSeek-V3 fp8: the checkpoint (MTP layer included) within 2 % of its safetensors files.

    Published: 688,586,727,753 bytes, the weight files of https://huggingface.co/deepseek-ai/DeepSeek-V3 at commit
    afb92e1fa402c2be2a9eb085312bb02e0384d6c7 ("artifact_bytes", a public dashboard annex in the
    GitHub code index, id 59118868630). DeepSeek-R1 has the same layout and the same figure: a
    model report lists its 163 safetensors files as "641.30 GB" (688,586,727,753 / 2^30 = 641.30)
    holding 684,531,386,000 elements (code index id 62464985633).
    """
    _, plan = _plan(DEEPSEEK_V3)
    assert abs(plan.checkpoint_bytes / 688_586_727_753 - 1) < 0.02
    # what serving loads is the checkpoint less its MTP layer: the "about 630 GiB"
    assert plan.weights_bytes < plan.checkpoint_bytes
    assert 620 * GIB < plan.weights_bytes < 635 * GIB


def test_deepseek_v3_mtp_layer_is_the_published_eleven_and_a_half_billion():
    """README_WEIGHTS.md: the MTP module has "11.5B unique parameters (excluding the shared 0.9B
    Embedding and 0.9B output Head)", which the checkpoint stores again as layer 61's own copies
    (the R1 report lists ``model.layers.61.embed_tokens`` and ``shared_head.head``, bf16)."""
    spec, plan = _plan(DEEPSEEK_V3)
    copies = 2 * spec.vocab_size * spec.hidden_size  # 2 x 129,280 x 7,168 = 1,853,358,080
    assert abs((plan.mtp_params - copies) / 11.5e9 - 1) < 0.02
    # elements in the R1 report: main model + MTP + one fp32 scale per 128x128 block of the fp8
    # weights (about 1/16,384 of them): within 0.01 %
    fp8_weights = sum(r.params for r in (*plan.rows, *plan.mtp_rows) if r.bits < 9)
    elements = count_parameters(spec).total + plan.mtp_params + fp8_weights / 16_384
    assert abs(elements / 684_531_386_000 - 1) < 1e-4


# --- hand-derived bytes ------------------------------------------------------------------------


def test_gpt_oss_20b_bytes_by_hand():
    """MXFP4 experts at 4 + 8/32 = 4.25 bits, everything else bf16.

    Experts: 24 layers x 32 experts x (gate_up 2,880 x 5,760 + down 2,880 x 2,880) = 19,110,297,600
    weights -> x 4.25 / 8 = 10,152,345,600 bytes. The rest: 20,914,757,184 (meta-device count,
    data/hf_configs/manifest.csv) - 19,110,297,600 = 1,804,459,584 parameters x 2 = 3,608,919,168
    bytes. Total 13,761,264,768 bytes = 12.82 GiB.
    """
    _, plan = _plan(CONFIGS / "gpt-oss-20b.json")
    assert plan.weights_bytes == 13_761_264_768
    assert plan.label == "as shipped: MXFP4 experts"


def test_awq_mistral_bytes_by_hand():
    """AWQ 4-bit g128: 0.5 byte per weight + fp16 scale (2 bytes) and packed 4-bit zero (0.5 byte)
    per 128 weights; embeddings, head and norms fp16.

    Linear weights: 32 layers x (4,096 x (4,096 + 2 x 1,024 + 4,096) + 3 x 4,096 x 14,336) =
    6,979,321,856. Bytes: 3,489,660,928 + 2.5 x 6,979,321,856 / 128 = 136,314,880 -> 3,625,975,808.
    Embedding + lm_head 2 x 32,000 x 4,096 x 2 = 524,288,000; norms (65 x 4,096) x 2 = 532,480.
    Total 4,150,796,288 bytes.
    """
    _, plan = _plan(CONFIGS / "Mistral-7B-v0.1-AWQ.json")
    assert plan.weights_bytes == 4_150_796_288


def test_gptq_llama_bytes_by_hand():
    """GPTQ 4-bit g128 on a 4,096-wide model: 4 + 20/128 + 32/4,096 (g_idx) = 4.1640625 bits.

    Linear weights 32 x (4 x 4,096^2 + 3 x 4,096 x 11,008) = 6,476,005,376: 0.5 byte each
    (3,238,002,688) + 2.5 bytes per 128 (126,484,480) + 4 bytes per 4,096 (6,324,224) =
    3,370,811,392 bytes; embedding + head 2 x 32,000 x 4,096 x 2 = 524,288,000; norms
    (65 x 4,096) x 2 = 532,480. Total 3,895,631,872 bytes (the files hold 3.90 GB).
    """
    _, plan = _plan(CONFIGS / "Llama-2-7b-Chat-GPTQ.json")
    assert plan.weights_bytes == 3_895_631_872


@pytest.mark.parametrize(
    ("block", "bits"),
    [
        # fp8 e4m3 with one fp32 per 128 x 128 block: 8 + 32 / 16,384
        ({"quant_method": "fp8", "weight_block_size": [128, 128]}, 8.001953125),
        # per-tensor fp8 (Devstral 2): the one scale per tensor is negligible
        ({"quant_method": "fp8", "weight_block_size": None}, 8.0),
        ({"quant_method": "mxfp4"}, 4.25),  # 4 + 8 / 32
        ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, 4.15625),  # 4 + 20 / 128
        ({"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": False}, 4.25),  # 4 + 16 / 64
        ({"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, 4.5),  # 4 + 32 / 64
        # double quant: 4 + 8 / 64 + 32 / (64 x 256)
        (
            {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": True},
            4.126953125,
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "format": "pack-quantized",
                "config_groups": {
                    "group_0": {
                        "targets": ["Linear"],
                        "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128},
                    }
                },
                "ignore": ["lm_head"],
            },
            4.125,  # 4 + 16 / 128, symmetric: no zero point
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "format": "float-quantized",
                "config_groups": {
                    "group_0": {
                        "targets": ["Linear"],
                        "weights": {"num_bits": 8, "type": "float", "strategy": "channel"},
                    }
                },
                "ignore": ["lm_head"],
            },
            8.0,
        ),
    ],
)
def test_format_bits_follow_their_definition(block, bits):
    """Each format's bits per converted weight, derived from its definition (see each case)."""
    assert parse_quantization(block).bits == pytest.approx(bits, abs=1e-12)


def test_gptq_per_channel_and_bitsandbytes_int8_complete_their_width_terms():
    """GPTQ g-1 on a 4,096-wide model: 4 + (16 + 4) / 4,096 + 32 / 4,096 bits; LLM.int8: 8 + 32 / 4,096."""
    spec = parse_config_text((CONFIGS / "Llama-2-7b-hf.json").read_bytes())
    gptq = storage_plan(spec, Checkpoint(parse_quantization({"quant_method": "gptq", "bits": 4, "group_size": -1})))
    assert gptq.bits_of("attention_linear") == 4 + 52 / 4096
    int8 = storage_plan(spec, Checkpoint(parse_quantization({"load_in_8bit": True})))
    assert int8.bits_of("dense_mlp_linear") == 8 + 32 / 4096
    assert int8.bits_of("lm_head") == 16


def test_bitsandbytes_converts_the_router_and_skips_listed_modules():
    quant = parse_quantization({"load_in_4bit": True, "llm_int8_skip_modules": ["lm_head", "self_attn"]})
    assert "router" in quant.groups and "attention_linear" not in quant.groups


def test_modules_to_not_convert_keep_their_groups_at_16_bits():
    """Devstral-style fp8 keeping lm_head and the vision tower; QuantTrio-style AWQ keeping shared experts."""
    fp8 = parse_quantization(
        {
            "quant_method": "fp8",
            "weight_block_size": None,
            "modules_to_not_convert": ["model.vision_tower", "model.multi_modal_projector", "lm_head"],
        }
    )
    assert fp8.groups == ("attention_linear", "dense_mlp_linear", "routed_experts_linear", "shared_experts_linear")
    awq = parse_quantization({"quant_method": "awq", "modules_to_not_convert": ["shared_expert", "mlp.gate."]})
    assert "shared_experts_linear" not in awq.groups and "routed_experts_linear" in awq.groups


def test_compressed_tensors_nvfp4_and_a_vision_tower_ignored_module_by_module():
    """NVFP4: 4 bits + one fp8 scale per 16 = 4.5 bits. A multimodal checkpoint's ``ignore`` lists
    its vision tower module by module (as llm-compressor writes Qwen3-VL's): not sized here, not refused."""
    block = {
        "quant_method": "compressed-tensors",
        "format": "nvfp4-pack-quantized",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
            }
        },
        "ignore": ["model.visual.blocks.0.attn.qkv", "model.visual.blocks.0.attn", "lm_head", "re:.*mlp.gate$"],
    }
    quant = parse_quantization(block)
    assert quant.bits == 4.5
    assert quant.groups == ("attention_linear", "dense_mlp_linear", "routed_experts_linear", "shared_experts_linear")


def test_compressed_tensors_int4_of_the_routed_experts_alone():
    """Kimi K2.5's text_config.quantization_config as shipped (moonshotai/Kimi-K2.5 config.json, copy in
    data/hf_configs/): its ``re:`` patterns keep attention, the shared experts and the dense layer's MLP
    (``mlp\\.(gate|up|gate_up|down)_proj``) at 16 bits, so only the routed experts are int4; 4 bits + one
    16-bit scale per group of 32, symmetric (no zero point): 4.5 bits."""
    block = {
        "config_groups": {
            "group_0": {
                "input_activations": None,
                "output_activations": None,
                "targets": ["Linear"],
                "weights": {
                    "actorder": None,
                    "block_structure": None,
                    "dynamic": False,
                    "group_size": 32,
                    "num_bits": 4,
                    "observer": "minmax",
                    "observer_kwargs": {},
                    "strategy": "group",
                    "symmetric": True,
                    "type": "int",
                },
            }
        },
        "format": "pack-quantized",
        "ignore": ["lm_head", "re:.*self_attn.*", "re:.*shared_experts.*", "re:.*mlp\\.(gate|up|gate_up|down)_proj.*"],
        "kv_cache_scheme": None,
        "quant_method": "compressed-tensors",
        "quantization_status": "compressed",
    }
    quant = parse_quantization(block)
    assert quant.groups == ("routed_experts_linear",)
    assert quant.bits == 4.5


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["hqq", "eetq", "quanto", "torchao", None, [], ["fp8"], {"fp8": 1}, 8])
def test_unknown_quant_methods_are_refused_naming_the_supported_ones(method):
    """A quantization we cannot read is refused, never sized as bf16."""
    with pytest.raises(ValueError, match="not modelled") as caught:
        parse_quantization({"quant_method": method})
    assert all(m in str(caught.value) for m in SUPPORTED_QUANT_METHODS)


@pytest.mark.parametrize(
    "block",
    [
        {"quant_method": "awq", "modules_to_not_convert": ["model.layers.0.", "mlp.gate."]},  # per layer
        {"quant_method": "awq", "modules_to_not_convert": ["indexer"]},  # a module we cannot place
        {"quant_method": "awq", "modules_to_not_convert": ["model.layers.3.self_attn"]},  # one layer's attention
        {"quant_method": "awq", "modules_to_not_convert": ["model.layers.0.mlp.down_proj"]},  # one layer's MLP
        {"quant_method": "fp8", "weight_block_size": [128]},
        {"quant_method": "gptq", "bits": "4"},
        {"quant_method": "compressed-tensors", "format": "marlin-24", "config_groups": {}},
        {"quant_method": "bitsandbytes"},
        {"load_in_4bit": True, "bnb_4bit_quant_type": "int4"},
    ],
)
def test_blocks_we_cannot_size_are_refused(block):
    with pytest.raises(ValueError):
        parse_quantization(block)


def test_config_error_names_the_quant_method():
    config = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    config["quantization_config"] = {"quant_method": "hqq", "nbits": 4}
    with pytest.raises(ConfigError, match="'hqq'"):
        checkpoint_from_config(config, "upload")


# --- the memory estimate and the CLI -----------------------------------------------------------


def test_parameter_groups_add_up_to_the_count_for_every_test_config():
    for path in sorted(CONFIGS.glob("*.json")):
        spec = parse_config_text(path.read_bytes(), path.name)
        groups = parameter_groups(spec)
        assert sum(groups.values()) == count_parameters(spec).total, path.name
        assert min(groups.values()) >= 0


def test_auto_settings_need_a_plan_and_a_plan_needs_auto():
    _, plan = _plan(CONFIGS / "gpt-oss-20b.json")
    with pytest.raises(ValueError, match="storage plan"):
        InferenceSettings(weight_format="auto")
    with pytest.raises(ValueError, match="auto"):
        InferenceSettings(weight_format="bf16", storage=plan)
    spec = parse_config_text((CONFIGS / "gpt-oss-20b.json").read_bytes())
    memory = inference_memory(spec, InferenceSettings(weight_format="auto", storage=plan))
    assert memory.weights_bytes == 13_761_264_768


def _memory_json(capsys, *args: str) -> dict:
    assert main(["memory", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_sizes_a_quantized_config_as_shipped_by_default(capsys):
    """gpt-oss-120b uploaded: 60.8 GiB as its model card says, not 217.6 GiB (today's bf16)."""
    report = _memory_json(capsys, "--config", str(CONFIGS / "gpt-oss-120b.json"))
    assert report["precision"] == "auto"
    assert report["weights_format"] == "as shipped: MXFP4 experts"
    assert abs(report["weights_bytes"] / (60.8 * GIB) - 1) < 0.02
    assert report["checkpoint_bytes"] == report["weights_bytes"]


def test_cli_explicit_bf16_still_sizes_a_dequantized_copy(capsys):
    """116,829,156,672 parameters (meta-device count) x 2 bytes = 233,658,313,344 bytes."""
    report = _memory_json(capsys, "--config", str(CONFIGS / "gpt-oss-120b.json"), "--precision", "bf16")
    assert report["weights_bytes"] == 233_658_313_344
    assert report["weights_format"].startswith("BF16")


def test_cli_deepseek_shows_the_checkpoint_and_what_it_loads(capsys):
    report = _memory_json(capsys, "--config", str(DEEPSEEK_V3))
    assert report["weights_format"] == "as shipped: fp8 block 128x128"
    assert report["checkpoint_bytes"] > report["weights_bytes"]
    assert "without the multi-token-prediction" in report["weights_basis"]
    assert main(["memory", "--config", str(DEEPSEEK_V3)]) == 0
    text = capsys.readouterr().out
    assert "storage        as shipped: fp8 block 128x128" in text
    assert "641.3 GiB as stored" in text  # 688,574,772,000 bytes / 2^30


def test_a_catalog_model_that_ships_quantized_is_sized_as_shipped_by_default(capsys):
    """Picked from the catalog, DeepSeek-V3 is sized as its fp8 checkpoint, not as bf16 (it was:
    1,249.9 GiB of weights); its stored config.json says how, as --config does."""
    assert main(["memory", "--model", "deepseek-ai/DeepSeek-V3"]) == 0
    text = capsys.readouterr().out
    assert "storage        as shipped: fp8 block 128x128" in text
    assert "641.3 GiB as stored" in text  # 688,574,772,000 bytes / 2^30, the Hub's safetensors total
    catalog = _memory_json(capsys, "--model", "openai/gpt-oss-120b")
    stored = _memory_json(capsys, "--config", "data/hf_configs/openai__gpt-oss-120b.json")
    assert catalog["weights_format"] == stored["weights_format"] == "as shipped: MXFP4 experts"
    assert catalog["weights_bytes"] == stored["weights_bytes"]
    # a catalog model whose checkpoint is plain 16-bit keeps bf16, and auto is refused for it
    assert _memory_json(capsys, "--model", "meta-llama/Llama-3.1-8B")["weights_format"].startswith("BF16")


def test_a_catalog_model_shipped_in_fp8_without_a_stored_config_defaults_to_fp8(capsys):
    """DeepSeek-R1-0528 ships fp8 block-wise (its catalog row) but no copy of its config.json is
    stored to size it to the byte: fp8 stands in by default, never bf16 (1,249.9 GiB)."""
    default = _memory_json(capsys, "--model", "deepseek-ai/DeepSeek-R1-0528")
    fp8 = _memory_json(capsys, "--model", "deepseek-ai/DeepSeek-R1-0528", "--precision", "fp8")
    assert default["weights_bytes"] == fp8["weights_bytes"] and default["weights_format"].startswith("FP8")


def test_cli_auto_on_an_unquantized_config_is_its_dtype(capsys):
    """Llama-2-7b-hf ships fp16: 6,738,415,616 x 2 = 13,476,831,232 bytes."""
    report = _memory_json(capsys, "--config", str(CONFIGS / "Llama-2-7b-hf.json"), "--precision", "auto")
    assert report["weights_bytes"] == 13_476_831_232
    assert report["weights_format"] == "as shipped: 16-bit (no quantization_config)"


def test_cli_refuses_auto_without_a_config_and_unknown_quantization(capsys, tmp_path):
    assert main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--precision", "auto"]) == 2
    assert "needs the model's config.json" in capsys.readouterr().err
    config = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    config["quantization_config"] = {"quant_method": "hqq"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main(["memory", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "'hqq'" in err and err.count("\n") == 1
    # asked for explicitly, a bf16 copy of the same model is still sized
    assert main(["memory", "--config", str(path), "--precision", "bf16"]) == 0


def test_decode_reads_the_shipped_bytes_of_what_a_token_touches():
    """gpt-oss-120b, one sequence: every group but the input embedding at bf16, and 4 of 128
    experts per layer at MXFP4.

    bf16: attention 955,514,880 + sinks and biases 290,304 + router 13,275,648 + expert biases
    39,813,120 + norms 210,240 + lm_head 579,133,440 = 1,588,237,632 parameters x 2 =
    3,176,475,264 bytes. Experts: 114,661,785,600 x 4 / 128 = 3,583,180,800 weights x 4.25 / 8 =
    1,903,564,800 bytes. Total 5,080,040,064 bytes (a bf16 copy would read about 3x that).
    """
    spec, plan = _plan(CONFIGS / "gpt-oss-120b.json")
    assert plan.decode_read_bytes(spec, 4 / 128) == 5_080_040_064
    settings = InferenceSettings(weight_format="auto", storage=plan)
    memory = inference_memory(spec, settings)
    assert decode_read_bytes(spec, settings, memory) == 5_080_040_064 + memory.kv_cache_bytes


def test_the_real_deepseek_config_reads_as_fp8_with_one_mtp_layer():
    """data/hf_configs/deepseek-ai__DeepSeek-V3.json: quant_method fp8, weight_block_size [128, 128],
    num_nextn_predict_layers 1 (README_WEIGHTS.md: "The open-sourced V3 weights include 1 MTP Module")."""
    checkpoint = parse_checkpoint_text(DEEPSEEK_V3.read_bytes(), DEEPSEEK_V3.name)
    assert checkpoint.quantization.label == "fp8 block 128x128"
    assert checkpoint.mtp_layers == 1 and checkpoint.model_type == "deepseek_v3"
    # the router (``gate``), embeddings, head and norms stay bf16
    _, plan = _plan(DEEPSEEK_V3)
    assert {r.group for r in plan.rows if r.bits == 16} >= {"embedding", "lm_head", "router", "norms"}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.json")), ids=lambda p: p.name)
def test_as_shipped_never_exceeds_sixteen_bits_per_parameter(path):
    """Every test config as shipped weighs at most its bf16 copy (equal when unquantized, fp32 aside)."""
    text = path.read_bytes()
    spec = parse_config_text(text, path.name)
    checkpoint = parse_checkpoint_text(text, path.name)
    if checkpoint.torch_dtype_bits > 16:
        return
    plan = storage_plan(spec, checkpoint)
    bf16 = count_parameters(spec).total * 2
    assert plan.weights_bytes <= bf16
    if checkpoint.quantization is None:
        assert plan.weights_bytes == bf16
