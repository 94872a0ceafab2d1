"""Which cards a model fits on, how many of them, how fast it decodes and what it costs.

A model larger than one card is split: tensor parallelism (TP) inside a node of up to
``MAX_TENSOR_PARALLEL`` cards, then pipeline parallelism (PP) across nodes. TP divides weights,
activations and KV heads (a KV head cannot be split, so with more cards than KV heads they are
replicated; MLA's single latent is replicated on every TP rank). PP divides layers. The fixed
runtime overhead is paid on every card.

Decode is a memory-bandwidth roofline: each step reads the weights a token touches plus the whole
KV cache, at ``efficiency`` of the datasheet bandwidth; the compute roofline is checked too and the
slower of the two wins. Prefill is a compute roofline at a model-FLOPs utilisation (MFU).

On several cards each card reads what it holds: its shard of the touched weights and its part of
the KV cache — the whole cache where it is replicated (MLA, or more tensor ranks than KV heads) —
at its own bandwidth, and the pipeline stages run one after another for each token. The bytes a
card reads are therefore the same shares ``per_card_bytes`` counts in its memory. Interconnect
time (all-reduces between tensor ranks, transfers between stages) is not modelled.

References
----------
.. [1] Shoeybi et al. 2019, "Megatron-LM" (tensor parallelism); Narayanan et al. 2021 (PP).
.. [2] Williams et al. 2009, "Roofline: an insightful visual performance model".
.. [3] Pope et al. 2022, "Efficiently Scaling Transformer Inference" (decode is bandwidth-bound;
       prefill FLOPs = 2 N per token plus attention).
.. [4] Apple ``MTLDevice.recommendedMaxWorkingSetSize``; llama.cpp reports it at start-up
       (about 2/3 of RAM up to 36 GB and 3/4 above), raisable with ``sysctl iogpu.wired_limit_mb``.
.. [5] llama.cpp decode benchmarks collected in ``data/measurements.csv`` (batch 1, tg128).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_calc.architecture import ModelSpec, count_parameters, expert_params
from llm_calc.catalog import Gpu
from llm_calc.memory import InferenceSettings, MemoryBreakdown, inference_memory, vocabulary_matrix_bits
from llm_calc.precision import weight_format

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
"""Fraction of datasheet memory bandwidth that batch-1 decode achieves: fitted (median of
measured ÷ roofline) on the llama.cpp M2 Ultra rows marked ``used_for_fit`` in
``data/measurements.csv``, and checked on the held-out rows (see ``llm_calc.accuracy`` and the
Accuracy page). Engines with heavier-tuned kernels (vLLM, TensorRT-LLM) do better; adjustable in
the app and CLI."""

PREFILL_MFU = 0.5
"""Model-FLOPs utilisation of prefill and of compute-bound decode: FlashAttention-2 reaches
50-73 % of peak on A100 in the forward pass (Dao 2023); 50 % is a round, attainable figure."""

CARD_LADDER = (1, 2, 4, 8, *range(16, MAX_CARDS + 1, 8))
"""Card counts we consider: powers of two inside a node, then whole 8-card nodes."""


def usable_memory_bytes(gpu: Gpu) -> int:
    """Memory a model may use on this card. [bytes]

    Discrete cards: the whole memory (the runtime overhead is counted separately). Apple: only
    the share of unified memory the GPU may wire; the rest stays with macOS and other apps.
    """
    if not gpu.is_apple:
        return gpu.memory_bytes
    share = APPLE_GPU_SHARE_SMALL if gpu.memory_bytes <= APPLE_SMALL_MEMORY_LIMIT else APPLE_GPU_SHARE_LARGE
    return int(gpu.memory_bytes * share)


def split(cards: int) -> tuple[int, int]:
    """Tensor- and pipeline-parallel degrees for ``cards`` (a value from ``CARD_LADDER``)."""
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


def kv_bytes_per_card(spec: ModelSpec, kv_cache_bytes: int, cards: int) -> int:
    """KV cache each card holds — and reads at every decode step — over ``cards`` cards. [bytes]

    Pipeline stages divide the layers; tensor ranks divide the KV heads (see ``kv_shards``).
    """
    tensor, pipeline = split(cards)
    return math.ceil(kv_cache_bytes / (kv_shards(spec, tensor) * pipeline))


def per_card_bytes(spec: ModelSpec, memory: MemoryBreakdown, cards: int) -> int:
    """Memory each card holds when the model is split over ``cards``. [bytes]"""
    tensor, _ = split(cards)
    return (
        math.ceil(memory.weights_bytes / cards)
        + math.ceil(memory.vision_bytes / cards)
        + kv_bytes_per_card(spec, memory.kv_cache_bytes, cards)
        + math.ceil(memory.state_bytes / cards)
        + math.ceil(memory.activations_bytes / tensor)
        + memory.overhead_bytes
    )


def cards_needed(spec: ModelSpec, memory: MemoryBreakdown, gpu: Gpu) -> int | None:
    """Fewest cards (from ``CARD_LADDER``) the model fits on; ``None`` if none.

    Apple machines are counted one at a time: unified memory is not pooled across Macs.
    """
    usable = usable_memory_bytes(gpu)
    return _first_fit(_ladder_needs(spec, memory, usable), usable, gpu.is_apple)


def _ladder_needs(spec: ModelSpec, memory: MemoryBreakdown, smallest_usable: int) -> list[tuple[int, int]]:
    """Per-card memory along the ladder, the same for every GPU, so computed once per estimate.

    The need only falls as cards are added, so the walk stops at the first step that fits the
    smallest card considered.
    """
    needs = []
    for cards in CARD_LADDER:
        needs.append((cards, per_card_bytes(spec, memory, cards)))
        if needs[-1][1] <= smallest_usable:
            break
    return needs


def _first_fit(needs: list[tuple[int, int]], usable: int, single_only: bool) -> int | None:
    for cards, need in needs[:1] if single_only else needs:
        if need <= usable:
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


def _settings_weight_read_bytes(spec: ModelSpec, settings: InferenceSettings) -> int:
    """``decode_weight_read_bytes``, or the checkpoint's storage plan when sized as shipped."""
    if settings.storage is None:
        return decode_weight_read_bytes(spec, settings.weight_format, settings.batch)
    touched = expected_experts_touched(spec, settings.batch) / spec.num_experts if spec.is_moe else 1.0
    return settings.storage.decode_read_bytes(spec, touched)


def decode_read_bytes(spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown) -> int:
    """Bytes one decode step reads on a single card: touched weights, the whole KV cache and any
    linear-attention state (``MemoryBreakdown.state_bytes``). [bytes]

    ``memory`` is ``inference_memory(spec, settings)``; see ``decode_weight_read_bytes``.
    """
    return _settings_weight_read_bytes(spec, settings) + memory.kv_cache_bytes + memory.state_bytes


def card_read_bytes(spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown, cards: int) -> int:
    """Bytes each card reads in one decode step when the model is split over ``cards``. [bytes]

    Its shard of the touched weights plus the KV cache it holds (``kv_bytes_per_card``, the same
    share ``per_card_bytes`` counts): with MLA, or with more tensor ranks than KV heads, that is a
    replicated copy, read in full by every rank that holds it.
    """
    weights = _settings_weight_read_bytes(spec, settings)
    return _card_share(spec, weights, memory.kv_cache_bytes, cards, memory.state_bytes)


def _card_share(spec: ModelSpec, weight_read_bytes: int, kv_cache_bytes: int, cards: int, state_bytes: int = 0) -> int:
    # linear-attention state: tensor ranks split its heads, pipeline stages its layers
    return (
        math.ceil(weight_read_bytes / cards)
        + kv_bytes_per_card(spec, kv_cache_bytes, cards)
        + math.ceil(state_bytes / cards)
    )


@dataclass(frozen=True, slots=True)
class Speed:
    """Decode and prefill speed on a number of cards."""

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
    """Time for one step's FLOPs at the MFU. [s]"""
    card_read_bytes: float
    """Bytes each card reads per decode step: its weight shard plus its part or copy of the KV
    cache (``llm_calc.hardware.card_read_bytes``). [bytes]"""
    card_bandwidth_gbs: float
    """One card's datasheet bandwidth times the efficiency. [GB/s]"""


@dataclass(frozen=True)
class _Workload:
    """What speed depends on that is the same for every card: bytes and FLOPs per step."""

    weight_read_bytes: int
    kv_cache_bytes: int
    spec: ModelSpec
    decode_flops: float
    prefill_flops: float
    fp8_weights: bool
    state_bytes: int = 0

    @property
    def read_bytes(self) -> int:
        return self.weight_read_bytes + self.kv_cache_bytes + self.state_bytes

    def card_read_bytes(self, cards: int) -> int:
        """``card_read_bytes`` without recounting the weights for every card type."""
        return _card_share(self.spec, self.weight_read_bytes, self.kv_cache_bytes, cards, self.state_bytes)


def _workload(spec: ModelSpec, settings: InferenceSettings, memory: MemoryBreakdown) -> _Workload:
    active = count_parameters(spec).active
    tokens = settings.context_tokens
    head_width = (spec.qk_nope_head_dim + spec.qk_rope_head_dim) if spec.uses_latent_attention else spec.head_dim
    q_dim = spec.num_attention_heads * head_width
    return _Workload(
        weight_read_bytes=_settings_weight_read_bytes(spec, settings),
        kv_cache_bytes=memory.kv_cache_bytes,
        state_bytes=memory.state_bytes,
        spec=spec,
        decode_flops=settings.batch * 2 * active,
        prefill_flops=2 * active * tokens + 2 * spec.num_layers * q_dim * tokens**2,
        fp8_weights=settings.storage.fp8_compute
        if settings.storage
        else weight_format(settings.weight_format).name == "fp8",
    )


def _speed(work: _Workload, batch: int, gpu: Gpu, cards: int, efficiency: float, mfu: float) -> Speed:
    tensor, pipeline = split(cards)  # pipeline stages run one after another for a single token
    tflops = gpu.tflops_fp8 if work.fp8_weights and gpu.tflops_fp8 else gpu.tflops_16bit
    card_bandwidth_gbs = gpu.bandwidth_gbs * efficiency
    card_read = work.card_read_bytes(cards)
    memory_time = pipeline * card_read / (card_bandwidth_gbs * 1e9)
    compute_time = work.decode_flops / (tensor * tflops * 1e12 * mfu)
    step = max(memory_time, compute_time)
    return Speed(
        decode_tokens_per_s=1 / step,
        aggregate_tokens_per_s=batch / step,
        bandwidth_bound=memory_time >= compute_time,
        prefill_seconds=work.prefill_flops / (cards * tflops * 1e12 * mfu),
        read_bytes=work.read_bytes,
        effective_bandwidth_gbs=tensor * card_bandwidth_gbs,
        memory_seconds=memory_time,
        compute_seconds=compute_time,
        card_read_bytes=card_read,
        card_bandwidth_gbs=card_bandwidth_gbs,
    )


def speed(
    spec: ModelSpec,
    settings: InferenceSettings,
    memory: MemoryBreakdown,
    gpu: Gpu,
    cards: int,
    efficiency: float = DECODE_BANDWIDTH_EFFICIENCY,
    mfu: float = PREFILL_MFU,
) -> Speed:
    """Roofline decode and prefill speed of ``spec`` on ``cards`` cards of ``gpu``.

    Decode: each card reads ``card_read_bytes`` at ``efficiency`` of its bandwidth, stage after
    pipeline stage, or the tensor-parallel cards do ``batch x 2 x active`` FLOPs at ``mfu`` of
    their TFLOPS, whichever is slower. Prefill: ``2 x active x tokens + 2 x layers x query width x tokens²``
    FLOPs at ``mfu`` on all cards. FP8 weights use FP8 tensor TFLOPS where the card has them.
    """
    _check_efficiencies(efficiency, mfu)
    return _speed(_workload(spec, settings, memory), settings.batch, gpu, cards, efficiency, mfu)


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
    efficiency: float = DECODE_BANDWIDTH_EFFICIENCY,
    mfu: float = PREFILL_MFU,
) -> tuple[MemoryBreakdown, list[GpuResult]]:
    """The memory breakdown and, for every card, fit, count needed, speed and cost."""
    if gpu_count not in CARD_LADDER:
        raise ValueError(f"gpu_count must be 1, 2, 4, 8 or a multiple of 8 up to {MAX_CARDS}, got {gpu_count}")
    _check_efficiencies(efficiency, mfu)
    memory = inference_memory(spec, settings)
    usables = [usable_memory_bytes(gpu) for gpu in gpus]
    needs = _ladder_needs(spec, memory, min(usables, default=0))
    asked = per_card_bytes(spec, memory, gpu_count)
    work = _workload(spec, settings, memory)
    results = []
    for gpu, usable in zip(gpus, usables, strict=True):
        needed = _first_fit(needs, usable, gpu.is_apple)
        fits = asked <= usable and not (gpu.is_apple and gpu_count > 1)
        used = gpu_count if fits else needed
        result_speed = _speed(work, settings.batch, gpu, used, efficiency, mfu) if used else None
        price = gpu.price_per_hour_usd * used if gpu.price_per_hour_usd and used else None
        # the per-card need is only listed up to the first count that fits the smallest card;
        # the asked count may lie beyond it, so compute it at the count actually used
        per_card = per_card_bytes(spec, memory, used) if used else asked
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
            )
        )
    return memory, results


def daily_cost_usd(gpu: Gpu, cards: int = 1) -> float | None:
    """Rented cost of ``cards`` of this card for 24 hours at its catalog price. [USD]"""
    if cards < 1:
        raise ValueError("cards must be at least 1")
    return None if gpu.price_per_hour_usd is None else gpu.price_per_hour_usd * cards * 24
