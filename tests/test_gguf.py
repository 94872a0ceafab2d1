"""GGUF headers: exact weight bytes for any quant mix, from the whole file or a prefix of it.

Files are built with the ``gguf`` package's own writer (``gguf.GGUFWriter``, llama.cpp's), then
read by ``llm_calc.gguf`` and compared with byte counts derived by hand from ggml's block structs
(``ggml/src/ggml-common.h``) and with ``gguf.GGUFReader`` on the whole file. Hostile inputs must
end in a ``ValueError`` quickly, never in another exception, a hang or a large allocation.
"""

import contextlib
import json
import struct
import time
import tracemalloc

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf.quants import quant_shape_to_byte_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_calc.cli import main
from llm_calc.gguf import (
    MAX_ARRAY_LENGTH,
    MAX_STRING_BYTES,
    MAX_TENSOR_COUNT,
    GgufHeader,
    GgufTruncatedError,
    active_parameters,
    combine_split,
    gguf_model_spec,
    group_type_totals,
    parse_gguf_header,
    storage_plan,
    tensor_group,
)
from llm_calc.units import MIB

# Bytes per block of each type, from the structs in ggml/src/ggml-common.h (QK_K = 256):
#   block_q8_0   = ggml_half d + int8 qs[32]                                  = 2 + 32            = 34 per 32
#   block_q4_K   = ggml_half d, dmin + uint8 scales[12] + uint8 qs[128]       = 4 + 12 + 128      = 144 per 256
#   block_q6_K   = uint8 ql[128] + qh[64] + int8 scales[16] + ggml_half d     = 128 + 64 + 16 + 2 = 210 per 256
#   block_iq4_xs = ggml_half d + uint16 scales_h + uint8 scales_l[4] + qs[128] = 2 + 2 + 4 + 128  = 136 per 256
#   block_iq2_xxs = ggml_half d + uint16 qs[32]                               = 2 + 64            = 66 per 256
#   block_mxfp4  = uint8 e (E8M0 scale) + uint8 qs[16]                        = 1 + 16            = 17 per 32
# and F16 = 2, F32 = 4 bytes per value.
TINY_TENSORS = (  # name, ggml shape (row length first), type, bytes derived by hand
    ("token_embd.weight", (256, 512), T.Q6_K, 512 * 210),  # 512 rows of one 256-block
    ("blk.0.attn_q.weight", (256, 256), T.Q4_K, 256 * 144),
    ("blk.0.attn_k.weight", (256, 64), T.IQ4_XS, 64 * 136),
    ("blk.0.attn_v.weight", (256, 64), T.IQ2_XXS, 64 * 66),
    ("blk.0.ffn_up.weight", (256, 512), T.MXFP4, 512 * 8 * 17),  # 8 blocks of 32 per row
    ("blk.0.attn_output.weight", (256, 256), T.F16, 256 * 256 * 2),
    ("blk.0.attn_norm.weight", (256,), T.F32, 256 * 4),
    ("output.weight", (256, 512), T.Q8_0, 512 * 8 * 34),
)
TINY_WEIGHTS_BYTES = 107_520 + 36_864 + 8_704 + 4_224 + 69_632 + 131_072 + 1_024 + 139_264  # = 498,304


HANG_GUARD_S = 30.0
"""A parse that runs this long is a hang, not a slow machine: legitimate parses take milliseconds.
Not a speed target (those live in benchmarks/); the allocation bound below is the sharp check."""
ALLOCATION_BOUND_BYTES = 64 * 2**20
"""What a hostile header may make the parser allocate: a corrupted count once built a
billion-entry tuple; every real header here needs well under a MiB."""


@contextlib.contextmanager
def bounded():
    """The block must neither hang nor allocate more than ``ALLOCATION_BOUND_BYTES``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < HANG_GUARD_S
    assert peak < ALLOCATION_BOUND_BYTES, f"allocated {peak:,} bytes"


def add_tensor(writer: gguf.GGUFWriter, name: str, ne: tuple[int, ...], qtype: T) -> None:
    """A zero tensor of ggml shape ``ne`` (numpy's shape is the reverse) stored as ``qtype``."""
    shape = tuple(reversed(ne))
    if qtype == T.F32:
        writer.add_tensor(name, np.zeros(shape, np.float32))
    elif qtype == T.F16:
        writer.add_tensor(name, np.zeros(shape, np.float16))
    else:
        writer.add_tensor(name, np.zeros(quant_shape_to_byte_shape(shape, qtype), np.uint8), raw_dtype=qtype)


def write_gguf(path, arch, tensors, metadata=None, vocab=512, endianess=gguf.GGUFEndian.LITTLE):
    """Write a GGUF file with ``gguf.GGUFWriter``; ``metadata`` maps ``add_*`` method names to values."""
    writer = gguf.GGUFWriter(path, arch, endianess=endianess)
    for method, value in (metadata or {}).items():
        getattr(writer, method)(*value) if isinstance(value, tuple) else getattr(writer, method)(value)
    if vocab:
        writer.add_token_list([f"token{i:06d}" for i in range(vocab)])
    for name, ne, qtype, *_ in tensors:
        add_tensor(writer, name, ne, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def write_header_only(path, arch, tensors, configure):
    """A GGUF header with no tensor data (what `head -c` of the real file gives), by GGUFWriter."""
    writer = gguf.GGUFWriter(path, arch)
    configure(writer)
    for name, ne, qtype in tensors:
        block, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        nbytes = int(np.prod(ne)) // block * block_bytes
        writer.add_tensor_info(name, tuple(reversed(ne)), np.dtype(np.float32), nbytes, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


TINY_LLAMA = {
    "add_block_count": 1,
    "add_embedding_length": 256,
    "add_head_count": 4,
    "add_head_count_kv": 1,
    "add_context_length": 8192,
    "add_feed_forward_length": 512,
    "add_name": "tiny mix",
    "add_file_type": gguf.LlamaFileType.MOSTLY_Q4_K_M,
}


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny.gguf"
    return path, write_gguf(path, "llama", TINY_TENSORS, TINY_LLAMA)


def test_each_tensor_type_has_the_bytes_of_its_block_struct(tiny):
    """A Q4_K or MXFP4 tensor sized at the wrong bytes per block would make every GGUF estimate wrong."""
    _, data = tiny
    header = parse_gguf_header(data)
    by_name = {t.name: t for t in header.tensors}
    for name, ne, qtype, expected in TINY_TENSORS:
        assert by_name[name].type_name == qtype.name
        assert by_name[name].shape == ne
        assert by_name[name].nbytes == expected, name
    assert header.weights_bytes == TINY_WEIGHTS_BYTES == 498_304
    totals = {row.type_name: (row.tensors, row.nbytes) for row in header.type_totals()}
    assert totals["Q4_K"] == (1, 36_864)
    assert totals["MXFP4"] == (1, 69_632)
    assert header.architecture == "llama"
    assert header.name == "tiny mix"
    assert header.file_type == "Q4_K_M"
    assert header.context_length == 8192


def test_parser_agrees_with_gguf_reader_on_the_whole_file(tiny):
    """Our reader and llama.cpp's own must see the same tensors, types, sizes and data offsets."""
    path, data = tiny
    header = parse_gguf_header(data)
    reader = gguf.GGUFReader(path)
    assert len(header.tensors) == len(reader.tensors)
    for ours, theirs in zip(header.tensors, reader.tensors, strict=True):
        assert ours.name == theirs.name
        assert ours.type_name == theirs.tensor_type.name
        assert list(ours.shape) == [int(n) for n in theirs.shape]
        assert ours.nbytes == int(theirs.n_bytes)
        assert header.data_offset + ours.offset == theirs.data_offset
    assert header.file_bytes == len(data)  # the header accounts for every byte of the file


def test_a_prefix_holding_the_tensor_table_is_enough(tiny):
    """`head -c 32M model.gguf` of a 40 GB file must give the same answer as the file."""
    _, data = tiny
    full = parse_gguf_header(data)
    prefix = parse_gguf_header(data[: full.header_bytes])
    assert prefix.tensors == full.tensors
    assert prefix.weights_bytes == TINY_WEIGHTS_BYTES
    assert prefix.file_bytes == len(data)  # the size of the whole file, known from its first bytes


def test_gguf_reader_refuses_the_prefix_we_accept(tiny, tmp_path):
    """Why we parse ourselves: the gguf package cannot read a header-only upload."""
    _, data = tiny
    cut = tmp_path / "prefix.gguf"
    cut.write_bytes(data[: parse_gguf_header(data).header_bytes])
    with pytest.raises(Exception):  # noqa: B017 - any failure: the package maps the whole file
        gguf.GGUFReader(cut)


def test_a_prefix_cut_inside_the_header_says_how_much_to_upload(tmp_path):
    """A 1 MiB upload of a header that runs to 3 MiB must say to upload more, not crash or guess."""
    path = tmp_path / "big-vocab.gguf"
    # 150,000 tokens of 11 bytes, each with an 8-byte length: about 2.9 MiB of vocabulary
    data = write_gguf(path, "llama", TINY_TENSORS, TINY_LLAMA, vocab=150_000)
    header_bytes = parse_gguf_header(data).header_bytes
    assert header_bytes > 2 * MIB
    with pytest.raises(GgufTruncatedError) as short:
        parse_gguf_header(data[:MIB])
    message = str(short.value)
    assert "cut off at byte 1,048,576" in message
    assert "tokenizer.ggml.tokens" in message
    suggested = -(-short.value.needed_bytes // MIB)
    assert f"upload at least the first {suggested} MiB" in message
    assert short.value.needed_bytes <= header_bytes + 4096  # an estimate, not a wild bound
    parse_gguf_header(data[: suggested * MIB])  # and following the advice works


def test_a_prefix_cut_inside_the_tensor_table_names_the_entry(tiny):
    """Cut in the tensor-info table: the message says which entry and how much is missing."""
    _, data = tiny
    header_bytes = parse_gguf_header(data).header_bytes
    with pytest.raises(GgufTruncatedError, match=r"tensor-info entry 8 of 8") as short:
        parse_gguf_header(data[: header_bytes - 1])
    assert short.value.needed_bytes == header_bytes
    assert "needs about 1 more bytes" in str(short.value)


def test_every_truncation_is_a_truncation_error(tiny):
    """Any cut before the end of the table is reported as such, never as a crash."""
    _, data = tiny
    header_bytes = parse_gguf_header(data).header_bytes
    for end in range(4, header_bytes, 7):
        with pytest.raises(GgufTruncatedError):
            parse_gguf_header(data[:end])


def test_big_endian_files_read_the_same(tmp_path):
    """GGUF v3 allows big-endian files (s390x); their tensors must size the same."""
    data = write_gguf(tmp_path / "be.gguf", "llama", TINY_TENSORS, TINY_LLAMA, endianess=gguf.GGUFEndian.BIG)
    header = parse_gguf_header(data)
    assert header.byte_order == "big"
    assert header.weights_bytes == TINY_WEIGHTS_BYTES
    assert header.context_length == 8192


# --- the model the header describes ------------------------------------------------------------


def test_spec_from_a_llama_header(tiny):
    """KV cache and activations come from the header's shape: 4 heads of 64, one KV head."""
    header = parse_gguf_header(tiny[1])
    spec = gguf_model_spec(header)
    assert (spec.num_layers, spec.hidden_size, spec.num_attention_heads, spec.num_kv_heads) == (1, 256, 4, 1)
    assert (spec.head_dim, spec.intermediate_size, spec.vocab_size, spec.max_context) == (64, 512, 512, 8192)
    assert not spec.tie_embeddings  # output.weight is present


def moe_tensors(experts: int, hidden: int = 256, width: int = 128):
    """A one-layer MoE: attention in Q8_0, a stack of ``experts`` experts in MXFP4, a router in F32."""
    return (
        ("token_embd.weight", (hidden, 512), T.Q8_0),
        ("blk.0.attn_q.weight", (hidden, hidden), T.Q8_0),
        ("blk.0.attn_k.weight", (hidden, 128), T.Q8_0),
        ("blk.0.attn_v.weight", (hidden, 128), T.Q8_0),
        ("blk.0.attn_output.weight", (hidden, hidden), T.Q8_0),
        ("blk.0.ffn_gate_inp.weight", (hidden, experts), T.F32),
        ("blk.0.ffn_gate_exps.weight", (hidden, width, experts), T.MXFP4),
        ("blk.0.ffn_up_exps.weight", (hidden, width, experts), T.MXFP4),
        ("blk.0.ffn_down_exps.weight", (width, hidden, experts), T.MXFP4),
        ("output.weight", (hidden, 512), T.Q8_0),
    )


def test_moe_active_parameters_and_decode_reads(tmp_path):
    """One token reads 2 of 4 experts: the active count and the bytes read drop by the unread half."""
    metadata = {
        "add_block_count": 1,
        "add_embedding_length": 256,
        "add_head_count": 4,
        "add_head_count_kv": 2,
        "add_context_length": 4096,
        "add_feed_forward_length": 0,
        "add_expert_feed_forward_length": 128,
        "add_expert_count": 4,
        "add_expert_used_count": 2,
    }
    data = write_gguf(tmp_path / "moe.gguf", "qwen3moe", moe_tensors(4), metadata)
    header = parse_gguf_header(data)
    stacks = 3 * 256 * 128 * 4  # gate, up, down: 4 experts of 256 x 128 each = 393,216 elements
    assert header.parameters == 256 * 512 * 2 + 256 * 256 * 2 + 256 * 128 * 2 + 256 * 4 + stacks
    assert active_parameters(header) == header.parameters - stacks // 2
    spec = gguf_model_spec(header)
    assert (spec.num_experts, spec.experts_per_token, spec.moe_intermediate_size) == (4, 2, 128)
    # MXFP4 stacks: 393,216 values / 32 x 17 bytes = 208,896 bytes; a step touching 2 of 4 reads half
    stack_bytes = 393_216 // 32 * 17
    everything_but_embedding = header.weights_bytes - 512 * 8 * 34
    plan = storage_plan(header)
    assert plan.weights_bytes == header.weights_bytes
    assert plan.decode_read_bytes(spec, touched_expert_fraction=2 / 4) == everything_but_embedding - stack_bytes // 2
    assert plan.decode_read_bytes(spec, touched_expert_fraction=1.0) == everything_but_embedding


def gemma_metadata(layers: int, pattern: int | None = None):
    metadata = {
        "add_block_count": layers,
        "add_embedding_length": 256,
        "add_head_count": 4,
        "add_head_count_kv": 1,
        "add_key_length": 256,
        "add_value_length": 256,
        "add_context_length": 131072,
        "add_feed_forward_length": 1024,
        "add_sliding_window": 512,
    }
    if pattern is not None:
        metadata["add_sliding_window_pattern"] = pattern
    return metadata


@pytest.mark.parametrize(
    ("arch", "layers", "pattern", "sliding"),
    [
        # llama.cpp's set_swa_pattern(n): layer il slides when il % n < n - 1
        ("gemma3", 12, None, 10),  # period 6: layers 5 and 11 attend globally
        ("gemma2", 4, None, 2),  # period 2: even layers slide
        ("gemma3", 12, 3, 8),  # the file's own period 3: layers 2, 5, 8, 11 global
        ("llama", 4, None, 0),  # llama.cpp runs llama GGUFs with full attention in every layer
    ],
)
def test_sliding_window_layers_follow_llama_cpp(tmp_path, arch, layers, pattern, sliding):
    """Sliding-window layers keep only the window in the KV cache; miscounting them misstates it 5x."""
    tensors = (("token_embd.weight", (256, 512), T.F16),)
    data = write_gguf(tmp_path / "g.gguf", arch, tensors, gemma_metadata(layers, pattern))
    spec = gguf_model_spec(parse_gguf_header(data))
    assert spec.sliding_window_layers == sliding
    assert spec.sliding_window == (512 if sliding else 0)
    assert spec.tie_embeddings  # no output.weight: the embedding doubles as the output


def test_a_huge_layer_count_is_refused_without_allocating(tmp_path):
    """block_count 2^25 in a 1 KB file: refused by name at once, not built into per-layer lists."""
    metadata = {**TINY_LLAMA, "add_block_count": 2**25}
    header = parse_gguf_header(write_gguf(tmp_path / "deep.gguf", "gemma3", TINY_TENSORS, metadata))
    with bounded(), pytest.raises(ValueError, match="block_count is 33,554,432"):
        gguf_model_spec(header)


def test_per_layer_kv_heads_array_is_read(tmp_path):
    """head_count_kv may be one number per layer; uniform arrays are the same model."""
    metadata = {**TINY_LLAMA, "add_block_count": 2, "add_head_count_kv": [1, 1]}
    data = write_gguf(tmp_path / "arr.gguf", "llama", TINY_TENSORS, metadata)
    assert gguf_model_spec(parse_gguf_header(data)).num_kv_heads == 1


def test_unmodelled_architecture_is_refused_by_name_but_weights_stay_exact(tmp_path):
    """A Mamba GGUF must not be sized as a Llama: its KV part is refused, its weights still exact."""
    data = write_gguf(tmp_path / "m.gguf", "mamba", TINY_TENSORS, {"add_context_length": 1})
    header = parse_gguf_header(data)
    assert header.weights_bytes == TINY_WEIGHTS_BYTES
    with pytest.raises(ValueError, match="'mamba'.*not modelled"):
        gguf_model_spec(header)


def test_split_shards_combine_and_a_missing_shard_is_refused(tmp_path):
    """A 200 GB model ships in shards; each header lists only its own tensors."""
    halves = (TINY_TENSORS[:4], TINY_TENSORS[4:])
    headers = []
    for number, part in enumerate(halves):
        writer_path = tmp_path / f"s-{number:05d}-of-00002.gguf"
        writer = gguf.GGUFWriter(writer_path, "llama")
        for method, value in TINY_LLAMA.items():
            getattr(writer, method)(value)
        writer.add_uint16("split.no", number)
        writer.add_uint16("split.count", 2)
        writer.add_int32("split.tensors.count", 8)
        for name, ne, qtype, _ in part:
            add_tensor(writer, name, ne, qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        headers.append(parse_gguf_header(writer_path.read_bytes()))
    combined = combine_split(list(reversed(headers)))
    assert combined.weights_bytes == TINY_WEIGHTS_BYTES
    assert [t.name for t in combined.tensors] == [t[0] for t in TINY_TENSORS]
    with pytest.raises(ValueError, match="needs all its shards"):
        combine_split(headers[:1])


# --- hostile and broken input --------------------------------------------------------------------


def gguf_bytes(*parts: bytes) -> bytes:
    return b"".join(parts)


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def gstr(text: str) -> bytes:
    raw = text.encode()
    return u64(len(raw)) + raw


def one_tensor(name="w", dims=(32,), type_id=0, offset=0) -> bytes:
    return gstr(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(type_id) + u64(offset)


V3 = b"GGUF" + u32(3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a GGUF file"),
        (b"\x00" * 64, "not a GGUF file"),
        (b"PK\x03\x04" + b"\x00" * 60, "not a GGUF file"),  # someone uploads a zip
        (b"GGUF" + u32(1) + u32(0) + u32(0), "version 1"),
        (b"GGUF" + u32(99) + u64(0) + u64(0), "version 99 is not supported"),
        (V3 + u64(2**63) + u64(0), "claims 9,223,372,036,854,775,808 tensors"),
        (V3 + u64(0) + u64(2**40), "metadata entries"),
        (V3 + u64(0) + u64(1) + u64(2**62), "claims 4,611,686,018,427,387,904 bytes"),  # a key that long
        (V3 + u64(0) + u64(1) + gstr("k") + u32(8) + u64(MAX_STRING_BYTES + 1), "more than the"),
        (V3 + u64(0) + u64(1) + gstr("k") + u32(9) + u32(4) + u64(MAX_ARRAY_LENGTH + 1), "elements"),
        (V3 + u64(0) + u64(1) + gstr("k") + u32(9) + u32(9) + u64(1) + u32(9) + u64(1), "nests arrays"),
        (V3 + u64(0) + u64(1) + gstr("k") + u32(13), "value type 13"),
        (V3 + u64(0) + u64(2) + gstr("k") + u32(4) + u32(1) + gstr("k") + u32(4) + u32(1), "appears twice"),
        (V3 + u64(1) + u64(0) + one_tensor(type_id=99), "type id 99"),
        (V3 + u64(1) + u64(0) + one_tensor(type_id=31), "Q4_0_4_4"),  # removed from ggml
        (V3 + u64(1) + u64(0) + one_tensor(dims=(32,) * 5), "5 dimensions"),
        (V3 + u64(1) + u64(0) + one_tensor(dims=(2**32, 2**32)), "elements"),
        (V3 + u64(1) + u64(0) + one_tensor(name="x" * 64), "ggml allows 63"),
        (V3 + u64(1) + u64(0) + one_tensor(offset=3), "not a multiple of the alignment"),
        (V3 + u64(1) + u64(0) + one_tensor(dims=(100,), type_id=12), "not a whole number of Q4_K blocks"),
        (V3 + u64(2) + u64(0) + one_tensor() + one_tensor(), "appears twice"),
        (V3 + u64(0) + u64(1) + gstr("general.alignment") + u32(4) + u32(3), "power of two"),
    ],
)
def test_broken_and_hostile_headers_are_refused_clearly(data, message):
    """Each must fail fast with a sentence naming the problem, not a traceback or a hang."""
    with bounded(), pytest.raises(ValueError, match=message):
        parse_gguf_header(data)


def test_a_huge_tensor_count_in_a_small_file_is_a_truncation_not_a_loop():
    """MAX_TENSOR_COUNT tensors claimed in 24 bytes: refused at the first missing byte."""
    with pytest.raises(GgufTruncatedError):
        parse_gguf_header(V3 + u64(MAX_TENSOR_COUNT) + u64(0))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_are_refused_with_a_value_error(data):
    """Any upload at all: a ValueError or a header, quickly."""
    with bounded(), contextlib.suppress(ValueError):
        parse_gguf_header(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=256), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_random_bytes_after_a_valid_start_are_refused_with_a_value_error(tail, tensors, kvs):
    """A valid magic and version with arbitrary counts and contents: a ValueError or a header."""
    with bounded():
        try:
            header = parse_gguf_header(V3 + u64(tensors) + u64(kvs) + tail)
        except ValueError:
            return
    assert isinstance(header, GgufHeader)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_flipped_bytes_in_a_real_header_are_refused_or_read(data):
    """Corrupt one byte of a real header: a ValueError or a header, never another exception."""
    original = TINY_BYTES.get()
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255))
    corrupted = original[:position] + bytes([value]) + original[position + 1 :]
    with contextlib.suppress(ValueError):
        parse_gguf_header(corrupted)


class _TinyBytes:
    """The tiny file's header bytes, built once for the property test."""

    _data: bytes | None = None

    def get(self) -> bytes:
        if self._data is None:
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "t.gguf"
                data = write_gguf(path, "llama", TINY_TENSORS, TINY_LLAMA, vocab=16)
            type(self)._data = data[: parse_gguf_header(data).header_bytes]
        return self._data


TINY_BYTES = _TinyBytes()


# --- the CLI -------------------------------------------------------------------------------------


def run_cli(capsys, *args):
    code = main(["memory", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_reports_the_file_weights_and_types(tiny, capsys):
    """`memory --gguf` shows the exact weights, says they come from the file, and lists each type."""
    path, _ = tiny
    code, out, _ = run_cli(capsys, "--gguf", str(path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["weights_bytes"] == TINY_WEIGHTS_BYTES
    assert report["weights_source"] == "gguf"
    assert report["kv_bytes_per_token"] == 2 * 1 * 1 * 64 * 2  # K and V x 1 layer x 1 KV head x 64 x 2 bytes
    assert report["total_bytes"] == sum(
        report[k] for k in ("weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes")
    )
    types = {row["type"]: row for row in report["gguf"]["tensor_types"]}
    assert types["Q4_K"] == {"type": "Q4_K", "tensors": 1, "elements": 65_536, "bytes": 36_864}
    assert report["gguf"]["file_type"] == "Q4_K_M"
    assert report["gguf"]["architecture"] == "llama"
    # a decode step on one card reads every tensor but the input embedding (a row lookup; output.weight
    # is separate here) and the whole KV cache: 498,304 - 107,520 + 4,096 tokens x 256 bytes
    card = report["gpus"][0]
    assert (card["cards_used"], card["card_read_bytes"]) == (1, 498_304 - 107_520 + 4096 * 256)
    code, text, _ = run_cli(capsys, "--gguf", str(path))
    assert code == 0
    assert "weights as stored in the file" in text
    assert "MXFP4" in text and "IQ2_XXS" in text


def test_cli_reads_a_prefix_upload(tiny, tmp_path, capsys):
    """The first bytes of a file give the same report as the file."""
    path, data = tiny
    prefix = tmp_path / "head.gguf"
    prefix.write_bytes(data[: parse_gguf_header(data).header_bytes])
    _, whole, _ = run_cli(capsys, "--gguf", str(path), "--json")
    _, cut, _ = run_cli(capsys, "--gguf", str(prefix), "--json")
    whole_report, cut_report = json.loads(whole), json.loads(cut)
    for key in ("weights_bytes", "kv_cache_bytes", "total_bytes", "params", "gguf"):
        assert whole_report[key] == cut_report[key]


def test_cli_short_prefix_is_one_line_and_exit_2(tiny, tmp_path, capsys):
    _path, data = tiny
    prefix = tmp_path / "short.gguf"
    prefix.write_bytes(data[:100])
    code, _, err = run_cli(capsys, "--gguf", str(prefix))
    assert code == 2
    assert err.count("\n") == 1
    assert "upload at least the first 1 MiB" in err


@pytest.mark.parametrize("other", [["--model", "meta-llama/Llama-2-7b-hf"], ["--params", "7"]])
def test_cli_gguf_excludes_other_sources(tiny, capsys, other):
    code, _, err = run_cli(capsys, "--gguf", str(tiny[0]), *other)
    assert code == 2
    assert "not allowed with argument --gguf" in err


def test_cli_unmodelled_architecture_shows_weights_and_says_what_is_missing(tmp_path, capsys):
    path = tmp_path / "m.gguf"
    write_gguf(path, "mamba", TINY_TENSORS, {"add_context_length": 1})
    code, out, _ = run_cli(capsys, "--gguf", str(path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["weights_bytes"] == TINY_WEIGHTS_BYTES
    assert report["kv_cache_bytes"] is None and report["gpus"] == []
    assert "'mamba'" in report["not_modelled"]
    code, text, _ = run_cli(capsys, "--gguf", str(path))
    assert code == 0 and "not modelled" in text


def test_cli_refuses_a_missing_file_and_a_vocabulary_only_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--gguf", str(tmp_path / "absent.gguf"))
    assert (code, err.count("\n")) == (2, 1)
    vocab_only = tmp_path / "vocab.gguf"
    write_gguf(vocab_only, "llama", (), TINY_LLAMA)
    code, _, err = run_cli(capsys, "--gguf", str(vocab_only))
    assert code == 2 and "no tensors" in err


# --- a real model's header ------------------------------------------------------------------------

# TheBloke/Llama-2-7B-Chat-GGUF, llama-2-7b-chat.Q4_K_M.gguf at commit 191239b3e26b2882fb562ffccdd1cf0f65402adb
# (sha256 08a5566d61d7cb6b420c3e4387a39e0078e1f2fe5f055f3a03887385304d4bfa): the Hub lists it at
# 4,081,004,224 bytes (https://huggingface.co/TheBloke/Llama-2-7B-Chat-GGUF/tree/main; the same size
# and hash are pinned by downstream installers, e.g. an `ls -l` of llama-2-7b.Q4_K_M.gguf and HF API
# fixtures found with find_string "4081004224"). llama.cpp's load log of that snapshot (quoted in a
# localGPT run, find_string "llama-2-7b-chat.Q4_K_M.gguf (version GGUF V") prints:
#   - kv 2: llama.context_length = 4096, embedding_length = 4096, block_count = 32,
#     feed_forward_length = 11008, head_count = 32, head_count_kv = 32, general.file_type = 15,
#     tokenizer.ggml.tokens arr[str,32000]
#   - type  f32:   65 tensors / type q4_K:  193 tensors / type q6_K:   33 tensors
#   - model size = 3.80 GiB (4.84 BPW); CPU buffer size = 3891.24 MiB (the tensor data, mmapped)
#   - n_ctx = 4096: KV self size = 2048.00 MiB, K (f16): 1024.00 MiB, V (f16): 1024.00 MiB
# Which tensors are q6_K: Q4_K_M gives output.weight Q6_K and, in the layers llama.cpp's
# use_more_bits(i, 32) picks (i < 4, i >= 28, (i - 4) % 3 == 2: 16 layers), attn_v and ffn_down
# (src/llama-quant.cpp); 1 + 16 + 16 = 33, as the log counts. The other 193 matrices are q4_K.
LLAMA2_7B_FILE_BYTES = 4_081_004_224
LLAMA2_7B_CPU_BUFFER_MIB = 3891.24


def llama2_7b_q4_k_m_tensors():
    def more_bits(i: int, n: int = 32) -> bool:
        return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2

    yield "token_embd.weight", (4096, 32000), T.Q4_K
    for i in range(32):
        yield f"blk.{i}.attn_q.weight", (4096, 4096), T.Q4_K
        yield f"blk.{i}.attn_k.weight", (4096, 4096), T.Q4_K
        yield f"blk.{i}.attn_v.weight", (4096, 4096), T.Q6_K if more_bits(i) else T.Q4_K
        yield f"blk.{i}.attn_output.weight", (4096, 4096), T.Q4_K
        yield f"blk.{i}.ffn_gate.weight", (4096, 11008), T.Q4_K
        yield f"blk.{i}.ffn_down.weight", (11008, 4096), T.Q6_K if more_bits(i) else T.Q4_K
        yield f"blk.{i}.ffn_up.weight", (4096, 11008), T.Q4_K
        yield f"blk.{i}.attn_norm.weight", (4096,), T.F32
        yield f"blk.{i}.ffn_norm.weight", (4096,), T.F32
    yield "output_norm.weight", (4096,), T.F32
    yield "output.weight", (4096, 32000), T.Q6_K


@pytest.fixture(scope="module")
def llama2_7b_header_file(tmp_path_factory):
    """The header (no tensor data) of llama-2-7b-chat.Q4_K_M.gguf, rebuilt from its load log."""
    path = tmp_path_factory.mktemp("llama2") / "llama-2-7b-chat.Q4_K_M.header.gguf"
    return write_header_only(path, "llama", llama2_7b_q4_k_m_tensors(), _llama2_7b_metadata)


def _llama2_7b_metadata(writer: gguf.GGUFWriter) -> None:
    writer.add_name("LLaMA v2")
    writer.add_context_length(4096)
    writer.add_embedding_length(4096)
    writer.add_block_count(32)
    writer.add_feed_forward_length(11008)
    writer.add_rope_dimension_count(128)
    writer.add_head_count(32)
    writer.add_head_count_kv(32)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(15)
    writer.add_token_list([f"<tok{i}>" for i in range(32000)])
    writer.add_token_scores([0.0] * 32000)
    writer.add_token_types([1] * 32000)


def test_llama2_7b_q4_k_m_weights_match_llama_cpp_and_the_published_file(llama2_7b_header_file):
    """The exact weights of a real Q4_K_M file: what llama.cpp maps, and just under the file's size."""
    header = parse_gguf_header(llama2_7b_header_file.read_bytes())
    counts = {row.type_name: row.tensors for row in header.type_totals()}
    assert counts == {"F32": 65, "Q4_K": 193, "Q6_K": 33}  # the log's type counts
    assert header.file_type == "Q4_K_M"
    assert header.parameters == 6_738_415_616  # Llama-2-7b's published count (as tests/test_cli.py)
    assert round(header.weights_bytes / MIB, 2) == LLAMA2_7B_CPU_BUFFER_MIB  # 3891.24 MiB
    assert round(header.weights_bytes / 2**30, 2) == 3.80  # "model size = 3.80 GiB"
    # the file is its header (metadata, a 32,000-token vocabulary, 291 tensor infos) plus the data
    header_and_padding = LLAMA2_7B_FILE_BYTES - header.weights_bytes
    assert 0 < header_and_padding < 1 * MIB, header_and_padding


def test_llama2_7b_kv_cache_matches_llama_cpp(llama2_7b_header_file, capsys):
    """At n_ctx 4096 llama.cpp allocates 2048.00 MiB of f16 KV cache for this file."""
    code, out, _ = run_cli(capsys, "--gguf", str(llama2_7b_header_file), "--context", "4096", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["kv_cache_bytes"] == 2048 * MIB
    assert report["params"] == 6_738_415_616
    # by hand: Q4_K 144 bytes and Q6_K 210 bytes per 256 values, F32 4 bytes
    #   Q4_K: token_embd 4096 x 32000 -> 73,728,000; per layer q, k, o 3 x 9,437,184 and gate, up
    #         2 x 25,362,432 (x 32 = 2,529,165,312); attn_v 9,437,184 + ffn_down 25,362,432 in 16 layers
    #         (556,793,856): 3,159,687,168
    #   Q6_K: output 107,520,000; attn_v 13,762,560 + ffn_down 36,986,880 in 16 layers: 919,511,040
    #   F32:  65 norms x 4096 x 4 = 1,064,960
    types = {row["type"]: (row["tensors"], row["bytes"]) for row in report["gguf"]["tensor_types"]}
    assert types == {"Q4_K": (193, 3_159_687_168), "Q6_K": (33, 919_511_040), "F32": (65, 1_064_960)}
    assert report["weights_bytes"] == 3_159_687_168 + 919_511_040 + 1_064_960  # 4,080,263,168


# ggml-org/gpt-oss-20b-GGUF, gpt-oss-20b-mxfp4.gguf: llama.cpp's load log (459 tensors, 35 keys,
# general.file_type 38 = MXFP4 MoE; quoted in ikawrakow/ik_llama.cpp#822 and, with the lines below,
# in several public repositories: find_string "file size   = 11.27 GiB") prints
#   type  f32:  289 tensors / type q8_0:   98 tensors / type mxfp4:   72 tensors
#   file size   = 11.27 GiB (4.63 BPW); n_embd 2880, n_layer 24, n_head 64, n_head_kv 8, n_swa 128,
#   n_expert 32, n_expert_used 4, vocabulary 201,088 tokens
# The shapes are the config's (openai/gpt-oss-20b: hidden 2880, 64 heads x 64, 8 KV heads,
# intermediate 2880 per expert); the tensor names and types are llama.cpp's for gpt-oss: 24 x 3
# expert stacks in MXFP4 (72), the 4 attention matrices of each layer plus token_embd and output in
# Q8_0 (98), and 12 small F32 tensors per layer plus output_norm (289). OpenAI's model card gives
# 20.91 B parameters, 3.61 B active per token (its "active" leaves out the input embedding).
def gpt_oss_20b_tensors():
    hidden, q_dim, kv_dim, experts, width, vocab = 2880, 64 * 64, 8 * 64, 32, 2880, 201_088
    yield "token_embd.weight", (hidden, vocab), T.Q8_0
    for i in range(24):
        b = f"blk.{i}"
        yield f"{b}.attn_norm.weight", (hidden,), T.F32
        yield f"{b}.attn_q.weight", (hidden, q_dim), T.Q8_0
        yield f"{b}.attn_q.bias", (q_dim,), T.F32
        yield f"{b}.attn_k.weight", (hidden, kv_dim), T.Q8_0
        yield f"{b}.attn_k.bias", (kv_dim,), T.F32
        yield f"{b}.attn_v.weight", (hidden, kv_dim), T.Q8_0
        yield f"{b}.attn_v.bias", (kv_dim,), T.F32
        yield f"{b}.attn_output.weight", (q_dim, hidden), T.Q8_0
        yield f"{b}.attn_output.bias", (hidden,), T.F32
        yield f"{b}.attn_sinks.weight", (64,), T.F32
        yield f"{b}.post_attention_norm.weight", (hidden,), T.F32
        yield f"{b}.ffn_gate_inp.weight", (hidden, experts), T.F32
        yield f"{b}.ffn_gate_inp.bias", (experts,), T.F32
        yield f"{b}.ffn_gate_exps.weight", (hidden, width, experts), T.MXFP4
        yield f"{b}.ffn_gate_exps.bias", (width, experts), T.F32
        yield f"{b}.ffn_up_exps.weight", (hidden, width, experts), T.MXFP4
        yield f"{b}.ffn_up_exps.bias", (width, experts), T.F32
        yield f"{b}.ffn_down_exps.weight", (width, hidden, experts), T.MXFP4
        yield f"{b}.ffn_down_exps.bias", (hidden, experts), T.F32
    yield "output_norm.weight", (hidden,), T.F32
    yield "output.weight", (hidden, vocab), T.Q8_0


def _gpt_oss_20b_metadata(writer: gguf.GGUFWriter) -> None:
    writer.add_block_count(24)
    writer.add_context_length(131072)
    writer.add_embedding_length(2880)
    writer.add_feed_forward_length(2880)
    writer.add_head_count(64)
    writer.add_head_count_kv(8)
    writer.add_key_length(64)
    writer.add_value_length(64)
    writer.add_sliding_window(128)
    writer.add_expert_count(32)
    writer.add_expert_used_count(4)
    writer.add_expert_feed_forward_length(2880)
    writer.add_file_type(38)


@pytest.fixture(scope="module")
def gpt_oss_20b_header(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpt-oss") / "gpt-oss-20b-mxfp4.header.gguf"
    write_header_only(path, "gpt-oss", gpt_oss_20b_tensors(), _gpt_oss_20b_metadata)
    return parse_gguf_header(path.read_bytes())


def test_gpt_oss_20b_mxfp4_matches_llama_cpp(gpt_oss_20b_header):
    """MXFP4 experts and a MoE: the weights llama.cpp reports for the published GGUF, and the
    published total and active counts."""
    header = gpt_oss_20b_header
    assert {row.type_name: row.tensors for row in header.type_totals()} == {"F32": 289, "Q8_0": 98, "MXFP4": 72}
    assert header.file_type == "MXFP4_MOE"
    assert round(header.weights_bytes / 2**30, 2) == 11.27  # "file size = 11.27 GiB"
    assert round(header.weights_bytes * 8 / header.parameters, 2) == 4.63  # "(4.63 BPW)"
    assert round(header.parameters / 1e9, 2) == 20.91  # OpenAI: 20.91 B
    input_embedding = 2880 * 201_088
    assert round((active_parameters(header) - input_embedding) / 1e9, 2) == 3.61  # OpenAI: 3.61 B active
    spec = gguf_model_spec(header)
    assert (spec.num_experts, spec.experts_per_token, spec.num_kv_heads, spec.head_dim) == (32, 4, 8, 64)
    assert (spec.sliding_window, spec.sliding_window_layers) == (128, 12)  # every even layer slides
    assert spec.attention_sinks


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("token_embd.weight", "embedding"),
        ("output.weight", "lm_head"),
        ("output_norm.weight", "norms"),
        ("blk.3.attn_output.weight", "attention_linear"),
        ("blk.3.attn_kv_a_mqa.weight", "attention_linear"),
        ("blk.3.attn_q.bias", "attention_other"),
        ("blk.3.attn_sinks.weight", "attention_other"),
        ("blk.3.attn_q_norm.weight", "norms"),
        ("blk.3.ffn_down.weight", "dense_mlp_linear"),
        ("blk.3.ffn_up_exps.weight", "routed_experts_linear"),
        ("blk.3.ffn_down_exps.bias", "mlp_biases"),
        ("blk.3.ffn_gate_shexp.weight", "shared_experts_linear"),
        ("blk.3.ffn_gate_inp.weight", "router"),
        ("blk.3.ffn_gate_inp_shexp.weight", "router"),
        ("blk.3.exp_probs_b.bias", "router"),
        ("blk.3.ssm_in.weight", "other"),
    ],
)
def test_tensor_names_fall_in_the_parameter_groups(name, group):
    """The groups checkpoints as shipped are sized by (llm_calc.architecture.parameter_groups)."""
    assert tensor_group(name) == group


def test_gpt_oss_20b_groups_hold_the_expected_elements(gpt_oss_20b_header):
    """By group and type: the routed experts are all MXFP4 at 4.25 bits, the rest Q8_0 or F32."""
    rows = {(r.group, r.type_name): r for r in group_type_totals(gpt_oss_20b_header)}
    experts = rows["routed_experts_linear", "MXFP4"]
    assert (experts.tensors, experts.elements) == (72, 24 * 3 * 32 * 2880 * 2880)  # 19,110,297,600
    assert experts.bits == 4.25  # 17 bytes per 32 values
    assert rows["attention_linear", "Q8_0"].elements == 24 * 2 * (2880 * 4096 + 2880 * 512)
    assert rows["attention_linear", "Q8_0"].bits == 8.5  # 34 bytes per 32 values
    assert rows["embedding", "Q8_0"].elements == rows["lm_head", "Q8_0"].elements == 2880 * 201_088
    assert rows["router", "F32"].elements == 24 * (2880 * 32 + 32)
    assert sum(r.elements for r in rows.values()) == 20_914_757_184


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cli_on_any_upload_exits_0_or_2_with_one_line(data):
    """Whatever the file holds (random bytes, a corrupted real header), the CLI answers or says why."""
    import io
    import tempfile
    from contextlib import redirect_stderr, redirect_stdout
    from pathlib import Path

    original = TINY_BYTES.get()
    if data.draw(st.booleans()):
        content = data.draw(st.binary(max_size=300))
    else:
        position = data.draw(st.integers(0, len(original) - 1))
        content = original[:position] + bytes([data.draw(st.integers(0, 255))]) + original[position + 1 :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.gguf"
        path.write_bytes(content)
        out, err = io.StringIO(), io.StringIO()
        with (
            bounded(),
            redirect_stdout(out),
            redirect_stderr(err),
        ):  # a corrupted layer count once built a billion-entry tuple
            code = main(["memory", "--gguf", str(path), "--json"])
    assert code in (0, 2)
    if code == 2:
        assert err.getvalue().count("\n") == 1
    else:
        assert "weights_bytes" in json.loads(out.getvalue())
