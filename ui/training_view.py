"""The training page's blocks of rendering detail, so the page reads like the screen it draws: the
options' labels, the warnings about corrected settings, the refusal of a run that does not fit, the
memory table, the expanders and the tabs' contents. Each function draws into the current container."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from llm_calc.architecture import ModelSpec, ParameterCount
from llm_calc.assumptions import training_assumptions
from llm_calc.catalog import Gpu, find_gpu, find_model
from llm_calc.hardware import usable_memory_bytes
from llm_calc.rules import FINE_TUNING_GB_PER_BILLION, fine_tuning_rule_bytes
from llm_calc.training import (
    CHINCHILLA_TOKENS_PER_PARAMETER,
    DEFAULT_MFU,
    GPT3_RUN,
    LLAMA_65B_RUN,
    MASTER_WEIGHT_BYTES,
    METHODS,
    PublishedRun,
    TrainingFit,
    TrainingMemory,
    TrainingRun,
    TrainingSetup,
    activation_terms,
    activation_terms_per_layer,
    cards_needed_for_training_on,
    chinchilla_tokens,
    predict_run,
    trainable_params,
    training_memory,
    training_run,
)
from llm_calc.units import format_count, format_gib
from ui.charts import time_and_cost_figure, training_memory_figure
from ui.text import escape_markdown

METHOD_LABELS = {"full": "Full fine-tuning / pre-training", "lora": "LoRA", "qlora": "QLoRA (4-bit base)"}
OPTIMIZER_LABELS = {"adamw": "AdamW", "adam8bit": "8-bit Adam (bitsandbytes)", "sgd": "SGD with momentum"}
PRECISION_LABELS = {
    "mixed": "mixed: bf16 weights, fp32 master copy and optimizer states",
    "bf16": "pure bf16: no master copy, bf16 optimizer states",
}
IMPL_LABELS = {"foreach": "PyTorch's default on CUDA; parameter-sized temporaries", "fused": "no temporaries"}
NO_FIT_REMEDY = (
    "No GPU count of this card fits it; try tensor parallelism, gradient checkpointing, LoRA, QLoRA or a "
    "shorter sequence."
)
REFERENCE_CARDS = ("NVIDIA RTX 4090", "NVIDIA RTX A6000", "NVIDIA A100 80GB SXM", "NVIDIA H200 SXM")
"""The cards whose usable memory the "Memory by method" chart draws as dotted lines."""


def corrected_settings_warnings(method: str, targets: list[str], setup: TrainingSetup, tensor_parallel: int) -> None:
    """Say which settings were replaced: no LoRA target chosen, or more tensor parallelism than GPUs."""
    if method != "full" and not targets:
        st.warning("No LoRA target chosen; showing q_proj only.")
    if setup.tensor_parallel != tensor_parallel:
        st.warning(
            f"Tensor parallel {tensor_parallel} needs at least {tensor_parallel} GPUs; showing {setup.tensor_parallel}."
        )


def run_metrics(memory: TrainingMemory, fit: TrainingFit, trainable: int, params: ParameterCount, flops: float) -> None:
    """Memory per GPU against the card's usable memory, the trainable parameters and the FLOPs."""
    per_gpu, trainable_col, flops_col = st.columns(3)
    per_gpu.metric(
        "Memory per GPU",
        format_gib(memory.total_bytes),
        delta=f"{'fits' if fit.fits else 'exceeds'} {format_gib(fit.usable_bytes)}",
        delta_color="normal" if fit.fits else "inverse",
    )
    trainable_col.metric("Trainable parameters", format_count(trainable), help=f"of {params.total:,} in the model")
    flops_col.metric("Training FLOPs", f"{flops:.3g}")


def time_and_cost(run: TrainingRun, price: float | None) -> None:
    """A run that fits: its time, GPU-hours and cost (``price`` per GPU-hour, None: no price). [$]"""
    time_col, hours_col, cost_col = st.columns(3)
    time_col.metric("Time", f"{run.days:,.1f} days" if run.days >= 1 else f"{run.seconds / 3600:,.1f} hours")
    hours_col.metric("GPU-hours", f"{run.gpu_hours:,.0f}")
    cost_col.metric(
        "Cost",
        f"${run.cost_usd:,.0f}" if run.cost_usd is not None else "no price",
        help=f"at ${price:,.2f} per GPU-hour" if price else "set a price in the sidebar",
    )


def run_caption(spec: ModelSpec, tokens: float, mfu: float, gpu: Gpu) -> None:
    """What the time and cost assume, and the compute-optimal token count for comparison."""
    st.caption(
        f"{format_count(tokens)} tokens at {mfu:.0%} of {gpu.tflops_16bit:,.0f} dense 16-bit TFLOPS per GPU. "
        f"Compute-optimal pre-training would use about {chinchilla_tokens(spec) / 1e9:,.0f} B tokens "
        f"({CHINCHILLA_TOKENS_PER_PARAMETER} per parameter)."
    )


def does_not_fit(memory: TrainingMemory, fit: TrainingFit, gpu: Gpu, gpus: int, zero: int) -> None:
    """Refuse a run that does not fit, saying what would make it fit (ZeRO stage, GPU count)."""
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


def memory_parts_table(memory: TrainingMemory, method: str) -> pd.DataFrame:
    """Memory per GPU part by part, and whether each part is in the peak (the larger of activations
    and the optimizer step's temporaries is)."""
    activations_counted = memory.activations_bytes >= memory.step_temporaries_bytes
    return pd.DataFrame(
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


def memory_parts(memory: TrainingMemory, method: str) -> None:
    """The table of memory per GPU and why the peak counts only one of activations and step temporaries."""
    st.dataframe(memory_parts_table(memory, method), hide_index=True, width="content")
    st.caption(
        "The optimizer step runs after backward has freed the activations, so the peak counts the larger of the "
        "activations and the step's temporaries (PyTorch's foreach AdamW allocates one parameter-sized tensor)."
    )


def activation_terms_expander(spec: ModelSpec, setup: TrainingSetup) -> None:
    """The "Activation terms" expander: activation memory term by term, per layer and per GPU."""
    with st.expander("Activation terms"):
        layer_terms = activation_terms_per_layer(spec, setup.seq_len, setup.micro_batch, setup.flash_attention)
        st.dataframe(
            pd.DataFrame({"per layer": list(layer_terms), "bytes": [format_gib(v) for v in layer_terms.values()]}),
            hide_index=True,
        )
        gpu_terms = activation_terms(spec, setup)
        st.dataframe(
            pd.DataFrame({"per GPU": list(gpu_terms), "bytes": [format_gib(v) for v in gpu_terms.values()]}),
            hide_index=True,
        )
        st.caption(
            "Korthikanti et al. (2022) for the model's real shapes, 2-byte activations without dropout; "
            "divided by tensor parallelism (sequence parallelism assumed)."
        )


def fine_tuning_rule_of_thumb(spec: ModelSpec, setup: TrainingSetup, params: ParameterCount) -> None:
    """The bordered box comparing the GB-per-billion rule with full fine-tuning on one GPU, detailed."""
    with st.container(border=True):
        rule = fine_tuning_rule_bytes(params.total)
        full = training_memory(spec, replace(setup, method="full", gpus=1, zero_stage=0, tensor_parallel=1))
        full_states = full.weights_bytes + full.gradients_bytes + full.optimizer_bytes
        st.markdown(
            f"**Rule of thumb** — full fine-tuning needs about {FINE_TUNING_GB_PER_BILLION} GB (decimal, 10⁹ bytes) "
            f"per billion parameters → **{format_gib(rule)}**. Detailed, on one GPU with the optimizer and precision "
            f"chosen: **{format_gib(full.total_bytes)}** ({format_gib(full_states)} of model states + "
            f"{format_gib(full.transient_bytes)} of activations or step temporaries + "
            f"{format_gib(full.overhead_bytes)} of overhead)."
        )
        st.caption(
            f"The rule counts {FINE_TUNING_GB_PER_BILLION} bytes per parameter (16-bit weights and gradients, two "
            f"Adam moments); mixed precision also keeps a {MASTER_WEIGHT_BYTES}-byte fp32 master copy, and "
            "activations grow with sequence length and micro-batch."
        )


def methods_sized(spec: ModelSpec, setup: TrainingSetup) -> tuple[list[str], dict[str, str]]:
    """The methods that can be sized with this page's settings, and why each other one cannot: the
    other methods keep this page's LoRA targets, which a model may lack (MLA has no q_proj)."""
    comparable, refused = [], {}
    for other in METHODS:
        try:
            trainable_params(spec, replace(setup, method=other))
            comparable.append(other)
        except ValueError as error:
            refused[other] = str(error)
    return comparable, refused


def memory_by_method(spec: ModelSpec, setup: TrainingSetup, comparable: list[str], refused: dict[str, str]) -> None:
    """The "Memory by method" tab: each method's memory per GPU stacked, beside reference cards."""
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


def cards_needed_table(
    spec: ModelSpec, setup: TrainingSetup, comparable: list[str], gpus: tuple[Gpu, ...]
) -> pd.DataFrame:
    """Per card of the catalog: its class, usable memory (GiB) and the fewest GPUs each method needs."""
    needed = {m: cards_needed_for_training_on(spec, replace(setup, method=m), gpus) for m in comparable}
    rows = [
        {"card": card.name, "class": card.gpu_class, "usable memory (GiB)": round(usable_memory_bytes(card) / 2**30, 1),
         **{f"{m}: GPUs needed": needed[m][index] for m in comparable}}
        for index, card in enumerate(gpus)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def cards_needed(spec: ModelSpec, setup: TrainingSetup, comparable: list[str], gpus: tuple[Gpu, ...]) -> None:
    """The "Cards" tab: the fewest GPUs of every card that hold the run, with a CSV download."""
    table = cards_needed_table(spec, setup, comparable, gpus)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        f"Fewest GPUs that hold the run with ZeRO stage {setup.zero_stage} and tensor parallel "
        f"{setup.tensor_parallel}; empty where no count does (without ZeRO or TP every GPU holds the whole model)."
    )
    st.download_button("Download CSV", table.to_csv(index=False).encode(), "llm_training_cards.csv", "text/csv")


def time_and_cost_by_gpu_count(
    flops: float,
    fit: TrainingFit,
    setup: TrainingSetup,
    gpu: Gpu,
    mfu: float,
    price: float | None,
    gpu_counts: tuple[int, ...],
) -> None:
    """The "Time and cost" tab: days and cost at every GPU count that holds the run."""
    # only GPU counts at which the run fits: memory per GPU never grows with more data-parallel GPUs
    fitting = [n for n in gpu_counts if n % setup.tensor_parallel == 0 and fit.gpus_needed and n >= fit.gpus_needed]
    zero = setup.zero_stage
    if fitting:
        runs: list[TrainingRun] = [training_run(flops, n, gpu.tflops_16bit, mfu, price) for n in fitting]
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


def worked_examples() -> None:
    """The "Worked examples" tab: published training runs predicted in advance, with the error shown."""
    st.caption(
        f"Predictions made before comparing: 6 · N · D FLOPs on the reported GPUs at their catalog peak and "
        f"{DEFAULT_MFU:.0%} MFU (stated in advance, not fitted to these runs), priced at the catalog price. "
        "The error against the published figures is shown whatever it is."
    )
    for published in (LLAMA_65B_RUN, GPT3_RUN):
        worked_example(published)


def worked_example(published: PublishedRun) -> None:
    """One published run: what was reported, what we predict, and the error of each figure."""
    example_gpu = find_gpu(published.gpu_name)
    prediction = predict_run(published, find_model(published.hf_id).spec, example_gpu)
    example = prediction.run
    st.markdown(
        f"**{published.name}** — reported: {escape_markdown(published.reported)} ({escape_markdown(published.source)})."
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
        errors.append(f"days {prediction.days_error:+.0%} against the published {published.reported_days:,.0f} days")
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


def assumptions_expander() -> None:
    """The "Assumptions" expander: every training constant with its value, source and why."""
    with st.expander("Assumptions"):
        st.dataframe(pd.DataFrame([vars(a) for a in training_assumptions()]), hide_index=True, width="stretch")
