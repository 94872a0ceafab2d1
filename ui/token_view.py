"""The token estimator's blocks, so that its page reads like the screen it draws: the sidebar's
tokenizer settings, where the text comes from, the counts and their comparison, the context-window
table, the chat request, the tokens as coloured spans and the tokenizers' sources. Each function
draws into the current container."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from llm_calc.hf_tokenizer import HfTokenizer
from llm_calc.tokenizers import REGISTRY, TokenizerError, count_many, get_tokenizer
from llm_calc.tokens import (
    CHAT_REPLY_PRIMER,
    CHAT_TOKENS_PER_MESSAGE,
    CHAT_TOKENS_PER_NAME,
    RULE_TOKENS_PER_WORD,
    SAMPLES,
    ChatMessage,
    ContextFill,
    TokenCount,
    chat_tokens,
    decode_upload,
    sample_text,
    special_markers,
    token_spans,
    word_count,
)
from ui.charts import context_fill_figure, context_label, token_count_figure
from ui.hf_tokens import chat_overhead_metric, count_row, hf_id_input
from ui.live_counter import live_counter
from ui.text import escape_markdown
from ui.token_html import spans_html

MAX_TEXT_IN_URL = 2000
"""Texts up to this many characters travel in the link; longer ones and uploads do not. [characters]"""
DISPLAY_TOKENS = 2000
"""Tokens drawn as coloured spans; the counts always cover the whole text."""
PROGRESS_FROM_CHARS = 200_000
"""Texts longer than this are counted under a spinner. [characters]"""
DEFAULT_TOKENIZERS = ["o200k_base", "cl100k_base", "llama3", "mistral_tekken"]
"""The tokenizers compared when the link names none: OpenAI's two newest, Llama 3 and Mistral's Tekken."""
COMPLETION_STEPS = (0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 100000, 128000)
"""Completion lengths the slider offers. [tokens]"""
DEFAULT_SAMPLE = "English prose"
"""The sample the page opens on (its text is not put in the link)."""
UPLOAD_TYPES = ["txt", "md", "csv", "tsv", "json", "jsonl", "py", "js", "ts", "html", "xml", "yaml", "yml", "log",
                "rst", "tex", "sql", "c", "cpp", "java", "go", "rs"]  # fmt: skip
"""File extensions the upload accepts: text formats."""


# --- counting -------------------------------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def cached_counts(text: str, encodings: tuple[str, ...], special: bool) -> dict[str, int]:
    """``llm_calc.tokenizers.count_many``, kept for the last texts counted (a rerun does not count again)."""
    return count_many(text, encodings, special)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_words(text: str) -> int:
    """``llm_calc.tokens.word_count``, kept like :func:`cached_counts`."""
    return word_count(text)


def count_everything(text: str, special: bool) -> dict[str, TokenCount]:
    """Counts for every shipped tokenizer (the context table needs them all), all at once on the
    counting threads, with a spinner for long texts; a tokenizer whose file is missing or altered is
    reported as an error, not fatal, and left out."""
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
    for name, problem in broken.items():
        st.error(f"{REGISTRY[name].label} is unavailable: {escape_markdown(problem)}")
    return {name: TokenCount(name, tokens[name], characters, words) for name in working}


# --- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerSettings:
    """The sidebar's choices (all in the URL)."""

    tokenizers: list[str]
    count_special: bool
    show_whitespace: bool
    show_ids: bool
    hf_id: str
    """A Hugging Face model id whose own tokenizer is counted too; "" for none."""


def tokenizer_settings() -> TokenizerSettings:
    """The sidebar's "Tokenizers" block: which to compare, special tokens, how tokens are shown, a Hub id."""
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
    return TokenizerSettings(chosen, count_special, show_whitespace, show_ids, hf_id_input())


def _load_sample() -> None:
    """The sample box's callback: the text area takes the chosen sample's text."""
    if st.session_state["sample"] in SAMPLES:
        st.session_state["text"] = sample_text(st.session_state["sample"])


def text_to_count(settings: TokenizerSettings) -> tuple[str, Any]:
    """Where the text comes from: typed or pasted (a sample to start from, counted live in the browser,
    a short text kept in the link) or an uploaded file (decoded, its bad bytes counted). Returns the
    text and the container, under the source's radio, for the link's ignored values. Stops the page
    while the upload is empty."""
    if "text" not in st.session_state:
        st.session_state["text"] = st.query_params.get("text") or sample_text(DEFAULT_SAMPLE)
    source_col, sample_col = st.columns(2, vertical_alignment="bottom")
    source = source_col.radio(
        "Text from", ["Type or paste", "Upload a file"], horizontal=True, key="input", bind="query-params"
    )
    link_notice = st.container()  # filled once the last bound widget (the completion slider) has run
    if source == "Type or paste":
        sample_col.selectbox("Start from a sample", ["—", *SAMPLES], key="sample", on_change=_load_sample)
        text = st.text_area("Text", key="text", height=150, placeholder="Paste any text here")
        live_counter(settings.tokenizers, settings.count_special, text_key="text")  # in the browser, no rerun
        if len(text) <= MAX_TEXT_IN_URL and text != sample_text(DEFAULT_SAMPLE):
            st.query_params["text"] = text
        else:
            st.query_params.pop("text", None)
        return text, link_notice
    st.query_params.pop("text", None)
    upload = st.file_uploader("A text file (up to 50 MB)", type=UPLOAD_TYPES, key="upload")
    if upload is None:
        st.info("Upload a file to count its tokens; its text is not put in the link.")
        st.stop()
    decoded = decode_upload(upload.getvalue())
    if decoded.looks_binary:
        st.warning("This file looks binary; its bytes were read as UTF-8 text anyway.")
    if decoded.replaced_bytes:
        st.warning(
            f"{decoded.replaced_bytes:,} byte sequences were not valid UTF-8 and are counted as "
            "the replacement character �."
        )
    st.caption(f"{upload.size:,} bytes read.")
    return decoded.text, link_notice


# --- counts ---------------------------------------------------------------------------------------


def control_token_warning(text: str, count_special: bool) -> None:
    """Say when the text holds control-token text (``<|endoftext|>``) and how it is counted."""
    markers = special_markers(text)
    if markers:
        listed = ", ".join(f"`{marker}` × {n}" for marker, n in markers.items())
        st.warning(
            f"The text contains control-token text: {listed}. It is counted "
            f"{'as special tokens where a tokenizer defines them' if count_special else 'as ordinary text'}; "
            "switch *Count special tokens as special* (sidebar) to compare. Mistral tokenizers never parse them."
        )


def count_metrics(counts: dict[str, TokenCount], chosen: list[str]) -> None:
    """The first chosen tokenizer's count, words, characters and the rule of thumb, as metrics."""
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


def comparison(
    counts: dict[str, TokenCount], chosen: list[str], hf: TokenCount | None, hf_tokenizer: HfTokenizer | None
) -> None:
    """The chosen tokenizers (and the Hub model's) side by side: table, chart, and a link to fine-tune
    on this many tokens."""
    compared = [(REGISTRY[name].label, counts[name], REGISTRY[name].models) for name in chosen]
    if hf is not None and hf_tokenizer is not None:
        compared.append(
            (f"{hf.encoding} (Hugging Face)", hf, f"its tokenizer.json at commit {hf_tokenizer.commit[:12]}")
        )
    if not compared:
        st.info("Choose at least one tokenizer to compare (sidebar).")
        return
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
    any_count = next(iter(counts.values()))
    st.plotly_chart(
        token_count_figure([c[0] for c in compared], [c[1].tokens for c in compared], any_count.rule_estimate),
        width="stretch",
    )
    st.caption(
        "The rule error is (rule − exact) / exact: positive when the rule over-counts. The rule fits "
        "English prose; code, other scripts and emoji take more tokens per word."
    )
    reference = counts.get("llama3") or any_count
    if reference.tokens:  # an empty text is no dataset: the training page takes at least one token
        st.page_link(
            "app_pages/training.py",
            label=f"Fine-tune on these {reference.tokens:,} tokens →",
            query_params={"tokens": str(reference.tokens)},
            icon=":material/model_training:",
        )


# --- context window and cost ----------------------------------------------------------------------


def completion_slider() -> int:
    """The completion the window must also hold (URL-bound, key ``completion``). [tokens]"""
    return st.select_slider(
        "Max completion tokens (the window holds prompt and completion)",
        COMPLETION_STEPS,
        value=1024,
        key="completion",
        bind="query-params",
        format_func=context_label,
    )


def context_fill_table(fills: list[ContextFill]) -> pd.DataFrame:
    """One row per API model: its window, how much of it the text and completion fill, and the cost."""
    return pd.DataFrame(
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
    )


def context_and_cost(fills: list[ContextFill]) -> None:
    """How much of each model's context window the text fills, as a chart and a table with prices."""
    st.plotly_chart(
        context_fill_figure([f.model.model for f in fills], [100 * f.fraction for f in fills]), width="stretch"
    )
    st.dataframe(
        context_fill_table(fills),
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


# --- chat and the tokens --------------------------------------------------------------------------


def chat_request(text: str, counts: dict[str, TokenCount], hf_tokenizer: HfTokenizer | None) -> None:
    """The "Count a chat request" expander: a system and a user message as OpenAI's chat format (and
    the Hub model's own template) count them."""
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


def the_tokens(
    text: str,
    counts: dict[str, TokenCount],
    chosen: list[str],
    hf: TokenCount | None,
    hf_tokenizer: HfTokenizer | None,
    settings: TokenizerSettings,
) -> None:
    """The text as coloured, escaped token spans, for one of the chosen tokenizers (or the Hub model's)."""
    viewable = chosen + ([] if hf is None else [hf.encoding])
    if not viewable:
        return
    shown = st.selectbox(
        "Tokenizer", viewable, format_func=lambda n: REGISTRY[n].label if n in REGISTRY else n, key="view"
    )
    viewed = get_tokenizer(shown) if shown in REGISTRY else hf_tokenizer
    spans, truncated = token_spans(viewed, text, DISPLAY_TOKENS, settings.count_special)
    if truncated:
        st.caption(
            f"Showing the first {DISPLAY_TOKENS:,} of {counts.get(shown, hf).tokens:,} tokens; "
            "the counts above cover the whole text."
        )
    st.html(spans_html(spans, settings.show_whitespace, settings.show_ids))
    st.caption(
        "Each colour is one token (hover for its id). A character that a tokenizer splits across "
        "several byte-level tokens, such as an emoji or a Devanagari syllable, is shown whole with all "
        "its ids."
    )


def tokenizer_sources() -> None:
    """The "Tokenizers and sources" expander: every shipped tokenizer, who uses it and its file."""
    with st.expander("Tokenizers and sources"):
        st.dataframe(
            pd.DataFrame(
                [
                    {"tokenizer": i.label, "name": i.name, "used by": i.models, "file": i.source}
                    for i in REGISTRY.values()
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Files are read from disk and checked against their SHA-256 before use; nothing is downloaded. "
            f"The {RULE_TOKENS_PER_WORD} tokens-per-word rule is OpenAI's guidance for English "
            "(about ¾ of a word per token)."
        )
