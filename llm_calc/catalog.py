"""Load and validate the catalogs in ``data/``: models (``models.csv``) and GPUs (``gpus.csv``).

Every row is checked on load: types, ranges and a non-empty source. A bad row raises
:class:`CatalogError` naming the file, the row (as a spreadsheet shows it, header = row 1) and the
column, so whoever edits the data can fix it without reading code.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from llm_calc.architecture import HYBRID_SPEC_FIELDS, NORM_KINDS, ModelSpec
from llm_calc.hf_config import parse_checkpoint_text
from llm_calc.quantization import Checkpoint

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
GPU_CLASSES = ("datacenter", "workstation", "consumer", "apple", "cpu")
"""Kinds of device in ``gpus.csv``: discrete cards by market, Apple silicon (one chip with its
unified memory), and CPUs (one socket with its system memory, run by llama.cpp's CPU backend)."""
STANDALONE_CLASSES = ("apple", "cpu")
"""Classes a deployment takes one of (``Gpu.stands_alone``): no link joins them to others."""
INTERCONNECTS = ("nvlink", "infinity-fabric", "pcie3", "pcie4", "pcie5")
"""Links between the cards of one server, as ``gpus.csv`` names them: NVIDIA NVLink, AMD Infinity
Fabric, or PCIe by generation for cards without a fabric (consumer and PCIe cards)."""


CHECKPOINT_FORMATS: dict[str, str] = {
    "fp32": "every tensor in 32-bit floats (torch_dtype float32)",
    "fp16": "every tensor in 16-bit floats (torch_dtype float16)",
    "bf16": "every tensor in bfloat16 (torch_dtype bfloat16)",
    "fp8 block-wise": "linear layers in fp8 e4m3 with one fp32 scale per 128x128 block; embeddings, norms "
    "and output head bf16 (quantization_config quant_method fp8 with weight_block_size; DeepSeek-V3)",
    "fp8 per-tensor": "linear layers in fp8 with one scale per tensor (quant_method fp8, weight_block_size null)",
    "MXFP4 experts": "routed experts in MXFP4 (4-bit values, one e8m0 scale per 32); attention, router, "
    "embeddings and head bf16 (quant_method mxfp4; gpt-oss)",
    "int4 experts": "routed experts in 4-bit integers with one 16-bit scale per 32 (compressed-tensors "
    "pack-quantized, group 32, symmetric); attention, shared experts, dense MLP, router, embeddings and head "
    "bf16 (Kimi K2.5)",
    "not released": "no public weights; the architecture comes from the paper",
    "not checked": "the stored dtype was not read from a copy of this model's config",
}
"""The ``checkpoint_format`` a models.csv row may state: how its weights are stored as shipped
(Hugging Face ``config.json``: ``torch_dtype`` / ``dtype`` and ``quantization_config``). A cell may
add a note in parentheses after the format, e.g. ``bf16 (torch_dtype of the 8B config)``."""

CHECKPOINT_WEIGHT_FORMATS = {"fp8 block-wise": "fp8", "fp8 per-tensor": "fp8"}
"""The weight format (``llm_calc.precision.WEIGHT_FORMATS``) that sizes a quantized checkpoint format
when the model's config.json is not stored to size it as shipped: its scales aside, the same bytes.
MXFP4 and int4 experts have no such stand-in (the rest of gpt-oss and Kimi K2.5 is bf16)."""

PARAMS_PRECISIONS: dict[str, int] = {
    "exact": 0,
    "to 10M": 10**7,
    "to 0.1B": 10**8,
    "to 1B": 10**9,
    "to 10B": 10**10,  # MiniMax-M2's "230B"
    "to 0.1T": 10**11,  # Kimi K2's "1 trillion"
}
"""How precisely a published parameter count is stated: ``exact`` (a count to the parameter, such
as the Hub's safetensors total) or rounded to a unit [parameters]. Vendors round or truncate
(Llama 3.2 1B's 1,235,814,400 is stated as 1.23B), so a count agrees with a figure when they
differ by less than one unit."""

_CONVENTION = re.compile(
    r"total (?P<total>exact|to 10M|to 0\.1B|to 1B|to 10B|to 0\.1T)"
    r"(?:; active (?P<active>exact|to 10M|to 0\.1B|to 1B) (?P<embedding>with|without) input embedding)?"
    r"(?:; (?P<text>.+))?"
)
"""``params_convention``: ``total <precision>``, for a published active count ``; active <precision>
with|without input embedding`` (gpt-oss and DeepSeek leave the input embedding, a lookup, out of
"active"; Mixtral counts it), then ``; `` and what else the figure includes or leaves out."""


class CatalogError(ValueError):
    """A data file that does not load: says which file, row and column."""


SMALL_BATCH_TILE_ROWS = 64
"""Rows a tensor-core GEMM computes whatever the batch: Hopper's ``wgmma`` instructions take M = 64
(NVIDIA PTX ISA, "Asynchronous Warpgroup Level Matrix Multiply-Accumulate": shape m64nNk16), so a
decode step of fewer sequences still pays for 64. [rows]"""


@dataclass(frozen=True)
class Gpu:
    """One accelerator card (or, for Apple, one chip with its largest memory option; for a CPU, one
    socket with the memory configuration its name states, ``tflops_16bit`` its vector FP32 peak)."""

    name: str
    vendor: str
    gpu_class: str
    memory_bytes: int
    bandwidth_gbs: float
    tflops_16bit: float
    tflops_fp8: float | None
    price_per_hour_usd: float | None
    price_source: str
    released: str
    source: str
    interconnect: str = ""
    """How cards of this type talk to each other in one server (``INTERCONNECTS``); empty for
    Apple machines, which are not joined, and for a user's own card."""
    interconnect_gbs: float | None = None
    """Bandwidth of that link per direction, per card. [GB/s]"""
    interconnect_source: str = ""
    weight_stream_gbs: float | None = None
    """The most bytes per second the card's matrix kernels stream from the weights at decode's
    batch sizes, where a published kernel benchmark on the card measures less than its datasheet
    bandwidth times an engine's efficiency; ``None`` elsewhere. A small-batch GEMM on tensor cores
    computes a whole tile of rows (64 on Hopper) whatever the batch, so a card with little
    tensor throughput for its bandwidth (the H20: 148 TFLOPS, 4.0 TB/s) is compute-bound there. [GB/s]"""
    weight_stream_source: str = ""

    @property
    def is_apple(self) -> bool:
        return self.gpu_class == "apple"

    @property
    def is_cpu(self) -> bool:
        return self.gpu_class == "cpu"

    @property
    def stands_alone(self) -> bool:
        """Whether a deployment takes one of it, never several: neither Macs' unified memory nor
        CPU sockets' system memory is pooled into one model by the engines modelled here."""
        return self.gpu_class in STANDALONE_CLASSES

    @property
    def tile_weight_stream_gbs(self) -> float:
        """The most 16-bit weight bytes per second its tensor cores can stream at decode's small
        batches: a GEMM computes ``SMALL_BATCH_TILE_ROWS`` rows whatever the batch, 2 FLOPs per row
        per weight, so 64 FLOPs per weight byte at its dense 16-bit peak. [GB/s]"""
        flops_per_weight_byte = 2 * SMALL_BATCH_TILE_ROWS / 2  # 2 FLOPs a row, 2 bytes a 16-bit weight
        return self.tflops_16bit * 1e3 / flops_per_weight_byte

    @property
    def unmeasured_tile_limit(self) -> bool:
        """Whether its tensor tiles cannot stream the weights as fast as its memory delivers them
        (``tile_weight_stream_gbs`` below the datasheet bandwidth) and no measured ceiling says how
        fast they do (``weight_stream_gbs``): its decode is then likely slower than estimated. Not
        for Apple's GPUs or CPUs, which the 64-row tile does not describe."""
        unmeasured = self.weight_stream_gbs is None
        return not self.stands_alone and unmeasured and self.tile_weight_stream_gbs < self.bandwidth_gbs

    @classmethod
    def custom(
        cls,
        name: str,
        memory_gib: float,
        bandwidth_gbs: float,
        tflops_16bit: float,
        price_per_hour_usd: float | None = None,
        gpu_class: str = "datacenter",
    ) -> Gpu:
        """A user-defined card. Raises ``ValueError`` naming the bad field."""
        for label, value in (("memory", memory_gib), ("bandwidth", bandwidth_gbs), ("TFLOPS", tflops_16bit)):
            if not 0 < value < 1e7:
                raise ValueError(f"custom card {label} must be a positive number, got {value!r}")
        if price_per_hour_usd is not None and not 0 <= price_per_hour_usd < 1e6:
            raise ValueError(f"custom card price must be zero or positive, got {price_per_hour_usd!r}")
        if gpu_class not in GPU_CLASSES:
            raise ValueError(f"custom card class must be one of {', '.join(GPU_CLASSES)}")
        # Only characters that mean nothing to HTML, markdown or plotly labels.
        label = re.sub(r"[^A-Za-z0-9 ._()+/-]", "", name).strip()[:40]
        return cls(
            name=label or "Custom card",
            vendor="Custom",
            gpu_class=gpu_class,
            memory_bytes=round(memory_gib * 2**30),
            bandwidth_gbs=bandwidth_gbs,
            tflops_16bit=tflops_16bit,
            tflops_fp8=None,
            price_per_hour_usd=price_per_hour_usd or None,
            price_source="entered by the user",
            released="",
            source="entered by the user",
        )


@dataclass(frozen=True)
class CatalogModel:
    """A model preset: its Hugging Face id, architecture, published size and sources."""

    hf_id: str
    name: str
    family: str
    released: str
    spec: ModelSpec
    params_published: int
    active_params_published: int | None
    published_counts_tied_output: bool
    params_source: str
    source: str
    config_source: str
    """Where the architecture was read: the URL of the ``config.json`` or of the copy used (a
    note in parentheses may follow)."""
    params_convention: str
    """What the published counts include and how they are rounded (see ``PARAMS_PRECISIONS``)."""
    params_precision: int
    """The unit ``params_published`` is stated to; 0 when exact. [parameters]"""
    active_precision: int | None
    """The unit ``active_params_published`` is stated to; None without a published active count. [parameters]"""
    active_excludes_input_embedding: bool
    """True when the vendor's active count leaves out the input embedding (gpt-oss, DeepSeek)."""
    checkpoint_format: str
    """How the weights are stored as shipped: a key of ``CHECKPOINT_FORMATS``, maybe with a note."""

    @property
    def checkpoint_kind(self) -> str:
        """``checkpoint_format`` without its note: a key of ``CHECKPOINT_FORMATS``."""
        return self.checkpoint_format.split(" (", 1)[0]

    @property
    def shipped_weight_format(self) -> str | None:
        """The weight format that sizes this model as it ships when no stored config.json says so
        exactly (``CHECKPOINT_WEIGHT_FORMATS``; DeepSeek-R1-0528's fp8), else ``None``."""
        return CHECKPOINT_WEIGHT_FORMATS.get(self.checkpoint_kind)


# --- cell parsers: each returns the value or raises ValueError with what was expected ---------


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("expected text, got an empty cell")
    return value.strip()


def _whole(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"expected a number >= 0, got {number}")
    return number


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"expected a positive finite number, got {value!r}")
    return number


def _optional_positive(value: str) -> float | None:
    return _positive(value) if value.strip() else None


def _optional_whole(value: str) -> int | None:
    return _whole(value) if value.strip() else None


def _boolean(value: str) -> bool:
    if value.strip().lower() not in ("true", "false"):
        raise ValueError(f"expected true or false, got {value!r}")
    return value.strip().lower() == "true"


def _year_month(value: str) -> str:
    parts = value.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 1 <= int(parts[1]) <= 12:
        raise ValueError(f"expected a date as YYYY-MM, got {value!r}")
    return value


def _config_source(value: str) -> str:
    value = value.strip()
    # a note in parentheses may follow, e.g. the section of a file that quotes several configs
    if not re.fullmatch(r"https://\S+( \(.+\))?", value):
        raise ValueError(f"expected an https:// URL a reader can open (a note may follow), got {value[:60]!r}")
    return value


def _checkpoint_format(value: str) -> str:
    kind = value.strip().split(" (", 1)[0]
    if kind not in CHECKPOINT_FORMATS:
        raise ValueError(
            f"expected one of {', '.join(CHECKPOINT_FORMATS)} (a note may follow in parentheses), got {value!r}"
        )
    return value.strip()


def _params_convention(value: str) -> str:
    if not _CONVENTION.fullmatch(value.strip()):
        raise ValueError(
            "expected 'total <precision>[; active <precision> with|without input embedding][; note]' "
            f"with a precision from {', '.join(PARAMS_PRECISIONS)}, got {value[:60]!r}"
        )
    return value.strip()


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def _read_rows(
    path: Path, columns: dict[str, Callable[[str], Any]], optional: frozenset[str] = frozenset()
) -> list[tuple[int, dict[str, Any]]]:
    """Parse every row with the column parsers; errors name file, row and column. Columns in
    ``optional`` may be absent from the file: such a row has no key for them."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"{path}: cannot open ({error.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        present = [c for c in columns if c in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in present and c not in optional]
        if missing:
            raise CatalogError(f"{path.name}: missing column(s) {', '.join(missing)}")
        rows = []
        for row_number, raw in enumerate(reader, start=2):
            if None in raw or any(v is None for v in raw.values()):
                raise CatalogError(f"{path.name} row {row_number}: wrong number of cells")
            parsed = {}
            for column in present:
                parse = columns[column]
                try:
                    parsed[column] = parse(raw[column])
                except ValueError as error:
                    raise CatalogError(f"{path.name} row {row_number}, column {column}: {error}") from None
            rows.append((row_number, parsed))
    if not rows:
        raise CatalogError(f"{path.name}: no rows")
    return rows


GPU_COLUMNS: dict[str, Callable[[str], Any]] = {
    "name": _text,
    "vendor": _text,
    "class": _one_of(GPU_CLASSES),
    "memory_gib": _positive,
    "bandwidth_gbs": _positive,
    "tflops_16bit": _positive,
    "tflops_fp8": _optional_positive,
    "price_per_hour_usd": _optional_positive,
    "price_source": str.strip,
    "released": _year_month,
    "source": _text,
    "interconnect": lambda value: _one_of(("", *INTERCONNECTS))(value.strip()),
    "interconnect_gbs": _optional_positive,
    "interconnect_source": str.strip,
    "weight_stream_gbs": _optional_positive,
    "weight_stream_source": str.strip,
}


def load_gpus(path: Path | str = DATA_DIR / "gpus.csv") -> tuple[Gpu, ...]:
    """Read and validate the GPU catalog. Raises :class:`CatalogError`."""
    path = Path(path)
    gpus = []
    for row_number, row in _read_rows(path, GPU_COLUMNS):
        if row["price_per_hour_usd"] is not None and not row["price_source"]:
            raise CatalogError(f"{path.name} row {row_number}, column price_source: a price needs a source")
        if bool(row["interconnect"]) != (row["interconnect_gbs"] is not None) or (
            row["interconnect"] and not row["interconnect_source"]
        ):
            raise CatalogError(
                f"{path.name} row {row_number}, column interconnect: a link needs its bandwidth and a source, "
                "and a bandwidth needs its link"
            )
        if row["interconnect"] and row["class"] in STANDALONE_CLASSES:
            raise CatalogError(
                f"{path.name} row {row_number}, column interconnect: a {row['class']} device stands alone, "
                "with no link to others"
            )
        if (row["weight_stream_gbs"] is not None) != bool(row["weight_stream_source"]):
            raise CatalogError(
                f"{path.name} row {row_number}, column weight_stream_gbs: a weight-streaming figure needs its "
                "source, and a source its figure"
            )
        if row["weight_stream_gbs"] is not None and row["weight_stream_gbs"] > row["bandwidth_gbs"]:
            raise CatalogError(
                f"{path.name} row {row_number}, column weight_stream_gbs: {row['weight_stream_gbs']:,.0f} GB/s is "
                f"above the card's datasheet bandwidth of {row['bandwidth_gbs']:,.0f} GB/s"
            )
        gpus.append(
            Gpu(
                name=row["name"],
                vendor=row["vendor"],
                gpu_class=row["class"],
                memory_bytes=round(row["memory_gib"] * 2**30),
                bandwidth_gbs=row["bandwidth_gbs"],
                tflops_16bit=row["tflops_16bit"],
                tflops_fp8=row["tflops_fp8"],
                price_per_hour_usd=row["price_per_hour_usd"],
                price_source=row["price_source"],
                released=row["released"],
                source=row["source"],
                interconnect=row["interconnect"],
                interconnect_gbs=row["interconnect_gbs"],
                interconnect_source=row["interconnect_source"],
                weight_stream_gbs=row["weight_stream_gbs"],
                weight_stream_source=row["weight_stream_source"],
            )
        )
    _check_unique(path, [g.name for g in gpus], "name")
    return tuple(gpus)


_SPEC_PARSERS: dict[str, Callable[[str], Any]] = {
    f.name: (_one_of(NORM_KINDS) if f.name == "norm" else _boolean if f.type == "bool" else _whole)
    for f in fields(ModelSpec)
    if f.type in ("int", "bool") or f.name == "norm"
}
"""One column per ``ModelSpec`` field (its name aside), in its order: a catalog row holds the whole
architecture, hybrid layers (Gated DeltaNet, short convolutions) included."""
OPTIONAL_SPEC_COLUMNS = frozenset(HYBRID_SPEC_FIELDS)
"""Architecture columns a models.csv may leave out (a file written before they existed): absent,
every row has the field's default, i.e. no such layers."""

MODEL_COLUMNS: dict[str, Callable[[str], Any]] = {
    "hf_id": _text,
    "name": _text,
    "family": _text,
    "released": _year_month,
    "params_published": _whole,
    "active_params_published": _optional_whole,
    "published_counts_tied_output": _boolean,
    **_SPEC_PARSERS,
    "params_source": _text,
    "source": _text,
    "config_source": _config_source,
    "params_convention": _params_convention,
    "checkpoint_format": _checkpoint_format,
}


def load_models(path: Path | str = DATA_DIR / "models.csv") -> tuple[CatalogModel, ...]:
    """Read and validate the model catalog. Raises :class:`CatalogError`."""
    path = Path(path)
    models = []
    for row_number, row in _read_rows(path, MODEL_COLUMNS, optional=OPTIONAL_SPEC_COLUMNS):
        spec_values = {name: row[name] for name in _SPEC_PARSERS if name in row}
        try:
            spec = ModelSpec(name=row["name"], **spec_values)
        except ValueError as error:
            raise CatalogError(f"{path.name} row {row_number}: {error}") from None
        convention = _CONVENTION.fullmatch(row["params_convention"])
        assert convention is not None  # checked by the column parser
        active = convention["active"]
        if (active is None) != (row["active_params_published"] is None):
            raise CatalogError(
                f"{path.name} row {row_number}, column params_convention: a published active count needs "
                "'; active <precision> with|without input embedding', and only then"
            )
        models.append(
            CatalogModel(
                hf_id=row["hf_id"],
                name=row["name"],
                family=row["family"],
                released=row["released"],
                spec=spec,
                params_published=row["params_published"],
                active_params_published=row["active_params_published"],
                published_counts_tied_output=row["published_counts_tied_output"],
                params_source=row["params_source"],
                source=row["source"],
                config_source=row["config_source"],
                params_convention=row["params_convention"],
                params_precision=PARAMS_PRECISIONS[convention["total"]],
                active_precision=None if active is None else PARAMS_PRECISIONS[active],
                active_excludes_input_embedding=convention["embedding"] == "without",
                checkpoint_format=row["checkpoint_format"],
            )
        )
    _check_unique(path, [m.hf_id for m in models], "hf_id")
    _check_unique(path, [m.name for m in models], "name")  # the model picker lists names
    return tuple(models)


@dataclass(frozen=True)
class ApiModel:
    """A model users send text to: its context window, tokenizer and list price."""

    model: str
    provider: str
    released: str
    tokenizer: str
    tokenizer_exact: bool
    """False when the model's own tokenizer is not public and a similar one stands in."""
    context_tokens: int
    max_output_tokens: int | None
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    price_as_of: str
    context_source: str
    price_source: str


def _optional_year_month(value: str) -> str:
    return _year_month(value) if value.strip() else ""


def _price(value: str) -> float | None:
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a price in USD, got {value!r}") from None
    if not 0 <= number < 1e6:
        raise ValueError(f"expected a price from 0 to 1,000,000 USD, got {value!r}")
    return number


API_MODEL_COLUMNS: dict[str, Callable[[str], Any]] = {
    "model": _text,
    "provider": _text,
    "released": _year_month,
    "tokenizer": _text,
    "tokenizer_exact": _boolean,
    "context_tokens": _whole,
    "max_output_tokens": _optional_whole,
    "input_usd_per_mtok": _price,
    "output_usd_per_mtok": _price,
    "price_as_of": _optional_year_month,
    "context_source": _text,
    "price_source": str.strip,
}


def load_api_models(
    path: Path | str = DATA_DIR / "api_models.csv", tokenizers: frozenset[str] | None = None
) -> tuple[ApiModel, ...]:
    """Read and validate the context-window and price table. Raises :class:`CatalogError`.

    ``tokenizers``, when given, are the names a row may use in its ``tokenizer`` column.
    """
    path = Path(path)
    models = []
    for row_number, row in _read_rows(path, API_MODEL_COLUMNS):
        where = f"{path.name} row {row_number}"
        if tokenizers is not None and row["tokenizer"] not in tokenizers:
            raise CatalogError(f"{where}, column tokenizer: unknown tokenizer {row['tokenizer']!r}")
        if row["context_tokens"] < 1:
            raise CatalogError(f"{where}, column context_tokens: expected at least 1")
        priced = row["input_usd_per_mtok"] is not None or row["output_usd_per_mtok"] is not None
        if priced and not (row["price_source"] and row["price_as_of"]):
            raise CatalogError(f"{where}, column price_source: a price needs a source and a date")
        models.append(ApiModel(**{key.replace("-", "_"): value for key, value in row.items()}))
    _check_unique(path, [m.model for m in models], "model")
    return tuple(models)


def _check_unique(path: Path, keys: list[str], column: str) -> None:
    seen: set[str] = set()
    for index, key in enumerate(keys, start=2):
        if key in seen:
            raise CatalogError(f"{path.name} row {index}, column {column}: duplicate {key!r}")
        seen.add(key)


@cache
def default_gpus() -> tuple[Gpu, ...]:
    """The shipped GPU catalog, read once per process."""
    return load_gpus()


@cache
def default_models() -> tuple[CatalogModel, ...]:
    """The shipped model catalog, read once per process."""
    return load_models()


HF_CONFIGS_DIR = DATA_DIR / "hf_configs"
"""Real config.json files of catalog models (see its README.md)."""


def stored_config_path(hf_id: str) -> Path | None:
    """The copy of ``hf_id``'s config.json in ``data/hf_configs`` (``ORG/NAME`` stored as
    ``ORG__NAME.json``), or ``None`` when none is stored."""
    path = HF_CONFIGS_DIR / f"{hf_id.replace('/', '__')}.json"
    return path if "/" in hf_id and path.is_file() else None


@cache
def shipped_checkpoint(hf_id: str) -> Checkpoint | None:
    """How a catalog model's checkpoint is stored when it ships quantized (DeepSeek-V3 in FP8,
    gpt-oss in MXFP4), read from its config.json in ``data/hf_configs``; ``None`` for a model
    without a stored config or whose checkpoint is plain 16-bit (the catalog row says all there
    is to size it)."""
    path = stored_config_path(hf_id)
    if path is None:
        return None
    checkpoint = parse_checkpoint_text(path.read_bytes(), name=path.name)
    return checkpoint if checkpoint.quantization is not None else None


def find_model(hf_id: str, models: tuple[CatalogModel, ...] | None = None) -> CatalogModel:
    """A catalog model by Hugging Face id (case-insensitive). Raises ``ValueError`` if unknown."""
    models = default_models() if models is None else models
    for model in models:
        if model.hf_id.lower() == hf_id.strip().lower():
            return model
    raise ValueError(
        f"unknown model {hf_id!r}; use a Hugging Face id from data/models.csv "
        f"(e.g. {models[0].hf_id}) or --config / --params"
    )


def find_gpu(name: str, gpus: tuple[Gpu, ...] | None = None) -> Gpu:
    """A catalog GPU by name (case-insensitive). Raises ``ValueError`` if unknown."""
    gpus = default_gpus() if gpus is None else gpus
    for gpu in gpus:
        if gpu.name.lower() == name.strip().lower():
            return gpu
    raise ValueError(f"unknown GPU {name!r}; names are listed in data/gpus.csv")


def nearest_dense_model(params: float, models: tuple[CatalogModel, ...] | None = None) -> CatalogModel:
    """The dense catalog model whose published size is closest to ``params`` on a log scale."""
    models = default_models() if models is None else models
    dense = [m for m in models if not m.spec.is_moe and not m.spec.uses_latent_attention]
    return min(dense, key=lambda m: abs(math.log(m.params_published / params)))
