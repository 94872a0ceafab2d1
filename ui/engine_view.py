"""The engine behind a speed, shared by the hardware calculator and the serving page: the
deployment's widgets (cards per deployment, engine, split, KV-cache precision), drawn alike and
bound to the same URL keys on both pages, and how the calculator shows an engine: which one, how its
constants were obtained, time to first token and how many users the KV memory holds, and how its
estimates fared on the card (``data/track_records.csv``)."""

from __future__ import annotations

import streamlit as st

from llm_calc.accuracy import default_track_records
from llm_calc.catalog import CatalogError, Gpu
from llm_calc.engines import ENGINES, EngineProfile, profile_for, releases_described
from llm_calc.hardware import GpuResult
from llm_calc.precision import KV_FORMATS
from ui.text import escape_markdown

ENGINE_OPTIONS = ("auto", *ENGINES)
"""The engine selectbox's plain values: ``auto`` picks, per card, the engine most users run."""
PARALLEL_OPTIONS = ("auto", "tp", "pp")
"""``auto``: the engine's own split (llama.cpp by layers, the others tensor parallel)."""
CARD_COUNTS = (1, 2, 4, 8, 16, 32, 64)
"""Cards per deployment offered (``llm_calc.hardware.CARD_LADDER`` up to 8 nodes of 8)."""


def chosen(value: str) -> str | None:
    """A selectbox value as ``llm_calc`` takes it: ``None`` for ``auto``."""
    return None if value == "auto" else value


# --- the deployment's widgets (URL keys: gpus, engine, parallel, kv) --------------------------------


def pick_card_count() -> int:
    """Cards per deployment, from one to eight nodes of eight."""
    return int(st.select_slider("GPUs per deployment", CARD_COUNTS, value=1, key="gpus", bind="query-params"))


def pick_engine() -> str | None:
    """The serving engine, or None (``auto``) for the one most users run on each card."""
    engine = st.selectbox(
        "Engine", ENGINE_OPTIONS, key="engine", bind="query-params", help="auto: the engine most users run per card"
    )
    return chosen(engine)


def pick_split() -> str | None:
    """How a deployment splits the model across its cards, or None (``auto``) for the engine's own."""
    parallel = st.selectbox(
        "Split across cards",
        PARALLEL_OPTIONS,
        key="parallel",
        bind="query-params",
        help="tp: tensor parallel; pp: pipeline stages (llama.cpp's layer split); auto: the engine's own",
    )
    return chosen(parallel)


def pick_kv_precision() -> str:
    """The KV cache's number format (``llm_calc.precision.KV_FORMATS``)."""
    return st.selectbox(
        "KV-cache precision",
        list(KV_FORMATS),
        key="kv",
        bind="query-params",
        help=", ".join(f"{k}: {f.label}" for k, f in KV_FORMATS.items()),
    )


# --- the engine behind a result --------------------------------------------------------------------


def engine_metrics(result: GpuResult) -> None:
    """Engine, time to first token and largest concurrency of one deployment, as metrics."""
    speed = result.speed
    if speed is None:
        if result.speed_note:
            st.warning(f"No speed on {result.gpu.name}: {result.speed_note}")
        return
    profile = profile_for(speed.engine, result.gpu)
    engine, ttft, users, overhead = st.columns(4)
    engine.metric(
        "Engine",
        speed.engine,
        help=f"constants {speed.profile_status}"
        + (f" on its {releases_described(speed.engine)}" if releases_described(speed.engine) else "")
        + f": bandwidth efficiency {speed.efficiency:.0%}, "
        f"prefill MFU {speed.mfu:.0%} (data/engine_profiles.csv, {profile.source[:200]})",
    )
    ttft.metric(
        "Time to first token",
        f"{speed.ttft_seconds:,.2f} s",
        help=f"prefill of a {speed.prompt_tokens:,}-token prompt plus the first decode step, no queueing"
        + request_overhead_text(profile),
    )
    users.metric(
        "Most concurrent sequences",
        "—" if speed.max_concurrency is None else f"{speed.max_concurrency:,}",
        help="sequences of this context whose KV cache fits the memory the engine takes on these cards",
    )
    overhead.metric(
        "Step overhead",
        f"{speed.step_overhead_seconds * 1000:,.2f} ms",
        help="fixed time the engine adds to every forward step (launches, scheduling, sampling)",
    )
    if speed.profile_status == "not fitted":
        st.caption(
            f"{speed.engine} has no speed measurements of its own yet: the pooled fit of every engine's "
            "measurements stands in for its constants."
        )


def refusals(results: list[GpuResult]) -> None:
    """Say why cards that hold the model have no speed (the engine does not run there)."""
    notes = sorted({r.speed_note for r in results if r.speed is None and r.speed_note})
    if notes:
        shown = "; ".join(notes[:3]) + (f"; and {len(notes) - 3} more" if len(notes) > 3 else "")
        st.info(f"Some cards have no speed: {shown}.")


def request_overhead_text(profile: EngineProfile) -> str:
    """The part of a time-to-first-token help that names the engine's request overhead ("" if none)."""
    if not profile.request_overhead_seconds:
        return ""
    return (
        f", plus {profile.request_overhead_seconds * 1000:,.0f} ms that {profile.engine}'s API server adds to a "
        "request (fitted on the server engines' measured times to first token)"
    )


def track_record_note(engine: str, gpu: Gpu) -> None:
    """How the estimates of ``engine`` fared on ``gpu``: its measured decode-speed rows of current
    releases on that card, each estimated without its own source (``data/track_records.csv``), or
    that there are none, so the estimate rests on the profile's other cards."""
    profile = profile_for(engine, gpu)
    try:
        record = default_track_records().get((profile.key, gpu.name))
    except CatalogError as error:
        st.caption(f"How the estimates fared on measured runs is not available: {escape_markdown(str(error))}")
        return
    if record is None:
        st.caption(
            f"No measured runs of {profile.key} on the {gpu.name}: this estimate rests on the profile's "
            "runs on other cards (the Accuracy page lists them)."
        )
        return
    several = f", {record.several_card_rows:,} of them on several cards" if record.several_card_rows else ""
    st.caption(
        f"Measured runs of {profile.key} on the {gpu.name} ({record.rows:,} decode-speed rows from "
        f"{record.sources:,} source{'' if record.sources == 1 else 's'}{several}; any model and load), each "
        f"estimated without its own source, ran at a median **{record.median_speed_ratio:.2f}×** our estimated "
        f"speed (median error {record.median_abs_error:.0%}). The Accuracy page lists every row."
    )
