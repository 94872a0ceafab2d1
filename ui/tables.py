"""Tables shown on the pages (and offered as CSV downloads)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from llm_calc.gguf import GgufHeader
from llm_calc.hardware import GpuResult
from llm_calc.quantization import StoragePlan
from llm_calc.units import GIB

COLUMNS = [
    "card",
    "class",
    "usable memory (GiB)",
    "fits",
    "cards needed",
    "cards used",
    "memory per card (GiB)",
    "decode (tokens/s per sequence)",
    "decode (tokens/s, whole batch)",
    "prefill of full context (s)",
    "price ($/h)",
    "cost per day ($)",
    "cost per 1M output tokens ($)",
]


def gpu_table(results: list[GpuResult]) -> pd.DataFrame:
    """One row per card: fit (with the chosen card count), count needed, per-card memory, speed and
    cost. Units are in the column names."""
    rows = []
    for r in results:
        rows.append(
            {
                "card": r.gpu.name,
                "class": r.gpu.gpu_class,
                "usable memory (GiB)": round(r.usable_memory_bytes / GIB, 1),
                "fits": r.fits,
                "cards needed": r.count_needed,
                "cards used": r.cards_used,
                "memory per card (GiB)": round(r.per_card_bytes / GIB, 2),
                "decode (tokens/s per sequence)": _round(r.speed and r.speed.decode_tokens_per_s, 1),
                "decode (tokens/s, whole batch)": _round(r.speed and r.speed.aggregate_tokens_per_s, 1),
                "prefill of full context (s)": _round(r.speed and r.speed.prefill_seconds, 2),
                "price ($/h)": _round(r.price_per_hour_usd, 2),
                "cost per day ($)": _round(r.cost_per_day_usd, 0),
                "cost per 1M output tokens ($)": _round(r.cost_per_million_tokens_usd, 2),
            }
        )
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["cards needed", "usable memory (GiB)"], na_position="last", kind="stable")


def gpu_table_columns() -> dict[str, st.column_config.NumberColumn]:
    """How the table's numbers are shown: with thousands separators (1,234.5), in the reader's
    locale, so costs per day and whole-batch speeds stay readable."""
    text = ("card", "class", "fits")
    return {column: st.column_config.NumberColumn(format="localized") for column in COLUMNS if column not in text}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def storage_table(plan: StoragePlan) -> pd.DataFrame:
    """A checkpoint's storage, one row per parameter group: parameters, bits per parameter (scales
    included) and GiB; rows the estimate does not load (multi-token-prediction layers) say so."""
    rows = [(r, True) for r in plan.rows if r.params] + [(r, False) for r in plan.mtp_rows if r.params]
    return pd.DataFrame(
        [
            {
                "group": row.group.replace("_", " "),
                "parameters": row.params,
                "bits per parameter": round(row.bits, 4),
                "GiB": round(row.bytes / GIB, 3),
                "loaded": loaded,
                "stored as": row.note,
            }
            for row, loaded in rows
        ],
        columns=["group", "parameters", "bits per parameter", "GiB", "loaded", "stored as"],
    )


def gguf_type_table(header: GgufHeader) -> pd.DataFrame:
    """A GGUF file's tensors by type, largest first: how many, GiB and bits per weight (the type's
    block bytes x 8 / block size)."""
    return pd.DataFrame(
        [
            {
                "type": t.type_name,
                "tensors": t.tensors,
                "GiB": round(t.nbytes / GIB, 3),
                "bits per weight": round(t.nbytes * 8 / t.elements, 4) if t.elements else None,
            }
            for t in header.type_totals()
        ],
        columns=["type", "tensors", "GiB", "bits per weight"],
    )


def number_columns(columns: list[str]) -> dict[str, st.column_config.NumberColumn]:
    """Thousands separators (in the reader's locale) for these numeric columns."""
    return {column: st.column_config.NumberColumn(format="localized") for column in columns}
