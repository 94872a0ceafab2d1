import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a clean clone without installing the package


@pytest.fixture()
def no_network(monkeypatch):
    """Fail any connection that leaves this machine: tokenizers must load from disk only."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1", "")):
            return real_connect(self, address)
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise OSError(f"network access attempted in a test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/nonexistent-tiktoken-cache")


@pytest.fixture(autouse=True, scope="session")
def no_hub_in_tests(tmp_path_factory):
    """No test reaches the Hugging Face Hub: a `--model ORG/NAME` outside the catalog (a property test
    can draw one) goes to a closed port of this machine, with an empty cache. tests/test_hub.py serves
    a local stand-in. (Not HF_HUB_OFFLINE: huggingface_hub reads it once, at import, for the session.)"""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
        patch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_ASSETS_CACHE", "HF_TOKEN"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture()
def edited_measurements(tmp_path):
    """A function ``edit(old, new)`` that writes a copy of data/measurements.csv, with its first
    ``old`` replaced by ``new``, into this test's temporary folder and returns the copy's path: one
    bad cell to load, the real file untouched. ``old`` must be in the file (a row rewritten since
    would otherwise test nothing)."""
    from llm_calc.catalog import DATA_DIR

    def edit(old: str, new: str) -> Path:
        text = (DATA_DIR / "measurements.csv").read_text(encoding="utf-8")
        assert old in text, f"{old!r} is no longer in data/measurements.csv"
        path = tmp_path / "measurements.csv"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    return edit
