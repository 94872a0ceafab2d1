"""The Accuracy page's breakdown tables, as plain rows of text (no Streamlit here): the page shows
them as dataframes and ``scripts/readme_figures.py`` writes the same rows into the README, so the
two cannot differ."""

from __future__ import annotations

from llm_calc.accuracy import (
    BREAKDOWN_KINDS,
    GROUPING_LABELS,
    KIND_LABELS,
    ONE_CPU,
    SINGLE_CARD_DECODE_ERROR_TARGET,
    Comparison,
    ErrorSummary,
    GroupSummary,
    SupersededSummary,
    TrackRecord,
    breakdown,
    one_device_error,
)
from llm_calc.engines import EngineProfile, copies_kv_cache, releases_described
from llm_calc.units import MICROSECONDS_PER_SECOND

MET_TEXT = {True: "yes", False: "no", None: "—"}
"""How a goal's verdict reads: met, not met, or no goal or no rows."""
BY_GROUP_GOAL = "by cards and MoE (breakdown)"
"""The goal cell of a kind whose goals issue 12 sets by group (decode speeds), not per kind."""


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; "—" for none."""
    return "—" if value is None else f"{value:.1%}"


def signed_range(low: float | None, high: float | None) -> str:
    """Lowest to highest signed error; "—" without rows."""
    return "—" if low is None or high is None else f"{low:+.1%} to {high:+.1%}"


def goal_text(target: float | None) -> str:
    """A median-error goal as the tables show it."""
    return "—" if target is None else f"≤ {target:.0%}"


def summary_rows(summaries: list[ErrorSummary]) -> list[dict[str, str | int]]:
    """One row per kind: held-out rows (claims for a kind judged by verdicts), median absolute
    error or agreements, signed range, goal, met."""
    rows: list[dict[str, str | int]] = []
    for s in summaries:
        if s.by_verdict:
            count, result, goal = (
                s.bound_rows,
                f"{s.bound_agreements:,} of {s.bound_rows:,} claims agree",
                "every claim agrees",
            )
        else:
            count, result = s.held_out_rows, percent(s.held_out_median_abs_error)
            # decode speeds have their goals by group; a kind with no goal yet (step time) shows none
            group_goal = BY_GROUP_GOAL if s.kind in BREAKDOWN_KINDS else "—"
            goal = group_goal if s.target is None else goal_text(s.target)
        rows.append(
            {
                "quantity": KIND_LABELS[s.kind],
                "rows": count,
                "median absolute error": result,
                "signed errors": "—" if s.by_verdict else signed_range(s.held_out_min_error, s.held_out_max_error),
                "goal": goal,
                "met": MET_TEXT[s.target_met],
            }
        )
    return rows


def breakdown_rows(groups: list[GroupSummary]) -> list[dict[str, str | int]]:
    """One row per group: rows, median absolute error, signed range, goal, met; for engines also
    the profile's status. The first column is named after the grouping."""
    rows: list[dict[str, str | int]] = []
    for g in groups:
        row: dict[str, str | int] = {GROUPING_LABELS[g.grouping]: g.group}
        if g.grouping == "engine":
            row["profile status"] = g.profile_status
        row |= {
            "rows": g.rows,
            "median absolute error": percent(g.median_abs_error),
            "signed errors": signed_range(g.min_error, g.max_error),
            "goal": goal_text(g.target),
            "met": MET_TEXT[g.target_met],
        }
        rows.append(row)
    return rows


HOST_BOUND_ENGINE = "transformers"
"""Eager ``generate``: it launches every kernel from Python, so its step time is mostly the host's
(its CPU, its PyTorch and transformers releases), which published runs rarely state."""


def missed_goal_notes(comparisons: list[Comparison]) -> list[str]:
    """For each group of one card or several, dense or MoE, that misses its goal: its error with and
    without the rows of eager ``transformers`` (:data:`HOST_BOUND_ENGINE`), so a reader can see
    what the miss is made of."""
    notes = []
    rest = [c for c in comparisons if c.measurement.engine != HOST_BOUND_ENGINE]
    for grouping in ("cards", "experts"):
        for every, others in zip(breakdown(comparisons, grouping), breakdown(rest, grouping), strict=True):
            if every.target_met is False and every.target is not None:
                notes.append(
                    f"{every.group[0].upper()}{every.group[1:]} misses its goal ({goal_text(every.target)}): "
                    f"{percent(every.median_abs_error)} over {every.rows:,} rows, "
                    f"{percent(others.median_abs_error)} over the {others.rows:,} without eager `transformers`, "
                    "whose step time is mostly its host's (CPU and library releases, rarely stated)."
                )
    return notes


def cpu_group_note(comparisons: list[Comparison]) -> str:
    """Why the CPU rows are a device group of their own, and the one-card figure they would make
    counted with the cards; "" without CPU rows."""
    cpu = next(g for g in breakdown(comparisons, "cards") if g.group == ONE_CPU)
    if not cpu.rows:
        return ""
    rows, error = one_device_error(comparisons)
    return (
        f"A CPU socket is no card, and issue 12's goals name cards, so its {cpu.rows:,} rows are a group of "
        f"their own; counted with the one-card rows, the {rows:,} rows of one device have a median error of "
        f"{percent(error)} (one-card goal {goal_text(SINGLE_CARD_DECODE_ERROR_TARGET)})."
    )


def track_record_rows(records: list[TrackRecord]) -> list[dict[str, str | int]]:
    """Per engine profile and card, how the held-out estimates fared there (what Serving and the
    calculator show beside a deployment)."""
    return [
        {
            "engine": r.profile,
            "card": r.gpu,
            "rows": r.rows,
            "of them on several cards": r.several_card_rows,
            "sources": r.sources,
            "speed, measured ÷ estimated (median)": f"{r.median_speed_ratio:.2f}×",
            "median absolute error": percent(r.median_abs_error),
        }
        for r in records
    ]


def superseded_rows(summaries: list[SupersededSummary]) -> list[dict[str, str | int]]:
    """One row per engine: its rows of releases its profile no longer describes, when they were
    measured, with which releases, and how they ran beside today's estimate."""
    return [
        {  # the long list of releases last, so that a phone shows the figures first
            "engine": s.engine,
            "rows": s.rows,
            "speed, measured ÷ estimated (median)": f"{s.median_speed_ratio:.2f}×",
            "median absolute error": percent(s.median_abs_error),
            "measured": s.dates[0] if s.dates[0] == s.dates[1] else f"{s.dates[0]} to {s.dates[1]}",
            "profile describes": releases_described(s.engine),
            "releases": ", ".join(s.versions),
        }
        for s in summaries
    ]


def profile_rows(profiles: list[EngineProfile]) -> list[dict[str, str | int]]:
    """The fitted engine profiles (``data/engine_profiles.csv``), one row each."""
    return [
        {
            "profile": p.key,
            "bandwidth efficiency": percent(p.bandwidth_efficiency),
            "overhead per layer (µs)": f"{p.layer_overhead_seconds * MICROSECONDS_PER_SECOND:,.1f}",
            "more per MoE layer (µs)": (f"{p.moe_layer_overhead_seconds * MICROSECONDS_PER_SECOND:,.1f}"),
            "prefill MFU": percent(p.prefill_mfu),
            "request overhead (ms)": f"{p.request_overhead_seconds * 1000:,.1f}",
            "KV-copy efficiency": percent(p.kv_copy_efficiency) if copies_kv_cache(p.engine) else "—",
            "status": p.status,
            "rows": p.fit_rows,
            "sources": p.sources,
            "cross-validated error": percent(p.cv_median_abs_error),
            "note": p.note,
        }
        for p in profiles
    ]


def markdown_table(rows: list[dict[str, str | int]]) -> list[str]:
    """``rows`` as the lines of a Markdown table (numbers with thousands separators)."""
    header = list(rows[0])
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()] for row in rows]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(line) + " |" for line in cells],
    ]
