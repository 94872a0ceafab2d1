"""Inference memory parts against hand-derived byte counts and llama.cpp's published file sizes."""

from pathlib import Path

import pytest

from llm_calc.catalog import find_model
from llm_calc.hf_config import parse_config_text
from llm_calc.memory import (
    InferenceSettings,
    activation_elements_by_stage,
    activation_elements_per_token,
    activations_bytes,
    inference_memory,
    vocabulary_matrix_bits,
    weights_bytes,
)
from llm_calc.precision import WEIGHT_FORMATS, kv_format, weight_format

LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
LLAMA3_8B = find_model("meta-llama/Meta-Llama-3-8B").spec
LLAMA31_8B = find_model("meta-llama/Llama-3.1-8B").spec
GIB = 2**30


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("fp32", 6_738_415_616 * 4),
        ("bf16", 6_738_415_616 * 2),
        ("fp16", 6_738_415_616 * 2),
        ("q4_0", 3_790_358_784),  # 18 bytes per 32 weights
    ],
)
def test_weight_bytes_of_llama2_7b(fmt, expected):
    assert weights_bytes(LLAMA2_7B, fmt) == expected


def test_gptq_awq_int4_keeps_vocabulary_matrices_at_16_bit():
    # Llama-3-8B: 6,979,588,096 decoder weights at 4 + 20/128 bits, 1,050,673,152 embedding
    # and lm_head weights at 2 bytes.
    assert weights_bytes(LLAMA3_8B, "int4") == 3_626_114_128 + 2_101_346_304


@pytest.mark.parametrize(
    ("fmt", "bits"),
    [("int4", 16), ("nf4", 16), ("fp8", 16), ("int8", 16), ("bf16", 16), ("fp32", 32), ("q4_k_m", 4.8944)],
)
def test_vocabulary_matrices_are_stored_at_16_bit_unless_the_format_averages_them(fmt, bits):
    # GPTQ/AWQ/bitsandbytes/FP8 keep embed_tokens and lm_head in bf16; a GGUF average covers the file
    assert vocabulary_matrix_bits(fmt) == bits


@pytest.mark.parametrize(
    ("fmt", "published_gib"),
    [("q4_k_m", 4.58), ("q5_k_m", 5.33), ("q6_k", 6.14), ("q8_0", 7.95), ("q2_k", 2.95)],
)
def test_gguf_sizes_match_llama_quantize_table_for_llama31_8b(fmt, published_gib):
    # llama.cpp tools/quantize/README.md, "size (GiB)" column for meta-llama/Llama-3.1-8B
    assert weights_bytes(LLAMA31_8B, fmt) / GIB == pytest.approx(published_gib, rel=0.01)


def test_kv_cache_part_of_the_breakdown():
    memory = inference_memory(LLAMA2_7B, InferenceSettings(context_tokens=4096, batch=2))
    assert memory.kv_cache_bytes == 524_288 * 4096 * 2  # 4 GiB


def test_fp8_kv_cache_halves_it():
    fp16 = inference_memory(LLAMA3_8B, InferenceSettings(context_tokens=8192))
    fp8 = inference_memory(LLAMA3_8B, InferenceSettings(context_tokens=8192, kv_format="fp8"))
    assert fp8.kv_cache_bytes * 2 == fp16.kv_cache_bytes == 131_072 * 8192


def test_activations_of_llama3_8b_prefill_chunk():
    # MLP stage is the peak: 2 x 4096 + 3 x 14336 = 51,200 values per token, 2 bytes each,
    # 2,048 tokens in the chunk; plus fp32 logits for one position: 128,256 x 4 bytes.
    settings = InferenceSettings(context_tokens=4096, prefill_chunk_tokens=2048)
    assert activations_bytes(LLAMA3_8B, settings) == 51_200 * 2 * 2048 + 128_256 * 4


def test_activations_without_flash_attention_add_the_score_matrix():
    flash = InferenceSettings(context_tokens=4096, prefill_chunk_tokens=2048)
    eager = InferenceSettings(context_tokens=4096, prefill_chunk_tokens=2048, flash_attention=False)
    # 32 heads x 2,048 chunk tokens x 4,096 keys x 4 bytes = 1 GiB
    assert activations_bytes(LLAMA3_8B, eager) - activations_bytes(LLAMA3_8B, flash) == GIB


def test_short_context_limits_tokens_in_flight():
    settings = InferenceSettings(context_tokens=100, batch=1, prefill_chunk_tokens=2048)
    assert activations_bytes(LLAMA3_8B, settings) == 51_200 * 2 * 100 + 128_256 * 4


def test_total_is_the_sum_of_its_parts_plus_one_gib_overhead():
    memory = inference_memory(LLAMA2_7B, InferenceSettings())
    assert memory.overhead_bytes == GIB
    assert memory.total_bytes == (memory.weights_bytes + memory.kv_cache_bytes + memory.activations_bytes + GIB)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight_format": "fp12"}, "unknown weight precision 'fp12'; choose one of fp32"),
        ({"kv_format": "int3"}, "unknown KV-cache precision"),
        ({"context_tokens": 0}, "context_tokens"),
        ({"batch": -1}, "batch"),
        ({"batch": 2.5}, "batch"),
        ({"context_tokens": 10**9}, "context_tokens must be a whole number from 1 to 100,000,000, got 1000000000"),
        ({"batch": 10**6 + 1}, "batch must be a whole number from 1 to 1,000,000"),
        ({"vision_params": -1}, "vision_params must be a whole number from 0"),
        ({"prefill_chunk_tokens": True}, "prefill_chunk_tokens must be a whole number"),
    ],
)
def test_invalid_settings_raise_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        InferenceSettings(**change)


def test_every_weight_format_named_in_the_issue_exists():
    names = "fp32 bf16 fp16 fp8 int8 int4 nf4 mlx-4bit q8_0 q6_k q5_k_m q4_k_m q4_0 q3_k_m q2_k".split()
    assert list(WEIGHT_FORMATS) == names
    assert weight_format("Q4_K_M").bits == 4.8944
    assert kv_format("bf16").bits == 16


def test_qwen_moe_activation_width_counts_the_shared_expert_at_its_own_width():
    """Qwen1.5-MoE-A2.7B: a token runs through 4 routed experts of 1,408 and one shared expert of
    5,632, so the MLP stage holds 2 × 2,048 + 3 × (4 × 1,408 + 5,632) = 4,096 + 3 × 11,264 = 37,888
    elements per token (the attention stage, 2 × 2,048 + 4 × 16 × 128 = 12,288, is smaller)."""
    spec = parse_config_text((Path(__file__).parent / "configs" / "Qwen1.5-MoE-A2.7B.json").read_text())
    assert activation_elements_per_token(spec) == 37_888


QWEN3_NEXT_STATE_BYTES = 39_518_208
"""Qwen3-Next-80B-A3B's DeltaNet state per sequence, derived by hand in
tests/test_architecture.py::test_qwen3_next_state_per_sequence_by_hand."""


def _qwen3_next():
    path = Path(__file__).parent / "configs" / "Qwen3-Next-80B-A3B-Thinking.json"
    return parse_config_text(path.read_bytes(), name=path.name)


def test_hybrid_state_grows_with_batch_not_with_context():
    spec = _qwen3_next()
    short = inference_memory(spec, InferenceSettings(context_tokens=1024, batch=4))
    long = inference_memory(spec, InferenceSettings(context_tokens=131_072, batch=4))
    assert short.state_bytes == long.state_bytes == 4 * QWEN3_NEXT_STATE_BYTES
    # its 12 full-attention layers: 24,576 bytes a token (2 x 2 KV heads x 256 x 12 layers x 2 bytes)
    assert long.kv_cache_bytes == 4 * 131_072 * 24_576


def test_state_is_part_of_the_total():
    memory = inference_memory(_qwen3_next(), InferenceSettings(batch=2))
    parts = (
        memory.weights_bytes
        + memory.kv_cache_bytes
        + memory.state_bytes
        + memory.activations_bytes
        + memory.overhead_bytes
    )
    assert memory.state_bytes == 2 * QWEN3_NEXT_STATE_BYTES
    assert memory.total_bytes == parts


def test_dense_models_keep_no_state():
    assert inference_memory(find_model("meta-llama/Llama-2-7b-hf").spec, InferenceSettings()).state_bytes == 0


def test_hybrid_activation_stages_use_each_layer_kinds_widths():
    """Per-token elements of each stage, derived by hand from the real configs.

    Qwen3-Next-80B-A3B (hidden 2,048): Gated DeltaNet with 16 key heads and 32 value heads of 128,
    so keys 2,048 and values 4,096 wide. Its projections give queries, keys, values and z
    (2 x 2,048 + 2 x 4,096) plus b and a (2 x 32) = 12,352; the convolution's output over queries,
    keys and values 2 x 2,048 + 4,096 = 8,192; the core output 4,096; with the residual and normed
    input 2 x 2,048 = 4,096: 4,096 + 12,352 + 8,192 + 4,096 = 28,736 (the peak). Its attention layers:
    16 heads x 256 = 4,096 queries doubled by the output gate (8,192), the attention output 4,096,
    K and V 2 x 2 x 256 = 1,024: 4,096 + 8,192 + 4,096 + 1,024 = 17,408. MLP: 10 routed experts of
    512 and a shared one of 512, gated: 4,096 + 3 x 5,632 = 20,992. The attention-and-MLP-only
    estimate peaked at 20,992.

    Nemotron-3-Nano-30B-A3B (hidden 2,688): Mamba-2 with 64 heads x 64 = 4,096 inner, 8 groups of
    128 states: in_proj 2 x 4,096 + 2 x 8 x 128 + 64 = 10,304, the convolution over x, B, C
    4,096 + 2,048 = 6,144, the scan output 4,096: 5,376 + 10,304 + 6,144 + 4,096 = 25,920.
    Attention: 32 x 128 = 4,096 queries and output, 2 x 2 x 128 = 512 K and V: 5,376 + 8,192 + 512
    = 14,080. MLP (squared ReLU, not gated): 6 routed experts of 1,856 and a shared one of 3,712,
    up and activation: 5,376 + 2 x 14,848 = 35,072. No stage for its layers without an MLP or a
    mixer: they are the same stages in other blocks.
    """
    qwen3_next = parse_config_text((Path(__file__).parent / "configs" / "Qwen3-Next-80B-A3B-Thinking.json").read_text())
    assert activation_elements_by_stage(qwen3_next) == {"attention": 17_408, "Gated DeltaNet": 28_736, "MLP": 20_992}
    assert activation_elements_per_token(qwen3_next) == 28_736
    path = Path(__file__).parent / "configs" / "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json"
    nemotron = parse_config_text(path.read_text())
    assert activation_elements_by_stage(nemotron) == {"attention": 14_080, "Mamba": 25_920, "MLP": 35_072}


def test_qwen3_next_prefill_activations_peak_in_the_deltanet_layers():
    """2,048-token prefill chunk, batch 1: 2,048 x 28,736 elements x 2 bytes = 117,702,656 bytes of
    buffers, plus fp32 logits for one position, 151,936 x 4 = 607,744: 118,310,400 bytes. Today's
    main gave 2,048 x 20,992 x 2 + 607,744 = 86,590,976."""
    qwen3_next = parse_config_text((Path(__file__).parent / "configs" / "Qwen3-Next-80B-A3B-Thinking.json").read_text())
    settings = InferenceSettings(context_tokens=4096, batch=1)
    assert activations_bytes(qwen3_next, settings) == 2_048 * 28_736 * 2 + 151_936 * 4 == 118_310_400
