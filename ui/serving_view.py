"""The serving page's deployment inputs and its results: the engine behind the figures, time to
first token, how many users the KV memory holds and what a million output tokens cost."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from llm_calc.architecture import ModelSpec
from llm_calc.catalog import Gpu
from llm_calc.engine_fit import most_users_measured
from llm_calc.engines import releases_described
from llm_calc.hardware import ServingCurve, ServingPoint
from llm_calc.units import MICROSECONDS_PER_SECOND
from ui.engine_view import (
    pick_card_count,
    pick_engine,
    pick_kv_precision,
    pick_split,
    request_overhead_text,
    track_record_note,
)
from ui.tables import number_columns

DEFAULT_CARD = "NVIDIA H100 SXM"
"""The card the page opens on: the most rented datacenter card of the catalog's generation."""
DEFAULT_PROMPT_TOKENS = 1000
"""A chat turn with some history or a short document. [tokens]"""
DEFAULT_OUTPUT_TOKENS = 500
"""A few paragraphs of answer. [tokens]"""
MAX_REQUEST_TOKENS = 1_048_576
"""Largest prompt or answer offered: the longest context windows in the catalog (1M). [tokens]"""
USER_SPEED_RANGE = (1, 200)
"""Per-user speeds the slider offers, from batch jobs nobody watches to fast interactive use. [tokens/s]"""
DEFAULT_USER_SPEED = 20
"""The per-user speed the page opens on: about four times silent reading speed (238 words a
minute, Brysbaert 2019, "How many words do we read per minute?", J. Memory and Language 109;
times 1.3 tokens a word is 5.2 tokens/s), so text arrives faster than it is read. [tokens/s]"""


@dataclass(frozen=True)
class Deployment:
    """What the sidebar's deployment widgets chose, as ``llm_calc.hardware.serving_curve`` takes it."""

    gpu: Gpu
    cards: int
    engine: str | None
    parallel: str | None
    prompt_tokens: int
    output_tokens: int
    kv_format: str


def pick_deployment(gpus: tuple[Gpu, ...]) -> Deployment:
    """Draw the card, then the count, engine, split and KV precision as the hardware calculator draws
    them (``ui.engine_view``), and the request lengths (all in the URL)."""
    names = [g.name for g in gpus]
    name = st.selectbox("Card", names, index=names.index(DEFAULT_CARD), key="card", bind="query-params")
    cards = pick_card_count()
    engine = pick_engine()
    parallel = pick_split()
    kv = pick_kv_precision()
    prompt = st.number_input(
        "Prompt (tokens per request)", 1, MAX_REQUEST_TOKENS, DEFAULT_PROMPT_TOKENS, key="prompt", bind="query-params"
    )
    output = st.number_input(
        "Answer (tokens per request)", 1, MAX_REQUEST_TOKENS, DEFAULT_OUTPUT_TOKENS, key="output", bind="query-params"
    )
    gpu = next(g for g in gpus if g.name == name)
    return Deployment(gpu, cards, engine, parallel, int(prompt), int(output), kv)


def engine_note(curve: ServingCurve, spec: ModelSpec) -> None:
    """Which engine profile the figures use and how far it is validated (data/engine_profiles.csv);
    for an MoE model, the overhead its MoE layers add and the rows it rests on."""
    profile = curve.profile
    how = {
        "validated": f"validated: fitted on {profile.fit_rows:,} measurements from {profile.sources} sources"
        + (
            ""
            if profile.cv_median_abs_error is None
            else f", median error {profile.cv_median_abs_error:.0%} on sources held out of the fit"
        ),
        "fitted, not validated": f"fitted, not validated: {profile.fit_rows:,} measurements, all from one source",
        "not fitted": "not fitted: no measurements of its own, so the pooled fit of every engine stands in",
    }[profile.status]
    split = {"tp": "tensor parallel", "pp": "pipeline stages"}[curve.parallel] if curve.cards > 1 else ""
    moe = profile.moe_layer_overhead_seconds * MICROSECONDS_PER_SECOND
    # the note's part on the MoE-layer overhead (its other parts are for the profiles table)
    provenance = next((part for part in profile.note.split("; ") if part.startswith("MoE-layer overhead")), None)
    releases = releases_described(curve.engine)
    st.caption(
        f"Engine profile **{profile.key}**{f' of its {releases}' if releases else ''} ({how})"
        + (f"; split across the cards as {split}" if split else "")
        + (f". Each MoE layer adds {moe:,.0f} µs per step" if spec.is_moe else "")
        + (f" ({provenance})" if spec.is_moe and provenance else "")
        + ". Constants in data/engine_profiles.csv, from data/measurements.csv."
    )
    track_record_note(curve.engine, curve.gpu)
    if most_users_measured().get(profile.key, 0) <= 1:
        st.caption(
            f"None of {profile.key}'s measured runs served more than one user at a time: beyond one user "
            "this curve rests on the step-time model alone."
        )


def serving_metrics(curve: ServingCurve, point: ServingPoint | None, min_per_user_tokens_per_s: float) -> None:
    """Time to first token, the KV limit on users, and the cost at the chosen per-user speed."""
    first = curve.points[0]
    ttft, users, busiest, cost = st.columns(4)
    ttft.metric(
        "Time to first token",
        f"{first.ttft_seconds:,.2f} s",
        help=f"prefill of a {curve.prompt_tokens:,}-token prompt plus one decode step, one user, no queueing"
        + request_overhead_text(curve.profile),
    )
    users.metric(
        "Most users at once",
        f"{curve.max_concurrency:,}",
        help=f"requests of {curve.prompt_tokens + curve.output_tokens:,} tokens whose KV cache fits the memory "
        f"{curve.engine} takes on these cards",
    )
    busiest.metric(
        f"Users at ≥ {min_per_user_tokens_per_s:g} tokens/s each",
        "none" if point is None else f"{point.concurrency:,}",
        help="the most concurrent users (of the concurrencies shown) that still each get this speed",
    )
    price = curve.cost_per_million_output_tokens_usd(min_per_user_tokens_per_s)
    cost.metric(
        "Cost per 1M output tokens",
        "—" if price is None else f"${price:,.2f}",
        help=f"{curve.cards} × {curve.gpu.name} at the catalog price"
        + ("" if curve.price_per_hour_usd is None else f" (${curve.price_per_hour_usd:,.2f}/h)")
        + ", divided by the output tokens of all users together",
    )
    if point is None:
        st.warning(
            f"Not even one user gets {min_per_user_tokens_per_s:g} tokens/s here: alone, a user gets "
            f"{first.per_user_tokens_per_s:,.1f} tokens/s."
        )
    elif curve.price_per_hour_usd is None:
        st.info(f"The catalog has no rental price for {curve.gpu.name}, so there is no cost per token.")


def curve_table(curve: ServingCurve) -> None:
    """The points of the chart as numbers."""
    table = pd.DataFrame(
        {
            "users": [p.concurrency for p in curve.points],
            "each (tokens/s)": [round(p.per_user_tokens_per_s, 1) for p in curve.points],
            "all (tokens/s)": [round(p.aggregate_tokens_per_s) for p in curve.points],
            "TTFT (s)": [round(p.ttft_seconds, 3) for p in curve.points],
        }
    )
    st.dataframe(table, hide_index=True, height="content", column_config=number_columns(list(table.columns)))
