"""A local stand-in for the Hugging Face Hub: the endpoints ``huggingface_hub`` calls to download a
file and read a safetensors header, served from memory on 127.0.0.1, so tests never reach the internet.

- ``HEAD`` / ``GET /{org}/{name}/resolve/{revision}/{path}``: ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length`` as the Hub sends them; ``GET`` honours ``Range: bytes=a-b`` with 206 Partial
  Content and ``Content-Range`` (416 when the range starts past the end), or, with
  ``Hub.ignore_range``, answers 200 and the whole file as a server without range support does;
  ``Hub.get_delay_s`` makes every ``GET`` wait (a slow server);
- errors as the Hub signals them, by status and ``X-Error-Code``: ``RepoNotFound`` (404, or 401 to
  an anonymous request as huggingface.co answers for a missing or private repo),
  ``GatedRepo`` (401 without a token, 403 with a wrong one), ``EntryNotFound`` (404, with the commit),
  ``RevisionNotFound`` (404).

Also: :func:`word_level_tokenizer_json` and :func:`byte_level_tokenizer_json`, small ``tokenizer.json``
files built with the ``tokenizers`` library for a repository to serve; :func:`hanging_endpoint`,
a port that accepts connections and never answers, and
:func:`closed_endpoint`, a port nobody listens on.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


@dataclass
class Repo:
    """A model repository: its files (path -> bytes), one commit, and who may read it."""

    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    token: str | None = None  # gated: only this bearer token may read it


@dataclass
class Hub:
    """The repositories served and every request seen: (method, path, Authorization, Range) each."""

    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    endpoint: str = ""
    missing_status: int = 404  # the real Hub answers 401 to an anonymous request for a missing or private repo
    ignore_range: bool = False  # answer a ranged GET with 200 and the whole file, as a plain static server would
    get_delay_s: float = 0.0  # a slow server: every GET waits this long before answering (HEAD does not)


_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            auth = self.headers.get("Authorization")
            hub.requests.append((self.command, self.path, auth, self.headers.get("Range")))
            match = _RESOLVE.match(unquote(self.path.split("?")[0]))
            if not match:
                return self._error(404, None, body)
            repo_id, revision, path = match.groups()
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error(hub.missing_status if auth is None else 404, "RepoNotFound", body)
            if repo.token is not None and auth != f"Bearer {repo.token}":
                return self._error(401 if auth is None else 403, "GatedRepo", body)
            if revision not in ("main", repo.commit):
                return self._error(404, "RevisionNotFound", body)
            if path not in repo.files:
                return self._error(404, "EntryNotFound", body, commit=repo.commit)
            data = repo.files[path]
            status, payload, extra = 200, data, {}
            if body and hub.get_delay_s:
                time.sleep(hub.get_delay_s)
            ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if body and ranged and not hub.ignore_range:
                start = int(ranged.group(1))
                if start >= len(data):  # RFC 9110 15.5.17: no byte of the range is in the file
                    return self._error(416, None, body)
                stop = min(int(ranged.group(2) or len(data) - 1), len(data) - 1)
                status, payload = 206, data[start : stop + 1]
                extra["Content-Range"] = f"bytes {start}-{stop}/{len(data)}"
            self.send_response(status)
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/octet-stream")
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client read what it wanted and left
                    self.close_connection = True

        def _error(self, status: int, code: str | None, body: bool, commit: str | None = None) -> None:
            message = json.dumps({"error": code or "Not Found"}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            if body:
                self.wfile.write(message)

    return Handler


@contextmanager
def serve(repos: dict[str, Repo], missing_status: int = 404) -> Iterator[Hub]:
    """Serve ``repos`` on a free port of 127.0.0.1 until the block ends; yields the :class:`Hub`."""
    hub = Hub(repos=repos, missing_status=missing_status)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hanging_endpoint() -> Iterator[str]:
    """A port whose connections are accepted by the kernel (the listen backlog) and never answered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def closed_endpoint() -> str:
    """A port of 127.0.0.1 nobody listens on (bound, then released): connections are refused."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def safetensors_bytes(tensors: list[tuple[str, str, list[int], int]], data_byte: bytes = b"\0") -> bytes:
    """A safetensors file built by hand: 8-byte little-endian header length N, N bytes of JSON, then
    the tensors' bytes back to back. ``tensors``: (name, dtype, shape, stored bytes) each."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape, n_bytes in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n_bytes]}
        offset += n_bytes
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data_byte * offset


def word_level_tokenizer_json(
    vocab: list[str], special: list[str] = (), added: list[str] = (), truncation: int | None = None
) -> bytes:
    """A ``tokenizer.json`` built with the ``tokenizers`` library: a WordLevel model over ``vocab`` (ids
    in list order, the first entry the unknown token) behind the ``Whitespace`` pre-tokenizer, which
    splits on ``\\w+|[^\\w\\s]+``, so every count is one token per run of word characters or of
    punctuation. ``special`` and ``added`` are added tokens (special or not) numbered after the vocab;
    ``truncation`` saves a truncation length in the file, as BERT-style tokenizers do."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(vocab)}, unk_token=vocab[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(token, special=True) for token in special])
    tokenizer.add_tokens([AddedToken(token, special=False) for token in added])
    if truncation is not None:
        tokenizer.enable_truncation(truncation)
    return tokenizer.to_str().encode()


def byte_level_tokenizer_json(corpus: list[str], vocab_size: int) -> bytes:
    """A byte-level BPE ``tokenizer.json`` (GPT-2's layout: ByteLevel pre-tokenizer and decoder)
    trained with the ``tokenizers`` library on ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer.to_str().encode()
