"""Hardware calculator: the memory a model needs, the cards that hold it, its speed and cost."""

import streamlit as st

from llm_calc.architecture import count_parameters, kv_bytes_per_token
from llm_calc.catalog import GPU_CLASSES, CatalogError, default_gpus
from llm_calc.engines import fused_attention, prefill_chunk_tokens
from llm_calc.hardware import size_on_gpus
from llm_calc.precision import kv_format
from llm_calc.sweep import CONTEXT_STEPS
from llm_calc.units import format_gib
from ui import calculator_view as view
from ui.charts import context_label, memory_parts
from ui.engine_view import pick_card_count, pick_engine, pick_kv_precision, pick_split
from ui.model_picker import pick_served_model, training_context, warn_beyond_training_context
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

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
    model = pick_served_model(notices, allow_gguf=True)
    choice, spec = model.choice, model.spec

    st.header("Serving")
    context = st.select_slider(
        "Context window (prompt + completion, tokens)",
        CONTEXT_STEPS,
        value=8192,
        format_func=context_label,
        key="context",
        bind="query-params",
    )
    batch = st.number_input(
        "Concurrent sequences (batch)", min_value=1, max_value=4096, value=1, step=1, key="batch", bind="query-params"
    )
    kv_precision = pick_kv_precision()
    engine = pick_engine()

    st.header("GPUs")
    vendors = sorted({g.vendor for g in GPUS})
    chosen_vendors = st.multiselect("Vendor", vendors, default=vendors, key="vendor", bind="query-params")
    chosen_classes = st.multiselect("Class", GPU_CLASSES, default=GPU_CLASSES, key="gpu_class", bind="query-params")
    if "apple" in chosen_classes:
        view.apple_memory_note()
    if "cpu" in chosen_classes:
        view.cpu_note()
    gpu_count = pick_card_count()
    parallel = pick_split()
    custom_card = view.custom_card_inputs()
    advanced = view.advanced_inputs()

report_ignored(link)

if choice.gguf is not None and spec is None:  # an architecture whose KV cache is not modelled: weights only
    view.gguf_weights_only(choice)
    st.stop()

gpus = view.cards_to_compare(GPUS, chosen_vendors, chosen_classes, custom_card)

# --- results ----------------------------------------------------------------------------------
try:
    settings = model.inference_settings(
        context_tokens=context,
        batch=int(batch),
        kv_format=kv_precision,
        # transformers' generate prefills every prompt at once, and runs gpt-oss without fused attention
        prefill_chunk_tokens=prefill_chunk_tokens(engine or "", int(batch), context, advanced.chunk_tokens),
        flash_attention=advanced.flash_attention and fused_attention(engine or "", spec.attention_sinks),
    )
    memory, results = size_on_gpus(
        spec,
        settings,
        gpus,
        gpu_count,
        advanced.efficiency,
        advanced.mfu,
        engine=engine,
        parallel=parallel,
    )
    params = count_parameters(spec)
except ValueError as error:
    st.error(f"Cannot size this model: {escape_markdown(str(error))}")
    st.stop()

view.model_heading(spec, params)
warn_beyond_training_context(spec, "a context", context)

total, verdict = st.columns([1, 3])
total.metric(
    "Total on one card",
    format_gib(memory.total_bytes),
    help=" + ".join(part.lower().replace("kv", "KV") for part in memory_parts(memory)),
)
view.fit_verdict(verdict, results, gpus, gpu_count)

weights, kv, activations, overhead, *hub_column = st.columns(5 if view.on_the_hub(choice) else 4)
weights.metric("Weights", format_gib(memory.weights_bytes), help=view.weights_help(model.storage, model.precision))
if model.storage:
    weights.caption(escape_markdown(model.storage.label))
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
view.layer_state_and_vision_notes(spec, memory, settings, choice)
view.hub_checkpoint_metric(hub_column[0] if hub_column else st, choice)
view.stored_weights(model.storage, memory, choice.gguf)

view.rules_of_thumb(params, memory, model.storage, model.precision)

fit_tab, context_tab, speed_tab, table_tab = st.tabs(["Which cards", "Memory vs context", "Speed", "Table"])
with fit_tab:
    view.which_cards(results, memory)
with context_tab:
    view.memory_versus_context(spec, settings)
with speed_tab:
    view.decode_speed(results, memory, settings)
with table_tab:
    view.card_table(results)

view.architecture_expander(spec, params, training_context(spec), choice.catalog)
view.assumptions_expander()
