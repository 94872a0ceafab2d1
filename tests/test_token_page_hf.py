"""AppTest for the token estimator's "Hugging Face model id" (sidebar, URL key ``hf``), against the local
stand-in for the Hub (tests/hub_server.py). Counts are derived by hand in tests/test_hf_tokenizer.py's
tokenizer: WordLevel behind Whitespace, so "hello world" is 2 tokens and the ChatML template adds 9."""

from __future__ import annotations

import pytest
from apptest_pages import open_app_link, open_app_page
from hub_server import serve
from test_hf_tokenizer import CHAT_OVERHEAD_TOKENS, REPO, chat_repo

PAGE = "app_pages/token_estimator.py"


@pytest.fixture()
def hub(monkeypatch, tmp_path):
    with serve({REPO: chat_repo()}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path))
        yield hub


def tokens_by_tokenizer(at) -> dict[str, int]:
    table = at.dataframe[0].value
    return dict(zip(table["tokenizer"], table["tokens"], strict=True))


def test_a_hugging_face_tokenizer_is_counted_beside_the_shipped_ones(hub):
    """A user who types a model id sees its count in the table, under its id, next to OpenAI's; the
    chat panel shows the model's own chat template overhead; the tokens view offers it."""
    page = open_app_page(PAGE)
    page.text_area(key="text").set_value("hello world").run()
    page.text_input(key="hf").set_value(REPO).run()
    assert not page.exception
    counts = tokens_by_tokenizer(page)
    assert counts[f"{REPO} (Hugging Face)"] == 2 and counts["OpenAI o200k_base"] == 2
    chat = next(m for m in page.metric if m.label == f"Prompt tokens ({REPO})")
    assert chat.delta == f"+{CHAT_OVERHEAD_TOKENS} for the chat template"
    assert REPO in page.selectbox(key="view").options
    page.selectbox(key="view").set_value(REPO).run()
    assert not page.exception


@pytest.mark.parametrize(
    ("repo_id", "message"),
    [("t/missing", "no model t/missing"), ("not a model", "ORG/NAME")],
)
def test_an_unreadable_id_is_one_warning_and_the_shipped_tokenizers_keep_working(hub, repo_id, message):
    page = open_app_page(PAGE)
    page.text_area(key="text").set_value("hello world").run()
    page.text_input(key="hf").set_value(repo_id).run()
    assert not page.exception
    assert any(message in w.value.replace("\\", "") for w in page.warning)
    counts = tokens_by_tokenizer(page)
    assert counts["OpenAI o200k_base"] == 2 and not any("Hugging Face" in k for k in counts)


def test_a_shared_link_carries_the_model_id(hub):
    """Someone opening a link with ?hf=ORG/NAME sees that model's tokenizer counted, as its sender did."""
    page = open_app_link(PAGE, {"hf": REPO, "text": "hello world, hello!"})
    assert page.text_input(key="hf").value == REPO
    assert tokens_by_tokenizer(page)[f"{REPO} (Hugging Face)"] == 5
