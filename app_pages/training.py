"""Training and fine-tuning: memory per GPU, which cards fit, time and cost."""

import streamlit as st

from llm_calc.architecture import count_parameters
from llm_calc.catalog import CatalogError, default_gpus, find_gpu
from llm_calc.training import (
    DEFAULT_MFU,
    DEFAULT_OPTIMIZER_IMPL,
    DEFAULT_WEIGHTS_PRECISION,
    LORA_TARGETS,
    METHODS,
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    WEIGHTS_PRECISIONS,
    TrainingSetup,
    trainable_params,
    training_fit,
    training_flops,
    training_memory,
    training_run,
)
from llm_calc.units import format_count, format_gib
from ui import training_view as view
from ui.model_picker import pick_model
from ui.text import escape_markdown
from ui.training_view import IMPL_LABELS, METHOD_LABELS, OPTIMIZER_LABELS, PRECISION_LABELS
from ui.url_params import read_link, report_ignored

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SEQ_LENS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

try:
    GPUS = default_gpus()
except CatalogError as error:
    st.error(f"The data files do not load: {escape_markdown(str(error))}")
    st.stop()
GPU_NAMES = [g.name for g in GPUS if not g.is_apple]

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

    st.header("Method")
    # plain option values (no format_func) keep shared links readable: ?method=qlora&optimizer=sgd
    method = st.radio("Method", METHODS, captions=list(METHOD_LABELS.values()), key="method", bind="query-params")
    # the optimizer keeps states for whatever is trained: every weight, or only the LoRA adapters
    optimizer = st.selectbox(
        "Optimizer",
        OPTIMIZERS,
        key="optimizer",
        bind="query-params",
        help="; ".join(f"{name}: {label}" for name, label in OPTIMIZER_LABELS.items()),
    )
    weights_precision = st.radio(
        "Weights precision",
        WEIGHTS_PRECISIONS,
        index=WEIGHTS_PRECISIONS.index(DEFAULT_WEIGHTS_PRECISION),
        captions=[PRECISION_LABELS[p] for p in WEIGHTS_PRECISIONS],
        key="weights_precision",
        bind="query-params",
    )
    optimizer_impl = st.radio(
        "Optimizer implementation",
        OPTIMIZER_IMPLS,
        index=OPTIMIZER_IMPLS.index(DEFAULT_OPTIMIZER_IMPL),
        captions=[IMPL_LABELS[i] for i in OPTIMIZER_IMPLS],
        horizontal=True,
        key="optimizer_impl",
        bind="query-params",
        help="torch.optim's foreach/fused flags. Transformers' Trainer asks for fused (adamw_torch_fused).",
    )
    full = method == "full"  # LoRA's settings are shown but greyed out
    rank = st.select_slider("LoRA rank", RANKS, value=16, key="rank", bind="query-params", disabled=full)
    alpha = st.number_input(
        "LoRA alpha", 1, 4096, 32, key="alpha", bind="query-params", disabled=full,
        help="Scales the update by alpha / rank; no effect on memory.",
    )  # fmt: skip
    targets = st.multiselect(
        "LoRA target modules", LORA_TARGETS, default=["q_proj", "k_proj", "v_proj", "o_proj"],
        key="targets", bind="query-params", disabled=full,
    )  # fmt: skip

    st.header("Batch")
    seq_len = st.select_slider("Sequence length (tokens)", SEQ_LENS, value=2048, key="seq", bind="query-params")
    micro_batch = st.number_input("Micro-batch (sequences per GPU)", 1, 1024, 1, key="micro", bind="query-params")
    # a fixed default (not one that follows the method): a link reproduces whatever path led to it
    checkpointing = st.toggle("Gradient checkpointing", value=False, key="ckpt", bind="query-params")
    flash = st.toggle("FlashAttention", value=True, key="flash_train", bind="query-params")

    st.header("GPUs")
    gpu_name = st.selectbox(
        "Card", GPU_NAMES, index=GPU_NAMES.index("NVIDIA A100 80GB SXM"), key="card", bind="query-params"
    )
    gpus = st.select_slider("Number of GPUs", GPU_COUNTS, value=1, key="n_gpus", bind="query-params")
    zero = st.radio(
        "ZeRO / FSDP stage", (0, 1, 2, 3), horizontal=True, key="zero", bind="query-params",
        help="1 shards optimizer states, 2 also gradients, 3 (FSDP full shard) also weights.",
    )  # fmt: skip
    tensor_parallel = st.select_slider("Tensor parallel", (1, 2, 4, 8), value=1, key="tp", bind="query-params")

    st.header("Data and cost")
    dataset_tokens = st.number_input(
        "Dataset tokens", 1, 10**15, 100_000_000, step=1_000_000, key="tokens", bind="query-params",
        help="Tokens in the training data. The token estimator links here with its count.",
    )  # fmt: skip
    st.caption(f"= {format_count(dataset_tokens)} tokens")
    epochs = st.number_input("Epochs", 1, 1000, 1, key="epochs", bind="query-params")
    mfu = st.slider("Model-FLOPs utilisation", 0.05, 0.8, DEFAULT_MFU, 0.01, key="train_mfu", bind="query-params")
    price_override = st.number_input(
        "Price per GPU-hour ($, 0 = catalog price)", 0.0, 1000.0, 0.0, key="gpu_price", bind="query-params"
    )
    attention_flops = st.toggle("Count attention FLOPs", key="attn_flops", bind="query-params")

report_ignored(link)
gpu = find_gpu(gpu_name)
price = price_override or gpu.price_per_hour_usd
try:
    setup = TrainingSetup(
        method=method,
        optimizer=optimizer,
        weights_precision=weights_precision,
        optimizer_impl=optimizer_impl,
        seq_len=seq_len,
        micro_batch=int(micro_batch),
        checkpointing=checkpointing,
        flash_attention=flash,
        gpus=gpus,
        zero_stage=zero,
        tensor_parallel=min(tensor_parallel, gpus),
        lora_rank=rank,
        lora_alpha=int(alpha),
        lora_targets=tuple(targets) or ("q_proj",),
    )
    memory = training_memory(spec, setup)
    fit = training_fit(spec, setup, gpu)
    trainable = trainable_params(spec, setup)
    tokens = float(dataset_tokens) * epochs
    flops = training_flops(spec, tokens, method, trainable, seq_len, attention_flops)
    run = training_run(flops, gpus, gpu.tflops_16bit, mfu, price)
except ValueError as error:
    st.error(f"Cannot estimate this run: {escape_markdown(str(error))}")
    st.stop()
params = count_parameters(spec)

# --- results ----------------------------------------------------------------------------------
st.subheader(f"{spec.name} · {METHOD_LABELS[method]} on {gpus} × {gpu.name}")
view.corrected_settings_warnings(method, targets, setup, tensor_parallel)
per_gpu, trainable_col, flops_col = st.columns(3)
per_gpu.metric(
    "Memory per GPU",
    format_gib(memory.total_bytes),
    delta=f"{'fits' if fit.fits else 'exceeds'} {format_gib(fit.usable_bytes)}",
    delta_color="normal" if fit.fits else "inverse",
)
trainable_col.metric("Trainable parameters", format_count(trainable), help=f"of {params.total:,} in the model")
flops_col.metric("Training FLOPs", f"{flops:.3g}")
if fit.fits:
    time_col, hours_col, cost_col = st.columns(3)
    time_col.metric("Time", f"{run.days:,.1f} days" if run.days >= 1 else f"{run.seconds / 3600:,.1f} hours")
    hours_col.metric("GPU-hours", f"{run.gpu_hours:,.0f}")
    cost_col.metric(
        "Cost",
        f"${run.cost_usd:,.0f}" if run.cost_usd is not None else "no price",
        help=f"at ${price:,.2f} per GPU-hour" if price else "set a price in the sidebar",
    )
    view.run_caption(spec, tokens, mfu, gpu)
else:
    view.does_not_fit(memory, fit, gpu, gpus, zero)

view.memory_parts(memory, method)
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
    view.time_and_cost_by_gpu_count(flops, fit, setup, gpu, mfu, price, GPU_COUNTS)
with examples_tab:
    view.worked_examples()

view.assumptions_expander()
