"""Plotly figures for the pages. Each takes data computed by ``llm_calc`` and returns a Figure,
so tests can inspect it and pages only place it."""

from __future__ import annotations

import plotly.graph_objects as go

from llm_calc.hardware import GpuResult, ServingCurve, ServingPoint
from llm_calc.memory import MemoryBreakdown
from llm_calc.tokens import RULE_TOKENS_PER_WORD
from llm_calc.training import TrainingMemory
from llm_calc.units import GIB

FITS_COLOR = "#16a34a"
MULTI_COLOR = "#f59e0b"
NO_FIT_COLOR = "#9ca3af"
PART_COLORS = {
    "Weights": "#4f46e5",
    "Vision tower": "#8b5cf6",
    "KV cache": "#0ea5e9",
    "Activations": "#f59e0b",
    "Overhead": "#9ca3af",
}


def context_label(tokens: int) -> str:
    """1024 -> "1k", 1048576 -> "1M", 1000 -> "1,000"."""
    if tokens >= 2**20 and tokens % 2**20 == 0:
        return f"{tokens // 2**20}M"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}k"
    return f"{tokens:,}"


def short_name(name: str) -> str:
    """Card names without the vendor words that every row repeats, so phone-width charts fit."""
    for prefix in ("NVIDIA ", "AMD Instinct ", "AMD Radeon "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def fit_status(result: GpuResult) -> str:
    if result.fits:
        return "fits"
    if result.count_needed:
        return "needs more cards"
    return "does not fit"


def gpu_fit_figure(results: list[GpuResult], single_card_bytes: int) -> go.Figure:
    """Usable memory of every card against what the model needs on one card.

    Bars are the cards' usable memory, coloured by whether the model fits with the chosen number
    of cards; the label says how many cards it takes. The dashed line is the single-card need.
    """
    ordered = sorted(results, key=lambda r: (r.usable_memory_bytes, r.gpu.name))
    colors = {"fits": FITS_COLOR, "needs more cards": MULTI_COLOR, "does not fit": NO_FIT_COLOR}
    figure = go.Figure()
    for status, color in colors.items():
        rows = [r for r in ordered if fit_status(r) == status]
        if not rows:
            continue
        figure.add_bar(
            name=status,
            orientation="h",
            y=[short_name(r.gpu.name) for r in rows],
            x=[r.usable_memory_bytes / GIB for r in rows],
            marker_color=color,
            text=[_cards_text(r) for r in rows],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}<br>usable %{x:.1f} GiB<br>%{text}<extra></extra>",
        )
    figure.add_vline(
        x=single_card_bytes / GIB,
        line_dash="dash",
        line_color="#111827",
        annotation_text=f"needed on one card: {single_card_bytes / GIB:,.1f} GiB",
        annotation_position="top",
    )
    figure.update_layout(
        barmode="overlay",
        height=max(360, 22 * len(ordered) + 140),
        margin={"l": 10, "r": 60, "t": 50, "b": 40},
        xaxis_title="usable memory per card (GiB)",
        yaxis={"categoryorder": "array", "categoryarray": [short_name(r.gpu.name) for r in ordered]},
        legend={"orientation": "h", "y": -0.08 if len(ordered) > 20 else -0.2},
    )
    return figure


def _cards_text(result: GpuResult) -> str:
    if result.count_needed is None:
        return "does not fit"
    if result.count_needed == 1:
        return "1 card"
    return f"{result.count_needed} cards"


def memory_parts(memory: MemoryBreakdown) -> dict[str, int]:
    return {
        "Weights": memory.weights_bytes,
        **({"Vision tower": memory.vision_bytes} if memory.vision_bytes else {}),
        "KV cache": memory.kv_cache_bytes,
        **({"Layer state": memory.state_bytes} if memory.state_bytes else {}),
        "Activations": memory.activations_bytes,
        "Overhead": memory.overhead_bytes,
    }


def memory_by_context_figure(series: list[tuple[int, MemoryBreakdown]], selected: int) -> go.Figure:
    """Stacked memory parts at each context length; the selected context is marked.

    The x axis is categorical, in the order of ``series``: its labels ("1k", "8k") are text, and on
    a numeric axis Plotly would drop every bar whose label is not a number.
    """
    labels = [context_label(c) for c, _ in series]
    figure = go.Figure()
    for part, color in PART_COLORS.items():
        if not any(part in memory_parts(m) for _, m in series):  # a text model has no vision tower
            continue
        figure.add_bar(
            name=part,
            x=labels,
            y=[memory_parts(m).get(part, 0) / GIB for _, m in series],
            marker_color=color,
            hovertemplate=f"{part}: %{{y:,.1f}} GiB<extra>%{{x}} tokens</extra>",
        )
    figure.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "context (tokens)", "type": "category", "categoryorder": "array", "categoryarray": labels},
        yaxis_title="memory (GiB)",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    if selected in [c for c, _ in series]:
        figure.add_annotation(
            x=context_label(selected),
            y=sum(memory_parts(dict(series)[selected]).values()) / GIB,
            text="selected",
            showarrow=True,
            arrowhead=2,
            yshift=4,
        )
    return figure


def decode_speed_figure(results: list[GpuResult]) -> go.Figure:
    """Tokens per second per sequence on each deployment that holds the model."""
    rows = sorted((r for r in results if r.speed), key=lambda r: r.speed.decode_tokens_per_s)
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=[f"{short_name(r.gpu.name)} ×{r.cards_used}" for r in rows],
            x=[r.speed.decode_tokens_per_s for r in rows],
            marker_color=[FITS_COLOR if r.fits else MULTI_COLOR for r in rows],
            hovertemplate="%{y}: %{x:,.1f} tokens/s per sequence<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(360, 22 * len(rows) + 100),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis_title="decode speed per sequence (tokens/s)",
    )
    return figure


def token_count_figure(labels: list[str], tokens: list[int], rule_estimate: int) -> go.Figure:
    """Exact tokens per tokenizer, with the tokens-per-word rule (RULE_TOKENS_PER_WORD) as a dashed line."""
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=tokens,
            marker_color="#4f46e5",
            text=[f"{t:,}" for t in tokens],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:,} tokens<extra></extra>",
        )
    )
    figure.add_hline(
        y=rule_estimate,
        line_dash="dash",
        line_color="#f59e0b",
        annotation_text=f"{RULE_TOKENS_PER_WORD} × words = {rule_estimate:,}",
        annotation_position="top left",
    )
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 30, "b": 40}, yaxis_title="tokens")
    return figure


def context_fill_figure(models: list[str], percents: list[float]) -> go.Figure:
    """Share of each model's context window the prompt plus completion takes (100 % = full)."""
    colors = [FITS_COLOR if p <= 100 else "#dc2626" for p in percents]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=models,
            x=[min(p, 150) for p in percents],
            marker_color=colors,
            text=[f"{p:,.1f} %" if p < 1000 else f"{p:,.0f} %" for p in percents],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{text} of the window<extra></extra>",
        )
    )
    figure.add_vline(x=100, line_dash="dash", line_color="#111827")
    figure.update_layout(
        height=max(300, 24 * len(models) + 80),
        margin={"l": 10, "r": 60, "t": 20, "b": 40},
        xaxis={"title": "share of the context window (%), capped at 150", "range": [0, 160]},
        yaxis={"autorange": "reversed"},
    )
    return figure


TRAINING_PART_COLORS = {
    "Weights": "#4f46e5",
    "Vision tower": "#8b5cf6",
    "Gradients": "#a855f7",
    "Optimizer & adapters": "#0ea5e9",
    "Activations": "#f59e0b",
    "Optimizer step temporaries": "#ef4444",
    "Overhead": "#9ca3af",
}


def training_memory_parts(memory: TrainingMemory) -> dict[str, int]:
    """The parts of the peak, as stacked: model states, overhead and the larger transient part
    (activations, or the optimizer step's temporaries when those are larger). [bytes]"""
    transient = (
        "Activations" if memory.activations_bytes >= memory.step_temporaries_bytes else "Optimizer step temporaries"
    )
    return {
        "Weights": memory.weights_bytes,
        "Gradients": memory.gradients_bytes,
        "Optimizer & adapters": memory.optimizer_bytes,
        transient: memory.transient_bytes,
        "Overhead": memory.overhead_bytes,
    }


def training_memory_figure(methods: list[str], memories: list[TrainingMemory], cards: dict[str, int]) -> go.Figure:
    """Stacked peak memory per GPU for each method, with dashed lines at card capacities (GiB)."""
    figure = go.Figure()
    parts = [training_memory_parts(m) for m in memories]
    for part, color in TRAINING_PART_COLORS.items():
        figure.add_bar(
            name=part,
            x=methods,
            y=[p.get(part, 0) / GIB for p in parts],
            marker_color=color,
            hovertemplate=f"{part}: %{{y:,.1f}} GiB<extra>%{{x}}</extra>",
        )
    for method, part in zip(methods, parts, strict=True):
        total = sum(part.values()) / GIB
        figure.add_annotation(x=method, y=total, text=f"{total:,.1f} GiB", showarrow=False, yshift=10)
    for label, capacity in cards.items():
        figure.add_hline(
            y=capacity / GIB,
            line_dash="dot",
            line_color="#6b7280",
            annotation_text=label,
            annotation_position="top right",
        )
    figure.update_layout(
        barmode="stack",
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        yaxis_title="memory per GPU (GiB)",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def time_and_cost_figure(gpus: list[int], days: list[float], costs: list[float | None]) -> go.Figure:
    """Wall-clock days (left axis, log) and rented cost (right axis) against the number of GPUs."""
    figure = go.Figure()
    figure.add_scatter(
        x=gpus,
        y=days,
        name="days",
        mode="lines+markers",
        line_color="#4f46e5",
        hovertemplate="%{x} GPUs: %{y:,.2f} days<extra></extra>",
    )
    if any(c is not None for c in costs):
        figure.add_scatter(
            x=gpus,
            y=costs,
            name="cost ($)",
            mode="lines",
            line_color="#16a34a",
            yaxis="y2",
            hovertemplate="%{x} GPUs: $%{y:,.0f}<extra></extra>",
        )
    figure.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "GPUs", "type": "log"},
        yaxis={"title": "days", "type": "log"},
        yaxis2={"title": "cost ($)", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def model_sizes_figure(names: list[str], released: list[str], params: list[int], families: list[str]) -> go.Figure:
    """Parameter counts of catalog models by release month, log scale."""
    figure = go.Figure()
    for family in dict.fromkeys(families):
        rows = [i for i, f in enumerate(families) if f == family]
        figure.add_scatter(
            x=[released[i] + "-01" for i in rows],
            y=[params[i] for i in rows],
            text=[names[i] for i in rows],
            name=family,
            mode="markers",
            marker={"size": 10},
            hovertemplate="%{text}: %{y:.3s} parameters<extra>%{x|%b %Y}</extra>",
        )
    figure.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        yaxis={"title": "parameters", "type": "log"},
        xaxis_title="released",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def context_windows_figure(names: list[str], released: list[str], windows: list[int]) -> go.Figure:
    """Context windows of catalog models by release month, log scale."""
    figure = go.Figure(
        go.Scatter(
            x=[r + "-01" for r in released],
            y=windows,
            text=names,
            mode="markers+text",
            textposition="top center",
            marker={"size": 10, "color": "#4f46e5"},
            hovertemplate="%{text}: %{y:,} tokens<extra>%{x|%b %Y}</extra>",
        )
    )
    figure.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        yaxis={"title": "context window (tokens)", "type": "log"},
        xaxis_title="released",
    )
    return figure


def probabilities_figure(probabilities: dict[str, float]) -> go.Figure:
    """Next-token probabilities as bars (tokens shown with their leading space as ␣)."""
    labels = [token.replace(" ", "␣") for token in probabilities]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[100 * p for p in probabilities.values()],
            marker_color="#4f46e5",
            text=[f"{100 * p:.1f} %" for p in probabilities.values()],
            textposition="outside",
            cliponaxis=False,
        )
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        yaxis={"title": "probability (%)", "range": [0, 110]},
    )
    return figure


def parameter_parts_figure(parts: dict[str, int]) -> go.Figure:
    """Where a model's parameters are (embeddings, attention, MLP, norms)."""
    figure = go.Figure(
        go.Bar(
            x=list(parts.values()),
            y=list(parts),
            orientation="h",
            marker_color="#4f46e5",
            text=[f"{v / sum(parts.values()):.1%}" for v in parts.values()],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,} parameters<extra></extra>",
        )
    )
    figure.update_layout(height=240, margin={"l": 10, "r": 50, "t": 10, "b": 30}, xaxis_title="parameters")
    return figure


def predicted_vs_measured_figure(
    labels: list[str], measured: list[float], predicted: list[float], groups: list[str]
) -> go.Figure:
    """Our estimate against the measurement on log axes, with the y = x line."""
    figure = go.Figure()
    for group in dict.fromkeys(groups):
        rows = [i for i, g in enumerate(groups) if g == group]
        figure.add_scatter(
            x=[measured[i] for i in rows],
            y=[predicted[i] for i in rows],
            text=[labels[i] for i in rows],
            name=group,
            mode="markers",
            marker={"size": 10},
            hovertemplate="%{text}<br>measured %{x:,.3g}<br>ours %{y:,.3g}<extra></extra>",
        )
    low, high = min(measured + predicted) / 1.5, max(measured + predicted) * 1.5
    figure.add_scatter(
        x=[low, high],
        y=[low, high],
        mode="lines",
        name="y = x",
        line={"dash": "dash", "color": "#6b7280"},
        hoverinfo="skip",
    )
    figure.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        xaxis={"title": "measured", "type": "log"},
        yaxis={"title": "our estimate", "type": "log"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def error_by_group_figure(groups: list[str], errors: list[float], labels: list[str]) -> go.Figure:
    """Signed error (%) of each row, grouped (e.g. by device family)."""
    figure = go.Figure(
        go.Box(
            x=groups,
            y=[100 * e for e in errors],
            text=labels,
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            marker_color="#4f46e5",
            hovertemplate="%{text}: %{y:+.1f} %<extra></extra>",
        )
    )
    figure.add_hline(y=0, line_dash="dash", line_color="#6b7280")
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 20, "b": 40}, yaxis_title="error (%)")
    return figure


def serving_figure(curve: ServingCurve, chosen: ServingPoint | None, min_per_user_tokens_per_s: float) -> go.Figure:
    """Per-user decode speed against all users' throughput, one point per concurrency (log x).

    The last point is the memory limit (``max_concurrency``: the most sequences the KV cache
    holds), marked and named; the dashed line is the per-user speed asked for, and ``chosen`` the
    busiest concurrency that still meets it.
    """
    points = curve.points
    figure = go.Figure(
        go.Scatter(
            x=[p.aggregate_tokens_per_s for p in points],
            y=[p.per_user_tokens_per_s for p in points],
            customdata=[p.concurrency for p in points],
            mode="lines+markers",
            name="users at once",
            marker={"size": 8, "color": PART_COLORS["Weights"]},
            hovertemplate="%{customdata:,} users: %{y:,.1f} tokens/s each, %{x:,.0f} tokens/s in all<extra></extra>",
        )
    )
    limit = points[-1]
    figure.add_scatter(
        x=[limit.aggregate_tokens_per_s],
        y=[limit.per_user_tokens_per_s],
        mode="markers",
        name=f"KV memory limit: {curve.max_concurrency:,} users",
        marker={"size": 14, "symbol": "x", "color": MULTI_COLOR},
        hoverinfo="skip",
    )
    if chosen is not None:
        figure.add_scatter(
            x=[chosen.aggregate_tokens_per_s],
            y=[chosen.per_user_tokens_per_s],
            mode="markers",
            name=f"{chosen.concurrency:,} users: the most at ≥ {min_per_user_tokens_per_s:g} tokens/s each",
            marker={"size": 16, "color": FITS_COLOR, "line": {"width": 2, "color": "white"}},
            hoverinfo="skip",
        )
    figure.add_hline(y=min_per_user_tokens_per_s, line_dash="dash", line_color="#6b7280")
    figure.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
        xaxis={"title": "total throughput, all users (tokens/s)", "type": "log"},
        yaxis={"title": "speed each user sees (tokens/s)", "rangemode": "tozero"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure
