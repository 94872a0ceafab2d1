"""How accurate is this? Our estimates beside published measurements.

``data/measurements.csv`` holds public measurements, one row each with its source: GGUF file sizes
from llama.cpp, decode speeds from llama.cpp benchmark tables, peak GPU memory from the Hugging
Face optimization guide, and the QLoRA paper's "fits on one GPU" claims. For every row we compute
the same quantity with ``llm_calc`` and report the error.

Calibration is honest: rows marked ``used_for_fit`` set a constant (the GGUF bits per weight come
from one table; the decode efficiency can be fitted on a few rows). Errors are reported separately
for those rows and for the held-out rest, and only held-out rows count toward the figures we
publish.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from llm_calc.catalog import (
    DATA_DIR,
    CatalogError,
    _boolean,
    _one_of,
    _positive,
    _read_rows,
    _text,
    _whole,
    find_gpu,
    find_model,
)
from llm_calc.hardware import DECODE_BANDWIDTH_EFFICIENCY, speed
from llm_calc.memory import InferenceSettings, inference_memory, weights_bytes
from llm_calc.training import LORA_TARGETS, TrainingSetup, training_memory
from llm_calc.units import GB, GIB

KINDS = ("weights_file", "decode", "prefill", "peak_memory", "training_fits")
UNITS = {"GiB": GIB, "GB": GB, "tokens/s": 1}

MEMORY_ERROR_TARGET = 0.05
"""Median absolute error we promise for memory and file sizes (held-out rows)."""
DECODE_ERROR_TARGET = 0.25
"""Median absolute error we promise for decode speed (held-out rows)."""
PREFILL_ERROR_TARGET = 0.35
"""Median absolute error we promise for prompt processing (a compute roofline at a fixed MFU;
the catalog's Apple TFLOPS are derived, not published)."""
OUTLIER_FACTOR = 2.0
"""A row off by more than this factor must say why in its note."""


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
        """(predicted − measured) / measured; for ``at_most`` rows 0 when we stay under the bound."""
        if self.measurement.bound == "at_most":
            return max(0.0, self.predicted / self.measurement.measured - 1)
        return self.predicted / self.measurement.measured - 1

    @property
    def ratio(self) -> float:
        return self.predicted / self.measurement.measured


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
    "measured": _positive,
    "unit": _one_of(tuple(UNITS)),
    "bound": _one_of(("exact", "at_most")),
    "used_for_fit": _boolean,
    "engine": _text,
    "note": str.strip,
    "source": _text,
}


def load_measurements(path: Path | str = DATA_DIR / "measurements.csv") -> tuple[Measurement, ...]:
    """Read and validate the measurements. Raises :class:`~llm_calc.catalog.CatalogError`."""
    path = Path(path)
    rows = []
    for number, row in _read_rows(path, COLUMNS):
        if row["kind"] in ("decode", "prefill") and not row["gpu"]:
            raise CatalogError(f"{path.name} row {number}, column gpu: a speed needs its device")
        rows.append(Measurement(**row))
    return tuple(rows)


def predict(row: Measurement, efficiency: float = DECODE_BANDWIDTH_EFFICIENCY) -> float:
    """Our estimate of ``row`` in its unit."""
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
        )
        return training_memory(spec, setup).total_bytes / scale
    settings = InferenceSettings(
        weight_format=row.precision, context_tokens=max(1, row.context_tokens), batch=row.batch
    )
    memory = inference_memory(spec, settings)
    if row.kind == "peak_memory":  # max_memory_allocated excludes the CUDA context
        return (memory.total_bytes - memory.overhead_bytes) / scale
    result = speed(spec, settings, memory, find_gpu(row.gpu), 1, efficiency)
    if row.kind == "prefill":  # pp512: a 512-token prompt processed at once
        return settings.context_tokens / result.prefill_seconds
    return result.decode_tokens_per_s


def compare(rows: tuple[Measurement, ...], efficiency: float = DECODE_BANDWIDTH_EFFICIENCY) -> list[Comparison]:
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
    kind: str
    held_out_rows: int
    held_out_median_abs_error: float | None
    fit_rows: int
    fit_median_abs_error: float | None


def summarize(comparisons: list[Comparison]) -> list[ErrorSummary]:
    """Median absolute error per kind, held-out rows apart from the rows constants were fitted on."""
    summaries = []
    for kind in KINDS:
        rows = [c for c in comparisons if c.measurement.kind == kind]
        held = [abs(c.error) for c in rows if not c.measurement.used_for_fit]
        fit = [abs(c.error) for c in rows if c.measurement.used_for_fit]
        summaries.append(
            ErrorSummary(
                kind,
                len(held),
                statistics.median(held) if held else None,
                len(fit),
                statistics.median(fit) if fit else None,
            )
        )
    return summaries


@cache
def default_measurements() -> tuple[Measurement, ...]:
    return load_measurements()
