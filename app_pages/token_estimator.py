"""Token estimator: exact counts for real tokenizers, context-window fill, cost and the tokens."""

import streamlit as st

from llm_calc.catalog import CatalogError
from llm_calc.tokens import RULE_TOKENS_PER_WORD, context_fills
from ui import token_view as view
from ui.hf_tokens import fetched_tokenizer, hf_count
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

st.title("Token estimator")
st.write(
    "How many tokens is this text? Exact counts from the real GPT, Llama and Mistral tokenizers next "
    f"to the “{RULE_TOKENS_PER_WORD} tokens per word” rule, the context window it fills and its cost. "
    "The shipped tokenizers run offline; any other model's own tokenizer is read from the Hugging Face Hub "
    "by its id (sidebar)."
)

# --- input ------------------------------------------------------------------------------------
link = read_link()
with st.sidebar:
    settings = view.tokenizer_settings()
text, link_notice = view.text_to_count(settings)  # link_notice: filled once the last bound widget has run

counts = view.count_everything(text, settings.count_special)
if not counts:  # every tokenizer file missing or altered: each is named above
    st.stop()
chosen = [name for name in settings.tokenizers if name in counts]
hf_tokenizer = fetched_tokenizer(settings.hf_id)
hf = None if hf_tokenizer is None else hf_count(hf_tokenizer, text, settings.count_special, view.cached_words(text))

# --- counts -----------------------------------------------------------------------------------
view.control_token_warning(text, settings.count_special)
view.count_metrics(counts, chosen)
view.comparison(counts, chosen, hf, hf_tokenizer)

# --- context window and cost ------------------------------------------------------------------
st.subheader("Context window and cost")
completion = view.completion_slider()
report_ignored(link, link_notice)
try:
    fills = context_fills({name: c.tokens for name, c in counts.items()}, completion)
except CatalogError as error:
    st.error(f"The context-window table does not load: {escape_markdown(str(error))}")
    st.stop()
view.context_and_cost(fills)

# --- chat -------------------------------------------------------------------------------------
view.chat_request(text, counts, hf_tokenizer)

# --- the tokens -------------------------------------------------------------------------------
st.subheader("The tokens")
view.the_tokens(text, counts, chosen, hf, hf_tokenizer, settings)
view.tokenizer_sources()
