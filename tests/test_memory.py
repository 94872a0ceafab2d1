"""Inference memory parts against hand-derived byte counts and llama.cpp's published file sizes."""

from pathlib import Path

import pytest

from llm_calc.catalog import find_model
from llm_calc.hf_config import parse_config_text
from llm_calc.memory import (
    InferenceSettings,
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
        ({"context_tokens": 10**9}, "context_tokens must be at most"),
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
