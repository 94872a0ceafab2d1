"""How the hardware calculator shows the engine behind a speed: which one, how its constants were
obtained, time to first token and how many users the KV memory holds."""

from __future__ import annotations

import streamlit as st

from llm_calc.engines import ENGINES, default_profiles
from llm_calc.hardware import GpuResult

ENGINE_OPTIONS = ("auto", *ENGINES)
"""The engine selectbox's plain values: ``auto`` picks, per card, the engine most users run."""
PARALLEL_OPTIONS = ("auto", "tp", "pp")
"""``auto``: the engine's own split (llama.cpp by layers, the others tensor parallel)."""


def chosen(value: str) -> str | None:
    """A selectbox value as ``llm_calc`` takes it: ``None`` for ``auto``."""
    return None if value == "auto" else value


def engine_metrics(result: GpuResult) -> None:
    """Engine, time to first token and largest concurrency of one deployment, as metrics."""
    speed = result.speed
    if speed is None:
        if result.speed_note:
            st.warning(f"No speed on {result.gpu.name}: {result.speed_note}")
        return
    profile = next(p for p in default_profiles().values() if p.engine == speed.engine)
    engine, ttft, users, overhead = st.columns(4)
    engine.metric(
        "Engine",
        speed.engine,
        help=f"constants {speed.profile_status}: bandwidth efficiency {speed.efficiency:.0%}, "
        f"prefill MFU {speed.mfu:.0%} (data/engine_profiles.csv, {profile.source[:200]})",
    )
    ttft.metric(
        "Time to first token",
        f"{speed.ttft_seconds:,.2f} s",
        help=f"prefill of a {speed.prompt_tokens:,}-token prompt plus the first decode step, no queueing",
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
