"""Fitting each engine's constants on the speed rows of ``data/measurements.csv``.

For every row the engine-independent parts of its step time come from ``llm_calc.hardware``
(``decode_cost`` / ``prefill_cost``: bytes per card at full bandwidth, FLOPs per card at full
peak, interconnect time); an engine's bandwidth efficiency ``e``, layer overhead ``o``, MoE-layer
overhead ``q`` and prefill MFU ``m`` then give ``passes x max(memory / e, compute / m) + steps x o
+ MoE layers x q + communication`` (a card with a measured weight-streaming ceiling reads its
weights no faster than it: ``StepCost.memory_time``), and a server engine's first token waits its
request overhead ``r`` besides.

* ``e``, ``o`` and ``q`` are fitted together on the decode and aggregate-decode rows of the
  engine, and its time-to-first-token rows where it runs without a server; ``m`` on its prefill
  rows: a grid search, then a
  pattern search around the best point, minimising the absolute log errors, a source of ``n``
  rows weighing ``sqrt(n)`` (``_grid_loss``; a source is a document, :func:`source_of`). Where the
  rows cannot tell a fixed overhead from a lower efficiency (fewer than ``MIN_ROWS_FOR_OVERHEAD``
  rows, or their memory times span less than ``MIN_SPREAD_FOR_OVERHEAD``), ``o`` is held at the
  pooled fit's (:class:`PooledFits`) and the note says so; ``q`` is fitted only beside
  ``MIN_ROWS_FOR_OVERHEAD`` rows of MoE models and as many others, and such rows are otherwise
  left out of the fit (said in the note). Every MoE layer pays ``q``, on one card or split over
  several: an MoE layer routes its tokens whatever the cards. Paid on layers split over cards
  only, as first modelled, it left one-card MoE rows at a held-out error of 44.8 % (60 rows), and
  24.0 % once paid on all (measured 2026-11-27: one card 30.0 % -> 25.4 %, MoE 22.2 % -> 19.2 %,
  several cards 14.3 % -> 15.3 %). An engine without prefill rows keeps
  ``llm_calc.hardware.PREFILL_MFU``.
* The request overhead ``r`` of engines behind an API server (``llm_calc.engines.SERVER_ENGINES``)
  is fitted afterwards, once for all of them, on their time-to-first-token rows, each predicted with
  its engine's constants (:class:`ProfileFits`): the fixed time such a request waits beside its
  prefill and first step. Those rows stay out of the step fit: fitted there without ``r``, their
  fixed time raised SGLang's per-layer overhead in every fold, which made the rows of one H20
  source look better and the others worse (its L4 rows: 18 % held-out error without those rows in
  the fit, 46 % with them). Pooled because no one engine has enough of those rows: on 2026-11-27,
  27 SGLang rows from 13 sources, 6 TensorRT-LLM rows from one, no current vLLM row. Held out by
  source, the pooled ``r`` took the time-to-first-token error from 57.4 % to 27.0 % (35 rows of
  current releases); an ``r`` per engine, tried alike, only to 38 %.
* A serving engine's rows measured before the releases its profile describes
  (``llm_calc.engines.RELEASES_FROM``, :func:`is_superseded`) are estimated, never fitted.
* Leave-one-source-out cross-validation: each source's rows are predicted by a fit on the other
  sources' rows of the same engine; the median absolute error of those predictions is the
  engine's published error. An engine whose rows all come from one source is "fitted, not
  validated"; one without rows takes the pooled fit of every engine's rows ("not fitted").

Rows are ``llm_calc.measurements.Measurement``: the file is read and checked in one place.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from llm_calc.architecture import ModelSpec
from llm_calc.catalog import find_gpu, find_model, shipped_checkpoint
from llm_calc.engines import (
    ENGINES,
    PROFILE_KEYS,
    ROCM_PROFILED_ENGINES,
    SERVER_ENGINES,
    EngineProfile,
    card_vendor,
    copies_kv_cache,
    kv_cache_passes,
    prefill_chunk_tokens,
    releases_described,
    superseded_release,
)
from llm_calc.hardware import PREFILL_MFU, StepCost, _workload, decode_cost, prefill_cost
from llm_calc.measurements import MEASUREMENTS_PATH, SPEED_KINDS, Measurement, default_measurements, load_measurements
from llm_calc.memory import DEFAULT_PREFILL_CHUNK_TOKENS, InferenceSettings, inference_memory
from llm_calc.precision import AS_SHIPPED, DEFAULT_KV_FORMAT, WEIGHT_FORMATS
from llm_calc.quantization import storage_plan

PARALLELISM_MODES = {"none": "tp", "": "tp", "tp": "tp", "ep": "tp", "tp+ep": "tp", "pp": "pp", "layer-split": "pp"}
"""Measured parallelism -> the mode ``llm_calc.hardware`` models. Expert parallelism is costed as
tensor parallelism (see ``llm_calc.hardware``: the same bytes per card under uniform routing, its
all-to-all dispatch and combine charged as the two collectives per layer); llama.cpp's row split
is not modelled, so such rows are left out of the fit (and say so)."""

MIN_ROWS_FOR_OVERHEAD = 3
"""Fewest rows from which an overhead is fitted beside the efficiency."""
COARSEST_COPY_STEP = 0.1
"""First step of the KV-copy efficiency's search: factors of 10 ** 0.1 (26 %)."""
FINEST_COPY_STEP = 0.005
"""Where that search stops: factors of 10 ** 0.005 (1.2 %)."""
MIN_SPREAD_FOR_OVERHEAD = 1.5
"""Ratio of the slowest to the fastest row's memory time below which an overhead cannot be told
from a lower efficiency."""

EFFICIENCY_GRID = tuple(round(0.05 + 0.01 * i, 2) for i in range(96))
"""Efficiencies and MFUs tried: 0.05 to 1.00 by 0.01, then refined to 0.001."""
OVERHEAD_GRID = (0.0, *(1e-7 * (1e5 ** (i / 40)) for i in range(41)))
"""Layer overheads tried: 0 and 0.1 us to 10 ms on a log scale. [s]"""
FINEST_EFFICIENCY_STEP = 0.0005
"""Where the refined search stops: efficiencies resolved to this step. [1]"""
MIN_EFFICIENCY = 0.01
"""Lowest efficiency or MFU the search tries. [1]"""
MOE_OVERHEAD_GRID = (0.0, *(1e-6 * (1e4 ** (i / 20)) for i in range(21)))
"""MoE-layer overheads tried: 0 and 1 us to 10 ms on a log scale. [s]"""
REQUEST_OVERHEAD_GRID = (0.0, *(1e-4 * 1.05**i for i in range(237)))
"""Request overheads tried: 0 and 0.1 ms to 10 s in steps of 5 %. [s]"""


def profile_key(row: Measurement) -> str | None:
    """The ``PROFILE_KEYS`` entry a speed row measures, or ``None`` for an engine without one."""
    if row.engine == "llama.cpp":
        if row.backend == "metal" or (not row.backend and find_gpu(row.gpu).is_apple):
            return "llama.cpp/metal"
        if row.backend == "cpu":
            return "llama.cpp/cpu"
        return "llama.cpp/cuda" if row.backend in ("", "cuda", "rocm") else None
    if row.engine in ROCM_PROFILED_ENGINES and (
        row.backend == "rocm" or (not row.backend and card_vendor(find_gpu(row.gpu)) == "AMD")
    ):
        return f"{row.engine}/rocm"
    return row.engine if row.engine in PROFILE_KEYS else None


def kv_depth_tokens(row: Measurement) -> int:
    """KV-cache depth of the decode steps a row measured: the context before them plus the prompt,
    plus half the output (the cache grows through the run). [tokens]"""
    return row.context_tokens + row.prompt_tokens + row.output_tokens // 2


def load_speed_rows(path: Path | str = MEASUREMENTS_PATH) -> tuple[Measurement, ...]:
    """The speed rows of a measurements file (read and checked by ``llm_calc.measurements``)."""
    return tuple(row for row in load_measurements(path) if row.kind in SPEED_KINDS)


UNIT_SCALES = {"tokens/s": 1.0, "tokens/s/GPU": 1.0, "ms/token": 1e-3, "ms": 1e-3, "s": 1.0}
"""Speed units of the measurements schema: a rate, a rate per card, or a time in seconds or ms."""


@dataclass(frozen=True)
class RowCost:
    """A row's engine-independent step costs and how its measured figure follows from them.

    A run of ``concurrency`` requests of ``prompt_tokens`` in and ``output_tokens`` out lasts, per
    request, ``output x decode step + concurrency x prefill of one prompt``: its own prefill and,
    with continuous batching, one of every other slot's while it decodes (a static batch prefills
    all its prompts once: the same sum). Aggregate rows divide all output tokens by that time
    (``tokens/s/GPU`` also by the cards); a per-sequence decode row under load is that time less
    its own prefill, per output token. Rows without a prompt are pure decode steps (llama-bench tg).
    """

    row: Measurement
    decode: StepCost | None
    prefill: StepCost | None

    def predict(
        self,
        efficiency: float,
        mfu: float,
        overhead_seconds: float,
        moe_overhead_seconds: float = 0.0,
        copy_efficiency: float = 1.0,
        request_overhead_seconds: float = 0.0,
    ) -> float:
        """The row's figure, in its unit, for an engine with these constants (the request
        overhead counts in a time to first token only)."""
        constants = (efficiency, mfu, overhead_seconds, moe_overhead_seconds, copy_efficiency)
        step = self.decode.seconds(*constants) if self.decode else 0.0
        prefill = self.prefill.seconds(*constants) if self.prefill else 0.0
        if self.row.kind == "ttft":
            prefill += request_overhead_seconds
        return _figure(self.row, step, prefill)


def _figure(row: Measurement, step: Any, prefill: Any) -> Any:
    """A row's figure from its decode step and prompt prefill times (floats, or numpy arrays of a
    grid of constants: the same arithmetic)."""
    scale = UNIT_SCALES[row.unit]
    if row.kind == "prefill":
        # the batch's prompts in one pass take `concurrency` times one prompt's compute-bound time
        return row.prompt_tokens / prefill
    if row.kind == "ttft":
        return (prefill + step) / scale
    if row.prompt_tokens and row.output_tokens:
        life = row.output_tokens * step + row.concurrency * prefill
        per_token = (life - prefill) / row.output_tokens
    else:
        life, per_token = step * max(1, row.output_tokens), step
    if row.kind == "aggregate_decode":
        rate = row.concurrency * max(1, row.output_tokens) / life
        return rate / row.gpu_count if row.unit == "tokens/s/GPU" else rate
    return per_token / scale if row.unit == "ms/token" else 1 / per_token


def _weights_settings(row: Measurement, spec: ModelSpec, context_tokens: int) -> InferenceSettings:
    """The inference settings of a row: its precision when it is one of ``WEIGHT_FORMATS``; else a
    checkpoint format (``mxfp4`` for gpt-oss, whose experts alone are MXFP4) sized as shipped
    (``llm_calc.catalog.shipped_checkpoint``) when the model ships in it. Any other precision is
    refused with its name."""
    kv = row.kv_format or DEFAULT_KV_FORMAT
    # generate prefills a prompt in one pass; the serving engines and llama.cpp in chunks
    chunk = prefill_chunk_tokens(row.engine, 1, row.prompt_tokens or context_tokens, DEFAULT_PREFILL_CHUNK_TOKENS)
    if row.precision in WEIGHT_FORMATS:
        return InferenceSettings(
            weight_format=row.precision,
            context_tokens=context_tokens,
            batch=row.concurrency,
            kv_format=kv,
            prefill_chunk_tokens=chunk,
        )
    checkpoint = shipped_checkpoint(row.hf_id)
    method = checkpoint.quantization.method if checkpoint else None
    if checkpoint is None or method != row.precision:
        shipped = f"it ships {method}" if method else "its checkpoint is not stored quantized"
        raise ValueError(f"{row.id}: precision {row.precision!r} is not a weight format and {shipped}")
    return InferenceSettings(
        weight_format=AS_SHIPPED,
        context_tokens=context_tokens,
        batch=row.concurrency,
        storage=storage_plan(spec, checkpoint),
        kv_format=kv,
        prefill_chunk_tokens=chunk,
    )


def row_cost(row: Measurement) -> RowCost:
    """Compute a row's costs. Raises ``ValueError`` for a row the model cannot describe."""
    if row.kind not in SPEED_KINDS:
        raise ValueError(f"{row.id}: kind {row.kind!r} is not a speed")
    if row.unit not in UNIT_SCALES:
        raise ValueError(f"{row.id}: unit {row.unit!r} is not a speed unit")
    if row.parallelism not in PARALLELISM_MODES:
        raise ValueError(f"{row.id}: parallelism {row.parallelism!r} is not modelled")
    if row.kind in ("prefill", "ttft") and row.prompt_tokens < 1:
        raise ValueError(f"{row.id}: a {row.kind} row needs its prompt_tokens")
    if row.kind == "ttft" and row.concurrency > 1:
        raise ValueError(f"{row.id}: time to first token under load includes queueing, which is not modelled")
    parallel = PARALLELISM_MODES[row.parallelism]
    spec = find_model(row.hf_id).spec
    gpu = find_gpu(row.gpu)
    decoding = row.kind in ("decode", "aggregate_decode")
    depth = kv_depth_tokens(row) if decoding else row.context_tokens + row.prompt_tokens
    settings = _weights_settings(row, spec, max(1, depth))
    work = _workload(spec, settings, inference_memory(spec, settings))
    passes = kv_cache_passes(row.engine, spec.query_groups, row.engine_version, row.attention)
    decode = decode_cost(work, gpu, row.gpu_count, parallel, kv_passes=passes) if row.kind != "prefill" else None
    prefill = None
    if row.prompt_tokens and (row.kind != "decode" or row.output_tokens):
        prefill = prefill_cost(work, gpu, row.gpu_count, parallel, row.prompt_tokens)
    return RowCost(row, decode, prefill)


def usable_costs(rows: Iterable[Measurement]) -> tuple[list[RowCost], list[tuple[Measurement, str]]]:
    """The rows the fit can use, and the others with the reason they are left out."""
    costs, skipped = [], []
    for row in rows:
        if row.engine not in ENGINES:
            continue  # llama-quantize, hf-guide, paper: not engines whose speed we model
        if profile_key(row) is None:
            skipped.append((row, f"no profile for {row.engine} with backend {row.backend!r}"))
            continue
        try:
            costs.append(row_cost(row))
        except ValueError as error:
            skipped.append((row, str(error)))
    return costs, skipped


SOURCE_WEIGHT_POWER = 0.5
"""A source of ``n`` rows weighs ``n ** SOURCE_WEIGHT_POWER`` in the fit. Its rows are not
independent (one harness, one machine, one release), so weighing each row alike (power 1) lets a
long table outvote every other source; weighing each source alike (power 0) let one two-row source
of a hybrid Mamba model at concurrency 1,024 move vLLM's bandwidth efficiency from 0.80 to 0.69,
and with it every vLLM estimate. Chosen among 0, 0.5 and a cap of 8 rows by the held-out error
of all speed rows (30.8 %, 28.8 %, 31.5 %; one card 21.2 %, 18.4 %, 18.5 %; several cards 39.7 %,
40.9 %, 50.0 %), measured on 2026-11-27 with data/measurements.csv of that day."""


def _grid_seconds(
    step: StepCost | None, efficiency: Any, mfu: Any, overhead: Any, moe_overhead: Any, copy: Any = 1.0
) -> Any:
    """``StepCost.seconds`` over numpy grids of constants, 0 for a step the row does not take. [s]"""
    return 0.0 if step is None else step.seconds(efficiency, mfu, overhead, moe_overhead, copy)


def _grid_loss(
    costs: list[RowCost], efficiency: Any, mfu: Any, overhead: Any, moe_overhead: Any, copy: Any = 1.0
) -> Any:
    """The fit's loss at every point of a grid of constants: each row's absolute log error (a row
    20 % fast weighs as much as one 20 % slow), a source of ``n`` rows weighing ``sqrt(n)`` in all
    (:data:`SOURCE_WEIGHT_POWER`). Absolute, not squared: one source whose runs disagree with the
    others by several times (an early engine release) pulls the constants no further than one that
    agrees; the fit is a weighted median across sources, not a mean."""
    sources = Counter(source_of(cost.row) for cost in costs)
    total: Any = 0.0
    for cost in costs:
        step = _grid_seconds(cost.decode, efficiency, mfu, overhead, moe_overhead, copy)
        prefill = _grid_seconds(cost.prefill, efficiency, mfu, overhead, moe_overhead, copy)
        miss = np.abs(np.log(_figure(cost.row, step, prefill) / cost.row.measured))
        total = total + miss / sources[source_of(cost.row)] ** (1 - SOURCE_WEIGHT_POWER)
    return total


def _best(
    costs: list[RowCost], efficiencies: Any, mfu: float, overheads: Any, moe_overheads: Any, copy: float = 1.0
) -> tuple[float, tuple[float, float, float]]:
    """The least loss on a grid, and its point ``(efficiency, overhead, MoE overhead)``."""
    e = np.asarray(efficiencies, dtype=float)[:, None, None]
    o = np.asarray(overheads, dtype=float)[None, :, None]
    q = np.asarray(moe_overheads, dtype=float)[None, None, :]
    loss = np.broadcast_to(_grid_loss(costs, e, mfu, o, q, copy), (e.size, o.size, q.size))
    i, j, k = np.unravel_index(int(np.argmin(loss)), loss.shape)
    return float(loss[i, j, k]), (float(e[i, 0, 0]), float(o[0, j, 0]), float(q[0, 0, k]))


def _refine(
    costs: list[RowCost],
    mfu: float,
    start: tuple[float, float, float],
    free_overhead: bool,
    free_moe: bool,
    copy: float = 1.0,
) -> tuple[float, float, float]:
    """A pattern search from a coarse grid point: eleven values of each free constant around the
    best so far (efficiency in steps, overheads in factors, 0 always among them). It moves only to
    a point of strictly lower loss (the loss has flat stretches: a tie would let it wander) and
    halves the steps otherwise, until the efficiency step is below ``FINEST_EFFICIENCY_STEP``."""
    point = start
    current = float(_grid_loss(costs, point[0], mfu, point[1], point[2], copy))
    eff_step, factor_log10 = 0.01, 0.1
    while eff_step >= FINEST_EFFICIENCY_STEP:
        eff, overhead, moe = point
        effs = [e for e in (eff + eff_step * k for k in range(-5, 6)) if MIN_EFFICIENCY <= e <= 1]
        overheads = _scaled(overhead, factor_log10) if free_overhead else [overhead]
        moes = _scaled(moe, factor_log10) if free_moe else [moe]
        loss, best = _best(costs, effs, mfu, overheads, moes, copy)
        if loss < current:
            current, point = loss, best
        else:
            eff_step, factor_log10 = eff_step / 2, factor_log10 / 2
    return point


def _scaled(value: float, factor_log10: float) -> list[float]:
    """``value`` times ten powers of ``factor_log10 x -5..5``, and 0 (an overhead of 0 is a fit too);
    from 0, the smallest positive overheads of the coarse grid."""
    if value == 0:
        return [0.0, *OVERHEAD_GRID[1:4]]
    return [0.0, *(value * 10 ** (factor_log10 * k) for k in range(-5, 6))]


@dataclass(frozen=True)
class Fit:
    """Fitted constants and what they rest on."""

    bandwidth_efficiency: float
    layer_overhead_seconds: float
    prefill_mfu: float
    decode_rows: int
    prefill_rows: int
    note: str
    moe_layer_overhead_seconds: float = 0.0
    request_overhead_seconds: float = 0.0
    """Set on a profile's fit after the fit (:class:`ProfileFits`), pooled over the server engines."""
    kv_copy_efficiency: float = 1.0
    """1 unless the rows copy their KV cache (eager transformers) and can tell how fast (:func:`_search_copy`)."""

    @property
    def constants(self) -> tuple[float, float, float, float, float]:
        """The arguments of ``RowCost.predict`` and ``StepCost.seconds``."""
        return (
            self.bandwidth_efficiency,
            self.prefill_mfu,
            self.layer_overhead_seconds,
            self.moe_layer_overhead_seconds,
            self.kv_copy_efficiency,
        )


def _runs_moe(cost: RowCost) -> bool:
    """Whether the row runs MoE layers (``StepCost.moe_steps``)."""
    step = cost.decode or cost.prefill
    return step is not None and step.moe_steps > 0


def _fit_decode(
    costs: list[RowCost], mfu: float, fallback: Callable[[], float] | None = None, copy: float = 1.0
) -> tuple[float, float, float, str]:
    notes = []
    moe_rows = [c for c in costs if _runs_moe(c)]
    others = [c for c in costs if not _runs_moe(c)]
    moe_identifiable = min(len(moe_rows), len(others)) >= MIN_ROWS_FOR_OVERHEAD
    if moe_rows and others and not moe_identifiable:
        # their extra time cannot be told apart here: kept, it would inflate the overhead every other row pays
        costs = others
        notes.append(
            f"{len(moe_rows)} rows of MoE models left out: their MoE-layer overhead needs "
            f"{MIN_ROWS_FOR_OVERHEAD} of them and {MIN_ROWS_FOR_OVERHEAD} others"
        )
    memory_times = [c.decode.memory_seconds for c in costs if c.decode]
    identifiable = len(costs) >= MIN_ROWS_FOR_OVERHEAD and max(memory_times) >= MIN_SPREAD_FOR_OVERHEAD * min(
        memory_times
    )
    held = fallback() if fallback is not None and not identifiable else 0.0
    overheads = OVERHEAD_GRID if identifiable else (held,)
    moe_overheads = MOE_OVERHEAD_GRID if identifiable and moe_identifiable else (0.0,)
    _, start = _best(costs, EFFICIENCY_GRID, mfu, overheads, moe_overheads, copy)
    eff, overhead, moe = _refine(costs, mfu, start, identifiable, identifiable and moe_identifiable, copy)
    if eff >= EFFICIENCY_GRID[-1] - 10 * FINEST_EFFICIENCY_STEP:  # within a few refinement steps of 1
        notes.append(
            "bandwidth efficiency at its bound of 1: the per-layer overhead dominates these rows' steps, "
            "so they cannot tell the efficiency (a large model's speed is then an upper bound)"
        )
    if not identifiable:
        notes.append(
            "overhead not identifiable from these rows: held at "
            + (f"the pooled fit's {held * 1e6:.1f} µs per layer" if held else "0")
        )
    elif moe_identifiable:
        dates = sorted(c.row.date for c in moe_rows)
        documents = len({source_of(c.row) for c in moe_rows})
        span = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        notes.append(
            f"MoE-layer overhead from {len(moe_rows)} rows of MoE models, "
            f"{documents} source{'' if documents == 1 else 's'}, {span}"
        )
    return eff, overhead, moe, "; ".join(notes)


def _fit_mfu(costs: list[RowCost], efficiency: float, overhead: float, moe_overhead: float, copy: float) -> float:
    grid = np.asarray(EFFICIENCY_GRID)
    mfu = float(grid[int(np.argmin(_grid_loss(costs, efficiency, grid, overhead, moe_overhead, copy)))])
    fine = np.asarray([round(mfu + 0.001 * k, 3) for k in range(-10, 11) if 0.01 <= mfu + 0.001 * k <= 1])
    return float(fine[int(np.argmin(_grid_loss(costs, efficiency, fine, overhead, moe_overhead, copy)))])


def _copy_identifiable(costs: list[RowCost]) -> bool:
    """Whether the rows can tell the KV-copy efficiency: at least ``MIN_ROWS_FOR_OVERHEAD`` of them
    move as many bytes in KV-cache copies as in everything else a step reads."""
    heavy = [c for c in costs if c.decode and c.decode.kv_copy_seconds >= c.decode.memory_seconds]
    return len(heavy) >= MIN_ROWS_FOR_OVERHEAD


def _fit_copy(costs: list[RowCost], efficiency: float, mfu: float, overhead: float, moe_overhead: float) -> float:
    """The KV-copy efficiency of least loss with the other constants held, to 0.001."""
    grid = np.asarray(EFFICIENCY_GRID)
    copy = float(grid[int(np.argmin(_grid_loss(costs, efficiency, mfu, overhead, moe_overhead, grid)))])
    fine = np.asarray([round(copy + 0.001 * k, 3) for k in range(-10, 11) if 0.01 <= copy + 0.001 * k <= 1])
    return float(fine[int(np.argmin(_grid_loss(costs, efficiency, mfu, overhead, moe_overhead, fine)))])


def waits_on_a_server(cost: RowCost) -> bool:
    """A time to first token of an engine behind an API server: it holds the request overhead,
    which the step constants do not model, so only the overhead is fitted on it."""
    return cost.row.kind == "ttft" and cost.row.engine in SERVER_ENGINES


def _search_copy(
    costs: list[RowCost], mfu: float, fallback: Callable[[], float] | None, start: float
) -> tuple[float, tuple[float, float, float, str]]:
    """The KV-copy efficiency of least loss, each tried with the other decode constants fitted
    anew: a pattern search from ``start`` in factors of ``10 ** step``, the step halved when
    neither neighbour is better, down to ``FINEST_COPY_STEP``. Fitting the copies with the others
    held and then the others with the copies held, in turns, stopped short of a planted value
    (0.342 for 0.3): the loss has kinks where a turn moves neither."""

    def scored(copy: float) -> tuple[float, tuple[float, float, float, str]]:
        eff, overhead, moe, note = _fit_decode(costs, mfu, fallback, copy)
        return float(_grid_loss(costs, eff, mfu, overhead, moe, copy)), (eff, overhead, moe, note)

    copy, (loss, constants), step = start, scored(start), COARSEST_COPY_STEP
    while step >= FINEST_COPY_STEP:
        tried = [(c, scored(c)) for c in (copy * 10**-step, copy * 10**step) if MIN_EFFICIENCY <= c <= 1]
        better = [(c, result) for c, result in tried if result[0] < loss]
        if better:
            copy, (loss, constants) = min(better, key=lambda item: item[1][0])
        else:
            step /= 2
    return round(copy, 3), constants


def fit(costs: list[RowCost], fallback: Callable[[], float] | None = None) -> Fit | None:
    """Fit efficiency and overheads on the decode-type rows and MFU on the prefill rows of
    ``costs``; ``None`` without decode-type rows. A server engine's time-to-first-token rows are
    left to :func:`fit_request_overhead`."""
    decode = [c for c in costs if c.row.kind != "prefill" and not waits_on_a_server(c)]
    prefill = [c for c in costs if c.row.kind == "prefill"]
    if not decode:
        return None
    mfu, copy = PREFILL_MFU, 1.0
    eff, overhead, moe, note = _fit_decode(decode, mfu, fallback)
    copies = _copy_identifiable(decode)
    if copies:
        copy = _fit_copy(decode, eff, mfu, overhead, moe)
        copy, (eff, overhead, moe, note) = _search_copy(decode, mfu, fallback, copy)
    if prefill:  # MFU matters to decode only at large batches: one more round settles it
        mfu = _fit_mfu(prefill, eff, overhead, moe, copy)
        eff, overhead, moe, note = _fit_decode(decode, mfu, fallback, copy)
    else:
        note = "; ".join(filter(None, (note, f"no prefill rows: MFU {PREFILL_MFU} (llm_calc.hardware.PREFILL_MFU)")))
    if any(c.decode and c.decode.kv_copy_seconds for c in decode) and not copies:
        note = "; ".join(filter(None, (note, "KV-copy efficiency not identifiable from these rows: held at 1")))
    return Fit(eff, overhead, mfu, len(decode), len(prefill), note, moe, kv_copy_efficiency=copy)


class PooledFits:
    """The pooled fit of every engine's rows, each without one source (``None``: with every row),
    made once and only when asked: the fit a profile without rows of its own takes, and the
    overhead an engine whose own rows cannot tell it from its efficiency (:func:`_fit_decode`) is
    held at. Every engine launches kernels per layer, so 0 would be the one overhead known to be
    wrong; and a held-out source must not set the figure its own estimate uses."""

    def __init__(self, costs: list[RowCost]) -> None:
        self._costs = costs
        self._sources = {source_of(c.row) for c in costs}
        self._fits: dict[str | None, Fit | None] = {}

    def without(self, source: str | None) -> Fit | None:
        if source not in self._sources:  # a source of earlier releases only: nothing to leave out
            source = None
        if source not in self._fits:
            self._fits[source] = fit([c for c in self._costs if source_of(c.row) != source])
        return self._fits[source]

    def overhead(self, source: str | None) -> Callable[[], float]:
        """The layer overhead of :meth:`without`, fitted only if a fit calls for it. [s]"""

        def held() -> float:
            pooled = self.without(source)
            return 0.0 if pooled is None else pooled.layer_overhead_seconds

        return held


def fit_request_overhead(pairs: list[tuple[RowCost, tuple[float, float, float, float]]]) -> float:
    """The request overhead of engines behind an API server: on their time-to-first-token rows,
    each with its engine's constants, the grid value of least absolute log error, a source of ``n``
    rows weighing ``sqrt(n)`` as in the engine fit; 0 without rows. [s]"""
    if not pairs:
        return 0.0
    sources = Counter(source_of(cost.row) for cost, _ in pairs)
    scale = np.array([UNIT_SCALES[cost.row.unit] for cost, _ in pairs])
    base = np.array([cost.predict(*constants) for cost, constants in pairs]) * scale
    measured = np.array([cost.row.measured for cost, _ in pairs]) * scale
    weight = np.array([sources[source_of(cost.row)] ** (SOURCE_WEIGHT_POWER - 1) for cost, _ in pairs])
    grid = np.asarray(REQUEST_OVERHEAD_GRID)[:, None]
    loss = (np.abs(np.log((base + grid) / measured)) * weight).sum(axis=1)
    return float(REQUEST_OVERHEAD_GRID[int(np.argmin(loss))])


class ProfileFits:
    """Every profile's fit on its current rows, whole or without one source, and the request
    overhead of the server engines, whole or without one source: each made once, and shared by
    the profiles table, its cross-validation and the per-row held-out estimates. A fold without a
    source its profile has no rows of is the whole fit, unless the whole fit held its overhead at
    the pooled fit's, which that source's rows of other engines helped set."""

    def __init__(self, costs: list[RowCost]) -> None:
        self.pooled = PooledFits(costs)
        self._rows = {key: [c for c in costs if profile_key(c.row) == key] for key in PROFILE_KEYS}
        self._sources = {key: {source_of(c.row) for c in rows} for key, rows in self._rows.items()}
        self._first_tokens = [c for c in costs if waits_on_a_server(c)]
        self._fits: dict[tuple[str, str | None], Fit | None] = {}
        self._held: set[tuple[str, str | None]] = set()  # folds whose overhead is the pooled fit's
        self._requests: dict[str | None, float] = {}

    def sources(self, key: str) -> set[str]:
        return self._sources[key]

    def fit(self, key: str, without: str | None = None) -> Fit | None:
        """Profile ``key`` fitted on its current rows except ``without``'s; ``None`` without rows."""
        if without is not None and without not in self._sources[key]:
            whole = self.fit(key)
            if (key, None) not in self._held:
                return whole
        if (key, without) not in self._fits:
            training = [c for c in self._rows[key] if source_of(c.row) != without]
            pooled = self.pooled.overhead(without)

            def held() -> float:
                self._held.add((key, without))
                return pooled()

            self._fits[key, without] = fit(training, held)
        return self._fits[key, without]

    def request_overhead(self, without: str | None = None) -> float:
        """The server engines' request overhead fitted without ``without``'s rows, each row
        predicted by its profile fitted without them too (by its whole fit where the source has no
        rows of that profile: a profile whose overhead is held at the pooled fit's would otherwise
        need a pooled fit without every source). [s]"""
        if without not in self._requests:
            pairs = []
            for cost in self._first_tokens:
                key = str(profile_key(cost.row))
                result = self.fit(key, without if without in self._sources[key] else None)
                if source_of(cost.row) != without and result is not None:
                    pairs.append((cost, result.constants))
            self._requests[without] = fit_request_overhead(pairs)
        return self._requests[without]

    def request_overhead_of(self, key: str, without: str | None = None) -> float:
        """``request_overhead`` for a profile of a server engine, 0 for the others. [s]"""
        return self.request_overhead(without) if key.partition("/")[0] in SERVER_ENGINES else 0.0

    def predict(self, cost: RowCost, without: str) -> float | None:
        """``cost``'s figure from its profile fitted without ``without`` (or, for a profile with no
        other rows, the pooled fit of every engine without it); ``None`` if neither exists."""
        key = str(profile_key(cost.row))
        result = self.fit(key, without) or self.pooled.without(without)
        if result is None:
            return None
        return cost.predict(*result.constants, request_overhead_seconds=self.request_overhead_of(key, without))

    def held_out_errors(self, key: str) -> dict[str, float]:
        """Leave-one-source-out: each current decode-type row of profile ``key``, its signed error
        from a fit on the other sources' rows of the profile (empty with a single source)."""
        if len(self._sources[key]) < 2:
            return {}
        errors: dict[str, float] = {}
        for cost in self._rows[key]:
            result = self.fit(key, source_of(cost.row))
            if cost.row.kind != "prefill" and result is not None:
                request = self.request_overhead_of(key, source_of(cost.row))
                errors[cost.row.id] = (
                    cost.predict(*result.constants, request_overhead_seconds=request) / cost.row.measured - 1
                )
        return errors


def is_superseded(row: Measurement) -> bool:
    """Whether ``row`` ran an engine release older than its profile describes
    (``llm_calc.engines.RELEASES_FROM``): kept and estimated, never fitted."""
    return superseded_release(row.engine, row.date)


def source_of(row: Measurement) -> str:
    """The document a row comes from: its source without a ``#`` fragment. Rows of one page (a
    cookbook's benchmark blocks, anchored line by line) share a harness, a host and a day, so the
    fit weighs them as one source and cross-validation holds them out together: a block of the
    same page in the fit would make a held-out estimate look better than it is."""
    return row.source.split("#", 1)[0]


def _current(costs: list[RowCost]) -> list[RowCost]:
    return [c for c in costs if not is_superseded(c.row)]


def fit_profiles(rows: Iterable[Measurement]) -> tuple[list[dict[str, Any]], list[tuple[Measurement, str]]]:
    """Every profile of ``PROFILE_KEYS`` as a row of ``data/engine_profiles.csv``, and the rows
    left out with their reasons (rows of superseded releases among them: :func:`is_superseded`)."""
    every, skipped = usable_costs(rows)
    costs = _current(every)
    skipped += [
        (
            c.row,
            f"measured {c.row.date}: its profile describes {c.row.engine} {releases_described(c.row.engine)}",
        )
        for c in every
        if is_superseded(c.row)
    ]
    fits = ProfileFits(costs)
    table = []
    for key in PROFILE_KEYS:
        mine = [c for c in costs if profile_key(c.row) == key]
        result = fits.fit(key)
        sources = sorted(fits.sources(key))
        request = fits.request_overhead_of(key)
        if result is None:
            whole = fits.pooled.without(None)
            if whole is None:
                raise ValueError("no speed rows to fit any engine on")
            copies = copies_kv_cache(key.partition("/")[0])  # the pooled copy efficiency is transformers'
            whole = dataclasses.replace(
                whole, request_overhead_seconds=request, kv_copy_efficiency=whole.kv_copy_efficiency if copies else 1.0
            )
            table.append(_profile_row(key, whole, "not fitted", 0, 0, None, 0, "pooled fit of every engine's rows"))
            continue
        old = sum(1 for c in every if profile_key(c.row) == key and is_superseded(c.row))
        notes = [result.note]
        if old:
            kept = f"{releases_described(mine[0].row.engine)}: {old} rows of earlier releases kept, not fitted"
            notes.insert(0, kept)
        if request:
            notes.append(_request_note(costs))
        result = dataclasses.replace(result, note="; ".join(filter(None, notes)), request_overhead_seconds=request)
        errors = fits.held_out_errors(key)
        cv = statistics.median(abs(e) for e in errors.values()) if errors else None
        status = "validated" if cv is not None else "fitted, not validated"
        table.append(_profile_row(key, result, status, len(mine), len(sources), cv, len(errors), " ".join(sources)))
    return table, skipped


def _request_note(costs: list[RowCost]) -> str:
    """What the request overhead rests on: the server engines' time-to-first-token rows."""
    rows = [c for c in costs if waits_on_a_server(c)]
    by_engine = Counter(c.row.engine for c in rows)
    engines = ", ".join(f"{count} {engine}" for engine, count in sorted(by_engine.items()))
    documents = len({source_of(c.row) for c in rows})
    return f"request overhead pooled over the server engines' time-to-first-token rows ({engines}; {documents} sources)"


def _profile_row(
    key: str, result: Fit, status: str, rows: int, sources: int, cv: float | None, cv_rows: int, source: str
) -> dict[str, Any]:
    note = result.note if status != "not fitted" else f"no rows of its own; {result.note}".rstrip("; ")
    return {
        "profile": key,
        "bandwidth_efficiency": f"{result.bandwidth_efficiency:.3f}",
        "layer_overhead_seconds": f"{result.layer_overhead_seconds:.7f}",
        "moe_layer_overhead_seconds": f"{result.moe_layer_overhead_seconds:.7f}",
        "prefill_mfu": f"{result.prefill_mfu:.3f}",
        "request_overhead_seconds": f"{result.request_overhead_seconds:.4f}",
        "kv_copy_efficiency": f"{result.kv_copy_efficiency:.3f}",
        "status": status,
        "fit_rows": rows,
        "sources": sources,
        "cv_median_abs_error": "" if cv is None else f"{cv:.4f}",
        "source": source,
        "cv_rows": cv_rows,
        "note": note,
    }


def profile_from_fit(key: str, result: Fit, status: str = "fitted, not validated") -> EngineProfile:
    """An ``EngineProfile`` from a fit (tests and cross-validation use it)."""
    return EngineProfile(
        key=key,
        bandwidth_efficiency=result.bandwidth_efficiency,
        layer_overhead_seconds=result.layer_overhead_seconds,
        moe_layer_overhead_seconds=result.moe_layer_overhead_seconds,
        prefill_mfu=result.prefill_mfu,
        status=status,
        fit_rows=result.decode_rows + result.prefill_rows,
        sources=0,
        cv_median_abs_error=None,
        source="fit",
        request_overhead_seconds=result.request_overhead_seconds,
        kv_copy_efficiency=result.kv_copy_efficiency,
    )


def cross_validated_predictions(rows: Iterable[Measurement]) -> dict[str, float]:
    """Each usable row's estimate from constants fitted without its source: on the other sources'
    rows of its engine, or, where its engine has no other source, on every other source's rows
    (the pooled fit). Rows of superseded releases (:func:`is_superseded`) are estimated too, as
    today's profile would, but never fitted on. What the Accuracy page and the per-row baseline
    score, so that no row is judged by constants fitted on itself."""
    every, _ = usable_costs(rows)
    fits = ProfileFits(_current(every))
    predictions: dict[str, float] = {}
    for cost in every:
        figure = fits.predict(cost, source_of(cost.row))
        if figure is not None:
            predictions[cost.row.id] = figure
    return predictions


@cache
def default_cross_validated_predictions() -> dict[str, float]:
    """``cross_validated_predictions`` of the shipped measurements, computed once per process."""
    return cross_validated_predictions(row for row in default_measurements() if row.kind in SPEED_KINDS)


def predict_row(row: Measurement, profile: EngineProfile) -> float:
    """Our estimate of a speed row, in its unit, with an engine profile."""
    return row_cost(row).predict(*profile.constants, request_overhead_seconds=profile.request_overhead_seconds)


@cache
def most_users_measured() -> dict[str, int]:
    """Per profile key, the most sequences any of its shipped speed rows ran at once: where it is 1,
    no measurement tests its estimates beyond one user. Computed once per process."""
    most: dict[str, int] = {}
    for row in default_measurements():
        key = profile_key(row) if row.kind in SPEED_KINDS else None
        if key is not None:
            most[key] = max(most.get(key, 0), row.concurrency)
    return most
