"""AppTest for the token estimator: counts follow the text, specials are flagged, spans escaped."""

import html
import re

import pytest
from apptest_pages import open_app_link, open_app_page, unseparated_numbers
from streamlit.testing.v1 import AppTest

from ui.token_html import spans_html

PAGE = "app_pages/token_estimator.py"


@pytest.fixture()
def page():
    return open_app_page(PAGE)


def tokens_by_tokenizer(at: AppTest) -> dict[str, int]:
    table = at.dataframe[0].value
    return dict(zip(table["tokenizer"], table["tokens"], strict=True))


def test_opens_with_the_english_sample_counted(page):
    counts = tokens_by_tokenizer(page)
    assert counts["OpenAI o200k_base"] > 50
    assert {m.label for m in page.metric} >= {"Characters", "Words"}


def test_pasting_text_changes_the_counts(page):
    page.text_area(key="text").set_value("hello world").run()
    assert not page.exception
    counts = tokens_by_tokenizer(page)
    assert counts["OpenAI o200k_base"] == 2 and counts["OpenAI cl100k_base"] == 2
    assert next(m.value for m in page.metric if m.label == "Words") == "2"


def test_choosing_a_sample_fills_the_text(page):
    page.selectbox(key="sample").set_value("Chinese").run()
    assert page.text_area(key="text").value.startswith("大型语言模型")
    assert not page.exception


def test_special_token_text_is_flagged_and_counted_either_way(page):
    page.text_area(key="text").set_value("<|endoftext|>").run()
    assert any("<|endoftext|>" in w.value for w in page.warning)
    assert tokens_by_tokenizer(page)["OpenAI cl100k_base"] == 7
    page.toggle(key="special").set_value(True).run()
    assert tokens_by_tokenizer(page)["OpenAI cl100k_base"] == 1
    assert not page.exception


def test_every_tokenizer_can_be_compared(page):
    page.multiselect(key="tokenizers").set_value(
        ["o200k_base", "cl100k_base", "p50k_base", "r50k_base", "llama3", "mistral_v1", "mistral_tekken"]
    ).run()
    assert len(page.dataframe[0].value) == 7 and not page.exception


def test_no_tokenizer_chosen_is_explained(page):
    page.multiselect(key="tokenizers").set_value([]).run()
    assert not page.exception
    assert any("at least one tokenizer" in i.value for i in page.info)


def test_context_table_uses_the_completion_slider(page):
    page.text_area(key="text").set_value("hello world").run()
    page.select_slider(key="completion").set_value(4096).run()
    table = page.dataframe[1].value
    gpt4 = table[table["model"] == "GPT-4"].iloc[0]
    assert gpt4["prompt + completion (tokens)"] == 2 + 4096
    assert gpt4["of window (%)"] == pytest.approx(100 * 4098 / 8192)


def test_empty_text_is_fine(page):
    page.text_area(key="text").set_value("").run()
    assert not page.exception


def test_spans_html_escapes_markup():
    from llm_calc.tokenizers import get_tokenizer
    from llm_calc.tokens import token_spans

    payload = '<script>alert(1)</script><img src=x onerror=alert(1)> " onmouseover="x'
    spans, _ = token_spans(get_tokenizer("cl100k_base"), payload, 100)
    markup = spans_html(spans, show_whitespace=False, show_ids=True)
    assert "<script" not in markup and "<img" not in markup and 'onmouseover="x' not in markup
    # stripping our own tags and unescaping gives back exactly what was pasted (plus the ids)
    plain = spans_html(spans)
    assert html.unescape(re.sub(r"<[^>]+>", "", plain)) == payload


def test_a_broken_tokenizer_file_is_reported_and_the_rest_still_count(page, monkeypatch, tmp_path):
    import shutil

    from llm_calc import tokenizers

    shutil.copytree(tokenizers.TOKENIZER_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "r50k_base.tiktoken").write_bytes(b"tampered")
    monkeypatch.setattr(tokenizers, "TOKENIZER_DIR", tmp_path)
    tokenizers.get_tokenizer.cache_clear()
    try:
        page.multiselect(key="tokenizers").set_value(["r50k_base", "cl100k_base"])
        page.text_area(key="text").set_value("a fresh text to count").run()
        assert not page.exception
        assert any("r50k_base" in e.value and "altered or corrupt" in e.value for e in page.error)
        assert list(page.dataframe[0].value["tokenizer"]) == ["OpenAI cl100k_base"]
    finally:
        tokenizers.get_tokenizer.cache_clear()


def test_garbage_in_the_link_is_named_with_the_value_used():
    """On main ?completion=3k&tokenizers=zzz fell back to 1k and the default tokenizers without a word."""
    at = open_app_link(PAGE, {"completion": "3k", "tokenizers": ["llama3", "zzz"], "ids": "true"})
    (warning,) = [w.value for w in at.warning if "link" in w.value]
    assert "completion = “3k” (using 1k)" in warning
    assert "tokenizers = “llama3, zzz” (using llama3)" in warning
    assert "ids" not in warning


def test_big_numbers_in_the_tables_have_separators(page):
    """On main the context table showed windows as 128000 and 1048576."""
    page.text_area(key="text").set_value("word " * 3000).run()
    assert not page.exception
    assert max(tokens_by_tokenizer(page).values()) >= 1000
    assert unseparated_numbers(page) == {}


def test_the_token_count_comes_first(page):
    """On main the first screen at 1440 x 900 showed characters, words and the rule but no token count,
    and at 390 px the table showed only "tokenizer | used by": the answer comes first now."""
    first = page.metric[0]
    assert first.label == "Tokens (OpenAI o200k_base)"
    assert first.value == f"{tokens_by_tokenizer(page)['OpenAI o200k_base']:,}"
    assert list(page.dataframe[0].value.columns[:2]) == ["tokenizer", "tokens"]
