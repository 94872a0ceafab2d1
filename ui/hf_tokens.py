"""The token estimator's "Hugging Face model id": a model's own tokenizer, fetched by
:mod:`llm_calc.hf_tokenizer`, counted beside the shipped ones, and its chat template's overhead.

A repository that cannot be read is one warning line; the page goes on with the shipped tokenizers.
"""

from __future__ import annotations

import streamlit as st

from llm_calc.hf_tokenizer import ChatOverhead, HfTokenizer, load_hf_tokenizer
from llm_calc.hub import MAX_REPO_PART_CHARS, HubSettings, token_from_env
from llm_calc.tokens import TokenCount
from ui.text import escape_markdown

HF_ID_MAX_CHARS = 2 * MAX_REPO_PART_CHARS + 1
"""ORG/NAME: each part at most ``llm_calc.hub.MAX_REPO_PART_CHARS`` characters."""


def hf_id_input() -> str:
    """The sidebar field (URL-bound, key ``hf``); ``""`` when empty."""
    return st.text_input(
        "Hugging Face model id",
        key="hf",
        bind="query-params",
        max_chars=HF_ID_MAX_CHARS,
        placeholder="ORG/NAME, e.g. Qwen/Qwen3-8B",
        help="Also count with this model's own tokenizer: its tokenizer.json (and chat template) is read "
        "from the Hugging Face Hub once and kept in the local cache.",
    ).strip()


@st.cache_resource(ttl="2m", max_entries=8, show_spinner=False)
def _load(repo_id: str, settings: HubSettings) -> HfTokenizer | str:
    """The tokenizer, or why not (kept too, for two minutes, so that a Hub that does not answer is not
    asked again at every keystroke)."""
    try:
        return load_hf_tokenizer(repo_id, settings)
    except ValueError as error:  # HubError, NoTokenizerJsonError, a tokenizer.json the library cannot read
        return str(error)


def fetched_tokenizer(repo_id: str) -> HfTokenizer | None:
    """The tokenizer of ``repo_id``, or None (with one warning line) when there is none to use."""
    if not repo_id:
        return None
    try:
        settings = HubSettings.from_env(token=token_from_env(shared_deployment=True))
    except ValueError as error:
        st.warning(escape_markdown(str(error)))
        return None
    with st.spinner(f"Reading the tokenizer of {repo_id} from the Hub…"):
        outcome = _load(repo_id, settings)
    if isinstance(outcome, str):
        st.warning(f"Hugging Face tokenizer not used: {escape_markdown(outcome)}")
        return None
    return outcome


@st.cache_data(max_entries=32, show_spinner=False)
def _count(repo_id: str, commit: str, text: str, special: bool, _tokenizer: HfTokenizer) -> int | str:
    try:
        return _tokenizer.count(text, special)
    except ValueError as error:  # a text longer than a fetched tokenizer counts
        return str(error)


def hf_count(tokenizer: HfTokenizer, text: str, special: bool, words: int) -> TokenCount | None:
    """``text`` counted with the fetched tokenizer, or None (with one warning line) when it is refused."""
    outcome = _count(tokenizer.name, tokenizer.commit, text, special, tokenizer)
    if isinstance(outcome, str):
        st.warning(escape_markdown(outcome))
        return None
    return TokenCount(tokenizer.name, outcome, len(text), words)


@st.cache_data(max_entries=32, show_spinner=False)
def _chat(repo_id: str, commit: str, system: str, user: str, _tokenizer: HfTokenizer) -> ChatOverhead | str:
    try:
        return _tokenizer.chat_overhead(system, user)
    except ValueError as error:
        return str(error)


def chat_overhead_metric(column, tokenizer: HfTokenizer, system: str, user: str) -> None:
    """The chat prompt's tokens with the model's own template, its overhead beside it; or why not."""
    chat = _chat(tokenizer.name, tokenizer.commit, system, user, tokenizer)
    if isinstance(chat, str) or chat.overhead_tokens is None:
        problem = chat if isinstance(chat, str) else chat.problem
        column.caption(f"Chat template of {escape_markdown(tokenizer.name)} not rendered: {escape_markdown(problem)}")
        return
    column.metric(
        f"Prompt tokens ({tokenizer.name})",
        f"{chat.prompt_tokens:,}",
        f"{chat.overhead_tokens:+,} for the chat template",
        delta_color="off",
        help=f"The model's chat template rendered for these two messages with the reply's header; "
        f"the messages alone are {chat.content_tokens:,} tokens.",
    )


def count_row(label: str, count: TokenCount, used_by: str) -> dict[str, object]:
    """One row of the page's comparison table."""
    return {
        "tokenizer": label,
        "tokens": count.tokens,
        "tokens per word": count.tokens_per_word,
        "characters per token": count.characters_per_token,
        "rule of thumb (tokens)": count.rule_estimate,
        "rule error (%)": None if count.rule_error is None else 100 * count.rule_error,
        "used by": used_by,
    }
