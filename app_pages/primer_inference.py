"""Primer 2 — model inference: loading a model, context window, prompt and completion."""

import streamlit as st

from llm_calc.sampling import EXAMPLE_LOGITS, EXAMPLE_PROMPT, temperature_probabilities
from llm_calc.tokenizers import get_tokenizer
from llm_calc.tokens import (
    CHAT_REPLY_PRIMER,
    CHAT_TOKENS_PER_MESSAGE,
    ChatMessage,
    api_models,
    chat_tokens,
    context_fills,
    pages_for_tokens,
)
from ui.charts import context_label, context_windows_figure, probabilities_figure
from ui.primer import primer_footer

WINDOWS = (2048, 4096, 8192, 16384, 32768, 131072, 200000, 1048576)

st.title("Model inference")
st.write(
    "What happens when a model answers: loading it, the context window it works within, the prompt "
    "you send and the completion it writes."
)

st.header("Loading a model and completing a prompt")
st.write(
    "To answer, a model's parameters are first **loaded** into the memory of a GPU (or of a computer with "
    "enough unified memory). Your text is tokenized and processed in one pass — the **prefill**, which is "
    "compute-bound — and then the model **decodes**: it produces one token, appends it, and runs again "
    "for the next. Each decode step reads every weight once, so generation speed is set mostly by memory "
    "bandwidth, and a cache of past keys and values (the KV cache) grows with every token."
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label="See memory and speed in the calculator →",
    icon=":material/memory:",
)

# --- context window ---------------------------------------------------------------------------
st.header("Context window")
st.write(
    "The **context window** is the most tokens a model can attend to at once — **prompt and completion "
    "together**. GPT-3 had 2,049 tokens (text-davinci-003 4,097), GPT-3.5 Turbo 16k, GPT-4 Turbo 128k, "
    "Claude 2.1 200k; today's windows reach 400k (GPT-5) and about a million tokens (GPT-4.1, Gemini)."
)
catalog = api_models()
st.plotly_chart(
    context_windows_figure(
        [m.model for m in catalog], [m.released for m in catalog], [m.context_tokens for m in catalog]
    ),
    width="stretch",
)
window = st.select_slider(
    "How much text fits in", WINDOWS, value=131072, format_func=context_label, key="primer_window"
)
st.metric(
    f"{window:,} tokens of English",
    f"≈ {pages_for_tokens(window):,.0f} pages",
    help="1.3 tokens per word, 500 words per single-spaced page",
)
st.page_link(
    "app_pages/token_estimator.py",
    label="Check a text against every window →",
    icon=":material/token:",
)

# --- prompt -----------------------------------------------------------------------------------
st.header("Prompt")
st.write(
    "The **prompt** is everything the model is given: a system message that sets its role, your message, "
    "earlier turns of the conversation, and any documents pasted in. Chat formats add a few tokens of "
    f"framing: OpenAI counts {CHAT_TOKENS_PER_MESSAGE} per message and {CHAT_REPLY_PRIMER} to start the reply."
)
system = st.text_input("System message", "You are a concise assistant.", key="primer_system", max_chars=500)
user = st.text_input(
    "Your message", "Explain what a context window is in one sentence.", key="primer_user", max_chars=2000
)
prompt_tokens = chat_tokens(get_tokenizer("o200k_base"), [ChatMessage("system", system), ChatMessage("user", user)])
st.metric("Prompt tokens (GPT-4o)", f"{prompt_tokens:,}")
st.page_link(
    "app_pages/token_estimator.py",
    label="Count this message with every tokenizer →",
    icon=":material/token:",
    query_params={"text": user},
)

# --- completion -------------------------------------------------------------------------------
st.header("Completion")
st.write(
    "The **completion** is what the model writes back, one token at a time. Two settings shape it. "
    "**Temperature** rescales the model's probabilities before each token is drawn: low values make it "
    "pick the likeliest token almost every time, high values make rarer tokens likelier. **Max tokens** "
    "caps the completion's length — and reserves that much of the context window."
)
temperature = st.slider("Temperature", 0.0, 2.0, 1.0, 0.1, key="primer_temperature")
st.caption(f"Illustrative next-token probabilities after “{EXAMPLE_PROMPT}”:")
st.plotly_chart(probabilities_figure(temperature_probabilities(EXAMPLE_LOGITS, temperature)), width="stretch")
max_tokens = st.select_slider("Max tokens", (256, 1024, 4096, 16384), value=1024, key="primer_max_tokens")
fill = next(f for f in context_fills({"o200k_base": prompt_tokens}, max_tokens) if f.model.model == "GPT-4o")
st.write(
    f"With GPT-4o's {fill.model.context_tokens:,}-token window, this prompt plus a {max_tokens:,}-token "
    f"completion takes **{fill.fraction:.2%}** of it."
)
st.page_link(
    "app_pages/token_estimator.py",
    label="See this completion budget against every window →",
    icon=":material/token:",
    query_params={"text": user, "completion": context_label(max_tokens)},
)

primer_footer("app_pages/primer_inference.py")
