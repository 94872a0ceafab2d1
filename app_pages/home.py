"""Overview: what the dashboard does and where to start."""

import streamlit as st

from llm_calc.catalog import default_gpus, default_models
from llm_calc.tokenizers import REGISTRY
from llm_calc.tokens import RULE_TOKENS_PER_WORD
from ui.primer import primer_footer

st.title("LLM Primer")
st.write(
    "How large language models work, explained in plain words with live examples — and the two questions every "
    "team asks before spending money on one: **how many tokens is this text?** and **what hardware does this model "
    "need?** Every number is computed by our own `llm_calc` package, explained on the page and reproducible from "
    "the command line."
)

primer, tokens = st.columns(2)
with primer.container(border=True, height="stretch"):
    st.subheader(":material/school: Primer")
    st.write(
        "Tokens, parameters, training and model size; context windows, prompts and completions; what training, "
        "fine-tuning and inference cost. Read it in order, each idea with a working example."
    )
    st.page_link("app_pages/primer_foundations.py", label="Start with model foundations →")
with tokens.container(border=True, height="stretch"):
    st.subheader(":material/token: Token estimator")
    st.write(
        f"Paste or upload text and get exact counts from {len(REGISTRY)} real tokenizers (GPT-2 to GPT-5, Llama 3, "
        f"Mistral) side by side, next to the {RULE_TOKENS_PER_WORD}-tokens-per-word rule; see how much of each "
        "model's context window it fills, what it costs to send, and the tokens themselves."
    )
    st.page_link("app_pages/token_estimator.py", label="Open the token estimator →")

hardware, training = st.columns(2)
with hardware.container(border=True, height="stretch"):
    st.subheader(":material/memory: Hardware calculator")
    st.write(
        f"Pick a model (from {len(default_models())} presets, your own `config.json`, or a size), a precision, a "
        f"context length and a batch. See the memory it needs part by part, which of {len(default_gpus())} GPUs "
        "hold it and how many of each, how fast it generates, and what it costs to rent."
    )
    st.page_link("app_pages/hardware_calculator.py", label="Open the hardware calculator →")
with training.container(border=True, height="stretch"):
    st.subheader(":material/model_training: Training and fine-tuning")
    st.write(
        "Full fine-tuning, LoRA and QLoRA: memory per GPU with ZeRO and tensor parallelism, which cards fit, "
        "and how long and how much a run takes — checked against LLaMA 65B and GPT-3."
    )
    st.page_link("app_pages/training.py", label="Open the training calculator →")

st.caption(
    "The same numbers from a terminal: `python -m llm_calc tokens notes.txt`, "
    "`python -m llm_calc memory --model meta-llama/Meta-Llama-3-70B --precision q4_k_m --context 32768 --batch 4`, "
    "`python -m llm_calc train --model huggyllama/llama-65b --method qlora --checkpointing`."
)

primer_footer("app_pages/home.py")
