"""Primer 3 — hardware requirements: what training, fine-tuning and inference cost."""

import pandas as pd
import streamlit as st

from llm_calc.catalog import default_gpus, find_gpu, find_model
from llm_calc.engines import profile_for
from llm_calc.hardware import daily_cost_usd, size_on_gpus, speed
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.rules import (
    FINE_TUNING_GB_PER_BILLION,
    INFERENCE_GB_PER_BILLION_16BIT,
    INFERENCE_GB_PER_BILLION_QUANTIZED,
    fine_tuning_rule_bytes,
    inference_rule_bytes,
)
from llm_calc.training import (
    DEFAULT_MFU,
    GPT3_RUN,
    LLAMA_65B_RUN,
    TrainingSetup,
    predict_run,
    trainable_params,
    training_flops,
    training_memory,
    training_run,
)
from llm_calc.units import format_gib
from ui.charts import context_label
from ui.model_picker import CUSTOM_SIZES_B
from ui.primer import primer_footer

PRICED = [g for g in default_gpus() if g.price_per_hour_usd]

st.title("Hardware requirements")
st.write(
    "What it costs to train, fine-tune and run a model, and the rules of thumb for the memory it needs. "
    "Every figure below is recomputed from our catalogs when the page loads."
)

# --- cloud servers ----------------------------------------------------------------------------
st.header("Cloud GPU servers")
st.write(
    "Most teams rent GPUs by the hour. A single mid-range card costs tens of dollars a day; a server with "
    "eight data-center GPUs costs **roughly $100 to $1,000 per day**, depending on the generation."
)
servers = pd.DataFrame(
    [
        {
            "card": g.name,
            "1 card ($/day)": daily_cost_usd(g, 1),
            "8 cards ($/day)": daily_cost_usd(g, 8),
            "price source": g.price_source,
        }
        for g in PRICED
    ]
)
st.dataframe(
    servers,
    hide_index=True,
    width="stretch",
    column_config={c: st.column_config.NumberColumn(format="$%.0f") for c in ("1 card ($/day)", "8 cards ($/day)")},
)
server_card, server_count = st.columns(2)
card = server_card.selectbox(
    "A server of",
    [g.name for g in PRICED],
    index=[g.name for g in PRICED].index("NVIDIA H100 SXM"),
    key="primer_server",
)
count = server_count.select_slider("GPUs", (1, 2, 4, 8), value=8, key="primer_server_count")
st.metric(f"{count} × {card}, per day", f"${daily_cost_usd(find_gpu(card), count):,.0f}")
st.page_link(
    "app_pages/hardware_calculator.py",
    label="Compare every card in the calculator →",
    icon=":material/memory:",
    query_params={"gpus": str(count)},
)

# --- training ---------------------------------------------------------------------------------
st.header("Training")
llama = find_model(LLAMA_65B_RUN.hf_id)
a100 = find_gpu(LLAMA_65B_RUN.gpu_name)
# a prediction, then the comparison: 6·N·D at the MFU stated in advance, the catalog price
llama_prediction = predict_run(LLAMA_65B_RUN, llama.spec, a100)
llama_run = llama_prediction.run
st.write(
    "Pre-training a large model takes thousands of high-end GPUs — NVIDIA A100 or H100, 80 GB each — for "
    f"weeks. Meta trained **LLaMA 65B** on {LLAMA_65B_RUN.tokens / 1e12:,.1f} T tokens with "
    f"{LLAMA_65B_RUN.gpus:,} A100-80GB GPUs in about {LLAMA_65B_RUN.reported_days:,.0f} days. "
    f"Predicted here from 6 · N · D at {llama_prediction.mfu:.0%} of the A100's peak (our usual MFU, "
    f"stated in advance): **{llama_run.days:.1f} days** ({llama_prediction.days_error:+.0%} against the "
    f"paper), {llama_run.gpu_hours:,.0f} GPU-hours, and at today's catalog price "
    f"(\\${a100.price_per_hour_usd:,.2f}/h) **\\${llama_run.cost_usd / 1e6:.1f}M** "
    f"({llama_prediction.cost_error:+.0%} against the often-quoted "
    f"\\${LLAMA_65B_RUN.reported_cost_usd / 1e6:,.1f}M). The paper's "
    f"{LLAMA_65B_RUN.tokens_per_s_per_gpu:,.0f} tokens/s per GPU implies {llama_prediction.implied_mfu:.0%} MFU."
)
st.page_link(
    "app_pages/training.py",
    label="Try it in the training calculator →",
    icon=":material/model_training:",
    query_params={
        "model": llama.name,
        "n_gpus": "2048",
        "zero": "3",
        "tokens": "1400000000000",
        "card": a100.name,
    },
)

st.subheader("Training keeps getting cheaper")
gpt3 = find_model(GPT3_RUN.hf_id).spec
gpt3_flops = training_flops(gpt3, GPT3_RUN.tokens)
v100 = find_gpu("NVIDIA V100 SXM2 32GB")
then = training_run(gpt3_flops, 1024, v100.tflops_16bit, DEFAULT_MFU, v100.price_per_hour_usd)
h100 = find_gpu("NVIDIA H100 SXM")
now = training_run(gpt3_flops, 1024, h100.tflops_16bit, DEFAULT_MFU, h100.price_per_hour_usd)
st.write(
    f"GPT-3 175B took {gpt3_flops:.3g} FLOPs. On 2020's V100s at {DEFAULT_MFU:.0%} utilisation and today's V100 "
    f"price that is **${then.cost_usd / 1e6:.1f}M** (Lambda estimated $4.6M in 2020); on H100s at "
    f"${h100.price_per_hour_usd}/h it is **${now.cost_usd / 1e3:,.0f}k** — the fall from ≈ $5M to ≈ $500k "
    "that MosaicML reported in 2022 comes from faster GPUs, better utilisation and lower prices."
)
st.page_link(
    "app_pages/training.py",
    label="Recompute GPT-3 on other GPUs →",
    icon=":material/model_training:",
    query_params={
        "model": "GPT-3 175B",
        "tokens": "300000000000",
        "n_gpus": "1024",
        "zero": "3",
        "ckpt": "true",
        "card": h100.name,
    },
)

# --- fine-tuning ------------------------------------------------------------------------------
st.header("Fine-tuning")
llama70 = find_model("meta-llama/Llama-3.1-70B").spec
lora = TrainingSetup(
    method="lora",
    seq_len=2048,
    checkpointing=True,
    gpus=8,
    zero_stage=3,
    lora_rank=16,
    lora_targets=("q_proj", "k_proj", "v_proj", "o_proj"),
)
lora_memory = training_memory(llama70, lora)
lora_run = training_run(
    training_flops(llama70, 1e9, "lora", trainable_params(llama70, lora)),
    8,
    a100.tflops_16bit,
    DEFAULT_MFU,
    a100.price_per_hour_usd,
)
st.write(
    "Adapting a trained model to your data is far cheaper. **LoRA** freezes the model and trains small "
    "low-rank matrices beside some of its layers, so gradients and optimizer states are needed only for "
    f"those: fine-tuning Llama 3.1 70B with rank-16 LoRA on 1 B tokens uses {format_gib(lora_memory.total_bytes)} "
    f"per GPU on 8 A100s and takes **{lora_run.days:.1f} days, about ${lora_run.cost_usd:,.0f}** — thousands "
    "of dollars, not millions. **QLoRA** also stores the frozen model in 4 bits, which brings a 65B model "
    "onto a single 48 GB GPU."
)
st.page_link(
    "app_pages/training.py",
    label="Size a fine-tuning run →",
    icon=":material/model_training:",
    query_params={
        "model": "Llama 3.1 70B",
        "method": "lora",
        "n_gpus": "8",
        "zero": "3",
        "ckpt": "true",
        "tokens": "1000000000",
    },
)

# --- inference --------------------------------------------------------------------------------
st.header("Inference")
rows = []
for hf_id, precision in (
    ("meta-llama/Llama-3.1-8B", "bf16"),
    ("meta-llama/Llama-3.1-70B", "q4_k_m"),
    ("meta-llama/Llama-3.1-70B", "bf16"),
):
    served = find_model(hf_id)
    _, results = size_on_gpus(
        served.spec, InferenceSettings(weight_format=precision, context_tokens=8192), tuple(PRICED)
    )
    cheapest = min((r for r in results if r.cards_used), key=lambda r: r.price_per_hour_usd)
    rows.append(
        {
            "model": served.name,
            "weights": precision,
            "cheapest rented deployment": f"{cheapest.gpu.name} × {cheapest.cards_used}",
            "$/day": cheapest.cost_per_day_usd,
            "tokens/s per user": cheapest.speed.decode_tokens_per_s,
        }
    )
st.write(
    "Serving a model costs what its GPUs cost while they run: **tens to hundreds of dollars a day** for a "
    "single deployment, set by how much memory the model needs."
)
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    width="stretch",
    column_config={
        "$/day": st.column_config.NumberColumn(format="$%.0f"),
        "tokens/s per user": st.column_config.NumberColumn(format="%.0f"),
    },
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label="Size a deployment in the calculator →",
    icon=":material/memory:",
    query_params={"model": "Llama 3.1 70B", "precision": "q4_k_m"},
)

st.subheader("Same model, same card: the engine sets the speed")
st.write(
    "A decode step reads the same weights and KV cache whichever engine runs it. Engines differ in how much "
    "of the card's bandwidth they reach and in the fixed time they add to every layer. Hugging Face "
    "`generate` in eager mode adds the most (it launches every kernel from Python) and copies its whole KV "
    "cache at every step, so it falls furthest behind as the context grows; a static cache compiled with "
    "`torch.compile` stays in place."
)
ENGINE_CARD = find_gpu("NVIDIA H100 SXM")
ENGINE_MODEL = find_model("meta-llama/Llama-3.1-8B")
engine_rows = []
for engine in ("vllm", "sglang", "tensorrt-llm", "llama.cpp", "transformers-compiled", "transformers"):
    row: dict[str, str | float] = {"engine": engine}
    for context in (1024, 32_768):
        settings = InferenceSettings(weight_format="bf16", context_tokens=context)
        memory = inference_memory(ENGINE_MODEL.spec, settings)
        estimate = speed(ENGINE_MODEL.spec, settings, memory, ENGINE_CARD, 1, engine=engine)
        row[f"tokens/s per user at {context:,} tokens"] = estimate.decode_tokens_per_s
    profile = profile_for(engine, ENGINE_CARD)
    row["how right (held out)"] = (
        f"median error {profile.cv_median_abs_error:.0%}" if profile.cv_median_abs_error else profile.status
    )
    engine_rows.append(row)
st.caption(f"{ENGINE_MODEL.name} in bf16 on one {ENGINE_CARD.name}, one user, from each engine's fitted profile.")
st.dataframe(
    pd.DataFrame(engine_rows),
    hide_index=True,
    width="stretch",
    column_config={
        column: st.column_config.NumberColumn(format="%.0f") for column in engine_rows[0] if column.startswith("tokens")
    },
)
st.page_link("app_pages/accuracy.py", label="How right each engine's estimate is →", icon=":material/verified:")

# --- rules of thumb ---------------------------------------------------------------------------
st.header("Memory rules of thumb")
st.write(
    "The rules are quoted in decimal gigabytes (10⁹ bytes) per billion parameters; the figures below convert "
    "them to GiB (2³⁰ bytes), the unit of every memory figure in this app.\n"
    f"- **Inference ≈ {INFERENCE_GB_PER_BILLION_16BIT} GB per billion parameters** at 16 bits: 2 bytes per "
    "weight plus about 5 % for the KV cache and buffers of a short prompt.\n"
    f"- **Quantized ≈ {INFERENCE_GB_PER_BILLION_QUANTIZED} GB per billion**: 4-bit weights are half a byte, "
    "plus their scales and the same cache and buffers.\n"
    f"- **Fine-tuning ≈ {FINE_TUNING_GB_PER_BILLION} GB per billion**: 16-bit weights and gradients and two "
    "Adam moments (2 + 2 + 8 bytes); mixed precision adds a 4-byte master copy, and activations come on top."
)
billions = st.select_slider("Parameters (billions)", CUSTOM_SIZES_B, value=13, key="primer_rules")
inference, quantized, fine_tuning = st.columns(3)
inference.metric("Inference, 16-bit", format_gib(inference_rule_bytes(billions * 1e9, False)))
quantized.metric("Inference, 4-bit", format_gib(inference_rule_bytes(billions * 1e9, True)))
fine_tuning.metric("Full fine-tuning", format_gib(fine_tuning_rule_bytes(billions * 1e9)))
st.page_link(
    "app_pages/hardware_calculator.py",
    label="See the detailed estimate →",
    icon=":material/memory:",
    query_params={"source": "Custom size", "custom_size": f"{billions:g}"},
)

# --- Apple ------------------------------------------------------------------------------------
st.header("Running models locally on a Mac")
m2 = find_gpu("Apple M2 Ultra (192 GB)")
llama3_70b = find_model("meta-llama/Meta-Llama-3-70B").spec
_, (mac,) = size_on_gpus(llama3_70b, InferenceSettings(weight_format="q4_k_m", context_tokens=8192), (m2,))
st.write(
    "Apple's M-series chips share one pool of **unified memory** between CPU and GPU, so a Mac with 64–512 GB "
    "can hold models that would need several gaming GPUs. With **quantization** to about 4–5 bits, "
    f"Llama 3 70B needs {format_gib(mac.per_card_bytes)}; an {m2.name} lets its GPU use "
    f"{format_gib(mac.usable_memory_bytes)} of {format_gib(m2.memory_bytes)}, so it "
    f"{'fits' if mac.fits else 'does not fit'}, generating about **{mac.speed.decode_tokens_per_s:.0f} tokens/s**."
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label="Compare Macs in the calculator →",
    icon=":material/memory:",
    query_params={"model": "Llama 3 70B", "precision": "q4_k_m", "gpu_class": "apple"},
)

# --- CPUs -------------------------------------------------------------------------------------
st.header("Running models on a CPU")
cpu_model = find_model("meta-llama/Llama-3.1-8B")
cpu_settings = InferenceSettings(weight_format="q4_k_m", context_tokens=4096)
server, desktop, gpu = (
    find_gpu(name) for name in ("AMD EPYC 9554 (192 GB)", "AMD Ryzen 9 7950X (64 GB)", "NVIDIA RTX 4090")
)
_, (on_server, on_desktop, on_gpu) = size_on_gpus(cpu_model.spec, cpu_settings, (server, desktop, gpu))
cpu_profile = profile_for("llama.cpp", server)
held_out = cpu_profile.cv_median_abs_error
cpu_error = f"median error {held_out:.0%} held out" if held_out is not None else cpu_profile.status
st.write(
    "Without a GPU, llama.cpp's CPU backend runs a model from system memory. Decode reads every weight once "
    "per token, so its speed follows the **memory channels**, not the cores: "
    f"{cpu_model.name} at 4 bits generates about **{on_server.speed.decode_tokens_per_s:.0f} tokens/s** on one "
    f"{server.name} socket (12 channels, {server.bandwidth_gbs:,.1f} GB/s), "
    f"**{on_desktop.speed.decode_tokens_per_s:.0f}** on an {desktop.name} desktop (2 channels, "
    f"{desktop.bandwidth_gbs:,.1f} GB/s) and **{on_gpu.speed.decode_tokens_per_s:.0f}** on an {gpu.name} "
    f"({gpu.bandwidth_gbs:,.0f} GB/s). Reading a prompt is compute-bound, where a CPU's vector units are far "
    f"behind tensor cores: {cpu_settings.context_tokens:,} tokens take {on_server.speed.prefill_seconds:,.1f} s "
    "on the EPYC and "
    f"{on_gpu.speed.prefill_seconds:,.1f} s on the GPU. The CPU profile is fitted on {cpu_profile.fit_rows} "
    f"published runs from {cpu_profile.sources} sources ({cpu_error}), none of them with several users at once."
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label="Compare CPUs in the calculator →",
    icon=":material/memory:",
    query_params={
        "model": cpu_model.name,
        "precision": "q4_k_m",
        "context": context_label(cpu_settings.context_tokens),
        "gpu_class": "cpu",
    },
)

primer_footer("app_pages/primer_hardware.py")
