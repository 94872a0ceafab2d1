"""Qwen3's FP8 MoE checkpoints as shipped. Their ``modules_to_not_convert`` lists ``lm_head`` and every
layer's ``input_layernorm``, ``mlp.gate`` (router) and ``post_attention_layernorm`` — 145 names for
Qwen3-30B-A3B-FP8, 283 for Qwen3-235B-A22B-FP8. On main the first per-layer norm was refused
("per-layer or unusual module lists are not modelled"), so neither checkpoint could be sized as
shipped. Norms and routers are never converted, so the list keeps them at 16 bits, as they are.

Expected bytes are derived by hand below from each config (data/hf_configs/), and the parameter
totals agree with transformers' meta-device count (manifest.csv: 30,532,122,624 and 235,093,634,560).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_calc.cli import main
from llm_calc.quantization import DECODER_LINEAR_GROUPS, parse_quantization

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "hf_configs"

# fp8 e4m3 with 128x128 blocks: 8 bits + one fp32 scale per 16,384 weights = 8 + 32/16,384 bits,
# i.e. bytes = weights x (1 + 1/4,096); every matrix here is a whole number of 128x128 blocks.
#
# Qwen3-30B-A3B (hidden 2,048, 48 layers, 32 heads and 4 KV heads of 128, 128 experts of 768, vocab 151,936):
#   attention  48 x (2,048x4,096 + 2 x 2,048x512 + 4,096x2,048) = 48 x 18,874,368       =    905,969,664
#   experts    48 x 128 x 3 x 2,048 x 768                                                = 28,991,029,248
#   fp8: (905,969,664 + 28,991,029,248) = 29,896,998,912 x (1 + 1/4,096)                = 29,904,297,984 bytes
#   router     48 x 2,048 x 128 = 12,582,912;  norms 48 x (2 x 2,048 + 2 x 128) + 2,048 = 210,944
#   embedding and lm_head 2 x 151,936 x 2,048 = 622,329,856
#   bf16: (12,582,912 + 210,944 + 622,329,856) = 635,123,712 x 2                        =  1,270,247,424 bytes
QWEN3_30B_A3B_FP8_BYTES = 29_904_297_984 + 1_270_247_424  # = 31,174,545,408
#
# Qwen3-235B-A22B (hidden 4,096, 94 layers, 64 heads and 4 KV heads of 128, 128 experts of 1,536):
#   attention  94 x (4,096x8,192 + 2 x 4,096x512 + 8,192x4,096) = 94 x 71,303,168       =   6,702,497,792
#   experts    94 x 128 x 3 x 4,096 x 1,536                                              = 227,096,395,776
#   fp8: 233,798,893,568 x (1 + 1/4,096)                                                 = 233,855,973,376 bytes
#   router 94 x 4,096 x 128 = 49,283,072;  norms 94 x (2 x 4,096 + 2 x 128) + 4,096 = 798,208
#   embedding and lm_head 2 x 151,936 x 4,096 = 1,244,659,712
#   bf16: 1,294,740,992 x 2                                                              =   2,589,481,984 bytes
QWEN3_235B_A22B_FP8_BYTES = 233_855_973_376 + 2_589_481_984  # = 236,445,455,360


@pytest.mark.parametrize(
    "config, expected",
    [
        ("Qwen__Qwen3-30B-A3B-FP8.json", QWEN3_30B_A3B_FP8_BYTES),
        ("Qwen__Qwen3-235B-A22B-FP8.json", QWEN3_235B_A22B_FP8_BYTES),
    ],
)
def test_qwen3_fp8_moe_checkpoints_are_sized_as_shipped(capsys, config, expected):
    code = main(["memory", "--config", str(CONFIGS / config), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["precision"] == "auto"
    assert report["weights_format"] == "as shipped: fp8 block 128x128"
    assert report["weights_bytes"] == expected
    kept = {row["group"]: row["bits"] for row in report["weights_storage"] if row["bits"] == 16}
    assert set(kept) == {"embedding", "lm_head", "router", "norms"}


def test_per_layer_norms_and_routers_keep_nothing_converted():
    block = {
        "quant_method": "fp8",
        "weight_block_size": [128, 128],
        "modules_to_not_convert": [
            "model.layers.0.input_layernorm",
            "model.layers.0.post_attention_layernorm",
            "model.layers.0.self_attn.q_norm",
            "model.layers.0.mlp.gate",
        ],
    }
    assert parse_quantization(block).groups == DECODER_LINEAR_GROUPS


@pytest.mark.parametrize("module", ["model.layers.3.self_attn", "model.layers.3.mlp.experts", "model.layers.3.mlp"])
def test_one_layers_converted_modules_are_still_refused(module):
    """A plan is per parameter group: one layer's attention or experts at 16 bits is not modelled."""
    with pytest.raises(ValueError, match="per-layer or unusual module lists are not modelled"):
        parse_quantization({"quant_method": "fp8", "modules_to_not_convert": [module]})
