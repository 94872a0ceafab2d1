"""Counting tokens: exact counts per tokenizer, the 1.3-tokens-per-word rule, token spans for
display, special-token markers, chat-format overhead, context-window fill and API cost.

Counts always cover the whole text; only the display of tokens is bounded.

References
----------
.. [1] OpenAI Cookbook, "How to count tokens with tiktoken": 3 tokens per chat message, 1 more
       per ``name``, 3 to prime the assistant's reply.
.. [2] OpenAI Help Center, "What are tokens and how to count them?": about 3/4 of a word per
       token in English, i.e. about 1.3 tokens per word.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from llm_calc.catalog import DATA_DIR, ApiModel, load_api_models
from llm_calc.tokenizers import REGISTRY, Tokenizer, get_tokenizer, tokenizer_info

RULE_TOKENS_PER_WORD = 1.3
"""The primer's rule of thumb for English text [2]."""

CHAT_TOKENS_PER_MESSAGE = 3
"""``<|start|>{role}\\n{content}<|end|>\\n`` framing per message [1]."""
CHAT_TOKENS_PER_NAME = 1
"""Extra token when a message carries a ``name`` [1]."""
CHAT_REPLY_PRIMER = 3
"""Every reply is primed with ``<|start|>assistant<|message|>`` [1]."""

WORDS_PER_PAGE = 500
"""Words on a single-spaced page of 12-point text (a common publishing rule of thumb)."""

SPECIAL_MARKER = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>")
"""Text shaped like a control token (``<|endoftext|>``, ``<|im_start|>``)."""


SAMPLES = {
    "English prose": "english.txt",
    "Python code": "python.txt",
    "Chinese": "chinese.txt",
    "Hindi": "hindi.txt",
    "Emoji": "emoji.txt",
    "Special tokens": "special_tokens.txt",
}
"""Sample texts shipped in ``data/samples`` (our own words), by label."""


@cache
def sample_text(label: str) -> str:
    """A shipped sample text by its label."""
    try:
        name = SAMPLES[label]
    except KeyError:
        raise ValueError(f"unknown sample {label!r}; choose one of {', '.join(SAMPLES)}") from None
    return (DATA_DIR / "samples" / name).read_text(encoding="utf-8")


@cache
def api_models() -> tuple[ApiModel, ...]:
    """The shipped context-window and price table, validated against the tokenizer registry."""
    return load_api_models(tokenizers=frozenset(REGISTRY))


def word_count(text: str) -> int:
    """Whitespace-separated words (the unit of the 1.3 rule; meaningless for CJK text)."""
    return len(text.split())


def pages_for_tokens(tokens: int, words_per_page: int = WORDS_PER_PAGE) -> float:
    """Printed pages of English text that ``tokens`` tokens hold: tokens ÷ 1.3 words per page."""
    if tokens < 0 or words_per_page <= 0:
        raise ValueError("tokens must be >= 0 and words per page > 0")
    return tokens / RULE_TOKENS_PER_WORD / words_per_page


def rule_of_thumb_tokens(words: int) -> int:
    """Tokens the 1.3-per-word rule predicts."""
    return round(words * RULE_TOKENS_PER_WORD)


@dataclass(frozen=True)
class TokenCount:
    """One tokenizer's count of one text."""

    encoding: str
    tokens: int
    characters: int
    words: int

    @property
    def tokens_per_word(self) -> float | None:
        return self.tokens / self.words if self.words else None

    @property
    def characters_per_token(self) -> float | None:
        return self.characters / self.tokens if self.tokens else None

    @property
    def rule_estimate(self) -> int:
        return rule_of_thumb_tokens(self.words)

    @property
    def rule_error(self) -> float | None:
        """(rule - exact) / exact: positive when the rule over-estimates."""
        return (self.rule_estimate - self.tokens) / self.tokens if self.tokens else None


def count_tokens(
    text: str,
    encodings: Iterable[str],
    special: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> list[TokenCount]:
    """Exact token counts of ``text`` for each encoding.

    ``special=False`` counts special-token text (``<|endoftext|>``) as ordinary text, as an API
    does with user content; ``progress(fraction, encoding)`` is called before each encoding.
    """
    names = list(encodings)
    for name in names:
        tokenizer_info(name)  # ValueError for unknown names before any work
    characters, words = len(text), word_count(text)
    counts = []
    for index, name in enumerate(names):
        if progress:
            progress(index / len(names), name)
        counts.append(TokenCount(name, get_tokenizer(name).count(text, special), characters, words))
    if progress:
        progress(1.0, "")
    return counts


# --- display ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenSpan:
    """Text shown as one coloured span, and the token ids behind it (several when a character
    is split across tokens, e.g. emoji or CJK in byte-level BPE)."""

    text: str
    token_ids: tuple[int, ...]


MAX_BYTES_PER_SPAN = 16
"""A span that still is not valid UTF-8 after this many bytes is shown with replacement marks."""


def group_into_spans(tokenizer: Tokenizer, token_ids: list[int]) -> list[TokenSpan]:
    """Merge tokens until their bytes decode, so no span shows a broken character (�)."""
    spans: list[TokenSpan] = []
    pending: list[int] = []
    buffer = b""
    for token_id in token_ids:
        pending.append(token_id)
        buffer += tokenizer.token_bytes(token_id)
        try:
            text = buffer.decode("utf-8")
        except UnicodeDecodeError:
            if len(buffer) < MAX_BYTES_PER_SPAN:
                continue
            text = buffer.decode("utf-8", errors="replace")
        spans.append(TokenSpan(text, tuple(pending)))
        pending, buffer = [], b""
    if pending:
        spans.append(TokenSpan(buffer.decode("utf-8", errors="replace"), tuple(pending)))
    return spans


def token_spans(tokenizer: Tokenizer, text: str, limit: int, special: bool = False) -> tuple[list[TokenSpan], bool]:
    """Spans for the first ``limit`` tokens of ``text`` and whether the text has more.

    Only a prefix of the text is encoded (a token is rarely longer than 64 characters), so the
    work is bounded whatever the input size.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    prefix = text[: limit * 64]
    ids = tokenizer.encode(prefix, special)
    truncated = len(ids) > limit or len(prefix) < len(text)
    return group_into_spans(tokenizer, ids[:limit]), truncated


def special_markers(text: str) -> dict[str, int]:
    """Occurrences of control-token-shaped text, e.g. ``{"<|endoftext|>": 2}``."""
    found: dict[str, int] = {}
    for match in SPECIAL_MARKER.finditer(text):
        found[match.group()] = found.get(match.group(), 0) + 1
    return found


# --- chat, context and cost ---------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str
    name: str | None = None


def chat_tokens(tokenizer: Tokenizer, messages: Iterable[ChatMessage]) -> int:
    """Prompt tokens of a chat request in OpenAI's format [1]: content, role and name tokens,
    3 per message, 1 per name, 3 to prime the reply."""
    total = CHAT_REPLY_PRIMER
    for message in messages:
        total += CHAT_TOKENS_PER_MESSAGE + tokenizer.count(message.role) + tokenizer.count(message.content)
        if message.name:
            total += CHAT_TOKENS_PER_NAME + tokenizer.count(message.name)
    return total


@dataclass(frozen=True)
class ContextFill:
    """How much of a model's window a prompt plus a planned completion takes."""

    model: ApiModel
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def fraction(self) -> float:
        return self.total_tokens / self.model.context_tokens

    @property
    def fits(self) -> bool:
        return self.total_tokens <= self.model.context_tokens

    @property
    def completion_exceeds_output_limit(self) -> bool:
        limit = self.model.max_output_tokens
        return limit is not None and self.completion_tokens > limit

    @property
    def input_cost_usd(self) -> float | None:
        price = self.model.input_usd_per_mtok
        return None if price is None else self.prompt_tokens * price / 1e6

    @property
    def output_cost_usd(self) -> float | None:
        price = self.model.output_usd_per_mtok
        return None if price is None else self.completion_tokens * price / 1e6


def context_fills(
    counts: dict[str, int], completion_tokens: int, models: Iterable[ApiModel] | None = None
) -> list[ContextFill]:
    """Window fill for every catalog model whose tokenizer was counted (``counts`` by encoding)."""
    if completion_tokens < 0:
        raise ValueError("completion tokens must not be negative")
    chosen = api_models() if models is None else models
    return [ContextFill(m, counts[m.tokenizer], completion_tokens) for m in chosen if m.tokenizer in counts]


# --- uploads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedUpload:
    text: str
    replaced_bytes: int
    """Byte sequences that were not UTF-8 and now show as U+FFFD."""
    looks_binary: bool


def decode_upload(data: bytes) -> DecodedUpload:
    """Text from uploaded bytes: UTF-8 (a BOM is dropped), undecodable bytes counted, not fatal."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    text = data.decode("utf-8", errors="replace")
    already = data.count("\ufffd".encode())
    replaced = text.count("\ufffd") - already
    sample = data[:65536]
    looks_binary = bool(sample) and sample.count(0) > len(sample) // 100
    return DecodedUpload(text, replaced, looks_binary)
