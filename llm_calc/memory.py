"""Inference memory: weights, KV cache, activations and runtime overhead.

The estimate is the sum of four parts, each computed from the architecture rather than a
multiplier on model size:

* **weights** — every parameter at the chosen format's bits; GPTQ/AWQ and FP8/INT8 checkpoints
  keep the embedding and output matrices in 16-bit, GGUF's published averages already include them;
  or, as shipped (precision ``"auto"``), each parameter group as the config's
  ``quantization_config`` stores it (``llm_calc.quantization.StoragePlan``);
* **KV cache** — per token and layer, K and V for each KV head (or MLA's latent), times context and
  batch, with sliding-window layers capped at their window;
* **state** — hybrid models' linear-attention layers (Qwen3-Next, Qwen3.5), short convolutions
  (LFM2) and Mamba layers (Jamba, Falcon-H1, Nemotron-H, Granite 4) keep no per-token cache but a
  fixed convolution and recurrent (SSM) state per sequence: it grows with batch, not context;
* **activations** — the largest temporary buffers of one forward pass over a prefill chunk, each
  kind of layer (attention, Gated DeltaNet, short convolution, Mamba, MLP) at its own widths
  (``activation_elements_by_stage``), plus fp32 logits for one position per sequence (engines
  compute only the last position's logits);
* **vision tower** — a multimodal model's image encoder and projector (``vision_params``), loaded
  beside the language model at the checkpoint's precision: quantizers convert the language model
  and leave it 16-bit (``llm_calc.quantization.vision_storage_bits``); it is not read by a decode step;
* **overhead** — a fixed per-GPU runtime cost (CUDA context, kernels, library workspaces).

References
----------
.. [1] Kwon et al. 2023, "Efficient Memory Management for LLM Serving with PagedAttention"
       (KV cache size per token = 2 x layers x KV heads x head dim x bytes).
.. [2] Dao 2023, "FlashAttention-2" (attention without materialising the n x n score matrix).
.. [3] vLLM docs, "Engine arguments": ``--max-num-batched-tokens`` (prefill chunk) and the
       profiling run that reserves activation memory; ``--kv-cache-dtype``.
.. [4] PyTorch docs, "CUDA semantics / memory management": the CUDA context and cuBLAS
       workspaces are not counted by the caching allocator (typically 0.3-1 GiB per device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from llm_calc.architecture import (
    MAX_CONTEXT_TOKENS,
    ModelSpec,
    count_parameters,
    kv_cache_bytes,
    mamba_conv_dim,
    state_bytes,
)
from llm_calc.checks import check_whole_number
from llm_calc.precision import AS_SHIPPED, DEFAULT_KV_FORMAT, kv_format, weight_format
from llm_calc.quantization import StoragePlan
from llm_calc.units import GIB

MAX_BATCH = 1_000_000
"""Largest batch (sequences decoded together) a setting accepts: far above any engine's slots, low
enough that every product with a context stays exact. [sequences]"""
MAX_VISION_PARAMS = 10**13
"""Largest vision tower accepted: thousands of times the largest published (InternViT-6B). [parameters]"""

ACTIVATION_BYTES = 2
"""Activations are 16-bit in every engine, whatever the weight format. [bytes/element]"""

LOGIT_BYTES = 4
"""Logits are upcast to fp32 before sampling (vLLM, llama.cpp, transformers). [bytes/element]"""

ATTENTION_SCORE_BYTES = 4
"""Without FlashAttention the score matrix is materialised in fp32 for the softmax. [bytes]"""

DEFAULT_PREFILL_CHUNK_TOKENS = 2048
"""Tokens processed in one forward pass during prefill (vLLM ``max_num_batched_tokens`` on
small GPUs; llama.cpp's ``n_batch``) [3]. Larger chunks prefill faster and need more buffer."""

RUNTIME_OVERHEAD_BYTES = 1 * GIB
"""Per-GPU memory outside the tensors: CUDA context (0.3-0.6 GiB depending on driver and GPU),
cuBLAS/cuDNN/NCCL workspaces and allocator slack [4]. Counted once per card."""

UNQUANTIZED_EMBEDDING_FORMATS = ("fp8", "int8", "int4", "nf4")
"""GPTQ, AWQ, bitsandbytes and FP8 checkpoints quantize only the decoder's linear layers and keep
``embed_tokens`` and ``lm_head`` at 16 bits (AutoAWQ/AutoGPTQ/llm-compressor/transformers defaults)."""

VISION_TOWER_BITS = 16
"""Storage of a vision tower at a chosen precision narrower than 16 bits: quantized language models
ship their image encoder unconverted — AWQ and GPTQ checkpoints quantize the decoder blocks only,
fp8 and compressed-tensors checkpoints list it in ``modules_to_not_convert`` / ``ignore``
(``llm_calc.quantization.VISION_KEPT_METHODS``), and llama.cpp converts it to a separate ``mmproj``
GGUF (``convert_hf_to_gguf.py --mmproj``, https://github.com/ggml-org/llama.cpp/blob/master/convert_hf_to_gguf.py),
published in f16 beside the quantized model files. [bits/element]"""

VOCABULARY_MATRIX_BITS = 16
"""Storage of ``embed_tokens`` and ``lm_head`` in the formats of ``UNQUANTIZED_EMBEDDING_FORMATS``:
bf16/fp16, as the checkpoints ship them (same references). [bits/element]"""


@dataclass(frozen=True)
class InferenceSettings:
    """How a model is served. Context counts prompt plus completion. [tokens]"""

    weight_format: str = "bf16"
    context_tokens: int = 4096
    batch: int = 1
    kv_format: str = DEFAULT_KV_FORMAT
    prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS
    flash_attention: bool = True
    runtime_overhead_bytes: int = RUNTIME_OVERHEAD_BYTES
    storage: StoragePlan | None = None
    """With ``weight_format`` ``"auto"`` (``llm_calc.precision.AS_SHIPPED``): the checkpoint's
    storage by parameter group (``llm_calc.quantization.storage_plan``), which then decides the
    weights' bytes."""
    vision_params: int = 0
    """Parameters of a multimodal model's vision tower and projector
    (``llm_calc.hf_config.count_vision_parameters``, ``Checkpoint.vision_params``); 0 for a text model."""

    def __post_init__(self) -> None:
        if self.weight_format == AS_SHIPPED:
            if self.storage is None:
                raise ValueError("precision 'auto' (as shipped) needs the checkpoint's storage plan")
        elif self.storage is not None:
            raise ValueError(f"a storage plan goes with precision 'auto', not {self.weight_format!r}")
        else:
            weight_format(self.weight_format)  # raises ValueError naming the choices
        kv_format(self.kv_format)
        check_whole_number("context_tokens", self.context_tokens, 1, MAX_CONTEXT_TOKENS)
        check_whole_number("batch", self.batch, 1, MAX_BATCH)
        # one forward pass holds at most every prompt of the batch (generate does not chunk)
        check_whole_number("prefill_chunk_tokens", self.prefill_chunk_tokens, 1, MAX_BATCH * MAX_CONTEXT_TOKENS)
        check_whole_number("vision_params", self.vision_params, 0, MAX_VISION_PARAMS)
        if self.runtime_overhead_bytes < 0:
            raise ValueError("runtime_overhead_bytes must not be negative")


@dataclass(frozen=True)
class MemoryBreakdown:
    """Memory to serve a model on one device (before splitting across GPUs). [bytes]"""

    weights_bytes: int
    kv_cache_bytes: int
    activations_bytes: int
    overhead_bytes: int
    vision_bytes: int = field(default=0, kw_only=True)  # keyword-only: the positional order stays as it was
    """A multimodal model's vision tower and projector (``vision_weights_bytes``); 0 for a text
    model. Weights like the others, kept apart because a decode step does not read them. [bytes]"""
    state_bytes: int = 0
    """Linear-attention (Gated DeltaNet), short-convolution and Mamba state of every sequence in the
    batch, fixed whatever the context (``llm_calc.architecture.state_bytes``); 0 for models without
    such layers. [bytes]"""

    @property
    def shardable_bytes(self) -> int:
        """The parts that tensor/pipeline parallelism divides across cards."""
        return self.weights_bytes + self.vision_bytes + self.kv_cache_bytes + self.state_bytes + self.activations_bytes

    @property
    def total_bytes(self) -> int:
        return self.shardable_bytes + self.overhead_bytes


def weights_bytes(spec: ModelSpec, format_name: str) -> int:
    """Bytes to hold all parameters in ``format_name``. [bytes]

    For GPTQ/AWQ/FP8/INT8 the vocabulary matrices stay at 16 bits (see
    ``UNQUANTIZED_EMBEDDING_FORMATS``); everything else is at the format's average bits.
    """
    fmt = weight_format(format_name)
    params = count_parameters(spec)
    if fmt.name in UNQUANTIZED_EMBEDDING_FORMATS:
        body = params.total - params.embedding
        return math.ceil(body * fmt.bits / 8) + math.ceil(params.embedding * VOCABULARY_MATRIX_BITS / 8)
    return math.ceil(params.total * fmt.bits / 8)


def vocabulary_matrix_bits(format_name: str) -> float:
    """Bits per element at which ``format_name`` stores the embedding and output matrices. [bits]

    16 for the formats of ``UNQUANTIZED_EMBEDDING_FORMATS``; otherwise the format's own average
    (16-bit and 32-bit formats store everything alike, and GGUF's published averages are over
    the whole file, vocabulary matrices included).
    """
    fmt = weight_format(format_name)
    return VOCABULARY_MATRIX_BITS if fmt.name in UNQUANTIZED_EMBEDDING_FORMATS else fmt.bits


def weights_bytes_for_params(params: float, format_name: str) -> int:
    """Weights of a model of ``params`` parameters stored entirely in ``format_name``. [bytes]

    The primer's quick figure: 70 B parameters at 16 bits are 140 GB; at Q4_0 (4.5 bits) 39.4 GB.
    """
    if params < 0 or not math.isfinite(params):
        raise ValueError(f"parameter count must be a finite number >= 0, got {params!r}")
    return math.ceil(params * weight_format(format_name).bits / 8)


def activation_elements_by_stage(spec: ModelSpec) -> dict[str, int]:
    """Elements alive at the peak of each kind of layer stage the model has, for one token.

    Every stage holds the residual stream and its normed input (2 x hidden) beside its own buffers:

    * softmax attention: Q (twice as wide with an output gate: Qwen3-Next, Qwen3.5), K, V and the
      attention output; Gemma 4's global layers at their own head size; MLA: the up-projected
      queries, keys and values;
    * Gated DeltaNet (Qwen3-Next, Qwen3.5): the input projections' outputs (queries, keys, values,
      the output gate z, and b and a: one each per value head), the convolution's output over the
      queries, keys and values, and the value-wide core output;
    * LFM2 short convolution: ``in_proj``'s output (three hidden widths), the convolved product
      and the gated output (one hidden width each);
    * Mamba-2: ``in_proj``'s output (``inner + conv channels + heads``: z, x/B/C and Δ, i.e.
      2·inner + 2·groups·state + heads), the convolution's output (x/B/C) and the scan's inner-wide
      output; Mamba-1: ``in_proj``'s 2·inner, the convolution's inner, ``x_proj``'s Δ/B/C
      (dt_rank + 2·state), ``dt_proj``'s inner and the scan's inner output. A parallel block
      (Falcon-H1) runs attention and Mamba on the same normed input and keeps one's output while
      the other runs: the larger stage plus a hidden width;
    * MLP: gate, up and their product (plain MLP: up and the activation), at the widest MLP one token
      runs through (for MoE its routed and shared experts). Only if some layer has an MLP.

    Not counted: what a kernel allocates inside itself (the chunked scan's per-chunk states, a
    FlashAttention workspace), which the engines size separately. [elements per token]
    """
    h = spec.hidden_size
    stages: dict[str, int] = {}
    common_attention = spec.attention_layers - spec.global_attention_layers
    if spec.uses_latent_attention:
        q_dim = spec.num_attention_heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim)
        kv_dim = spec.num_attention_heads * (spec.qk_nope_head_dim + spec.v_head_dim)
        attention = 2 * h + 2 * q_dim + kv_dim
    else:
        q_dim = spec.num_attention_heads * spec.head_dim
        q_out = q_dim * (2 if spec.attention_output_gate else 1)
        attention = 2 * h + q_out + q_dim + 2 * spec.num_kv_heads * spec.head_dim
    if common_attention > 0:
        stages["attention"] = attention
    if spec.global_attention_layers:
        global_q = spec.num_attention_heads * spec.global_head_dim
        stages["global attention"] = 2 * h + 2 * global_q + 2 * spec.global_kv_heads * spec.global_head_dim
    if spec.linear_attention_layers:
        key, value = spec.linear_key_dim, spec.linear_value_dim
        projections = 2 * key + 2 * value + 2 * spec.linear_num_value_heads
        stages["Gated DeltaNet"] = 2 * h + projections + spec.linear_conv_dim + value
    if spec.short_conv_layers:
        stages["short convolution"] = 2 * h + 3 * h + h + h
    if spec.mamba_layers:
        inner = spec.mamba_intermediate_size
        if spec.mamba_version == 1:
            mamba = 2 * inner + inner + spec.mamba_dt_rank + 2 * spec.mamba_state_size + inner + inner
        else:
            mamba = inner + mamba_conv_dim(spec) + spec.mamba_num_heads + mamba_conv_dim(spec) + inner
        if spec.mamba_parallel:
            stages["attention beside Mamba"] = max(attention, 2 * h + mamba) + h
            stages.pop("attention", None)
        else:
            stages["Mamba"] = 2 * h + mamba
    if spec.dense_mlp_layers + spec.moe_layers:
        widths = [spec.intermediate_size] if spec.dense_mlp_layers else []
        if spec.is_moe:
            widths.append(spec.active_mlp_width)
        stages["MLP"] = 2 * h + (3 if spec.gated_mlp else 2) * max(widths)
    return stages


def activation_elements_per_token(spec: ModelSpec) -> int:
    """Elements alive at the peak of one layer for one token: the largest stage of
    :func:`activation_elements_by_stage`. Layers run one after another, so only one layer's
    buffers are alive."""
    return max(activation_elements_by_stage(spec).values())


def activations_bytes(spec: ModelSpec, settings: InferenceSettings) -> int:
    """Peak temporary buffers of a forward pass plus the logits. [bytes]

    Tokens in flight are one prefill chunk (at most ``batch x context``, at least one token per
    sequence), each holding the largest stage of :func:`activation_elements_by_stage` (every layer
    kind at its own widths; what kernels allocate inside themselves is not counted). Without
    FlashAttention the fp32 score matrix of the chunk against the whole context is added.
    """
    tokens = max(settings.batch, min(settings.batch * settings.context_tokens, settings.prefill_chunk_tokens))
    buffers = tokens * activation_elements_per_token(spec) * ACTIVATION_BYTES
    logits = settings.batch * spec.vocab_size * LOGIT_BYTES
    scores = 0
    if not settings.flash_attention:
        scores = spec.num_attention_heads * tokens * settings.context_tokens * ATTENTION_SCORE_BYTES
    return buffers + logits + scores


def settings_weights_bytes(spec: ModelSpec, settings: InferenceSettings) -> int:
    """Weights as ``settings`` store them: the storage plan's sum as shipped, else
    ``weights_bytes`` at the chosen format. [bytes]"""
    if settings.storage is not None:
        return settings.storage.weights_bytes
    return weights_bytes(spec, settings.weight_format)


def vision_bits(settings: InferenceSettings) -> float:
    """Bits per vision-tower parameter: as shipped, the checkpoint's (``StoragePlan.vision_bits``);
    at a chosen precision, that precision when it is 16 bits or wider, else ``VISION_TOWER_BITS``. [bits]"""
    if settings.storage is not None:
        return settings.storage.vision_bits
    return max(weight_format(settings.weight_format).bits, VISION_TOWER_BITS)


def vision_weights_bytes(settings: InferenceSettings) -> int:
    """The vision tower and projector: ``vision_params`` at ``vision_bits``. [bytes]"""
    return math.ceil(settings.vision_params * vision_bits(settings) / 8)


def inference_memory(spec: ModelSpec, settings: InferenceSettings) -> MemoryBreakdown:
    """Memory to serve ``spec`` with ``settings`` on a single device. [bytes]"""
    kv_bits = kv_format(settings.kv_format).bits
    return MemoryBreakdown(
        weights_bytes=settings_weights_bytes(spec, settings),
        kv_cache_bytes=kv_cache_bytes(spec, settings.context_tokens, settings.batch, kv_bits),
        activations_bytes=activations_bytes(spec, settings),
        overhead_bytes=settings.runtime_overhead_bytes,
        state_bytes=state_bytes(spec, settings.batch),
        vision_bytes=vision_weights_bytes(settings),
    )
