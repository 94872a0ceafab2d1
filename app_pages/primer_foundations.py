"""Primer 1 — model foundations: what an LLM is, tokens, parameters, training and model size."""

import streamlit as st

from llm_calc.architecture import count_parameters
from llm_calc.catalog import default_models, find_model
from llm_calc.memory import weights_bytes_for_params
from llm_calc.rules import inference_rule_bytes
from llm_calc.tokenizers import get_tokenizer
from llm_calc.tokens import RULE_TOKENS_PER_WORD, rule_of_thumb_tokens, token_spans, word_count
from llm_calc.training import CHINCHILLA_TOKENS_PER_PARAMETER, dense_training_flops
from llm_calc.units import GB, format_count
from ui.charts import model_sizes_figure, parameter_parts_figure
from ui.model_picker import CUSTOM_SIZES_B
from ui.primer import primer_footer
from ui.token_html import spans_html

st.title("Model foundations")
st.write(
    "What a large language model is, and the four words every conversation about one uses: token, "
    "parameter, training and model size. Each section has a small working example."
)

st.header("What a large language model is")
st.write(
    "A large language model (LLM) is a neural network — almost always a **Transformer** (Vaswani et al., "
    "2017) — that has learned to predict the next piece of text. Given everything written so far, it "
    "returns a probability for every piece it knows; writing an answer is asking for the next piece, "
    "appending it, and asking again. It learns this in **pre-training**: reading a vast amount of "
    "tokenized text and adjusting itself, a little at a time, to predict that text better."
)

# --- token ------------------------------------------------------------------------------------
st.header("Token")
st.write(
    "A **token** is the unit a model reads and writes: a whole common word, a piece of a rarer word, a "
    "punctuation mark or a run of spaces, each replaced by its number in the model's vocabulary. English "
    f"averages about **{RULE_TOKENS_PER_WORD} tokens per word**; code, other scripts and emoji take more. "
    "Lengths, limits and prices are all counted in tokens."
)
sentence = st.text_input(
    "Type a sentence",
    "Tokenizers split unfamiliar words like photosynthesis into pieces.",
    key="primer_sentence",
    max_chars=500,
)
tokenizer = get_tokenizer("o200k_base")
spans, _ = token_spans(tokenizer, sentence, 500)
st.html(spans_html(spans))
tokens = tokenizer.count(sentence)
words = word_count(sentence)
st.caption(
    f"{tokens:,} tokens for {words:,} words with GPT-4o's o200k_base tokenizer; the {RULE_TOKENS_PER_WORD} rule "
    f"predicts {rule_of_thumb_tokens(words):,}."
)
st.page_link(
    "app_pages/token_estimator.py",
    label="Estimate tokens →",
    query_params={"text": sentence},
    icon=":material/token:",
)

# --- parameters -------------------------------------------------------------------------------
st.header("Parameters")
st.write(
    "**Parameters** are the numbers inside the network — the entries of its weight matrices — that "
    "training sets. They hold what the model has learned: spelling and grammar, facts, the patterns of "
    "code and of conversation. They are learned from large datasets: **Common Crawl** (monthly snapshots "
    "of the public web, the bulk of most pre-training mixes), **The Pile** (Gao et al., 2020: 825 GiB of "
    "English text from 22 sources such as books, papers and GitHub), code from public repositories, "
    "question-and-answer sites such as Stack Exchange, and, for assistants, conversations such as "
    "**OpenAssistant Conversations** (Köpf et al., 2023: 161,443 human-written messages)."
)
models = default_models()
names = [m.name for m in models]
chosen = find_model(
    models[
        names.index(
            st.selectbox("Where the parameters are in", names, index=names.index("Llama 3.1 8B"), key="primer_model")
        )
    ].hf_id
)
counts = count_parameters(chosen.spec)
st.plotly_chart(
    parameter_parts_figure(
        {
            "embeddings": counts.embedding,
            "attention": counts.attention,
            "MLP / experts": counts.mlp,
            "norms": counts.norms,
        }
    ),
    width="stretch",
)
st.caption(
    f"{chosen.name}: {counts.total:,} parameters counted tensor by tensor from its architecture "
    f"(published: {format_count(chosen.params_published)})."
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label=f"Try {chosen.name} in the calculator →",
    icon=":material/memory:",
    query_params={"model": chosen.name},
)

# --- training ---------------------------------------------------------------------------------
st.header("Training")
st.write(
    "**Training** turns tokenized text into parameters. The model reads a stretch of text, predicts "
    "each next token, measures how wrong it was, and nudges every parameter in the direction that "
    "would have made it less wrong (backpropagation). Repeated over trillions of tokens, this costs "
    "about **6 × parameters × tokens** floating-point operations; compute-optimal runs use about "
    f"{CHINCHILLA_TOKENS_PER_PARAMETER} tokens per parameter (Hoffmann et al., 2022)."
)
params_col, tokens_col = st.columns(2)
train_params = params_col.select_slider("Parameters (billions)", CUSTOM_SIZES_B, value=7, key="primer_train_params")
train_tokens = tokens_col.select_slider(
    "Training tokens (billions)",
    (10, 100, 300, 1000, 1400, 2000, 15000),
    value=1400,
    key="primer_train_tokens",
)
flops = dense_training_flops(train_params * 1e9, train_tokens * 1e9)
st.metric("Training compute", f"{flops:.3g} FLOPs")
st.page_link(
    "app_pages/training.py",
    label="Try it in the training calculator →",
    icon=":material/model_training:",
    query_params={
        "source": "Custom size",
        "custom_size": f"{train_params:g}",
        "tokens": str(int(train_tokens * 1e9)),
    },
)

# --- model size -------------------------------------------------------------------------------
st.header("Model size")
st.write(
    "Model size is the parameter count. Frontier models have **hundreds of billions** (GPT-3 175 B in 2020, "
    "Llama 3.1 405 B, DeepSeek-V3 671 B as a mixture of experts). The open models of 2023 — **LLaMA, MPT, "
    "Falcon** — ranged from **7 to 65 B** (Falcon up to 180 B). Since then capable **small models** "
    "(Llama 3.2 1B/3B, Gemma 2 2B, Phi-3 mini, Qwen2.5 0.5B) run on a laptop or a phone."
)
st.plotly_chart(
    model_sizes_figure(
        names, [m.released for m in models], [m.params_published for m in models], [m.family for m in models]
    ),
    width="stretch",
)
size = st.select_slider("Parameters (billions)", CUSTOM_SIZES_B, value=70, key="primer_size")
sixteen, four, rule = st.columns(3)
sixteen.metric("Weights at 16 bits", f"{weights_bytes_for_params(size * 1e9, 'bf16') / GB:,.1f} GB")
four.metric("Weights at 4 bits (Q4_0)", f"{weights_bytes_for_params(size * 1e9, 'q4_0') / GB:,.1f} GB")
rule.metric(
    "Rule of thumb, 16-bit / quantized",
    f"{inference_rule_bytes(size * 1e9, False) / GB:,.0f} / {inference_rule_bytes(size * 1e9, True) / GB:,.0f} GB",
)
st.caption(
    "Weights alone: 2 bytes per parameter at 16 bits, 4.5 bits at Q4_0. The rules of thumb (2.1 and 0.7 GB "
    "per billion) add room for the KV cache and buffers of a short prompt."
)
st.page_link(
    "app_pages/hardware_calculator.py",
    label="Try it in the calculator →",
    icon=":material/memory:",
    query_params={"source": "Custom size", "custom_size": f"{size:g}"},
)

primer_footer("app_pages/primer_foundations.py")
