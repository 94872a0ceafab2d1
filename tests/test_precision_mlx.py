"""MLX's default 4-bit quantization as a weight format (issue 12: the MLX rows of
data/measurements.csv are stored as ``mlx-4bit``)."""

from __future__ import annotations

import pytest

from llm_calc.catalog import find_gpu, find_model
from llm_calc.engines import check_engine, format_family, pick_engine
from llm_calc.memory import InferenceSettings, inference_memory, vocabulary_matrix_bits
from llm_calc.precision import weight_format


def test_mlx_4bit_costs_four_bits_plus_a_16_bit_scale_and_bias_per_64_weights():
    # mlx.core.quantize, mode "affine" (default): group 64, bits 4, one scale and one bias per
    # group in the input dtype (16-bit for bf16 weights): 4 + (16 + 16) / 64 = 4.5 bits per weight.
    fmt = weight_format("mlx-4bit")
    assert fmt.bits == 4.5
    assert fmt.quantized
    assert weight_format("MLX-4BIT") is fmt  # names are case-insensitive like the others


def test_mlx_4bit_quantizes_the_embedding_and_lm_head_too():
    # mlx-lm's quantize_model quantizes every module with `to_quantized` (nn.Linear and
    # nn.Embedding); GPTQ/AWQ int4 keeps them at 16 bits.
    assert vocabulary_matrix_bits("mlx-4bit") == 4.5
    assert vocabulary_matrix_bits("int4") == 16


def test_llama_3_3_70b_at_mlx_4bit_by_hand():
    # Llama-3.3-70B config: hidden 8192, 80 layers, MLP 28672, 64 heads, 8 KV heads (head 128),
    # vocabulary 128256, untied embeddings.
    #   per layer: q 8192*8192 + k,v 2*8192*1024 + o 8192*8192 + MLP 3*8192*28672 + 2 norms 8192
    #            = 67,108,864 + 16,777,216 + 67,108,864 + 704,643,072 + 16,384 = 855,654,400
    #   80 layers 68,452,352,000 + embedding and lm_head 2*128256*8192 = 2,101,346,304 + final norm
    #   8,192 = 70,553,706,496 parameters; at 4.5 bits: 70,553,706,496 * 4.5 / 8 = 39,686,459,904 bytes.
    # (mlx-lm keeps the 1,318,912 norm weights at 16 bits: 1.9 MB more, not modelled.)
    spec = find_model("meta-llama/Llama-3.3-70B-Instruct").spec
    memory = inference_memory(spec, InferenceSettings(weight_format="mlx-4bit"))
    assert memory.weights_bytes == 39_686_459_904


def test_mlx_4bit_runs_in_mlx_on_apple_silicon_only():
    apple, nvidia = find_gpu("Apple M3 Max (128 GB)"), find_gpu("NVIDIA H100 SXM")
    family = format_family("mlx-4bit")
    assert pick_engine(family, apple) == "mlx"
    check_engine("mlx", family, apple)  # no error
    with pytest.raises(ValueError, match="does not load mlx-4bit weights"):
        check_engine("llama.cpp", family, apple)
    with pytest.raises(ValueError, match="mlx does not run on NVIDIA cards"):
        check_engine("mlx", family, nvidia)
