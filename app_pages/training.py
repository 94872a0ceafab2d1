"""Training and fine-tuning: memory per GPU, which cards fit, time and cost."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from llm_calc.architecture import count_parameters
from llm_calc.assumptions import training_assumptions
from llm_calc.catalog import CatalogError, default_gpus, find_gpu, find_model
from llm_calc.hardware import usable_memory_bytes
from llm_calc.rules import FINE_TUNING_GB_PER_BILLION, fine_tuning_rule_bytes
from llm_calc.training import (
    CHINCHILLA_TOKENS_PER_PARAMETER,
    DEFAULT_MFU,
    DEFAULT_OPTIMIZER_IMPL,
    DEFAULT_WEIGHTS_PRECISION,
    GPT3_RUN,
    LLAMA_65B_RUN,
    LORA_TARGETS,
    MASTER_WEIGHT_BYTES,
    METHODS,
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    WEIGHTS_PRECISIONS,
    TrainingSetup,
    activation_terms,
    activation_terms_per_layer,
    cards_needed_for_training_on,
    chinchilla_tokens,
    predict_run,
    trainable_params,
    training_fit,
    training_flops,
    training_memory,
    training_run,
)
from llm_calc.units import format_count, format_gib
from ui.charts import time_and_cost_figure, training_memory_figure
from ui.model_picker import pick_model
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

METHOD_LABELS = {"full": "Full fine-tuning / pre-training", "lora": "LoRA", "qlora": "QLoRA (4-bit base)"}
OPTIMIZER_LABELS = {"adamw": "AdamW", "adam8bit": "8-bit Adam (bitsandbytes)", "sgd": "SGD with momentum"}
PRECISION_LABELS = {
    "mixed": "mixed: bf16 weights, fp32 master copy and optimizer states",
    "bf16": "pure bf16: no master copy, bf16 optimizer states",
}
IMPL_LABELS = {"foreach": "PyTorch's default on CUDA; parameter-sized temporaries", "fused": "no temporaries"}
GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SEQ_LENS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
NO_FIT_REMEDY = (
    "No GPU count of this card fits it; try tensor parallelism, gradient checkpointing, LoRA, QLoRA or a "
    "shorter sequence."
)
REFERENCE_CARDS = ("NVIDIA RTX 4090", "NVIDIA RTX A6000", "NVIDIA A100 80GB SXM", "NVIDIA H200 SXM")

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
    spec, catalog_model = choice.spec, choice.catalog
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
    rank = st.select_slider("LoRA rank", RANKS, value=16, key="rank", bind="query-params", disabled=method == "full")
    alpha = st.number_input(
        "LoRA alpha",
        1,
        4096,
        32,
        key="alpha",
        bind="query-params",
        disabled=method == "full",
        help="Scales the update by alpha / rank; no effect on memory.",
    )
    targets = st.multiselect(
        "LoRA target modules",
        LORA_TARGETS,
        default=["q_proj", "k_proj", "v_proj", "o_proj"],
        key="targets",
        bind="query-params",
        disabled=method == "full",
    )

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
        "ZeRO / FSDP stage",
        (0, 1, 2, 3),
        horizontal=True,
        key="zero",
        bind="query-params",
        help="1 shards optimizer states, 2 also gradients, 3 (FSDP full shard) also weights.",
    )
    tensor_parallel = st.select_slider("Tensor parallel", (1, 2, 4, 8), value=1, key="tp", bind="query-params")

    st.header("Data and cost")
    dataset_tokens = st.number_input(
        "Dataset tokens",
        1,
        10**15,
        100_000_000,
        step=1_000_000,
        key="tokens",
        bind="query-params",
        help="Tokens in the training data. The token estimator links here with its count.",
    )
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
if method != "full" and not targets:
    st.warning("No LoRA target chosen; showing q_proj only.")
if setup.tensor_parallel != tensor_parallel:
    st.warning(
        f"Tensor parallel {tensor_parallel} needs at least {tensor_parallel} GPUs; showing {setup.tensor_parallel}."
    )
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
    st.caption(
        f"{format_count(tokens)} tokens at {mfu:.0%} of {gpu.tflops_16bit:,.0f} dense 16-bit TFLOPS per GPU. "
        f"Compute-optimal pre-training would use about {chinchilla_tokens(spec) / 1e9:,.0f} B tokens "
        f"({CHINCHILLA_TOKENS_PER_PARAMETER} per parameter)."
    )
else:
    hints = [
        f"ZeRO stage {fit.zero_stage_needed} on these {gpus:,} GPUs" if fit.zero_stage_needed is not None else "",
        f"{fit.gpus_needed:,} GPUs at ZeRO stage {zero}" if fit.gpus_needed is not None else "",
        f"{fit.gpus_needed_zero3:,} GPUs with ZeRO-3" if fit.gpus_needed_zero3 is not None and zero != 3 else "",
    ]
    hint = ", or ".join(h for h in hints if h)
    remedy = f"It would fit with {hint}." if hint else NO_FIT_REMEDY
    st.error(
        f"**Does not fit:** this run needs {format_gib(memory.total_bytes)} per GPU and the "
        f"{escape_markdown(gpu.name)} has {format_gib(fit.usable_bytes)}. {remedy} "
        "No time or cost is shown for a run that cannot start."
    )

activations_counted = memory.activations_bytes >= memory.step_temporaries_bytes
parts = pd.DataFrame(
    {
        "part": [
            "weights",
            "gradients",
            "optimizer states" if method == "full" else "adapters with their optimizer",
            "activations",
            "optimizer step temporaries",
            "overhead",
            "peak per GPU",
        ],
        "per GPU": [
            format_gib(v)
            for v in (
                memory.weights_bytes,
                memory.gradients_bytes,
                memory.optimizer_bytes,
                memory.activations_bytes,
                memory.step_temporaries_bytes,
                memory.overhead_bytes,
                memory.total_bytes,
            )
        ],
        "in the peak": ["yes", "yes", "yes"]
        + (["yes", "no (the smaller)"] if activations_counted else ["no (the smaller)", "yes"])
        + ["yes", ""],
    }
)
st.dataframe(parts, hide_index=True, width="content")
st.caption(
    "The optimizer step runs after backward has freed the activations, so the peak counts the larger of the "
    "activations and the step's temporaries (PyTorch's foreach AdamW allocates one parameter-sized tensor)."
)

with st.expander("Activation terms"):
    layer_terms = activation_terms_per_layer(spec, seq_len, int(micro_batch), flash)
    st.dataframe(
        pd.DataFrame({"per layer": list(layer_terms), "bytes": [format_gib(v) for v in layer_terms.values()]}),
        hide_index=True,
    )
    st.dataframe(
        pd.DataFrame(
            {
                "per GPU": list(activation_terms(spec, setup)),
                "bytes": [format_gib(v) for v in activation_terms(spec, setup).values()],
            }
        ),
        hide_index=True,
    )
    st.caption(
        "Korthikanti et al. (2022) for the model's real shapes, 2-byte activations without dropout; "
        "divided by tensor parallelism (sequence parallelism assumed)."
    )

with st.container(border=True):
    rule = fine_tuning_rule_bytes(params.total)
    full = training_memory(spec, replace(setup, method="full", gpus=1, zero_stage=0, tensor_parallel=1))
    full_states = full.weights_bytes + full.gradients_bytes + full.optimizer_bytes
    st.markdown(
        f"**Rule of thumb** — full fine-tuning needs about {FINE_TUNING_GB_PER_BILLION} GB (decimal, 10⁹ bytes) "
        f"per billion parameters → **{format_gib(rule)}**. Detailed, on one GPU with the optimizer and precision "
        f"chosen: **{format_gib(full.total_bytes)}** ({format_gib(full_states)} of model states + "
        f"{format_gib(full.transient_bytes)} of activations or step temporaries + {format_gib(full.overhead_bytes)} "
        "of overhead)."
    )
    st.caption(
        f"The rule counts {FINE_TUNING_GB_PER_BILLION} bytes per parameter (16-bit weights and gradients, two "
        f"Adam moments); mixed precision also keeps a {MASTER_WEIGHT_BYTES}-byte fp32 master copy, and "
        "activations grow with sequence length and micro-batch."
    )

memory_tab, cards_tab, time_tab, examples_tab = st.tabs(
    ["Memory by method", "Cards", "Time and cost", "Worked examples"]
)
# the other methods keep this page's LoRA targets, which a model may lack (MLA has no q_proj)
comparable, refused = [], {}
for other in METHODS:
    try:
        trainable_params(spec, replace(setup, method=other))
        comparable.append(other)
    except ValueError as error:
        refused[other] = str(error)
with memory_tab:
    by_method = {m: training_memory(spec, replace(setup, method=m)) for m in comparable}
    figure = training_memory_figure(
        [METHOD_LABELS[m] for m in comparable],
        list(by_method.values()),
        {find_gpu(n).name.removeprefix("NVIDIA "): usable_memory_bytes(find_gpu(n)) for n in REFERENCE_CARDS},
    )
    st.plotly_chart(figure, width="stretch")
    st.caption(
        "Same optimizer, precision, sequence length, batch, GPUs and sharding for the three methods; each bar "
        "stacks the larger of activations and step temporaries; dotted lines are card capacities."
    )
    for other, reason in refused.items():
        st.warning(f"{METHOD_LABELS[other]} is not sized with these settings: {escape_markdown(reason)}")
with cards_tab:
    needed = {m: cards_needed_for_training_on(spec, replace(setup, method=m), GPUS) for m in comparable}
    rows = [
        {"card": card.name, "class": card.gpu_class, "usable memory (GiB)": round(usable_memory_bytes(card) / 2**30, 1),
         **{f"{m}: GPUs needed": needed[m][index] for m in comparable}}
        for index, card in enumerate(GPUS)
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        f"Fewest GPUs that hold the run with ZeRO stage {zero} and tensor parallel {setup.tensor_parallel}; "
        "empty where no count does (without ZeRO or TP every GPU holds the whole model)."
    )
    st.download_button("Download CSV", table.to_csv(index=False).encode(), "llm_training_cards.csv", "text/csv")
with time_tab:
    # only GPU counts at which the run fits: memory per GPU never grows with more data-parallel GPUs
    fitting = [n for n in GPU_COUNTS if n % setup.tensor_parallel == 0 and fit.gpus_needed and n >= fit.gpus_needed]
    if fitting:
        runs = [training_run(flops, n, gpu.tflops_16bit, mfu, price) for n in fitting]
        st.plotly_chart(
            time_and_cost_figure(fitting, [r.days for r in runs], [r.cost_usd for r in runs]), width="stretch"
        )
        st.caption(
            f"From {fitting[0]:,} GPUs, the fewest of this card that hold the run at ZeRO stage {zero}. At a fixed "
            "MFU the cost does not depend on the number of GPUs; in practice MFU falls as runs grow, so large "
            "runs cost somewhat more than this line."
        )
    else:
        st.info(f"No GPU count of the {gpu.name} holds this run at ZeRO stage {zero}: no time or cost to plot.")
with examples_tab:
    st.caption(
        f"Predictions made before comparing: 6 · N · D FLOPs on the reported GPUs at their catalog peak and "
        f"{DEFAULT_MFU:.0%} MFU (stated in advance, not fitted to these runs), priced at the catalog price. "
        "The error against the published figures is shown whatever it is."
    )
    for published in (LLAMA_65B_RUN, GPT3_RUN):
        example_gpu = find_gpu(published.gpu_name)
        prediction = predict_run(published, find_model(published.hf_id).spec, example_gpu)
        example = prediction.run
        st.markdown(
            f"**{published.name}** — reported: {escape_markdown(published.reported)} "
            f"({escape_markdown(published.source)})."
        )
        cost = (
            f", \\${example.cost_usd:,.0f} at \\${example_gpu.price_per_hour_usd:,.2f}/GPU-hour (catalog)"
            if example.cost_usd is not None
            else ""
        )
        st.markdown(
            f"Predicted: {example.flops:.3g} FLOPs on {published.gpus:,} × {example_gpu.name} at "
            f"{prediction.mfu:.0%} MFU → **{example.days:,.1f} days**, {example.gpu_hours:,.0f} GPU-hours{cost}."
        )
        errors = []
        if prediction.days_error is not None:
            errors.append(
                f"days {prediction.days_error:+.0%} against the published {published.reported_days:,.0f} days"
            )
        if prediction.cost_error is not None:
            errors.append(
                f"cost {prediction.cost_error:+.0%} against the published \\${published.reported_cost_usd / 1e6:,.1f}M"
            )
        if prediction.flops_error is not None:
            errors.append(f"FLOPs {prediction.flops_error:+.1%} against the published {published.reported_flops:.3g}")
        implied = (
            f" The reported {published.tokens_per_s_per_gpu:,.0f} tokens/s per GPU implies "
            f"{prediction.implied_mfu:.0%} MFU (shown for comparison, not used)."
            if prediction.implied_mfu is not None
            else ""
        )
        st.markdown(f"Error: {'; '.join(errors)}.{implied}")

with st.expander("Assumptions"):
    st.dataframe(pd.DataFrame([vars(a) for a in training_assumptions()]), hide_index=True, width="stretch")
