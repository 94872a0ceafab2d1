"""Shipped tokenizers: literal token ids, agreement with the reference implementations,
hash verification and offline loading."""

import hashlib
import shutil

import pytest

from llm_calc import tokenizers
from llm_calc.tokenizers import (
    REGISTRY,
    TokenizerError,
    get_tokenizer,
    read_verified,
    split_for_counting,
    tokenizer_info,
)

pytestmark = pytest.mark.usefixtures("no_network")

SAMPLES = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.\n\nIt's 3,141 km — isn't it?",
    "def f(x):\n    return x ** 2  # square\n",
    "你好，世界。我们今天学习大型语言模型。",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "emoji 😀👍🏽🇫🇷 and ZWJ 👨‍👩‍👧",
    "<|endoftext|> <|im_start|>user\nhi<|im_end|> <s>[INST] x [/INST]",
    "    indented\n\n\n\ttabs\r\nwindows\r\n" + "x" * 300,
]


@pytest.mark.parametrize(
    ("name", "text", "ids"),
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("o200k_base", "hello world", [24912, 2375]),
        ("r50k_base", "hello world", [31373, 995]),
        ("p50k_base", "hello world", [31373, 995]),
        ("llama3", "hello world", [15339, 1917]),  # Llama 3's first 100k ranks are cl100k's
        ("mistral_v1", "hello world", [6312, 28709, 1526]),
        ("mistral_tekken", "hello world", [29706, 4304]),
    ],
)
def test_literal_token_ids(name, text, ids):
    assert get_tokenizer(name).encode(text) == ids


def test_special_token_text_is_ordinary_unless_asked():
    cl100k = get_tokenizer("cl100k_base")
    assert cl100k.encode("<|endoftext|>") == [27, 91, 8862, 728, 428, 91, 29]
    assert cl100k.encode("<|endoftext|>", special=True) == [100257]
    assert get_tokenizer("o200k_base").encode("<|endoftext|>", special=True) == [199999]
    assert get_tokenizer("llama3").encode("<|begin_of_text|>hi", special=True) == [128000, 6151]
    # Mistral never turns prompt text into control tokens
    assert get_tokenizer("mistral_tekken").count("<s>", special=True) == 3


@pytest.fixture(scope="module")
def official_tiktoken(tmp_path_factory):
    """tiktoken's own registry reading our files through its offline cache (files named by
    the SHA-1 of their download URL), so its patterns and special tokens check ours."""
    import os

    import tiktoken

    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name in ("o200k_base", "cl100k_base", "p50k_base", "r50k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        shutil.copy(tokenizers.TOKENIZER_DIR / f"{name}.tiktoken", cache / hashlib.sha1(url.encode()).hexdigest())
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        yield {name: tiktoken.get_encoding(name) for name in ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")}
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "p50k_base", "r50k_base"])
@pytest.mark.parametrize("text", SAMPLES)
def test_openai_encodings_match_tiktokens_own_registry(official_tiktoken, name, text):
    reference = official_tiktoken[name]
    ours = get_tokenizer(name)
    assert ours.encode(text) == reference.encode_ordinary(text)
    assert ours.encode(text, special=True) == reference.encode(text, allowed_special="all")


@pytest.mark.parametrize("text", SAMPLES)
def test_llama3_matches_metas_reference_tokenizer(text):
    from llama_models.llama3.tokenizer import Tokenizer

    reference = Tokenizer.get_instance()
    assert get_tokenizer("llama3").encode(text) == reference.encode(text, bos=False, eos=False)


@pytest.mark.parametrize("text", SAMPLES)
def test_mistral_tokenizers_match_mistral_common(text):
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    tekken = MistralTokenizer.v3(is_tekken=True).instruct_tokenizer.tokenizer
    assert get_tokenizer("mistral_tekken").encode(text) == tekken.encode(text, bos=False, eos=False)
    v1 = MistralTokenizer.v1().instruct_tokenizer.tokenizer
    assert get_tokenizer("mistral_v1").encode(text) == v1.encode(text, bos=False, eos=False)


def test_an_altered_file_is_rejected_with_its_name(tmp_path):
    copy = tmp_path / "cl100k_base.tiktoken"
    data = bytearray((tokenizers.TOKENIZER_DIR / "cl100k_base.tiktoken").read_bytes())
    data[100] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(TokenizerError, match=r"cl100k_base\.tiktoken is altered or corrupt"):
        read_verified(copy, "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7")


def test_a_missing_shipped_file_fails_clearly(tmp_path, monkeypatch):
    shutil.copy(tokenizers.TOKENIZER_DIR / "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setattr(tokenizers, "TOKENIZER_DIR", tmp_path)
    with pytest.raises(TokenizerError, match="r50k_base.tiktoken cannot be read"):
        tokenizer_info("r50k_base").load()


def test_a_corrupted_shipped_file_fails_before_use(tmp_path, monkeypatch):
    shutil.copy(tokenizers.TOKENIZER_DIR / "SHA256SUMS", tmp_path / "SHA256SUMS")
    (tmp_path / "p50k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    monkeypatch.setattr(tokenizers, "TOKENIZER_DIR", tmp_path)
    with pytest.raises(TokenizerError, match="altered or corrupt"):
        tokenizer_info("p50k_base").load()


def test_unknown_encoding_names_the_choices():
    with pytest.raises(ValueError, match="unknown encoding 'gpt5'; choose one of o200k_base"):
        tokenizer_info("gpt5")


def test_every_registered_tokenizer_loads_offline():
    for name in REGISTRY:
        assert get_tokenizer(name).count("offline") >= 1


def test_chunked_counting_equals_whole_text_counting():
    text = "\n".join(SAMPLES * 400)  # ~120 k characters across every script and whitespace kind
    pieces = split_for_counting(text, size=1000)
    assert len(pieces) > 50 and "".join(pieces) == text
    for name in ("o200k_base", "cl100k_base", "r50k_base", "llama3", "mistral_tekken"):
        tokenizer = get_tokenizer(name)
        assert sum(tokenizer.count(p) for p in pieces) == len(tokenizer.encode(text)), name


def test_counting_in_parallel_equals_tiktokens_count_of_the_whole_text():
    """count_many runs every piece of every encoding on one shared thread pool; each total must still
    be tiktoken's own count of the whole text (one encode_ordinary call, no pieces, no threads)."""
    text = "\n".join(SAMPLES * 2000)  # ~600 k characters: several CHUNK_CHARS pieces per encoding
    assert len(split_for_counting(text)) >= 3
    names = ["o200k_base", "cl100k_base", "p50k_base", "r50k_base", "llama3", "mistral_v1"]
    counts = tokenizers.count_many(text, names)
    assert list(counts) == names
    for name in ("o200k_base", "cl100k_base", "p50k_base", "r50k_base", "llama3"):
        assert counts[name] == len(get_tokenizer(name)._encoding.encode_ordinary(text)), name
    assert counts["mistral_v1"] == get_tokenizer("mistral_v1").count(text)


def test_a_count_started_inside_the_pool_does_not_wait_on_the_pool():
    """A job that counts (from a pool thread) runs its pieces in its own thread: with every worker
    waiting on the pool the page would hang. More such jobs than workers must all finish."""
    text = "\n".join(SAMPLES * 2000)
    expected = len(get_tokenizer("r50k_base")._encoding.encode_ordinary(text))
    jobs = [lambda: get_tokenizer("r50k_base").count(text) for _ in range(tokenizers.COUNT_WORKERS + 2)]
    assert tokenizers.run_counts(jobs) == [expected] * len(jobs)
