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
