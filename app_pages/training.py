"""Training and fine-tuning: memory per GPU, which cards fit, time and cost."""

import streamlit as st

from llm_calc.architecture import count_parameters
from llm_calc.catalog import CatalogError, default_gpus
from llm_calc.training import trainable_params, training_fit, training_flops, training_memory, training_run, trains_on
from ui import training_view as view
from ui.model_picker import pick_model
from ui.text import escape_markdown
from ui.training_inputs import GPU_COUNTS, training_inputs
from ui.training_view import METHOD_LABELS
from ui.url_params import read_link, report_ignored

try:
    GPUS = tuple(gpu for gpu in default_gpus() if trains_on(gpu))
except CatalogError as error:
    st.error(f"The data files do not load: {escape_markdown(str(error))}")
    st.stop()

st.title("Training and fine-tuning")
st.write(
    "What it takes to **train** a model: memory on each GPU part by part (weights, gradients, optimizer "
    "states, activations), which cards fit and how many, and how long and how much a run takes. "
    "Full fine-tuning, LoRA and QLoRA side by side; the constants are listed under *Assumptions*."
)

# --- inputs -----------------------------------------------------------------------------------
link = read_link()
notices = st.container()  # why there is no result yet, where the result would be
with st.sidebar:
    st.header("Model")
    choice = pick_model(allow_upload=True, notices=notices)
    spec = choice.spec
    assert spec is not None  # only a GGUF header (not offered here) comes without an architecture
    inputs = training_inputs(GPUS)

report_ignored(link)
gpu, price = inputs.gpu, inputs.price_per_hour_usd
try:
    setup = inputs.setup()
    memory = training_memory(spec, setup)
    fit = training_fit(spec, setup, gpu)
    trainable = trainable_params(spec, setup)
    flops = training_flops(spec, inputs.tokens, setup.method, trainable, setup.seq_len, inputs.attention_flops)
    run = training_run(flops, setup.gpus, gpu.tflops_16bit, inputs.mfu, price)
except ValueError as error:
    st.error(f"Cannot estimate this run: {escape_markdown(str(error))}")
    st.stop()
params = count_parameters(spec)

# --- results ----------------------------------------------------------------------------------
st.subheader(f"{spec.name} · {METHOD_LABELS[setup.method]} on {setup.gpus} × {gpu.name}")
view.corrected_settings_warnings(setup.method, inputs.lora_targets, setup, inputs.tensor_parallel)
view.run_metrics(memory, fit, trainable, params, flops)
if fit.fits:
    view.time_and_cost(run, price)
    view.run_caption(spec, inputs.tokens, inputs.mfu, gpu)
else:
    view.does_not_fit(memory, fit, gpu, setup.gpus, setup.zero_stage)

view.memory_parts(memory, setup.method)
view.activation_terms_expander(spec, setup)
view.fine_tuning_rule_of_thumb(spec, setup, params)

memory_tab, cards_tab, time_tab, examples_tab = st.tabs(
    ["Memory by method", "Cards", "Time and cost", "Worked examples"]
)
comparable, refused = view.methods_sized(spec, setup)
with memory_tab:
    view.memory_by_method(spec, setup, comparable, refused)
with cards_tab:
    view.cards_needed(spec, setup, comparable, GPUS)
with time_tab:
    view.time_and_cost_by_gpu_count(flops, fit, setup, gpu, inputs.mfu, price, GPU_COUNTS)
with examples_tab:
    view.worked_examples()

view.assumptions_expander()
