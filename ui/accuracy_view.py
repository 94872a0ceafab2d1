"""The Accuracy page's blocks, so that its page reads like the screen it draws: the opening with the
row counts, the efficiency override, the summary metrics, the tables and charts of errors and the
closing notes. Each function draws into the current container; the breakdown rows themselves come
from ``ui.accuracy_tables`` (shared with the README)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from llm_calc.accuracy import (
    BASELINE_PATH,
    BREAKDOWN_KINDS,
    GROUPING_LABELS,
    GROUPINGS,
    KIND_LABELS,
    OUTLIER_FACTOR,
    Comparison,
    ErrorSummary,
    NotEstimated,
    breakdown,
    evaluate,
    superseded_summary,
    track_records,
)
from llm_calc.catalog import DATA_DIR, Gpu, find_gpu, find_model
from llm_calc.engine_fit import SPEED_KINDS
from llm_calc.engines import PROFILES_PATH, default_profiles
from llm_calc.hardware import DECODE_BANDWIDTH_EFFICIENCY
from llm_calc.measurements import Measurement
from ui.accuracy_tables import (
    breakdown_rows,
    cpu_group_note,
    missed_goal_notes,
    profile_rows,
    summary_rows,
    superseded_rows,
    track_record_rows,
)
from ui.charts import error_by_group_figure, predicted_vs_measured_figure


def opening(measurements: list[Measurement], held_out: Mapping[str, float] | None = None) -> None:
    """What the page compares, from which sources, how CI guards it, and the rows by role (counted
    from the data: fitted, held out, claims); ``held_out`` as ``llm_calc.accuracy.predict`` takes it."""
    comparisons = evaluate(measurements, held_out=held_out).comparisons  # the rows the figures cover
    fit_rows = [c for c in comparisons if c.measurement.used_for_fit]
    bound_rows = [c for c in comparisons if c.is_bound]
    superseded = [c for c in comparisons if c.superseded]
    held_rows = [c for c in comparisons if not (c.measurement.used_for_fit or c.is_bound or c.superseded)]
    baseline_file = BASELINE_PATH.relative_to(DATA_DIR.parent).as_posix()
    engines = ", ".join(sorted({m.engine for m in measurements if m.kind in SPEED_KINDS}))
    st.write(
        f"Every estimate in this dashboard checked against a measurement: {len(measurements):,} rows, "
        "each with its source — GGUF file sizes from llama.cpp; decode, serving-throughput, first-token and "
        f"prompt-processing speeds from {engines} "
        "benchmarks; peak GPU memory from Hugging Face's optimization guide and from our own runs of "
        "`python -m llm_calc measure` on a GPU (data/own_measurements/); and the QLoRA paper's “fits on "
        f"one GPU”. CI compares every row's error with `{baseline_file}` and fails when any row gets worse, "
        "unless that file is rewritten in the same change with a reason."
    )
    st.markdown(
        f"- **Fitted:** {len(fit_rows):,} rows (role *fit*) set constants — the GGUF bits per weight. Their errors "
        "are shown but not counted below. Speed rows are scored with engine constants fitted without the row's "
        "own source (leave-one-source-out, data/engine_profiles.csv).\n"
        f"- **Held out:** {len(held_rows):,} measurements no constant was fitted on. The figures below are their "
        "median absolute errors.\n"
        f"- **Earlier releases:** {len(superseded):,} speed rows ran serving-engine releases older than the "
        "profiles describe. They are estimated and listed apart, not counted in the figures.\n"
        f"- **Claims:** {len(bound_rows):,} rows say a run *fits* on a card. They are bounds, not measurements: "
        "each gets a verdict (does our estimate fit the card's usable memory?) and stays out of the medians."
    )


def efficiency_override() -> float | None:
    """One decode bandwidth efficiency for every engine when the toggle is on (both in the URL), else
    None: each engine's fitted efficiency."""
    override = st.toggle(
        "Replace every engine's fitted bandwidth efficiency", key="accuracy_override", bind="query-params"
    )
    efficiency = st.slider(
        "Decode bandwidth efficiency used for the speed rows",
        0.2,
        1.0,
        DECODE_BANDWIDTH_EFFICIENCY,
        0.01,
        key="accuracy_efficiency",
        bind="query-params",
        help="Used only with the toggle above: one efficiency for every engine, to see the trade-off.",
    )
    return efficiency if override else None


def summary_metrics(summaries: list[ErrorSummary]) -> None:
    """One metric per kind: the held-out median absolute error, or how many claims agree."""
    half = math.ceil(len(summaries) / 2)  # two rows of metrics: seven in one row cut their labels
    columns = [*st.columns(half), *st.columns(half)]
    for column, summary in zip(columns, summaries, strict=False):
        if summary.by_verdict:
            column.metric(
                KIND_LABELS[summary.kind],
                f"{summary.bound_agreements:,} of {summary.bound_rows:,} agree",
                help="published “fits on one GPU” claims our estimate agrees with",
            )
        else:
            value = "—" if summary.held_out_median_abs_error is None else f"{summary.held_out_median_abs_error:.1%}"
            column.metric(
                KIND_LABELS[summary.kind],
                value,
                help=f"median absolute error over {summary.held_out_rows:,} held-out rows",
            )


def goals(summaries: list[ErrorSummary]) -> None:
    """Each kind's goal, met or not."""
    st.caption("Goals we aim for, shown met or not. They do not gate CI; the per-row baseline does.")
    st.dataframe(pd.DataFrame(summary_rows(summaries)), hide_index=True, width="stretch")
    st.caption(f"Every row off by more than {OUTLIER_FACTOR:g}× says why in its note.")


def breakdowns(comparisons: list[Comparison]) -> None:
    """The held-out decode errors by engine, by device (one card, several, one CPU), by dense or MoE model."""
    st.caption(
        f"Held-out {' and '.join(KIND_LABELS[k].lower() for k in BREAKDOWN_KINDS)} rows, each estimated with "
        "constants fitted without its own source. The goals are issue 12's; an engine fitted on a single source "
        "has its rows estimated by the pooled fit of the other sources."
    )
    for grouping in GROUPINGS:
        st.markdown(f"**By {GROUPING_LABELS[grouping]}**")
        table = pd.DataFrame(breakdown_rows(breakdown(comparisons, grouping)))
        st.dataframe(table, hide_index=True, width="stretch", height="content")  # every engine, no inner scroll
    for note in [*missed_goal_notes(comparisons), cpu_group_note(comparisons)]:
        if note:
            st.caption(note)
    st.markdown("**By engine and card**")
    st.caption(
        "The same rows by engine profile and card: what Serving and the calculator show beside a deployment of "
        "that engine on that card. A ratio below 1× means the runs there were slower than we estimate."
    )
    st.dataframe(pd.DataFrame(track_record_rows(track_records(comparisons))), hide_index=True, width="stretch")


def superseded_releases(comparisons: list[Comparison]) -> None:
    """The rows of engine releases the profiles no longer describe, beside today's estimate."""
    summaries = superseded_summary(comparisons)
    if not summaries:
        st.caption("No rows of engine releases older than their profiles describe.")
        return
    st.caption(
        "Rows measured before the releases each serving engine's profile describes. They are kept and estimated "
        "here without their own source, but neither fitted nor counted above: the serving engines were rebuilt "
        "in early 2025 (vLLM's V1 engine became its default in 0.8.0, TensorRT-LLM gained its PyTorch backend in "
        "0.17; DeepSeek-R1 on 8 H200 decodes 3.4× faster per step on SGLang 0.5.7 than on 0.4.3), and one set of "
        "constants for both generations would fit neither. A ratio below 1× means those releases ran slower than "
        "today's profile estimates."
    )
    st.dataframe(pd.DataFrame(superseded_rows(summaries)), hide_index=True, width="stretch")


def engine_profiles() -> None:
    """The fitted engine profiles with their cross-validated error."""
    st.caption(
        f"As fitted by scripts/fit_engines.py into {PROFILES_PATH.relative_to(DATA_DIR.parent).as_posix()}; "
        "cross-validated error: leave-one-source-out median absolute error of the decode-type rows. A profile not "
        "fitted takes the pooled fit of every engine's rows."
    )
    table = pd.DataFrame(profile_rows(list(default_profiles().values())))
    st.dataframe(table, hide_index=True, width="stretch", height="content")


def estimate_against_measurement(comparisons: list[Comparison]) -> None:
    """Every row's estimate against its measurement, in the unit each kind is shown in."""
    st.caption("Memory in GiB, speeds in tokens/s; a claim's “measured” is the card's usable memory.")
    st.plotly_chart(
        predicted_vs_measured_figure(
            [c.measurement.id for c in comparisons],
            [c.shown(c.measurement.measured) for c in comparisons],
            [c.shown(c.predicted) for c in comparisons],
            [KIND_LABELS[c.measurement.kind] for c in comparisons],
        ),
        width="stretch",
    )


def _vendor_label(gpu: Gpu) -> str:
    """A device's vendor as the vendor chart groups it: CPUs apart from the same maker's GPUs."""
    return f"{gpu.vendor} CPU" if gpu.is_cpu else gpu.vendor


def decode_error_by_vendor(comparisons: list[Comparison]) -> None:
    """The decode rows' errors grouped by the card's vendor."""
    decode = [c for c in comparisons if c.measurement.kind == "decode"]
    st.plotly_chart(
        error_by_group_figure(
            [_vendor_label(find_gpu(c.measurement.gpu)) for c in decode],
            [c.error for c in decode],
            [c.measurement.id for c in decode],
        ),
        width="stretch",
    )


def source_cells(row: Measurement) -> dict[str, str | None]:
    """A row's source as two cells: a published page (a link) or the report of our own run, a file
    of this repository that the page cannot link to."""
    if row.is_own_run:
        return {"source": None, "our run": row.source}
    return {"source": row.source, "our run": None}


def not_estimated_table(not_estimated: list[NotEstimated]) -> pd.DataFrame:
    """The rows kept but not estimated yet, each with the reason."""
    return pd.DataFrame(
        [
            {
                "what": KIND_LABELS[n.measurement.kind],
                "model": n.measurement.hf_id,
                "device": n.measurement.gpu,
                "cards": n.measurement.gpu_count,
                "engine": n.measurement.engine,
                "reason": n.reason,
                **source_cells(n.measurement),
            }
            for n in not_estimated
        ]
    )


def not_yet_estimated(not_estimated: list[NotEstimated]) -> None:
    """The "Not yet estimated" section, when there are such rows."""
    if not not_estimated:
        return
    st.subheader("Not yet estimated")
    st.caption("Measurements we keep but cannot estimate yet, each with the reason; they are in no figure above.")
    st.dataframe(
        not_estimated_table(not_estimated),
        hide_index=True,
        width="stretch",
        column_config={"source": st.column_config.LinkColumn()},
    )


def every_row_table(comparisons: list[Comparison]) -> pd.DataFrame:
    """Every estimated row: measured, ours, the error, its role (fit, claim, held out) and its source."""
    return pd.DataFrame(
        [
            {
                "what": KIND_LABELS[c.measurement.kind],
                "model": c.measurement.hf_id,
                "precision": c.measurement.precision,
                "device": c.measurement.gpu,
                "context": c.measurement.context_tokens,
                "measured": round(c.shown(c.measurement.measured), 3),
                "ours": round(c.shown(c.predicted), 3),
                "unit": c.shown_unit + (" (card's usable memory: at most)" if c.is_bound else ""),
                "source unit": c.measurement.unit,
                "error (%)": 100 * c.error,
                "verdict": ("fits, agrees" if c.agrees else "does not fit, disagrees") if c.is_bound else "",
                "role": "fit" if c.measurement.used_for_fit else ("claim" if c.is_bound else "held out"),
                "engine": c.measurement.engine,
                "note": c.measurement.note,
                **source_cells(c.measurement),
            }
            for c in comparisons
        ]
    )


def every_row(comparisons: list[Comparison]) -> None:
    """The table of every row, with a CSV download."""
    table = every_row_table(comparisons)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "measured": st.column_config.NumberColumn(format="%,.3f"),
            "ours": st.column_config.NumberColumn(format="%,.3f"),
            "context": st.column_config.NumberColumn(format="%,d"),
            "error (%)": st.column_config.NumberColumn(format="%+.1f"),
            "source": st.column_config.LinkColumn(),
        },
    )
    st.download_button("Download CSV", table.to_csv(index=False).encode(), "llm_primer_accuracy.csv", "text/csv")


def what_the_errors_mean(summaries: list[ErrorSummary], comparisons: list[Comparison]) -> None:
    """Each kind's error range in words, and every training claim's verdict."""
    by_kind = {s.kind: s for s in summaries}
    weights, decode_summary, prefill = by_kind["weights_file"], by_kind["decode"], by_kind["prefill"]
    peak = by_kind["peak_memory"]
    claims = [c for c in comparisons if c.is_bound]
    lines = [
        f"- **Weight file sizes** are arithmetic on the architecture: held-out errors run from "
        f"{weights.held_out_min_error:+.1%} to {weights.held_out_max_error:+.1%}.",
        f"- **Peak memory** runs from {peak.held_out_min_error:+.1%} to {peak.held_out_max_error:+.1%}; the rows "
        "whose runs kept unquantized embeddings in 32-bit (see their notes) are the low ones, since we assume 16-bit.",
        "- **Decode speed** is a step time — bytes over the bandwidth at the engine's efficiency, plus its fixed "
        "per-step overhead — with each engine's constants fitted on the other sources' rows "
        f"(data/engine_profiles.csv). On its {decode_summary.held_out_rows:,} held-out rows the error runs from "
        f"{decode_summary.held_out_min_error:+.1%} to {decode_summary.held_out_max_error:+.1%}.",
        "- **Prompt processing** is a compute roofline at each engine's fitted MFU of dense 16-bit TFLOPS; on its "
        f"{prefill.held_out_rows:,} held-out rows the error runs from {prefill.held_out_min_error:+.1%} to "
        f"{prefill.held_out_max_error:+.1%}. On GeForce cards llama.cpp's kernels accumulate in FP16, at twice the "
        "FP32-accumulate rate we list, so we under-estimate them.",
        "- **Training fits** checks the QLoRA paper's claims against each card's usable memory in GiB:",
        *[
            f"  - {find_model(c.measurement.hf_id).name} on {c.measurement.gpu}: {c.shown(c.predicted):,.1f} of "
            f"{c.shown(c.measurement.measured):,.1f} {c.shown_unit} ({c.error:+.1%}), "
            + ("fits — agrees with the paper." if c.agrees else "does not fit — disagrees with the paper.")
            for c in claims
        ],
    ]
    st.markdown("\n".join(lines))
