"""Token counts while the user types, computed in the browser without a Streamlit rerun.

The token estimator's ``st.text_area`` stays the source of truth: its value is committed (and put
in the link) on Ctrl+Enter or when it loses focus, and the server's exact counts follow as before.
Between commits this component, mounted under the text area, counts the text on every keystroke
(debounced) with js-tiktoken's ``Tiktoken`` class, vendored unchanged in ``ui/vendor/js-tiktoken/``
by ``scripts/vendor_js_tokenizer.py``.

The browser reads the same rank files as the server: Streamlit serves a declared component's
folder at ``component/<name>/``, so ``data/tokenizers/`` is declared as one. Mistral's
``tekken_240718.json`` sits in a package folder with other files, so the bytes the server verified
are served from a folder of their own (``SERVED_COPIES``). Llama 3 is counted on apply only (see
``BROWSER_PATTERNS``). A file
is offered only after the server has loaded the tokenizer, which checks the file's SHA-256
(``llm_calc.tokenizers.read_verified``); the browser checks the download against that hash again
where it can (a secure context).

Mistral Tekken is a tiktoken encoding too: its JSON vocabulary is read the way
``llm_calc.tokenizers`` reads it. Mistral's SentencePiece tokenizer has no browser counterpart here
and is listed as counted when the text is applied.

References
----------
.. [1] js-tiktoken 1.0.21 (npm), ``dist/ranks/<encoding>.js``: the ``pat_str`` of each encoding
   in JavaScript ``RegExp`` syntax, copied into ``BROWSER_PATTERNS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.components.v1 import declare_component

from llm_calc.tokenizers import (
    REGISTRY,
    TEKKEN_FILE,
    TOKENIZER_DIR,
    TokenizerError,
    _shipped_hashes,
    get_tokenizer,
    package_file,
    read_verified,
)

VENDOR_DIR = Path(__file__).resolve().parent / "vendor" / "js-tiktoken"

DEBOUNCE_MS = 40
"""Wait after the last keystroke before counting. With the sample texts a count takes a few
milliseconds in the browser, so the figure follows a keystroke well within the 100 ms the token
estimator promises (issue 14)."""

LIVE_MAX_CHARS = 20_000
"""Longer texts are counted on apply only. A keystroke re-merges only the pieces it changed (the
browser remembers each piece's count), but a new paste merges every piece once, and js-tiktoken's
merge loop is quadratic in a piece's length: 24,400 characters of Chinese took 0.3 s and a
5,000-character run of one letter 2 s (Node 20, one encoding)."""

_CONTRACTIONS = "'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D"
_GPT2_BROWSER = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_CL100K_BROWSER = f"({_CONTRACTIONS})|" + "|".join(
    [r"[^\r\n\p{L}\p{N}]?\p{L}+", r"\p{N}{1,3}", r" ?[^\s\p{L}\p{N}]+[\r\n]*", r"\s*[\r\n]+", r"\s+(?!\S)", r"\s+"]
)
_O200K_BROWSER = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + f"({_CONTRACTIONS})?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + f"({_CONTRACTIONS})?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)
BROWSER_PATTERNS: dict[str, str] = {
    "o200k_base": _O200K_BROWSER,
    "cl100k_base": _CL100K_BROWSER,
    "p50k_base": _GPT2_BROWSER,
    "r50k_base": _GPT2_BROWSER,
    "mistral_tekken": r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|"
    r"\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
"""Each live encoding's pre-tokenizer pattern as JavaScript's ``RegExp`` (flags ``ug``) accepts it:
JavaScript has no possessive quantifiers (``++``) and, in the browsers we support, no inline
``(?i:…)``, so the server's patterns in ``llm_calc.tokenizers`` are written without them, as in
js-tiktoken's rank modules [1]. Mistral Tekken's is the one in ``tekken_240718.json``, which
JavaScript accepts as it is. Llama 3 is not counted live: sending Meta's ``tokenizer.model`` to
every browser would redistribute a file under Meta's Llama licence, which must then travel with its
agreement and attribution; the server counts with it without sending it, on apply.
``tests/test_vendor_js.py`` checks that each splits text exactly as the server's pattern does."""

_BASE64_IMPORT = "import base64 from 'base64-js';"
_BASE64_SHIM = "const base64 = { toByteArray: (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)) };"
"""js-tiktoken's one dependency, base64-js, is used once, for ``toByteArray`` on the rank file's
base64 tokens; the browser's own ``atob`` decodes them the same way, so that import is replaced
when the module is assembled and base64-js is not vendored."""

_HTML = '<div class="live-counter" data-testid="live-counter" data-status="loading"><span class="items"></span> <span class="note"></span></div>'  # noqa: E501
_CSS = """
.live-counter { font-size: 0.875rem; color: rgba(49, 51, 63, 0.7); margin-top: -0.5rem; }
.live-counter .count + .count::before { content: " · "; }
.live-counter b { color: rgb(49, 51, 63); font-variant-numeric: tabular-nums; }
"""


@dataclass(frozen=True)
class RankFile:
    """Where a live encoding's tiktoken rank file is on disk, its published SHA-256, and the name
    under which Streamlit serves its folder to the browser."""

    folder: Path
    file: str
    sha256: str
    served_as: str
    format: str = "tiktoken"
    """``tiktoken`` (``base64-token rank`` lines) or ``tekken`` (Mistral's JSON vocabulary)."""


def rank_file(name: str) -> RankFile:
    """The rank file the server verifies for ``name`` (and serves to the browser);
    ``TokenizerError`` if it is not shipped, ``ValueError`` for an encoding not counted live."""
    if name not in BROWSER_PATTERNS:
        raise ValueError(f"{name!r} is not counted in the browser; live encodings: {', '.join(BROWSER_PATTERNS)}")
    if name == "mistral_tekken":
        distribution, relative, digest = TEKKEN_FILE
        path = package_file(distribution, relative)
        return RankFile(path.parent, path.name, digest, served_as="mistral_tekken", format="tekken")
    digest = _shipped_hashes().get(f"{name}.tiktoken")
    if digest is None:
        raise TokenizerError(f"{TOKENIZER_DIR / 'SHA256SUMS'} lists no hash for {name}.tiktoken")
    return RankFile(TOKENIZER_DIR, f"{name}.tiktoken", digest, served_as="tokenizers")


@cache
def worker_js() -> str:
    """The counting worker's module: the vendored js-tiktoken chunk, then ui/live_counter_worker.js."""
    vendored = json.loads((VENDOR_DIR / "VENDORED.json").read_text())
    library = (VENDOR_DIR / vendored["entry"]).read_text()
    if library.count(_BASE64_IMPORT) != 1:
        raise RuntimeError(f"{VENDOR_DIR / vendored['entry']} no longer imports base64-js as expected")
    worker = Path(__file__).with_name("live_counter_worker.js").read_text()
    return library.replace(_BASE64_IMPORT, _BASE64_SHIM) + "\n" + worker


def module_js() -> str:
    """The component's JavaScript module: the worker's source as a string (``WORKER_SOURCE``, started
    from a blob), then ui/live_counter.js."""
    return f"const WORKER_SOURCE = {json.dumps(worker_js())};\n" + Path(__file__).with_suffix(".js").read_text()


_COMPONENT = st.components.v2.component("live_token_counter", html=_HTML, css=_CSS, js=module_js())


SERVED_COPIES = Path(tempfile.gettempdir()) / "llm-primer-rank-files"
"""A package's folder holds more than its rank file (mistral-common's holds Python sources too), so
a package's rank file is served from a folder of its own here: a copy of the bytes the server
verified, in a folder named by their SHA-256. ``data/tokenizers/`` is served as it is."""


@cache
def served_folder(rank: RankFile) -> Path:
    """The folder Streamlit serves ``rank``'s file from; ``TokenizerError`` if it cannot be made."""
    if rank.folder == TOKENIZER_DIR:
        return TOKENIZER_DIR
    folder = SERVED_COPIES / rank.sha256
    target = folder / rank.file
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == rank.sha256:
        return folder
    data = read_verified(rank.folder / rank.file, rank.sha256)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{rank.file}.{os.getpid()}"
        partial.write_bytes(data)
        partial.replace(target)  # atomic: another process never serves half a file
    except OSError as error:
        raise TokenizerError(f"cannot write {target} for the browser ({error.strerror})") from None
    return folder


def _url(rank: RankFile) -> str:
    """Have Streamlit serve the rank file's folder as a v1 component's files (``component/<name>/``)
    and return the file's URL relative to the page, named by its content (``?sha256=``). Declaring
    the same folder again on each run is a no-op for Streamlit's registry; outside a running app
    nothing is registered.

    Streamlit serves component files with ``Cache-Control: public`` and no freshness or validator,
    so a browser would download the rank files (Tekken's is 14.8 MB) again on every visit; the
    browser fetches them with ``cache: "force-cache"``, which the hash in the URL makes safe: a
    changed file is a new URL (the server ignores the query)."""
    folder = declare_component(rank.served_as, path=served_folder(rank)).name
    return f"component/{folder}/{rank.file}?sha256={rank.sha256}"


def live_counter_data(chosen: list[str], special: bool, text_key: str) -> dict:
    """What the browser needs to count ``chosen`` encodings as the user types into ``text_key``.

    An encoding whose tokenizer did not load (a missing or altered file) is left out: the page
    reports it already."""
    live, later = [], []
    for name in chosen:
        if name not in BROWSER_PATTERNS:
            later.append(REGISTRY[name].label)
            continue
        try:
            specials = sorted(get_tokenizer(name).special_tokens())  # loading verifies the file
            rank = rank_file(name)
            url = _url(rank)
        except TokenizerError:
            continue
        live.append(
            {
                "name": name,
                "label": REGISTRY[name].label,
                "file": rank.file,
                "format": rank.format,
                "url": url,
                "sha256": rank.sha256,
                "pattern": BROWSER_PATTERNS[name],
                "special_tokens": specials,
            }
        )
    return {
        "text_key": text_key,
        "special": special,
        "debounce_ms": DEBOUNCE_MS,
        "max_chars": LIVE_MAX_CHARS,
        "live": live,
        "later": later,
    }


def live_counter(chosen: list[str], special: bool, text_key: str = "text") -> None:
    """Mount the live counter under the text area whose widget key is ``text_key``."""
    _COMPONENT(key="live_counter", data=live_counter_data(chosen, special, text_key))
