"""How accurate is this? Our estimates beside published measurements.

``data/measurements.csv`` holds public measurements, one row each with its source: GGUF file sizes
from llama.cpp, decode and prompt-processing speeds from llama.cpp benchmark tables, peak GPU
memory from the Hugging Face optimization guide, and the QLoRA paper's "fits on one GPU" claims.
For every row we compute the same quantity with ``llm_calc`` and report the error.

Two kinds of row:

- ``exact`` rows are measurements of the quantity we estimate; their error is
  (predicted − measured) / measured, and their median absolute error is what we publish.
- ``at_most`` rows are claims that something fits on a card (the QLoRA paper). The bound is the
  card's usable memory from ``data/gpus.csv`` (never a number typed into the measurements file);
  we report the signed error of our estimate against that bound and a verdict — does our
  estimate also say it fits? — and count agreements. They are not measurements of the memory a
  run used, so they stay out of the median-error figures.

Calibration is honest: rows marked ``used_for_fit`` set a constant (the GGUF bits per weight come
from one table; the decode efficiency is fitted on a few rows). Their errors are reported apart
from the held-out rest, and only held-out rows count toward the figures we publish.

The CI gate is per row: ``data/accuracy_baseline.csv`` records every row's estimate and error, and
a test fails when any row gets worse than recorded (:func:`regressions`). The baseline is rewritten,
with a reason, by ``scripts/update_accuracy_baseline.py``. The error targets below are goals,
reported as met or not met on the Accuracy page; they do not gate CI.
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from llm_calc.catalog import (
    DATA_DIR,
    CatalogError,
    _boolean,
    _one_of,
    _optional_positive,
    _read_rows,
    _text,
    _whole,
    find_gpu,
    find_model,
)
from llm_calc.engine_fit import SPEED_KINDS, default_cross_validated_predictions, predict_row
from llm_calc.engine_fit import speed_row as engine_speed_row
from llm_calc.engines import default_profiles
from llm_calc.hardware import usable_memory_bytes
from llm_calc.memory import InferenceSettings, inference_memory, weights_bytes
from llm_calc.training import LORA_TARGETS, TrainingSetup, training_memory
from llm_calc.units import GB, GIB

KINDS = ("weights_file", "decode", "prefill", "peak_memory", "training_fits")
KIND_LABELS = {
    "weights_file": "Weight file size",
    "decode": "Decode speed",
    "prefill": "Prompt processing",
    "peak_memory": "Peak GPU memory",
    "training_fits": "Fits on one GPU (training)",
}
"""How the page and the README name each kind of row."""
UNITS = {"GiB": GIB, "GB": GB, "tokens/s": 1}
"""A row's unit is the unit its source prints (llama.cpp's "Original size" column is decimal GB,
its size column GiB); we show every memory figure in GiB (:attr:`Comparison.shown_unit`)."""
BOUNDS = ("exact", "at_most")

MEMORY_ERROR_TARGET = 0.05
"""Goal: median absolute error for memory and file sizes (held-out rows)."""
DECODE_ERROR_TARGET = 0.25
"""Goal: median absolute error for decode speed (held-out rows)."""
PREFILL_ERROR_TARGET = 0.35
"""Goal: median absolute error for prompt processing (a compute roofline at a fixed MFU;
the catalog's Apple TFLOPS are derived, not published)."""
TARGETS = {
    "weights_file": MEMORY_ERROR_TARGET,
    "peak_memory": MEMORY_ERROR_TARGET,
    "decode": DECODE_ERROR_TARGET,
    "prefill": PREFILL_ERROR_TARGET,
}
"""Median-error goal of each kind measured by ``exact`` rows; ``training_fits`` has a verdict
goal instead: every claim agrees."""
OUTLIER_FACTOR = 2.0
"""A row off by more than this factor must say why in its note."""

BASELINE_PATH = DATA_DIR / "accuracy_baseline.csv"
"""Every row's estimate and error as last accepted: the CI gate."""
BASELINE_TOLERANCE = 1e-6
"""How much a row's miss may grow before it counts as worse: a float tolerance (a ten-thousandth
of a percentage point), far below any real change and far above rounding in the file."""


@dataclass(frozen=True)
class Measurement:
    id: str
    kind: str
    hf_id: str
    precision: str
    gpu: str
    context_tokens: int
    batch: int
    measured: float
    """The published value in ``unit``; for ``at_most`` rows the card's usable memory."""
    unit: str
    bound: str
    used_for_fit: bool
    engine: str
    note: str
    source: str


@dataclass(frozen=True)
class Comparison:
    """One measurement and our estimate of it, in the measurement's unit."""

    measurement: Measurement
    predicted: float

    @property
    def error(self) -> float:
        """(predicted − measured) / measured, signed; for ``at_most`` rows, against the bound."""
        return self.predicted / self.measurement.measured - 1

    @property
    def ratio(self) -> float:
        return self.predicted / self.measurement.measured

    @property
    def is_bound(self) -> bool:
        return self.measurement.bound == "at_most"

    @property
    def fits(self) -> bool | None:
        """For an ``at_most`` row: does our estimate stay within the card? ``None`` otherwise."""
        return self.predicted <= self.measurement.measured if self.is_bound else None

    @property
    def agrees(self) -> bool | None:
        """For an ``at_most`` row: does our verdict match the published claim (it fits)?"""
        return self.fits

    @property
    def miss(self) -> float:
        """What the CI gate watches, never below 0: the absolute error of an ``exact`` row; for an
        ``at_most`` row, how far our estimate overshoots a bound the source says holds (0 while
        we agree it fits — how far under the bound we are is not measured by the source)."""
        return max(0.0, self.error) if self.is_bound else abs(self.error)

    @property
    def shown_unit(self) -> str:
        """The unit the page and README show: GiB for every memory figure."""
        return "GiB" if self.measurement.unit in ("GiB", "GB") else self.measurement.unit

    def shown(self, value: float) -> float:
        """``value`` (in the row's unit) converted to :attr:`shown_unit`."""
        return value * UNITS[self.measurement.unit] / UNITS[self.shown_unit]


def _known_model(value: str) -> str:
    find_model(value)  # ValueError names the catalog
    return value


def _optional_gpu(value: str) -> str:
    if value.strip():
        find_gpu(value)
    return value.strip()


COLUMNS: dict[str, Callable[[str], Any]] = {
    "id": _text,
    "kind": _one_of(KINDS),
    "hf_id": _known_model,
    "precision": _text,
    "gpu": _optional_gpu,
    "context_tokens": _whole,
    "batch": _whole,
    "measured": _optional_positive,
    "unit": _one_of(tuple(UNITS)),
    "bound": _one_of(BOUNDS),
    "used_for_fit": _boolean,
    "engine": _text,
    "note": str.strip,
    "source": _text,
}


def load_measurements(path: Path | str = DATA_DIR / "measurements.csv") -> tuple[Measurement, ...]:
    """Read and validate the measurements. Raises :class:`~llm_calc.catalog.CatalogError`.

    An ``at_most`` row names its card and leaves ``measured`` empty: the bound is the card's
    usable memory from the GPU catalog, in the row's unit, so it cannot drift from the catalog."""
    path = Path(path)
    rows = []
    seen: set[str] = set()
    for number, row in _read_rows(path, COLUMNS):
        where = f"{path.name} row {number}"
        if row["id"] in seen:
            raise CatalogError(f"{where}, column id: {row['id']!r} appears twice")
        seen.add(row["id"])
        if row["kind"] in ("decode", "prefill") and not row["gpu"]:
            raise CatalogError(f"{where}, column gpu: a speed needs its device")
        if row["bound"] == "at_most":
            if not row["gpu"]:
                raise CatalogError(f"{where}, column gpu: a bound needs the card whose memory it is")
            if row["measured"] is not None:
                raise CatalogError(f"{where}, column measured: leave it empty, the bound is the card's memory")
            if row["unit"] not in ("GiB", "GB"):
                raise CatalogError(f"{where}, column unit: a memory bound needs GiB or GB")
            row["measured"] = usable_memory_bytes(find_gpu(row["gpu"])) / UNITS[row["unit"]]
        elif row["measured"] is None:
            raise CatalogError(f"{where}, column measured: expected a positive number, got an empty cell")
        rows.append(Measurement(**row))
    return tuple(rows)


def predict(row: Measurement, efficiency: float | None = None) -> float:
    """Our estimate of ``row`` in its unit. A speed row is estimated with its engine's constants
    fitted without the row's source (``llm_calc.engine_fit.cross_validated_predictions``); with
    ``efficiency``, with the shipped profile and that bandwidth efficiency instead (a what-if)."""
    if row.kind in SPEED_KINDS:
        held_out = default_cross_validated_predictions().get(row.id)
        if held_out is not None and efficiency is None:
            return held_out
        speed_row = engine_speed_row(row)
        profile = default_profiles()[speed_row.profile_key or ""]
        if efficiency is not None:
            profile = dataclasses.replace(profile, bandwidth_efficiency=efficiency)
        return predict_row(speed_row, profile)
    spec = find_model(row.hf_id).spec
    scale = UNITS[row.unit]
    if row.kind == "weights_file":
        return weights_bytes(spec, row.precision) / scale
    if row.kind == "training_fits":
        setup = TrainingSetup(
            method=row.precision,
            seq_len=row.context_tokens,
            micro_batch=row.batch,
            checkpointing=True,
            lora_rank=64,
            lora_targets=LORA_TARGETS,
            optimizer_impl="fused",  # the QLoRA paper's paged AdamW is bitsandbytes' own kernel: no foreach temporaries
        )
        return training_memory(spec, setup).total_bytes / scale
    settings = InferenceSettings(
        weight_format=row.precision, context_tokens=max(1, row.context_tokens), batch=row.batch
    )
    memory = inference_memory(spec, settings)
    if row.kind == "peak_memory":  # max_memory_allocated excludes the CUDA context
        return (memory.total_bytes - memory.overhead_bytes) / scale
    raise ValueError(f"{row.id}: kind {row.kind!r} is not estimated")


def compare(rows: tuple[Measurement, ...], efficiency: float | None = None) -> list[Comparison]:
    return [Comparison(row, predict(row, efficiency)) for row in rows]


def fitted_efficiency(rows: tuple[Measurement, ...]) -> float:
    """The decode efficiency that makes the ``used_for_fit`` decode rows right on median."""
    fit = [r for r in rows if r.kind == "decode" and r.used_for_fit]
    if not fit:
        raise ValueError("no decode rows are marked used_for_fit")
    # speed is proportional to efficiency while bandwidth-bound: scale from efficiency 1
    return statistics.median(r.measured / predict(r, efficiency=1.0) for r in fit)


@dataclass(frozen=True)
class ErrorSummary:
    """The figures of one kind of row. Medians are over ``exact`` rows only."""

    kind: str
    held_out_rows: int
    held_out_median_abs_error: float | None
    held_out_min_error: float | None
    """Most negative signed error among the held-out rows (we under-estimate most)."""
    held_out_max_error: float | None
    fit_rows: int
    fit_median_abs_error: float | None
    bound_rows: int
    """``at_most`` rows: claims checked by verdict, not by error."""
    bound_agreements: int
    target: float | None
    """The median-error goal, or ``None`` for a kind judged by verdicts."""

    @property
    def target_met(self) -> bool | None:
        """Goal met? Median within target, or every verdict agreeing; ``None`` with no rows."""
        if self.target is None:
            return self.bound_agreements == self.bound_rows if self.bound_rows else None
        if self.held_out_median_abs_error is None:
            return None
        return self.held_out_median_abs_error <= self.target


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(comparisons: list[Comparison]) -> list[ErrorSummary]:
    """Per kind: median absolute error of held-out ``exact`` rows, apart from the rows constants
    were fitted on; ``at_most`` rows counted as verdicts."""
    summaries = []
    for kind in KINDS:
        rows = [c for c in comparisons if c.measurement.kind == kind]
        exact = [c for c in rows if not c.is_bound]
        held = [c.error for c in exact if not c.measurement.used_for_fit]
        fit = [abs(c.error) for c in exact if c.measurement.used_for_fit]
        bounds = [c for c in rows if c.is_bound]
        summaries.append(
            ErrorSummary(
                kind=kind,
                held_out_rows=len(held),
                held_out_median_abs_error=_median([abs(e) for e in held]),
                held_out_min_error=min(held) if held else None,
                held_out_max_error=max(held) if held else None,
                fit_rows=len(fit),
                fit_median_abs_error=_median(fit),
                bound_rows=len(bounds),
                bound_agreements=sum(1 for c in bounds if c.agrees),
                target=TARGETS.get(kind),
            )
        )
    return summaries


@cache
def default_measurements() -> tuple[Measurement, ...]:
    return load_measurements()


# --- the per-row baseline: the CI gate -------------------------------------------------------

BASELINE_COLUMNS = ("id", "kind", "predicted", "unit", "error", "miss", "reason")


@dataclass(frozen=True)
class BaselineRow:
    """One row's estimate and error as last accepted, and why it was accepted."""

    id: str
    kind: str
    predicted: float
    unit: str
    error: float
    miss: float
    """The gated figure: :attr:`Comparison.miss`."""
    reason: str


def load_baseline(path: Path | str = BASELINE_PATH) -> dict[str, BaselineRow]:
    """Read the baseline. Raises :class:`~llm_calc.catalog.CatalogError`."""
    path = Path(path)
    parsers: dict[str, Callable[[str], Any]] = {
        "id": _text,
        "kind": _one_of(KINDS),
        "predicted": float,
        "unit": _one_of(tuple(UNITS)),
        "error": float,
        "miss": float,
        "reason": _text,
    }
    rows: dict[str, BaselineRow] = {}
    for number, row in _read_rows(path, parsers):
        if row["id"] in rows:
            raise CatalogError(f"{path.name} row {number}, column id: {row['id']!r} appears twice")
        rows[row["id"]] = BaselineRow(**row)
    return rows


def regressions(comparisons: Iterable[Comparison], baseline: dict[str, BaselineRow]) -> list[str]:
    """Why the gate fails, one line per row: a row whose miss grew beyond
    :data:`BASELINE_TOLERANCE`, a row missing from the baseline, a baseline row with no
    measurement. Empty when the gate passes."""
    problems = []
    current = {c.measurement.id: c for c in comparisons}
    for row_id, comparison in current.items():
        old = baseline.get(row_id)
        if old is None:
            problems.append(f"{row_id}: not in the baseline; run scripts/update_accuracy_baseline.py")
        elif comparison.miss > old.miss + BASELINE_TOLERANCE:
            problems.append(
                f"{row_id}: error {comparison.error:+.4%} is worse than the baseline's {old.error:+.4%} "
                f"(miss {comparison.miss:.4%} > {old.miss:.4%}); fix it, or accept it with "
                "scripts/update_accuracy_baseline.py --reason '...'"
            )
    for row_id in baseline.keys() - current.keys():
        problems.append(f"{row_id}: in the baseline but no longer measured; rewrite the baseline")
    return problems


def improvements(comparisons: Iterable[Comparison], baseline: dict[str, BaselineRow]) -> list[str]:
    """Rows whose miss shrank since the baseline (worth recording with the update script)."""
    return [
        f"{c.measurement.id}: miss {c.miss:.4%} < baseline {baseline[c.measurement.id].miss:.4%}"
        for c in comparisons
        if c.measurement.id in baseline and c.miss < baseline[c.measurement.id].miss - BASELINE_TOLERANCE
    ]


def new_baseline(comparisons: Iterable[Comparison], old: dict[str, BaselineRow], reason: str) -> list[BaselineRow]:
    """The baseline rewritten from ``comparisons``. Rows that are new or got worse take ``reason``
    (which must then say why); rows unchanged or better keep the reason they were accepted with."""
    reason = reason.strip()
    rows = []
    for c in comparisons:
        before = old.get(c.measurement.id)
        worse = before is None or c.miss > before.miss + BASELINE_TOLERANCE
        if worse and not reason:
            raise ValueError(f"{c.measurement.id} is new or worse than the baseline: give a reason")
        rows.append(
            BaselineRow(
                id=c.measurement.id,
                kind=c.measurement.kind,
                predicted=c.predicted,
                unit=c.measurement.unit,
                error=c.error,
                miss=c.miss,
                reason=reason if worse else before.reason,  # type: ignore[union-attr]
            )
        )
    return rows


def write_baseline(rows: Iterable[BaselineRow], path: Path | str = BASELINE_PATH) -> None:
    """Write the baseline, numbers to ten significant digits (far finer than the tolerance)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BASELINE_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.id,
                    row.kind,
                    f"{row.predicted:.10g}",
                    row.unit,
                    f"{row.error:.10g}",
                    f"{row.miss:.10g}",
                    row.reason,
                ]
            )
