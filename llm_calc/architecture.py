"""Transformer architectures: parameter counts and KV-cache size from the shape of a model.

A decoder-only model is described by a :class:`ModelSpec` (the fields of a Hugging Face
``config.json`` that decide its size). From it we count parameters tensor by tensor (embeddings,
attention, MLP or experts, norms) and the KV cache a token adds, covering grouped-query and
multi-query attention, DeepSeek's multi-head latent attention (MLA), sliding-window layers and
Mixture-of-Experts layers (total vs active parameters).

References
----------
.. [1] Vaswani et al. 2017, "Attention Is All You Need" (the layer layout).
.. [2] Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer Models" (KV heads).
.. [3] DeepSeek-AI 2024, "DeepSeek-V2" sec. 2.1 (MLA caches ``kv_lora_rank + qk_rope_head_dim``
       values per token and layer).
.. [4] Hugging Face ``transformers`` modeling files (tensor shapes of each architecture).
.. [5] DeepSeek-AI 2025, "DeepSeek-V3.2" (DeepSeek Sparse Attention: a lightning indexer with its own
       key cache picks the tokens MLA attends to); transformers' ``DeepseekV32Indexer``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from llm_calc.checks import check_whole_number, shown_value

NORM_KINDS = ("rmsnorm", "layernorm", "layernorm_nobias")
"""RMSNorm has a weight vector; LayerNorm a weight and a bias; MPT's LayerNorm only a weight."""

MAX_DIMENSION = 10_000_000
"""Upper bound accepted for any size field but the context; no real model comes within 10x of it."""

MAX_CONTEXT_TOKENS = 100_000_000
"""Upper bound accepted for ``max_context``: Llama 4 Scout's config states 10,485,760 tokens
(``max_position_embeddings``), above ``MAX_DIMENSION``; the same bound as the context a calculation
may ask for (``llm_calc.memory.InferenceSettings``). [tokens]"""

REQUIRED_SIZES = (
    "vocab_size",
    "hidden_size",
    "num_layers",
    "num_attention_heads",
    "num_kv_heads",
    "head_dim",
    "intermediate_size",
    "max_context",
)
"""The size fields every model has (at least 1); the other size fields are 0 where a model lacks the part."""

DEFAULT_MAMBA_STATE_BITS = 16
"""Storage of a Mamba layer's SSM state when the config does not name one: the model dtype (bf16).
vLLM allocates it at ``--mamba-ssm-cache-dtype`` whose default "auto" means the model dtype
(``MambaStateDtypeCalculator`` in ``vllm/model_executor/layers/mamba/mamba_utils.py``), and
transformers' hybrid caches (``HybridMambaAttentionDynamicCache``) use the model dtype too. A config
that states ``mamba_ssm_cache_dtype`` overrides it, and Nemotron-H defaults to float32
(``llm_calc.hf_config.NEMOTRON_H_SSM_STATE_BITS``), as vLLM's ``NemotronHForCausalLMConfig``
(``vllm/model_executor/models/config.py``) does. [bits/element]"""


@dataclass(frozen=True)
class ModelSpec:
    """The architecture of a decoder-only transformer (names follow Hugging Face configs).

    Sizes are element counts. ``num_experts == 0`` means a dense model. ``kv_lora_rank > 0``
    means multi-head latent attention. ``sliding_window_layers`` of the ``num_layers`` layers
    attend only to the last ``sliding_window`` tokens. ``dense_layers`` of a MoE model keep a
    plain MLP of ``intermediate_size`` (DeepSeek's first layers, Qwen-MoE's ``mlp_only_layers``).

    Rarer tensors, each a flag or a width: ``lm_head_bias`` (phi's output projection has a bias of
    ``vocab_size``), ``qk_norm`` (a norm over ``head_dim`` on queries and one on keys in every
    layer: Qwen3, Gemma 3), ``attention_sinks`` (one learned logit per attention head and layer:
    gpt-oss), ``shared_experts`` MLPs of ``shared_expert_intermediate_size`` (0: the routed
    experts' width) and a ``shared_expert_gate`` (a hidden→1 projection: Qwen2-MoE).
    ``qk_norm_full`` puts that norm over all query (key) heads at once instead (OLMo 2/3:
    ``num_attention_heads * head_dim`` and ``num_kv_heads * head_dim``). ``attention_output_gate``
    doubles the query projection (a per-channel sigmoid gate on the attention output: Qwen3-Next,
    Qwen3.5).

    Hybrid models: ``linear_attention_layers`` of the layers replace attention by a Gated DeltaNet
    (Qwen3-Next, Qwen3.5) with ``linear_num_key_heads`` x ``linear_key_head_dim`` keys (and as many
    queries), ``linear_num_value_heads`` x ``linear_value_head_dim`` values and a depthwise causal
    convolution of ``linear_conv_kernel_dim`` taps; such a layer keeps no per-token cache but a fixed
    state per sequence (``state_bytes_per_sequence``), its recurrent part at ``linear_state_bits``.
    ``short_conv_layers`` replace attention by LFM2's gated short convolution (input projection to
    three times the width, a depthwise convolution of ``short_conv_kernel_dim`` taps, an output
    projection; biases if ``short_conv_bias``), keeping only a convolution state per sequence.

    State-space hybrids (``mamba_layers > 0``): that many layers mix tokens with a Mamba block instead
    of attention (``mamba_version`` 1: Jamba's selective scan with ``mamba_dt_rank``; 2: Mamba-2 with
    ``mamba_num_heads`` x ``mamba_head_dim`` and ``mamba_n_groups`` groups of B and C) over an inner
    width of ``mamba_intermediate_size``, ``mamba_state_size`` states and a causal convolution of
    ``mamba_conv_kernel`` taps; ``mamba_parallel`` runs it beside attention in the same layer instead
    (Falcon-H1). Nemotron-H's blocks hold one part each: ``mixer_free_layers`` have only an MLP or MoE,
    ``mlp_free_layers`` only a mixer (attention or Mamba). Each Mamba layer keeps a fixed state per
    sequence (``state_bytes_per_sequence``), its SSM part at ``mamba_state_bits``.
    DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): ``index_head_dim > 0`` adds to every MLA layer
    a lightning indexer of ``index_n_heads`` query heads of ``index_head_dim`` (from the query
    latent) and one key head of ``index_head_dim`` that every token adds to the cache beside MLA's
    latent (``kv_elements_per_token_per_layer``).

    Gemma 4: ``global_attention_layers`` of the attention layers (its ``full_attention`` ones) have
    their own shape: ``global_kv_heads`` heads of ``global_head_dim`` (queries too), and with
    ``global_k_eq_v`` no value projection (the values are the key projection, normed apart; the
    cache still holds keys and values). They never slide: ``sliding_window_layers`` are among the
    others. ``router_scales`` adds a scale over the hidden width and one per expert to each router.
    """

    name: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    max_context: int = 4096
    gated_mlp: bool = True
    tie_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    norm: str = "rmsnorm"
    norms_per_layer: int = 2
    learned_positions: int = 0
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_experts: int = 0
    dense_layers: int = 0
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    sliding_window: int = 0
    sliding_window_layers: int = 0
    lm_head_bias: bool = False
    qk_norm: bool = False
    attention_sinks: bool = False
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False
    qk_norm_full: bool = False
    attention_output_gate: bool = False
    linear_attention_layers: int = 0
    linear_num_key_heads: int = 0
    linear_num_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel_dim: int = 0
    linear_state_bits: int = 16
    short_conv_layers: int = 0
    short_conv_kernel_dim: int = 0
    short_conv_bias: bool = False
    mamba_layers: int = 0
    mamba_version: int = 2
    mamba_intermediate_size: int = 0
    mamba_num_heads: int = 0
    mamba_head_dim: int = 0
    mamba_n_groups: int = 1
    mamba_state_size: int = 0
    mamba_conv_kernel: int = 0
    mamba_dt_rank: int = 0
    mamba_conv_bias: bool = True
    mamba_in_proj_bias: bool = False
    mamba_out_proj_bias: bool = False
    mamba_gated_norm: bool = True
    mamba_parallel: bool = False
    mamba_state_bits: int = DEFAULT_MAMBA_STATE_BITS
    mixer_free_layers: int = 0
    mlp_free_layers: int = 0
    # DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): the lightning indexer beside MLA
    index_n_heads: int = 0
    index_head_dim: int = 0
    # Gemma 4: full-attention layers of their own shape, and a router with scales
    global_attention_layers: int = 0
    global_head_dim: int = 0
    global_kv_heads: int = 0
    global_k_eq_v: bool = False
    router_scales: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                low = 1 if f.name in REQUIRED_SIZES else 0
                check_whole_number(f.name, value, low, MAX_CONTEXT_TOKENS if f.name == "max_context" else MAX_DIMENSION)
            elif f.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, got {shown_value(value)}")
        if self.norm not in NORM_KINDS:
            raise ValueError(f"norm must be one of {', '.join(NORM_KINDS)}, got {self.norm!r}")
        if self.num_kv_heads > self.num_attention_heads:
            raise ValueError(
                f"num_kv_heads ({self.num_kv_heads}) cannot exceed num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_kv_heads ({self.num_kv_heads})"
            )
        if self.num_experts and not 1 <= self.experts_per_token <= self.num_experts:
            raise ValueError(
                f"experts_per_token must be between 1 and num_experts ({self.num_experts}), "
                f"got {self.experts_per_token}"
            )
        if (self.shared_expert_intermediate_size or self.shared_expert_gate) and not self.shared_experts:
            raise ValueError("shared_expert_intermediate_size and shared_expert_gate need shared_experts >= 1")
        if self.dense_layers + self.mlp_free_layers > self.num_layers:
            raise ValueError(f"dense_layers ({self.dense_layers}) and mlp_free_layers together exceed num_layers")
        if self.sliding_window_layers > self.num_layers:
            raise ValueError(f"sliding_window_layers ({self.sliding_window_layers}) exceeds num_layers")
        if self.linear_attention_layers + self.short_conv_layers > self.num_layers:
            raise ValueError(
                f"linear_attention_layers ({self.linear_attention_layers}) and short_conv_layers "
                f"({self.short_conv_layers}) together exceed num_layers"
            )
        _check_mamba(self)
        if self.short_conv_layers and not self.short_conv_kernel_dim:
            raise ValueError("short convolution layers need short_conv_kernel_dim")
        if self.linear_attention_layers and not (
            self.linear_num_key_heads
            and self.linear_num_value_heads
            and self.linear_key_head_dim
            and self.linear_value_head_dim
            and self.linear_conv_kernel_dim
        ):
            raise ValueError("linear attention layers need their key/value heads, head sizes and conv kernel")
        if self.linear_state_bits not in (16, 32):
            raise ValueError(f"linear_state_bits must be 16 or 32, got {self.linear_state_bits}")
        if self.sliding_window_layers > self.attention_layers:
            raise ValueError(
                f"sliding_window_layers ({self.sliding_window_layers}) exceeds the attention layers "
                f"({self.attention_layers})"
            )
        if self.kv_lora_rank and not (self.qk_nope_head_dim + self.qk_rope_head_dim and self.v_head_dim):
            raise ValueError("latent attention needs qk_nope_head_dim/qk_rope_head_dim and v_head_dim")
        if (self.index_n_heads or self.index_head_dim) and not (
            self.index_n_heads and self.index_head_dim and self.kv_lora_rank and self.q_lora_rank
        ):
            raise ValueError(
                "a sparse-attention indexer needs index_n_heads, index_head_dim and latent attention "
                "with a query low-rank (q_lora_rank)"
            )
        if self.global_attention_layers:
            if not (self.global_head_dim and self.global_kv_heads) or self.uses_latent_attention:
                raise ValueError("global attention layers need global_head_dim and global_kv_heads, without MLA")
            if self.global_attention_layers + self.sliding_window_layers > self.attention_layers:
                raise ValueError(
                    f"global_attention_layers ({self.global_attention_layers}) and sliding_window_layers "
                    f"({self.sliding_window_layers}) together exceed the attention layers ({self.attention_layers})"
                )
            if self.num_attention_heads % self.global_kv_heads:
                raise ValueError(
                    f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                    f"global_kv_heads ({self.global_kv_heads})"
                )
        if self.router_scales and not self.is_moe:
            raise ValueError("router_scales needs experts")

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def attention_layers(self) -> int:
        """Layers with softmax attention (and a per-token KV cache): all but the linear-attention,
        short-convolution, Mamba (unless ``mamba_parallel``) and mixer-free ones."""
        mamba = 0 if self.mamba_parallel else self.mamba_layers
        return self.num_layers - self.linear_attention_layers - self.short_conv_layers - mamba - self.mixer_free_layers

    @property
    def linear_key_dim(self) -> int:
        """Width of a Gated DeltaNet layer's keys (and queries): heads x head size."""
        return self.linear_num_key_heads * self.linear_key_head_dim

    @property
    def linear_value_dim(self) -> int:
        """Width of a Gated DeltaNet layer's values (and output gate): heads x head size."""
        return self.linear_num_value_heads * self.linear_value_head_dim

    @property
    def linear_conv_dim(self) -> int:
        """Channels of the depthwise convolution over the concatenated queries, keys and values."""
        return 2 * self.linear_key_dim + self.linear_value_dim

    @property
    def uses_latent_attention(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def query_groups(self) -> int:
        """Query heads per KV head: 1 for multi-head attention, more for grouped-query attention."""
        return self.num_attention_heads // self.num_kv_heads

    @property
    def hybrid_fields_set(self) -> tuple[str, ...]:
        """The ``HYBRID_SPEC_FIELDS`` set away from their defaults: the layers a pre-2025 transformer
        does not have."""
        defaults = {f.name: f.default for f in fields(self)}
        return tuple(name for name in HYBRID_SPEC_FIELDS if getattr(self, name) != defaults[name])

    @property
    def expert_intermediate_size(self) -> int:
        """Width of one expert's MLP (Mixtral reuses ``intermediate_size``)."""
        return self.moe_intermediate_size or self.intermediate_size

    @property
    def shared_expert_width(self) -> int:
        """Width of one shared expert's MLP: its own (Qwen2-MoE) or the routed experts' (DeepSeek)."""
        return self.shared_expert_intermediate_size or self.expert_intermediate_size

    @property
    def active_mlp_width(self) -> int:
        """Inner width one token runs through in an MoE layer: its routed experts plus the shared
        ones, each at its own width (the activation buffers of that layer scale with it)."""
        return self.experts_per_token * self.expert_intermediate_size + self.shared_experts * self.shared_expert_width

    @property
    def moe_layers(self) -> int:
        return self.num_layers - self.dense_layers - self.mlp_free_layers if self.is_moe else 0

    @property
    def dense_mlp_layers(self) -> int:
        """Layers with a plain MLP of ``intermediate_size``: ``dense_layers`` of a MoE model, else
        every layer that has an MLP."""
        return self.dense_layers if self.is_moe else self.num_layers - self.mlp_free_layers

    def with_changes(self, **changes: object) -> ModelSpec:
        """A copy with some fields replaced (validated like a new spec)."""
        return replace(self, **changes)


MAMBA_SPEC_FIELDS = (
    "mamba_layers",
    "mamba_version",
    "mamba_intermediate_size",
    "mamba_num_heads",
    "mamba_head_dim",
    "mamba_n_groups",
    "mamba_state_size",
    "mamba_conv_kernel",
    "mamba_dt_rank",
    "mamba_conv_bias",
    "mamba_in_proj_bias",
    "mamba_out_proj_bias",
    "mamba_gated_norm",
    "mamba_parallel",
    "mamba_state_bits",
    "mixer_free_layers",
    "mlp_free_layers",
)
"""The state-space hybrid fields of ``ModelSpec`` (Jamba, Falcon-H1, Nemotron-H, Granite 4)."""

MAMBA_VERSIONS = (1, 2)
"""Mamba blocks we size: 1, the selective scan of Gu & Dao 2023 (Jamba's ``JambaMambaMixer``);
2, the state-space duality block of Dao & Gu 2024 (``NemotronHMamba2Mixer``, ``FalconH1Mixer``,
``GraniteMoeHybridMambaLayer``)."""


def _check_mamba(spec: ModelSpec) -> None:
    """The Mamba and block-layout fields of ``spec`` describe buildable layers (ValueError if not)."""
    mamba = 0 if spec.mamba_parallel else spec.mamba_layers
    mixers = spec.linear_attention_layers + spec.short_conv_layers + mamba + spec.mixer_free_layers
    if mixers > spec.num_layers:
        raise ValueError(
            f"linear-attention, short-convolution, Mamba and mixer-free layers ({mixers}) exceed num_layers"
        )
    if spec.mamba_parallel and spec.mamba_layers not in (0, spec.num_layers):
        raise ValueError("a parallel Mamba block runs in every layer: mamba_layers must equal num_layers")
    if spec.mixer_free_layers + spec.mlp_free_layers > spec.num_layers:
        raise ValueError("mixer_free_layers and mlp_free_layers together exceed num_layers")
    if not spec.mamba_layers:
        return
    if spec.mamba_version not in MAMBA_VERSIONS:
        raise ValueError(f"mamba_version must be one of {MAMBA_VERSIONS}, got {spec.mamba_version}")
    if not (spec.mamba_intermediate_size and spec.mamba_state_size and spec.mamba_conv_kernel):
        raise ValueError("Mamba layers need mamba_intermediate_size, mamba_state_size and mamba_conv_kernel")
    if spec.mamba_version == 1 and not spec.mamba_dt_rank:
        raise ValueError("Mamba-1 layers need mamba_dt_rank")
    if spec.mamba_version == 2:
        if not (spec.mamba_num_heads and spec.mamba_n_groups):
            raise ValueError("Mamba-2 layers need mamba_num_heads and mamba_n_groups")
        if spec.mamba_num_heads * spec.mamba_head_dim != spec.mamba_intermediate_size:
            raise ValueError(
                f"mamba_num_heads x mamba_head_dim ({spec.mamba_num_heads} x {spec.mamba_head_dim}) must equal "
                f"mamba_intermediate_size ({spec.mamba_intermediate_size})"
            )
    if spec.mamba_state_bits not in (16, 32):
        raise ValueError(f"mamba_state_bits must be 16 or 32, got {spec.mamba_state_bits}")


HYBRID_SPEC_FIELDS = (
    "qk_norm_full",
    "attention_output_gate",
    "linear_attention_layers",
    "linear_num_key_heads",
    "linear_num_value_heads",
    "linear_key_head_dim",
    "linear_value_head_dim",
    "linear_conv_kernel_dim",
    "linear_state_bits",
    "short_conv_layers",
    "short_conv_kernel_dim",
    "short_conv_bias",
    *MAMBA_SPEC_FIELDS,
    "index_n_heads",
    "index_head_dim",
    "global_attention_layers",
    "global_head_dim",
    "global_kv_heads",
    "global_k_eq_v",
    "router_scales",
)
"""Fields added for 2025-26 architectures (issue 11). ``data/models.csv`` has a column for each;
``llm_calc.catalog`` accepts a file without them (written before they existed), whose rows then
have their defaults: a model without such layers."""


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a model by part. ``active`` counts what one token runs through (MoE)."""

    embedding: int
    attention: int
    mlp: int
    norms: int
    total: int
    active: int


def _norm_size(spec: ModelSpec, width: int | None = None) -> int:
    """Parameters of one normalisation layer over ``width`` (default: the hidden size)."""
    return (spec.hidden_size if width is None else width) * (2 if spec.norm == "layernorm" else 1)


def _mlp_params(spec: ModelSpec, width: int) -> int:
    """One MLP (or one expert) of inner ``width``: up (+gate) and down projections."""
    matrices = 3 if spec.gated_mlp else 2
    biases = ((matrices - 1) * width + spec.hidden_size) if spec.mlp_bias else 0
    return matrices * spec.hidden_size * width + biases


def attention_params_per_layer(spec: ModelSpec) -> int:
    """Q, K, V and output projections of one layer (with MLA's low-rank factors and norms)."""
    h, heads = spec.hidden_size, spec.num_attention_heads
    if spec.uses_latent_attention:
        qk_head = spec.qk_nope_head_dim + spec.qk_rope_head_dim
        if spec.q_lora_rank:
            q = h * spec.q_lora_rank + spec.q_lora_rank + spec.q_lora_rank * heads * qk_head
        else:
            q = h * heads * qk_head
        kv_down = h * (spec.kv_lora_rank + spec.qk_rope_head_dim) + spec.kv_lora_rank
        kv_up = spec.kv_lora_rank * heads * (spec.qk_nope_head_dim + spec.v_head_dim)
        out = heads * spec.v_head_dim * h
        return q + kv_down + kv_up + out + indexer_params_per_layer(spec)
    q_dim = heads * spec.head_dim
    kv_dim = spec.num_kv_heads * spec.head_dim
    q_out = q_dim * (2 if spec.attention_output_gate else 1)
    weights = h * q_out + 2 * h * kv_dim + q_dim * h
    biases = (q_out + 2 * kv_dim if spec.qkv_bias else 0) + (h if spec.o_bias else 0)
    sinks = heads if spec.attention_sinks else 0
    return weights + biases + sinks


def _global_attention_matrices(spec: ModelSpec) -> int:
    """Weight matrices of one Gemma 4 global (full-attention) layer: Q, K, V (none with
    ``global_k_eq_v``) and output at ``global_head_dim`` (transformers' ``Gemma4TextAttention``)."""
    h, q_dim = spec.hidden_size, spec.num_attention_heads * spec.global_head_dim
    kv_dim = spec.global_kv_heads * spec.global_head_dim
    return h * q_dim + (1 if spec.global_k_eq_v else 2) * h * kv_dim + q_dim * h


def _global_attention_biases(spec: ModelSpec) -> int:
    """Biases of one global layer's projections (``attention_bias``: Q, K, V and output)."""
    q_dim = spec.num_attention_heads * spec.global_head_dim
    kv_dim = spec.global_kv_heads * spec.global_head_dim
    qkv = (q_dim + (1 if spec.global_k_eq_v else 2) * kv_dim) if spec.qkv_bias else 0
    return qkv + (spec.hidden_size if spec.o_bias else 0)


def _attention_matrices(spec: ModelSpec) -> int:
    """Weight matrices of one (non-latent) attention layer of the common shape."""
    h, q_dim = spec.hidden_size, spec.num_attention_heads * spec.head_dim
    kv_dim = spec.num_kv_heads * spec.head_dim
    return h * q_dim * (2 if spec.attention_output_gate else 1) + 2 * h * kv_dim + q_dim * h


def global_attention_extra(spec: ModelSpec) -> tuple[int, int, int]:
    """What the ``global_attention_layers`` hold beyond the same number of common-shape layers:
    (weight matrices, biases and sinks, q/k norms). All 0 for a model without them."""
    n = spec.global_attention_layers
    if not n:
        return 0, 0, 0
    matrices = n * (_global_attention_matrices(spec) - _attention_matrices(spec))
    common_other = attention_params_per_layer(spec) - _attention_matrices(spec)  # biases and sinks
    sinks = spec.num_attention_heads if spec.attention_sinks else 0
    other = n * (_global_attention_biases(spec) + sinks - common_other)
    norms = n * (2 * _norm_size(spec, spec.global_head_dim) - _qk_norm_params(spec)) if spec.qk_norm else 0
    return matrices, other, norms


def indexer_matrices_per_layer(spec: ModelSpec) -> int:
    """Weight matrices of one DeepSeek Sparse Attention indexer (transformers' ``DeepseekV32Indexer``):
    ``wq_b`` (query latent → ``index_n_heads x index_head_dim``), ``wk`` (hidden → one key head) and
    ``weights_proj`` (hidden → one weight per indexer head). 0 without an indexer."""
    if not spec.index_head_dim:
        return 0
    h = spec.hidden_size
    return (
        spec.q_lora_rank * spec.index_n_heads * spec.index_head_dim + h * spec.index_head_dim + h * spec.index_n_heads
    )


def indexer_params_per_layer(spec: ModelSpec) -> int:
    """All parameters of one indexer: its matrices and the LayerNorm (weight and bias) on its key."""
    return indexer_matrices_per_layer(spec) + (2 * spec.index_head_dim if spec.index_head_dim else 0)


def linear_attention_matrices_per_layer(spec: ModelSpec) -> int:
    """Weight matrices of one Gated DeltaNet layer: the input projections (queries, keys, values,
    output gate z, and the per-value-head b and a) and the output projection
    (transformers' ``Qwen3NextGatedDeltaNet``: ``in_proj_qkvz``, ``in_proj_ba``, ``out_proj``)."""
    h = spec.hidden_size
    in_proj = h * (2 * spec.linear_key_dim + 2 * spec.linear_value_dim + 2 * spec.linear_num_value_heads)
    return in_proj + spec.linear_value_dim * h


def linear_attention_params_per_layer(spec: ModelSpec) -> int:
    """All parameters of one Gated DeltaNet layer: its matrices, the depthwise ``conv1d`` (no bias),
    ``dt_bias`` and ``A_log`` (one per value head) and the gated RMSNorm over a value head."""
    conv = spec.linear_conv_dim * spec.linear_conv_kernel_dim
    return (
        linear_attention_matrices_per_layer(spec) + conv + 2 * spec.linear_num_value_heads + spec.linear_value_head_dim
    )


def short_conv_matrices_per_layer(spec: ModelSpec) -> int:
    """Weight matrices of one LFM2 short-convolution layer: ``in_proj`` (hidden→3 x hidden: the
    two gates and the convolved input) and ``out_proj`` (transformers' ``Lfm2ShortConv``)."""
    return 4 * spec.hidden_size * spec.hidden_size


def short_conv_params_per_layer(spec: ModelSpec) -> int:
    """All parameters of one LFM2 short-convolution layer: its matrices, the depthwise ``conv``
    (``short_conv_kernel_dim`` taps per channel) and, with ``short_conv_bias``, the three biases."""
    h = spec.hidden_size
    biases = (3 * h + h + h) if spec.short_conv_bias else 0
    return short_conv_matrices_per_layer(spec) + h * spec.short_conv_kernel_dim + biases


def mamba_conv_dim(spec: ModelSpec) -> int:
    """Channels of a Mamba layer's depthwise convolution: the inner width (Mamba-1), plus B and C of
    every group (Mamba-2: ``intermediate + 2 x n_groups x state_size``, ``NemotronHMamba2Mixer.conv_dim``)."""
    if spec.mamba_version == 1:
        return spec.mamba_intermediate_size
    return spec.mamba_intermediate_size + 2 * spec.mamba_n_groups * spec.mamba_state_size


def mamba_matrices_per_layer(spec: ModelSpec) -> int:
    """Weight matrices of one Mamba layer.

    Mamba-1 (``JambaMambaMixer``): ``in_proj`` (hidden → 2 x inner: x and the gate z), ``x_proj``
    (inner → dt_rank + 2 x state: Δ, B, C), ``dt_proj`` (dt_rank → inner) and ``out_proj``.
    Mamba-2 (``NemotronHMamba2Mixer`` and kin): ``in_proj`` (hidden → inner for z, the convolved
    x/B/C channels and one Δ per head) and ``out_proj`` (inner → hidden).
    """
    h, inner = spec.hidden_size, spec.mamba_intermediate_size
    if spec.mamba_version == 1:
        x_proj = inner * (spec.mamba_dt_rank + 2 * spec.mamba_state_size)
        return h * 2 * inner + x_proj + spec.mamba_dt_rank * inner + inner * h
    return h * (inner + mamba_conv_dim(spec) + spec.mamba_num_heads) + inner * h


def mamba_params_per_layer(spec: ModelSpec) -> int:
    """All parameters of one Mamba layer: its matrices, the depthwise ``conv1d`` (``mamba_conv_kernel``
    taps per channel, a bias with ``mamba_conv_bias``) and the projection biases, plus

    * Mamba-1: ``dt_proj``'s bias (always), ``A_log`` (inner x state), ``D`` (inner) and Jamba's
      RMSNorms over Δ (dt_rank), B and C (state each);
    * Mamba-2: ``dt_bias``, ``A_log`` and ``D`` (one per head) and the gated RMSNorm over the inner
      width (absent in Falcon-H1 unless ``mamba_rms_norm``: ``mamba_gated_norm``).
    """
    h, inner = spec.hidden_size, spec.mamba_intermediate_size
    conv_dim = mamba_conv_dim(spec)
    conv = conv_dim * spec.mamba_conv_kernel + (conv_dim if spec.mamba_conv_bias else 0)
    out_bias = h if spec.mamba_out_proj_bias else 0
    if spec.mamba_version == 1:
        in_bias = 2 * inner if spec.mamba_in_proj_bias else 0
        extras = inner + inner * spec.mamba_state_size + inner + spec.mamba_dt_rank + 2 * spec.mamba_state_size
    else:
        in_bias = (inner + conv_dim + spec.mamba_num_heads) if spec.mamba_in_proj_bias else 0
        extras = 3 * spec.mamba_num_heads + (inner if spec.mamba_gated_norm else 0)
    return mamba_matrices_per_layer(spec) + conv + in_bias + out_bias + extras


def _qk_norm_params(spec: ModelSpec) -> int:
    """The query and key norms of one attention layer: over a head, or over all heads (OLMo)."""
    if not spec.qk_norm:
        return 0
    if spec.qk_norm_full:
        return _norm_size(spec, spec.num_attention_heads * spec.head_dim) + _norm_size(
            spec, spec.num_kv_heads * spec.head_dim
        )
    return 2 * _norm_size(spec, spec.head_dim)


def _moe_layer_params(spec: ModelSpec, experts: int) -> int:
    """Routed experts actually counted, shared experts and the router of one MoE layer."""
    width = spec.expert_intermediate_size
    router = spec.hidden_size * spec.num_experts + (spec.num_experts if spec.mlp_bias else 0)
    router += (spec.hidden_size + spec.num_experts) if spec.router_scales else 0
    shared = spec.shared_experts * _mlp_params(spec, spec.shared_expert_width)
    gate = spec.hidden_size if spec.shared_expert_gate else 0
    return experts * _mlp_params(spec, width) + shared + gate + router


@lru_cache(maxsize=256)
def count_parameters(spec: ModelSpec) -> ParameterCount:
    """Count parameters tensor by tensor.

    Returns
    -------
    ParameterCount
        ``total`` is what must be stored; ``active`` is what one token's forward pass reads
        (for MoE only ``experts_per_token`` routed experts per layer; equal to ``total`` for a
        dense model). Both include the embedding and output matrices.
    """
    h = spec.hidden_size
    embedding = spec.vocab_size * h * (1 if spec.tie_embeddings else 2) + spec.learned_positions * h
    embedding += spec.vocab_size if spec.lm_head_bias else 0
    attention = spec.attention_layers * attention_params_per_layer(spec)
    if spec.linear_attention_layers:
        attention += spec.linear_attention_layers * linear_attention_params_per_layer(spec)
    attention += spec.short_conv_layers * short_conv_params_per_layer(spec)
    if spec.mamba_layers:
        attention += spec.mamba_layers * mamba_params_per_layer(spec)
    norms = (spec.num_layers * spec.norms_per_layer + 1) * _norm_size(spec)
    norms += spec.attention_layers * _qk_norm_params(spec)
    global_matrices, global_other, global_norms = global_attention_extra(spec)
    attention += global_matrices + global_other
    norms += global_norms

    dense_mlp = spec.dense_mlp_layers * _mlp_params(spec, spec.intermediate_size)
    if spec.is_moe:
        mlp_total = dense_mlp + spec.moe_layers * _moe_layer_params(spec, spec.num_experts)
        mlp_active = dense_mlp + spec.moe_layers * _moe_layer_params(spec, spec.experts_per_token)
    else:
        mlp_total = mlp_active = dense_mlp

    fixed = embedding + attention + norms
    return ParameterCount(
        embedding=embedding,
        attention=attention,
        mlp=mlp_total,
        norms=norms,
        total=fixed + mlp_total,
        active=fixed + mlp_active,
    )


PARAMETER_GROUPS = (
    "embedding",
    "lm_head",
    "attention_linear",
    "attention_other",
    "dense_mlp_linear",
    "routed_experts_linear",
    "shared_experts_linear",
    "router",
    "mlp_biases",
    "norms",
)
"""Kinds of parameters that checkpoints store differently (``parameter_groups``): quantization
formats convert some linear layers and keep the rest at 16 bits."""


def parameter_groups(spec: ModelSpec) -> dict[str, int]:
    """Parameters by kind, the same tensors ``count_parameters`` counts (the values sum to its total).

    * ``embedding`` — the input token matrix (the output too when tied) and learned positions;
    * ``lm_head`` — an untied output matrix and its bias (phi);
    * ``attention_linear`` — the weight matrices of Q, K, V and output (MLA's low-rank factors);
    * ``attention_other`` — attention biases, gpt-oss sinks, MLA's two low-rank norms;
    * ``dense_mlp_linear`` / ``routed_experts_linear`` / ``shared_experts_linear`` — MLP weight
      matrices of dense layers, routed experts and shared experts;
    * ``router`` — MoE router weights (and biases), Qwen2-MoE's shared-expert gate;
    * ``mlp_biases`` — biases of dense MLPs and experts;
    * ``norms`` — layer norms, the final norm, QK norms.
    """
    h = spec.hidden_size
    matrices = 3 if spec.gated_mlp else 2

    def mlp_weights(width: int) -> int:
        return matrices * h * width

    def mlp_biases(width: int) -> int:
        return ((matrices - 1) * width + h) if spec.mlp_bias else 0

    if spec.uses_latent_attention:
        # q_a_layernorm (if any), kv_a_layernorm and the indexer's key LayerNorm (weight and bias)
        latent_norms = spec.q_lora_rank + spec.kv_lora_rank + indexer_params_per_layer(spec)
        latent_norms -= indexer_matrices_per_layer(spec)
        attention_linear = attention_params_per_layer(spec) - latent_norms
        attention_other = latent_norms
    else:
        q_dim = spec.num_attention_heads * spec.head_dim
        kv_dim = spec.num_kv_heads * spec.head_dim
        q_out = q_dim * (2 if spec.attention_output_gate else 1)
        attention_linear = h * q_out + 2 * h * kv_dim + q_dim * h
        attention_other = attention_params_per_layer(spec) - attention_linear
    attention_layers = spec.attention_layers
    linear_matrices = linear_attention_matrices_per_layer(spec) if spec.linear_attention_layers else 0
    linear_other = linear_attention_params_per_layer(spec) - linear_matrices if spec.linear_attention_layers else 0
    dense_layers = spec.dense_mlp_layers
    moe_layers = spec.moe_layers
    mamba_matrices = mamba_matrices_per_layer(spec) if spec.mamba_layers else 0
    mamba_other = mamba_params_per_layer(spec) - mamba_matrices if spec.mamba_layers else 0
    expert_width = spec.expert_intermediate_size
    shared_width = spec.shared_expert_width
    counts = count_parameters(spec)
    lm_head = 0 if spec.tie_embeddings else spec.vocab_size * h
    lm_head += spec.vocab_size if spec.lm_head_bias else 0
    global_matrices, global_other, _ = global_attention_extra(spec)
    groups = {
        "embedding": counts.embedding - lm_head,
        "lm_head": lm_head,
        "attention_linear": attention_layers * attention_linear
        + global_matrices
        + spec.linear_attention_layers * linear_matrices
        + spec.short_conv_layers * short_conv_matrices_per_layer(spec)
        + spec.mamba_layers * mamba_matrices,
        "attention_other": attention_layers * attention_other
        + global_other
        + spec.linear_attention_layers * linear_other
        + spec.short_conv_layers * (short_conv_params_per_layer(spec) - short_conv_matrices_per_layer(spec))
        + spec.mamba_layers * mamba_other,
        "dense_mlp_linear": dense_layers * mlp_weights(spec.intermediate_size),
        "routed_experts_linear": moe_layers * spec.num_experts * mlp_weights(expert_width),
        "shared_experts_linear": moe_layers * spec.shared_experts * mlp_weights(shared_width),
        "router": moe_layers
        * (
            h * spec.num_experts
            + (spec.num_experts if spec.mlp_bias else 0)
            + (h if spec.shared_expert_gate else 0)
            + ((h + spec.num_experts) if spec.router_scales else 0)
        ),
        "mlp_biases": dense_layers * mlp_biases(spec.intermediate_size)
        + moe_layers * (spec.num_experts * mlp_biases(expert_width) + spec.shared_experts * mlp_biases(shared_width)),
        "norms": counts.norms,
    }
    return groups


def expert_params(spec: ModelSpec) -> int:
    """Parameters in routed experts only (what MoE offloading or sparse reads concern)."""
    if not spec.is_moe:
        return 0
    return spec.moe_layers * spec.num_experts * _mlp_params(spec, spec.expert_intermediate_size)


def kv_elements_per_token_per_layer(spec: ModelSpec) -> int:
    """Values one token adds to one layer's cache: K and V heads, or MLA's latent + rope key (and
    the sparse-attention indexer's key head, cached beside it at the same precision, as transformers'
    ``DeepseekV32Indexer`` keeps it; DeepSeek's reference code and vLLM store that key in fp8 with
    one fp32 scale per 128 values instead)."""
    if spec.uses_latent_attention:
        return spec.kv_lora_rank + spec.qk_rope_head_dim + spec.index_head_dim
    return 2 * spec.num_kv_heads * spec.head_dim


def global_kv_elements_per_token_per_layer(spec: ModelSpec) -> int:
    """Values one token adds to one Gemma 4 global layer's cache: keys and values of
    ``global_kv_heads`` x ``global_head_dim`` (with ``global_k_eq_v`` the values are still cached
    apart: transformers' ``Gemma4TextAttention`` norms them differently from the keys)."""
    return 2 * spec.global_kv_heads * spec.global_head_dim


def kv_bytes_per_token(spec: ModelSpec, bits_per_element: float = 16) -> int:
    """KV cache one token adds across all layers, ignoring sliding windows. [bytes]

    Llama-2-7B at 16 bits: 2 (K and V) x 32 layers x 32 heads x 128 dims x 2 bytes = 524,288.
    """
    common = spec.attention_layers - spec.global_attention_layers
    elements = kv_elements_per_token_per_layer(spec) * common
    elements += global_kv_elements_per_token_per_layer(spec) * spec.global_attention_layers
    return math.ceil(elements * bits_per_element / 8)


def kv_cache_bytes(spec: ModelSpec, context_tokens: int, batch: int, bits_per_element: float) -> int:
    """KV cache for ``batch`` sequences of ``context_tokens`` each. [bytes]

    Sliding-window layers keep at most ``sliding_window`` tokens, as vLLM and llama.cpp do for
    models whose config declares the window.
    """
    if context_tokens < 0 or batch < 0:
        raise ValueError("context and batch must not be negative")
    windowed = spec.sliding_window_layers if spec.sliding_window else 0
    cached_window = min(context_tokens, spec.sliding_window) if windowed else 0
    common = spec.attention_layers - spec.global_attention_layers  # global layers never slide
    token_layers = (common - windowed) * context_tokens + windowed * cached_window
    elements = token_layers * kv_elements_per_token_per_layer(spec) * batch
    elements += spec.global_attention_layers * context_tokens * global_kv_elements_per_token_per_layer(spec) * batch
    return math.ceil(elements * bits_per_element / 8)


LINEAR_CONV_STATE_BITS = 16
"""Storage of a Gated DeltaNet, LFM2 short-convolution or Mamba layer's convolution state: the
model's dtype (bf16), as vLLM's ``mamba_cache_dtype="auto"`` and transformers' cache keep it.
[bits/element]"""


def state_bytes_per_sequence(spec: ModelSpec) -> int:
    """The fixed state one sequence keeps in the linear-attention layers, whatever its length. [bytes]

    Per Gated DeltaNet layer, as vLLM allocates it (``MambaStateShapeCalculator.gated_delta_net_state_shape``
    in ``vllm/model_executor/layers/mamba/mamba_utils.py``; transformers' cache keeps one more
    convolution column):
    a convolution state of ``linear_conv_dim x (linear_conv_kernel_dim - 1)`` values (the last
    inputs the next token's convolution needs) at ``LINEAR_CONV_STATE_BITS``, and a recurrent state
    of ``linear_num_value_heads x linear_key_head_dim x linear_value_head_dim`` at
    ``spec.linear_state_bits`` (the model dtype, or fp32 where the config's ``mamba_ssm_dtype`` says
    so: Qwen3.5). An LFM2 short-convolution layer keeps ``hidden_size x (short_conv_kernel_dim - 1)``
    values at ``LINEAR_CONV_STATE_BITS`` (vLLM's ``short_conv_state_shape``). A Mamba layer keeps
    ``mamba_state_bits_per_layer``. Softmax-attention layers keep none (their cache is
    ``kv_cache_bytes``).
    """
    bits = 0
    if spec.linear_attention_layers:
        conv = spec.linear_conv_dim * (spec.linear_conv_kernel_dim - 1) * LINEAR_CONV_STATE_BITS
        recurrent = spec.linear_num_value_heads * spec.linear_key_head_dim * spec.linear_value_head_dim
        bits += spec.linear_attention_layers * (conv + recurrent * spec.linear_state_bits)
    if spec.short_conv_layers:
        short = spec.hidden_size * (spec.short_conv_kernel_dim - 1) * LINEAR_CONV_STATE_BITS
        bits += spec.short_conv_layers * short
    bits += spec.mamba_layers * mamba_state_bits_per_layer(spec)
    return math.ceil(bits / 8)


def mamba_state_bits_per_layer(spec: ModelSpec) -> int:
    """The state one sequence keeps in one Mamba layer, whatever its length. [bits]

    As vLLM allocates it (``MambaStateShapeCalculator.mamba1_state_shape`` / ``mamba2_state_shape``
    in ``vllm/model_executor/layers/mamba/mamba_utils.py``): a convolution state of the last
    ``mamba_conv_kernel - 1`` inputs of every convolution channel (``mamba_conv_dim``: Mamba-2's
    ``intermediate + 2 x n_groups x state_size``) at ``LINEAR_CONV_STATE_BITS``, and an SSM state
    of ``mamba_num_heads x mamba_head_dim x mamba_state_size`` values (Mamba-1: ``intermediate x
    state_size``) at ``spec.mamba_state_bits``. 0 without Mamba layers.
    """
    if not spec.mamba_layers:
        return 0
    conv = mamba_conv_dim(spec) * (spec.mamba_conv_kernel - 1) * LINEAR_CONV_STATE_BITS
    ssm = spec.mamba_intermediate_size * spec.mamba_state_size  # heads x head_dim = intermediate (Mamba-2)
    return conv + ssm * spec.mamba_state_bits


def state_bytes(spec: ModelSpec, batch: int) -> int:
    """Fixed per-sequence state of ``batch`` sequences (grows with batch, not with context). [bytes]"""
    if batch < 0:
        raise ValueError("batch must not be negative")
    return batch * state_bytes_per_sequence(spec)


# --- a custom model from a parameter count -------------------------------------------------


def scale_architecture(base: ModelSpec, target_params: float, name: str = "Custom") -> ModelSpec:
    """A plausible dense architecture of about ``target_params`` parameters, shaped like ``base``.

    Width and depth both grow as the cube root of the size ratio (so ``12·L·h²`` scales as the
    ratio), keeping the base's head size, MLP ratio, KV-head ratio and vocabulary; then the layer
    count is nudged to land closest to the target. The result is a starting point the user edits.
    """
    if not target_params > 0 or not math.isfinite(target_params):
        raise ValueError(f"target parameter count must be positive, got {target_params!r}")
    base_params = count_parameters(base).total
    ratio = target_params / base_params
    head_dim = base.head_dim
    heads = max(1, round(base.num_attention_heads * ratio ** (1 / 3)))
    hidden = heads * head_dim
    kv_ratio = base.num_kv_heads / base.num_attention_heads
    kv_heads = _largest_divisor_at_most(heads, max(1, round(heads * kv_ratio)))
    mlp_ratio = base.intermediate_size / base.hidden_size
    intermediate = max(256, round(hidden * mlp_ratio / 256) * 256)
    spec = base.with_changes(
        name=name,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        intermediate_size=intermediate,
        num_layers=1,
        num_experts=0,
        experts_per_token=0,
        moe_intermediate_size=0,
        shared_experts=0,
        shared_expert_intermediate_size=0,
        shared_expert_gate=False,
        dense_layers=0,
        sliding_window_layers=0,
        sliding_window=0,
        kv_lora_rank=0,
        q_lora_rank=0,
        qk_rope_head_dim=0,
        qk_nope_head_dim=0,
        v_head_dim=0,
        index_n_heads=0,
        index_head_dim=0,
        global_attention_layers=0,
        router_scales=False,
        linear_attention_layers=0,
        short_conv_layers=0,
        attention_output_gate=False,
        mamba_layers=0,
        mamba_parallel=False,
        mixer_free_layers=0,
        mlp_free_layers=0,
    )
    one_layer = count_parameters(spec).total
    per_layer = count_parameters(spec.with_changes(num_layers=2)).total - one_layer
    fixed = one_layer - per_layer
    layers = max(1, round((target_params - fixed) / per_layer))
    return spec.with_changes(num_layers=min(layers, MAX_DIMENSION))


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)
