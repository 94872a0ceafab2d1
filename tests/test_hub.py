"""llm_calc.hub and `memory --model ORG/NAME` against a local stand-in for the Hugging Face Hub
(tests/hub_server.py): never the internet.

Expected values are known without the code under test: parameter counts from the meta-device count
in data/hf_configs/manifest.csv, checkpoint bytes derived by hand from the shapes and dtypes of the
safetensors files these tests build. Timings are measured with generous bounds (a shared 2-core
machine), not as benchmarks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hub_server import Repo, closed_endpoint, hanging_endpoint, safetensors_bytes, serve

from llm_calc.architecture import count_parameters
from llm_calc.cli import main
from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, ConfigError, parse_config_text
from llm_calc.hub import (
    ANSWER_DEADLINE_S,
    SHARED_TOKEN_OPT_IN,
    HubAccessError,
    HubError,
    HubFileNotFoundError,
    HubIdError,
    HubNotFoundError,
    HubSettings,
    HubUnavailableError,
    check_repo_id,
    fetch_file,
    fetch_model,
    token_from_env,
)

ROOT = Path(__file__).resolve().parent.parent
QWEN3_8B = (ROOT / "data" / "hf_configs" / "Qwen__Qwen3-8B.json").read_bytes()
QWEN3_8B_META_PARAMS = 8_190_735_360
"""Qwen/Qwen3-8B built by transformers on the meta device (data/hf_configs/manifest.csv,
meta_device_params); the model card says 8.2B."""

REPO = "test-org/qwen3-8b-copy"  # not in data/models.csv, so the CLI asks the Hub
DEADLINE_S = 5.0
"""The issue: offline, unknown id or no network answer in one line within 5 seconds."""

# A checkpoint in the shapes a quantized model stores. Bytes per tensor, derived by hand:
#   embed_tokens  BF16 [64, 32]        2 B x 2,048           =  4,096
#   experts blocks U8  [2, 8, 90, 16]  1 B x 23,040          = 23,040  (MXFP4: two 4-bit values a byte,
#                                                                       so 46,080 weights in 23,040 elements)
#   experts scales U8  [2, 8, 90]      1 B x 1,440           =  1,440  (one e8m0 scale per 32 weights)
#   qweight       I32  [4, 64]         4 B x 256             =  1,024  (GPTQ: eight 4-bit weights an int32)
#   norm          F32  [64]            4 B x 64              =    256
SHARD_1 = [
    ("model.embed_tokens.weight", "BF16", [64, 32], 4_096),
    ("model.layers.0.mlp.experts.gate_up_proj_blocks", "U8", [2, 8, 90, 16], 23_040),
]
SHARD_2 = [
    ("model.layers.0.mlp.experts.gate_up_proj_scales", "U8", [2, 8, 90], 1_440),
    ("model.layers.0.self_attn.q_proj.qweight", "I32", [4, 64], 1_024),
    ("model.norm.weight", "F32", [64], 256),
]
SHARD_1_BYTES = 4_096 + 23_040  # 27,136
SHARD_2_BYTES = 1_440 + 1_024 + 256  # 2,720
CHECKPOINT_BYTES = 29_856  # 27,136 + 2,720


@pytest.fixture(autouse=True, scope="module")
def library_imported():
    """Import huggingface_hub once up front (after conftest has cleaned the HF_* variables it reads
    at import), so the timings below measure answers, not a first import on a busy machine."""
    import huggingface_hub.file_download
    import huggingface_hub.hf_api  # noqa: F401


def sharded_repo(config: bytes = QWEN3_8B, token: str | None = None) -> Repo:
    names = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    index = {
        "metadata": {"total_size": CHECKPOINT_BYTES},
        "weight_map": {name: names[i] for i, shard in enumerate((SHARD_1, SHARD_2)) for name, *_ in shard},
    }
    return Repo(
        {
            "config.json": config,
            "model.safetensors.index.json": json.dumps(index).encode(),
            names[0]: safetensors_bytes(SHARD_1),
            names[1]: safetensors_bytes(SHARD_2),
            "tokenizer.json": b'{"version": "1.0"}',
        },
        token=token,
    )


def settings_for(endpoint: str, home: Path, **changes: object) -> HubSettings:
    settings = HubSettings(endpoint, False, None, home / "hub", home / "assets")
    return replace(settings, **changes)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    return text


# --- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repo_id", ["openai/gpt-oss-20b", "Qwen/Qwen3-8B", "unsloth/Llama-3.3-70B-Instruct", "a/b", "org_1/m.v2_x"]
)
def test_hub_ids_of_the_form_org_name_are_accepted(repo_id):
    assert check_repo_id(repo_id) == repo_id


@pytest.mark.parametrize(
    "repo_id",
    [
        "",
        "x",
        "gpt2",  # a legacy alias without an organisation
        "a/b/c",
        "/b",
        "a/",
        "-a/b",
        "a/b-",
        "a/.b",
        "a--b/c",
        "a/b..c",
        "a/b.git",
        "a b/c",
        "café/m",
        "a/b?revision=x",
        "../../etc/passwd",
        "a" * 97 + "/b",
        "a/" + "b" * 97,
    ],
)
def test_garbage_ids_are_refused_before_any_request(repo_id, tmp_path):
    """A typo is refused at once, in one line, and nothing is sent to the Hub."""
    with serve({}) as hub:
        with pytest.raises(HubIdError) as refused:
            fetch_model(repo_id, settings_for(hub.endpoint, tmp_path))
        assert hub.requests == []
    assert "ORG/NAME" in one_line(refused.value)


def test_cli_refuses_a_garbage_id_without_the_network(capsys, no_network, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert main(["memory", "--model", "not a model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'not a model'" in err and "ORG/NAME" in err


# --- found: sized from its config, checkpoint bytes from its headers ---------------------------------


def test_a_hub_config_is_sized_as_the_same_file_parsed_locally(tmp_path):
    with serve({REPO: sharded_repo()}) as hub:
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    assert model.spec.name == REPO
    assert model.commit == Repo({}).commit
    local = parse_config_text(QWEN3_8B, name="local copy")
    assert count_parameters(model.spec).total == count_parameters(local).total == QWEN3_8B_META_PARAMS
    assert replace(model.spec, name="x") == replace(local, name="x")


def test_checkpoint_bytes_come_from_the_safetensors_headers(tmp_path):
    """Packed dtypes (U8 MXFP4 blocks, I32 GPTQ words) are counted by stored bytes, not elements."""
    with serve({REPO: sharded_repo()}) as hub:
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
        header_reads = [r for r in hub.requests if r[0] == "GET" and r[1].endswith(".safetensors")]
    checkpoint = model.checkpoint
    assert model.checkpoint_note == ""
    assert checkpoint is not None and checkpoint.file_count == 2
    assert [f.tensor_bytes for f in checkpoint.files] == [SHARD_1_BYTES, SHARD_2_BYTES]
    assert checkpoint.tensor_bytes == CHECKPOINT_BYTES
    assert checkpoint.bytes_by_dtype == {"BF16": 4_096, "F32": 256, "I32": 1_024, "U8": 23_040 + 1_440}
    assert [f.tensor_count for f in checkpoint.files] == [2, 3]
    # only the headers were read: one ranged GET per shard, at the commit of the config
    assert len(header_reads) == 2 and all(r[3] == "bytes=0-100000" for r in header_reads)
    assert all(f"/resolve/{model.commit}/" in r[1] for r in header_reads)


def test_a_single_file_checkpoint_with_a_header_longer_than_the_first_read(tmp_path):
    """huggingface_hub reads 100,000 bytes first; a longer header takes a second ranged read."""
    tensors = [
        (f"model.layers.{i}.a_rather_long_tensor_name_to_pad_the_header.weight", "BF16", [1], 2) for i in range(2_000)
    ]
    file = safetensors_bytes(tensors)
    assert len(file) > 100_000 + 8
    with serve({REPO: Repo({"config.json": QWEN3_8B, "model.safetensors": file})}) as hub:
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    assert model.checkpoint is not None
    assert model.checkpoint.tensor_bytes == 4_000  # 2,000 tensors of one bf16 value, 2 bytes each
    assert model.checkpoint.files[0].tensor_count == 2_000


def test_a_repo_without_safetensors_is_sized_and_says_so(tmp_path):
    with serve({REPO: Repo({"config.json": QWEN3_8B, "pytorch_model.bin": b"x"})}) as hub:
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    assert count_parameters(model.spec).total == QWEN3_8B_META_PARAMS
    assert model.checkpoint is not None and model.checkpoint.file_count == 0
    assert "model.safetensors" in model.checkpoint_note


def test_a_header_with_a_hole_is_not_a_checkpoint_size(tmp_path):
    """The format forbids holes in the byte buffer; the config is still sized."""
    header = json.dumps({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 8]}}).encode()
    file = len(header).to_bytes(8, "little") + header + bytes(8)
    with serve({REPO: Repo({"config.json": QWEN3_8B, "model.safetensors": file})}) as hub:
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    assert model.checkpoint is None
    assert "hole" in model.checkpoint_note and count_parameters(model.spec).total == QWEN3_8B_META_PARAMS


def test_an_unknown_architecture_on_the_hub_is_refused_with_the_supported_list(tmp_path):
    config = json.dumps({"model_type": "brand_new_arch", "hidden_size": 8}).encode()
    with serve({REPO: Repo({"config.json": config})}) as hub, pytest.raises(ConfigError) as refused:
        fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    assert "brand_new_arch" in str(refused.value) and SUPPORTED_MODEL_TYPES[0] in str(refused.value)


def test_any_named_file_of_a_repo_is_fetched_into_the_cache(tmp_path):
    """The API the tokenizer work reuses: a named file, cached, and a missing name told apart."""
    with serve({REPO: sharded_repo()}) as hub:
        settings = settings_for(hub.endpoint, tmp_path)
        file = fetch_file(REPO, "tokenizer.json", settings, max_bytes=1_000)
        with pytest.raises(HubFileNotFoundError) as missing:
            fetch_file(REPO, "tokenizer.model", settings, max_bytes=1_000)
    assert file.path.read_bytes() == b'{"version": "1.0"}'
    assert file.path.is_relative_to(tmp_path / "hub") and file.commit == Repo({}).commit
    assert "tokenizer.model" in one_line(missing.value)
    for bad in ("../config.json", "/etc/passwd", "a//b", "", "tokenizer.json?x=1"):
        with pytest.raises(HubError):
            fetch_file(REPO, bad, settings_for("http://unused.invalid", tmp_path), max_bytes=1_000)
    offline = fetch_file(REPO, "tokenizer.json", settings_for("http://unused.invalid", tmp_path, offline=True), 1_000)
    assert offline.path == file.path


def test_a_file_larger_than_asked_is_refused_before_its_download(tmp_path):
    """A 2 MB "config.json" is refused from the size its HEAD gives; the body is never requested."""
    huge = b"{" + b" " * 2_000_000 + b"}"
    with serve({REPO: Repo({"config.json": huge})}) as hub:
        with pytest.raises(HubError) as refused:
            fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
        assert [method for method, *_ in hub.requests] == ["HEAD"]
    assert "2,000,002 bytes" in one_line(refused.value)


# --- errors: one line, quickly ----------------------------------------------------------------------


def test_an_unknown_repo_is_one_line(tmp_path):
    with serve({REPO: sharded_repo()}) as hub, pytest.raises(HubNotFoundError) as missing:
        fetch_model("test-org/no-such-model", settings_for(hub.endpoint, tmp_path))
    assert "test-org/no-such-model" in one_line(missing.value)


def test_an_anonymous_401_for_a_missing_repo_says_it_may_be_private(tmp_path):
    """huggingface.co answers 401 RepoNotFound to an anonymous request for a missing or private repo."""
    with serve({}, missing_status=401) as hub, pytest.raises(HubAccessError) as unknown:
        fetch_model("test-org/private-or-missing", settings_for(hub.endpoint, tmp_path))
    message = one_line(unknown.value)
    assert "not found" in message and "private" in message and "HF_TOKEN" in message


def test_a_gated_repo_says_a_token_is_needed_and_opens_with_one(tmp_path):
    with serve({REPO: sharded_repo(token="hf_secret")}) as hub:
        with pytest.raises(HubAccessError) as gated:
            fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
        with pytest.raises(HubAccessError) as wrong:
            fetch_model(REPO, settings_for(hub.endpoint, tmp_path, token="hf_wrong"))
        model = fetch_model(REPO, settings_for(hub.endpoint, tmp_path, token="hf_secret"))
    assert "token" in one_line(gated.value) and "HF_TOKEN" in str(gated.value)
    assert "no access" in one_line(wrong.value)
    assert model.checkpoint is not None and model.checkpoint.tensor_bytes == CHECKPOINT_BYTES


def test_hf_token_in_the_environment_is_not_sent_unless_passed(tmp_path, monkeypatch):
    """huggingface_hub sends HF_TOKEN by itself; a shared app must not, unless its operator opts in."""
    monkeypatch.setenv("HF_TOKEN", "hf_operator")
    monkeypatch.delenv(SHARED_TOKEN_OPT_IN, raising=False)
    assert token_from_env(shared_deployment=True) is None
    assert token_from_env(shared_deployment=False) == "hf_operator"
    monkeypatch.setenv(SHARED_TOKEN_OPT_IN, "1")
    assert token_from_env(shared_deployment=True) == "hf_operator"
    with serve({REPO: sharded_repo(token="hf_operator")}) as hub:
        with pytest.raises(HubAccessError):
            fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
        assert hub.requests and all(auth is None for _, _, auth, _ in hub.requests)


@pytest.mark.parametrize("kind", ["closed port", "hanging server"])
def test_no_network_is_one_line_within_5_seconds(tmp_path, kind):
    """Without explicit timeouts and retries the library takes over 20 s to give up."""
    if kind == "closed port":
        endpoint, holder = closed_endpoint(), None
    else:
        holder = hanging_endpoint()
        endpoint = holder.__enter__()
    try:
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as unreachable:
            fetch_model(REPO, settings_for(endpoint, tmp_path))
        elapsed = time.monotonic() - start
    finally:
        if holder is not None:
            holder.__exit__(None, None, None)
    assert elapsed < DEADLINE_S, elapsed
    assert "cannot reach" in one_line(unreachable.value) or "no answer" in str(unreachable.value)


@pytest.mark.parametrize("failure", ["refused", "hangs"])
def test_dns_failure_is_one_line_within_5_seconds(tmp_path, monkeypatch, failure):
    """A lookup that fails, or one that never returns (no request timeout reaches a DNS lookup)."""
    real = socket.getaddrinfo
    released = threading.Event()

    def lookup(host, *args, **kwargs):
        if host != "hub.example.invalid":
            return real(host, *args, **kwargs)
        if failure == "hangs":
            released.wait(30)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    start = time.monotonic()
    try:
        with pytest.raises(HubUnavailableError) as unreachable:
            fetch_model(REPO, settings_for("https://hub.example.invalid", tmp_path))
        elapsed = time.monotonic() - start
    finally:
        released.set()
    assert elapsed < DEADLINE_S, elapsed
    if failure == "hangs":
        assert elapsed >= ANSWER_DEADLINE_S - 0.5
    assert "hub.example.invalid" in one_line(unreachable.value)


# --- cache and offline ------------------------------------------------------------------------------


def test_offline_answers_from_the_cache_without_a_request(tmp_path):
    with serve({REPO: sharded_repo()}) as hub:
        online = fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
        seen = len(hub.requests)
        offline = fetch_model(REPO, settings_for(hub.endpoint, tmp_path, offline=True))
        assert len(hub.requests) == seen
    assert offline.spec == online.spec and offline.checkpoint == online.checkpoint
    assert offline.checkpoint is not None and offline.checkpoint.tensor_bytes == CHECKPOINT_BYTES


def test_an_unreachable_hub_falls_back_to_the_cache(tmp_path):
    with serve({REPO: sharded_repo()}) as hub:
        fetch_model(REPO, settings_for(hub.endpoint, tmp_path))
    model = fetch_model(REPO, settings_for(closed_endpoint(), tmp_path))
    assert model.checkpoint is not None and model.checkpoint.tensor_bytes == CHECKPOINT_BYTES


def test_offline_without_the_cache_is_one_line_and_sends_nothing(tmp_path):
    with serve({REPO: sharded_repo()}) as hub:
        start = time.monotonic()
        with pytest.raises(HubUnavailableError) as absent:
            fetch_model(REPO, settings_for(hub.endpoint, tmp_path, offline=True))
        assert time.monotonic() - start < DEADLINE_S
        assert hub.requests == []
    assert "offline" in one_line(absent.value) and "HF_HUB_OFFLINE" in str(absent.value)


def test_settings_are_read_from_the_environment_at_each_call(tmp_path, monkeypatch):
    """HF_ENDPOINT, HF_HUB_OFFLINE and HF_HOME, read at the call (huggingface_hub reads them at import)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve({REPO: sharded_repo()}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
        settings = HubSettings.from_env()
        assert (settings.endpoint, settings.offline, settings.token) == (hub.endpoint, False, None)
        assert settings.hub_cache == tmp_path / "hub"
        fetch_model(REPO, settings)
        assert hub.requests
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert HubSettings.from_env().offline
    assert fetch_model(REPO, HubSettings.from_env()).checkpoint is not None
    monkeypatch.setenv("HF_ENDPOINT", "ftp://mirror")
    with pytest.raises(HubError):
        HubSettings.from_env()


# --- the command line -------------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m llm_calc` in a fresh interpreter: the variables are set before huggingface_hub is imported."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "llm_calc", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.monotonic() - start


def test_cli_memory_shows_the_hub_checkpoint_beside_the_estimate(tmp_path):
    """HF_ENDPOINT honoured in a fresh process; then HF_HUB_OFFLINE answers from the cache it filled."""
    args = ["memory", "--model", REPO, "--json"]
    with serve({REPO: sharded_repo()}) as hub:
        online, _ = run_cli(args, {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path)})
        assert hub.requests
    assert online.returncode == 0, online.stderr
    report = json.loads(online.stdout)
    assert report["params"] == QWEN3_8B_META_PARAMS
    assert report["hub_checkpoint"]["tensor_bytes"] == CHECKPOINT_BYTES
    assert report["hub_checkpoint"]["files"] == 2
    offline, _ = run_cli(args, {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_ENDPOINT": closed_endpoint()})
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["hub_checkpoint"] == report["hub_checkpoint"]


def test_cli_no_network_exits_2_with_one_line(tmp_path):
    with hanging_endpoint() as endpoint:
        done, elapsed = run_cli(["memory", "--model", REPO], {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"unknown model '{REPO}': not in data/models.csv" in done.stderr
    # the fetch gives up within ANSWER_DEADLINE_S; the rest is the interpreter starting on a busy machine
    assert elapsed < 20, elapsed


def test_cli_offline_flag_and_gated_repo(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve({REPO: sharded_repo(token="hf_mine")}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["memory", "--model", REPO]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "HF_TOKEN" in err and "token is needed" in err
        monkeypatch.setenv("HF_TOKEN", "hf_mine")  # the command-line user's own token is sent
        assert main(["memory", "--model", REPO]) == 0
        assert "in 2 safetensors files" in capsys.readouterr().out
        seen = len(hub.requests)
        assert main(["train", "--model", REPO, "--offline", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["params"] == QWEN3_8B_META_PARAMS
        assert len(hub.requests) == seen


def test_cli_sizes_a_quantized_hub_config_as_shipped(capsys, tmp_path, monkeypatch):
    """A Hub id's config carries its quantization_config as an uploaded one does: gpt-oss-20b is
    sized as shipped, 12.8 GiB ("gpt-oss-120b & gpt-oss-20b Model Card", arXiv:2508.10925, Table 1,
    "Checkpoint Size"), not as a bf16 copy."""
    config = (ROOT / "tests" / "configs" / "gpt-oss-20b.json").read_bytes()
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with serve({"test-org/gpt-oss-20b-copy": Repo({"config.json": config})}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert main(["memory", "--model", "test-org/gpt-oss-20b-copy", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "auto" and report["weights_format"] == "as shipped: MXFP4 experts"
    assert abs(report["weights_bytes"] / (12.8 * 1024**3) - 1) < 0.02
