"""Files of a Hugging Face Hub repository, fetched once and cached: a model's ``config.json`` and the
header metadata of its safetensors checkpoint.

This is the one module of ``llm_calc`` besides the catalog loaders that does I/O. Everything it
fetches goes through ``huggingface_hub`` into huggingface_hub's own cache, so a file fetched here is
shared with ``transformers`` and answered from disk afterwards, offline included.

Three entry points:

- :func:`fetch_file`: any named file of a model repository (``config.json``, ``tokenizer.json`` ...),
  as a :class:`HubFile` whose ``path`` is in the local cache;
- :func:`fetch_model`: a repository's ``config.json`` parsed by
  :func:`llm_calc.hf_config.parse_config_text` (an architecture we do not model is refused there),
  with the stored size of its safetensors checkpoint read from the file headers;
- :func:`fetch_gguf_header`: the header of a GGUF file, read by ranged reads of its first
  megabytes and parsed by :func:`llm_calc.gguf.parse_gguf_header` (the weights are never fetched).
  The prefix read is kept in the assets cache per commit, so offline answers carry it too;
  :func:`fetch_gguf_split` reads every shard of a split GGUF from the name of one.

Parameter counts always come from the config. The checkpoint's size comes from the safetensors
headers: each tensor's ``data_offsets`` give its stored bytes, which stay exact for packed dtypes
(MXFP4 blocks stored as ``U8``, GPTQ words stored as ``I32``) whose element counts are not
parameter counts.

Every setting is explicit in :class:`HubSettings` (endpoint, offline, token, cache folders, timeout):
``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, when it is first imported,
so :meth:`HubSettings.from_env` reads them again at each call and passes them on. The token is never
picked up implicitly (huggingface_hub would send ``HF_TOKEN`` by itself): a command-line user's own
``HF_TOKEN`` is used, a shared deployment uses it only when its operator opts in (see
:func:`token_from_env`).

A failure is one line, a :class:`HubError` (a ``ValueError``), within :data:`ANSWER_DEADLINE_S`:
requests run without the library's retries (which back off for more than 20 s) under
:data:`REQUEST_TIMEOUT_S`, and the whole fetch under a deadline.

Hub endpoints used (the Hub's HTTP API, as called by huggingface_hub 1.33):

- ``HEAD {endpoint}/{repo_id}/resolve/{revision}/{filename}``: the file's commit
  (``X-Repo-Commit``), ``ETag`` and size; errors carry ``X-Error-Code`` (``RepoNotFound``,
  ``GatedRepo``, ``EntryNotFound``, ``RevisionNotFound``);
- ``GET`` of the same URL: the file (``hf_hub_download``), or with ``Range: bytes=0-100000``
  a safetensors header (``HfApi.parse_safetensors_file_metadata``; a second ranged read when the
  header is longer), or with ``Range: bytes=0-1999999`` the start of a GGUF file
  (:func:`fetch_gguf_header`; more ranged reads while its header goes on).

References
----------
.. [1] huggingface_hub, "Download files from the Hub" and "Manage huggingface_hub cache-system",
       https://huggingface.co/docs/huggingface_hub/guides/download and
       https://huggingface.co/docs/huggingface_hub/guides/manage-cache
.. [2] huggingface_hub, "Environment variables" (HF_ENDPOINT, HF_HUB_OFFLINE, HF_HOME, HF_HUB_CACHE,
       HF_ASSETS_CACHE, HF_TOKEN), https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables
.. [3] safetensors format: an 8-byte little-endian header length N, then N bytes of JSON giving each
       tensor's ``dtype``, ``shape`` and ``data_offsets`` [begin, end) in the byte buffer that follows;
       "the byte buffer needs to be entirely indexed, and cannot contain holes".
       https://github.com/huggingface/safetensors#format
.. [4] Gated models: https://huggingface.co/docs/hub/models-gated
.. [5] huggingface.js, ``packages/gguf/src/gguf.ts``: a GGUF header read from the Hub by ranged reads
       of 2 MB each, up to 50 MB.
       https://github.com/huggingface/huggingface.js/blob/main/packages/gguf/src/gguf.ts
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from llm_calc.architecture import ModelSpec
from llm_calc.gguf import HEADER_PREFIX_BYTES, GgufHeader, GgufTruncatedError, parse_gguf_header
from llm_calc.hf_config import MAX_CONFIG_BYTES, parse_config_text

DEFAULT_ENDPOINT = "https://huggingface.co"
"""The public Hub; ``HF_ENDPOINT`` replaces it (a mirror, or a local stand-in in tests) [2]."""

REQUEST_TIMEOUT_S = 3.0
"""Seconds one request may wait to connect or for data [s]. No request is retried, so a Hub that does
not answer is reported after this long, inside :data:`ANSWER_DEADLINE_S`."""

ANSWER_DEADLINE_S = 4.0
"""Seconds a file fetch may take in all before it is refused [s]: the issue asks for one line within
5 s; the rest is left for the interpreter's start-up and the message. It also bounds what a request
timeout cannot (a DNS lookup, the library's retried download of a file whose HEAD answered)."""

HEADERS_DEADLINE_S = 60.0
"""Seconds reading every safetensors header of a checkpoint may take in all [s]. A repository
reached this far answers; large checkpoints have over 160 shards (deepseek-ai/DeepSeek-V3 ships
model-00001-of-000163.safetensors to model-00163-of-000163.safetensors)."""

HEADER_WORKERS = 8
"""Safetensors headers read at once (one small ranged read each)."""

MAX_INDEX_BYTES = 64 * 1024**2
"""Largest ``model.safetensors.index.json`` read [bytes]: one line per tensor, a few MB for the largest
checkpoints (DeepSeek-V3: 59 MoE layers, its MTP layer included, x 256 experts x 3 matrices, each a
weight and a scale: over 90,000 tensors)."""

MAX_SHARDS = 10_000
"""Most safetensors files an index may name; more is not a model checkpoint."""

MAX_REPO_PART_CHARS = 96
"""Longest organisation or model name: huggingface_hub's ``validate_repo_id`` (utils/_validators.py)."""

CONFIG_FILE = "config.json"
"""The transformers model configuration (``PretrainedConfig.save_pretrained``'s file name)."""
SAFETENSORS_SINGLE_FILE = "model.safetensors"
"""A checkpoint in one file (huggingface_hub ``constants.SAFETENSORS_SINGLE_FILE``)."""
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
"""A sharded checkpoint's index: its ``weight_map`` names each tensor's shard
(huggingface_hub ``constants.SAFETENSORS_INDEX_FILE``)."""

DEFAULT_REVISION = "main"
"""The branch read unless a revision is given (huggingface_hub ``constants.DEFAULT_REVISION``)."""
ASSETS_LIBRARY = "llm_primer"
"""Our folder in huggingface_hub's assets cache (``cached_assets_path``'s ``library_name``), where the
summary of a checkpoint's headers is kept per commit."""

GGUF_FIRST_READ_BYTES = 2 * 1000**2
"""Bytes of a GGUF file asked for by the first ranged read [bytes]: huggingface.js's GGUF reader asks
for the same (``HTTP_CHUNK_SIZE = 2 * 10 ** 6``) [5]. A header is mostly its tokenizer's vocabulary
(and merges); where it is longer than this, the parser says how much more it needs and one or two
more reads ask for that."""

GGUF_MAX_READ_BYTES = HEADER_PREFIX_BYTES
"""Most bytes of a GGUF file read from the Hub while looking for the end of its header [bytes]: the
same 32 MiB the app asks of an uploaded prefix (``llm_calc.gguf.HEADER_PREFIX_BYTES``), which holds
the header of every model we know with room (huggingface.js stops at 50 MB, ``HTTP_TOTAL_MAX_SIZE``
[5]). A header that goes on past it is refused: reading further would be downloading the weights."""

GGUF_READ_DEADLINE_S = 60.0
"""Seconds the ranged reads of one GGUF header may take in all [s], once the Hub has answered its
``HEAD`` within :data:`ANSWER_DEADLINE_S` (32 MiB at 1 MB/s would take 34 s). Each read also has the
per-request :data:`REQUEST_TIMEOUT_S`, so a server that stops sending is reported sooner."""

GGUF_SCHEME = "hf://"
"""Prefix of a GGUF on the Hub as the command line takes it: ``hf://ORG/NAME/PATH/FILE.gguf``
(huggingface_hub's ``HfFileSystem`` spells paths of model repositories the same way [1])."""

GGUF_SHARD_NAME = re.compile(r"(?P<prefix>.+)-(?P<number>\d{5})-of-(?P<count>\d{5})\.gguf")
"""A shard of a split GGUF as llama.cpp names them: ``{prefix}-{n:05d}-of-{count:05d}.gguf``, counted
from 1 (``llama_split_path`` in src/llama.cpp, ``SPLIT_PATH_FORMAT = "%s-%05d-of-%05d.gguf"``;
https://github.com/ggml-org/llama.cpp/blob/master/src/llama.cpp)."""

SHARED_TOKEN_OPT_IN = "LLM_PRIMER_USE_HF_TOKEN"
"""Environment variable an operator sets to ``1`` to let a shared deployment send its ``HF_TOKEN``."""

_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub constants._is_true
_REPO_PART = re.compile(r"\w(?:[\w.-]*\w)?", re.ASCII)  # \w: ASCII letters, digits, '_' (validate_repo_id)
_COMMIT = re.compile(r"[0-9a-f]{40}")
_FILE_PART = re.compile(r"[\w.+-]{1,255}", re.ASCII)  # one folder or file name of a repository path
_SUMMARY_FORMAT = 1
_T = TypeVar("_T")


class HubError(ValueError):
    """A repository or file the Hub (or the cache) cannot give; the message is one line."""


class HubIdError(HubError):
    """Not a Hugging Face model id; refused before any request."""


class HubNotFoundError(HubError):
    """No such repository or revision on the Hub."""


class HubFileNotFoundError(HubNotFoundError):
    """The repository exists but has no file of that name (a caller may try another name)."""


class HubAccessError(HubError):
    """A gated or private repository: a token with access is needed (``HF_TOKEN``)."""


class HubUnavailableError(HubError):
    """The Hub did not answer (no network, DNS, timeout, server error), or offline and not cached."""


@dataclass(frozen=True)
class HubSettings:
    """Where and how to fetch; every field explicit, so the caller (CLI or app) decides.

    Attributes
    ----------
    endpoint : str
        Base URL of the Hub, without a trailing slash (``HF_ENDPOINT``).
    offline : bool
        Answer from the cache only, never touching the network (``HF_HUB_OFFLINE``).
    token : str or None
        Access token sent with every request, or None to send none (never read implicitly).
    hub_cache : Path
        huggingface_hub's file cache (``HF_HUB_CACHE``, by default ``$HF_HOME/hub``).
    assets_cache : Path
        huggingface_hub's assets cache (``HF_ASSETS_CACHE``, by default ``$HF_HOME/assets``), where
        the summary of a checkpoint's headers is kept.
    timeout_s : float
        Per-request timeout [s].
    """

    endpoint: str
    offline: bool
    token: str | None
    hub_cache: Path
    assets_cache: Path
    timeout_s: float = REQUEST_TIMEOUT_S

    @classmethod
    def from_env(cls, token: str | None = None) -> HubSettings:
        """Settings from the environment, read now (not when huggingface_hub was imported).

        ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``), ``HF_HOME`` (else
        ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``), ``HF_HUB_CACHE`` and
        ``HF_ASSETS_CACHE``, as huggingface_hub's ``constants`` read them [2]. The token is not read
        here: pass :func:`token_from_env`'s answer, or None.
        """
        env = os.environ
        endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            raise HubError(f"HF_ENDPOINT must be an http:// or https:// URL, got {endpoint[:100]!r}")
        offline_text = env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or ""
        xdg = env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        home = Path(os.path.expandvars(env.get("HF_HOME") or os.path.join(xdg, "huggingface"))).expanduser()
        return cls(
            endpoint=endpoint,
            offline=offline_text.strip().upper() in _TRUE,
            token=token,
            hub_cache=Path(os.path.expandvars(env.get("HF_HUB_CACHE") or str(home / "hub"))).expanduser(),
            assets_cache=Path(os.path.expandvars(env.get("HF_ASSETS_CACHE") or str(home / "assets"))).expanduser(),
        )


def token_from_env(shared_deployment: bool) -> str | None:
    """The ``HF_TOKEN`` to send, or None.

    Parameters
    ----------
    shared_deployment : bool
        False for a user's own command line: their ``HF_TOKEN`` is used. True for an app many people
        use: the operator's ``HF_TOKEN`` would let every visitor read what the operator may, so it is
        used only when the operator sets ``LLM_PRIMER_USE_HF_TOKEN=1`` (:data:`SHARED_TOKEN_OPT_IN`).
    """
    token = (os.environ.get("HF_TOKEN") or "").strip() or None
    if shared_deployment and (os.environ.get(SHARED_TOKEN_OPT_IN) or "").strip().upper() not in _TRUE:
        return None
    return token


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a model id ``ORG/NAME``, else :class:`HubIdError` (no request is made).

    The rules are huggingface_hub's ``validate_repo_id``: each part 1 to 96 ASCII letters, digits,
    '-', '_' or '.', starting and ending with a letter, digit or '_'; no '--' or '..'; not ending in
    '.git'. Unlike the library we require the organisation: ids without one are legacy aliases.
    """
    text = repo_id if isinstance(repo_id, str) else ""
    parts = text.split("/")
    if (
        len(parts) != 2
        or not all(_REPO_PART.fullmatch(part) and len(part) <= MAX_REPO_PART_CHARS for part in parts)
        or "--" in text
        or ".." in text
        or text.endswith(".git")
    ):
        raise HubIdError(
            "not a Hugging Face model id ORG/NAME (letters, digits, '-', '_', '.'; "
            f"each part at most {MAX_REPO_PART_CHARS} characters, no '--' or '..')"
        )
    return text


@dataclass(frozen=True)
class HubFile:
    """A file of a Hub repository, in the local cache.

    Attributes
    ----------
    repo_id : str
        ``ORG/NAME``.
    filename : str
        Path of the file inside the repository.
    path : Path
        Where the file is on this machine (inside :attr:`HubSettings.hub_cache`).
    commit : str
        The 40-hex commit the file was read at.
    """

    repo_id: str
    filename: str
    path: Path
    commit: str


def fetch_file(
    repo_id: str, filename: str, settings: HubSettings, max_bytes: int, revision: str = DEFAULT_REVISION
) -> HubFile:
    """A file of a model repository, downloaded into the cache once and read from it afterwards.

    Online, the Hub is asked for the file's current commit and size (one ``HEAD``) and the file is
    downloaded only when the cache lacks it; if the Hub cannot be reached the cached copy is used.
    Offline, only the cache is read.

    Parameters
    ----------
    repo_id : str
        ``ORG/NAME`` of a model repository.
    filename : str
        Path of the file inside the repository (``tokenizer.json``, ``original/tokenizer.model`` ...).
    settings : HubSettings
        Endpoint, offline, token, cache folders, timeout.
    max_bytes : int
        Largest file accepted [bytes]: a larger one is refused from its ``HEAD``, before any download.
    revision : str
        Branch, tag or 40-hex commit.

    Raises
    ------
    HubIdError, HubNotFoundError, HubFileNotFoundError, HubAccessError, HubUnavailableError, HubError
        One line each, within :data:`ANSWER_DEADLINE_S` seconds.
    """
    check_repo_id(repo_id)
    _check_filename(filename)
    if settings.offline:
        return _download(repo_id, filename, settings, revision, max_bytes)
    import huggingface_hub.file_download  # noqa: F401  imported first: the deadline times the Hub, not the import

    return _within(
        ANSWER_DEADLINE_S,
        lambda: _download(repo_id, filename, settings, revision, max_bytes),
        f"no answer from {settings.endpoint} within {ANSWER_DEADLINE_S:g} s for {repo_id}/{filename}",
    )


@dataclass(frozen=True)
class SafetensorsFile:
    """One safetensors file's header, summed.

    Attributes
    ----------
    filename : str
        Path inside the repository.
    tensor_bytes : int
        Bytes of tensor data the header indexes: the sum of ``end - begin`` over its tensors [bytes].
    tensor_count : int
        Tensors in the file.
    bytes_by_dtype : tuple of (str, int)
        Tensor bytes per safetensors dtype (``BF16``, ``U8`` ...), sorted by dtype [bytes].
    """

    filename: str
    tensor_bytes: int
    tensor_count: int
    bytes_by_dtype: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SafetensorsCheckpoint:
    """A checkpoint's safetensors files as stored on the Hub (empty: the repo has none we read)."""

    files: tuple[SafetensorsFile, ...]

    @property
    def tensor_bytes(self) -> int:
        """Stored bytes of every tensor in every file [bytes]."""
        return sum(f.tensor_bytes for f in self.files)

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def bytes_by_dtype(self) -> dict[str, int]:
        """Stored bytes per dtype over all files [bytes]."""
        totals: dict[str, int] = {}
        for file in self.files:
            for dtype, n_bytes in file.bytes_by_dtype:
                totals[dtype] = totals.get(dtype, 0) + n_bytes
        return dict(sorted(totals.items()))


@dataclass(frozen=True)
class HubModel:
    """A model read from the Hub.

    Attributes
    ----------
    repo_id : str
        ``ORG/NAME``; also the spec's name.
    commit : str
        Commit of the ``config.json`` read; the checkpoint is read at the same commit.
    spec : ModelSpec
        The architecture, from ``config.json``.
    config : HubFile
        The cached ``config.json``.
    checkpoint : SafetensorsCheckpoint or None
        The safetensors files' stored sizes, or None when they could not be read (see ``checkpoint_note``).
    checkpoint_note : str
        Why ``checkpoint`` is None or empty; ``""`` when it was read.
    """

    repo_id: str
    commit: str
    spec: ModelSpec
    config: HubFile
    checkpoint: SafetensorsCheckpoint | None
    checkpoint_note: str


def fetch_model(repo_id: str, settings: HubSettings) -> HubModel:
    """A repository's ``config.json``, parsed, and the stored size of its safetensors checkpoint.

    The checkpoint is the transformers layout: ``model.safetensors`` or the shards named by
    ``model.safetensors.index.json``. Its header summary is cached per commit, so offline answers
    carry it too. A checkpoint that cannot be read does not fail the call: ``checkpoint`` is None and
    ``checkpoint_note`` says why.

    Raises
    ------
    HubError
        The config cannot be fetched (see :func:`fetch_file`).
    ConfigError
        The config is not one we can size (too large, not JSON, an unsupported ``model_type``).
    """
    config = fetch_file(repo_id, CONFIG_FILE, settings, max_bytes=MAX_CONFIG_BYTES)
    spec = replace(parse_config_text(config.path.read_bytes(), name=repo_id), name=repo_id)
    checkpoint, note = _checkpoint(repo_id, config.commit, settings)
    return HubModel(repo_id, config.commit, spec, config, checkpoint, note)


@dataclass(frozen=True)
class HubGguf:
    """The header of a GGUF file on the Hub.

    Attributes
    ----------
    repo_id : str
        ``ORG/NAME``.
    filename : str
        Path of the ``.gguf`` file inside the repository.
    commit : str
        The 40-hex commit the header was read at.
    header : GgufHeader
        The parsed header: metadata and every tensor's type and shape.
    prefix_bytes : int
        Bytes of the file read (or found in the cache) to reach the end of its header [bytes].
    cached : bool
        Whether the header came from the local cache rather than from the Hub this time.
    """

    repo_id: str
    filename: str
    commit: str
    header: GgufHeader
    prefix_bytes: int
    cached: bool

    @property
    def uri(self) -> str:
        """``hf://ORG/NAME/FILE`` (:data:`GGUF_SCHEME`)."""
        return f"{GGUF_SCHEME}{self.repo_id}/{self.filename}"


def split_gguf_uri(uri: str) -> tuple[str, str]:
    """``hf://ORG/NAME/PATH/FILE.gguf`` as (``ORG/NAME``, ``PATH/FILE.gguf``); :class:`HubIdError`
    (no request made) when it is not of that form."""
    parts = uri.removeprefix(GGUF_SCHEME).split("/", 2) if uri.startswith(GGUF_SCHEME) else []
    if len(parts) != 3 or not parts[2]:
        raise HubIdError(f"not a GGUF on the Hub: expected {GGUF_SCHEME}ORG/NAME/FILE.gguf, got {uri[:200]!r}")
    repo_id = check_repo_id(f"{parts[0]}/{parts[1]}")
    return repo_id, _check_filename(parts[2])


def fetch_gguf_header(repo_id: str, filename: str, settings: HubSettings, revision: str = DEFAULT_REVISION) -> HubGguf:
    """The header of a GGUF file of a model repository, from ranged reads of its first megabytes.

    Online, one ``HEAD`` (within :data:`ANSWER_DEADLINE_S`) gives the file's commit; a header
    already cached for that commit is used as is, else ``GET`` with ``Range: bytes=0-1999999``
    (:data:`GGUF_FIRST_READ_BYTES`) and, while the parser says the header goes on, further ranged
    reads of what it needs, never past :data:`GGUF_MAX_READ_BYTES`, all within
    :data:`GGUF_READ_DEADLINE_S`. A server that ignores ``Range`` is read only as far as asked.
    The bytes up to the end of the header are kept in the assets cache. Offline (or when the Hub
    cannot be reached), only the cache is read.

    Parameters
    ----------
    repo_id : str
        ``ORG/NAME`` of a model repository.
    filename : str
        Path of the GGUF file inside the repository (``Qwen3-8B-Q4_K_M.gguf``, ``Q4_K_M/model-00001-of-00002.gguf``).
    settings : HubSettings
        Endpoint, offline, token, cache folders, timeout.
    revision : str
        Branch, tag or 40-hex commit.

    Raises
    ------
    HubIdError, HubNotFoundError, HubFileNotFoundError, HubAccessError, HubUnavailableError
        One line each; when the Hub cannot be reached, within :data:`ANSWER_DEADLINE_S` seconds.
    HubError
        Not a GGUF file, or a header longer than :data:`GGUF_MAX_READ_BYTES` or cut off by the file's end.
    """
    check_repo_id(repo_id)
    _check_filename(filename)
    where = f"{repo_id}/{filename}"
    if settings.offline:
        return _cached_gguf(repo_id, filename, revision, settings, reason="offline (HF_HUB_OFFLINE)")
    import huggingface_hub.file_download  # noqa: F401  imported first: the deadline times the Hub, not the import

    try:
        commit = _within(
            ANSWER_DEADLINE_S,
            lambda: _head_commit(repo_id, filename, revision, settings),
            f"no answer from {settings.endpoint} within {ANSWER_DEADLINE_S:g} s for {where}",
        )
    except HubUnavailableError as unreachable:  # as hf_hub_download does: the cached copy, if any
        try:
            return _cached_gguf(repo_id, filename, revision, settings, reason=str(unreachable))
        except HubUnavailableError:
            raise unreachable from None
    cached = _read_gguf_prefix(repo_id, filename, commit, settings)
    if cached is not None:
        return cached
    prefix = _within(
        GGUF_READ_DEADLINE_S,
        lambda: _read_gguf_prefix_from_hub(repo_id, filename, commit, settings),
        f"the header of {where} was not read within {GGUF_READ_DEADLINE_S:g} s",
    )
    header = _parse_gguf(prefix, where)
    _write_gguf_prefix(repo_id, filename, commit, revision, prefix[: header.header_bytes], settings)
    return HubGguf(repo_id, filename, commit, header, len(prefix), cached=False)


def fetch_gguf_split(
    repo_id: str, filename: str, settings: HubSettings, revision: str = DEFAULT_REVISION
) -> tuple[HubGguf, ...]:
    """The header of a GGUF file and, when it is one shard of a split GGUF (``split.count`` > 1),
    of every shard, read at the same commit: the shards' names follow from the one given
    (:data:`GGUF_SHARD_NAME`), so ``model-00001-of-00003.gguf`` is enough. One file: a 1-tuple.

    Raises what :func:`fetch_gguf_header` raises, and :class:`HubError` when a split file's name
    does not say its shards' names, or a shard is not read within :data:`HEADERS_DEADLINE_S`.
    """
    first = fetch_gguf_header(repo_id, filename, settings, revision)
    count = first.header.metadata.get("split.count")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 1:
        return (first,)
    named = GGUF_SHARD_NAME.fullmatch(filename)
    if named is None or int(named["count"]) != count or count > MAX_SHARDS:
        raise HubError(
            f"{repo_id}/{filename} is one of {count:,} shards (split.count), but its name is not "
            "PREFIX-0000N-of-0000M.gguf with that count: cannot tell the other shards' names"
        )
    names = [f"{named['prefix']}-{number:05d}-of-{count:05d}.gguf" for number in range(1, count + 1)]
    others = [name for name in names if name != filename]
    executor = ThreadPoolExecutor(max_workers=min(HEADER_WORKERS, len(others)), thread_name_prefix="llm_calc.hub")
    try:
        futures = {name: executor.submit(fetch_gguf_header, repo_id, name, settings, first.commit) for name in others}
        _, pending = wait(futures.values(), timeout=HEADERS_DEADLINE_S)
        if pending:
            raise HubUnavailableError(
                f"{len(pending):,} of {count:,} GGUF shard headers of {repo_id} unread after {HEADERS_DEADLINE_S:g} s"
            )
        read = {name: future.result() for name, future in futures.items()}
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    read[filename] = first
    return tuple(read[name] for name in names)


# --- internals -----------------------------------------------------------------------------------


def _within(seconds: float, work: Callable[[], _T], late_message: str) -> _T:
    """``work()``, or :class:`HubUnavailableError` if it has not finished within ``seconds``.

    It runs in a daemon thread: a request stuck where no timeout reaches (a DNS lookup) is left to
    end by itself and never holds up the caller or the interpreter's exit.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread as is
            outcome["error"] = error

    thread = threading.Thread(target=run, name="llm_calc.hub", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise HubUnavailableError(late_message)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _download(repo_id: str, filename: str, settings: HubSettings, revision: str, max_bytes: int) -> HubFile:
    """The file through huggingface_hub's cache, every setting explicit; errors as one-line :class:`HubError`.

    Online, one ``HEAD`` without retries comes first: ``hf_hub_download`` itself, when its ``HEAD``
    fails on the network and the cache lacks the file, retries with back-off for over 20 s, logs
    each try on stderr and closes the session other threads share. A ``HEAD`` that fails on the
    network falls back to the cache, as the library would.
    """
    from huggingface_hub import hf_hub_download

    where = f"{repo_id}/{filename}"
    if not settings.offline:
        try:
            metadata = _head(repo_id, filename, revision, settings)
        except Exception as error:
            unreachable = _hub_error(error, repo_id, filename, revision, settings)
            if not isinstance(unreachable, HubUnavailableError):
                raise unreachable from None
            try:  # as hf_hub_download does when the Hub cannot be reached: the cached copy, if any
                return _download(repo_id, filename, replace(settings, offline=True), revision, max_bytes)
            except HubUnavailableError:
                raise unreachable from None
        if metadata.size is not None and metadata.size > max_bytes:
            raise HubError(_too_large(where, metadata.size, max_bytes))
    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=settings.hub_cache,
            endpoint=settings.endpoint,
            token=settings.token or False,
            etag_timeout=settings.timeout_s,
            local_files_only=settings.offline,
        )
    except Exception as error:
        raise _hub_error(error, repo_id, filename, revision, settings) from None
    local = Path(path)
    if local.stat().st_size > max_bytes:  # a cached copy, or a Hub that did not say the size
        raise HubError(_too_large(where, local.stat().st_size, max_bytes))
    commit = local.parents[filename.count("/")].name  # the cache layout: .../snapshots/<commit>/<filename>
    if not _COMMIT.fullmatch(commit):
        raise HubUnavailableError(f"{where} came back outside the cache's snapshots/<commit>/ layout: {local}")
    return HubFile(repo_id, filename, local, commit)


def _too_large(where: str, size_bytes: int, max_bytes: int) -> str:
    return f"{where} is {size_bytes:,} bytes, more than the {max_bytes:,} read for it"


def _hub_error(error: Exception, repo_id: str, filename: str, revision: str, settings: HubSettings) -> HubError:
    """A huggingface_hub or httpx error as a one-line :class:`HubError`; a network failure is a
    :class:`HubUnavailableError` (the caller may still find the file in the cache). Anything else
    is raised again: a bug of ours must not read as "the Hub is down"."""
    import httpx
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}/{filename}"
    if isinstance(error, GatedRepoError):
        return HubAccessError(_access_message(repo_id, settings))
    if isinstance(error, RepositoryNotFoundError):
        if _status(error) in (401, 403) and settings.token is None:
            return HubAccessError(
                f"{repo_id} was not found on {settings.endpoint}, or it is private or gated: "
                "if you have access, set HF_TOKEN to a token that can read it"
            )
        return HubNotFoundError(f"no model {repo_id} on {settings.endpoint}")
    if isinstance(error, RevisionNotFoundError):
        return HubNotFoundError(f"{repo_id} has no revision {revision!r} on {settings.endpoint}")
    if isinstance(error, RemoteEntryNotFoundError):
        return HubFileNotFoundError(f"{repo_id} has no file {filename} on {settings.endpoint}")
    if isinstance(error, LocalEntryNotFoundError):
        return HubUnavailableError(
            f"offline (HF_HUB_OFFLINE) and {where} is not in the cache {settings.hub_cache}; fetch it once online"
        )
    if isinstance(error, OfflineModeIsEnabled):  # HF_HUB_OFFLINE was set when huggingface_hub was imported
        return HubUnavailableError(
            f"offline (HF_HUB_OFFLINE, read when huggingface_hub was imported) and {where} is not in the cache"
        )
    if isinstance(error, HfHubHTTPError):
        if _status(error) in (401, 403):
            return HubAccessError(_access_message(repo_id, settings))
        return HubUnavailableError(f"{settings.endpoint} answered HTTP {_status(error)} for {where}")
    if isinstance(error, (httpx.HTTPError, OSError)):
        return HubUnavailableError(
            f"cannot reach {settings.endpoint} ({_one_line(error)}) and {where} is not in the cache"
        )
    raise error


def _access_message(repo_id: str, settings: HubSettings) -> str:
    if settings.token is None:
        return (
            f"{repo_id} is gated or private on {settings.endpoint}: a token is needed; accept its licence "
            "on its Hub page and set HF_TOKEN to a token that can read it"
        )
    return f"{repo_id} is gated or private on {settings.endpoint} and the token given (HF_TOKEN) has no access to it"


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _one_line(error: BaseException | None) -> str:
    """An error as a short single line (library messages span several)."""
    if error is None:
        return "no answer"
    text = " ".join(str(error).split())[:160]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _checkpoint(repo_id: str, commit: str, settings: HubSettings) -> tuple[SafetensorsCheckpoint | None, str]:
    """The checkpoint's header summary at ``commit``: from the assets cache, else read and cached."""
    summary_path = _summary_path(settings.assets_cache, repo_id, commit)
    cached = _read_summary(summary_path)
    if cached is not None:
        return cached, _empty_note(cached)
    if settings.offline:
        return None, "offline, and the safetensors headers of this commit are not in the cache"
    try:
        names = _safetensors_names(repo_id, commit, settings)
        checkpoint = SafetensorsCheckpoint(_read_headers(repo_id, commit, names, settings))
    except HubError as error:
        return None, f"safetensors headers not read: {error}"
    _write_summary(summary_path, checkpoint)
    return checkpoint, _empty_note(checkpoint)


def _empty_note(checkpoint: SafetensorsCheckpoint) -> str:
    if checkpoint.files:
        return ""
    return f"no {SAFETENSORS_SINGLE_FILE} or {SAFETENSORS_INDEX_FILE} in the repository"


def _safetensors_names(repo_id: str, commit: str, settings: HubSettings) -> tuple[str, ...]:
    """The checkpoint's safetensors files: the index's shards, else the single file, else none."""
    try:
        index = fetch_file(repo_id, SAFETENSORS_INDEX_FILE, settings, MAX_INDEX_BYTES, revision=commit)
    except HubFileNotFoundError:
        return (SAFETENSORS_SINGLE_FILE,)  # absent too: _read_headers says so
    try:
        weight_map = json.loads(index.path.read_bytes()).get("weight_map")
    except (ValueError, AttributeError):
        raise HubError(f"{repo_id}/{SAFETENSORS_INDEX_FILE} is not a JSON object") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise HubError(f"{repo_id}/{SAFETENSORS_INDEX_FILE} has no weight_map of tensor -> file name")
    names = sorted(set(weight_map.values()))
    if not names or len(names) > MAX_SHARDS or any(".." in n or n.startswith("/") for n in names):
        raise HubError(f"{repo_id}/{SAFETENSORS_INDEX_FILE} names {len(names):,} files; not a checkpoint index")
    return tuple(names)


def _read_headers(
    repo_id: str, commit: str, names: tuple[str, ...], settings: HubSettings
) -> tuple[SafetensorsFile, ...]:
    """Each file's header by ranged reads, :data:`HEADER_WORKERS` at a time, within
    :data:`HEADERS_DEADLINE_S`. A lone ``model.safetensors`` that does not exist gives ()."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.endpoint, token=settings.token or False)

    def read(name: str) -> SafetensorsFile:
        return _header_summary(repo_id, commit, name, api, settings)

    executor = ThreadPoolExecutor(max_workers=min(HEADER_WORKERS, len(names)), thread_name_prefix="llm_calc.hub")
    try:
        futures = [executor.submit(read, name) for name in names]
        _, pending = wait(futures, timeout=HEADERS_DEADLINE_S)
        if pending:
            raise HubUnavailableError(
                f"{len(pending):,} of {len(names):,} headers unread after {HEADERS_DEADLINE_S:g} s"
            )
        try:
            return tuple(f.result() for f in futures)
        except HubFileNotFoundError:
            if names == (SAFETENSORS_SINGLE_FILE,):
                return ()
            raise
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _header_summary(repo_id: str, commit: str, name: str, api: object, settings: HubSettings) -> SafetensorsFile:
    """One file's header read by ``HfApi.parse_safetensors_file_metadata`` (one or two ranged
    ``GET``s of its first 8 + N bytes) and summed by dtype from the tensors' ``data_offsets`` [3]."""
    from huggingface_hub.errors import SafetensorsParsingError

    where = f"{repo_id}/{name}"
    try:
        metadata = api.parse_safetensors_file_metadata(  # type: ignore[attr-defined]
            repo_id, name, revision=commit, token=settings.token or False, timeout=settings.timeout_s
        )
    except SafetensorsParsingError:
        raise HubError(f"{where} does not start with a safetensors header") from None
    except Exception as error:
        raise _hub_error(error, repo_id, name, commit, settings) from None
    spans: list[tuple[int, int]] = []
    by_dtype: dict[str, int] = {}
    for info in metadata.tensors.values():
        begin, end = info.data_offsets
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise HubError(f"{where}: a tensor's data_offsets are not 0 <= begin <= end")
        spans.append((begin, end))
        by_dtype[str(info.dtype)] = by_dtype.get(str(info.dtype), 0) + end - begin
    position = 0
    for begin, end in sorted(spans):
        if begin != position:  # the format forbids holes and overlaps [3]
            raise HubError(f"{where}: tensor data_offsets leave a hole or overlap at byte {position:,}")
        position = end
    return SafetensorsFile(name, position, len(spans), tuple(sorted(by_dtype.items())))


def _summary_path(assets_cache: Path, repo_id: str, commit: str) -> Path:
    """huggingface_hub's ``cached_assets_path`` layout: ``<assets>/<library>/<namespace>/<subfolder>``."""
    return assets_cache / ASSETS_LIBRARY / repo_id.replace("/", "--") / commit / "safetensors.json"


def _read_summary(path: Path) -> SafetensorsCheckpoint | None:
    """A cached summary, or None if there is none or it is not one we wrote."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != _SUMMARY_FORMAT:
            return None
        return SafetensorsCheckpoint(
            tuple(
                SafetensorsFile(
                    str(f["filename"]),
                    int(f["tensor_bytes"]),
                    int(f["tensor_count"]),
                    tuple((str(d), int(n)) for d, n in f["bytes_by_dtype"]),
                )
                for f in data["files"]
            )
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_summary(path: Path, checkpoint: SafetensorsCheckpoint) -> None:
    """Write the summary atomically; a cache that cannot be written only costs a re-read later."""
    data = {
        "format": _SUMMARY_FORMAT,
        "files": [
            {
                "filename": f.filename,
                "tensor_bytes": f.tensor_bytes,
                "tensor_count": f.tensor_count,
                "bytes_by_dtype": [list(pair) for pair in f.bytes_by_dtype],
            }
            for f in checkpoint.files
        ],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, path)
    except OSError:
        pass


def _check_filename(filename: str) -> str:
    """``filename`` if it is a path inside a repository (no ``..``, no leading ``/``), else :class:`HubIdError`."""
    if not all(_FILE_PART.fullmatch(part) and part not in (".", "..") for part in filename.split("/")):
        raise HubIdError(f"not a file name inside a repository: {filename[:100]!r}")
    return filename


def _head(repo_id: str, filename: str, revision: str, settings: HubSettings):
    """One ``HEAD`` of ``filename`` without retries: ``huggingface_hub``'s file metadata (size,
    commit). Raises what the library raises; callers turn it into a :class:`HubError`."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    return get_hf_file_metadata(
        hf_hub_url(repo_id, filename, revision=revision, endpoint=settings.endpoint),
        token=settings.token or False,  # False: send none, even if HF_TOKEN is set
        timeout=settings.timeout_s,
        endpoint=settings.endpoint,
        retry_on_errors=False,
    )


def _head_commit(repo_id: str, filename: str, revision: str, settings: HubSettings) -> str:
    """The commit of ``filename`` at ``revision``, from one ``HEAD`` without retries."""
    try:
        metadata = _head(repo_id, filename, revision, settings)
    except Exception as error:
        raise _hub_error(error, repo_id, filename, revision, settings) from None
    commit = metadata.commit_hash or ""
    if not _COMMIT.fullmatch(commit):
        raise HubUnavailableError(f"{settings.endpoint} gave no commit (X-Repo-Commit) for {repo_id}/{filename}")
    return commit


def _read_gguf_prefix_from_hub(repo_id: str, filename: str, commit: str, settings: HubSettings) -> bytes:
    """Ranged reads from the start of the file until its header parses, within :data:`GGUF_MAX_READ_BYTES`."""
    where = f"{repo_id}/{filename}"
    asked = GGUF_FIRST_READ_BYTES
    data = _ranged_read(repo_id, filename, commit, 0, asked, settings)
    while True:
        try:
            parse_gguf_header(data)
            return data
        except GgufTruncatedError as short:
            if len(data) < asked:  # the file ended before the range did
                raise HubError(
                    f"{where} ends at byte {len(data):,}, inside its GGUF header: not a whole GGUF file"
                ) from None
            if len(data) >= GGUF_MAX_READ_BYTES:
                raise HubError(
                    f"the GGUF header of {where} goes on past the first {GGUF_MAX_READ_BYTES:,} bytes, "
                    "longer than any model's we know: not read further"
                ) from None
            asked = min(max(short.needed_bytes, 2 * len(data)), GGUF_MAX_READ_BYTES)
            data += _ranged_read(repo_id, filename, commit, len(data), asked - len(data), settings)
        except ValueError as error:  # not a GGUF file, or a header no valid file has
            raise HubError(f"{where}: {error}") from None


def _ranged_read(repo_id: str, filename: str, commit: str, start: int, length: int, settings: HubSettings) -> bytes:
    """Up to ``length`` bytes from byte ``start`` (``Range: bytes=start-(start+length-1)``), streamed,
    so that a server answering 200 with the whole file is read no further than asked."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = hf_hub_url(repo_id, filename, revision=commit, endpoint=settings.endpoint)
    headers = {**build_hf_headers(token=settings.token or False), "Range": f"bytes={start}-{start + length - 1}"}
    try:
        with get_session().stream("GET", url, headers=headers, timeout=settings.timeout_s) as response:
            if response.status_code == 416:  # the range starts past the end of the file
                return b""
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            skip = start if response.status_code == 200 else 0  # 200: the server sent the file from byte 0
            chunks, received = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                received += len(chunk)
                if received >= skip + length:
                    break
            return b"".join(chunks)[skip : skip + length]
    except Exception as error:
        raise _hub_error(error, repo_id, filename, commit, settings) from None


def _parse_gguf(prefix: bytes, where: str) -> GgufHeader:
    try:
        return parse_gguf_header(prefix)
    except ValueError as error:
        raise HubError(f"{where}: {error}") from None


def _gguf_cache_path(settings: HubSettings, repo_id: str, commit: str, filename: str) -> Path:
    """``<assets>/llm_primer/<ORG--NAME>/<commit>/gguf/<filename>``: the bytes up to the end of the header."""
    return settings.assets_cache / ASSETS_LIBRARY / repo_id.replace("/", "--") / commit / "gguf" / filename


def _gguf_ref_path(settings: HubSettings, repo_id: str, revision: str) -> Path:
    """``<assets>/llm_primer/<ORG--NAME>/refs/<revision>``: the commit a branch pointed to when last read
    (huggingface_hub keeps ``refs/<revision>`` the same way in its file cache)."""
    return settings.assets_cache / ASSETS_LIBRARY / repo_id.replace("/", "--") / "refs" / revision


def _read_gguf_prefix(repo_id: str, filename: str, commit: str, settings: HubSettings) -> HubGguf | None:
    """The cached header of ``filename`` at ``commit``, or None (absent, or no longer a header we read)."""
    try:
        prefix = _gguf_cache_path(settings, repo_id, commit, filename).read_bytes()
        header = parse_gguf_header(prefix)
    except (OSError, ValueError):
        return None
    return HubGguf(repo_id, filename, commit, header, len(prefix), cached=True)


def _cached_gguf(repo_id: str, filename: str, revision: str, settings: HubSettings, reason: str) -> HubGguf:
    """The cached header at ``revision`` (a commit, or a branch read once online), else one line saying why not."""
    commit = revision
    if not _COMMIT.fullmatch(revision):
        try:
            commit = _gguf_ref_path(settings, repo_id, revision).read_text().strip()
        except OSError:
            commit = ""
    cached = _read_gguf_prefix(repo_id, filename, commit, settings) if _COMMIT.fullmatch(commit) else None
    if cached is None:
        raise HubUnavailableError(
            f"{reason}, and the GGUF header of {repo_id}/{filename} is not in the cache; read it once online"
        )
    return cached


def _write_gguf_prefix(
    repo_id: str, filename: str, commit: str, revision: str, prefix: bytes, settings: HubSettings
) -> None:
    """Keep the header bytes and the branch's commit; a cache that cannot be written only costs a re-read."""
    try:
        writes = [(_gguf_cache_path(settings, repo_id, commit, filename), prefix)]
        if revision != commit:
            writes.append((_gguf_ref_path(settings, repo_id, revision), commit.encode()))
        for path, data in writes:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, path)
    except OSError:
        pass
