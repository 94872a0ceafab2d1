"""Counting, the 1.3 rule, display spans, chat overhead, context fill, cost and uploads."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_calc.catalog import CatalogError, load_api_models
from llm_calc.tokenizers import REGISTRY, get_tokenizer, split_at_spaces, split_for_counting
from llm_calc.tokens import (
    ChatMessage,
    api_models,
    chat_tokens,
    context_fills,
    count_tokens,
    decode_upload,
    group_into_spans,
    rule_of_thumb_tokens,
    special_markers,
    token_spans,
)

pytestmark = pytest.mark.usefixtures("no_network")
CL100K = get_tokenizer("cl100k_base")


def test_counts_characters_words_and_the_rule():
    [count] = count_tokens("The quick brown fox jumps over the lazy dog.", ["cl100k_base"])
    assert (count.tokens, count.characters, count.words) == (10, 44, 9)
    assert count.rule_estimate == 12  # round(9 x 1.3)
    assert count.rule_error == pytest.approx(0.2)
    assert count.tokens_per_word == pytest.approx(10 / 9)
    assert count.characters_per_token == pytest.approx(4.4)


def test_empty_text_counts_zero_without_dividing_by_it():
    [count] = count_tokens("", ["o200k_base"])
    assert count.tokens == 0 and count.rule_error is None and count.tokens_per_word is None


def test_progress_is_reported_per_encoding():
    seen = []
    count_tokens("hi", ["o200k_base", "llama3"], progress=lambda f, name: seen.append((f, name)))
    assert seen == [(0.0, "o200k_base"), (0.5, "llama3"), (1.0, "")]


def test_unknown_encoding_is_refused_before_counting():
    with pytest.raises(ValueError, match="unknown encoding"):
        count_tokens("hi", ["o200k_base", "nope"])


def test_rule_of_thumb():
    assert rule_of_thumb_tokens(1000) == 1300


def test_spans_show_whole_characters_for_split_emoji_cjk_and_indic():
    text = "héllo 你好 😀👍🏽 नमस्ते"
    spans = group_into_spans(CL100K, CL100K.encode(text))
    assert "".join(s.text for s in spans) == text
    assert not any("\ufffd" in s.text for s in spans)
    assert any(len(s.token_ids) > 1 for s in spans)  # some characters span several tokens
    assert sum(len(s.token_ids) for s in spans) == len(CL100K.encode(text))


def test_spans_are_bounded_for_large_inputs():
    spans, truncated = token_spans(CL100K, "word " * 1_000_000, limit=2000)
    assert sum(len(s.token_ids) for s in spans) == 2000
    assert truncated


def test_short_text_is_not_marked_truncated():
    spans, truncated = token_spans(CL100K, "hello world", limit=2000)
    assert [s.text for s in spans] == ["hello", " world"] and not truncated


def test_special_markers_are_found():
    assert special_markers("a <|endoftext|> b <|im_start|> <|endoftext|>") == {
        "<|endoftext|>": 2,
        "<|im_start|>": 1,
    }


def test_chat_overhead_follows_the_openai_cookbook():
    # 2 messages x (3 framing + 1 role token + 2 content tokens) + 3 reply primer = 15
    messages = [ChatMessage("system", "hello world"), ChatMessage("user", "hello world")]
    assert chat_tokens(CL100K, messages) == 15
    # a name adds 1 + its own tokens ("bob" is one token)
    assert chat_tokens(CL100K, [*messages[:1], ChatMessage("user", "hello world", name="bob")]) == 17


def test_context_fill_and_cost():
    gpt4 = next(m for m in api_models() if m.model == "GPT-4")
    [fill] = context_fills({"cl100k_base": 6192}, 2000, [gpt4])
    assert fill.total_tokens == 8192 and fill.fraction == 1.0 and fill.fits
    assert fill.input_cost_usd == pytest.approx(6192 * 30 / 1e6)
    assert fill.output_cost_usd == pytest.approx(2000 * 60 / 1e6)
    gpt4o = next(m for m in api_models() if m.model == "GPT-4o")
    [fill] = context_fills({"o200k_base": 1_000_000}, 0, [gpt4o])
    assert fill.input_cost_usd == pytest.approx(2.50) and not fill.fits


def test_completion_over_the_output_limit_is_flagged():
    turbo = next(m for m in api_models() if m.model == "GPT-4 Turbo")
    [fill] = context_fills({"cl100k_base": 10}, 5000, [turbo])
    assert fill.completion_exceeds_output_limit


def test_context_catalog_names_the_windows_the_issue_lists():
    windows = {m.model: m.context_tokens for m in api_models()}
    assert windows["GPT-3 davinci"] == 2049
    assert windows["GPT-3.5 Turbo"] == 16385
    assert windows["GPT-4"] == 8192 and windows["GPT-4 32k"] == 32768
    assert windows["GPT-4 Turbo"] == windows["GPT-4o"] == 128000
    assert windows["Claude 2.1"] == 200000
    assert windows["Llama 2"] == 4096 and windows["Llama 3.1"] == 131072
    assert windows["Mistral 7B"] == 32768
    assert all(m.context_source for m in api_models())
    assert all(m.price_source and m.price_as_of for m in api_models() if m.input_usd_per_mtok is not None)
    assert {m.tokenizer for m in api_models()} <= set(REGISTRY)


def test_api_catalog_rejects_unknown_tokenizer(tmp_path):
    from llm_calc.catalog import DATA_DIR

    path = tmp_path / "api_models.csv"
    path.write_text((DATA_DIR / "api_models.csv").read_text().replace(",cl100k_base,", ",gpt9_base,", 1))
    with pytest.raises(CatalogError, match=r"api_models\.csv row \d+, column tokenizer: unknown tokenizer 'gpt9_base'"):
        load_api_models(path, tokenizers=frozenset(REGISTRY))


def test_uploads_with_bom_bad_bytes_and_binary():
    decoded = decode_upload(b"\xef\xbb\xbfok \xff\xfe end")
    assert decoded.text == "ok \ufffd\ufffd end" and decoded.replaced_bytes == 2 and not decoded.looks_binary
    assert decode_upload(b"\x00\x01\x02" * 1000).looks_binary
    assert decode_upload(b"").text == ""
    assert decode_upload("already \ufffd".encode()).replaced_bytes == 0


alphabet = st.sampled_from([*"ab Z9 \n\n\t.,'你😀नम", "\r\n", "  ", "don't", "<|endoftext|>"])


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=200).map("".join), st.integers(min_value=1, max_value=40))
def test_any_text_counts_the_same_in_pieces(text, size):
    pieces = split_for_counting(text, size=size)
    assert "".join(pieces) == text
    for name in ("cl100k_base", "o200k_base", "p50k_base", "r50k_base", "llama3", "mistral_tekken"):
        tokenizer = get_tokenizer(name)
        assert sum(len(tokenizer.encode(p)) for p in pieces) == len(tokenizer.encode(text)), name


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=200).map("".join), st.integers(min_value=1, max_value=40))
def test_sentencepiece_counts_the_same_in_pieces(text, size):
    pieces = split_at_spaces(text, size=size)
    assert " ".join(pieces) == text
    tokenizer = get_tokenizer("mistral_v1")
    assert sum(len(tokenizer.encode(p)) for p in pieces) == len(tokenizer.encode(text))
