"""llm_calc.hf_tokenizer against a local stand-in for the Hugging Face Hub (tests/hub_server.py): any
model's tokenizer.json counted with the tokenizers library, its chat template rendered in the sandbox.

Every expected count is derived by hand from the tiny tokenizers these tests build: a WordLevel model
behind the Whitespace pre-tokenizer (one token per run of word characters or of punctuation; a word
not in the vocabulary is the one unknown token), with added tokens that are split out first.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest
from hub_server import Repo, byte_level_tokenizer_json, closed_endpoint, hanging_endpoint, serve
from hub_server import word_level_tokenizer_json as word_level

from llm_calc.hf_tokenizer import (
    MAX_COUNT_CHARS,
    HfTokenizer,
    NoTokenizerJsonError,
    load_hf_tokenizer,
    render_chat_template,
)
from llm_calc.hub import (
    HubAccessError,
    HubIdError,
    HubNotFoundError,
    HubSettings,
    HubUnavailableError,
)
from llm_calc.tokens import token_spans

REPO = "test-org/tiny-chat"
DEADLINE_S = 5.0
"""The issue: offline or unknown id, one clear line within 5 seconds."""

VOCAB = ["[UNK]", "hello", "world", ",", "!", "you", "are", "a", "bot", "system", "user", "assistant"]
SPECIAL = ["<s>", "<|im_start|>", "<|im_end|>"]  # ids 12, 13, 14
ADDED = ["<think>"]  # id 15, an added token that is not special
TOKENIZER_JSON = word_level(VOCAB, SPECIAL, ADDED, truncation=2)  # saved truncated to 2: a count ignores it

CHATML = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }} {{ m.content }}<|im_end|>{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant{% endif %}"
)
CONFIG = {"bos_token": "<s>", "eos_token": {"content": "<|im_end|>", "special": True}, "chat_template": CHATML}
SYSTEM, USER = "you are a bot", "hello world!"
# Rendered: "<s><|im_start|>system you are a bot<|im_end|><|im_start|>user hello world!<|im_end|><|im_start|>assistant"
# Tokens, by hand: <s> 1, <|im_start|> 3, <|im_end|> 2, "system" "user" "assistant" 3   = 9 of framing
#                  "you" "are" "a" "bot" 4, "hello" "world" "!" 3                       = 7 of content
CHAT_PROMPT_TOKENS = 16
CHAT_CONTENT_TOKENS = 7
CHAT_OVERHEAD_TOKENS = 9


def repo(**files: bytes | dict | str) -> Repo:
    encoded = {}
    for name, value in files.items():
        if isinstance(value, dict):
            value = json.dumps(value)
        encoded[name.replace("__", ".")] = value.encode() if isinstance(value, str) else value
    return Repo(encoded)


def chat_repo() -> Repo:
    return repo(tokenizer__json=TOKENIZER_JSON, tokenizer_config__json=CONFIG)


def settings_for(endpoint: str, home: Path, **changes: object) -> HubSettings:
    return replace(HubSettings(endpoint, False, None, home / "hub", home / "assets"), **changes)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    return text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> HfTokenizer:
    with serve({REPO: chat_repo()}) as hub:
        return load_hf_tokenizer(REPO, settings_for(hub.endpoint, tmp_path_factory.mktemp("hf_home")))


# --- counting --------------------------------------------------------------------------------------


def test_a_fetched_tokenizer_counts_every_token_of_the_text(tiny):
    """Whitespace splits "hello world, hello!" into hello | world | , | hello | ! : 5 tokens, although
    the file saves a truncation to 2 (a count that stopped at 2 would show a BERT user 512 for any text)."""
    assert tiny.name == REPO
    assert tiny.count("hello world, hello!") == 5
    assert tiny.encode("hello world, hello!") == [1, 2, 3, 1, 4]
    assert tiny.count("") == 0


def test_special_token_text_is_ordinary_text_unless_asked(tiny):
    """As special tokens: "hello" + <|im_start|> = 2. As text, Whitespace splits "hello<|im_start|>" into
    hello | <| | im_start | |> (underscore is a word character): 4, three of them unknown. The added
    token <think> is not special: it is split out either way (hello + <think> = 2)."""
    assert tiny.count("hello<|im_start|>", special=True) == 2
    assert tiny.encode("hello<|im_start|>", special=True) == [1, 13]
    assert tiny.count("hello<|im_start|>") == 4
    assert tiny.encode("hello<|im_start|>") == [1, 0, 0, 0]
    assert tiny.count("hello<think>") == tiny.count("hello<think>", special=True) == 2
    assert tiny.special_tokens() == frozenset(SPECIAL)


def test_token_bytes_and_spans_show_the_words(tiny):
    assert tiny.token_bytes(2) == b"world" and tiny.token_bytes(13) == b"<|im_start|>"
    spans, truncated = token_spans(tiny, "hello world", 10)
    assert [s.text for s in spans] == ["hello", "world"] and not truncated
    with pytest.raises(ValueError, match="no token id 99"):
        tiny.token_bytes(99)


def test_byte_level_token_bytes_are_the_utf8_bytes_of_the_text():
    """GPT-2-style tokenizers store bytes as printable characters (a space is "Ġ"); the tokens' bytes
    joined must be the text's UTF-8 bytes, multi-byte characters included."""
    text = "héllo wörld 🙂 héllo"
    tokenizer = HfTokenizer("t/bpe", byte_level_tokenizer_json([text * 3], vocab_size=280).decode())
    ids = tokenizer.encode(text)
    assert b"".join(tokenizer.token_bytes(i) for i in ids) == text.encode("utf-8")
    assert "".join(s.text for s in token_spans(tokenizer, text, 100)[0]) == text


def test_a_text_longer_than_the_limit_is_refused_by_name(tiny):
    with pytest.raises(ValueError, match=f"at most {MAX_COUNT_CHARS:,} characters") as refused:
        tiny.count("a " * (MAX_COUNT_CHARS // 2 + 1))
    assert REPO in one_line(refused.value)


def test_a_file_that_is_not_a_tokenizer_is_refused():
    with pytest.raises(ValueError, match="not a tokenizer the tokenizers library reads"):
        HfTokenizer("t/broken", '{"version": "1.0"}')


# --- chat template -----------------------------------------------------------------------------------


def test_chat_overhead_of_a_chatml_template(tiny):
    chat = tiny.chat_overhead(SYSTEM, USER)
    assert chat.problem == ""
    assert chat.rendered == (
        "<s><|im_start|>system you are a bot<|im_end|><|im_start|>user hello world!<|im_end|><|im_start|>assistant"
    )
    assert (chat.prompt_tokens, chat.content_tokens, chat.overhead_tokens) == (
        CHAT_PROMPT_TOKENS,
        CHAT_CONTENT_TOKENS,
        CHAT_OVERHEAD_TOKENS,
    )


def test_chat_template_jinja_wins_over_the_config_and_named_templates_pick_default(tmp_path):
    """transformers 5 reads chat_template.jinja before tokenizer_config.json's; a list of named templates
    gives its "default". Template "[{{ m.role }}]" per message: "[" "system" "]" is 3 tokens, so two
    messages and no generation prompt add 6."""
    per_message = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
    named = {"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": per_message}]}
    repos = {
        "t/jinja": repo(
            tokenizer__json=TOKENIZER_JSON, tokenizer_config__json=CONFIG, chat_template__jinja=per_message
        ),
        "t/named": repo(tokenizer__json=TOKENIZER_JSON, tokenizer_config__json=named),
    }
    with serve(repos) as hub:
        settings = settings_for(hub.endpoint, tmp_path)
        for repo_id in repos:
            chat = load_hf_tokenizer(repo_id, settings).chat_overhead(SYSTEM, USER)
            assert chat.rendered == "[system]you are a bot[user]hello world!"
            assert chat.overhead_tokens == 6


def test_no_chat_template_is_said_not_guessed(tmp_path):
    with serve({"t/plain": repo(tokenizer__json=TOKENIZER_JSON)}) as hub:
        tokenizer = load_hf_tokenizer("t/plain", settings_for(hub.endpoint, tmp_path))
    chat = tokenizer.chat_overhead(SYSTEM, USER)
    assert chat.overhead_tokens is None and chat.prompt_tokens is None
    assert chat.content_tokens == CHAT_CONTENT_TOKENS
    assert "t/plain has no chat template" in one_line(ValueError(chat.problem))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}",
         "refused a system + user chat: System role not supported"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "refused by the sandbox"),
        ("{% set _ = messages.append({'role': 'x'}) %}ok", "refused by the sandbox"),
        ("{% for m in messages %}{{ m.role }", "does not parse"),
        ("{{ messages[0].content / 2 }}", "failed: TypeError"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
         "printed more than"),
    ],
)  # fmt: skip
def test_a_template_that_fails_is_reported_not_raised(tiny, template, reason):
    """A template is a program from the repository: it runs in the immutable sandbox, and whatever it
    does wrong (refuses the system role, reaches for Python internals, mutates the messages, loops
    without end) comes back as the reason, never as an exception or a hang."""
    chat = HfTokenizer(REPO, TOKENIZER_JSON.decode(), CONFIG, template).chat_overhead(SYSTEM, USER)
    assert chat.overhead_tokens is None and reason in one_line(ValueError(chat.problem))


def test_template_helpers_as_transformers_gives_them():
    """tojson does not escape HTML (transformers overrides Jinja's); {% generation %} prints its body;
    loop controls work; trim_blocks drops the newline after each block tag ({% endfor %} and {% if %}
    here, so neither newline is printed)."""
    template = (
        "{% for m in messages %}{% if m.role == 'skip' %}{% continue %}{% endif %}"
        "{% generation %}{{ m | tojson }}{% endgeneration %}{% endfor %}\n{% if true %}\nend{% endif %}"
    )
    messages = [{"role": "skip", "content": ""}, {"role": "user", "content": "<b>&</b>"}]
    assert render_chat_template(template, messages, limit_chars=1000) == ('{"role": "user", "content": "<b>&</b>"}end')


# --- the Hub's answers -------------------------------------------------------------------------------


def test_a_repository_without_tokenizer_json_is_refused_by_name(tmp_path):
    """Kimi-style: a tiktoken file and the repository's own Python code, no tokenizer.json."""
    only_tiktoken = repo(tiktoken__model=b"aGVsbG8= 0\n", tokenization_kimi__py="class T: ...")
    with serve({"t/kimi-like": only_tiktoken}) as hub, pytest.raises(NoTokenizerJsonError) as refused:
        load_hf_tokenizer("t/kimi-like", settings_for(hub.endpoint, tmp_path))
    assert "t/kimi-like has no tokenizer.json" in one_line(refused.value)


def test_unknown_and_garbage_ids_are_one_line(tmp_path):
    with serve({}) as hub:
        start = time.monotonic()
        with pytest.raises(HubNotFoundError) as unknown:
            load_hf_tokenizer("t/nothing-here", settings_for(hub.endpoint, tmp_path))
        assert time.monotonic() - start < DEADLINE_S
        with pytest.raises(HubIdError):
            load_hf_tokenizer("not a model", settings_for(hub.endpoint, tmp_path))
        assert all("not a model" not in r[1] for r in hub.requests)
    assert "no model t/nothing-here" in one_line(unknown.value)


def test_a_gated_repository_needs_a_token_and_reads_with_one(tmp_path):
    gated = replace(chat_repo(), token="secret")
    with serve({"t/gated": gated}) as hub:
        with pytest.raises(HubAccessError) as refused:
            load_hf_tokenizer("t/gated", settings_for(hub.endpoint, tmp_path))
        allowed = load_hf_tokenizer("t/gated", settings_for(hub.endpoint, tmp_path, token="secret"))
    assert "HF_TOKEN" in one_line(refused.value)
    assert allowed.count("hello world") == 2 and allowed.chat_overhead(SYSTEM, USER).overhead_tokens == 9


def test_offline_reads_the_cache_and_says_so_when_it_is_empty(tmp_path):
    """HF_HUB_OFFLINE: a tokenizer fetched once keeps working from the cache, chat template included;
    one never fetched is one line, at once."""
    with serve({REPO: chat_repo()}) as hub:
        online = settings_for(hub.endpoint, tmp_path)
        load_hf_tokenizer(REPO, online)
        seen = len(hub.requests)
        offline = replace(online, offline=True)
        cached = load_hf_tokenizer(REPO, offline)
        assert len(hub.requests) == seen  # nothing asked of the Hub
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as missing:
            load_hf_tokenizer("t/never-fetched", offline)
        assert time.monotonic() - start < DEADLINE_S
    assert cached.count("hello world, hello!") == 5
    assert cached.chat_overhead(SYSTEM, USER).overhead_tokens == CHAT_OVERHEAD_TOKENS
    assert "offline" in one_line(missing.value)


@pytest.mark.parametrize("kind", ["closed", "hanging"])
def test_an_unreachable_hub_is_one_line_within_5_s(tmp_path, kind):
    """A refused connection and a Hub that never answers: the three files are asked for at once, so
    the wait is one request's timeout, not three."""
    import huggingface_hub.file_download  # noqa: F401  the import is not what is timed

    endpoint_context = nullcontext(closed_endpoint()) if kind == "closed" else hanging_endpoint()
    with endpoint_context as endpoint:
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as unreachable:
            load_hf_tokenizer(REPO, settings_for(endpoint, tmp_path))
        elapsed = time.monotonic() - start
    assert elapsed < DEADLINE_S, elapsed
    assert endpoint in one_line(unreachable.value)


# --- the command line ----------------------------------------------------------------------------------


def test_cli_reports_each_fetched_tokenizer_under_its_repo_id(tmp_path, monkeypatch, capsys):
    """`tokens FILE --hf A --hf B`: one row per repository, beside the shipped encodings asked for.
    "hello world!" is hello | world | ! = 3 tokens; the default system message "You are a helpful
    assistant." is You | are | a | helpful | assistant | . = 6 tokens ("You", "helpful" and "." each the
    unknown token); the ChatML template adds the same 9 framing tokens as above: 18 in all."""
    from llm_calc.cli import main

    text = tmp_path / "prompt.txt"
    text.write_text("hello world!")
    other = "t/other"
    with serve({REPO: chat_repo(), other: repo(tokenizer__json=TOKENIZER_JSON)}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["tokens", str(text), "--encoding", "cl100k_base", "--hf", REPO, "--hf", other, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert main(["tokens", str(text), "--encoding", "cl100k_base", "--hf", REPO, "--hf", other]) == 0
        table = capsys.readouterr().out
    assert [(r["encoding"], r["tokens"]) for r in rows] == [("cl100k_base", 3), (REPO, 3), (other, 3)]
    assert rows[1]["chat_overhead_tokens"] == CHAT_OVERHEAD_TOKENS and rows[1]["chat_prompt_tokens"] == 3 + 6 + 9
    assert rows[1]["source"] == "huggingface" and rows[1]["commit"] == Repo({}).commit
    assert rows[2]["chat_overhead_tokens"] is None and "has no chat template" in rows[2]["chat_template_problem"]
    lines = table.splitlines()
    assert lines[1].startswith(REPO) and "(+9 for the template)" in lines[1]
    assert lines[2].startswith(other) and "chat template not rendered" in lines[2]


@pytest.mark.parametrize(
    ("repo_id", "message"),
    [("not a model", "ORG/NAME"), ("t/missing", "no model t/missing"), ("t/kimi-like", "has no tokenizer.json")],
)
def test_cli_refuses_in_one_line(tmp_path, monkeypatch, capsys, repo_id, message):
    from llm_calc.cli import main

    text = tmp_path / "prompt.txt"
    text.write_text("hello")
    with serve({"t/kimi-like": repo(tiktoken__model=b"aGVsbG8= 0\n")}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["tokens", str(text), "--hf", repo_id]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_cli_honours_hf_token_and_hf_hub_offline(tmp_path, monkeypatch, capsys):
    """The command line sends the user's own HF_TOKEN (a gated repository reads), and with
    HF_HUB_OFFLINE=1 answers from the cache with the Hub gone; an id never fetched is one line
    within 5 s."""
    from llm_calc.cli import main

    text = tmp_path / "prompt.txt"
    text.write_text("hello world, hello!")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    with serve({"t/gated": replace(chat_repo(), token="secret")}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["tokens", str(text), "--encoding", "r50k_base", "--hf", "t/gated"]) == 2
        assert "HF_TOKEN" in capsys.readouterr().err
        monkeypatch.setenv("HF_TOKEN", "secret")
        assert main(["tokens", str(text), "--encoding", "r50k_base", "--hf", "t/gated", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)[1]["tokens"] == 5
    monkeypatch.setenv("HF_ENDPOINT", closed_endpoint())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["tokens", str(text), "--encoding", "r50k_base", "--hf", "t/gated", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[1]
    assert (row["encoding"], row["tokens"], row["chat_overhead_tokens"]) == ("t/gated", 5, CHAT_OVERHEAD_TOKENS)
    start = time.monotonic()
    assert main(["tokens", str(text), "--hf", "t/never-fetched"]) == 2
    assert time.monotonic() - start < DEADLINE_S
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offline" in err
