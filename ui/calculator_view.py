"""The hardware calculator's blocks of rendering detail, so its page reads like the screen it draws:
the sidebar's expanders, the fit verdict, the notes under the memory metrics, the tabs' contents and
the expanders at the bottom. Each function draws into the current container (or the one it is given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from llm_calc.architecture import ModelSpec, ParameterCount, state_bytes_per_sequence
from llm_calc.assumptions import inference_assumptions
from llm_calc.catalog import SMALL_BATCH_TILE_ROWS, CatalogModel, Gpu
from llm_calc.gguf import GgufHeader
from llm_calc.hardware import (
    APPLE_GPU_SHARE_LARGE,
    APPLE_GPU_SHARE_SMALL,
    DECODE_BANDWIDTH_EFFICIENCY,
    PREFILL_MFU,
    GpuResult,
    Speed,
)
from llm_calc.memory import DEFAULT_PREFILL_CHUNK_TOKENS, InferenceSettings, MemoryBreakdown, vision_bits
from llm_calc.precision import WEIGHT_FORMATS, weight_format
from llm_calc.quantization import MTP_BASIS, StoragePlan
from llm_calc.rules import INFERENCE_GB_PER_BILLION_16BIT, INFERENCE_GB_PER_BILLION_QUANTIZED, inference_rule_bytes
from llm_calc.sweep import memory_by_context
from llm_calc.units import GIB, format_count, format_gib
from ui.charts import decode_speed_figure, gpu_fit_figure, memory_by_context_figure
from ui.engine_view import engine_metrics, refusals, track_record_note
from ui.model_picker import ModelChoice
from ui.tables import gguf_type_table, gpu_table, gpu_table_columns, number_columns, storage_table
from ui.text import escape_markdown

PREFILL_CHUNKS = (256, 512, 1024, 2048, 4096, 8192, 16384)
"""The prefill chunk sizes offered under *Advanced* [tokens]."""
FIT_NAMES_SHOWN = 6
"""How many fitting cards the verdict names before "and N more"."""


# --- sidebar --------------------------------------------------------------------------------------


def apple_memory_note() -> None:
    """Why an Apple GPU may use only part of a Mac's unified memory."""
    st.caption(
        f"Apple: the GPU may use {APPLE_GPU_SHARE_SMALL:.0%} of unified memory up to 36 GB and "
        f"{APPLE_GPU_SHARE_LARGE:.0%} above — macOS keeps the rest for itself and other apps "
        "(raise it with `sudo sysctl iogpu.wired_limit_mb`). One Mac per deployment."
    )


def cpu_note() -> None:
    """What a CPU row of the comparison is."""
    st.caption(
        "CPU: one socket with the memory its name states, run by llama.cpp's CPU backend (the only "
        "CPU engine modelled), its decode bound by the memory channels. The whole RAM is counted: "
        "leave room for the operating system. One socket per deployment."
    )


@dataclass(frozen=True)
class CustomCard:
    """The "Your own card" expander's fields, as typed (checked by ``Gpu.custom`` later)."""

    wanted: bool
    name: str
    memory_gib: float
    bandwidth_gbs: float
    tflops_16bit: float
    price_per_hour_usd: float
    gpu_class: str = "datacenter"
    """``llm_calc.catalog.GPU_CLASSES``: a card, Apple silicon or a CPU socket (which engines run it)."""


CUSTOM_KINDS = {"GPU card": "datacenter", "Apple silicon": "apple", "CPU socket": "cpu"}
"""What the user's own device is, as the expander names it, and its catalog class."""


def custom_card_inputs() -> CustomCard:
    """The "Your own card" expander: a card not in the catalog, added to the comparison when toggled."""
    with st.expander("Your own card"):
        wanted = st.toggle("Add a card not in the catalog", key="custom_card", bind="query-params")
        kind = st.radio("Kind", list(CUSTOM_KINDS), horizontal=True, key="card_kind", bind="query-params")
        name = st.text_input("Name", value="My card", max_chars=40, key="card_name", bind="query-params")
        memory = st.number_input("Memory (GiB)", 1.0, 100_000.0, 48.0, key="card_mem", bind="query-params")
        bandwidth = st.number_input("Bandwidth (GB/s)", 1.0, 100_000.0, 1000.0, key="card_bw", bind="query-params")
        tflops = st.number_input(
            "Dense 16-bit TFLOPS",
            0.01,
            100_000.0,
            200.0,
            key="card_tflops",
            bind="query-params",
            help="A CPU: its vector FP32 peak, cores × FLOPs a cycle × base clock (as the catalog's CPUs).",
        )
        price = st.number_input(
            "Price ($ per hour, 0 = none)", 0.0, 10_000.0, 0.0, key="card_price", bind="query-params"
        )
    return CustomCard(wanted, name, memory, bandwidth, tflops, price, CUSTOM_KINDS[kind])


@dataclass(frozen=True)
class SpeedOverrides:
    """The "Advanced" expander: the engine's constants when overridden (else None), prefill chunk, FlashAttention."""

    efficiency: float | None
    mfu: float | None
    chunk_tokens: int
    flash_attention: bool


def advanced_inputs() -> SpeedOverrides:
    """The "Advanced" expander: override the engine's decode efficiency and prefill MFU, chunk, FlashAttention."""
    with st.expander("Advanced"):
        override = st.toggle("Override the engine's efficiency and MFU", key="override", bind="query-params")
        efficiency = st.slider(
            "Decode bandwidth efficiency",
            0.2,
            1.0,
            DECODE_BANDWIDTH_EFFICIENCY,
            0.05,
            key="efficiency",
            bind="query-params",
        )
        mfu = st.slider("Prefill model-FLOPs utilisation", 0.1, 1.0, PREFILL_MFU, 0.05, key="mfu", bind="query-params")
        chunk = st.select_slider(
            "Prefill chunk (tokens)",
            PREFILL_CHUNKS,
            value=DEFAULT_PREFILL_CHUNK_TOKENS,
            key="chunk",
            bind="query-params",
        )
        flash = st.toggle("FlashAttention", value=True, key="flash", bind="query-params")
    return SpeedOverrides(efficiency if override else None, mfu if override else None, chunk, flash)


# --- results --------------------------------------------------------------------------------------


def gguf_weights_only(choice: ModelChoice) -> None:
    """A GGUF file whose architecture's KV cache is not modelled: its exact weights and the refusal."""
    header = choice.gguf
    assert header is not None
    st.subheader(f"{header.name or 'GGUF file'} · {format_count(header.parameters)} parameters")
    st.metric("Weights", format_gib(header.weights_bytes), help="exact: every tensor's bytes in the file")
    st.warning(escape_markdown(choice.not_modelled or ""))
    st.dataframe(gguf_type_table(header), hide_index=True, column_config=number_columns(["tensors"]))


def cards_to_compare(
    catalog: tuple[Gpu, ...], vendors: list[str], classes: list[str], custom: CustomCard
) -> tuple[Gpu, ...]:
    """The catalog's cards of the chosen vendors and classes, plus the user's own card when wanted
    (left out, with a warning saying why, when its fields are not a card)."""
    gpus = tuple(g for g in catalog if g.vendor in vendors and g.gpu_class in classes)
    if custom.wanted:
        try:
            price = custom.price_per_hour_usd or None
            card = Gpu.custom(
                custom.name, custom.memory_gib, custom.bandwidth_gbs, custom.tflops_16bit, price, custom.gpu_class
            )
        except ValueError as error:
            st.warning(f"Your card was left out: {escape_markdown(str(error))}")
        else:
            gpus += (card,)
            if card.unmeasured_tile_limit:
                st.warning(
                    f"{escape_markdown(card.name)}'s tensor cores can stream at most "
                    f"{card.tile_weight_stream_gbs:,.0f} GB/s of 16-bit weights at small batches (a matrix "
                    f"multiply computes {SMALL_BATCH_TILE_ROWS} rows whatever the batch, at its "
                    f"{card.tflops_16bit:,.0f} TFLOPS), less than its {card.bandwidth_gbs:,.0f} GB/s of memory: "
                    "its decode is likely slower than estimated here, by an amount only a measurement on the "
                    "card can tell (as for the NVIDIA H20, whose measured ceiling the catalog carries)."
                )
    return gpus


def model_heading(spec: ModelSpec, params: ParameterCount) -> None:
    """The model's name and parameter count (and active parameters for a mixture of experts)."""
    st.subheader(
        f"{spec.name} · {format_count(params.total)} parameters"
        + (f" ({format_count(params.active)} active per token)" if spec.is_moe else "")
    )


def fit_verdict(where: Any, results: list[GpuResult], gpus: tuple[Gpu, ...], gpu_count: int) -> None:
    """Which cards hold the model with ``gpu_count`` per deployment, and the cheapest rented deployment,
    drawn in ``where`` (the column beside the total)."""
    fitting = [r for r in results if r.fits]
    deployable = [r for r in results if r.cards_used and r.price_per_hour_usd and r.speed]
    if not gpus:
        where.warning("No card matches the vendor and class filters.")
    elif fitting:
        smallest = sorted(fitting, key=lambda r: r.usable_memory_bytes)[:FIT_NAMES_SHOWN]
        names = ", ".join(r.gpu.name for r in smallest)
        more = f" and {len(fitting) - FIT_NAMES_SHOWN} more" if len(fitting) > FIT_NAMES_SHOWN else ""
        where.success(f"Fits on {gpu_count} card{'s' if gpu_count > 1 else ''} of: {names}{more}.")
    else:
        where.info(f"No card holds it with {gpu_count} per deployment; the table shows how many each needs.")
    if deployable:
        cheapest = min(deployable, key=lambda r: r.price_per_hour_usd)
        where.write(
            f"Cheapest rented deployment in the catalog: **{cheapest.gpu.name} × {cheapest.cards_used}** at "
            f"${cheapest.price_per_hour_usd:,.2f}/h (${cheapest.cost_per_day_usd:,.0f}/day), "
            f"{cheapest.speed.decode_tokens_per_s:,.0f} tokens/s per sequence."
        )


def weights_help(storage: StoragePlan | None, precision: str) -> str:
    """The Weights metric's help: how the checkpoint is stored, or the one format of every parameter."""
    return storage.label if storage else f"{weight_format(precision).label}, every parameter"


def layer_state_and_vision_notes(
    spec: ModelSpec, memory: MemoryBreakdown, settings: InferenceSettings, choice: ModelChoice
) -> None:
    """What the total holds beside weights, KV cache, activations and overhead: the fixed layer state
    of linear-attention or convolution layers, and a multimodal model's vision tower."""
    if memory.state_bytes:  # linear-attention / convolution layers: a fixed state per sequence
        st.caption(
            f"Plus **{format_gib(memory.state_bytes)} of layer state**: {spec.name}'s linear-attention or "
            f"convolution layers keep no per-token cache but a fixed state of {state_bytes_per_sequence(spec):,} "
            f"bytes per sequence × {settings.batch:,} sequences — it grows with the batch, not with the context, "
            "and every decode step reads it."
        )
    if memory.vision_bytes:  # a multimodal model's image encoder, loaded beside the language model
        st.caption(
            f"Plus **{format_gib(memory.vision_bytes)} of vision tower**: {settings.vision_params:,} "
            f"parameters of image encoder and projector at {vision_bits(settings):g} bits "
            "(quantizers leave it unconverted); decode steps do not read it."
        )
    elif choice.checkpoint is not None and choice.checkpoint.vision_not_modelled:
        st.caption(f"Vision tower not counted: {escape_markdown(choice.checkpoint.vision_not_modelled)}")


def hub_checkpoint_metric(where: Any, choice: ModelChoice) -> None:
    """The checkpoint's tensor bytes as read from its safetensors headers on the Hub, as a metric in
    ``where`` (the memory row's fifth column), or a caption saying why they were not read."""
    checkpoint = choice.hub.checkpoint if choice.hub is not None else None
    if checkpoint is not None and checkpoint.file_count > 0:
        where.metric(
            "Checkpoint on the Hub",
            format_gib(checkpoint.tensor_bytes),
            help=f"tensor bytes from the headers of its {checkpoint.file_count:,} safetensors "
            f"file{'s' if checkpoint.file_count != 1 else ''}",
        )
    elif choice.hub is not None:
        st.caption(f"Checkpoint on the Hub: not read ({escape_markdown(choice.hub.checkpoint_note)}).")


def on_the_hub(choice: ModelChoice) -> bool:
    """Whether the model came from the Hub with a checkpoint whose headers were read."""
    checkpoint = choice.hub.checkpoint if choice.hub is not None else None
    return checkpoint is not None and checkpoint.file_count > 0


def stored_weights(storage: StoragePlan | None, memory: MemoryBreakdown, gguf: GgufHeader | None) -> None:
    """The checkpoint as stored when it differs from what is loaded (multi-token-prediction layers),
    and the expander with its storage by parameter group (and a GGUF file's tensor types)."""
    if not storage:
        return
    if storage.mtp_rows:
        st.info(
            f"The checkpoint as stored is **{format_gib(storage.checkpoint_bytes)}**, with "
            f"{format_count(storage.mtp_params)} parameters of multi-token-prediction layers; the estimate's "
            f"weights (**{format_gib(memory.weights_bytes)}**) are {MTP_BASIS}."
        )
    with st.expander("Weights as stored, by parameter group"):
        st.dataframe(
            storage_table(storage),
            hide_index=True,
            width="stretch",
            column_config=number_columns(["parameters", "GiB"]),
        )
        if gguf is not None:
            st.dataframe(
                gguf_type_table(gguf),
                hide_index=True,
                width="stretch",
                column_config=number_columns(["tensors"]),
            )


def rules_of_thumb(
    params: ParameterCount, memory: MemoryBreakdown, storage: StoragePlan | None, precision: str
) -> None:
    """The bordered box comparing the GB-per-billion rules of thumb with the detailed estimate."""
    with st.container(border=True):
        rule_16 = inference_rule_bytes(params.total, quantized=False)
        rule_q = inference_rule_bytes(params.total, quantized=True)
        quantized = any(r.bits < 16 for r in storage.rows) if storage else weight_format(precision).bits < 16
        st.markdown(
            f"**Rules of thumb** — 16-bit: {INFERENCE_GB_PER_BILLION_16BIT:g} GB (10⁹ bytes) per billion parameters "
            f"→ **{format_gib(rule_16)}**; quantized (4-bit): {INFERENCE_GB_PER_BILLION_QUANTIZED:g} GB per billion "
            f"→ **{format_gib(rule_q)}**. Detailed estimate here: **{format_gib(memory.total_bytes)}** "
            f"at {'this quantization' if quantized else '16 bits or more'}."
        )
        st.caption(
            "They differ because the rules assume a short prompt and one user, while the detailed figure adds "
            "the KV cache, which grows with context × batch, and a fixed runtime overhead per card."
        )


# --- tabs -----------------------------------------------------------------------------------------


def which_cards(results: list[GpuResult], memory: MemoryBreakdown) -> None:
    """The "Which cards" tab: each card's usable memory against the model's, and the cards needed."""
    st.plotly_chart(gpu_fit_figure(results, memory.total_bytes), width="stretch")
    st.caption(
        "Bars: memory each card lets a model use (Apple: the GPU's share of unified memory). "
        "Labels: cards needed with tensor parallelism, each card paying the runtime overhead."
    )


def memory_versus_context(spec: ModelSpec, settings: InferenceSettings) -> None:
    """The "Memory vs context" tab: the parts of memory from a short context to at least 32k tokens."""
    largest = max(settings.context_tokens, 32_768)
    series = memory_by_context(spec, settings, largest)
    st.plotly_chart(memory_by_context_figure(series, settings.context_tokens), width="stretch")
    st.caption(
        "The weights are fixed; the KV cache grows linearly with context (up to the sliding window "
        "on windowed layers) and with the number of concurrent sequences."
    )


def decode_speed(results: list[GpuResult], memory: MemoryBreakdown, settings: InferenceSettings) -> None:
    """The "Speed" tab: decode speed per card, why some have none, and one deployment's speed explained."""
    st.plotly_chart(decode_speed_figure(results), width="stretch")
    deployments = [r for r in results if r.speed]
    refusals(results)
    if deployments:
        default = min(deployments, key=lambda r: (not r.fits, r.cards_used, r.usable_memory_bytes))
        # plain labels, not the results: a result kept in the widget's state from the run before
        # would explain the old engine or settings after the user changed them
        labels = [deployment_label(r) for r in deployments]
        chosen = st.selectbox(
            "Explain the speed on", labels, index=labels.index(deployment_label(default)), key="explain"
        )
        explained = deployments[labels.index(chosen)]
        engine_metrics(explained)
        track_record_note(explained.speed.engine, explained.gpu)
        st.markdown(speed_explanation(explained, memory, settings))
    st.caption(
        "Pipeline stages beyond one 8-card node run one after another for each token, so extra "
        "nodes add memory, not decode speed. Adjust the efficiency and MFU under *Advanced*."
    )


def deployment_label(result: GpuResult) -> str:
    """How the speed explanation names a deployment: its card and how many of them."""
    return f"{result.gpu.name} × {result.cards_used}"


def speed_explanation(explained: GpuResult, memory: MemoryBreakdown, settings: InferenceSettings) -> str:
    """One deployment's decode step in words: bytes read per card, at what bandwidth, step time, the bound."""
    why = explained.speed
    batch, context = settings.batch, settings.context_tokens
    bandwidth = (
        f"at {why.efficiency:.0%} of its datasheet bandwidth (≈ {why.card_bandwidth_gbs:,.0f} GB/s, decimal as "
        f"datasheets quote it){weight_ceiling_text(why.weight_stream_gbs)}{kv_copy_text(why)}"
    )
    if explained.cards_used == 1:
        reader = "The CPU's memory channels deliver" if explained.gpu.is_cpu else "The card reads"
        peak = " at its vector FP32 peak" if explained.gpu.is_cpu else ""
        reading = (
            f"{reader} it {bandwidth}: **{why.memory_seconds * 1000:,.1f} ms** per step; the step's FLOPs take "
            f"{why.compute_seconds * 1000:,.2f} ms{peak}, plus {why.step_overhead_seconds * 1000:,.2f} ms of "
            f"{why.engine} overhead"
        )
    else:
        reading = (
            f"On {explained.cards_used:,} cards each card reads **{why.card_read_bytes / GIB:,.2f} GiB** — its "
            f"share of the weights and the KV cache it holds (a full copy where the cache is replicated) — "
            f"{bandwidth}: **{why.memory_seconds * 1000:,.1f} ms** per step (pipeline stages one after another); "
            f"the step's FLOPs take {why.compute_seconds * 1000:,.2f} ms, plus "
            f"{why.step_overhead_seconds * 1000:,.2f} ms of {why.engine} overhead and "
            f"{why.communication_seconds * 1000:,.2f} ms over the interconnect"
        )
    return (
        f"Each decode step reads **{why.read_bytes / GIB:,.2f} GiB**: the weights a token touches "
        f"({(why.read_bytes - memory.kv_cache_bytes) / GIB:,.2f} GiB) plus the whole KV cache "
        f"({memory.kv_cache_bytes / GIB:,.2f} GiB for {batch:,} × {context:,} tokens). "
        f"{reading}, so decode is **{'memory-bandwidth' if why.bandwidth_bound else 'compute'}-bound**: "
        f"{why.decode_tokens_per_s:,.1f} tokens/s per sequence, {why.aggregate_tokens_per_s:,.0f} for "
        f"the batch. A prompt filling the context takes about {why.prefill_seconds:,.1f} s to prefill."
    )


def kv_copy_text(why: Speed) -> str:
    """The clause that says the engine copies its KV cache every step, and what that costs, or nothing."""
    if why.kv_cache_passes <= 1:
        return ""
    return (
        f", and {why.engine} rebuilds the KV cache every step (appending the new token copies the whole "
        f"cache: {why.kv_cache_passes:,} passes over it in all, {why.kv_copy_seconds * 1000:,.2f} ms of copies)"
    )


def weight_ceiling_text(weight_stream_gbs: float | None) -> str:
    """The clause that says a card's weights stream at its measured ceiling, or nothing."""
    if weight_stream_gbs is None:
        return ""
    return (
        f", its weights no faster than the {weight_stream_gbs:,.0f} GB/s this card's matrix kernels stream at "
        "small batches (measured: with little tensor throughput for its bandwidth, a small-batch GEMM is "
        "compute-bound here)"
    )


def card_table(results: list[GpuResult]) -> None:
    """The "Table" tab: every card's fit, speed and cost, with a CSV download."""
    table = gpu_table(results)
    st.dataframe(table, hide_index=True, width="stretch", column_config=gpu_table_columns())
    st.download_button(
        "Download CSV", table.to_csv(index=False).encode(), file_name="llm_hardware.csv", mime="text/csv"
    )


# --- expanders at the bottom ----------------------------------------------------------------------


def parameter_table(params: ParameterCount) -> pd.DataFrame:
    """The parameter count by part, with thousands separators."""
    counts = (params.embedding, params.attention, params.mlp, params.norms, params.total, params.active)
    return pd.DataFrame(
        {
            "part": ["embeddings", "attention", "MLP / experts", "norms", "total", "active per token"],
            "parameters": [f"{v:,}" for v in counts],
        }
    )


def architecture_table(spec: ModelSpec, trained_for: int | None) -> pd.DataFrame:
    """Every field of the architecture; a custom model's ``max_context`` reads "none (custom model)"."""
    return pd.DataFrame(
        {
            "field": list(vars(spec)),
            "value": [
                "none (custom model)"
                if field == "max_context" and trained_for is None
                else f"{value:,}"
                if isinstance(value, int) and not isinstance(value, bool)
                else str(value)
                for field, value in vars(spec).items()
            ],
        }
    )


def architecture_expander(
    spec: ModelSpec, params: ParameterCount, trained_for: int | None, catalog_model: CatalogModel | None
) -> None:
    """The "Model architecture and parameter count" expander, with the published count when known."""
    with st.expander("Model architecture and parameter count"):
        left, right = st.columns(2)
        left.dataframe(parameter_table(params), hide_index=True, width="stretch")
        right.dataframe(architecture_table(spec, trained_for), hide_index=True, width="stretch", height=300)
        if catalog_model:
            st.caption(f"Published: {catalog_model.params_published:,} ({catalog_model.params_source}).")


def weight_format_table() -> pd.DataFrame:
    """Every weight format: name, label, bits per weight and why."""
    return pd.DataFrame(
        [
            {"format": f.name, "label": f.label, "bits per weight": f.bits, "why": f.note}
            for f in WEIGHT_FORMATS.values()
        ]
    )


def assumptions_expander() -> None:
    """The "Assumptions" expander: the inference constants, the weight formats and where GPU figures come from."""
    with st.expander("Assumptions"):
        st.dataframe(pd.DataFrame([vars(a) for a in inference_assumptions()]), hide_index=True, width="stretch")
        st.dataframe(weight_format_table(), hide_index=True, width="stretch")
        st.caption(
            "GPU figures (memory, bandwidth, dense TFLOPS, prices) come from data/gpus.csv, each row "
            "with its datasheet or price page; memory is shown in GiB (2³⁰ bytes), as cards report it."
        )
