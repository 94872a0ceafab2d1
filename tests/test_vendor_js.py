"""The vendored browser tokenizer and the rank data it is given (ui/live_counter.py).

The live counter's exactness in a real browser is checked by tests/browser/test_live_counter.py;
these tests check, without a browser, what it is built from: the vendored file is the one
scripts/vendor_js_tokenizer.py recorded, the rank files the browser is sent are the published
ones, and each browser pattern splits text exactly as the server's pattern does.
"""

import base64
import hashlib
import json
import random
from functools import cache
from pathlib import Path

import pytest
import regex
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_calc.tokenizers import get_tokenizer, parse_tiktoken_ranks
from llm_calc.tokens import SAMPLES, sample_text
from ui.live_counter import (
    BROWSER_PATTERNS,
    VENDOR_DIR,
    live_counter_data,
    module_js,
    rank_file,
    served_folder,
    worker_js,
)

ROOT = Path(__file__).resolve().parents[1]
# tiktoken 0.14.0, tiktoken_ext/openai_public.py, ``expected_hash`` of each encoding's file
# (https://github.com/openai/tiktoken/blob/main/tiktoken_ext/openai_public.py)
PUBLISHED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
}
# Characters where the pre-tokenizers differ most: apostrophes and contractions in both cases,
# CR/LF and other whitespace runs, digits, letters with combining marks, CJK, emoji with ZWJ.
TRICKY = [
    *"aZ sStT'’\r\n\t\u00a0\u3000.,!?/_-0123456789éß中文ǅ\u0301\u200d👩🏽🚀",
    "'ll",
    "'RE",
    "'Ve",
    "<|endoftext|>",
]


def test_vendored_file_is_the_one_the_script_recorded():
    """A vendored file edited by hand (or a half-finished update) would count differently from
    the npm release the README names."""
    record = json.loads((VENDOR_DIR / "VENDORED.json").read_text())
    assert record["package"] == "js-tiktoken"
    assert record["integrity"].startswith("sha512-")
    assert record["fetched_by"] == "scripts/vendor_js_tokenizer.py"
    assert (ROOT / record["fetched_by"]).is_file()
    for name, digest in record["files"].items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (VENDOR_DIR / "LICENSE").read_text()


def test_script_pins_the_recorded_release():
    """The script that fetched the file pins the same version and npm integrity as the record."""
    record = json.loads((VENDOR_DIR / "VENDORED.json").read_text())
    script = (ROOT / "scripts" / "vendor_js_tokenizer.py").read_text()
    assert f'VERSION = "{record["version"]}"' in script
    assert f'INTEGRITY = "{record["integrity"]}"' in script


def test_module_and_worker_have_no_import_left_to_resolve():
    """The component's module and its worker are loaded from blob: URLs, where a bare import
    ('base64-js') fails and the live counter would never appear."""
    js, worker = module_js(), worker_js()
    for source in (js, worker):
        assert regex.search(r"^\s*import\s", source, flags=regex.MULTILINE) is None
    assert js.count("export default function") == 1
    assert json.dumps(worker) in js  # the page starts the worker from this string
    # ui/live_counter_worker.js counts with these names from the vendored chunk (same module)
    for name in ("var _Tiktoken = class", "function bytePairEncode(piece, ranks)", "specialTokenRegex", "rankMap"):
        assert name in worker, name
    assert "onmessage" in worker and "document" not in worker.split("export {")[-1]


@pytest.mark.parametrize("name", PUBLISHED_SHA256)
def test_browser_is_sent_the_published_rank_files(name):
    """The browser counts with the file tiktoken itself verifies: the one OpenAI publishes."""
    rank = rank_file(name)
    assert rank.sha256 == PUBLISHED_SHA256[name]
    assert hashlib.sha256((rank.folder / rank.file).read_bytes()).hexdigest() == PUBLISHED_SHA256[name]


def test_llama3_is_counted_on_apply_only():
    """Meta's tokenizer.model stays on the server (its licence travels with any copy we send)."""
    with pytest.raises(ValueError, match="'llama3' is not counted in the browser"):
        rank_file("llama3")


def test_tekken_rank_file_and_pattern_are_mistrals():
    """Mistral Tekken is counted live from mistral-common's tekken_240718.json, split by the pattern
    that file itself names."""
    rank = rank_file("mistral_tekken")
    assert (rank.file, rank.format) == ("tekken_240718.json", "tekken")
    data = (rank.folder / rank.file).read_bytes()
    # mistral-common 1.13.1; the same file as mistralai/Mistral-Nemo-Instruct-2407 tekken.json
    assert hashlib.sha256(data).hexdigest() == rank.sha256
    assert rank.sha256 == "eccd1665d2e477697c33cb7f0daa6f6dfefc57a0a6bceb66d4be52952f827516"
    assert json.loads(data)["config"]["pattern"] == BROWSER_PATTERNS["mistral_tekken"]


@pytest.mark.parametrize("name", ["mistral_tekken"])
def test_a_package_rank_file_is_served_from_a_folder_of_its_own(name):
    """Serving a package's folder would publish its other files (mistral_common's Python sources) too."""
    rank = rank_file(name)
    folder = served_folder(rank)
    assert [path.name for path in folder.iterdir() if not path.name.startswith(".")] == [rank.file]
    assert hashlib.sha256((folder / rank.file).read_bytes()).hexdigest() == rank.sha256


def test_sentencepiece_is_not_counted_live():
    with pytest.raises(ValueError, match="mistral_v1"):
        rank_file("mistral_v1")


@cache
def browser_twin(name: str) -> tiktoken.Encoding:
    """js-tiktoken's algorithm in Python: the same rank file and byte-pair merge as the server's
    encoding, with the browser's pattern cutting the text (fancy-regex, as tiktoken uses, accepts
    it). Pieces may be cut differently at a whitespace run that ends the text (``\\s++$`` in the
    server's cl100k pattern); what must agree is the number of tokens."""
    rank = rank_file(name)
    data = (rank.folder / rank.file).read_bytes()
    if rank.format == "tekken":  # as ui/live_counter.js reads it
        model = json.loads(data)
        inner = model["config"]["default_vocab_size"] - model["config"]["default_num_special_tokens"]
        ranks = {base64.b64decode(entry["token_bytes"]): entry["rank"] for entry in model["vocab"][:inner]}
    else:
        ranks = parse_tiktoken_ranks(data, rank.file)
    pattern = BROWSER_PATTERNS[name]
    return tiktoken.Encoding(f"{name}_browser", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})


def assert_same_count(name: str, text: str) -> None:
    assert len(browser_twin(name).encode_ordinary(text)) == get_tokenizer(name).count(text), (name, text)


@pytest.mark.parametrize("name", BROWSER_PATTERNS)
def test_browser_pattern_counts_the_samples_as_the_server_does(name):
    """The live figure would differ from the server's if the browser cut a text into other pieces."""
    for label in SAMPLES:
        assert_same_count(name, sample_text(label))


@pytest.mark.parametrize("name", BROWSER_PATTERNS)
def test_browser_pattern_counts_random_tricky_text_as_the_server_does(name):
    generator = random.Random(14)
    for _ in range(3000):
        assert_same_count(name, "".join(generator.choice(TRICKY) for _ in range(generator.randint(1, 40))))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_browser_patterns_count_any_text_as_the_server_does(text):
    for name in BROWSER_PATTERNS:
        assert_same_count(name, text)


def test_counter_data_lists_what_is_counted_live_and_what_waits():
    """Mistral's SentencePiece tokenizer is not counted in the browser: the user is told it follows on apply."""
    data = live_counter_data(["o200k_base", "mistral_v1", "mistral_tekken"], True, "text")
    assert [entry["name"] for entry in data["live"]] == ["o200k_base", "mistral_tekken"]
    assert data["later"] == ["Mistral v1 (SentencePiece)"]
    assert data["live"][1]["special_tokens"] == []  # Mistral never parses control tokens from text
    entry = data["live"][0]
    # named by its content, so the browser may keep it across visits (Streamlit sends no freshness)
    assert entry["url"].startswith("component/")
    assert entry["url"].endswith(f"/o200k_base.tiktoken?sha256={entry['sha256']}")
    assert len(entry["sha256"]) == 64
    # tiktoken_ext/openai_public.py: o200k_base's special tokens
    assert entry["special_tokens"] == ["<|endofprompt|>", "<|endoftext|>"]
    assert data["special"] is True and data["text_key"] == "text"
    assert data["debounce_ms"] < 100
