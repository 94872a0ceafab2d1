"""Token estimator: exact counts for real tokenizers, context-window fill, cost and the tokens."""

from contextlib import nullcontext

import pandas as pd
import streamlit as st

from llm_calc.catalog import CatalogError
from llm_calc.tokenizers import REGISTRY, TokenizerError, count_many, get_tokenizer
from llm_calc.tokens import (
    CHAT_REPLY_PRIMER,
    CHAT_TOKENS_PER_MESSAGE,
    CHAT_TOKENS_PER_NAME,
    RULE_TOKENS_PER_WORD,
    SAMPLES,
    ChatMessage,
    TokenCount,
    chat_tokens,
    context_fills,
    decode_upload,
    sample_text,
    special_markers,
    token_spans,
    word_count,
)
from ui.charts import context_fill_figure, context_label, token_count_figure
from ui.hf_tokens import chat_overhead_metric, count_row, fetched_tokenizer, hf_count, hf_id_input
from ui.live_counter import live_counter
from ui.text import escape_markdown
from ui.token_html import spans_html
from ui.url_params import read_link, report_ignored

MAX_TEXT_IN_URL = 2000  # texts up to this many characters travel in the link; longer ones and uploads do not
DISPLAY_TOKENS = 2000  # tokens drawn as coloured spans; the counts always cover the whole text
PROGRESS_FROM_CHARS = 200_000
DEFAULT_TOKENIZERS = ["o200k_base", "cl100k_base", "llama3", "mistral_tekken"]
COMPLETION_STEPS = (0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 100000, 128000)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_counts(text: str, encodings: tuple[str, ...], special: bool) -> dict[str, int]:
    return count_many(text, encodings, special)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_words(text: str) -> int:
    return word_count(text)


def count_everything(text: str, special: bool) -> tuple[dict[str, TokenCount], dict[str, str]]:
    """Counts for every shipped tokenizer (the context table needs them all), all at once on the
    counting threads, with a spinner for long texts; a tokenizer whose file is missing or altered is
    reported, not fatal."""
    broken = {}
    for name in REGISTRY:
        try:
            get_tokenizer(name)
        except TokenizerError as error:
            broken[name] = str(error)
    working = tuple(name for name in REGISTRY if name not in broken)
    long_text = len(text) > PROGRESS_FROM_CHARS
    with st.spinner(f"Counting with {len(working)} tokenizers…", show_time=True) if long_text else nullcontext():
        tokens = cached_counts(text, working, special)
    characters, words = len(text), cached_words(text)
    return {name: TokenCount(name, tokens[name], characters, words) for name in working}, broken


def load_sample() -> None:
    if st.session_state["sample"] in SAMPLES:
        st.session_state["text"] = sample_text(st.session_state["sample"])


st.title("Token estimator")
st.write(
    "How many tokens is this text? Exact counts from the real GPT, Llama and Mistral tokenizers next "
    f"to the “{RULE_TOKENS_PER_WORD} tokens per word” rule, the context window it fills and its cost. "
    "The shipped tokenizers run offline; any other model's own tokenizer is read from the Hugging Face Hub "
    "by its id (sidebar)."
)

# --- input ------------------------------------------------------------------------------------
link = read_link()
if "text" not in st.session_state:
    st.session_state["text"] = st.query_params.get("text") or sample_text("English prose")

with st.sidebar:
    st.header("Tokenizers")
    chosen = st.multiselect(
        "Tokenizers to compare",
        list(REGISTRY),
        default=DEFAULT_TOKENIZERS,
        key="tokenizers",
        bind="query-params",
        help="; ".join(f"{n}: {i.models}" for n, i in REGISTRY.items()),
    )
    count_special = st.toggle(
        "Count special tokens as special",
        key="special",
        bind="query-params",
        help="By default text such as <|endoftext|> is counted as ordinary text, as an API treats user content.",
    )
    show_whitespace = st.toggle("Show whitespace", key="whitespace", bind="query-params")
    show_ids = st.toggle("Show token ids", key="ids", bind="query-params")
    hf_id = hf_id_input()

source_col, sample_col = st.columns(2, vertical_alignment="bottom")
source = source_col.radio(
    "Text from", ["Type or paste", "Upload a file"], horizontal=True, key="input", bind="query-params"
)
link_notice = st.container()  # filled once the last bound widget (the completion slider) has run
if source == "Type or paste":
    sample_col.selectbox("Start from a sample", ["—", *SAMPLES], key="sample", on_change=load_sample)
    text = st.text_area("Text", key="text", height=150, placeholder="Paste any text here")
    live_counter(chosen, count_special, text_key="text")  # counts in the browser while typing, no rerun
    if len(text) <= MAX_TEXT_IN_URL and text != sample_text("English prose"):
        st.query_params["text"] = text
    else:
        st.query_params.pop("text", None)
else:
    st.query_params.pop("text", None)
    upload = st.file_uploader(
        "A text file (up to 50 MB)",
        type=[
            "txt",
            "md",
            "csv",
            "tsv",
            "json",
            "jsonl",
            "py",
            "js",
            "ts",
            "html",
            "xml",
            "yaml",
            "yml",
            "log",
            "rst",
            "tex",
            "sql",
            "c",
            "cpp",
            "java",
            "go",
            "rs",
        ],
        key="upload",
    )
    if upload is None:
        st.info("Upload a file to count its tokens; its text is not put in the link.")
        st.stop()
    decoded = decode_upload(upload.getvalue())
    text = decoded.text
    if decoded.looks_binary:
        st.warning("This file looks binary; its bytes were read as UTF-8 text anyway.")
    if decoded.replaced_bytes:
        st.warning(
            f"{decoded.replaced_bytes:,} byte sequences were not valid UTF-8 and are counted as "
            "the replacement character �."
        )
    st.caption(f"{upload.size:,} bytes read.")

counts, broken = count_everything(text, count_special)
for name, problem in broken.items():
    st.error(f"{REGISTRY[name].label} is unavailable: {escape_markdown(problem)}")
chosen = [name for name in chosen if name in counts]
if not counts:
    st.stop()
hf_tokenizer = fetched_tokenizer(hf_id)
hf = None if hf_tokenizer is None else hf_count(hf_tokenizer, text, count_special, cached_words(text))
compared = [(REGISTRY[name].label, counts[name], REGISTRY[name].models) for name in chosen]
if hf is not None:
    compared.append((f"{hf.encoding} (Hugging Face)", hf, f"its tokenizer.json at commit {hf_tokenizer.commit[:12]}"))

# --- counts -----------------------------------------------------------------------------------
markers = special_markers(text)
if markers:
    listed = ", ".join(f"`{marker}` × {n}" for marker, n in markers.items())
    st.warning(
        f"The text contains control-token text: {listed}. It is counted "
        f"{'as special tokens where a tokenizer defines them' if count_special else 'as ordinary text'}; "
        "switch *Count special tokens as special* (sidebar) to compare. Mistral tokenizers never parse them."
    )

any_count = next(iter(counts.values()))
headline, words, characters, rule = st.columns(4)
if chosen:
    headline.metric(
        f"Tokens ({REGISTRY[chosen[0]].label})",
        f"{counts[chosen[0]].tokens:,}",
        help="exact count with the first tokenizer chosen in the sidebar; the table compares them all",
    )
words.metric("Words", f"{any_count.words:,}", help="whitespace-separated; not meaningful for Chinese or Japanese")
characters.metric("Characters", f"{any_count.characters:,}")
rule.metric(f"Rule of thumb (tokens, {RULE_TOKENS_PER_WORD} × words)", f"{any_count.rule_estimate:,}")

if not compared:
    st.info("Choose at least one tokenizer to compare (sidebar).")
else:
    table = pd.DataFrame([count_row(label, count, used_by) for label, count, used_by in compared])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "tokens": st.column_config.NumberColumn(format="localized"),
            "tokens per word": st.column_config.NumberColumn(format="%.2f"),
            "characters per token": st.column_config.NumberColumn(format="%.2f"),
            "rule of thumb (tokens)": st.column_config.NumberColumn(format="localized"),
            "rule error (%)": st.column_config.NumberColumn(format="%+.1f"),
        },
    )
    st.plotly_chart(
        token_count_figure([c[0] for c in compared], [c[1].tokens for c in compared], any_count.rule_estimate),
        width="stretch",
    )
    st.caption(
        "The rule error is (rule − exact) / exact: positive when the rule over-counts. The rule fits "
        "English prose; code, other scripts and emoji take more tokens per word."
    )
    reference = counts.get("llama3") or next(iter(counts.values()))
    if reference.tokens:  # an empty text is no dataset: the training page takes at least one token
        st.page_link(
            "app_pages/training.py",
            label=f"Fine-tune on these {reference.tokens:,} tokens →",
            query_params={"tokens": str(reference.tokens)},
            icon=":material/model_training:",
        )

# --- context window and cost ------------------------------------------------------------------
st.subheader("Context window and cost")
completion = st.select_slider(
    "Max completion tokens (the window holds prompt and completion)",
    COMPLETION_STEPS,
    value=1024,
    key="completion",
    bind="query-params",
    format_func=context_label,
)
report_ignored(link, link_notice)
try:
    fills = context_fills({name: c.tokens for name, c in counts.items()}, completion)
except CatalogError as error:
    st.error(f"The context-window table does not load: {escape_markdown(str(error))}")
    st.stop()
st.plotly_chart(context_fill_figure([f.model.model for f in fills], [100 * f.fraction for f in fills]), width="stretch")
st.dataframe(
    pd.DataFrame(
        [
            {
                "model": f.model.model,
                "window (tokens)": f.model.context_tokens,
                "counted with": REGISTRY[f.model.tokenizer].label
                + ("" if f.model.tokenizer_exact else " (approximate)"),
                "prompt tokens": f.prompt_tokens,
                "prompt + completion (tokens)": f.total_tokens,
                "of window (%)": 100 * f.fraction,
                "fits": f.fits,
                "completion over output limit": f.completion_exceeds_output_limit,
                "input cost ($)": f.input_cost_usd,
                "completion cost ($)": f.output_cost_usd,
                "$ / 1M input": f.model.input_usd_per_mtok,
                "$ / 1M output": f.model.output_usd_per_mtok,
                "price as of": f.model.price_as_of,
                "price source": f.model.price_source,
                "window source": f.model.context_source,
            }
            for f in fills
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "window (tokens)": st.column_config.NumberColumn(format="localized"),
        "prompt tokens": st.column_config.NumberColumn(format="localized"),
        "prompt + completion (tokens)": st.column_config.NumberColumn(format="localized"),
        "of window (%)": st.column_config.NumberColumn(format="%.1f"),
        "input cost ($)": st.column_config.NumberColumn(format="%.6f"),
        "completion cost ($)": st.column_config.NumberColumn(format="%.6f"),
    },
)
st.caption(
    "Approximate rows use a public tokenizer of the same design where the model's own is not "
    "published (Claude, Gemini, Llama 2). Prices are list prices per million tokens on the date shown; "
    "providers change them, and batch or cached-input discounts are not applied."
)

# --- chat -------------------------------------------------------------------------------------
with st.expander("Count a chat request (system + user message)"):
    system = st.text_area("System message", "You are a helpful assistant.", key="chat_system")
    user = st.text_area("User message", text[:MAX_TEXT_IN_URL], key="chat_user")
    name = st.text_input("Optional name on the user message", key="chat_name", max_chars=64)
    messages = [ChatMessage("system", system), ChatMessage("user", user, name or None)]
    chat_columns = st.columns(2 if hf_tokenizer is None else 3)
    for column, encoding in zip(chat_columns, ("o200k_base", "cl100k_base"), strict=False):
        if encoding not in counts:
            continue
        column.metric(
            f"Prompt tokens ({REGISTRY[encoding].label})",
            f"{chat_tokens(get_tokenizer(encoding), messages):,}",
        )
    if hf_tokenizer is not None:
        chat_overhead_metric(chat_columns[2], hf_tokenizer, system, user)
    st.caption(
        f"OpenAI's chat format adds {CHAT_TOKENS_PER_MESSAGE} tokens per message (plus the role), "
        f"{CHAT_TOKENS_PER_NAME} per name, and {CHAT_REPLY_PRIMER} to prime the reply "
        "(OpenAI Cookbook, “How to count tokens with tiktoken”)."
    )

# --- the tokens -------------------------------------------------------------------------------
st.subheader("The tokens")
viewable = chosen + ([] if hf is None else [hf.encoding])
if viewable:
    shown = st.selectbox(
        "Tokenizer", viewable, format_func=lambda n: REGISTRY[n].label if n in REGISTRY else n, key="view"
    )
    viewed = get_tokenizer(shown) if shown in REGISTRY else hf_tokenizer
    spans, truncated = token_spans(viewed, text, DISPLAY_TOKENS, count_special)
    if truncated:
        st.caption(
            f"Showing the first {DISPLAY_TOKENS:,} of {counts.get(shown, hf).tokens:,} tokens; "
            "the counts above cover the whole text."
        )
    st.html(spans_html(spans, show_whitespace, show_ids))
    st.caption(
        "Each colour is one token (hover for its id). A character that a tokenizer splits across "
        "several byte-level tokens, such as an emoji or a Devanagari syllable, is shown whole with all "
        "its ids."
    )

with st.expander("Tokenizers and sources"):
    st.dataframe(
        pd.DataFrame(
            [{"tokenizer": i.label, "name": i.name, "used by": i.models, "file": i.source} for i in REGISTRY.values()]
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "Files are read from disk and checked against their SHA-256 before use; nothing is downloaded. "
        f"The {RULE_TOKENS_PER_WORD} tokens-per-word rule is OpenAI's guidance for English "
        "(about ¾ of a word per token)."
    )
