"""GGUF files: the header, the metadata and the tensor-info table, read from a prefix of the file.

A GGUF file (llama.cpp's format) opens with a header that lists every tensor's name, shape, type
and offset; the tensor data follows. The header is a few megabytes even for a 400 GB model, so a
prefix of the file (``head -c 32M model.gguf``) is enough to know the exact bytes of the weights
for any mix of quantization types (K-quants, IQ types, MXFP4), the architecture and the context
length. The ``gguf`` package's reader maps the whole file and refuses a prefix, so the header is
parsed here; ``gguf`` supplies the block size and bytes per block of each tensor type.

Layout (little-endian unless the version reads byte-swapped, GGUF v3's big-endian files) [1]:
magic ``"GGUF"``, ``version u32``, ``tensor_count u64``, ``kv_count u64``; ``kv_count`` metadata
entries (``key`` string, ``type u32``, typed value; strings are ``u64`` length + UTF-8 bytes,
arrays ``type u32`` + ``count u64`` + elements); ``tensor_count`` tensor infos (``name`` string,
``n_dims u32``, ``dims u64[n_dims]``, ``type u32``, ``offset u64``); padding to
``general.alignment`` (default 32); the tensor data.

Everything is bounds-checked: a truncated prefix raises :class:`GgufTruncatedError` saying how
many more bytes the header needs, and counts or lengths no real file has are refused before any
allocation, so a hostile upload costs at most one pass over its own bytes.

References
----------
.. [1] ggml, ``docs/gguf.md`` (the GGUF specification). https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
.. [2] ggml, ``src/ggml-common.h``: the block structs, e.g. ``block_q4_K`` = 2 fp16 + 12 scale bytes +
       128 nibble bytes = 144 bytes per 256 weights; ``block_q6_K`` = 210 bytes per 256;
       ``block_q8_0`` = 34 bytes per 32; ``block_mxfp4`` = 1 e8m0 scale + 16 bytes = 17 per 32.
       The ``gguf`` package copies them as ``GGML_QUANT_SIZES``.
.. [3] ggml, ``src/gguf.cpp`` (``gguf_init_from_file_impl``): the checks a loader applies (at most
       ``GGML_MAX_DIMS`` = 4 dimensions, names shorter than ``GGML_MAX_NAME`` = 64 bytes, rows a whole
       number of blocks, offsets aligned, alignment a power of two).
.. [4] llama.cpp, ``src/llama-model.cpp`` / ``src/models/*.cpp``: ``hparams.set_swa_pattern(n)`` marks
       layer ``il`` sliding-window when ``il % n < n - 1`` (Gemma 2 and gpt-oss: 2; Gemma 3: 6);
       ``<arch>.attention.sliding_window_pattern`` overrides the period or lists the layers.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from llm_calc.architecture import MAX_DIMENSION, ModelSpec
from llm_calc.quantization import StoragePlan, StorageRow
from llm_calc.units import MIB

GGUF_MAGIC = b"GGUF"
"""The first four bytes of every GGUF file [1]."""

SUPPORTED_VERSIONS = (2, 3)
"""GGUF versions read here. Version 1 (August 2023) used 32-bit counts and lengths; version 2 made
them 64-bit and version 3 added big-endian files, with the same layout [1]."""

DEFAULT_ALIGNMENT = 32
"""Alignment of the tensor data when ``general.alignment`` is absent (``GGUF_DEFAULT_ALIGNMENT``) [1]. [bytes]"""

HEADER_PREFIX_BYTES = 32 * MIB
"""The prefix an app asks for (``head -c 32M model.gguf``): the header of the models we know is a
few MiB (most of it the tokenizer's vocabulary and merges), so 32 MiB holds it with room. [bytes]"""

GGML_MAX_DIMS = 4
"""Most dimensions a ggml tensor has (``GGML_MAX_DIMS`` in ``ggml.h``); loaders refuse more [3]."""

GGML_MAX_NAME = 64
"""Size of ggml's tensor-name buffer, terminating zero included (``GGML_MAX_NAME``) [3]. [bytes]"""

MAX_KEY_BYTES = 2**16 - 1
"""Longest metadata key the specification allows [1]. [bytes]"""

MAX_STRING_BYTES = 16 * MIB
"""Longest metadata string accepted. The longest real ones are chat templates of tens of KB;
a length beyond this is a corrupt or hostile file, refused before reading. [bytes]"""

MAX_ARRAY_LENGTH = 2**24
"""Most elements accepted in one metadata array. The largest real arrays are tokenizer
vocabularies and merge lists of a few hundred thousand entries."""

MAX_ARRAY_DEPTH = 2
"""Arrays of arrays nest at most this deep (the specification allows nesting; no model uses it)."""

MAX_KV_COUNT = 2**16
"""Most metadata entries accepted; real files have a few dozen."""

MAX_TENSOR_COUNT = 2**20
"""Most tensors accepted in one file; the largest real files (DeepSeek-V3 and Kimi K2 with merged
experts, or old unmerged Mixtral files) have a few thousand."""

MAX_TENSOR_ELEMENTS = 2**48
"""Most elements accepted in one tensor (the largest real ones, merged expert stacks, have a few
billion)."""

KEPT_ARRAY_LENGTH = 4096
"""Numeric arrays up to this length are kept (per-layer head counts, sliding-window layer lists);
longer arrays (the tokenizer's scores and token types) are skipped and only their length kept."""

_SCALARS: dict[int, tuple[str, int]] = {  # GGUF value type -> (struct code, size) [1]
    0: ("B", 1),  # UINT8
    1: ("b", 1),  # INT8
    2: ("H", 2),  # UINT16
    3: ("h", 2),  # INT16
    4: ("I", 4),  # UINT32
    5: ("i", 4),  # INT32
    6: ("f", 4),  # FLOAT32
    7: ("?", 1),  # BOOL
    10: ("Q", 8),  # UINT64
    11: ("q", 8),  # INT64
    12: ("d", 8),  # FLOAT64
}
_STRING, _ARRAY = 8, 9

REMOVED_TYPE_IDS: dict[int, str] = {
    4: "Q4_2",
    5: "Q4_3",
    31: "Q4_0_4_4",
    32: "Q4_0_4_8",
    33: "Q4_0_8_8",
    36: "IQ4_NL_4_4",
    37: "IQ4_NL_4_8",
    38: "IQ4_NL_8_8",
}
"""Tensor type ids ggml once had and removed (``ggml.h``: "support has been removed"; the
repacked ARM types now repack at load time from Q4_0/IQ4_NL files). Named in the refusal."""

SWA_PATTERN_DEFAULTS: dict[str, int] = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2}
"""Sliding-window period llama.cpp sets for each architecture when the file has no
``sliding_window_pattern`` key: layer ``il`` slides when ``il % n < n - 1`` [4]."""

KV_ARCHITECTURES = (
    "llama",
    "qwen2",
    "qwen2moe",
    "qwen3",
    "qwen3moe",
    "gemma",
    "gemma2",
    "gemma3",
    "gpt-oss",
)
"""Architectures (``general.architecture``) whose KV cache and activations are sized here: plain
attention (MHA/GQA/MQA) in every layer, full or sliding-window, with a dense or MoE MLP, all read
from the ``<arch>.*`` keys. Others (latent attention, state-space and hybrid layers, chunked
attention, vision towers) are refused by name; their weights are still exact."""

EXPERT_TENSOR_MARK = "_exps"
"""Merged expert stacks are named ``blk.N.ffn_{gate,up,down}_exps`` (llama.cpp's
``LLM_TENSOR_FFN_*_EXPS``); one token reads ``expert_used_count`` of ``expert_count`` of each."""


class GgufTruncatedError(ValueError):
    """The prefix ends before the tensor-info table does. ``needed_bytes`` is a lower bound on
    the prefix that holds the whole header (an estimate where the rest is not yet known)."""

    def __init__(self, message: str, needed_bytes: int) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes


@dataclass(frozen=True)
class GgufArray:
    """A metadata array whose elements were skipped: its element type and length."""

    element_type: int
    length: int


@dataclass(frozen=True)
class GgufTensor:
    """One tensor-info entry. ``shape`` is in ggml order (``ne[0]``, the row length, first)."""

    name: str
    shape: tuple[int, ...]
    type_name: str
    offset: int
    """From the start of the tensor data. [bytes]"""
    elements: int
    nbytes: int
    """Its data in the file: rows × (row length ÷ block size) × bytes per block [2]. [bytes]"""


@dataclass(frozen=True)
class TensorTypeTotal:
    """All tensors of one type: how many, their elements and their bytes. [bytes]"""

    type_name: str
    tensors: int
    elements: int
    nbytes: int


@dataclass(frozen=True)
class GgufHeader:
    """What a GGUF header says: version, metadata and tensor infos."""

    version: int
    byte_order: str
    """``"little"`` or ``"big"``."""
    metadata: Mapping[str, object] = field(repr=False)
    """Scalars and strings as Python values, short numeric arrays as tuples, long arrays as
    :class:`GgufArray`."""
    tensors: tuple[GgufTensor, ...] = field(repr=False)
    alignment: int
    header_bytes: int
    """Where the tensor-info table ends. [bytes]"""

    @property
    def data_offset(self) -> int:
        """Start of the tensor data: the header padded to the alignment. [bytes]"""
        return -(-self.header_bytes // self.alignment) * self.alignment

    @property
    def weights_bytes(self) -> int:
        """All tensor data, exactly as stored. [bytes]"""
        return sum(t.nbytes for t in self.tensors)

    @property
    def parameters(self) -> int:
        """Elements of all tensors."""
        return sum(t.elements for t in self.tensors)

    @property
    def file_bytes(self) -> int:
        """Size of the whole file the header describes: data offset plus the end of the last
        tensor's data. [bytes]"""
        end = max((t.offset + t.nbytes for t in self.tensors), default=0)
        return self.data_offset + end

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def file_type(self) -> str | None:
        """``general.file_type`` by llama.cpp's name (``Q4_K_M``), or ``None``."""
        value = self.metadata.get("general.file_type")
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        try:
            return _ggml().LlamaFileType(value).name.removeprefix("MOSTLY_")
        except ValueError:
            return f"file type {value}"

    @property
    def context_length(self) -> int | None:
        return self.arch_int("context_length")

    def arch_int(self, key: str) -> int | None:
        """``<arch>.<key>`` as a whole number, or ``None`` when absent or not a single number."""
        value = self.metadata.get(f"{self.architecture}.{key}")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def type_totals(self) -> tuple[TensorTypeTotal, ...]:
        """Tensors grouped by type, largest bytes first."""
        totals: dict[str, list[int]] = {}
        for t in self.tensors:
            entry = totals.setdefault(t.type_name, [0, 0, 0])
            entry[0] += 1
            entry[1] += t.elements
            entry[2] += t.nbytes
        rows = [TensorTypeTotal(name, n, elements, nbytes) for name, (n, elements, nbytes) in totals.items()]
        return tuple(sorted(rows, key=lambda r: (-r.nbytes, r.type_name)))


class _OutOfData(Exception):
    """A read past the end of the prefix; ``end`` is the offset it needed."""

    def __init__(self, end: int, extra_estimate: int = 0, index: int | None = None) -> None:
        self.end = end
        self.extra_estimate = extra_estimate
        self.index = index  # the element of an array being read when the data ran out


class _Reader:
    """Bounds-checked reads from a byte buffer."""

    def __init__(self, data: bytes | bytearray | memoryview, order: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.order = order

    def take(self, n: int) -> int:
        start, end = self.pos, self.pos + n
        if end > len(self.data):
            raise _OutOfData(end)
        self.pos = end
        return start

    def scalar(self, code: str, size: int) -> object:
        return struct.unpack_from(self.order + code, self.data, self.take(size))[0]

    def u32(self) -> int:
        return int(self.scalar("I", 4))  # type: ignore[call-overload]

    def u64(self) -> int:
        return int(self.scalar("Q", 8))  # type: ignore[call-overload]

    def string(self, cap: int, what: str) -> str:
        length = self.u64()
        if length > cap:
            raise ValueError(f"{what} claims {length:,} bytes, more than the {cap:,} accepted: not a GGUF header")
        start = self.take(length)
        return bytes(self.data[start : start + length]).decode("utf-8", errors="replace")

    def value(self, value_type: int, what: str, depth: int = 0) -> object:
        if value_type in _SCALARS:
            return self.scalar(*_SCALARS[value_type])
        if value_type == _STRING:
            return self.string(MAX_STRING_BYTES, what)
        if value_type == _ARRAY:
            return self.array(what, depth)
        raise ValueError(f"{what} has value type {value_type}, not a GGUF type (0-12)")

    def array(self, what: str, depth: int) -> object:
        if depth >= MAX_ARRAY_DEPTH:
            raise ValueError(f"{what} nests arrays deeper than {MAX_ARRAY_DEPTH}: not a GGUF header")
        element_type, length = self.u32(), self.u64()
        if length > MAX_ARRAY_LENGTH:
            raise ValueError(f"{what} claims {length:,} elements, more than the {MAX_ARRAY_LENGTH:,} accepted")
        if element_type in _SCALARS:
            code, size = _SCALARS[element_type]
            start = self.take(length * size)
            if length <= KEPT_ARRAY_LENGTH:
                return struct.unpack_from(f"{self.order}{length}{code}", self.data, start)
            return GgufArray(element_type, length)
        if element_type not in (_STRING, _ARRAY):
            raise ValueError(f"{what} is an array of type {element_type}, not a GGUF type (0-12)")
        first = self.pos
        try:
            if element_type == _STRING:
                self.skip_strings(length, what)
            else:
                for _ in range(length):
                    self.array(what, depth + 1)
        except _OutOfData as short:
            done = self.pos - first
            index = short.index if short.index is not None else 0
            per_element = done / index if index else 0
            short.extra_estimate = math.ceil(per_element * (length - index))
            raise
        return GgufArray(element_type, length)

    def skip_strings(self, count: int, what: str) -> None:
        """Step over ``count`` strings (a vocabulary, a merge list): the hot loop of a header."""
        data, pos, end = self.data, self.pos, len(self.data)
        length_of = struct.Struct(self.order + "Q").unpack_from
        for index in range(count):
            if pos + 8 > end:
                self.pos = pos
                raise _OutOfData(pos + 8, index=index)
            (length,) = length_of(data, pos)
            if length > MAX_STRING_BYTES:
                raise ValueError(f"a string in {what} claims {length:,} bytes: not a GGUF header")
            pos += 8 + length
            if pos > end:
                self.pos = pos - length
                raise _OutOfData(pos, index=index)
        self.pos = pos


def _type_of(type_id: int, tensor: str) -> tuple[str, int, int]:
    """Name, block size and bytes per block of a tensor type id [2]."""
    try:
        quant = _ggml().GGMLQuantizationType(type_id)
        block, block_bytes = _ggml().GGML_QUANT_SIZES[quant]
    except (ValueError, KeyError):
        removed = REMOVED_TYPE_IDS.get(type_id)
        if removed:
            raise ValueError(
                f"tensor {tensor!r} has type {removed} (id {type_id}), which ggml has removed; "
                "re-convert the model with a current llama.cpp"
            ) from None
        raise ValueError(
            f"tensor {tensor!r} has type id {type_id}, unknown to gguf {_gguf_version()} "
            f"(known: {', '.join(t.name for t in _ggml().GGMLQuantizationType)})"
        ) from None
    return quant.name, block, block_bytes


@cache
def _ggml():
    """llama.cpp's ``gguf`` package, imported on first use: importing it takes ~0.4 s (it pulls in
    mistral-common for its vocabularies), which every CLI call and page would pay otherwise."""
    import gguf

    return gguf


def _gguf_version() -> str:
    from importlib.metadata import version

    return version("gguf")


def parse_gguf_header(data: bytes | bytearray | memoryview) -> GgufHeader:
    """Parse the header and tensor-info table of a GGUF file from its first bytes.

    ``data`` may be the whole file or any prefix that holds the tensor-info table; nothing past
    the table is read.

    Raises
    ------
    GgufTruncatedError
        The prefix ends inside the header; the message says how much more to upload.
    ValueError
        Not a GGUF file, an unsupported version, or counts, lengths or types no valid file has.
    """
    view = memoryview(data)
    if len(view) < 4 or bytes(view[:4]) != GGUF_MAGIC:
        start = bytes(view[:4])
        raise ValueError(f"not a GGUF file: it starts with {start!r}, not {GGUF_MAGIC!r}")
    if len(view) < 8:
        raise _truncated(len(view), 8, "the version number")
    version_le = struct.unpack_from("<I", view, 4)[0]
    version_be = struct.unpack_from(">I", view, 4)[0]
    if version_le in SUPPORTED_VERSIONS:
        order, byte_order, version = "<", "little", version_le
    elif version_be in SUPPORTED_VERSIONS:
        order, byte_order, version = ">", "big", version_be
    elif version_le == 1:
        raise ValueError("GGUF version 1 (August 2023) is not supported: re-convert the model with a current llama.cpp")
    else:
        raise ValueError(f"GGUF version {version_le} is not supported (supported: 2 and 3)")
    reader = _Reader(view, order)
    reader.pos = 8
    stage = "the tensor and metadata counts"
    tensor_count = kv_count = 0
    try:
        tensor_count, kv_count = reader.u64(), reader.u64()
        if tensor_count > MAX_TENSOR_COUNT:
            raise ValueError(f"the header claims {tensor_count:,} tensors, more than the {MAX_TENSOR_COUNT:,} accepted")
        if kv_count > MAX_KV_COUNT:
            raise ValueError(f"the header claims {kv_count:,} metadata entries, over the {MAX_KV_COUNT:,} accepted")
        metadata: dict[str, object] = {}
        for index in range(kv_count):
            stage = f"metadata entry {index + 1:,} of {kv_count:,}"
            key = reader.string(MAX_KEY_BYTES, f"the key of {stage}")
            stage = f"metadata entry {index + 1:,} of {kv_count:,} ({key!r})"
            if key in metadata:
                raise ValueError(f"metadata key {key!r} appears twice")
            metadata[key] = reader.value(reader.u32(), f"metadata {key!r}")
        alignment = _alignment(metadata)
        tensors: list[GgufTensor] = []
        names: set[str] = set()
        table_start = reader.pos
        for index in range(tensor_count):
            stage = f"tensor-info entry {index + 1:,} of {tensor_count:,}"
            try:
                tensors.append(_tensor_info(reader, alignment, names))
            except _OutOfData as short:
                done = reader.pos - table_start
                per_tensor = done / index if index else _MIN_TENSOR_INFO_BYTES
                short.extra_estimate = math.ceil(per_tensor * (tensor_count - index - 1))
                raise
    except _OutOfData as short:
        later = short.extra_estimate
        if not stage.startswith("tensor-info"):
            later += (tensor_count if tensor_count <= MAX_TENSOR_COUNT else 0) * _MIN_TENSOR_INFO_BYTES
        raise _truncated(len(view), short.end + later, stage) from None
    return GgufHeader(
        version=version,
        byte_order=byte_order,
        metadata=metadata,
        tensors=tuple(tensors),
        alignment=alignment,
        header_bytes=reader.pos,
    )


_MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8
"""A tensor-info entry with a one-byte name and one dimension (a lower bound). [bytes]"""


def _truncated(have: int, needed: int, stage: str) -> GgufTruncatedError:
    mib = max(1, math.ceil(needed / MIB))
    return GgufTruncatedError(
        f"the GGUF header is cut off at byte {have:,}, in {stage}: the header needs about "
        f"{needed - have:,} more bytes; upload at least the first {mib:,} MiB (head -c {mib}M model.gguf)",
        needed_bytes=needed,
    )


def _alignment(metadata: Mapping[str, object]) -> int:
    value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value & (value - 1):
        raise ValueError(f"general.alignment must be a power of two, got {value!r}")
    return value


def _tensor_info(reader: _Reader, alignment: int, names: set[str]) -> GgufTensor:
    name = reader.string(MAX_KEY_BYTES, "a tensor name")
    if len(name.encode()) >= GGML_MAX_NAME:
        raise ValueError(f"tensor name {name[:80]!r} is {len(name.encode())} bytes; ggml allows {GGML_MAX_NAME - 1}")
    if name in names:
        raise ValueError(f"tensor {name!r} appears twice")
    names.add(name)
    n_dims = reader.u32()
    if not 1 <= n_dims <= GGML_MAX_DIMS:
        raise ValueError(f"tensor {name!r} has {n_dims} dimensions; ggml tensors have 1 to {GGML_MAX_DIMS}")
    shape = tuple(reader.u64() for _ in range(n_dims))
    elements = math.prod(shape)
    if elements > MAX_TENSOR_ELEMENTS:
        raise ValueError(f"tensor {name!r} claims {elements:,} elements, over the {MAX_TENSOR_ELEMENTS:,} accepted")
    type_name, block, block_bytes = _type_of(reader.u32(), name)
    if shape[0] % block:
        raise ValueError(f"tensor {name!r} has rows of {shape[0]:,} values, not a whole number of {type_name} blocks")
    offset = reader.u64()
    if offset % alignment:
        raise ValueError(f"tensor {name!r} starts at offset {offset:,}, not a multiple of the alignment {alignment}")
    nbytes = elements // block * block_bytes
    return GgufTensor(name, shape, type_name, offset, elements, nbytes)


# --- what the header says about the model --------------------------------------------------------


TENSOR_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (group of llm_calc.architecture's parameter groups, llama.cpp tensor-name parts), first match wins
    ("embedding", ("token_embd.",)),
    ("lm_head", ("output.",)),
    ("norms", ("norm",)),
    ("router", ("ffn_gate_inp", "exp_probs_b")),
    ("mlp_biases", ("_exps.bias", "_shexp.bias", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias")),
    ("routed_experts_linear", ("_exps.",)),
    ("shared_experts_linear", ("_shexp.",)),
    ("dense_mlp_linear", ("ffn_gate.", "ffn_up.", "ffn_down.")),
    ("attention_other", ("attn_sinks", ".bias")),
    ("attention_linear", ("attn_",)),
)
"""Which parameter group a GGUF tensor belongs to, by llama.cpp's tensor names (``LLM_TENSOR_*`` in
``src/llama-arch.cpp``: ``token_embd``, ``output``, ``blk.N.attn_q``, ``blk.N.ffn_up_exps``,
``blk.N.ffn_gate_inp``, ``blk.N.attn_norm`` ...). Tensors of no group (state-space layers, vision
towers) fall in ``other``."""


def tensor_group(name: str) -> str:
    """The parameter group of a tensor named as llama.cpp names them (see ``TENSOR_GROUPS``)."""
    for group, parts in TENSOR_GROUPS:
        if any(part in name for part in parts) and (group != "lm_head" or name.startswith("output.")):
            return group
    return "other"


@dataclass(frozen=True)
class GroupTypeTotal:
    """The tensors of one parameter group stored in one type."""

    group: str
    type_name: str
    tensors: int
    elements: int
    nbytes: int

    @property
    def bits(self) -> float:
        """Storage per element: block bytes x 8 / block size, exact in binary floating point. [bits]"""
        return self.nbytes * 8 / self.elements if self.elements else 0.0


def group_type_totals(header: GgufHeader) -> tuple[GroupTypeTotal, ...]:
    """Tensors by parameter group (``tensor_group``) and type, in the order they first appear."""
    totals: dict[tuple[str, str], list[int]] = {}
    for t in header.tensors:
        entry = totals.setdefault((tensor_group(t.name), t.type_name), [0, 0, 0])
        entry[0] += 1
        entry[1] += t.elements
        entry[2] += t.nbytes
    return tuple(GroupTypeTotal(g, k, n, e, b) for (g, k), (n, e, b) in totals.items())


def expert_tensor(name: str) -> bool:
    """Whether a tensor holds a stack of routed experts (see ``EXPERT_TENSOR_MARK``)."""
    return EXPERT_TENSOR_MARK in name


def _per_layer(header: GgufHeader, key: str, layers: int) -> set[int] | None:
    """The distinct values of ``<arch>.<key>``, one number for every layer or a per-layer array
    (as long as ``layers``); ``None`` if absent."""
    value = header.metadata.get(f"{header.architecture}.{key}")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return {value}
    if isinstance(value, tuple) and len(value) == layers and all(isinstance(v, int) for v in value):
        return {int(v) for v in value}
    raise ValueError(f"{header.architecture}.{key} is {value!r}: expected a number or one per layer ({layers})")


def _uniform(header: GgufHeader, key: str, layers: int, default: int | None = None) -> int:
    values = _per_layer(header, key, layers)
    if values is None:
        if default is None:
            raise ValueError(f"the GGUF metadata has no {header.architecture}.{key}")
        return default
    if len(values) != 1:
        raise ValueError(f"{header.architecture}.{key} differs between layers ({sorted(values)}): not modelled")
    return values.pop()


def vocabulary_size(header: GgufHeader) -> int | None:
    """Tokens in the vocabulary: ``tokenizer.ggml.tokens``' length, ``<arch>.vocab_size``, or the
    rows of ``token_embd.weight``."""
    tokens = header.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, GgufArray):
        return tokens.length
    if isinstance(tokens, tuple):
        return len(tokens)
    declared = header.arch_int("vocab_size")
    if declared:
        return declared
    embedding = next((t for t in header.tensors if t.name == "token_embd.weight"), None)
    return embedding.shape[1] if embedding is not None and len(embedding.shape) == 2 else None


def _sliding_layers(header: GgufHeader, layers: int) -> int:
    """Layers llama.cpp runs with a sliding window [4]."""
    arch = header.architecture or ""
    pattern = header.metadata.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, tuple) and len(pattern) == layers:  # one flag per layer
        return sum(1 for flag in pattern if flag)
    period = pattern if isinstance(pattern, int) and not isinstance(pattern, bool) else SWA_PATTERN_DEFAULTS.get(arch)
    if period is None:
        return 0
    if period < 0:
        raise ValueError(f"{arch}.attention.sliding_window_pattern is {period}: not a period")
    # il % n < n - 1 holds for every layer but the last of each period (and for all when n == 0)
    return layers if period == 0 else layers - layers // period


def gguf_model_spec(header: GgufHeader, name: str | None = None) -> ModelSpec:
    """The architecture of the model a GGUF header describes, for its KV cache and activations.

    Only ``KV_ARCHITECTURES`` are read; any other architecture raises ``ValueError`` naming it
    (its weights are still exact from :attr:`GgufHeader.weights_bytes`).
    """
    arch = header.architecture
    if arch not in KV_ARCHITECTURES:
        raise ValueError(
            f"GGUF architecture {arch!r}: its KV cache and activations are not modelled "
            f"(supported: {', '.join(KV_ARCHITECTURES)}); the weights are still exact"
        )
    layers = header.arch_int("block_count")
    hidden = header.arch_int("embedding_length")
    if not layers or not hidden:
        raise ValueError(f"the GGUF metadata lacks {arch}.block_count or {arch}.embedding_length")
    if layers > MAX_DIMENSION:
        raise ValueError(f"{arch}.block_count is {layers:,}, more than any model has ({MAX_DIMENSION:,})")
    heads = _uniform(header, "attention.head_count", layers)
    kv_heads = _uniform(header, "attention.head_count_kv", layers, default=heads)
    if not heads or not kv_heads:
        raise ValueError(f"{arch}.attention.head_count_kv has layers without attention: not modelled")
    head_dim = header.arch_int("attention.key_length") or hidden // heads
    value_dim = header.arch_int("attention.value_length") or head_dim
    if value_dim != head_dim:
        raise ValueError(f"{arch}: keys of {head_dim} and values of {value_dim} per head are not modelled")
    experts = header.arch_int("expert_count") or 0
    used = header.arch_int("expert_used_count") or 0
    expert_width = header.arch_int("expert_feed_forward_length") or 0
    ffn = _per_layer(header, "feed_forward_length", layers)  # per layer for some models: the widest
    intermediate = max(ffn) if ffn and max(ffn) else expert_width
    if not intermediate:
        raise ValueError(f"the GGUF metadata lacks {arch}.feed_forward_length")
    vocab = vocabulary_size(header)
    if not vocab:
        raise ValueError("the GGUF header gives no vocabulary size (tokenizer.ggml.tokens or token_embd.weight)")
    names = {t.name for t in header.tensors}
    window = header.arch_int("attention.sliding_window") or 0
    sliding = _sliding_layers(header, layers) if window else 0
    shared = header.arch_int("expert_shared_count") or (1 if "blk.0.ffn_up_shexp.weight" in names else 0)
    return ModelSpec(
        name=name or header.name or arch,
        vocab_size=vocab,
        hidden_size=hidden,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=intermediate,
        max_context=header.context_length or 4096,
        tie_embeddings="output.weight" not in names,
        qkv_bias="blk.0.attn_q.bias" in names,
        o_bias="blk.0.attn_output.bias" in names,
        num_experts=experts,
        experts_per_token=used if experts else 0,
        moe_intermediate_size=expert_width if experts else 0,
        shared_experts=shared if experts else 0,
        shared_expert_intermediate_size=(header.arch_int("expert_shared_feed_forward_length") or 0) if shared else 0,
        shared_expert_gate="blk.0.ffn_gate_inp_shexp.weight" in names,
        qk_norm="blk.0.attn_q_norm.weight" in names,
        attention_sinks="blk.0.attn_sinks.weight" in names,
        sliding_window=window if sliding else 0,
        sliding_window_layers=sliding,
    )


def active_parameters(header: GgufHeader) -> int:
    """Elements one token runs through: all, less the routed experts it does not pick
    (``expert_used_count`` of ``expert_count`` of every expert stack)."""
    experts, used = header.arch_int("expert_count") or 0, header.arch_int("expert_used_count") or 0
    stacked = sum(t.elements for t in header.tensors if expert_tensor(t.name))
    if not experts or not stacked:
        return header.parameters
    return header.parameters - stacked + stacked * used // experts


def storage_plan(header: GgufHeader) -> StoragePlan:
    """The file's storage as ``llm_calc.memory.InferenceSettings(weight_format="auto", storage=...)``
    takes it: one row per parameter group and tensor type, at the type's exact bits, so the weights
    are the file's tensor data to the byte and a decode step reads the groups it touches
    (``StoragePlan.decode_read_bytes``)."""
    rows = tuple(
        StorageRow(
            row.group,
            row.elements,
            row.bits,
            f"GGUF {row.type_name}, {row.tensors:,} {'tensor' if row.tensors == 1 else 'tensors'}",
        )
        for row in group_type_totals(header)
    )
    return StoragePlan(f"as stored in the GGUF file ({header.file_type or 'mixed types'})", rows)


MAX_HEADER_BYTES = 512 * MIB
"""Most bytes a reader gives the parser while looking for the end of the header; no real
header comes near it. [bytes]"""


def combine_split(headers: list[GgufHeader] | tuple[GgufHeader, ...]) -> GgufHeader:
    """The shards of a split GGUF (``gguf-split``'s ``split.no``, ``split.count`` and
    ``split.tensors.count``) as one header with every shard's tensors; one unsplit file as is.

    Raises ``ValueError`` when a shard is missing, repeated, or from another split.
    """
    if not headers:
        raise ValueError("no GGUF header given")
    counts = {h.metadata.get("split.count") for h in headers}
    if len(headers) == 1 and counts <= {None, 0, 1}:
        return headers[0]
    if len(counts) != 1 or not isinstance(count := next(iter(counts)), int) or count != len(headers):
        found = ", ".join(str(c) for c in sorted(counts, key=str))
        raise ValueError(
            f"a split GGUF needs all its shards: {len(headers)} given, split.count says {found}; "
            "pass every model-0000N-of-0000M.gguf file"
        )
    numbers = sorted(h.metadata.get("split.no") for h in headers)  # type: ignore[type-var]
    if numbers != list(range(count)):
        raise ValueError(f"the shards' split.no are {numbers}, not 0 to {count - 1}: a shard is missing or repeated")
    ordered = sorted(headers, key=lambda h: h.metadata["split.no"])  # type: ignore[arg-type, return-value]
    tensors = tuple(t for h in ordered for t in h.tensors)
    declared = ordered[0].metadata.get("split.tensors.count")
    if isinstance(declared, int) and declared != len(tensors):
        raise ValueError(f"the shards hold {len(tensors):,} tensors; split.tensors.count says {declared:,}")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise ValueError("the same tensor appears in two shards: these are not shards of one split")
    first = ordered[0]
    return GgufHeader(
        version=first.version,
        byte_order=first.byte_order,
        metadata=first.metadata,
        tensors=tensors,
        alignment=first.alignment,
        header_bytes=first.header_bytes,
    )
