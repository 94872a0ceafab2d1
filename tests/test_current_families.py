"""2025-26 MoE families read from their real config.json (issue 11): Kimi K2, DeepSeek-V3.2, GLM-5,
MiniMax-M2.5, Qwen3.5-35B-A3B, EXAONE 4.5, Gemma 4 26B-A4B, GLM-4.5-Air.

Totals equal transformers 5.17 on the meta device (``tests/test_param_oracle.py`` builds the same
files, in ``tests/configs/``); here each is compared with the count its publisher states, and its
KV cache per token with a count derived by hand from the config.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_calc.architecture import count_parameters, kv_bytes_per_token, kv_cache_bytes
from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, ConfigError, parse_config_text

ROOT = Path(__file__).resolve().parent.parent
HF_CONFIGS = ROOT / "data" / "hf_configs"


def _spec(filename: str):
    return parse_config_text((HF_CONFIGS / filename).read_bytes(), name=filename)


def _edited(filename: str, **changes) -> str:
    config = json.loads((HF_CONFIGS / filename).read_text())
    target = config.get("text_config", config)
    target.update(changes)
    return json.dumps(config)


NEW_TYPES = (
    "kimi_k2",
    "deepseek_v32",
    "glm_moe_dsa",
    "minimax_m2",
    "qwen3_5_moe_text",
    "exaone4_5_text",
    "gemma4_text",
    "glm4_moe",
)


def test_the_new_families_are_supported():
    assert set(NEW_TYPES) <= set(SUPPORTED_MODEL_TYPES)


ACTIVE_TOLERANCE = 0.05
"""Vendors state active counts in whole billions and rarely say whether the output head is in them;
we compare our active count less the input embedding (DeepSeek's convention, README_WEIGHTS: the
36.6B active includes the output head, not the input embedding) and accept 5 %: the share of a
10B figure its rounding hides (0.5B), about the size of these models' output heads (0.6-1.2B).
Each row states its error."""


@pytest.mark.parametrize(
    ("filename", "total", "total_precision", "active"),
    [
        # https://huggingface.co/moonshotai/Kimi-K2-Instruct (model card): "32 billion activated
        # parameters and 1 trillion total parameters". Ours: 1,026,408,209,408 total (1.0T to 0.1T);
        # active 31.69B without the 163,840 x 7,168 input embedding (-1.0 %)
        ("moonshotai__Kimi-K2-Instruct.json", 1.0e12, 1e11, 32e9),
        # https://huggingface.co/moonshotai/Kimi-K2.5 (model card, "2. Model Summary"): "Total Parameters
        # 1T", "Activated Parameters 32B" (its language model; "Parameters of Vision Encoder 400M" apart).
        # Ours: 1,026,408,209,408 (transformers' meta build of its text_config as deepseek_v3: the same);
        # active 31.69B without the input embedding (-1.0 %)
        ("moonshotai__Kimi-K2.5.json", 1.0e12, 1e11, 32e9),
        # https://github.com/zai-org/GLM-5 (README): "GLM-5 scales from 355B parameters (32B active)
        # to 744B parameters (40B active)". Ours: 743,911,199,232; active 40.83B (+2.1 %)
        ("zai-org__GLM-5.json", 744e9, 1e9, 40e9),
        # https://github.com/MiniMax-AI/MiniMax-M2 (README): "230B total parameters with 10B active"
        # (M2.5 keeps M2's architecture). Ours: 228,689,748,992 (230B to 10B); active 10.42B (+4.2 %;
        # 9.80B, -2.0 %, without the output head too)
        ("MiniMaxAI__MiniMax-M2.5.json", 230e9, 1e10, 10e9),
        # https://huggingface.co/Qwen/Qwen3.5-35B-A3B (model card, "Language Model"): "Number of
        # Parameters: 35B in total and 3B activated". Ours: 34,660,610,688; active 2.95B (-1.8 %)
        ("Qwen__Qwen3.5-35B-A3B.json", 35e9, 1e9, 3e9),
    ],
)
def test_counts_agree_with_the_published_figures(filename, total, total_precision, active):
    spec = _spec(filename)
    counts = count_parameters(spec)
    assert round(counts.total / total_precision) * total_precision == total
    active_without_input_embedding = counts.active - spec.vocab_size * spec.hidden_size
    assert active_without_input_embedding == pytest.approx(active, rel=ACTIVE_TOLERANCE)


def test_gemma4_26b_a4b_counts_are_the_model_cards():
    """https://ai.google.dev/gemma/docs/core/model_card_4 (and the Hub card of google/gemma-4-26B-A4B-it),
    26B A4B MoE: "Total Parameters 25.2B", "Active Parameters 3.8B", "Expert Count 8 active / 128
    total and 1 shared", "Vision Encoder Parameters ~550M". Ours (language model; the vision tower is
    not sized): 25,233,141,760 total, 3,822,530,560 active. Google's 3.8B includes the tied
    embedding (3.08B without it), and the "1 shared" expert is the dense MLP every layer runs."""
    counts = count_parameters(_spec("google__gemma-4-26B-A4B.json"))
    assert round(counts.total / 1e8) == 252
    assert round(counts.active / 1e8) == 38


def test_gemma4_global_layers_have_their_own_shape():
    """Gemma4TextAttention, by hand from the config (hidden 2,816, 16 query heads):
    a sliding layer: q 2,816 x 16 x 256 + k and v 2,816 x 8 x 256 each + o 4,096 x 2,816 = 34,603,008;
    a global layer (global_head_dim 512, 2 KV heads, attention_k_eq_v: no v_proj):
    q 2,816 x 8,192 + k 2,816 x 1,024 + o 8,192 x 2,816 = 49,020,928.
    25 sliding + 5 global layers: 865,075,200 + 245,104,640 = 1,110,179,840."""
    assert count_parameters(_spec("google__gemma-4-26B-A4B.json")).attention == 1_110_179_840


def test_zhipu_counts_leave_out_both_embedding_matrices():
    """https://github.com/zai-org/GLM-4.5 (README): "GLM-4.5-Air adopts a more compact design with 106
    billion total parameters and 12 billion active parameters"; https://github.com/zai-org/GLM-5:
    "744B parameters (40B active)". Ours: GLM-4.5-Air 106,852,245,504 total (+0.8 %), GLM-5
    743,911,199,232 (-0.01 %). Active without the input embedding and the output head (both untied):
    GLM-4.5-Air 12.18B (+1.5 %; 12.80B with the head), GLM-5 39.88B (-0.3 %)."""
    air = parse_config_text((ROOT / "tests" / "configs" / "GLM-4.5-Air.json").read_bytes())
    glm5 = _spec("zai-org__GLM-5.json")
    for spec, total, active in ((air, 106e9, 12e9), (glm5, 744e9, 40e9)):
        counts = count_parameters(spec)
        assert counts.total == pytest.approx(total, rel=0.01)
        assert counts.active - 2 * spec.vocab_size * spec.hidden_size == pytest.approx(active, rel=0.02)


def test_glm45_air_attention_and_cache_by_hand():
    """Glm4MoeAttention: 96 query heads and 8 KV heads of 128 on a 4,096 width, Q/K/V biases, none
    on o_proj, no q/k norms (use_qk_norm false): 4,096 x (12,288 + 2 x 1,024) + 12,288 x 4,096 +
    (12,288 + 2 x 1,024) = 109,066,240 a layer. Cache: K and V of 8 x 128 = 2,048 values, 4,096
    bytes at 16 bits; x 46 layers = 188,416 bytes a token."""
    spec = parse_config_text((ROOT / "tests" / "configs" / "GLM-4.5-Air.json").read_bytes())
    assert count_parameters(spec).attention == 46 * 109_066_240
    assert kv_bytes_per_token(spec, 16) == 188_416


def test_kimi_k2_is_deepseek_v3_with_its_own_widths():
    """Kimi K2 (DeepseekV3ForCausalLM) and DeepSeek-V3 differ only in config values: 64 heads
    instead of 128, 384 experts instead of 256, 1 dense layer instead of 3, a 163,840 vocabulary."""
    kimi, v3 = _spec("moonshotai__Kimi-K2-Instruct.json"), _spec("deepseek-ai__DeepSeek-V3.json")
    changed = {
        name
        for name in kimi.__dataclass_fields__
        if getattr(kimi, name) != getattr(v3, name) and name not in ("name", "max_context")
    }
    assert changed == {"num_attention_heads", "num_kv_heads", "num_experts", "dense_layers", "vocab_size"}


# KV cache per token, by hand from each config (16-bit cache, 2 bytes a value):
# - Kimi K2: MLA caches kv_lora_rank 512 + qk_rope_head_dim 64 = 576 values a layer;
#   576 x 61 layers x 2 bytes = 70,272.
# - DeepSeek-V3.2: MLA's 576 plus the indexer's one key head of index_head_dim 128 = 704 values;
#   704 x 61 x 2 = 85,888.
# - GLM-5: 512 + 64 + index_head_dim 128 = 704 values; 704 x 78 layers x 2 = 109,824.
# - MiniMax-M2.5: GQA, K and V of 8 heads x 128 = 2,048 values; 2,048 x 62 layers x 2 = 253,952.
# - Qwen3.5-35B-A3B: 10 of its 40 layer_types are full_attention (the other 30 Gated DeltaNet keep
#   a fixed state instead); K and V of 2 heads x 256 = 1,024 values; 1,024 x 10 x 2 = 20,480.
@pytest.mark.parametrize(
    ("filename", "per_token"),
    [
        ("moonshotai__Kimi-K2-Instruct.json", 70_272),
        ("deepseek-ai__DeepSeek-V3.2.json", 85_888),
        ("zai-org__GLM-5.json", 109_824),
        ("MiniMaxAI__MiniMax-M2.5.json", 253_952),
        ("Qwen__Qwen3.5-35B-A3B.json", 20_480),
    ],
)
def test_kv_cache_per_token_derived_by_hand(filename, per_token):
    spec = _spec(filename)
    assert kv_bytes_per_token(spec, 16) == per_token
    assert kv_cache_bytes(spec, 1000, 1, 16) == 1000 * per_token  # no sliding layers in these


def test_exaone45_slides_48_of_its_64_layers():
    """EXAONE 4.5's text_config: 64 layer_types, "LLLG" (48 sliding_attention, window 4,096, and 16
    full_attention); no head_dim, so 5,120 / 40 heads = 128; 8 KV heads. A layer caches K and V of
    8 x 128 = 2,048 values, 4,096 bytes at 16 bits. At 8,192 tokens: 16 full layers x 8,192 x 4,096
    = 536,870,912 plus 48 sliding layers x 4,096 x 4,096 = 805,306,368: 1,342,177,280 bytes."""
    spec = _spec("LGAI-EXAONE__EXAONE-4.5-33B.json")
    assert kv_bytes_per_token(spec, 16) == 64 * 4096
    assert kv_cache_bytes(spec, 8192, 1, 16) == 1_342_177_280
    assert kv_cache_bytes(spec, 4096, 1, 16) == 64 * 4096 * 4096  # within the window every layer keeps all


def test_gemma4_caches_sliding_and_global_layers_at_their_own_shapes():
    """Gemma 4 26B-A4B, 16-bit cache: 25 sliding layers (window 1,024) keep K and V of 8 heads x 256
    = 4,096 values; 5 global layers K and V of 2 heads x 512 = 2,048 values (the values are the keys'
    projection but cached apart, normed differently). Per token without windows:
    (25 x 4,096 + 5 x 2,048) x 2 bytes = 225,280. At 8,192 tokens: 25 x 1,024 x 4,096 x 2 =
    209,715,200 plus 5 x 8,192 x 2,048 x 2 = 167,772,160: 377,487,360 bytes."""
    spec = _spec("google__gemma-4-26B-A4B.json")
    assert kv_bytes_per_token(spec, 16) == 225_280
    assert kv_cache_bytes(spec, 8192, 1, 16) == 377_487_360
    assert kv_cache_bytes(spec, 8192, 3, 8) == 3 * 377_487_360 // 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size_per_layer_input": 256}, "per-layer input embeddings"),
        ({"hidden_size_per_layer_input": None}, "per-layer input embeddings"),  # Gemma4TextConfig default 256
        ({"num_kv_shared_layers": 10}, "KV sharing across layers"),
        ({"use_bidirectional_attention": "all"}, "bidirectional"),
        ({"layer_types": ["sliding_attention"] * 30}, "last layer is not full_attention"),
        ({"per_layer_config": {}}, "per_layer_config"),
    ],
)
def test_gemma4_options_we_do_not_model_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_text(_edited("google__gemma-4-26B-A4B.json", **changes))


def test_gemma4_dense_layers_without_the_moe_block():
    """With enable_moe_block false Gemma4TextModel builds no experts (num_experts is ignored) and
    keeps 4 norms a layer: the 26B config then holds its dense MLPs only."""
    spec = parse_config_text(_edited("google__gemma-4-26B-A4B.json", enable_moe_block=False))
    assert not spec.is_moe
    assert spec.norms_per_layer == 4
    # 30 layers x 3 x 2,816 x 2,112 = 535,265,280 of MLP
    assert count_parameters(spec).mlp == 535_265_280


def test_gemma4_vision_tower_by_hand_and_the_cards_550m():
    """Gemma4VisionModel of the 26B-A4B config (hidden 1,152, 27 layers, 16 heads of 72, MLP 4,304):
    patches 3 x 16 x 16 x 1,152 = 884,736 and position tables 2 x 10,240 x 1,152 = 23,592,960; a
    layer 4 x 1,152 x 1,152 + 2 x 72 + 3 x 1,152 x 4,304 + 4 x 1,152 = 20,187,792 (x 27 =
    545,070,384); projector 1,152 x 2,816 = 3,244,032. Sum 572,792,112; the model card's "Vision
    Encoder Parameters ~550M" (https://ai.google.dev/gemma/docs/core/model_card_4) is within 4 %."""
    from llm_calc.hf_config import parse_vision_parameters_text

    text = (HF_CONFIGS / "google__gemma-4-26B-A4B.json").read_bytes()
    vision = parse_vision_parameters_text(text)
    assert vision == 572_792_112
    assert vision == pytest.approx(550e6, rel=0.05)
    with pytest.raises(ConfigError, match="audio tower"):
        parse_vision_parameters_text(json.dumps({**json.loads(text), "audio_config": {}}))


def test_exaone45_without_layer_types_is_refused():
    """Exaone4Config refuses to guess the sliding layers from sliding_window_pattern alone; so do we."""
    with pytest.raises(ConfigError, match="needs layer_types"):
        parse_config_text(_edited("LGAI-EXAONE__EXAONE-4.5-33B.json", layer_types=None))


def test_deepseek_v32_indexer_adds_its_weights_to_every_layer():
    """DeepseekV32Indexer per layer: wq_b 1,536 x 64 x 128 + wk 7,168 x 128 + k_norm weight and bias
    2 x 128 + weights_proj 7,168 x 64 = 13,959,424; x 61 layers = 851,524,864 above DeepSeek-V3
    (whose other shapes V3.2 keeps)."""
    v32, v3 = _spec("deepseek-ai__DeepSeek-V3.2.json"), _spec("deepseek-ai__DeepSeek-V3.json")
    assert count_parameters(v32).total - count_parameters(v3).total == 61 * (
        1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    )


@pytest.mark.parametrize(
    ("filename", "changes", "message"),
    [
        ("deepseek-ai__DeepSeek-V3.2.json", {"index_head_dim": None}, "index_head_dim"),
        ("zai-org__GLM-5.json", {"q_lora_rank": None}, "indexer needs"),
        ("moonshotai__Kimi-K2-Instruct.json", {"moe_layer_freq": 2}, "moe_layer_freq other than 1"),
        ("zai-org__GLM-5.json", {"attention_bias": True}, "attention_bias or mlp_bias with latent attention"),
        ("MiniMaxAI__MiniMax-M2.5.json", {"shared_intermediate_size": 1536}, "shared expert"),
        ("MiniMaxAI__MiniMax-M2.5.json", {"qk_norm_type": "per_head"}, "qk_norm_type 'per_head'"),
        ("MiniMaxAI__MiniMax-M2.5.json", {"use_qk_norm": False}, "use_qk_norm"),
        ("Qwen__Qwen3.5-35B-A3B.json", {"mlp_only_layers": [0]}, "mlp_only_layers in a qwen3_5_moe"),
    ],
)
def test_options_we_do_not_model_are_refused_by_name(filename, changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_text(_edited(filename, **changes))


@pytest.mark.parametrize(
    ("filename", "precision"),
    [
        ("moonshotai__Kimi-K2-Instruct.json", "auto"),
        ("moonshotai__Kimi-K2.5.json", "auto"),
        ("deepseek-ai__DeepSeek-V3.2.json", "auto"),
        ("zai-org__GLM-5.json", "bf16"),
        ("MiniMaxAI__MiniMax-M2.5.json", "auto"),
        ("Qwen__Qwen3.5-35B-A3B.json", "bf16"),
        ("LGAI-EXAONE__EXAONE-4.5-33B.json", "bf16"),
        ("google__gemma-4-26B-A4B.json", "bf16"),
        ("google__gemma-4-31B-it.json", "auto"),
        ("Qwen__Qwen3.6-27B.json", "auto"),
    ],
)
def test_cli_sizes_each_real_config(filename, precision):
    done = subprocess.run(
        [sys.executable, "-m", "llm_calc", "memory", "--config", str(HF_CONFIGS / filename), "--precision", precision],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "KV per token" in done.stdout


def test_glm45_options_change_the_count_or_are_refused():
    """use_qk_norm adds Glm4MoeAttention's q_norm and k_norm (128 each) to all 46 layers: 11,776 more;
    a moe_layer_freq other than 1 (which Glm4MoeForCausalLM ignores) is refused."""
    config = json.loads((ROOT / "tests" / "configs" / "GLM-4.5-Air.json").read_text())
    base = count_parameters(parse_config_text(json.dumps(config))).total
    assert count_parameters(parse_config_text(json.dumps({**config, "use_qk_norm": True}))).total == base + 11_776
    with pytest.raises(ConfigError, match="moe_layer_freq other than 1"):
        parse_config_text(json.dumps({**config, "moe_layer_freq": 2}))


def test_deepseek_v32_checkpoint_adds_its_mtp_layer_with_an_indexer():
    """DeepSeek-V3.2 ships DeepSeek-V3's multi-token-prediction layer (num_nextn_predict_layers 1), a
    decoder layer like the others: its MTP parameters are V3's plus one indexer (13,959,424, as
    derived in test_deepseek_v32_indexer_adds_its_weights_to_every_layer)."""
    from llm_calc.hf_config import parse_checkpoint_text
    from llm_calc.quantization import storage_plan

    def mtp(filename: str) -> int:
        text = (HF_CONFIGS / filename).read_bytes()
        return storage_plan(parse_config_text(text), parse_checkpoint_text(text)).mtp_params

    assert mtp("deepseek-ai__DeepSeek-V3.2.json") - mtp("deepseek-ai__DeepSeek-V3.json") == 13_959_424


def test_exaone45_vision_tower_by_hand():
    """Exaone4_5_VisionModel of EXAONE 4.5 33B (hidden 2,048, 28 blocks, 32 heads and 8 KV heads of 64,
    MLP 5,120, patches 2 x 14 x 14, merger 2 x 2 into 5,120): patch convolution 3 x 2 x 14 x 14 x
    2,048 = 2,408,448; a block 2 x 2,048 (norms) + 2,048 x 3,072 + 3,072 (QKV) + 2,048 x 2,048 +
    2,048 (output) + 2 x (2,048 x 5,120 + 5,120) + 5,120 x 2,048 + 2,048 (MLP) = 41,964,544, x 28 =
    1,175,007,232; merger 2,048 + 8,192 x 8,192 + 8,192 + 8,192 x 5,120 + 5,120 = 109,067,264.
    Sum 1,286,482,944 (transformers' meta build of the whole model less its language model: the same)."""
    from llm_calc.hf_config import parse_vision_parameters_text

    text = (HF_CONFIGS / "LGAI-EXAONE__EXAONE-4.5-33B.json").read_bytes()
    assert parse_vision_parameters_text(text) == 1_286_482_944


def test_kimi_k25_ships_its_routed_experts_alone_in_int4():
    """Kimi K2.5's text_config.quantization_config: compressed-tensors pack-quantized int4, group 32,
    symmetric (one 16-bit scale per 32 weights, no zero point: 4 + 16 / 32 = 4.5 bits), ignoring
    lm_head, self_attn, shared_experts and ``mlp.(gate|up|gate_up|down)_proj`` (the dense first layer).
    By hand: routed experts 60 MoE layers x 384 x 3 x 7,168 x 2,048 = 1,014,686,023,680 parameters
    (transformers' meta build: the same); the rest of the 1,026,408,209,408 (meta count) is
    11,722,185,728 at 16 bits. Weights: 1,014,686,023,680 x 4.5 / 8 + 11,722,185,728 x 2 =
    570,760,888,320 + 23,444,371,456 = 594,205,259,776 bytes, and the int4 engine tables serve it."""
    from llm_calc.engines import format_family
    from llm_calc.hf_config import parse_checkpoint_text
    from llm_calc.quantization import storage_plan

    text = (HF_CONFIGS / "moonshotai__Kimi-K2.5.json").read_bytes()
    plan = storage_plan(parse_config_text(text), parse_checkpoint_text(text))
    assert plan.weights_bytes == 594_205_259_776
    assert plan.mtp_params == 0
    assert format_family("auto", plan) == "int4"


def test_gemma4_31b_dense_counts_by_hand_and_the_model_card():
    """google/gemma-4-31B-it (dense: enable_moe_block false), by hand from its config (hidden 5,376,
    32 query heads, 60 layers of which every sixth is global):
    a sliding layer: q 5,376 x 32 x 256 + k and v 5,376 x 16 x 256 each + o 8,192 x 5,376 = 132,120,576;
    a global layer (global_head_dim 512, 4 KV heads, attention_k_eq_v: no v_proj):
    q 5,376 x 16,384 + k 5,376 x 2,048 + o 16,384 x 5,376 = 187,170,816;
    50 sliding + 10 global = 6,606,028,800 + 1,871,708,160 = 8,477,736,960.
    MLP 3 x 5,376 x 21,504 x 60 = 20,808,990,720; tied embedding 262,144 x 5,376 = 1,409,286,144;
    norms 60 x 4 x 5,376 + 5,376 (final) + q/k norms 50 x 2 x 256 + 10 x 2 x 512 = 1,331,456.
    Total 30,697,345,280 (transformers' meta build: the same), the card's "Total Parameters 30.7B"
    (https://ai.google.dev/gemma/docs/core/model_card_4, 31B Dense; its ~550M vision encoder apart)."""
    counts = count_parameters(_spec("google__gemma-4-31B-it.json"))
    assert counts.attention == 8_477_736_960
    assert counts.total == 30_697_345_280
    assert round(counts.total / 1e8) == 307


def test_qwen36_27b_counts_are_transformers_and_the_model_card():
    """Qwen/Qwen3.6-27B keeps Qwen3.5-27B's shapes (hidden 5,120, 64 layers, 3 Gated DeltaNet : 1 gated
    attention, MLP 17,408, vocabulary 248,320 untied). transformers' meta build of its text_config:
    26,895,998,464 (data/hf_configs/manifest.csv); the card's "Language Model — Number of Parameters:
    27B" (https://huggingface.co/Qwen/Qwen3.6-27B) is that figure rounded to 1B, the vision encoder apart."""
    counts = count_parameters(_spec("Qwen__Qwen3.6-27B.json"))
    assert counts.total == 26_895_998_464
    assert round(counts.total / 1e9) == 27
