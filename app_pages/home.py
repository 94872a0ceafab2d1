"""Overview: what the dashboard does and where to start."""

import streamlit as st

from llm_calc.catalog import default_gpus, default_models
from llm_calc.tokenizers import REGISTRY

st.title("LLM Primer")
st.write(
    "How large language models work, and the two questions every team asks before spending "
    "money on one: **how many tokens is this text?** and **what hardware does this model need?** "
    "Every number here is computed by our own `llm_calc` package, explained on the page and "
    "reproducible from the command line."
)

with st.container(border=True):
    st.subheader(":material/token: Token estimator")
    st.write(
        f"Paste or upload text and get exact counts from {len(REGISTRY)} real tokenizers (GPT-2 to GPT-5, "
        "Llama 3, Mistral) side by side, next to the 1.3-tokens-per-word rule; see how much of each "
        "model's context window it fills, what it costs to send, and the tokens themselves."
    )
    st.page_link("app_pages/token_estimator.py", label="Open the token estimator →")

with st.container(border=True):
    st.subheader(":material/memory: Hardware calculator")
    st.write(
        f"Pick a model (from {len(default_models())} presets, your own `config.json`, or a size), a "
        "precision, a context length and a batch. See the memory it needs part by part, which of "
        f"{len(default_gpus())} GPUs hold it and how many of each, how fast it generates, and what it "
        "costs to rent."
    )
    st.page_link("app_pages/hardware_calculator.py", label="Open the hardware calculator →")

st.caption(
    "The same numbers from a terminal: `python -m llm_calc tokens notes.txt` and "
    "`python -m llm_calc memory --model meta-llama/Meta-Llama-3-70B --precision q4_k_m "
    "--context 32768 --batch 4`"
)
