"""Number formats for weights and for the KV cache, with their storage cost in bits.

A weight format costs its element width plus any per-block scales. GGUF k-quant mixes ("_M")
keep some tensors at a higher type, so their cost is the *published* average bits per weight that
``llama-quantize`` reports for Llama-3.1-8B, not the width of the nominal type.

References
----------
.. [1] llama.cpp, ``tools/quantize/README.md``: bits/weight table for meta-llama/Llama-3.1-8B
       (Q2_K 3.1593, Q4_K_M 4.8944, Q5_K_M 5.7036, Q6_K 6.5633, Q8_0 8.5008) and for Llama 2 7B
       (Q3_K_M 3.91). https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md
.. [2] ggml ``ggml-common.h``: ``block_q4_0`` = fp16 scale + 32 x 4-bit (18 bytes / 32 weights),
       ``block_q8_0`` = fp16 scale + 32 x 8-bit (34 bytes / 32 weights).
.. [3] AutoAWQ / AutoGPTQ packing: 4-bit weights, one fp16 scale and one 4-bit zero point per
       group of 128 weights -> 4 + (16 + 4) / 128 bits per weight.
.. [4] MLX ``mlx.core.quantize``: mode ``affine`` (the default) stores each group of
       ``group_size`` weights (default 64) at ``bits`` (default 4) with one scale and one bias
       "same as input" dtype, i.e. 16-bit for bf16/fp16 weights.
       https://ml-explore.github.io/mlx/build/html/python/_autosummary/mlx.core.quantize.html
.. [5] mlx-lm ``quantize_model`` (``mlx_lm/utils.py``): affine defaults ``(64, 4)``; it quantizes
       every module that has ``to_quantized`` (``nn.Linear`` and ``nn.Embedding``, so the input
       embedding and ``lm_head`` too) whose last dimension divides by the group size; norms and
       biases have no ``to_quantized`` and stay 16-bit. https://github.com/ml-explore/mlx-lm/blob/
       d78bf58e217c904ec282ed8da9b947491f78c022/mlx_lm/utils.py#L818-L887
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberFormat:
    """A storage format: its name, average bits per element, and why."""

    name: str
    label: str
    bits: float
    note: str
    quantized: bool

    @property
    def bytes_per_element(self) -> float:
        """Average storage per element. [bytes]"""
        return self.bits / 8


AWQ_GROUP_SIZE = 128
"""Weights per quantization group in GPTQ/AWQ int4 checkpoints (the default of both tools) [3]."""

INT4_GROUP_OVERHEAD_BITS = 16 + 4
"""Per group: one fp16 scale and one packed 4-bit zero point [3]. [bits]"""

BNB_BLOCK_SIZE = 64
"""Weights per block in bitsandbytes 4-bit quantization (Dettmers et al. 2023, QLoRA)."""

BNB_ABSMAX_BITS = 32
"""One fp32 absmax scale per block. [bits]"""

MLX_GROUP_SIZE = 64
"""Weights per group in MLX's default affine quantization (``mlx_lm.convert -q``) [4][5]."""

MLX_GROUP_OVERHEAD_BITS = 16 + 16
"""Per group: one scale and one bias, each in the weights' 16-bit dtype [4]. [bits]"""

WEIGHT_FORMATS: dict[str, NumberFormat] = {
    f.name: f
    for f in (
        NumberFormat("fp32", "FP32", 32, "IEEE single precision", False),
        NumberFormat("bf16", "BF16", 16, "bfloat16, the usual release format", False),
        NumberFormat("fp16", "FP16", 16, "IEEE half precision", False),
        NumberFormat("fp8", "FP8 (E4M3)", 8, "8-bit float; per-tensor scales are negligible", True),
        NumberFormat("int8", "INT8 (W8A16)", 8, "8-bit integer, per-channel scales negligible", True),
        NumberFormat(
            "int4",
            "INT4 (GPTQ/AWQ, g128)",
            4 + INT4_GROUP_OVERHEAD_BITS / AWQ_GROUP_SIZE,
            "4-bit + fp16 scale and 4-bit zero per 128 weights",
            True,
        ),
        NumberFormat(
            "nf4",
            "NF4 / FP4 (bitsandbytes)",
            4 + BNB_ABSMAX_BITS / BNB_BLOCK_SIZE,
            "bitsandbytes 4-bit: fp32 scale per 64 weights (QLoRA's double quantization: 4.127)",
            True,
        ),
        NumberFormat(
            "mlx-4bit",
            "MLX 4-bit (affine, g64)",
            4 + MLX_GROUP_OVERHEAD_BITS / MLX_GROUP_SIZE,
            "MLX default: 4-bit + 16-bit scale and bias per 64 weights, embeddings and lm_head included [4][5]",
            True,
        ),
        NumberFormat("q8_0", "GGUF Q8_0", 8.5008, "llama-quantize on Llama-3.1-8B [1]", True),
        NumberFormat("q6_k", "GGUF Q6_K", 6.5633, "llama-quantize on Llama-3.1-8B [1]", True),
        NumberFormat("q5_k_m", "GGUF Q5_K_M", 5.7036, "llama-quantize on Llama-3.1-8B [1]", True),
        NumberFormat("q4_k_m", "GGUF Q4_K_M", 4.8944, "llama-quantize on Llama-3.1-8B [1]", True),
        NumberFormat("q4_0", "GGUF Q4_0", 4.5, "18 bytes per block of 32 weights [2]", True),
        NumberFormat("q3_k_m", "GGUF Q3_K_M", 3.91, "llama-quantize on Llama 2 7B [1]", True),
        NumberFormat("q2_k", "GGUF Q2_K", 3.1593, "llama-quantize on Llama-3.1-8B [1]", True),
    )
}
"""Weight formats by CLI name."""

AS_SHIPPED = "auto"
"""The weight precision "as shipped": each parameter group stored as the checkpoint stores it,
read from the config's ``quantization_config`` (``llm_calc.quantization.storage_plan``). It has no
single bit width, so it is not one of ``WEIGHT_FORMATS``; the default of ``memory`` whenever a
config carries a quantization."""

WEIGHT_PRECISIONS: tuple[str, ...] = (AS_SHIPPED, *WEIGHT_FORMATS)
"""Every weight precision a user can choose: as shipped, or one format for every parameter."""

KV_FORMATS: dict[str, NumberFormat] = {
    f.name: f
    for f in (
        NumberFormat("fp16", "FP16 / BF16", 16, "the default of every engine", False),
        NumberFormat("fp8", "FP8", 8, "vLLM/TensorRT-LLM --kv-cache-dtype fp8", True),
        NumberFormat("q8_0", "Q8_0", 8.5, "llama.cpp --cache-type-k q8_0 [2]", True),
        NumberFormat("q4_0", "Q4_0", 4.5, "llama.cpp --cache-type-k q4_0 [2]", True),
    )
}
"""KV-cache element formats by CLI name (``bf16`` is accepted as an alias of ``fp16``)."""

KV_ALIASES = {"bf16": "fp16"}

DEFAULT_KV_FORMAT = "fp16"
"""The KV cache's format when nothing else is set: every engine keeps it in the model's 16-bit
dtype by default (vLLM ``--kv-cache-dtype auto``, llama.cpp ``--cache-type-k f16``)."""


def weight_format(name: str) -> NumberFormat:
    """Look up a weight format by name; raise ``ValueError`` naming the choices."""
    try:
        return WEIGHT_FORMATS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown weight precision {name!r}; choose one of {', '.join(WEIGHT_FORMATS)}") from None


def kv_format(name: str) -> NumberFormat:
    """Look up a KV-cache format by name; raise ``ValueError`` naming the choices."""
    key = KV_ALIASES.get(name.lower(), name.lower())
    try:
        return KV_FORMATS[key]
    except KeyError:
        choices = ", ".join([*KV_FORMATS, *KV_ALIASES])
        raise ValueError(f"unknown KV-cache precision {name!r}; choose one of {choices}") from None
