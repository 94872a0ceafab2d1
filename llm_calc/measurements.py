"""The measurements file, ``data/measurements.csv``: its schema (issue 12 defines it once, for every
kind of row), the checks each cell and each row pass, and the rows as :class:`Measurement`.

The Accuracy page (``llm_calc.accuracy``) puts our estimate beside every row; the engine fit
(``llm_calc.engine_fit``) fits each engine's constants on the speed rows. Both read the rows here,
so a column is named, parsed and checked in one place.
"""

from __future__ import annotations

import datetime
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
    _optional_positive,
    _read_rows,
    _text,
    _whole,
    find_gpu,
)
from llm_calc.engines import ATTENTION_IMPLEMENTATIONS, kv_cache_passes
from llm_calc.hardware import usable_memory_bytes
from llm_calc.precision import kv_format
from llm_calc.training import TrainingSetup, parse_setup_text
from llm_calc.units import GB, GIB

MEASUREMENTS_PATH = DATA_DIR / "measurements.csv"
"""The shipped measurements."""
WEB_SCHEMES = ("https://", "http://")
"""How a published source's URL starts."""
OWN_MEASUREMENTS_DIR = DATA_DIR / "own_measurements"
"""Reports of our own runs (``python -m llm_calc measure --json``, one JSON line per run): the
``source`` of the rows they gave, as a path from the repository's root."""

KINDS = (
    "weights_file",
    "decode",
    "aggregate_decode",
    "prefill",
    "ttft",
    "peak_memory",
    "training_fits",
    "train_step",
)
"""Every kind of row ``data/measurements.csv`` may hold (issue 12 defines them once)."""
SPEED_KINDS = ("decode", "aggregate_decode", "prefill", "ttft")
"""Kinds of row that measure speed: tokens/s per sequence, tokens/s of all sequences, prompt
tokens/s, time to the first token."""
UNITS = {"GiB": GIB, "GB": GB, "tokens/s": 1, "tokens/s/GPU": 1, "ms/token": 1, "s": 1, "ms": 1e-3}
"""A row's unit is the unit its source prints (llama.cpp's "Original size" column is decimal GB,
its size column GiB; serving benchmarks print milliseconds, time per output token and, for several
cards, output tokens/s *per GPU*); we show every memory figure in GiB and every time in seconds
(:attr:`Comparison.shown_unit`). The value is each unit's size in the shown unit's terms."""
RATE_UNITS = ("tokens/s", "tokens/s/GPU")
"""Speed units of a rate, where more is faster; the other speed units are times, where less is."""
UNIT_KINDS = {
    "GiB": ("weights_file", "peak_memory", "training_fits"),
    "GB": ("weights_file", "peak_memory", "training_fits"),
    "tokens/s": ("decode", "aggregate_decode", "prefill"),
    "tokens/s/GPU": ("aggregate_decode",),
    "ms/token": ("decode",),
    "s": ("ttft", "train_step"),
    "ms": ("ttft", "train_step"),
}
"""The kinds each unit may measure: ``tokens/s/GPU`` is an aggregate divided by the card count (multiply
by ``gpu_count`` for the total); ``ms/token`` is a decode speed given as time per output token
(vLLM's and SGLang's TPOT: one sequence, first token excluded)."""
BOUNDS = ("exact", "at_most")
ENGINES = (
    "llama.cpp",
    "mlx",
    "vllm",
    "sglang",
    "tensorrt-llm",
    "transformers",
    "transformers-compiled",
    "llama-quantize",
    "hf-guide",
    "paper",
)
"""What produced a row: ``transformers`` is eager ``generate``, ``transformers-compiled`` a static
cache with ``torch.compile``; ``llama-quantize`` a file size, ``hf-guide`` / ``paper`` a figure or
claim printed in a guide or paper."""
BACKENDS = ("cuda", "metal", "cpu", "rocm", "vulkan", "")
INTERCONNECTS = ("", "nvlink", "infinity-fabric", "pcie3", "pcie4", "pcie5", "infiniband", "ethernet", "unknown")
"""The link between cards: empty for one card; ``infinity-fabric`` is AMD's card-to-card link on
8-GPU Instinct boards (NVLink's counterpart); ``unknown`` where a source runs several cards and
does not say how they are linked, nor does their form factor (we never guess it)."""
PARALLELISMS = ("none", "tp", "pp", "ep", "tp+ep", "layer-split", "row-split")
"""How several cards share the model: ``layer-split`` is llama.cpp's default ``-sm layer`` (whole
layers per card, one after another), ``row-split`` its ``-sm row`` (each matrix split by rows)."""


@dataclass(frozen=True)
class Measurement:
    """One row of ``data/measurements.csv``; the columns of issue 12, in their order.

    Text the source does not give is ``""``; counts are integers."""

    id: str
    kind: str
    hf_id: str
    precision: str
    engine: str
    engine_version: str
    backend: str
    gpu: str
    """A name from ``data/gpus.csv``; ``""`` for a row without a device (a file size)."""
    gpu_count: int
    """Cards the run used; 0 exactly when ``gpu`` is empty."""
    interconnect: str
    parallelism: str
    concurrency: int
    """Sequences in flight (batch 1 = 1); for training rows the micro-batch."""
    prompt_tokens: int
    """The workload's prompt (llama-bench pp512: 512); for training rows the sequence length."""
    output_tokens: int
    """Tokens generated per sequence (llama-bench tg128: 128)."""
    context_tokens: int
    """KV-cache depth at which the speed was measured (llama-bench ``-d``), 0 if none."""
    measured: float
    """The published value in ``unit``; for ``at_most`` rows the card's usable memory."""
    unit: str
    bound: str
    used_for_fit: bool
    date: str
    """YYYY-MM or YYYY-MM-DD of the measurement or publication."""
    source: str
    note: str
    driver: str
    library_versions: str
    kv_format: str = ""
    """The KV cache's element format where the run set one (``--kv-cache-dtype fp8``, TensorRT-LLM's
    ``--fp8_kv_cache``): a name of ``llm_calc.precision.KV_FORMATS``; ``""`` for the engines'
    default, 16-bit."""
    training_setup: str = ""
    """A training row's setup as ``llm_calc.training.setup_text`` writes it (method, optimizer,
    precision, checkpointing, LoRA); its sequence length is ``prompt_tokens``, its micro-batch
    ``concurrency``. ``""`` for an inference row."""
    attention: str = ""
    """transformers' ``attn_implementation`` where the run set one away from its release's default
    (``llm_calc.engines.ATTENTION_IMPLEMENTATIONS``): it decides how often a decode step copies the
    KV cache (``llm_calc.engines.kv_cache_passes``). ``""`` for the default and other engines."""

    @property
    def is_own_run(self) -> bool:
        """Whether the row is one of our own ``measure`` runs, its source a report under
        ``OWN_MEASUREMENTS_DIR`` rather than a page a reader can open."""
        return not self.source.startswith(WEB_SCHEMES)

    @property
    def training(self) -> TrainingSetup | None:
        """The training setup of a training row, ``None`` for an inference row."""
        if not self.training_setup:
            return None
        return parse_setup_text(self.training_setup, self.prompt_tokens, self.concurrency)

    @property
    def kv_tokens(self) -> int:
        """Tokens in the KV cache the estimate sizes: the measured depth where the source gives
        one (``-d``), else the whole workload (prompt + output), the cache at the end of the run."""
        return self.context_tokens or self.prompt_tokens + self.output_tokens


def _optional_gpu(value: str) -> str:
    if value.strip():
        find_gpu(value)  # ValueError names the catalog
    return value.strip()


def _at_least_one(value: str) -> int:
    number = _whole(value)
    if number < 1:
        raise ValueError(f"expected a whole number >= 1, got {number}")
    return number


def _date(value: str) -> str:
    """YYYY-MM or YYYY-MM-DD, a real calendar date."""
    parts = value.strip().split("-")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError(f"expected a date as YYYY-MM or YYYY-MM-DD, got {value!r}")
    try:
        datetime.date(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM or YYYY-MM-DD, got {value!r}") from None
    return value.strip()


def _source(value: str) -> str:
    """A URL a reader can open, or a report of our own under ``OWN_MEASUREMENTS_DIR`` that exists."""
    value = value.strip()
    if value.startswith(WEB_SCHEMES):
        return value
    own = OWN_MEASUREMENTS_DIR.relative_to(DATA_DIR.parent).as_posix() + "/"
    if value.startswith(own) and ".." not in value and (DATA_DIR.parent / value).is_file():
        return value
    raise ValueError(f"expected a URL a reader can open or a report under {own}, got {value!r}")


def own_measurement_source(date: str, device: str) -> str:
    """Where the report of our own run on ``device`` on ``date`` (YYYY-MM-DD) is kept, from the
    repository's root: the ``source`` of its rows."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in device.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"{OWN_MEASUREMENTS_DIR.relative_to(DATA_DIR.parent).as_posix()}/{date}-{slug}.jsonl"


def _optional_training_setup(value: str) -> str:
    if value.strip():
        parse_setup_text(value.strip(), 1, 1)  # raises ValueError naming the field
    return value.strip()


def _optional_attention(value: str) -> str:
    if value.strip() and value.strip() not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(f"expected one of {', '.join(ATTENTION_IMPLEMENTATIONS)} or nothing, got {value.strip()!r}")
    return value.strip()


def _optional_kv_format(value: str) -> str:
    if value.strip():
        kv_format(value.strip())  # raises ValueError naming the formats
    return value.strip()


COLUMNS: dict[str, Callable[[str], Any]] = {
    "id": _text,
    "kind": _one_of(KINDS),
    "hf_id": _text,
    "precision": _text,
    "engine": _one_of(ENGINES),
    "engine_version": str.strip,
    "backend": _one_of(BACKENDS),
    "gpu": _optional_gpu,
    "gpu_count": _whole,
    "interconnect": _one_of(INTERCONNECTS),
    "parallelism": _one_of(PARALLELISMS),
    "concurrency": _at_least_one,
    "prompt_tokens": _whole,
    "output_tokens": _whole,
    "context_tokens": _whole,
    "measured": _optional_positive,
    "unit": _one_of(tuple(UNITS)),
    "bound": _one_of(BOUNDS),
    "used_for_fit": _boolean,
    "date": _date,
    "source": _source,
    "note": str.strip,
    "driver": str.strip,
    "library_versions": str.strip,
    "kv_format": _optional_kv_format,
    "training_setup": _optional_training_setup,
    "attention": _optional_attention,
}
"""Every column of ``data/measurements.csv`` in its order, with the parser that checks it."""


def _row_problem(row: dict[str, Any]) -> tuple[str, str] | None:
    """(column, message) for a row whose columns disagree with each other, else ``None``."""
    cards, kind = row["gpu_count"], row["kind"]
    if bool(row["gpu"]) != (cards > 0):
        return "gpu_count", "give 0 exactly when no card is named, at least 1 with a card"
    if kind in SPEED_KINDS and not row["gpu"]:
        return "gpu", "a speed needs its device"
    if cards <= 1 and row["interconnect"]:
        return "interconnect", "leave it empty for one card"
    if cards <= 1 and row["parallelism"] != "none":
        return "parallelism", "one card runs with parallelism none"
    if cards > 1 and not row["interconnect"]:
        return "interconnect", "several cards need their link (unknown if the source does not say)"
    if cards > 1 and row["parallelism"] == "none":
        return "parallelism", "several cards need the way they share the model"
    if kind == "decode" and row["output_tokens"] < 1:
        return "output_tokens", "a decode speed needs the tokens generated"
    if kind in ("prefill", "ttft") and row["prompt_tokens"] < 1:
        return "prompt_tokens", "a prompt speed or first-token time needs the prompt length"
    if bool(row["training_setup"]) != (kind == "train_step") and kind != "peak_memory":
        return "training_setup", "a training step time needs its setup; only training rows have one"
    attention = row.get("attention", "")  # optional: files from before the column load as the default
    if attention and not row["engine"].startswith("transformers"):
        return "attention", "only transformers rows name an attention implementation"
    if attention:
        try:
            kv_cache_passes(row["engine"], 1, row["engine_version"], attention)
        except ValueError as error:
            return "attention", str(error)
    if kind not in UNIT_KINDS[row["unit"]]:
        return "unit", f"{row['unit']} measures {', '.join(UNIT_KINDS[row['unit']])}, not {kind}"
    return None


def load_measurements(path: Path | str = MEASUREMENTS_PATH) -> tuple[Measurement, ...]:
    """Read and validate the measurements. Raises :class:`~llm_calc.catalog.CatalogError`.

    An ``at_most`` row names its card and leaves ``measured`` empty: the bound is the card's
    usable memory from the GPU catalog, in the row's unit, so it cannot drift from the catalog."""
    path = Path(path)
    rows = []
    seen: set[str] = set()
    for number, row in _read_rows(path, COLUMNS, optional=frozenset({"attention"})):
        where = f"{path.name} row {number}"
        if row["id"] in seen:
            raise CatalogError(f"{where}, column id: {row['id']!r} appears twice")
        seen.add(row["id"])
        problem = _row_problem(row)
        if problem is not None:
            raise CatalogError(f"{where}, column {problem[0]}: {problem[1]}")
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
        on_cpu = bool(row["gpu"]) and find_gpu(row["gpu"]).is_cpu
        if on_cpu and (row["backend"] != "cpu" or row["engine"] != "llama.cpp"):
            raise CatalogError(f"{where}, column backend: a CPU of the catalog runs llama.cpp's cpu backend only")
        if row["engine"] == "llama.cpp" and row["backend"] == "cpu" and not on_cpu:
            raise CatalogError(f"{where}, column gpu: llama.cpp's cpu backend runs on a CPU of the catalog")
        rows.append(Measurement(**row))
    return tuple(rows)


@cache
def default_measurements() -> tuple[Measurement, ...]:
    """The shipped measurements, read and checked once per process (the Accuracy page and the engine
    fit both use them)."""
    return load_measurements()
