"""Parameter counts and KV-cache sizes against published and hand-derived values."""

import dataclasses
import json

import pytest

from llm_calc.architecture import (
    ModelSpec,
    count_parameters,
    kv_bytes_per_token,
    kv_cache_bytes,
    scale_architecture,
)
from llm_calc.catalog import default_models, find_model

MODELS = default_models()
PARTS_BESIDE_THE_MODEL = ("includes the multi-token-prediction layer", "includes the vision tower")
"""``params_convention`` phrases of figures that count stored parts beside the sized model (DeepSeek-V3.2's
Hub total with its MTP layer, LFM2.5-VL-1.6B's name with its vision tower)."""


@pytest.mark.parametrize("model", MODELS, ids=[m.hf_id for m in MODELS])
def test_total_parameters_within_half_a_percent_of_published(model):
    if any(part in model.params_convention for part in PARTS_BESIDE_THE_MODEL):
        pytest.skip("the figure also counts an MTP layer or a vision tower: tests/test_catalog.py adds them")
    counted = count_parameters(model.spec).total
    if model.published_counts_tied_output:
        # the source counts the tied output matrix a second time (it is stored twice on disk)
        counted += model.spec.vocab_size * model.spec.hidden_size
    # or within the unit the figure is stated to (Qwen3-0.6B's "0.6B" is 0.596B: 0.7 % but 4M off)
    assert counted == pytest.approx(model.params_published, rel=0.005, abs=model.params_precision)


@pytest.mark.parametrize(
    ("hf_id", "published"),
    [
        ("meta-llama/Llama-2-7b-hf", 6_738_415_616),
        ("meta-llama/Meta-Llama-3-8B", 8_030_261_248),
        ("mistralai/Mixtral-8x7B-v0.1", 46_702_792_704),
        ("Qwen/Qwen2.5-7B", 7_615_616_512),
        ("openai-community/gpt2", 124_439_808),
        ("meta-llama/Llama-3.2-1B", 1_235_814_400),  # PEFT quick tour: 1,236,338,688 - 524,288 LoRA
    ],
)
def test_exact_published_parameter_counts(hf_id, published):
    assert count_parameters(find_model(hf_id).spec).total == published


@pytest.mark.parametrize(
    ("hf_id", "tolerance"),
    [
        ("mistralai/Mixtral-8x7B-v0.1", 0.005),  # "12.9B active" counts both vocabulary matrices
        ("mistralai/Mixtral-8x22B-v0.1", 0.005),  # "39B active"
        # "37B activated": DeepSeek leaves the input embedding (0.93 B, a lookup) out; we keep it
        ("deepseek-ai/DeepSeek-V3", 0.02),
    ],
)
def test_moe_active_parameters_match_published(hf_id, tolerance):
    model = find_model(hf_id)
    counts = count_parameters(model.spec)
    assert counts.active == pytest.approx(model.active_params_published, rel=tolerance)
    assert counts.active < counts.total / 3


def test_dense_model_active_equals_total():
    counts = count_parameters(find_model("meta-llama/Llama-2-13b-hf").spec)
    assert counts.active == counts.total


@pytest.mark.parametrize(
    ("hf_id", "bytes_per_token"),
    [
        ("meta-llama/Llama-2-7b-hf", 524_288),  # 2 x 32 layers x 32 heads x 128 x 2 bytes
        ("meta-llama/Meta-Llama-3-8B", 131_072),  # GQA: 8 KV heads
        ("meta-llama/Meta-Llama-3-70B", 327_680),  # 2 x 80 x 8 x 128 x 2
        ("tiiuae/falcon-7b", 8_192),  # MQA: 2 x 32 x 1 x 64 x 2
        ("deepseek-ai/DeepSeek-V3", 70_272),  # MLA: 61 x (512 + 64) x 2
    ],
)
def test_kv_bytes_per_token_at_16_bit(hf_id, bytes_per_token):
    assert kv_bytes_per_token(find_model(hf_id).spec, 16) == bytes_per_token


def test_kv_cache_q8_0_costs_8_5_bits_per_element():
    # Llama-2-7B: 262,144 elements per token x 34 bytes per 32 elements
    assert kv_bytes_per_token(find_model("meta-llama/Llama-2-7b-hf").spec, 8.5) == 278_528


def test_sliding_window_caps_the_cache_of_every_layer_for_mistral():
    spec = find_model("mistralai/Mistral-7B-v0.1").spec
    # 32 layers keep only 4,096 tokens of 2 x 8 x 128 values at 2 bytes
    assert kv_cache_bytes(spec, 32_768, 1, 16) == 32 * 4096 * 2048 * 2
    assert kv_cache_bytes(spec, 1_000, 1, 16) == 32 * 1000 * 2048 * 2


def test_gemma2_caps_only_its_sliding_layers():
    spec = find_model("google/gemma-2-9b").spec
    # 21 global layers x 8,192 tokens + 21 local layers x 4,096, each 2 x 8 x 256 values x 2 bytes
    assert kv_cache_bytes(spec, 8192, 1, 16) == 2_113_929_216


def test_kv_cache_scales_with_batch():
    spec = find_model("meta-llama/Meta-Llama-3-70B").spec
    assert kv_cache_bytes(spec, 32_768, 4, 16) == 40 * 2**30  # 327,680 x 32,768 x 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_kv_heads": 64}, "num_kv_heads"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_layers": -3}, "num_layers"),
        ({"hidden_size": 4096.5}, "hidden_size"),
        ({"norm": "batchnorm"}, "norm"),
        ({"num_experts": 8, "experts_per_token": 9}, "experts_per_token"),
        ({"vocab_size": 10**12}, "vocab_size"),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_named(change, message):
    spec = find_model("meta-llama/Llama-2-7b-hf").spec
    with pytest.raises(ValueError, match=message):
        spec.with_changes(**change)


def test_scaling_an_architecture_to_its_own_size_returns_it():
    base = find_model("meta-llama/Llama-2-13b-hf").spec
    scaled = scale_architecture(base, count_parameters(base).total)
    assert (scaled.hidden_size, scaled.num_layers) == (base.hidden_size, base.num_layers)


@pytest.mark.parametrize("target", [0.5e9, 3e9, 30e9, 300e9, 2e12])
def test_scaled_architecture_lands_near_the_target(target):
    base = find_model("meta-llama/Llama-2-13b-hf").spec
    scaled = scale_architecture(base, target)
    assert isinstance(scaled, ModelSpec)
    assert count_parameters(scaled).total == pytest.approx(target, rel=0.05)
    assert scaled.num_attention_heads % scaled.num_kv_heads == 0


def test_attention_sinks_add_one_parameter_per_head_and_layer():
    spec = find_model("meta-llama/Llama-2-7b-hf").spec
    # 32 layers x 32 heads
    assert count_parameters(spec.with_changes(attention_sinks=True)).total - count_parameters(spec).total == 1024


def test_qk_norm_adds_two_head_dim_norms_per_layer():
    spec = find_model("meta-llama/Llama-2-7b-hf").spec
    # RMSNorm weights over head_dim 128 on queries and keys, 32 layers: 2 x 128 x 32
    assert count_parameters(spec.with_changes(qk_norm=True)).total - count_parameters(spec).total == 8192


def test_lm_head_bias_adds_one_value_per_vocabulary_entry():
    spec = find_model("meta-llama/Llama-2-7b-hf").spec
    assert count_parameters(spec.with_changes(lm_head_bias=True)).total - count_parameters(spec).total == 32_000


def test_a_gated_shared_expert_of_its_own_width_counts_in_total_and_active():
    spec = find_model("mistralai/Mixtral-8x7B-v0.1").spec
    shared = spec.with_changes(shared_experts=1, shared_expert_intermediate_size=1024, shared_expert_gate=True)
    # per MoE layer: 3 x 4096 x 1024 (gate, up, down) + 4096 (gate), 32 layers
    added = 32 * (3 * 4096 * 1024 + 4096)
    assert count_parameters(shared).total - count_parameters(spec).total == added
    assert count_parameters(shared).active - count_parameters(spec).active == added


def test_shared_expert_width_without_a_shared_expert_is_rejected():
    spec = find_model("mistralai/Mixtral-8x7B-v0.1").spec
    with pytest.raises(ValueError, match="shared_experts"):
        spec.with_changes(shared_expert_gate=True)


# --- 2025-26 architectures: hybrid linear attention, per-layer attention types (issue 11) ------

from pathlib import Path  # noqa: E402

from llm_calc.architecture import state_bytes, state_bytes_per_sequence  # noqa: E402
from llm_calc.hf_config import ConfigError, parse_config_text  # noqa: E402

CONFIGS = Path(__file__).parent / "configs"


def _real(filename: str) -> ModelSpec:
    return parse_config_text((CONFIGS / filename).read_bytes(), name=filename)


def test_qwen3_next_state_per_sequence_by_hand():
    """Qwen3-Next-80B-A3B: 48 layers, every 4th full attention (full_attention_interval 4), so 36
    Gated DeltaNet layers. Per layer, as vLLM allocates it at bf16:
    conv state: conv_dim = 2 x 16 key heads x 128 + 32 value heads x 128 = 8,192 channels,
                x (kernel 4 - 1) = 24,576 values x 2 bytes = 49,152 bytes;
    recurrent state: 32 value heads x 128 x 128 = 524,288 values x 2 bytes = 1,048,576 bytes.
    36 x (49,152 + 1,048,576) = 36 x 1,097,728 = 39,518,208 bytes (37.7 MiB) per sequence."""
    spec = _real("Qwen3-Next-80B-A3B-Thinking.json")
    assert spec.linear_attention_layers == 36
    assert state_bytes_per_sequence(spec) == 39_518_208
    assert state_bytes(spec, batch=8) == 8 * 39_518_208


def test_qwen3_5_recurrent_state_is_fp32_as_its_config_asks():
    """Qwen3.5-9B's text_config has mamba_ssm_dtype float32: 24 DeltaNet layers of 32 layers;
    per layer 8,192 x 3 x 2 bytes (conv, bf16) + 32 x 128 x 128 x 4 bytes (recurrent, fp32)
    = 49,152 + 2,097,152 = 2,146,304; x 24 = 51,511,296 bytes."""
    assert state_bytes_per_sequence(_real("Qwen3.5-9B.json")) == 51_511_296


def test_qwen3_next_caches_keys_and_values_only_in_its_full_attention_layers():
    """12 full-attention layers x 2 (K, V) x 2 KV heads x 256 x 2 bytes = 24,576 bytes a token;
    its 36 DeltaNet layers add nothing per token."""
    spec = _real("Qwen3-Next-80B-A3B-Thinking.json")
    assert kv_bytes_per_token(spec) == 24_576
    assert kv_cache_bytes(spec, 1000, 1, 16) == 24_576_000


def test_olmo3_sliding_layers_keep_one_window():
    """OLMo 3.1 32B: layer_types has 48 sliding (window 4096) and 16 full layers; a token-layer is
    2 x 8 KV heads x 128 x 2 bytes = 4,096 bytes. At 32,768 tokens:
    (16 x 32,768 + 48 x 4,096) x 4,096 = 720,896 x 4,096 = 2,952,790,016 bytes."""
    spec = _real("Olmo-3.1-32B-Instruct.json")
    assert (spec.sliding_window, spec.sliding_window_layers) == (4096, 48)
    assert kv_cache_bytes(spec, 32_768, 1, 16) == 2_952_790_016


@pytest.mark.parametrize(
    ("filename", "published"),
    [
        # Qwen3-Next-80B-A3B card: "80B in total and 3B activated", "Non-Embedding: 79B"
        ("Qwen3-Next-80B-A3B-Thinking.json", {"total_b": 80, "non_embedding_b": 79, "active_non_embedding_b": 3}),
        # Qwen3.5-27B card: "Language Model — Number of Parameters: 27B"
        ("Qwen3.5-27B.json", {"total_b": 27}),
    ],
)
def test_hybrid_counts_round_to_the_model_cards(filename, published):
    counts = count_parameters(_real(filename))
    ours = {
        "total_b": round(counts.total / 1e9),
        "non_embedding_b": round((counts.total - counts.embedding) / 1e9),
        "active_non_embedding_b": round((counts.active - counts.embedding) / 1e9),
    }
    assert {key: ours[key] for key in published} == published


def test_exaone4_non_embedding_count_matches_its_card():
    """EXAONE-4.0-32B card: "Number of Parameters (without embeddings): 30.95B"."""
    counts = count_parameters(_real("EXAONE-4.0-32B.json"))
    assert round((counts.total - counts.embedding) / 1e7) == 3095


def test_an_unknown_layer_type_is_refused_by_name():
    config = json.loads((CONFIGS / "Qwen3-Next-80B-A3B-Thinking.json").read_text())
    config["layer_types"] = ["mamba"] + ["full_attention"] * 47
    with pytest.raises(ConfigError, match="layer type mamba is not modelled"):
        parse_config_text(json.dumps(config))


@pytest.mark.parametrize("dtype", ["float8", [], ["float32"], 32])
def test_an_unknown_state_dtype_is_refused(dtype):
    config = json.loads((CONFIGS / "Qwen3-Next-80B-A3B-Thinking.json").read_text())
    config["mamba_ssm_dtype"] = dtype  # a list or a number once raised TypeError instead
    with pytest.raises(ConfigError, match="mamba_ssm_dtype .* is not modelled"):
        parse_config_text(json.dumps(config))


def test_models_without_linear_attention_keep_no_state():
    assert state_bytes_per_sequence(_real("SmolLM3-3B.json")) == 0


def test_lfm2_short_convolution_layers_by_hand():
    """LFM2.5-VL-1.6B's language model (LFM2-1.2B): 16 layers, 10 "conv" and 6 full attention,
    hidden 2,048, 32 heads of 64, 8 KV heads, conv_L_cache 3, no conv bias, vocabulary 65,536 tied.
    MLP width: int(2 x 12,288 / 3) = 8,192, x 1.0, already a multiple of 256.
    embedding 65,536 x 2,048                                   =   134,217,728
    attention layer: 2,048 x 2,048 (q) + 2 x 2,048 x 512 (k, v) + 2,048 x 2,048 (out)
                     + 2 x 64 (q/k norms) = 10,485,888;  x 6   =    62,915,328
    conv layer: 2,048 x 6,144 (in) + 2,048 x 3 (conv) + 2,048 x 2,048 (out) = 16,783,360; x 10
                                                               =   167,833,600
    MLP: 3 x 2,048 x 8,192 = 50,331,648; x 16                  =   805,306,368
    norms: (16 x 2 + 1) x 2,048                                =        67,584
    total                                                      = 1,170,340,608
    (data/hf_configs/manifest.csv records the same meta-device count.)
    State per sequence: 10 conv layers x 2,048 channels x (3 - 1) x 2 bytes = 81,920 bytes;
    KV cache per token: 6 layers x 2 x 8 x 64 x 2 bytes = 12,288 bytes."""
    spec = _real("LFM2.5-VL-1.6B.json")
    assert count_parameters(spec).total == 1_170_340_608
    assert state_bytes_per_sequence(spec) == 81_920
    assert kv_bytes_per_token(spec) == 12_288


@pytest.mark.parametrize(
    "filename",
    [
        "Qwen3-Next-80B-A3B-Thinking.json",
        "Qwen3.5-9B.json",
        "LFM2.5-VL-1.6B.json",
        "Olmo-3.1-32B-Instruct.json",
        "EXAONE-4.0-32B.json",
        "SmolLM3-3B.json",
        "Devstral-2-123B-Instruct-2512.json",
    ],
)
def test_parameter_groups_of_new_layers_add_up_to_the_oracle_checked_total(filename):
    """The groups quantized checkpoints are sized by cover every tensor, DeltaNet and conv layers too."""
    from llm_calc.architecture import parameter_groups

    spec = _real(filename)
    groups = parameter_groups(spec)
    assert sum(groups.values()) == count_parameters(spec).total
    assert min(groups.values()) >= 0


# --- state-space hybrids: Jamba, Falcon-H1, Nemotron-H, Granite 4 (issue 11) ---------------------

from llm_calc.architecture import mamba_params_per_layer  # noqa: E402


def test_nemotron_3_nano_layout_and_state_by_hand():
    """NVIDIA-Nemotron-3-Nano-30B-A3B: hybrid_override_pattern has 52 blocks, 23 "M" (Mamba-2),
    23 "E" (MoE), 6 "*" (attention). Per Mamba-2 layer: inner = 64 heads x 64 = 4,096;
    conv channels = 4,096 + 2 x 8 groups x 128 states = 6,144;
    conv state 6,144 x (4 - 1) = 18,432 values x 2 bytes (bf16)           =    36,864 bytes;
    SSM state 64 x 64 x 128 = 524,288 values x 4 bytes (the config's
    mamba_ssm_cache_dtype float32, which vLLM honours for Nemotron-H)      = 2,097,152 bytes;
    23 x 2,134,016 = 49,082,368 bytes per sequence.
    KV cache: only the 6 attention blocks, 2 (K, V) x 2 KV heads x 128 x 2 bytes = 6,144 bytes a token."""
    spec = _real("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json")
    assert (spec.num_layers, spec.mamba_layers, spec.attention_layers, spec.moe_layers) == (52, 23, 6, 23)
    assert spec.mamba_state_bits == 32
    assert state_bytes_per_sequence(spec) == 49_082_368
    assert kv_bytes_per_token(spec) == 6_144


def test_jamba_mamba1_layer_by_hand():
    """AI21-Jamba-1.5-Mini (hidden 4,096, mamba_expand 2 -> inner 8,192, d_state 16, d_conv 4,
    dt_rank 256, conv bias, no projection bias), one JambaMambaMixer:
    in_proj 4,096 x 16,384 = 67,108,864; x_proj 8,192 x (256 + 2 x 16) = 2,359,296;
    dt_proj 256 x 8,192 + 8,192 bias = 2,105,344; out_proj 8,192 x 4,096 = 33,554,432;
    conv1d 8,192 x 4 + 8,192 = 40,960; A_log 8,192 x 16 = 131,072; D 8,192;
    dt/B/C RMSNorms 256 + 16 + 16 = 288.  Sum 105,308,448.
    Layout: attention where i % 8 == 4 (4 of 32 layers), MoE where i % 2 == 1 (16 layers)."""
    spec = _real("AI21-Jamba-1.5-Mini.json")
    assert mamba_params_per_layer(spec) == 105_308_448
    assert (spec.mamba_layers, spec.attention_layers, spec.moe_layers, spec.dense_layers) == (28, 4, 16, 16)


@pytest.mark.parametrize(
    ("filename", "state_bytes", "kv_bytes"),
    [
        # 28 Mamba-1 layers x (8,192 x 3 x 2 conv + 8,192 x 16 x 2 SSM = 49,152 + 262,144 = 311,296);
        # KV: 4 attention layers x 2 x 8 KV heads x 128 x 2 bytes
        ("AI21-Jamba-1.5-Mini.json", 28 * 311_296, 16_384),
        # every one of 44 layers: conv (3,072 + 2 x 256) x 3 x 2 = 21,504, SSM 24 x 128 x 256 x 2 =
        # 1,572,864; KV in every layer too (attention beside Mamba): 44 x 2 x 2 x 128 x 2
        ("Falcon-H1-7B-Instruct.json", 44 * 1_594_368, 45_056),
        # 36 Mamba-2 layers: conv (3,072 + 2 x 128) x 3 x 2 = 19,968, SSM 48 x 64 x 128 x 2 = 786,432;
        # KV: 4 attention layers x 2 x 4 KV heads x 128 x 2 bytes
        ("granite-4.0-h-tiny.json", 36 * 806_400, 8_192),
    ],
)
def test_mamba_state_and_kv_cache_by_hand(filename, state_bytes, kv_bytes):
    """SSM state at the model dtype (bf16, DEFAULT_MAMBA_STATE_BITS) where the config names none."""
    spec = _real(filename)
    assert state_bytes_per_sequence(spec) == state_bytes
    assert kv_bytes_per_token(spec) == kv_bytes


@pytest.mark.parametrize(
    ("filename", "total_b", "active_b"),
    [
        # NVIDIA Nemotron 3 Nano card: 31.6B total; about 3.6B active including embeddings
        ("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json", 31.6, 3.6),
        # AI21 Jamba 1.5 card: "Jamba 1.5 Mini has 12B active and 52B total parameters"
        ("AI21-Jamba-1.5-Mini.json", 52, 12),
        # IBM Granite 4.0 docs: H-Tiny "7B total parameters, 1B activated" (rounded down; see the manifest)
        ("granite-4.0-h-tiny.json", 7, None),
    ],
)
def test_state_space_hybrid_counts_round_to_the_published_figures(filename, total_b, active_b):
    counts = count_parameters(_real(filename))
    digits = 1 if isinstance(total_b, float) else 0
    assert round(counts.total / 1e9, digits) == total_b
    if active_b is not None:
        assert round(counts.active / 1e9, 1 if isinstance(active_b, float) else 0) == active_b


def test_mamba_state_grows_with_batch_not_context():
    from llm_calc.memory import InferenceSettings, inference_memory

    spec = _real("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json")
    short = inference_memory(spec, InferenceSettings(context_tokens=1_000, batch=3))
    long = inference_memory(spec, InferenceSettings(context_tokens=100_000, batch=3))
    assert short.state_bytes == long.state_bytes == 3 * 49_082_368
    assert long.kv_cache_bytes == 100 * short.kv_cache_bytes


def test_decode_reads_the_mamba_state():
    """One decode step reads the touched weights, the KV cache and the whole state."""
    from llm_calc.hardware import decode_read_bytes
    from llm_calc.memory import InferenceSettings, inference_memory

    spec = _real("granite-4.0-h-tiny.json")
    settings = InferenceSettings(context_tokens=4_096, batch=2)
    memory = inference_memory(spec, settings)
    assert memory.state_bytes == 2 * 36 * 806_400
    without = decode_read_bytes(spec, settings, dataclasses.replace(memory, state_bytes=0))
    assert decode_read_bytes(spec, settings, memory) - without == 2 * 36 * 806_400


@pytest.mark.parametrize(
    "filename",
    [
        "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json",
        "AI21-Jamba-1.5-Mini.json",
        "Falcon-H1-7B-Instruct.json",
        "granite-4.0-h-tiny.json",
    ],
)
def test_parameter_groups_of_mamba_models_add_up(filename):
    from llm_calc.architecture import parameter_groups

    spec = _real(filename)
    assert sum(parameter_groups(spec).values()) == count_parameters(spec).total


def test_mamba_fields_are_validated():
    spec = _real("granite-4.0-h-tiny.json")
    with pytest.raises(ValueError, match="mamba_num_heads x mamba_head_dim"):
        spec.with_changes(mamba_head_dim=63)
    with pytest.raises(ValueError, match="exceed num_layers"):
        spec.with_changes(mamba_layers=41)


def test_a_decode_step_writes_the_recurrent_state_back():
    """Every decode step reads a Mamba layer's state and writes the updated state back, so the state
    crosses the memory bus twice; the KV cache is only read (the new token's keys are a sliver).
    granite-4.0-h-tiny, 2 sequences: the step moves 2 x 2 x 36 x 806,400 = 116,121,600 bytes of
    state, the weights and KV cache once; on one card the step's memory time is those bytes at the
    card's bandwidth."""
    from llm_calc.catalog import find_gpu
    from llm_calc.hardware import _workload, decode_cost, decode_read_bytes
    from llm_calc.memory import InferenceSettings, inference_memory

    spec = _real("granite-4.0-h-tiny.json")
    settings = InferenceSettings(context_tokens=4_096, batch=2)
    memory = inference_memory(spec, settings)
    h100 = find_gpu("NVIDIA H100 SXM")
    step = decode_cost(_workload(spec, settings, memory), h100, 1, "tp")
    read = decode_read_bytes(spec, settings, memory)  # weights, KV cache and state, each read once
    assert step.card_read_bytes == read
    moved = read + 2 * 36 * 806_400
    assert step.memory_seconds == pytest.approx(moved / (h100.bandwidth_gbs * 1e9), rel=1e-12)
