"""Any model's tokenizer by its Hugging Face id: its ``tokenizer.json`` counted with the ``tokenizers``
library, and the token overhead of its chat template.

The files are fetched through :func:`llm_calc.hub.fetch_file` (the one module that does I/O; it honours
``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and the ``HF_TOKEN`` rules, and keeps every file in
huggingface_hub's cache, so a tokenizer read once is read from disk afterwards):

- ``tokenizer.json``: the whole tokenizer (normalizer, pre-tokenizer, model, added tokens) as the
  ``tokenizers`` library saves it [1]. Required: a repository without one (some ship only a tiktoken
  file or a SentencePiece model and remote code, e.g. Moonshot's Kimi K2 models: a ``tiktoken.model``
  read by their ``tokenization_kimi.py`` [4]) is refused by name, since reading it would mean running
  the repository's code;
- ``chat_template.jinja``, else the ``chat_template`` of ``tokenizer_config.json``: the chat template,
  as transformers 5 reads them [2]; ``tokenizer_config.json`` also names the special tokens
  (``bos_token``, ``eos_token`` ...) a template may print.

The three are fetched at once, so a Hub that does not answer is reported once, within the hub's
:data:`~llm_calc.hub.ANSWER_DEADLINE_S`.

A fetched tokenizer fits :class:`llm_calc.tokenizers.Tokenizer`: counts are of the text alone
(``add_special_tokens=False``: no BOS or EOS added by a post-processor), like the shipped tokenizers';
the chat template is where a model's framing tokens come from.

Chat overhead: the template is rendered for a system and a user message with
``add_generation_prompt=True`` (the prompt a model sees before it answers) in Jinja's
``ImmutableSandboxedEnvironment`` with the options, filters and globals transformers gives it [2][3].
The overhead is the rendered prompt's tokens (special-token text parsed as special tokens, as
``apply_chat_template`` tokenizes it) minus the two messages' own tokens. A template that refuses
the chat (``raise_exception``), breaks the sandbox's rules or fails otherwise is reported with its
reason, never raised.

References
----------
.. [1] Hugging Face tokenizers, "Tokenizer" (``Tokenizer.from_str``, ``encode``,
       ``encode_special_tokens``, ``no_truncation``),
       https://huggingface.co/docs/tokenizers/api/tokenizer
.. [2] transformers 5.17 ``utils/chat_template_utils.py`` (``_cached_compile_jinja_template``:
       ``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)``, ``loopcontrols``, a
       ``{% generation %}`` tag, the ``tojson`` filter without HTML escaping, ``raise_exception`` and
       ``strftime_now``) and ``tokenization_utils_base.py`` (``apply_chat_template``: the special
       tokens map passed to the template, the result tokenized with ``add_special_tokens=False``).
.. [3] Jinja, "Sandbox", https://jinja.palletsprojects.com/en/stable/sandbox/
.. [4] exo-explore/exo pull request 1024, "Fix Kimi K2 Thinking download by adding tiktoken.model",
       https://github.com/exo-explore/exo/pull/1024; thinking-machines-lab/tinker-cookbook pull request
       784 (Kimi's ``tokenization_kimi.TikTokenTokenizer``),
       https://github.com/thinking-machines-lab/tinker-cookbook/pull/784
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llm_calc.hub import (
    DEFAULT_REVISION,
    HubError,
    HubFile,
    HubFileNotFoundError,
    HubSettings,
    check_repo_id,
    fetch_file,
)
from llm_calc.tokens import TokenCount, word_count

TOKENIZER_FILE = "tokenizer.json"
"""The ``tokenizers`` library's one-file tokenizer (transformers ``TOKENIZER_FILE``)."""
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
"""transformers' tokenizer settings: special tokens, and the chat template before transformers 4.43."""
CHAT_TEMPLATE_FILE = "chat_template.jinja"
"""The chat template as its own file (transformers ``CHAT_TEMPLATE_FILE``); it wins over the config's."""

MAX_TOKENIZER_BYTES = 64 * 1024**2
"""Largest ``tokenizer.json`` read [bytes]. The file holds the whole vocabulary and every BPE merge as
JSON text; vocabularies reach 262,144 tokens (Gemma 3), a few tens of MB of JSON. A larger file is
refused from its size before any download."""
MAX_TOKENIZER_CONFIG_BYTES = 8 * 1024**2
"""Largest ``tokenizer_config.json`` read [bytes]: its ``added_tokens_decoder`` lists every added token
in about 150 bytes of JSON each, so 8 MiB holds over 50,000 of them."""
MAX_CHAT_TEMPLATE_BYTES = 1024**2
"""Largest ``chat_template.jinja`` read [bytes]; real templates are a few KB."""

MAX_COUNT_CHARS = 1_000_000
"""Longest text a fetched tokenizer counts [characters]. ``tokenizers`` keeps per-byte alignments
and per-token offsets and strings while it encodes: 713 MiB of peak memory for a 4,000,000-character
text here (187 bytes a character; byte-level BPE with a 2,000-token vocabulary trained on this
repository's README, tokenizers 0.23.3), so 1 M characters take about 190 MB.
The shipped tokenizers count longer texts in pieces cut where their patterns are known to split;
an arbitrary ``tokenizer.json`` gives no such guarantee, so longer texts are refused, not guessed."""

MAX_RENDERED_CHARS = 1_000_000
"""Most characters a chat template may print beyond the messages it is given; a template that loops
further is stopped and reported."""

SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
"""The named special tokens transformers passes to a chat template (``SPECIAL_TOKENS_ATTRIBUTES``) [2]."""
DEFAULT_TEMPLATE_NAME = "default"
"""The template used when ``chat_template`` is a list of named templates (transformers' choice)."""
DEFAULT_SYSTEM_MESSAGE = "You are a helpful assistant."
"""The system message of the chat whose overhead is shown unless another is given (the OpenAI
Cookbook's example system message, "How to count tokens with tiktoken")."""


class NoTokenizerJsonError(HubFileNotFoundError):
    """The repository exists but has no ``tokenizer.json``: its tokenizer needs its own code."""


@dataclass(frozen=True)
class ChatOverhead:
    """A chat template rendered for a system and a user message, and what it adds.

    Attributes
    ----------
    prompt_tokens : int or None
        Tokens of the rendered prompt; None when it was not rendered.
    content_tokens : int
        Tokens of the system and user messages counted alone.
    problem : str
        Why the template was not rendered (no template, it refused, it broke the sandbox); ``""``
        when it was.
    rendered : str
        The rendered prompt (``""`` when not rendered).
    """

    prompt_tokens: int | None
    content_tokens: int
    problem: str
    rendered: str = ""

    @property
    def overhead_tokens(self) -> int | None:
        """Tokens the template adds: ``prompt_tokens - content_tokens``; None when not rendered."""
        return None if self.prompt_tokens is None else self.prompt_tokens - self.content_tokens


class HfTokenizer:
    """A ``tokenizer.json`` read by the ``tokenizers`` library; fits :class:`llm_calc.tokenizers.Tokenizer`.

    Parameters
    ----------
    name : str
        What the tokenizer is reported as (the repository id).
    tokenizer_json : str
        The ``tokenizer.json`` text.
    config : dict
        ``tokenizer_config.json`` (empty when the repository has none).
    chat_template : str or None
        The chat template, or None when the repository has none.
    commit : str
        The commit ``tokenizer.json`` was read at (``""`` when not from the Hub).
    template_note : str
        Why there is no chat template, when ``chat_template`` is None.
    """

    def __init__(
        self,
        name: str,
        tokenizer_json: str,
        config: dict | None = None,
        chat_template: str | None = None,
        commit: str = "",
        template_note: str = "",
    ) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        try:
            tokenizer = RustTokenizer.from_str(tokenizer_json)
        except Exception as error:  # the library raises a bare Exception naming the JSON problem
            raise ValueError(
                f"{name}/{TOKENIZER_FILE} is not a tokenizer the tokenizers library reads: {error}"
            ) from None
        # A tokenizer.json may carry truncation (BERT-style: 512) or padding; a count must see every token.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.name = name
        self.commit = commit
        self.chat_template = chat_template
        self.template_note = template_note if chat_template is None else ""
        self.config = config or {}
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # encode_special_tokens is a setting of the shared object
        added = tokenizer.get_added_tokens_decoder()
        self._special = frozenset(token.content for token in added.values() if token.special)
        self._added = {token_id: token.content for token_id, token in added.items()}
        self._byte_level = _uses_byte_level(json.loads(tokenizer_json))

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids of ``text`` alone; ``special=False`` reads special-token text as ordinary text."""
        if len(text) > MAX_COUNT_CHARS:
            raise ValueError(
                f"{self.name}: a fetched tokenizer counts at most {MAX_COUNT_CHARS:,} characters "
                f"(the text has {len(text):,}); the shipped tokenizers count longer texts"
            )
        with self._lock:
            self._tokenizer.encode_special_tokens = not special
            return self._tokenizer.encode(text, add_special_tokens=False).ids

    def count(self, text: str, special: bool = False) -> int:
        return len(self.encode(text, special))

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for, for display: an added token's text; a byte-level token's
        bytes (GPT-2's byte-to-character map undone); else the piece with SentencePiece's "▁" as a
        space and its ``<0xNN>`` byte pieces as bytes."""
        if token_id in self._added:
            return self._added[token_id].encode()
        piece = self._tokenizer.id_to_token(token_id)
        if piece is None:
            raise ValueError(f"{self.name} has no token id {token_id}")
        if self._byte_level:
            decoder = _unicode_to_byte()
            if all(char in decoder for char in piece):
                return bytes(decoder[char] for char in piece)
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            try:
                return bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        return piece.replace("\u2581", " ").encode()

    def special_tokens(self) -> frozenset[str]:
        """The added tokens marked special in ``tokenizer.json``."""
        return self._special

    def special_tokens_map(self) -> dict[str, str]:
        """``bos_token``, ``eos_token`` ... from ``tokenizer_config.json``, as a chat template sees them [2]."""
        named = {}
        for key in SPECIAL_TOKEN_KEYS:
            value = self.config.get(key)
            if isinstance(value, dict):  # an AddedToken saved as {"content": ..., "special": ...}
                value = value.get("content")
            if isinstance(value, str):
                named[key] = value
        return named

    def chat_overhead(self, system: str, user: str) -> ChatOverhead:
        """The chat template rendered for ``system`` + ``user`` and its token overhead (see the module)."""
        content = self.count(system, special=True) + self.count(user, special=True)
        if self.chat_template is None:
            return ChatOverhead(None, content, self.template_note or f"{self.name} has no chat template")
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            rendered = render_chat_template(
                self.chat_template,
                messages,
                limit_chars=len(system) + len(user) + MAX_RENDERED_CHARS,
                **self.special_tokens_map(),
            )
        except ValueError as error:
            return ChatOverhead(None, content, str(error))
        return ChatOverhead(self.count(rendered, special=True), content, "", rendered)


@dataclass(frozen=True)
class HubCount:
    """One fetched tokenizer's count of a text and its chat template's overhead."""

    count: TokenCount
    commit: str
    chat: ChatOverhead

    def report_fields(self) -> dict[str, object]:
        """What the CLI's JSON adds for a fetched tokenizer."""
        return {
            "source": "huggingface",
            "commit": self.commit,
            "chat_prompt_tokens": self.chat.prompt_tokens,
            "chat_overhead_tokens": self.chat.overhead_tokens,
            "chat_template_problem": self.chat.problem,
        }


def count_with_hub(text: str, repo_ids: list[str], special: bool, system: str, settings: HubSettings) -> list[HubCount]:
    """``text`` counted with each repository's tokenizer, and the overhead of its chat template for
    ``system`` and ``text`` as the user message. Raises as :func:`load_hf_tokenizer` and
    :meth:`HfTokenizer.count` (a text too long)."""
    characters, words = len(text), word_count(text)
    counts = []
    for repo_id in repo_ids:
        tokenizer = load_hf_tokenizer(repo_id, settings)
        tokens = tokenizer.count(text, special)
        counts.append(
            HubCount(
                TokenCount(repo_id, tokens, characters, words), tokenizer.commit, tokenizer.chat_overhead(system, text)
            )
        )
    return counts


def chat_note(fields: dict[str, object]) -> str:
    """The chat overhead as the CLI's text output says it, from :meth:`HubCount.report_fields`."""
    if fields["chat_overhead_tokens"] is None:
        return f"  chat template not rendered: {fields['chat_template_problem']}"
    return (
        f"  chat prompt {fields['chat_prompt_tokens']:,} tokens ({fields['chat_overhead_tokens']:+,} for the template)"
    )


def render_chat_template(template: str, messages: list[dict[str, str]], limit_chars: int, **special: str) -> str:
    """``template`` rendered for ``messages`` with ``add_generation_prompt=True``, in Jinja's
    ``ImmutableSandboxedEnvironment`` set up as transformers sets it up [2][3].

    Raises
    ------
    ValueError
        One line saying why: the template does not parse, refuses the chat (``raise_exception``),
        reaches what the sandbox forbids, fails otherwise, or prints more than ``limit_chars``.
    """
    import jinja2
    from jinja2.sandbox import SecurityError

    try:
        compiled = _environment().from_string(template)
        pieces, length = [], 0
        for piece in compiled.generate(
            messages=messages, tools=None, documents=None, add_generation_prompt=True, **special
        ):
            length += len(piece)
            if length > limit_chars:
                raise ValueError(f"the chat template printed more than {limit_chars:,} characters; stopped")
            pieces.append(piece)
    except SecurityError as error:
        raise ValueError(f"the chat template was refused by the sandbox: {_one_line(error)}") from None
    except jinja2.TemplateSyntaxError as error:
        raise ValueError(f"the chat template does not parse (line {error.lineno}): {_one_line(error)}") from None
    except jinja2.TemplateError as error:  # raise_exception(...) included
        raise ValueError(f"the chat template refused a system + user chat: {_one_line(error)}") from None
    except ValueError:
        raise
    except Exception as error:  # a template is a program: any failure of it is its own, reported
        raise ValueError(f"the chat template failed: {type(error).__name__}: {_one_line(error)}") from None
    return "".join(pieces)


def load_hf_tokenizer(repo_id: str, settings: HubSettings, revision: str = DEFAULT_REVISION) -> HfTokenizer:
    """The tokenizer of a Hub repository, its chat template and special tokens (see the module).

    Raises
    ------
    HubIdError, HubNotFoundError, HubAccessError, HubUnavailableError, HubError
        As :func:`llm_calc.hub.fetch_file`: one line within its deadline.
    NoTokenizerJsonError
        The repository has no ``tokenizer.json``.
    ValueError
        ``tokenizer.json`` is not one the ``tokenizers`` library reads.
    """
    check_repo_id(repo_id)
    wanted = (
        (TOKENIZER_FILE, MAX_TOKENIZER_BYTES),
        (TOKENIZER_CONFIG_FILE, MAX_TOKENIZER_CONFIG_BYTES),
        (CHAT_TEMPLATE_FILE, MAX_CHAT_TEMPLATE_BYTES),
    )
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="llm_calc.hf_tokenizer") as pool:
        futures = [pool.submit(fetch_file, repo_id, name, settings, size, revision) for name, size in wanted]
        outcomes: list[HubFile | HubError] = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except HubError as error:
                outcomes.append(error)
    tokenizer_file, config_file, template_file = outcomes
    if isinstance(tokenizer_file, HubFileNotFoundError):
        raise NoTokenizerJsonError(
            f"{repo_id} has no {TOKENIZER_FILE}: its tokenizer (a tiktoken or SentencePiece file read by "
            "the repository's own code) cannot be read without running that code"
        )
    if isinstance(tokenizer_file, HubError):
        raise tokenizer_file
    config, config_note = _read_config(repo_id, config_file)
    template, template_note = _chat_template(repo_id, config, config_note, template_file)
    return HfTokenizer(
        repo_id,
        tokenizer_file.path.read_text(encoding="utf-8", errors="replace"),
        config,
        template,
        tokenizer_file.commit,
        template_note,
    )


# --- internals -----------------------------------------------------------------------------------


def _read_config(repo_id: str, outcome: HubFile | HubError) -> tuple[dict, str]:
    """``tokenizer_config.json`` as a dict and, when it is missing or unreadable, why."""
    if isinstance(outcome, HubFileNotFoundError):
        return {}, ""
    if isinstance(outcome, HubError):
        return {}, f"{TOKENIZER_CONFIG_FILE} not read: {outcome}"
    try:
        config = json.loads(outcome.path.read_bytes())
    except ValueError:
        return {}, f"{repo_id}/{TOKENIZER_CONFIG_FILE} is not JSON"
    if not isinstance(config, dict):
        return {}, f"{repo_id}/{TOKENIZER_CONFIG_FILE} is not a JSON object"
    return config, ""


def _chat_template(repo_id: str, config: dict, config_note: str, outcome: HubFile | HubError) -> tuple[str | None, str]:
    """The chat template (``chat_template.jinja`` first, as transformers 5 reads it) or why there is none."""
    if isinstance(outcome, HubFile):
        return outcome.path.read_text(encoding="utf-8", errors="replace"), ""
    template = config.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get(DEFAULT_TEMPLATE_NAME)
    if isinstance(template, str):
        return template, ""
    if not isinstance(outcome, HubFileNotFoundError):
        return None, f"{CHAT_TEMPLATE_FILE} not read: {outcome}"
    if config_note:
        return None, config_note
    return None, f"{repo_id} has no chat template ({CHAT_TEMPLATE_FILE} or chat_template in {TOKENIZER_CONFIG_FILE})"


def _uses_byte_level(tokenizer: Any) -> bool:
    """Whether the decoder undoes GPT-2's byte-to-character map (``ByteLevel``, alone or in a sequence)."""
    decoder = tokenizer.get("decoder") if isinstance(tokenizer, dict) else None
    if not isinstance(decoder, dict):
        return False
    parts = decoder.get("decoders") if decoder.get("type") == "Sequence" else [decoder]
    return any(isinstance(part, dict) and part.get("type") == "ByteLevel" for part in parts or [])


_BYTE_DECODER: dict[str, int] = {}


def _unicode_to_byte() -> dict[str, int]:
    """GPT-2's ``bytes_to_unicode`` inverted: printable bytes stand for themselves, the other 68 bytes
    for the characters from U+0100 on, in byte order (openai/gpt-2 ``src/encoder.py``)."""
    if not _BYTE_DECODER:
        printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
        others = [b for b in range(256) if b not in printable]
        mapping = {chr(b): b for b in printable}
        mapping.update({chr(256 + i): b for i, b in enumerate(others)})
        _BYTE_DECODER.update(mapping)
    return _BYTE_DECODER


_ENVIRONMENT: list[Any] = []


def _environment() -> Any:
    """The sandboxed environment transformers renders chat templates in [2], built once."""
    if _ENVIRONMENT:
        return _ENVIRONMENT[0]
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(jinja2.ext.Extension):
        """``{% generation %}…{% endgeneration %}`` (marks assistant text for training masks): printed as is."""

        tags = {"generation"}  # noqa: RUF012  jinja2.ext.Extension declares it a plain set

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False
    ) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format: str) -> str:
        return datetime.now().strftime(format)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    _ENVIRONMENT.append(environment)
    return environment


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
