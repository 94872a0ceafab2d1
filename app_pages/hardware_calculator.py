"""Hardware calculator: the memory a model needs, the cards that hold it, its speed and cost."""

import pandas as pd
import streamlit as st

from llm_calc.architecture import count_parameters, kv_bytes_per_token, state_bytes_per_sequence
from llm_calc.assumptions import inference_assumptions
from llm_calc.catalog import CatalogError, Gpu, default_gpus
from llm_calc.hardware import (
    APPLE_GPU_SHARE_LARGE,
    APPLE_GPU_SHARE_SMALL,
    DECODE_BANDWIDTH_EFFICIENCY,
    PREFILL_MFU,
    size_on_gpus,
)
from llm_calc.memory import DEFAULT_PREFILL_CHUNK_TOKENS, InferenceSettings, vision_bits
from llm_calc.precision import KV_FORMATS, WEIGHT_FORMATS, kv_format, weight_format
from llm_calc.quantization import MTP_BASIS
from llm_calc.rules import (
    INFERENCE_GB_PER_BILLION_16BIT,
    INFERENCE_GB_PER_BILLION_QUANTIZED,
    inference_rule_bytes,
)
from llm_calc.sweep import CONTEXT_STEPS, memory_by_context
from llm_calc.units import GIB, format_count, format_gib
from ui.charts import context_label, decode_speed_figure, gpu_fit_figure, memory_by_context_figure, memory_parts
from ui.engine_view import ENGINE_OPTIONS, PARALLEL_OPTIONS, chosen, engine_metrics, refusals
from ui.model_picker import pick_model, pick_precision, training_context
from ui.tables import gguf_type_table, gpu_table, gpu_table_columns, number_columns, storage_table
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64)

try:
    GPUS = default_gpus()
except CatalogError as error:
    st.error(f"The data files do not load: {escape_markdown(str(error))}")
    st.stop()


st.title("Hardware calculator")
st.write(
    "What it takes to **serve** a model: its memory, the cards that hold it, its speed and cost, all "
    "computed from the architecture (constants under *Assumptions*). Share the URL to share the view."
)

# --- inputs -----------------------------------------------------------------------------------
link = read_link()
notices = st.container()  # why there is no result yet, where the result would be
with st.sidebar:
    st.header("Model")
    choice = pick_model(allow_gguf=True, notices=notices)
    spec, catalog_model = choice.spec, choice.catalog

    st.header("Serving")
    precision, storage = pick_precision(choice, notices)
    context = st.select_slider(
        "Context window (prompt + completion, tokens)",
        CONTEXT_STEPS,
        value=8192,
        format_func=context_label,
        key="context",
        bind="query-params",
    )
    batch = st.number_input(
        "Concurrent sequences (batch)",
        min_value=1,
        max_value=4096,
        value=1,
        step=1,
        key="batch",
        bind="query-params",
    )
    kv_precision = st.selectbox(
        "KV-cache precision",
        list(KV_FORMATS),
        key="kv",
        bind="query-params",
        help=", ".join(f"{k}: {f.label}" for k, f in KV_FORMATS.items()),
    )

    engine = st.selectbox(
        "Engine", ENGINE_OPTIONS, key="engine", bind="query-params", help="auto: the engine most users run per card"
    )
    st.header("GPUs")
    vendors = sorted({g.vendor for g in GPUS})
    chosen_vendors = st.multiselect("Vendor", vendors, default=vendors, key="vendor", bind="query-params")
    classes = ["datacenter", "workstation", "consumer", "apple"]
    chosen_classes = st.multiselect("Class", classes, default=classes, key="gpu_class", bind="query-params")
    if "apple" in chosen_classes:
        st.caption(
            f"Apple: the GPU may use {APPLE_GPU_SHARE_SMALL:.0%} of unified memory up to 36 GB and "
            f"{APPLE_GPU_SHARE_LARGE:.0%} above — macOS keeps the rest for itself and other apps "
            "(raise it with `sudo sysctl iogpu.wired_limit_mb`). One Mac per deployment."
        )
    gpu_count = st.select_slider("GPUs per deployment", GPU_COUNTS, value=1, key="gpus", bind="query-params")
    parallel = st.selectbox(
        "Split across cards",
        PARALLEL_OPTIONS,
        key="parallel",
        bind="query-params",
        help="tp: tensor parallel; pp: pipeline stages (llama.cpp's layer split); auto: the engine's own",
    )
    with st.expander("Your own card"):
        add_custom = st.toggle("Add a card not in the catalog", key="custom_card", bind="query-params")
        custom_name = st.text_input("Name", value="My card", max_chars=40, key="card_name", bind="query-params")
        custom_memory = st.number_input("Memory (GiB)", 1.0, 100_000.0, 48.0, key="card_mem", bind="query-params")
        custom_bandwidth = st.number_input(
            "Bandwidth (GB/s)", 1.0, 100_000.0, 1000.0, key="card_bw", bind="query-params"
        )
        custom_tflops = st.number_input(
            "Dense 16-bit TFLOPS", 1.0, 100_000.0, 200.0, key="card_tflops", bind="query-params"
        )
        custom_price = st.number_input(
            "Price ($ per hour, 0 = none)", 0.0, 10_000.0, 0.0, key="card_price", bind="query-params"
        )

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
            (256, 512, 1024, 2048, 4096, 8192, 16384),
            value=DEFAULT_PREFILL_CHUNK_TOKENS,
            key="chunk",
            bind="query-params",
        )
        flash = st.toggle("FlashAttention", value=True, key="flash", bind="query-params")

report_ignored(link)

if choice.gguf is not None and spec is None:  # an architecture whose KV cache is not modelled: weights only
    st.subheader(f"{choice.gguf.name or 'GGUF file'} · {format_count(choice.gguf.parameters)} parameters")
    st.metric("Weights", format_gib(choice.gguf.weights_bytes), help="exact: every tensor's bytes in the file")
    st.warning(escape_markdown(choice.not_modelled or ""))
    st.dataframe(gguf_type_table(choice.gguf), hide_index=True, column_config=number_columns(["tensors"]))
    st.stop()

gpus = tuple(g for g in GPUS if g.vendor in chosen_vendors and g.gpu_class in chosen_classes)
if add_custom:
    try:
        gpus += (Gpu.custom(custom_name, custom_memory, custom_bandwidth, custom_tflops, custom_price or None),)
    except ValueError as error:
        st.warning(f"Your card was left out: {escape_markdown(str(error))}")

# --- results ----------------------------------------------------------------------------------
try:
    settings = InferenceSettings(
        weight_format=precision,
        storage=storage,
        context_tokens=context,
        batch=int(batch),
        kv_format=kv_precision,
        prefill_chunk_tokens=chunk,
        flash_attention=flash,
        vision_params=choice.checkpoint.vision_params if choice.checkpoint else 0,
    )
    memory, results = size_on_gpus(
        spec,
        settings,
        gpus,
        gpu_count,
        efficiency if override else None,
        mfu if override else None,
        engine=chosen(engine),
        parallel=chosen(parallel),
    )
    params = count_parameters(spec)
except ValueError as error:
    st.error(f"Cannot size this model: {escape_markdown(str(error))}")
    st.stop()

st.subheader(
    f"{spec.name} · {format_count(params.total)} parameters"
    + (f" ({format_count(params.active)} active per token)" if spec.is_moe else "")
)
trained_for = training_context(spec)
if trained_for is not None and context > trained_for:
    st.warning(
        f"{spec.name} was trained for {trained_for:,} tokens; {context:,} needs RoPE scaling "
        "or another extension. The memory estimate still holds."
    )

total, verdict = st.columns([1, 3])
total.metric(
    "Total on one card",
    format_gib(memory.total_bytes),
    help=" + ".join(part.lower().replace("kv", "KV") for part in memory_parts(memory)),
)
fitting = [r for r in results if r.fits]
deployable = [r for r in results if r.cards_used and r.price_per_hour_usd and r.speed]
if not gpus:
    verdict.warning("No card matches the vendor and class filters.")
elif fitting:
    names = ", ".join(r.gpu.name for r in sorted(fitting, key=lambda r: r.usable_memory_bytes)[:6])
    more = f" and {len(fitting) - 6} more" if len(fitting) > 6 else ""
    verdict.success(f"Fits on {gpu_count} card{'s' if gpu_count > 1 else ''} of: {names}{more}.")
else:
    verdict.info(f"No card holds it with {gpu_count} per deployment; the table shows how many each needs.")
if deployable:
    cheapest = min(deployable, key=lambda r: r.price_per_hour_usd)
    verdict.write(
        f"Cheapest rented deployment in the catalog: **{cheapest.gpu.name} × {cheapest.cards_used}** at "
        f"${cheapest.price_per_hour_usd:,.2f}/h (${cheapest.cost_per_day_usd:,.0f}/day), "
        f"{cheapest.speed.decode_tokens_per_s:,.0f} tokens/s per sequence."
    )

hub_checkpoint = choice.hub.checkpoint if choice.hub is not None else None
on_hub = hub_checkpoint is not None and hub_checkpoint.file_count > 0
weights, kv, activations, overhead, *hub_column = st.columns(5 if on_hub else 4)
weights.metric(
    "Weights",
    format_gib(memory.weights_bytes),
    help=storage.label if storage else f"{weight_format(precision).label}, every parameter",
)
if storage:
    weights.caption(escape_markdown(storage.label))
kv.metric(
    "KV cache",
    format_gib(memory.kv_cache_bytes),
    help=f"{kv_bytes_per_token(spec, kv_format(kv_precision).bits):,} bytes per token × "
    f"{context:,} tokens × {batch:,} sequences (sliding-window layers capped)",
)
activations.metric(
    "Activations",
    format_gib(memory.activations_bytes),
    help="peak temporary buffers of a prefill chunk, plus fp32 logits",
)
overhead.metric(
    "Overhead per GPU", format_gib(memory.overhead_bytes), help="CUDA context, kernels and library workspaces"
)
if memory.state_bytes:  # linear-attention / convolution layers: a fixed state per sequence
    st.caption(
        f"Plus **{format_gib(memory.state_bytes)} of layer state**: {spec.name}'s linear-attention or convolution "
        f"layers keep no per-token cache but a fixed state of {state_bytes_per_sequence(spec):,} bytes per "
        f"sequence × {batch:,} sequences — it grows with the batch, not with the context, and every decode "
        "step reads it."
    )
if memory.vision_bytes:  # a multimodal model's image encoder, loaded beside the language model
    st.caption(
        f"Plus **{format_gib(memory.vision_bytes)} of vision tower**: {settings.vision_params:,} "
        f"parameters of image encoder and projector at {vision_bits(settings):g} bits "
        "(quantizers leave it unconverted); decode steps do not read it."
    )
elif choice.checkpoint is not None and choice.checkpoint.vision_not_modelled:
    st.caption(f"Vision tower not counted: {escape_markdown(choice.checkpoint.vision_not_modelled)}")
if on_hub:
    hub_column[0].metric(
        "Checkpoint on the Hub",
        format_gib(hub_checkpoint.tensor_bytes),
        help=f"tensor bytes from the headers of its {hub_checkpoint.file_count:,} safetensors "
        f"file{'s' if hub_checkpoint.file_count != 1 else ''}",
    )
elif choice.hub is not None:
    st.caption(f"Checkpoint on the Hub: not read ({escape_markdown(choice.hub.checkpoint_note)}).")
if storage and storage.mtp_rows:
    st.info(
        f"The checkpoint as stored is **{format_gib(storage.checkpoint_bytes)}**, with "
        f"{format_count(storage.mtp_params)} parameters of multi-token-prediction layers; the estimate's "
        f"weights (**{format_gib(memory.weights_bytes)}**) are {MTP_BASIS}."
    )
if storage:
    with st.expander("Weights as stored, by parameter group"):
        st.dataframe(
            storage_table(storage),
            hide_index=True,
            width="stretch",
            column_config=number_columns(["parameters", "GiB"]),
        )
        if choice.gguf is not None:
            st.dataframe(
                gguf_type_table(choice.gguf),
                hide_index=True,
                width="stretch",
                column_config=number_columns(["tensors"]),
            )

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

fit_tab, context_tab, speed_tab, table_tab = st.tabs(["Which cards", "Memory vs context", "Speed", "Table"])
with fit_tab:
    st.plotly_chart(gpu_fit_figure(results, memory.total_bytes), width="stretch")
    st.caption(
        "Bars: memory each card lets a model use (Apple: the GPU's share of unified memory). "
        "Labels: cards needed with tensor parallelism, each card paying the runtime overhead."
    )
with context_tab:
    largest = max(context, 32_768)
    st.plotly_chart(memory_by_context_figure(memory_by_context(spec, settings, largest), context), width="stretch")
    st.caption(
        "The weights are fixed; the KV cache grows linearly with context (up to the sliding window "
        "on windowed layers) and with the number of concurrent sequences."
    )
with speed_tab:
    st.plotly_chart(decode_speed_figure(results), width="stretch")
    deployments = [r for r in results if r.speed]
    refusals(results)
    if deployments:
        default = min(deployments, key=lambda r: (not r.fits, r.cards_used, r.usable_memory_bytes))
        explained = st.selectbox(
            "Explain the speed on",
            deployments,
            index=deployments.index(default),
            format_func=lambda r: f"{r.gpu.name} × {r.cards_used}",
            key="explain",
        )
        why = explained.speed
        engine_metrics(explained)
        st.markdown(
            f"Each decode step reads **{why.read_bytes / GIB:,.2f} GiB**: the weights a token touches "
            f"({(why.read_bytes - memory.kv_cache_bytes) / GIB:,.2f} GiB) plus the whole KV cache "
            f"({memory.kv_cache_bytes / GIB:,.2f} GiB for {batch:,} × {context:,} tokens). "
            f"On {explained.cards_used:,} card(s) each card reads **{why.card_read_bytes / GIB:,.2f} GiB** — its "
            f"share of the weights and the KV cache it holds (a full copy where the cache is replicated) — "
            f"at {why.efficiency:.0%} of its datasheet bandwidth (≈ {why.card_bandwidth_gbs:,.0f} GB/s, decimal as "
            f"datasheets quote it): **{why.memory_seconds * 1000:,.1f} ms** per step (pipeline stages one "
            f"after another); the step's FLOPs take {why.compute_seconds * 1000:,.2f} ms, plus "
            f"{why.step_overhead_seconds * 1000:,.2f} ms of {why.engine} overhead and "
            f"{why.communication_seconds * 1000:,.2f} ms over the interconnect, so decode is "
            f"**{'memory-bandwidth' if why.bandwidth_bound else 'compute'}-bound**: "
            f"{why.decode_tokens_per_s:,.1f} tokens/s per sequence, {why.aggregate_tokens_per_s:,.0f} for "
            f"the batch. A prompt filling the context takes about {why.prefill_seconds:,.1f} s to prefill."
        )
    st.caption(
        "Pipeline stages beyond one 8-card node run one after another for each token, so extra "
        "nodes add memory, not decode speed. Adjust the efficiency and MFU under *Advanced*."
    )
with table_tab:
    table = gpu_table(results)
    st.dataframe(table, hide_index=True, width="stretch", column_config=gpu_table_columns())
    st.download_button(
        "Download CSV", table.to_csv(index=False).encode(), file_name="llm_hardware.csv", mime="text/csv"
    )

with st.expander("Model architecture and parameter count"):
    left, right = st.columns(2)
    left.dataframe(
        pd.DataFrame(
            {
                "part": ["embeddings", "attention", "MLP / experts", "norms", "total", "active per token"],
                "parameters": [
                    f"{v:,}"
                    for v in (
                        params.embedding,
                        params.attention,
                        params.mlp,
                        params.norms,
                        params.total,
                        params.active,
                    )
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    right.dataframe(
        pd.DataFrame(
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
        ),
        hide_index=True,
        width="stretch",
        height=300,
    )
    if catalog_model:
        st.caption(f"Published: {catalog_model.params_published:,} ({catalog_model.params_source}).")

with st.expander("Assumptions"):
    st.dataframe(pd.DataFrame([vars(a) for a in inference_assumptions()]), hide_index=True, width="stretch")
    st.dataframe(
        pd.DataFrame(
            [
                {"format": f.name, "label": f.label, "bits per weight": f.bits, "why": f.note}
                for f in WEIGHT_FORMATS.values()
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "GPU figures (memory, bandwidth, dense TFLOPS, prices) come from data/gpus.csv, each row "
        "with its datasheet or price page; memory is shown in GiB (2³⁰ bytes), as cards report it."
    )
