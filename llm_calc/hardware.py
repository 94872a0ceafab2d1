"""Which cards a model fits on, how many of them, how fast it decodes and what it costs.

A model larger than one card is split. With ``parallel="tp"`` (the serving engines' way):
tensor parallelism (TP) inside a node of up to ``MAX_TENSOR_PARALLEL`` cards, then pipeline
parallelism (PP) across nodes. With ``parallel="pp"`` (llama.cpp's default layer split, or
vLLM's ``--pipeline-parallel-size``): every card is a pipeline stage. TP divides weights,
activations and KV heads (a KV head cannot be split, so with more cards than KV heads they are
replicated; MLA's single latent is replicated on every TP rank). PP divides layers. The fixed
runtime overhead is paid on every card.

A forward step takes ``max(bytes read / (bandwidth x efficiency), FLOPs / (peak x MFU))`` plus the
engine's fixed overhead per layer and, on top, per MoE layer (``llm_calc.engines``), plus, with TP,
two all-reduces per layer
(link latency plus the activations over the card's interconnect, ``data/gpus.csv``). Decode
steps read the weights a token touches — for MoE only the experts some sequence of the batch
routes to — plus the whole KV cache; batching moves a step from memory-bound to compute-bound.
Prefill is the same step over chunks of the prompt.

On several cards each card reads what it holds: its shard of the touched weights and its part of
the KV cache — the whole cache where it is replicated (MLA, or more tensor ranks than KV heads) —
at its own bandwidth. MoE experts are sharded like every other weight; expert parallelism (whole
experts per card) reads the same bytes per card when routing is uniform, and its all-to-all
dispatch and combine move the same activations as the two all-reduces per layer, so it is costed
as tensor parallelism (the busiest card of a small batch, which routing leaves uneven, is not
modelled). Pipeline stages run one after another for each token, so one sequence
goes at one card's speed; with several sequences in flight they are split into micro-batches
that keep every stage busy, which raises throughput once steps are compute-bound.

References
----------
.. [1] Shoeybi et al. 2019, "Megatron-LM" (tensor parallelism); Narayanan et al. 2021 (PP).
.. [2] Williams et al. 2009, "Roofline: an insightful visual performance model".
.. [3] Pope et al. 2022, "Efficiently Scaling Transformer Inference" (decode is bandwidth-bound;
       prefill FLOPs = 2 N per token plus attention).
.. [4] Apple ``MTLDevice.recommendedMaxWorkingSetSize``; llama.cpp reports it at start-up
       (about 2/3 of RAM up to 36 GB and 3/4 above), raisable with ``sysctl iogpu.wired_limit_mb``.
.. [5] Speed measurements in ``data/measurements.csv``; the engine constants fitted on them are
       in ``data/engine_profiles.csv`` (``llm_calc.engine_fit``).
.. [6] NVIDIA/nccl issue #1259: all-reduce of small messages on 2 H100 over NVLink takes about
       6 us. https://github.com/NVIDIA/nccl/issues/1259
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from llm_calc.architecture import ModelSpec, count_parameters, expert_params, kv_cache_bytes, state_bytes
from llm_calc.catalog import Gpu
from llm_calc.engines import (
    CARD_FRACTION,
    FREE_FRACTION,
    EngineProfile,
    card_vendor,
    check_engine,
    check_engine_name,
    format_family,
    kv_cache_passes,
    pick_engine,
    profile_for,
)
from llm_calc.memory import (
    ACTIVATION_BYTES,
    MAX_BATCH,
    InferenceSettings,
    MemoryBreakdown,
    inference_memory,
    vocabulary_matrix_bits,
)
from llm_calc.precision import kv_format, weight_format

MAX_TENSOR_PARALLEL = 8
"""Cards joined by NVLink/Infinity Fabric in one server; beyond it, add nodes with PP."""

MAX_CARDS = 1024
"""Largest deployment the calculator searches; beyond it we say 'does not fit'."""

APPLE_GPU_SHARE_SMALL = 2 / 3
"""Share of unified memory macOS lets the GPU wire on machines with up to 36 GB [4]."""

APPLE_GPU_SHARE_LARGE = 3 / 4
"""Share of unified memory macOS lets the GPU wire on machines with more than 36 GB [4]."""

APPLE_SMALL_MEMORY_LIMIT = 36 * 2**30
"""Boundary between the two Apple shares. [bytes]"""

DECODE_BANDWIDTH_EFFICIENCY = 0.48
"""The single efficiency of the model before engine profiles (median of measured ÷ roofline on
the llama.cpp M2 Ultra rows marked ``used_for_fit``). Estimates now take each engine's fitted
efficiency (``llm_calc.engines``); this stays only as the reference the Accuracy page and the
README compare against until they show the engine profiles."""

PREFILL_MFU = 0.5
"""Model-FLOPs utilisation of prefill and of compute-bound decode where an engine has no prefill
rows to fit its own: FlashAttention-2 reaches 50-73 % of peak on A100 in the forward pass
(Dao 2023); 50 % is a round, attainable figure."""

PARALLEL_MODES = ("tp", "pp")
"""How several cards split a model: ``tp`` tensor parallel inside a node (then pipeline across
nodes); ``pp`` pipeline only (llama.cpp's default ``--split-mode layer``)."""

ALLREDUCE_LATENCY_SECONDS = 6e-6
"""Fixed time of one all-reduce of a small message between tensor-parallel ranks [6]: measured
over NVLink; PCIe and Infinity Fabric links take at least as long, so there it is a lower
bound and speeds over them lean high. [s]"""

CARD_LADDER = (1, 2, 4, 8, *range(16, MAX_CARDS + 1, 8))
"""Card counts we consider: powers of two inside a node, then whole 8-card nodes."""


def usable_memory_bytes(gpu: Gpu) -> int:
    """Memory a model may use on this card. [bytes]

    Discrete cards and CPUs: the whole memory (the runtime overhead is counted separately; on a
    CPU the operating system's share is not known here, so none is taken off). Apple: only
    the share of unified memory the GPU may wire; the rest stays with macOS and other apps.
    """
    if not gpu.is_apple:
        return gpu.memory_bytes
    share = APPLE_GPU_SHARE_SMALL if gpu.memory_bytes <= APPLE_SMALL_MEMORY_LIMIT else APPLE_GPU_SHARE_LARGE
    return int(gpu.memory_bytes * share)


# A pure function of an int and a str (a failed call raises and is not stored), called several
# times per card of every estimate; a few hundred pairs (CARD_LADDER x PARALLEL_MODES) in practice.
@lru_cache(maxsize=1024)
def split(cards: int, parallel: str = "tp") -> tuple[int, int]:
    """Tensor- and pipeline-parallel degrees for ``cards`` (a value from ``CARD_LADDER``)."""
    if parallel not in PARALLEL_MODES:
        raise ValueError(f"parallel must be one of {', '.join(PARALLEL_MODES)}, got {parallel!r}")
    if parallel == "pp":
        return 1, cards
    tensor = min(cards, MAX_TENSOR_PARALLEL)
    return tensor, max(1, cards // tensor)


def kv_shards(spec: ModelSpec, tensor: int) -> int:
    """Parts the KV cache of a layer is divided into over ``tensor`` tensor-parallel ranks.

    Each rank keeps the KV heads of its query heads: one part per KV head up to ``tensor``, so with
    more ranks than KV heads every head is replicated (Llama 2 70B's 8 heads on 8 ranks: 8 parts;
    Falcon-7B's single head: 1 part, a full copy on every rank). MLA's latent is shared by all
    heads, so every rank keeps the whole cache [1].
    """
    return 1 if spec.uses_latent_attention else min(tensor, spec.num_kv_heads)


def kv_bytes_per_card(spec: ModelSpec, kv_cache_bytes: int, cards: int, parallel: str = "tp") -> int:
    """KV cache each card holds — and reads at every decode step — over ``cards`` cards. [bytes]

    Pipeline stages divide the layers; tensor ranks divide the KV heads (see ``kv_shards``).
    """
    tensor, pipeline = split(cards, parallel)
    return math.ceil(kv_cache_bytes / (kv_shards(spec, tensor) * pipeline))


def per_card_bytes(spec: ModelSpec, memory: MemoryBreakdown, cards: int, parallel: str = "tp") -> int:
    """Memory each card holds when the model is split over ``cards``. [bytes]"""
    return sum(_fixed_and_sequences(spec, memory, cards, parallel))


def engine_need_bytes(fixed_bytes: int, sequence_bytes: int, profile: EngineProfile | None = None) -> float:
    """Card memory an engine must be given to hold ``fixed_bytes`` (weights, activations, runtime)
    and ``sequence_bytes`` (KV cache and layer state of the sequences) on one card. [bytes]

    vLLM and SGLang take only ``card_fraction`` of the card for all of it, TensorRT-LLM lets the KV
    cache use ``free_fraction`` of what the rest leaves; engines that allocate what they are given
    (llama.cpp, MLX, transformers; ``profile=None``) need exactly the sum. The inverse of the
    budget ``max_concurrency`` divides, so a deployment fits exactly when it holds its sequences.
    """
    card, free = (1.0, 1.0) if profile is None else (profile.card_fraction, profile.free_fraction)
    return (fixed_bytes + sequence_bytes / free) / card


def _fixed_and_sequences(spec: ModelSpec, memory: MemoryBreakdown, cards: int, parallel: str) -> tuple[int, int]:
    """``per_card_bytes`` in two parts: what does not grow with the sequences, and what does. [bytes]"""
    tensor, _ = split(cards, parallel)
    fixed = (
        math.ceil(memory.weights_bytes / cards)
        + math.ceil(memory.vision_bytes / cards)
        + math.ceil(memory.activations_bytes / tensor)
        + memory.overhead_bytes
    )
    sequences = kv_bytes_per_card(spec, memory.kv_cache_bytes, cards, parallel) + math.ceil(memory.state_bytes / cards)
    return fixed, sequences


def cards_needed(
    spec: ModelSpec,
    memory: MemoryBreakdown,
    gpu: Gpu,
    parallel: str = "tp",
    profile: EngineProfile | None = None,
) -> int | None:
    """Fewest cards (from ``CARD_LADDER``) the model fits on with the engine of ``profile`` (its
    memory reservation, ``engine_need_bytes``; ``None``: the whole card); ``None`` if none.

    Apple machines and CPUs are counted one at a time: neither Macs' unified memory nor CPU
    sockets' system memory is pooled (``Gpu.stands_alone``).
    """
    usable = usable_memory_bytes(gpu)
    return _first_fit(_ladder_needs(spec, memory, usable, parallel), usable, gpu.stands_alone, profile)


STRICTEST_RESERVATION = min(CARD_FRACTION.values()) * min(FREE_FRACTION.values())
"""No engine leaves a model less of a card than this (the smallest ``card_fraction`` times the
smallest ``free_fraction``, see ``engine_need_bytes``): the card ladder is walked until a need
fits that share of the smallest card considered, so every engine's first fit is on it."""


def _ladder_needs(
    spec: ModelSpec, memory: MemoryBreakdown, smallest_usable: int, parallel: str = "tp"
) -> list[tuple[int, int, int]]:
    """Per-card memory along the ladder (cards, fixed bytes, sequence bytes), the same for every
    GPU, so computed once per estimate.

    The need only falls as cards are added, so the walk stops at the first step that fits the
    smallest card considered with the strictest engine reservation.
    """
    needs = []
    for cards in CARD_LADDER:
        needs.append((cards, *_fixed_and_sequences(spec, memory, cards, parallel)))
        if sum(needs[-1][1:]) <= smallest_usable * STRICTEST_RESERVATION:
            break
    return needs


def _first_fit(
    needs: list[tuple[int, int, int]], usable: int, single_only: bool, profile: EngineProfile | None = None
) -> int | None:
    for cards, fixed, sequences in needs[:1] if single_only else needs:
        if engine_need_bytes(fixed, sequences, profile) <= usable:
            return cards
    return None


def expected_experts_touched(spec: ModelSpec, batch: int) -> float:
    """Routed experts a decode step reads per MoE layer when ``batch`` tokens route uniformly.

    Each token picks ``k`` of ``E`` experts, so an expert is missed by all tokens with
    probability ``(1 - k/E) ** batch``.
    """
    if not spec.is_moe:
        return 0.0
    e, k = spec.num_experts, spec.experts_per_token
    return e * (1 - (1 - k / e) ** batch)


def decode_weight_read_bytes(spec: ModelSpec, weight_format_name: str, batch: int) -> int:
    """Weight bytes one decode step of ``batch`` sequences reads, part by part. [bytes]

    * the decoder body (attention, norms, dense MLPs and, for MoE, only the routed experts some
      token of the batch picks, see ``expected_experts_touched``) at the format's bits;
    * the output matrix (``lm_head``, or the tied embedding that serves as it) at the bits it is
      stored in — 16 for GPTQ/AWQ/FP8/INT8/NF4, whose embeddings are not quantized
      (``llm_calc.memory.vocabulary_matrix_bits``);
    * not the input embedding nor learned positions: they are lookups, one row per token.

    Each part is counted in bytes at its own storage, so a 4-bit body beside a 16-bit ``lm_head``
    is not averaged by parameter count.
    """
    fmt = weight_format(weight_format_name)
    params = count_parameters(spec)
    untouched = 0.0
    if spec.is_moe:
        untouched = expert_params(spec) * (1 - expected_experts_touched(spec, batch) / spec.num_experts)
    body = params.total - params.embedding
    output = spec.vocab_size * spec.hidden_size
    return math.ceil((body - untouched) * fmt.bits / 8) + math.ceil(
        output * vocabulary_matrix_bits(weight_format_name) / 8
    )


def _settings_weight_read_bytes(spec: ModelSpec, settings: InferenceSettings, batch: int | None = None) -> int:
    """``decode_weight_read_bytes``, or the checkpoint's storage plan when sized as shipped, for
    ``batch`` sequences (default: the settings' batch)."""
    batch = settings.batch if batch is None else batch
    if settings.storage is None:
        return decode_weight_read_bytes(spec, settings.weight_format, batch)
    touched = expected_experts_touched(spec, batch) / spec.num_experts if spec.is_moe else 1.0
    return settings.storage.decode_read_bytes(spec, touched)


def decode_read_bytes(spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown) -> int:
    """Bytes one decode step reads on a single card: touched weights, the whole KV cache and any
    linear-attention state (``MemoryBreakdown.state_bytes``). [bytes]

    ``memory`` is ``inference_memory(spec, settings)``; see ``decode_weight_read_bytes``.
    """
    return _settings_weight_read_bytes(spec, settings) + memory.kv_cache_bytes + memory.state_bytes


def card_read_bytes(
    spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown, cards: int, parallel: str = "tp"
) -> int:
    """Bytes each card reads in one decode step when the model is split over ``cards``. [bytes]

    Its shard of the touched weights plus the KV cache it holds (``kv_bytes_per_card``, the same
    share ``per_card_bytes`` counts): with MLA, or with more tensor ranks than KV heads, that is a
    replicated copy, read in full by every rank that holds it.
    """
    weights = _settings_weight_read_bytes(spec, settings)
    return _card_share(spec, weights, memory.kv_cache_bytes, cards, memory.state_bytes, parallel)


def _card_share(
    spec: ModelSpec, weight_read_bytes: int, kv_cache_bytes: int, cards: int, state_bytes: int = 0, parallel: str = "tp"
) -> int:
    # linear-attention state: tensor ranks split its heads, pipeline stages its layers
    return (
        math.ceil(weight_read_bytes / cards)
        + (kv_bytes_per_card(spec, kv_cache_bytes, cards, parallel) if kv_cache_bytes else 0)  # prefill reads none
        + math.ceil(state_bytes / cards)
    )


@dataclass(frozen=True, slots=True)
class StepCost:
    """The parts of a forward step's time that do not depend on the engine, so that an engine's
    efficiency, MFU and overhead can be applied (and fitted) afterwards.

    ``seconds(eff, mfu, overhead, moe_overhead, copy) = passes x max(memory_time(eff, copy),
    compute / mfu) + steps x overhead + moe_steps x moe_overhead + communication``.
    """

    passes: int
    """Stage passes one after another: the pipeline stages a token (or a prompt's chunks) crosses."""
    memory_seconds: float
    """One pass's bytes per card at the card's full datasheet bandwidth: those it reads and, in a
    decode step, the recurrent state (Mamba, Gated DeltaNet, short convolution) it writes back,
    updated, for the next token. [s]"""
    compute_seconds: float
    """One pass's FLOPs per card at the card's full dense TFLOPS. [s]"""
    steps: int
    """Layer passes: forward steps times layers, each paying the engine's per-layer overhead."""
    communication_seconds: float
    """All-reduces between tensor ranks and hand-offs between stages (latency + bytes / link). [s]"""
    card_read_bytes: int
    """Bytes each card reads in one pass. [bytes]"""
    moe_steps: int = 0
    """MoE layer passes (a subset of ``steps``), each paying the engine's MoE-layer overhead on top:
    routing the tokens to their experts and gathering them back, and, with the experts split over
    tensor ranks, dispatching to the ranks' shards and waiting for the slowest."""
    weight_seconds: float = 0.0
    """The weight bytes of ``memory_seconds`` at the card's datasheet bandwidth. [s]"""
    weight_ceiling_seconds: float = 0.0
    """The same weight bytes at the card's measured weight-streaming ceiling
    (``llm_calc.catalog.Gpu.weight_stream_gbs``); 0 for a card without one. [s]"""
    kv_copy_seconds: float = 0.0
    """The KV-cache bytes an engine that rebuilds its cache moves beyond the attention's one read
    (``llm_calc.engines.kv_cache_passes`` - 1 times the card's cache), at the card's datasheet
    bandwidth; 0 for an engine that keeps its cache in place. [s]"""

    def memory_time(self, efficiency: Any, copy_efficiency: Any = 1.0) -> Any:
        """One pass's reads at ``efficiency`` of the datasheet bandwidth, the weights no faster than
        the card's weight-streaming ceiling, and the KV-cache copies at ``copy_efficiency``; for
        numbers, or numpy grids of them (the fit scores a grid of constants at once). [s]"""
        return (
            self.memory_seconds / efficiency
            + np.maximum(0.0, self.weight_ceiling_seconds - self.weight_seconds / efficiency)
            + self.kv_copy_seconds / copy_efficiency
        )

    def seconds(
        self,
        efficiency: Any,
        mfu: Any,
        overhead_seconds: Any,
        moe_overhead_seconds: Any = 0.0,
        copy_efficiency: Any = 1.0,
    ) -> Any:
        """Wall time of the step for an engine with these constants (``overhead_seconds`` per
        layer pass, ``moe_overhead_seconds`` more per MoE layer pass, KV-cache copies at
        ``copy_efficiency`` of the datasheet bandwidth); for numbers, or numpy grids of them
        broadcast against each other (the fit scores a grid at once). [s]"""
        roof = np.maximum(self.memory_time(efficiency, copy_efficiency), self.compute_seconds / mfu)
        return (
            self.passes * roof
            + self.steps * overhead_seconds
            + self.moe_steps * moe_overhead_seconds
            + self.communication_seconds
        )

    def memory_bound(self, efficiency: float, mfu: float, copy_efficiency: float = 1.0) -> bool:
        return self.memory_time(efficiency, copy_efficiency) >= self.compute_seconds / mfu

    def at_weight_ceiling(self, efficiency: float) -> bool:
        """Whether the weights stream at the card's measured ceiling, below ``efficiency`` of its
        datasheet bandwidth."""
        return self.weight_ceiling_seconds > self.weight_seconds / efficiency


@dataclass(frozen=True, slots=True)
class Speed:
    """Decode and prefill speed on a number of cards with one engine."""

    decode_tokens_per_s: float
    """Tokens per second for each sequence (what one user sees). [tokens/s]"""
    aggregate_tokens_per_s: float
    """All sequences of the batch together. [tokens/s]"""
    bandwidth_bound: bool
    prefill_seconds: float
    """Time to process one prompt that fills the context window. [s]"""
    read_bytes: float
    """Bytes one decode step reads, counted once (touched weights plus the whole KV cache), as
    on a single card. [bytes]"""
    effective_bandwidth_gbs: float
    """Bandwidth of the tensor-parallel cards together times the efficiency. [GB/s]"""
    memory_seconds: float
    """Time each pipeline stage's cards take to read what they hold (``card_read_bytes`` at
    ``card_bandwidth_gbs``), times the stages, which run one after another. [s]"""
    compute_seconds: float
    """Time for one step's FLOPs at the MFU, stages one after another. [s]"""
    card_read_bytes: float
    """Bytes each card reads per decode pass: its weight shard plus its part or copy of the KV
    cache (``llm_calc.hardware.card_read_bytes``), for one micro-batch. [bytes]"""
    card_bandwidth_gbs: float
    """One card's datasheet bandwidth times the efficiency. [GB/s]"""
    weight_stream_gbs: float | None = None
    """The card's measured weight-streaming ceiling (``llm_calc.catalog.Gpu.weight_stream_gbs``)
    where it is below ``card_bandwidth_gbs`` and so sets the weights' read time; ``None`` otherwise. [GB/s]"""
    engine: str = ""
    """The engine whose profile set the efficiency, MFU and overhead."""
    profile_status: str = ""
    """How its constants were obtained (``llm_calc.engines.PROFILE_STATUSES``)."""
    efficiency: float = 1.0
    """Bandwidth efficiency used (the engine's, or the caller's override). [1]"""
    mfu: float = 1.0
    """Model-FLOPs utilisation used. [1]"""
    step_overhead_seconds: float = 0.0
    """The engine's fixed time per decode step: its per-layer overhead times the layers, plus its
    MoE-layer overhead times the MoE layers. [s]"""
    communication_seconds: float = 0.0
    """Interconnect time of one decode step (all-reduces, stage hand-offs). [s]"""
    step_seconds: float = 0.0
    """One decode step for the whole batch: every sequence gains one token. [s]"""
    parallel: str = "tp"
    prompt_tokens: int = 0
    """The prompt ``ttft_seconds`` refers to. [tokens]"""
    ttft_seconds: float = 0.0
    """Time to first token: prefill of the prompt plus the first decode step, plus the engine's
    request overhead (``EngineProfile.request_overhead_seconds``: its API server), no queueing. [s]"""
    max_concurrency: int | None = None
    """Most sequences of this context the engine's KV memory holds on these cards (``None`` where
    the model keeps no per-sequence cache)."""
    kv_cache_passes: int = 1
    """Times a decode step moves the KV cache (``llm_calc.engines.kv_cache_passes``): 1 for an
    engine that keeps it in place, 3 for eager transformers, which rebuilds it every step. [1]"""
    kv_copy_seconds: float = 0.0
    """The part of ``memory_seconds`` the passes beyond the attention's one read take, at the
    engine's KV-copy efficiency. [s]"""


@dataclass(frozen=True)
class _Workload:
    """What speed depends on that is the same for every card: bytes and FLOPs per step."""

    spec: ModelSpec
    settings: InferenceSettings
    memory: MemoryBreakdown
    active_params: int
    fp8_weights: bool
    # Memos of what is the same for every card, so counted once per estimate. Safe: each value is
    # a pure function of its key and of the fields above, which are frozen.
    _weights: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    """``weights_at`` by batch. [bytes]"""
    _flops: dict[int, float] = field(default_factory=dict, compare=False, repr=False)
    """``prefill_flops`` by prompt tokens. [FLOPs]"""
    _per_card: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    """``_fixed_and_sequences`` by (cards, parallel). [bytes]"""
    _per_sequence: dict[tuple[int, str], int] = field(default_factory=dict, compare=False, repr=False)
    """KV cache and layer state one sequence of the context keeps on each card, by (cards, parallel). [bytes]"""
    _concurrency: dict[tuple[int, int, str, float, float], int | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    """``_max_concurrency`` by (usable bytes, cards, parallel, card fraction, free fraction): all it
    reads of a card and of an engine profile."""

    @property
    def weight_read_bytes(self) -> int:
        return self.weights_at(self.settings.batch)

    def weights_at(self, batch: int) -> int:
        """Weight bytes one step of ``batch`` tokens reads (MoE: the experts they route to)."""
        if batch not in self._weights:
            self._weights[batch] = _settings_weight_read_bytes(self.spec, self.settings, batch)
        return self._weights[batch]

    @property
    def read_bytes(self) -> int:
        return self.weight_read_bytes + self.memory.kv_cache_bytes + self.memory.state_bytes

    def prefill_flops(self, tokens: int) -> float:
        """``2 x active x tokens`` plus causal attention ``2 x layers x query width x tokens²``. [FLOPs]"""
        if tokens not in self._flops:
            spec = self.spec
            head_width = (
                (spec.qk_nope_head_dim + spec.qk_rope_head_dim) if spec.uses_latent_attention else spec.head_dim
            )
            q_dim = spec.num_attention_heads * head_width
            self._flops[tokens] = 2 * self.active_params * tokens + 2 * spec.num_layers * q_dim * tokens**2
        return self._flops[tokens]

    def fixed_and_sequences(self, cards: int, parallel: str) -> tuple[int, int]:
        """``_fixed_and_sequences`` of this estimate's memory on ``cards`` cards. [bytes]"""
        key = (cards, parallel)
        if key not in self._per_card:
            self._per_card[key] = _fixed_and_sequences(self.spec, self.memory, cards, parallel)
        return self._per_card[key]

    def per_sequence_bytes(self, cards: int, parallel: str) -> int:
        """KV cache (at the context) and layer state of one sequence on each of ``cards`` cards. [bytes]"""
        key = (cards, parallel)
        if key not in self._per_sequence:
            spec, settings = self.spec, self.settings
            one_kv = kv_cache_bytes(spec, settings.context_tokens, 1, kv_format(settings.kv_format).bits)
            one_state = state_bytes(spec, 1)
            self._per_sequence[key] = kv_bytes_per_card(spec, one_kv, cards, parallel) + math.ceil(one_state / cards)
        return self._per_sequence[key]


def _workload(spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown) -> _Workload:
    return _Workload(
        spec=spec,
        settings=settings,
        memory=memory,
        active_params=count_parameters(spec).active,
        fp8_weights=settings.storage.fp8_compute
        if settings.storage
        else weight_format(settings.weight_format).name == "fp8",
    )


def _tflops(work: _Workload, gpu: Gpu) -> float:
    return gpu.tflops_fp8 if work.fp8_weights and gpu.tflops_fp8 else gpu.tflops_16bit


def communication_seconds(spec: ModelSpec, gpu: Gpu, cards: int, parallel: str, tokens: int) -> float:
    """Interconnect time of one forward step of ``tokens`` tokens over ``cards`` cards. [s]

    Tensor parallelism: two all-reduces per layer (after attention and after the MLP), each a
    ring over the ``tensor`` ranks moving ``2 (t - 1) / t`` times the activations
    (``tokens x hidden x 2`` bytes) per card at the link's bandwidth per direction, plus
    ``ALLREDUCE_LATENCY_SECONDS``. Pipeline stages: one hand-off of the activations per stage
    boundary. Raises ``ValueError`` for a card without a link in the catalog.
    """
    tensor, pipeline = split(cards, parallel)
    if tensor == 1 and pipeline == 1:
        return 0.0
    if not gpu.interconnect_gbs:
        raise ValueError(f"{gpu.name} has no interconnect in the catalog: several of them cannot be timed")
    link = gpu.interconnect_gbs * 1e9
    activations = tokens * spec.hidden_size * ACTIVATION_BYTES
    all_reduce = ALLREDUCE_LATENCY_SECONDS + 2 * (tensor - 1) / tensor * activations / link if tensor > 1 else 0.0
    hand_off = ALLREDUCE_LATENCY_SECONDS + activations / link
    return 2 * spec.num_layers * all_reduce + (pipeline - 1) * hand_off


def _weight_times(gpu: Gpu, card_weight_bytes: float) -> dict[str, float]:
    """A card's weight reads at its datasheet bandwidth and at its weight-streaming ceiling (0
    without one): the ``weight_seconds`` and ``weight_ceiling_seconds`` of a :class:`StepCost`."""
    ceiling = gpu.weight_stream_gbs
    return {
        "weight_seconds": card_weight_bytes / (gpu.bandwidth_gbs * 1e9),
        "weight_ceiling_seconds": card_weight_bytes / (ceiling * 1e9) if ceiling else 0.0,
    }


def decode_cost(
    work: _Workload, gpu: Gpu, cards: int, parallel: str, batch: int | None = None, kv_passes: int = 1
) -> StepCost:
    """One decode step of ``batch`` sequences (default: the settings' batch) on ``cards`` cards, by
    an engine that moves the KV cache ``kv_passes`` times a step (``llm_calc.engines.kv_cache_passes``).

    The batch is split into ``min(batch, stages)`` micro-batches so that the stages work on
    different ones at once; a token still crosses every stage, one after another. With one
    sequence that is one card's speed; with as many micro-batches as stages, every card is busy.
    """
    batch = work.settings.batch if batch is None else batch
    _, pipeline = split(cards, parallel)
    micro = math.ceil(batch / min(batch, pipeline))
    share = micro / batch
    memory = work.memory
    state = math.ceil(memory.state_bytes * share)
    weights = work.weights_at(micro)
    kv = math.ceil(memory.kv_cache_bytes * share)
    card_read = _card_share(work.spec, weights, kv, cards, state, parallel)
    # a recurrent layer writes back the state it read: those bytes cross the bus again
    card_moved = card_read + math.ceil(state / cards)
    card_kv = kv_bytes_per_card(work.spec, kv, cards, parallel) if kv else 0
    return StepCost(
        passes=pipeline,
        memory_seconds=card_moved / (gpu.bandwidth_gbs * 1e9),
        compute_seconds=micro * 2 * work.active_params / (cards * _tflops(work, gpu) * 1e12),
        steps=work.spec.num_layers,  # each layer's kernels, once per step
        communication_seconds=communication_seconds(work.spec, gpu, cards, parallel, micro),
        card_read_bytes=card_read,
        moe_steps=work.spec.moe_layers,
        kv_copy_seconds=(kv_passes - 1) * card_kv / (gpu.bandwidth_gbs * 1e9),
        **_weight_times(gpu, math.ceil(weights / cards)),
    )


def prefill_cost(work: _Workload, gpu: Gpu, cards: int, parallel: str, prompt_tokens: int) -> StepCost:
    """Prefill of one prompt in chunks of ``prefill_chunk_tokens``: each chunk is a step that reads
    the weights its tokens touch and does its share of the prompt's FLOPs; chunks follow each other
    through the pipeline stages (``chunks + stages - 1`` passes)."""
    _, pipeline = split(cards, parallel)
    chunks = math.ceil(prompt_tokens / work.settings.prefill_chunk_tokens)
    chunk_tokens = math.ceil(prompt_tokens / chunks)
    weights = work.weights_at(chunk_tokens)
    card_read = _card_share(work.spec, weights, 0, cards, 0, parallel)
    return StepCost(
        passes=chunks + pipeline - 1,
        memory_seconds=card_read / (gpu.bandwidth_gbs * 1e9),
        compute_seconds=work.prefill_flops(prompt_tokens) / chunks / (cards * _tflops(work, gpu) * 1e12),
        steps=chunks * work.spec.num_layers,
        communication_seconds=chunks * communication_seconds(work.spec, gpu, cards, parallel, chunk_tokens),
        card_read_bytes=card_read,
        moe_steps=chunks * work.spec.moe_layers,
        **_weight_times(gpu, math.ceil(weights / cards)),
    )


def max_concurrency(
    spec: ModelSpec,
    settings: InferenceSettings,
    memory: MemoryBreakdown,
    gpu: Gpu,
    cards: int,
    profile: EngineProfile,
    parallel: str = "tp",
) -> int | None:
    """Most sequences of ``settings.context_tokens`` whose KV cache (and layer state) the engine's
    memory holds on ``cards`` cards; ``None`` for a model with no per-sequence memory.

    Each card holds its weight shard, its activations and the runtime overhead; vLLM and SGLang
    take ``card_fraction`` of the card for all of it, TensorRT-LLM gives the KV cache
    ``free_fraction`` of what is left, llama.cpp and the rest may use the whole card
    (``llm_calc.engines.EngineProfile``).
    """
    return _max_concurrency(_workload(spec, settings, memory), gpu, cards, profile, parallel)


def _max_concurrency(work: _Workload, gpu: Gpu, cards: int, profile: EngineProfile, parallel: str) -> int | None:
    usable, card_fraction, free_fraction = usable_memory_bytes(gpu), profile.card_fraction, profile.free_fraction
    key = (usable, cards, parallel, card_fraction, free_fraction)
    if key not in work._concurrency:
        per_sequence = work.per_sequence_bytes(cards, parallel)
        if per_sequence <= 0:
            work._concurrency[key] = None
        else:
            fixed, _ = work.fixed_and_sequences(cards, parallel)
            budget = (usable * card_fraction - fixed) * free_fraction
            work._concurrency[key] = max(0, math.floor(budget / per_sequence))
    return work._concurrency[key]


def _speed(
    work: _Workload,
    gpu: Gpu,
    cards: int,
    parallel: str,
    profile: EngineProfile,
    efficiency: float,
    mfu: float,
    prompt_tokens: int,
) -> Speed:
    batch = work.settings.batch
    tensor, pipeline = split(cards, parallel)
    overhead, moe_overhead = profile.layer_overhead_seconds, profile.moe_layer_overhead_seconds
    copy_efficiency = profile.kv_copy_efficiency
    kv_passes = kv_cache_passes(profile.engine, work.spec.query_groups)
    decode = decode_cost(work, gpu, cards, parallel, kv_passes=kv_passes)
    constants = (efficiency, mfu, overhead, moe_overhead, copy_efficiency)
    step = decode.seconds(*constants)
    prefill_context = prefill_cost(work, gpu, cards, parallel, work.settings.context_tokens)
    prefill_seconds = prefill_context.seconds(*constants)
    if prompt_tokens != work.settings.context_tokens:
        prompt_seconds = prefill_cost(work, gpu, cards, parallel, prompt_tokens).seconds(*constants)
    else:
        prompt_seconds = prefill_seconds
    return Speed(
        decode_tokens_per_s=1 / step,
        aggregate_tokens_per_s=batch / step,
        bandwidth_bound=decode.memory_bound(efficiency, mfu, copy_efficiency),
        prefill_seconds=prefill_seconds,
        read_bytes=work.read_bytes,
        effective_bandwidth_gbs=tensor * gpu.bandwidth_gbs * efficiency,
        memory_seconds=pipeline * decode.memory_time(efficiency, copy_efficiency),
        compute_seconds=pipeline * decode.compute_seconds / mfu,
        card_read_bytes=decode.card_read_bytes,
        card_bandwidth_gbs=gpu.bandwidth_gbs * efficiency,
        weight_stream_gbs=gpu.weight_stream_gbs if decode.at_weight_ceiling(efficiency) else None,
        engine=profile.engine,
        profile_status=profile.status,
        efficiency=efficiency,
        mfu=mfu,
        step_overhead_seconds=overhead * decode.steps + moe_overhead * decode.moe_steps,
        communication_seconds=decode.communication_seconds,
        step_seconds=step,
        parallel=parallel,
        prompt_tokens=prompt_tokens,
        ttft_seconds=prompt_seconds + step + profile.request_overhead_seconds,
        max_concurrency=_max_concurrency(work, gpu, cards, profile, parallel),
        kv_cache_passes=kv_passes,
        kv_copy_seconds=pipeline * decode.kv_copy_seconds / copy_efficiency,
    )


def resolve_engine(
    engine: str | None, settings: InferenceSettings, gpu: Gpu, parallel: str | None = None, cards: int = 1
) -> tuple[str, str]:
    """The engine (``engine``, or the one a user would most likely run) and the parallel mode
    (``parallel``, or the engine's own: llama.cpp splits layers, the others tensors).

    Raises ``ValueError`` for an engine that does not run this format on this card, and for
    llama.cpp with tensor parallelism (its ``--split-mode row`` is not modelled).
    """
    return _resolve_family(engine, format_family(settings.weight_format, settings.storage), gpu, parallel, cards)


def _resolve_family(engine: str | None, family: str, gpu: Gpu, parallel: str | None, cards: int) -> tuple[str, str]:
    """``resolve_engine`` for weights of ``family`` (``llm_calc.engines.FORMAT_FAMILIES``).

    Reads the card only through its vendor (``card_vendor``), and its name in a refusal's message.
    """
    name = pick_engine(family, gpu) if engine is None else engine
    check_engine(name, family, gpu)
    mode = parallel or ("pp" if name == "llama.cpp" else "tp")
    split(cards, mode)  # names the choices
    if name == "llama.cpp" and mode == "tp" and cards > 1:
        raise ValueError(
            "llama.cpp splits a model across cards by layers (--parallel pp); its row split is not modelled"
        )
    return name, mode


def speed(
    spec: ModelSpec,
    settings: InferenceSettings,
    memory: MemoryBreakdown,
    gpu: Gpu,
    cards: int,
    efficiency: float | None = None,
    mfu: float | None = None,
    *,
    engine: str | None = None,
    parallel: str | None = None,
    prompt_tokens: int | None = None,
    profile: EngineProfile | None = None,
) -> Speed:
    """Decode and prefill speed of ``spec`` on ``cards`` cards of ``gpu`` with an engine.

    Decode: ``StepCost.seconds`` of ``decode_cost`` — each card reads ``card_read_bytes`` at the
    engine's efficiency of its bandwidth, stage after pipeline stage, or does its share of
    ``batch x 2 x active`` FLOPs at the MFU, whichever is slower, plus the engine's step overhead
    and the interconnect time. Prefill: the same over the prompt's chunks, with
    ``2 x active x tokens + 2 x layers x query width x tokens²`` FLOPs. FP8 weights use FP8 tensor
    TFLOPS where the card has them. ``efficiency`` and ``mfu`` override the engine's; ``profile``
    replaces the fitted profile altogether (tests and the fit use it).
    ``prompt_tokens`` (default: the whole context) is the prompt of ``ttft_seconds``.
    """
    name, mode = resolve_engine(engine or (profile.engine if profile else None), settings, gpu, parallel, cards)
    profile = profile or profile_for(name, gpu)
    efficiency = profile.bandwidth_efficiency if efficiency is None else efficiency
    mfu = profile.prefill_mfu if mfu is None else mfu
    _check_efficiencies(efficiency, mfu)
    prompt = _prompt_tokens(settings, prompt_tokens)
    return _speed(_workload(spec, settings, memory), gpu, cards, mode, profile, efficiency, mfu, prompt)


def _prompt_tokens(settings: InferenceSettings, prompt_tokens: int | None) -> int:
    if prompt_tokens is None:
        return settings.context_tokens
    if isinstance(prompt_tokens, bool) or not isinstance(prompt_tokens, int) or prompt_tokens < 1:
        raise ValueError(f"prompt tokens must be a whole number of at least 1, got {prompt_tokens!r}")
    if prompt_tokens > settings.context_tokens:
        raise ValueError(
            f"a prompt of {prompt_tokens:,} tokens does not fit a context of {settings.context_tokens:,} "
            "(the context counts prompt plus completion)"
        )
    return prompt_tokens


MIN_UTILISATION = 0.01
"""Smallest bandwidth efficiency or MFU accepted (1 %): below it no real engine runs, and a
vanishing value (5e-324) turns step times infinite and speeds zero."""


def _check_efficiencies(efficiency: float, mfu: float) -> None:
    if not MIN_UTILISATION <= efficiency <= 1 or not MIN_UTILISATION <= mfu <= 1:
        raise ValueError(f"efficiency and MFU must be between {MIN_UTILISATION} and 1, got {efficiency!r} and {mfu!r}")


@dataclass(frozen=True, slots=True)
class GpuResult:
    """One card type against one model and settings."""

    gpu: Gpu
    usable_memory_bytes: int
    gpu_count: int
    """Cards the user asked about."""
    fits: bool
    """Whether the model fits on ``gpu_count`` cards."""
    count_needed: int | None
    """Fewest cards that hold the model, or ``None`` if even ``MAX_CARDS`` do not."""
    cards_used: int | None
    """``gpu_count`` if it fits, else ``count_needed``: the deployment speed and cost refer to."""
    per_card_bytes: int
    """Memory on each card at ``cards_used`` (at ``gpu_count`` when nothing fits). [bytes]"""
    speed: Speed | None
    price_per_hour_usd: float | None
    """For all ``cards_used`` cards. [USD/h]"""
    engine: str = ""
    """The engine the speed is for (asked, or the one most users would run); empty if none runs
    this format on this card."""
    speed_note: str = ""
    """Why there is no speed though the model fits (no engine runs it here, no interconnect)."""

    @property
    def cost_per_day_usd(self) -> float | None:
        return None if self.price_per_hour_usd is None else self.price_per_hour_usd * 24

    @property
    def cost_per_million_tokens_usd(self) -> float | None:
        """Rented cost of one million generated tokens at full batch. [USD]"""
        if self.price_per_hour_usd is None or self.speed is None:
            return None
        return self.price_per_hour_usd / (self.speed.aggregate_tokens_per_s * 3600) * 1e6


def size_on_gpus(
    spec: ModelSpec,
    settings: InferenceSettings,
    gpus: tuple[Gpu, ...],
    gpu_count: int = 1,
    efficiency: float | None = None,
    mfu: float | None = None,
    *,
    engine: str | None = None,
    parallel: str | None = None,
    prompt_tokens: int | None = None,
) -> tuple[MemoryBreakdown, list[GpuResult]]:
    """The memory breakdown and, for every card, fit, count needed, speed and cost.

    ``engine`` (default: the one a user would most likely run on each card) sets the speed's
    constants; ``efficiency`` and ``mfu`` override its own. A card the engine does not run on
    keeps its memory verdict and gets no speed, with the reason in ``speed_note``.
    """
    if gpu_count not in CARD_LADDER:
        raise ValueError(f"gpu_count must be 1, 2, 4, 8 or a multiple of 8 up to {MAX_CARDS}, got {gpu_count}")
    if engine is not None:
        check_engine_name(engine)
    _check_efficiencies(1.0 if efficiency is None else efficiency, 1.0 if mfu is None else mfu)
    prompt = _prompt_tokens(settings, prompt_tokens)
    memory = inference_memory(spec, settings)
    work = _workload(spec, settings, memory)
    usables = [usable_memory_bytes(gpu) for gpu in gpus]
    needs: dict[str, list[tuple[int, int, int]]] = {}
    try:
        family, family_refusal = format_family(settings.weight_format, settings.storage), ""
    except ValueError as error:  # no engine table covers the checkpoint's storage
        family, family_refusal = "", str(error)
    # The engine, mode and profile of each card vendor: ``_resolve_family`` reads a card only
    # through its vendor and ``profile_for`` only through its vendor too (Apple: llama.cpp's Metal
    # profile; AMD: vLLM's and SGLang's ROCm ones), so the cards of one vendor share them (a refusal
    # names the card, so is not kept).
    by_vendor: dict[str, tuple[str, str, EngineProfile]] = {}
    # By mode and the engine's card and free fractions (all ``engine_need_bytes`` reads of a
    # profile): the bytes each asked card holds and the memory the engine needs for them; with the
    # usable bytes and ``stands_alone`` added, the fewest cards (all that ``_first_fit`` reads of a card).
    asked_by_engine: dict[tuple[str, float, float], tuple[int, float]] = {}
    fewest: dict[tuple[str, float, float, int, bool], int | None] = {}
    results = []
    for gpu, usable in zip(gpus, usables, strict=True):
        name, mode, refusal = "", parallel or "tp", family_refusal
        profile: EngineProfile | None = None  # no engine runs it: the whole card
        if not refusal:
            vendor = card_vendor(gpu)
            try:
                if vendor not in by_vendor:
                    name, mode = _resolve_family(engine, family, gpu, parallel, gpu_count)
                    by_vendor[vendor] = name, mode, profile_for(name, gpu)
                name, mode, profile = by_vendor[vendor]
            except ValueError as error:
                refusal = str(error)
        if mode not in needs:
            needs[mode] = _ladder_needs(spec, memory, min(usables, default=0), mode)
        fractions = (profile.card_fraction, profile.free_fraction) if profile else (1.0, 1.0)
        engine_key = (mode, *fractions)
        if engine_key not in asked_by_engine:
            asked_parts = work.fixed_and_sequences(gpu_count, mode)
            asked_by_engine[engine_key] = sum(asked_parts), engine_need_bytes(*asked_parts, profile)
        asked, asked_need = asked_by_engine[engine_key]
        fit_key = (*engine_key, usable, gpu.stands_alone)
        if fit_key not in fewest:
            fewest[fit_key] = _first_fit(needs[mode], usable, gpu.stands_alone, profile)
        needed = fewest[fit_key]
        # within the memory the engine takes (vLLM: 0.9 of the card), as max_concurrency counts it
        fits = asked_need <= usable and not (gpu.stands_alone and gpu_count > 1)
        used = gpu_count if fits else needed
        result_speed = None
        if used and profile is not None and not refusal:
            eff = profile.bandwidth_efficiency if efficiency is None else efficiency
            use_mfu = profile.prefill_mfu if mfu is None else mfu
            try:
                result_speed = _speed(work, gpu, used, mode, profile, eff, use_mfu, prompt)
            except ValueError as error:  # no interconnect to time several cards with
                refusal = str(error)
        price = gpu.price_per_hour_usd * used if gpu.price_per_hour_usd and used else None
        # the per-card need is only listed up to the first count that fits the smallest card;
        # the asked count may lie beyond it, so compute it at the count actually used
        per_card = sum(work.fixed_and_sequences(used, mode)) if used else asked
        results.append(
            GpuResult(
                gpu=gpu,
                usable_memory_bytes=usable,
                gpu_count=gpu_count,
                fits=fits,
                count_needed=needed,
                cards_used=used,
                per_card_bytes=per_card,
                speed=result_speed,
                price_per_hour_usd=price,
                engine=name,
                speed_note=refusal,
            )
        )
    return memory, results


@dataclass(frozen=True, slots=True)
class ServingPoint:
    """Speed of a deployment with ``concurrency`` sequences decoding at once."""

    concurrency: int
    per_user_tokens_per_s: float
    """What each user sees while all of them decode. [tokens/s]"""
    aggregate_tokens_per_s: float
    """All users together. [tokens/s]"""
    ttft_seconds: float
    """Prefill of one prompt plus the first decode step at this concurrency, plus the engine's
    request overhead (``EngineProfile.request_overhead_seconds``), no queueing. [s]"""


@dataclass(frozen=True)
class ServingCurve:
    """Per-user against total speed as users are added, up to what the KV memory holds."""

    gpu: Gpu
    cards: int
    profile: EngineProfile
    """The engine profile whose constants made the points (``llm_calc.engines.profile_for``)."""
    parallel: str
    prompt_tokens: int
    output_tokens: int
    max_concurrency: int
    """Most sequences of ``prompt_tokens + output_tokens`` the engine's KV memory holds."""
    points: tuple[ServingPoint, ...]
    price_per_hour_usd: float | None
    """All ``cards`` cards at the catalog price. [USD/h]"""

    @property
    def engine(self) -> str:
        return self.profile.engine

    @property
    def profile_status(self) -> str:
        return self.profile.status

    def busiest_point(self, min_per_user_tokens_per_s: float) -> ServingPoint | None:
        """The point of most total throughput that still gives every user ``min_per_user_tokens_per_s``
        (tokens/s); ``None`` where even one user is slower."""
        ok = [p for p in self.points if p.per_user_tokens_per_s >= min_per_user_tokens_per_s]
        return max(ok, key=lambda p: p.aggregate_tokens_per_s, default=None)

    def cost_per_million_output_tokens_usd(self, min_per_user_tokens_per_s: float) -> float | None:
        """Rented cost of a million output tokens at the largest concurrency that still gives every
        user ``min_per_user_tokens_per_s``; ``None`` without a price or if no concurrency does. [USD]"""
        best = self.busiest_point(min_per_user_tokens_per_s)
        if self.price_per_hour_usd is None or best is None:
            return None
        return self.price_per_hour_usd / (best.aggregate_tokens_per_s * 3600) * 1e6


def serving_curve(
    spec: ModelSpec,
    settings: InferenceSettings,
    gpu: Gpu,
    cards: int,
    prompt_tokens: int,
    output_tokens: int,
    engine: str | None = None,
    parallel: str | None = None,
    min_per_user_tokens_per_s: float | None = None,
) -> ServingCurve:
    """Per-user and aggregate decode speed from one user to the most the KV memory holds.

    Every sequence holds ``prompt_tokens + output_tokens`` of KV cache (what the engine must keep
    free for it); a decode step reads the cache at its average depth through the answer,
    ``prompt_tokens + output_tokens / 2``. Concurrency doubles from 1 and ends at the memory limit
    (``max_concurrency``). With ``min_per_user_tokens_per_s`` the curve also holds the exact
    largest concurrency that still gives every user that speed (found by bisection: a user's speed
    only falls as users are added), so ``ServingCurve.busiest_point`` and the cost per token are
    not rounded down to a power of two. ``settings`` gives the weight and KV formats; its context
    and batch are replaced. Raises ``ValueError`` where not one sequence fits.
    """
    for name, value in (("prompt tokens", prompt_tokens), ("output tokens", output_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    full = replace(settings, context_tokens=prompt_tokens + output_tokens, batch=1)
    name, mode = resolve_engine(engine, full, gpu, parallel, cards)
    profile = profile_for(name, gpu)
    memory = inference_memory(spec, full)
    limit = max_concurrency(spec, full, memory, gpu, cards, profile, mode)
    if limit is None or limit < 1 or (gpu.stands_alone and cards > 1):
        raise ValueError(
            f"not one sequence of {full.context_tokens:,} tokens fits beside the weights on {cards} x {gpu.name} "
            f"with {name}"
        )
    limit = min(limit, MAX_SERVING_CONCURRENCY)
    levels = sorted({*(2**i for i in range(limit.bit_length()) if 2**i < limit), limit})
    if min_per_user_tokens_per_s is not None and not (
        math.isfinite(min_per_user_tokens_per_s) and min_per_user_tokens_per_s > 0
    ):
        raise ValueError(f"the per-user speed must be a positive number, got {min_per_user_tokens_per_s!r}")
    computed: dict[int, ServingPoint] = {}

    def at(users: int) -> ServingPoint:
        if users not in computed:
            average = replace(full, context_tokens=prompt_tokens + output_tokens // 2, batch=users)
            work = _workload(spec, average, inference_memory(spec, average))
            constants = profile.constants
            kv_passes = kv_cache_passes(profile.engine, spec.query_groups)
            step = decode_cost(work, gpu, cards, mode, kv_passes=kv_passes).seconds(*constants)
            prefill = prefill_cost(work, gpu, cards, mode, prompt_tokens).seconds(*constants)
            first_token = prefill + step + profile.request_overhead_seconds
            computed[users] = ServingPoint(users, 1 / step, users / step, first_token)
        return computed[users]

    shown = set(levels)
    target = min_per_user_tokens_per_s
    if target is not None and at(1).per_user_tokens_per_s >= target:
        meets, fails = 1, limit + 1  # at(meets) is fast enough; at(fails) is not, or beyond the limit
        while fails - meets > 1:
            middle = (meets + fails) // 2
            meets, fails = (middle, fails) if at(middle).per_user_tokens_per_s >= target else (meets, middle)
        shown.add(meets)  # the points tried on the way are not shown
    points = [at(users) for users in sorted(shown)]
    return ServingCurve(
        gpu=gpu,
        cards=cards,
        profile=profile,
        parallel=mode,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        max_concurrency=limit,
        points=tuple(points),
        price_per_hour_usd=gpu.price_per_hour_usd * cards if gpu.price_per_hour_usd else None,
    )


MAX_SERVING_CONCURRENCY = MAX_BATCH
"""Largest concurrency a curve goes to: the largest batch ``InferenceSettings`` accepts."""


def daily_cost_usd(gpu: Gpu, cards: int = 1) -> float | None:
    """Rented cost of ``cards`` of this card for 24 hours at its catalog price. [USD]"""
    if cards < 1:
        raise ValueError("cards must be at least 1")
    return None if gpu.price_per_hour_usd is None else gpu.price_per_hour_usd * cards * 24
