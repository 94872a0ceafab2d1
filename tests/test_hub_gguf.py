"""A GGUF file on the Hub by repository and file name: `llm_calc.hub.fetch_gguf_header` and
`memory --gguf hf://ORG/NAME/FILE.gguf`, against the local stand-in for the Hub (tests/hub_server.py),
which honours `Range` with 206 Partial Content. Never the internet.

The files are built here with llama.cpp's own `gguf` writer; the expected weight bytes are derived
by hand from the tensors written (block structs of ggml/src/ggml-common.h), not from our parser.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import gguf
import pytest
from gguf import GGMLQuantizationType as T
from hub_server import Repo, closed_endpoint, hanging_endpoint, serve
from test_gguf import TINY_LLAMA, add_tensor, write_gguf

import llm_calc.hub as hub_module
from llm_calc.cli import main
from llm_calc.hub import (
    ANSWER_DEADLINE_S,
    GGUF_FIRST_READ_BYTES,
    HubAccessError,
    HubError,
    HubFileNotFoundError,
    HubIdError,
    HubNotFoundError,
    HubSettings,
    HubUnavailableError,
    fetch_gguf_header,
    fetch_gguf_split,
    split_gguf_uri,
)

REPO = "test-org/tiny-GGUF"
FILE = "tiny-Q4_K_M.gguf"
DEADLINE_S = 5.0
"""The issue: offline, unknown id or no network answer in one line within 5 seconds."""

# Bytes per tensor, by hand from the block structs (ggml/src/ggml-common.h, QK_K = 256):
#   block_q4_K = 2 + 2 (d, dmin) + 12 scales + 128 nibbles = 144 bytes per 256 weights
#   block_q6_K = 128 + 64 + 16 + 2                           = 210 bytes per 256 weights
#   block_q8_0 = 2 (d) + 32                                  =  34 bytes per 32 weights
#   F16 = 2, F32 = 4 bytes per weight
HUB_TENSORS = (  # name, ggml shape (row length first), type
    ("token_embd.weight", (256, 1024), T.Q4_K),  # 1,024 rows x 1 block x 144      =   147,456
    ("blk.0.attn_q.weight", (256, 256), T.Q8_0),  #  256 rows x 8 blocks x 34      =    69,632
    ("blk.0.attn_k.weight", (256, 64), T.Q6_K),  #    64 rows x 1 block x 210      =    13,440
    ("blk.0.attn_v.weight", (256, 64), T.Q6_K),  #    64 rows x 1 block x 210      =    13,440
    ("blk.0.attn_output.weight", (256, 256), T.F16),  # 65,536 x 2                 =   131,072
    ("blk.0.attn_norm.weight", (256,), T.F32),  #          256 x 4                 =     1,024
    ("output.weight", (256, 4096), T.F16),  #        1,048,576 x 2                 = 2,097,152
)
HUB_WEIGHTS_BYTES = 147_456 + 69_632 + 13_440 + 13_440 + 131_072 + 1_024 + 2_097_152  # = 2,473,216
"""More than the first ranged read (2,000,000 bytes), so a read that fetched the weights would show."""
LONG_VOCAB = 150_000
"""Tokens named token000000 ...: 8-byte length + 11 bytes each = 2,850,000 bytes of vocabulary, so
the header is longer than the first ranged read and a second read must follow."""


@pytest.fixture(autouse=True, scope="module")
def library_imported():
    """Import huggingface_hub once up front, so the timings measure answers, not a first import."""
    import huggingface_hub.file_download
    import huggingface_hub.hf_api  # noqa: F401


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> bytes:
    return write_gguf(tmp_path_factory.mktemp("gguf") / FILE, "llama", HUB_TENSORS, TINY_LLAMA)


@pytest.fixture(scope="module")
def long_header_file(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("gguf") / FILE
    return write_gguf(path, "llama", HUB_TENSORS, TINY_LLAMA, vocab=LONG_VOCAB)


def settings_for(endpoint: str, home: Path, **changes: object) -> HubSettings:
    return replace(HubSettings(endpoint, False, None, home / "hub", home / "assets"), **changes)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    return text


def gets(hub) -> list[str | None]:
    """The Range header of every GET the server saw."""
    return [ranged for method, _, _, ranged in hub.requests if method == "GET"]


# --- reading the header ---------------------------------------------------------------------------


def test_a_gguf_on_the_hub_gives_the_exact_weights_from_one_ranged_read(small_file, tmp_path):
    """The header is read from the first 2,000,000 bytes; the weights after it are never fetched."""
    assert len(small_file) > GGUF_FIRST_READ_BYTES
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        result = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        assert gets(hub) == ["bytes=0-1999999"]
    assert result.header.weights_bytes == HUB_WEIGHTS_BYTES
    assert result.header.architecture == "llama" and len(result.header.tensors) == 7
    assert result.prefix_bytes == 2_000_000 and not result.cached
    assert result.commit == Repo({}).commit
    assert result.uri == f"hf://{REPO}/{FILE}"


def test_a_header_longer_than_the_first_read_is_read_on(long_header_file, tmp_path):
    """A vocabulary of 2.85 MB does not fit the first 2 MB: the parser says how much more it needs
    and a second ranged read, from byte 2,000,000, fetches it (at least doubling the prefix)."""
    with serve({REPO: Repo({FILE: long_header_file})}) as hub:
        result = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        assert gets(hub) == ["bytes=0-1999999", "bytes=2000000-3999999"]
    assert result.header.weights_bytes == HUB_WEIGHTS_BYTES
    assert result.header.metadata["tokenizer.ggml.tokens"].length == LONG_VOCAB
    assert result.prefix_bytes == 4_000_000


def test_a_header_past_the_read_bound_is_refused(long_header_file, tmp_path, monkeypatch):
    """Reading on without a bound would download the weights; the bound is refused by name."""
    monkeypatch.setattr(hub_module, "GGUF_MAX_READ_BYTES", 2_500_000)
    with serve({REPO: Repo({FILE: long_header_file})}) as hub:
        with pytest.raises(HubError) as long:
            fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        assert gets(hub) == ["bytes=0-1999999", "bytes=2000000-2499999"]
    assert "goes on past the first 2,500,000 bytes" in one_line(long.value)


def test_a_server_that_ignores_range_is_read_only_as_far_as_asked(small_file, tmp_path):
    """A 200 with the whole file instead of a 206: the stream is cut at 2,000,000 bytes."""
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        hub.ignore_range = True
        result = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
    assert result.header.weights_bytes == HUB_WEIGHTS_BYTES
    assert result.prefix_bytes == 2_000_000


def test_a_long_header_from_a_server_that_ignores_range(long_header_file, tmp_path):
    """The second read skips the bytes it already has when the server starts again from byte 0."""
    with serve({REPO: Repo({FILE: long_header_file})}) as hub:
        hub.ignore_range = True
        result = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
    assert result.header.weights_bytes == HUB_WEIGHTS_BYTES
    assert result.header.metadata["tokenizer.ggml.tokens"].length == LONG_VOCAB


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"model_type": "llama"}', "not a GGUF file"),
        (None, "ends at byte 100, inside its GGUF header"),  # the first 100 bytes of a real file
    ],
)
def test_a_file_that_is_not_a_whole_gguf_is_one_line(small_file, tmp_path, content, message):
    served = {REPO: Repo({FILE: small_file[:100] if content is None else content})}
    with serve(served) as hub, pytest.raises(HubError) as bad:
        fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
    assert message in one_line(bad.value)
    assert FILE in str(bad.value)


# --- errors: one line, quickly --------------------------------------------------------------------


def test_unknown_repo_and_missing_file_are_one_line(small_file, tmp_path):
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        start = time.monotonic()
        with pytest.raises(HubNotFoundError) as unknown:
            fetch_gguf_header("test-org/no-such-model", FILE, settings_for(hub.endpoint, tmp_path))
        with pytest.raises(HubFileNotFoundError) as missing:
            fetch_gguf_header(REPO, "tiny-Q8_0.gguf", settings_for(hub.endpoint, tmp_path))
        assert time.monotonic() - start < DEADLINE_S
        assert gets(hub) == []
    assert "no model test-org/no-such-model" in one_line(unknown.value)
    assert "has no file tiny-Q8_0.gguf" in one_line(missing.value)


def test_a_gated_gguf_says_a_token_is_needed_and_opens_with_one(small_file, tmp_path):
    with serve({REPO: Repo({FILE: small_file}, token="hf_secret")}) as hub:
        with pytest.raises(HubAccessError) as gated:
            fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        with pytest.raises(HubAccessError) as wrong:
            fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path, token="hf_wrong"))
        result = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path, token="hf_secret"))
        assert [auth for method, _, auth, _ in hub.requests if method == "GET"] == ["Bearer hf_secret"]
    assert "token is needed" in one_line(gated.value) and "HF_TOKEN" in str(gated.value)
    assert "no access" in one_line(wrong.value)
    assert result.header.weights_bytes == HUB_WEIGHTS_BYTES


@pytest.mark.parametrize("kind", ["closed port", "hanging server"])
def test_no_network_is_one_line_within_5_seconds(tmp_path, kind):
    if kind == "closed port":
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as unreachable:
            fetch_gguf_header(REPO, FILE, settings_for(closed_endpoint(), tmp_path))
    else:
        with hanging_endpoint() as endpoint:
            start = time.monotonic()
            with pytest.raises(HubUnavailableError) as unreachable:
                fetch_gguf_header(REPO, FILE, settings_for(endpoint, tmp_path))
    assert time.monotonic() - start < DEADLINE_S
    assert "cannot reach" in one_line(unreachable.value) or "no answer" in str(unreachable.value)


def test_a_server_that_stops_sending_is_one_line(small_file, tmp_path):
    """HEAD answers, then every GET waits longer than the request timeout."""
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        hub.get_delay_s = 2.0
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as slow:
            fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path, timeout_s=0.5))
        elapsed = time.monotonic() - start
    assert elapsed < DEADLINE_S, elapsed
    assert "Timeout" in one_line(slow.value)


@pytest.mark.parametrize(
    "uri",
    ["hf://test-org/tiny-GGUF", "hf://not an id/x/y.gguf", "hf://a/b/../../etc/passwd", "https://a/b/c.gguf"],
)
def test_a_malformed_hub_path_is_refused_before_any_request(uri):
    with pytest.raises(HubIdError):
        split_gguf_uri(uri)


def test_split_gguf_uri_takes_folders_inside_the_repo():
    assert split_gguf_uri("hf://org/name/Q4_K_M/model-00001-of-00002.gguf") == (
        "org/name",
        "Q4_K_M/model-00001-of-00002.gguf",
    )


# --- cache and offline ----------------------------------------------------------------------------


def test_the_header_is_cached_and_read_offline(small_file, tmp_path):
    """Online again: one HEAD for the commit, no GET. Offline, or with the Hub gone: no request at all."""
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        first = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        again = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path))
        assert gets(hub) == ["bytes=0-1999999"]
        seen = len(hub.requests)
        offline = fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path, offline=True))
        assert len(hub.requests) == seen
    gone = fetch_gguf_header(REPO, FILE, settings_for(closed_endpoint(), tmp_path))
    for cached in (again, offline, gone):
        assert cached.cached and cached.commit == first.commit
        assert cached.header.weights_bytes == HUB_WEIGHTS_BYTES
        assert cached.header.tensors == first.header.tensors
    # what is kept is the header (512 tokens x 19 bytes + metadata and 7 tensor infos), not the 2,000,000 read
    assert offline.prefix_bytes == first.header.header_bytes < 20_000


def test_offline_without_the_cache_is_one_line_and_sends_nothing(small_file, tmp_path):
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as absent:
            fetch_gguf_header(REPO, FILE, settings_for(hub.endpoint, tmp_path, offline=True))
        assert time.monotonic() - start < DEADLINE_S
        assert hub.requests == []
    assert "offline (HF_HUB_OFFLINE)" in one_line(absent.value) and "not in the cache" in str(absent.value)


# --- the command line -----------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_sizes_a_gguf_on_the_hub(small_file, tmp_path, monkeypatch, capsys):
    """`--gguf hf://ORG/NAME/FILE.gguf` honours HF_ENDPOINT and HF_HOME; the weights are the file's."""
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_cli(capsys, "--gguf", f"hf://{REPO}/{FILE}", "--json")
        assert code == 0, err
        assert gets(hub) == ["bytes=0-1999999"]
    report = json.loads(out)
    assert report["weights_bytes"] == HUB_WEIGHTS_BYTES
    assert report["weights_source"] == "gguf"
    assert report["origin"] == f"GGUF hf://{REPO}/{FILE}: weights as stored in the file"
    assert report["kv_bytes_per_token"] == 2 * 1 * 1 * 64 * 2  # K and V x 1 layer x 1 KV head x 64 x 2 bytes
    # offline (the flag, or HF_HUB_OFFLINE): the cached header, with the Hub gone
    monkeypatch.setenv("HF_ENDPOINT", closed_endpoint())
    code, cached, err = run_cli(capsys, "--gguf", f"hf://{REPO}/{FILE}", "--offline", "--json")
    assert code == 0, err
    assert json.loads(cached)["weights_bytes"] == HUB_WEIGHTS_BYTES
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, cached, err = run_cli(capsys, "--gguf", f"hf://{REPO}/{FILE}", "--json")
    assert code == 0, err
    assert json.loads(cached)["weights_bytes"] == HUB_WEIGHTS_BYTES


SPLIT_NAMES = ("Q4_K_M/tiny-00001-of-00002.gguf", "Q4_K_M/tiny-00002-of-00002.gguf")


@pytest.fixture()
def split_repo(tmp_path) -> Repo:
    """HUB_TENSORS in two shards as gguf-split names and writes them, in a folder of the repository."""
    (tmp_path / "Q4_K_M").mkdir()
    return Repo(
        {
            name: write_split(tmp_path / name, tensors, number)
            for number, (name, tensors) in enumerate(zip(SPLIT_NAMES, (HUB_TENSORS[:4], HUB_TENSORS[4:]), strict=True))
        }
    )


@pytest.mark.parametrize(
    "named",
    [SPLIT_NAMES, SPLIT_NAMES[:1], SPLIT_NAMES[1:]],
    ids=["every shard", "the first shard", "the second shard"],
)
def test_cli_reads_every_shard_of_a_split_gguf_from_the_hub(split_repo, tmp_path, monkeypatch, capsys, named):
    """One shard's name is enough: the others follow llama.cpp's PREFIX-0000N-of-0000M.gguf; the
    weights of both shards sum to the byte, each shard read once."""
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with serve({REPO: split_repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_cli(capsys, "--gguf", *(f"hf://{REPO}/{n}" for n in named), "--json")
        shard_gets = sorted(path.rsplit("/", 1)[-1] for method, path, _, _ in hub.requests if method == "GET")
    assert code == 0, err
    assert json.loads(out)["weights_bytes"] == HUB_WEIGHTS_BYTES
    assert shard_gets == ["tiny-00001-of-00002.gguf", "tiny-00002-of-00002.gguf"]


def test_a_split_gguf_whose_name_hides_its_shards_is_one_line(split_repo, tmp_path):
    """split.count says 2, but the name does not say where the other shard is: refused, not half-sized."""
    renamed = Repo({"tiny-first.gguf": split_repo.files[SPLIT_NAMES[0]]})
    with serve({REPO: renamed}) as hub, pytest.raises(HubError) as hidden:
        fetch_gguf_split(REPO, "tiny-first.gguf", settings_for(hub.endpoint, tmp_path))
    assert "one of 2 shards" in one_line(hidden.value)


def test_a_missing_shard_is_one_line(split_repo, tmp_path):
    del split_repo.files[SPLIT_NAMES[1]]
    with serve({REPO: split_repo}) as hub, pytest.raises(HubFileNotFoundError) as missing:
        fetch_gguf_split(REPO, SPLIT_NAMES[0], settings_for(hub.endpoint, tmp_path))
    assert "has no file Q4_K_M/tiny-00002-of-00002.gguf" in one_line(missing.value)


def write_split(path: Path, tensors, number: int) -> bytes:
    """One shard as gguf-split writes it: ``split.no``, ``split.count`` and ``split.tensors.count``."""
    writer = gguf.GGUFWriter(path, "llama")
    for method, value in TINY_LLAMA.items():
        getattr(writer, method)(value)
    writer.add_uint16("split.no", number)
    writer.add_uint16("split.count", 2)
    writer.add_int32("split.tensors.count", len(HUB_TENSORS))
    writer.add_token_list([f"token{i:06d}" for i in range(512)])
    for name, ne, qtype in tensors:
        add_tensor(writer, name, ne, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    "where, message",
    [
        ("hf://test-org/no-such-model/x.gguf", "no model test-org/no-such-model"),
        ("hf://test-org/tiny-GGUF", "expected hf://ORG/NAME/FILE.gguf"),
    ],
)
def test_cli_bad_hub_gguf_exits_2_with_one_line(small_file, tmp_path, monkeypatch, capsys, where, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with serve({REPO: Repo({FILE: small_file})}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_cli(capsys, "--gguf", where)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_cli_offline_gguf_not_cached_is_one_line_within_5_seconds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.monotonic()
    code, _, err = run_cli(capsys, "--gguf", f"hf://{REPO}/{FILE}", "--offline")
    assert time.monotonic() - start < ANSWER_DEADLINE_S
    assert code == 2 and err.count("\n") == 1 and "not in the cache" in err


# --- the app --------------------------------------------------------------------------------------

CALCULATOR = "app_pages/hardware_calculator.py"


def open_hub_gguf(monkeypatch, endpoint: str, path: str):
    from apptest_pages import open_app_page

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    at = open_app_page(CALCULATOR)
    at.radio(key="source").set_value("GGUF header").run()
    at.text_input(key="gguf_hub").set_value(path).run()
    assert not at.exception
    return at


def test_the_app_sizes_a_gguf_on_the_hub(small_file, monkeypatch):
    """The GGUF source takes ORG/NAME/FILE.gguf as well as an upload: 2,473,216 bytes (by hand above)
    = 2.36 MiB of weights, each tensor at its own type."""
    repo = "test-org/app-GGUF"  # an id of its own: the app keeps a fetched header an hour
    with serve({repo: Repo({FILE: small_file})}) as hub:
        at = open_hub_gguf(monkeypatch, hub.endpoint, f"{repo}/{FILE}")
        assert gets(hub) == ["bytes=0-1999999"]
    assert not at.error
    assert {m.label: m.value for m in at.metric}["Weights"] == "2.4 MiB"
    caption = next(c.value for c in at.caption if c.value.startswith("Read"))
    assert "test\\-org/app\\-GGUF" in caption and Repo({}).commit[:12] in caption and "7 tensors" in caption
    assert all(s.key != "precision" for s in at.selectbox)


def test_an_unknown_gguf_on_the_hub_is_one_error_in_the_app(monkeypatch):
    with serve({}) as hub:
        at = open_hub_gguf(monkeypatch, hub.endpoint, "test-org/none/x.gguf")
    (error,) = at.error
    assert "no model test" in error.value and not at.metric


def test_the_app_reads_every_shard_from_the_first_ones_name(split_repo, monkeypatch):
    repo = "test-org/app-split-GGUF"
    with serve({repo: split_repo}) as hub:
        at = open_hub_gguf(monkeypatch, hub.endpoint, f"hf://{repo}/{SPLIT_NAMES[0]}")
    assert not at.error
    assert {m.label: m.value for m in at.metric}["Weights"] == "2.4 MiB"  # 2,473,216 bytes, both shards
    caption = next(c.value for c in at.caption if c.value.startswith("Read"))
    assert "and its 1 other shard at commit" in caption
