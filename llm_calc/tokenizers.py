"""A registry of the tokenizers we ship, loaded offline and verified by hash.

Like tiktoken's own ``registry``/``load`` modules: each entry names a constructor, files are
read from disk only (never downloaded), and every file's SHA-256 is checked before use, so a
missing or altered file fails with a message that says which file and what to do.

Where the files come from:

* OpenAI encodings (o200k_base, cl100k_base, p50k_base, r50k_base): ``data/tokenizers/`` in this
  repository, the exact files tiktoken downloads (same hashes as tiktoken's ``expected_hash``).
* Llama 3: ``llama_models/llama3/tokenizer.model`` inside Meta's ``llama-models`` package.
* Mistral: ``mistral_common/data/tokenizer.model.v1`` (SentencePiece; Mistral 7B, Mixtral) and
  ``tekken_240718.json`` (Tekken; Mistral NeMo, Ministral) inside ``mistral-common``.

The packaged files are located through package metadata without importing the packages.

References
----------
.. [1] tiktoken 0.14.0 ``tiktoken_ext/openai_public.py`` (patterns, special tokens, hashes).
.. [2] llama-models 0.3.0 ``llama_models/llama3/tokenizer.py`` (pattern, 256 special tokens).
.. [3] mistral-common 1.13.1 ``tokens/tokenizers/tekken.py`` (vocabulary cut, 1,000 special ids).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Protocol

from llm_calc.catalog import DATA_DIR

TOKENIZER_DIR = DATA_DIR / "tokenizers"

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
    r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPECIAL_TOKENS = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    "<|image|>",
]  # fmt: skip
LLAMA3_RESERVED_SPECIAL_TOKENS = 256


class TokenizerError(RuntimeError):
    """A tokenizer file is missing, altered or unreadable."""


class Tokenizer(Protocol):
    """What the app needs from any tokenizer."""

    name: str

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids; ``special=True`` turns special-token text into special tokens."""
        ...

    def count(self, text: str, special: bool = False) -> int: ...

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for (for display)."""
        ...

    def special_tokens(self) -> frozenset[str]:
        """Special-token strings this tokenizer can recognise in text."""
        ...


@dataclass(frozen=True)
class TokenizerInfo:
    """A registry entry: what it is, what uses it, whether our count is exact for those models."""

    name: str
    label: str
    models: str
    source: str
    load: Callable[[], Tokenizer]


# --- file access, always verified ---------------------------------------------------------


def read_verified(path: Path, expected_sha256: str) -> bytes:
    """The file's bytes if its SHA-256 matches; ``TokenizerError`` naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TokenizerError(f"tokenizer file {path} cannot be read ({error.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise TokenizerError(
            f"tokenizer file {path} is altered or corrupt: sha256 {digest[:12]}… "
            f"expected {expected_sha256[:12]}…; restore it from the repository or reinstall the package"
        )
    return data


def _shipped_hashes() -> dict[str, str]:
    text = (TOKENIZER_DIR / "SHA256SUMS").read_text()
    return {name: digest for digest, name in (line.split() for line in text.splitlines() if line.strip())}


def package_file(distribution: str, relative: str) -> Path:
    """A data file inside an installed distribution, found without importing the package."""
    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        raise TokenizerError(f"package {distribution!r} is not installed: pip install -r requirements.txt") from None
    for file in files:
        if str(file) == relative:
            return Path(str(file.locate()))
    raise TokenizerError(f"package {distribution!r} has no {relative}")


def parse_tiktoken_ranks(data: bytes, source: str) -> dict[bytes, int]:
    """``base64-token rank`` lines to the mergeable-ranks dict tiktoken expects."""
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise TokenizerError(f"{source} line {number} is not 'base64-token rank'") from None
    return ranks


# --- implementations ----------------------------------------------------------------------

CHUNK_CHARS = 200_000
"""Texts are counted in pieces of about this size, cut after a newline that has a visible
character on both sides. Every pattern above ends a piece at such a newline whether or not the
text ends there (a space or CR before the newline would not be safe: r50k's ``\\s++$`` would
join them), so the count is the same as for the whole text. The pieces are encoded on parallel
threads and stay below the length at which tiktoken's regex can fail on one enormous
whitespace-free run [2]."""

COUNT_WORKERS = max(2, os.cpu_count() or 1)
"""Threads that count pieces at once, shared by every count in the process. tiktoken's
``encode_ordinary`` releases the GIL while it encodes (its ``encode_ordinary_batch`` runs on a
thread pool for that reason), so pieces of several texts and encodings run on every core; at
most this many pieces' token lists are alive at once."""

_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()
_IN_POOL = threading.local()


def _mark_pool_thread() -> None:
    _IN_POOL.active = True


def run_counts(jobs: list[Callable[[], int]]) -> list[int]:
    """Each job's count, the jobs run on the shared pool of :data:`COUNT_WORKERS` threads.

    A job that itself counts (from inside the pool) runs its jobs in its own thread: waiting on
    the pool from the pool could leave every worker waiting."""
    if len(jobs) <= 1 or getattr(_IN_POOL, "active", False):
        return [job() for job in jobs]
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(
                ThreadPoolExecutor(COUNT_WORKERS, thread_name_prefix="llm_calc.count", initializer=_mark_pool_thread)
            )
        pool = _POOL[0]
    return [future.result() for future in [pool.submit(job) for job in jobs]]


def count_jobs(tokenizer: Tokenizer, text: str, special: bool = False) -> list[Callable[[], int]]:
    """``tokenizer``'s count of ``text`` as independent jobs whose counts add up to it: one per piece
    for a tokenizer that can split the text (``count_jobs`` method), else one job."""
    split = getattr(tokenizer, "count_jobs", None)
    if split is not None:
        return split(text, special)
    return [lambda: tokenizer.count(text, special)]


def count_many(text: str, names: Iterable[str], special: bool = False) -> dict[str, int]:
    """``text`` counted with each named shipped tokenizer, every piece of every tokenizer on the
    shared pool at once (the page's and the benchmark's path); ``ValueError`` for an unknown name."""
    tokenizers = {name: get_tokenizer(name) for name in names}
    owners, jobs = [], []
    for name, tokenizer in tokenizers.items():
        pieces = count_jobs(tokenizer, text, special)
        owners += [name] * len(pieces)
        jobs += pieces
    totals = dict.fromkeys(tokenizers, 0)
    for name, count in zip(owners, run_counts(jobs), strict=True):
        totals[name] += count
    return totals


_SAFE_CUT = re.compile(r"(?<=\S)\n(?=\S)")


def split_for_counting(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Pieces of ``text`` at token-boundary-safe newlines, each about ``size`` characters."""
    return _split(text, size, _SAFE_CUT, drop_separator=False)


_SPACE_CUT = re.compile(r"(?<=\S) (?=\S)")


def split_at_spaces(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Pieces for SentencePiece: cut at a single space between two visible characters and drop
    that space. SentencePiece adds a dummy-prefix space to every piece it encodes and splits on
    whitespace, so each piece's first word gets back exactly the "▁" it had in the whole text."""
    return _split(text, size, _SPACE_CUT, drop_separator=True)


def _split(text: str, size: int, cut: re.Pattern[str], drop_separator: bool) -> list[str]:
    if len(text) <= size:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        match = cut.search(text, start + size) if start + size < len(text) else None
        if match is None:
            pieces.append(text[start:])
            break
        pieces.append(text[start : match.start() if drop_separator else match.end()])
        start = match.end()
    return pieces


class TiktokenTokenizer:
    """A tiktoken ``Encoding`` (OpenAI encodings, Llama 3, Mistral Tekken)."""

    def __init__(self, name: str, encoding, id_offset: int = 0, parses_special: bool = True) -> None:
        self.name = name
        self._encoding = encoding
        self._id_offset = id_offset  # Tekken ids start after its 1,000 special ids
        self._parses_special = parses_special

    def encode(self, text: str, special: bool = False) -> list[int]:
        if special and self._parses_special:
            ids = self._encoding.encode(text, allowed_special="all")
        else:
            ids = self._encoding.encode_ordinary(text)
        return [i + self._id_offset for i in ids] if self._id_offset else ids

    def count(self, text: str, special: bool = False) -> int:
        return sum(run_counts(self.count_jobs(text, special)))

    def count_jobs(self, text: str, special: bool = False) -> list[Callable[[], int]]:
        """One job per piece of :func:`split_for_counting` (special-token text: the whole text)."""
        if special and self._parses_special:
            return [lambda: len(self._encoding.encode(text, allowed_special="all"))]
        encode = self._encoding.encode_ordinary
        return [lambda piece=piece: len(encode(piece)) for piece in split_for_counting(text)]

    def token_bytes(self, token_id: int) -> bytes:
        return self._encoding.decode_single_token_bytes(token_id - self._id_offset)

    def special_tokens(self) -> frozenset[str]:
        return frozenset(self._encoding.special_tokens_set) if self._parses_special else frozenset()


class SentencePieceTokenizer:
    """A SentencePiece model (Mistral 7B v1). Control tokens are never parsed from text."""

    _BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")

    def __init__(self, name: str, processor) -> None:
        self.name = name
        self._sp = processor

    def encode(self, text: str, special: bool = False) -> list[int]:
        return self._sp.encode(text)

    def count(self, text: str, special: bool = False) -> int:
        pieces = split_at_spaces(text)
        if len(pieces) == 1:
            return len(self._sp.encode(text))
        return sum(sum(map(len, self._sp.encode(pieces[i : i + 4], num_threads=2))) for i in range(0, len(pieces), 4))

    def token_bytes(self, token_id: int) -> bytes:
        piece = self._sp.id_to_piece(token_id)
        byte = self._BYTE_PIECE.fullmatch(piece)
        if byte:
            return bytes([int(byte.group(1), 16)])
        return piece.replace("\u2581", " ").encode()

    def special_tokens(self) -> frozenset[str]:
        return frozenset()


# --- constructors -------------------------------------------------------------------------


def _openai(name: str, pattern: str, special: dict[str, int]) -> Callable[[], Tokenizer]:
    def load() -> Tokenizer:
        import tiktoken

        expected = _shipped_hashes().get(f"{name}.tiktoken")
        if expected is None:
            raise TokenizerError(f"{TOKENIZER_DIR / 'SHA256SUMS'} lists no hash for {name}.tiktoken")
        path = TOKENIZER_DIR / f"{name}.tiktoken"
        ranks = parse_tiktoken_ranks(read_verified(path, expected), str(path))
        return TiktokenTokenizer(
            name, tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)
        )

    return load


LLAMA3_FILE = (
    "llama-models",
    "llama_models/llama3/tokenizer.model",
    "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55",
)
MISTRAL_V1_FILE = (
    "mistral-common",
    "mistral_common/data/tokenizer.model.v1",
    "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055",
)
TEKKEN_FILE = (
    "mistral-common",
    "mistral_common/data/tekken_240718.json",
    "eccd1665d2e477697c33cb7f0daa6f6dfefc57a0a6bceb66d4be52952f827516",
)


def _llama3() -> Tokenizer:
    import tiktoken

    distribution, relative, digest = LLAMA3_FILE
    path = package_file(distribution, relative)
    ranks = parse_tiktoken_ranks(read_verified(path, digest), str(path))
    names = LLAMA3_SPECIAL_TOKENS + [
        f"<|reserved_special_token_{2 + i}|>"
        for i in range(LLAMA3_RESERVED_SPECIAL_TOKENS - len(LLAMA3_SPECIAL_TOKENS))
    ]
    special = {token: len(ranks) + i for i, token in enumerate(names)}
    return TiktokenTokenizer(
        "llama3",
        tiktoken.Encoding(name="llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens=special),
    )


def _mistral_tekken() -> Tokenizer:
    import tiktoken

    distribution, relative, digest = TEKKEN_FILE
    path = package_file(distribution, relative)
    model = json.loads(read_verified(path, digest))
    config = model["config"]
    special_count = config["default_num_special_tokens"]
    inner = config["default_vocab_size"] - special_count
    ranks = {base64.b64decode(entry["token_bytes"]): entry["rank"] for entry in model["vocab"][:inner]}
    encoding = tiktoken.Encoding(
        name="mistral_tekken", pat_str=config["pattern"], mergeable_ranks=ranks, special_tokens={}
    )
    # Mistral never parses control tokens out of text: "<s>" in a prompt is three ordinary tokens.
    return TiktokenTokenizer("mistral_tekken", encoding, id_offset=special_count, parses_special=False)


def _mistral_v1() -> Tokenizer:
    import sentencepiece

    distribution, relative, digest = MISTRAL_V1_FILE
    path = package_file(distribution, relative)
    processor = sentencepiece.SentencePieceProcessor(model_proto=read_verified(path, digest))
    return SentencePieceTokenizer("mistral_v1", processor)


REGISTRY: dict[str, TokenizerInfo] = {
    info.name: info
    for info in (
        TokenizerInfo("o200k_base", "OpenAI o200k_base", "GPT-4o, GPT-4.1, o1/o3/o4, GPT-5",
                      "tiktoken file, shipped in data/tokenizers",
                      _openai("o200k_base", O200K_PATTERN, {ENDOFTEXT: 199999, ENDOFPROMPT: 200018})),
        TokenizerInfo("cl100k_base", "OpenAI cl100k_base",
                      "GPT-4, GPT-4 Turbo, GPT-3.5 Turbo, text-embedding-3",
                      "tiktoken file, shipped in data/tokenizers",
                      _openai("cl100k_base", CL100K_PATTERN, {ENDOFTEXT: 100257, FIM_PREFIX: 100258,
                                                              FIM_MIDDLE: 100259, FIM_SUFFIX: 100260,
                                                              ENDOFPROMPT: 100276})),
        TokenizerInfo("p50k_base", "OpenAI p50k_base", "text-davinci-002/003, Codex",
                      "tiktoken file, shipped in data/tokenizers",
                      _openai("p50k_base", R50K_PATTERN, {ENDOFTEXT: 50256})),
        TokenizerInfo("r50k_base", "OpenAI r50k_base (GPT-2)", "GPT-3 davinci/curie/babbage/ada, GPT-2",
                      "tiktoken file, shipped in data/tokenizers",
                      _openai("r50k_base", R50K_PATTERN, {ENDOFTEXT: 50256})),
        TokenizerInfo("llama3", "Llama 3", "Llama 3, 3.1, 3.2, 3.3",
                      "tokenizer.model from Meta's llama-models package", _llama3),
        TokenizerInfo("mistral_v1", "Mistral v1 (SentencePiece)", "Mistral 7B, Mixtral 8x7B",
                      "tokenizer.model.v1 from mistral-common", _mistral_v1),
        TokenizerInfo("mistral_tekken", "Mistral Tekken", "Mistral NeMo, Ministral",
                      "tekken_240718.json from mistral-common", _mistral_tekken),
    )
}  # fmt: skip


def tokenizer_info(name: str) -> TokenizerInfo:
    """Registry entry by name; ``ValueError`` naming the choices otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(REGISTRY)}") from None


@cache
def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer, loaded once per process (verified on that first load)."""
    return tokenizer_info(name).load()
