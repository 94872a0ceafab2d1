"""Inference engines: which one runs a weight format on a card, and how fast its steps are.

An engine profile holds what the step-time model of ``llm_calc.hardware`` needs from the engine:

* **bandwidth efficiency** — the fraction of datasheet memory bandwidth its decode kernels reach;
* **layer overhead** — a fixed time every layer of every forward step pays whatever its size
  (kernel launches and their gaps, Python and scheduler work spread over the layers): the latency
  floor that dominates small models and eager ``generate``. Per layer rather than per step because
  launches scale with the layers: on the llama.cpp rows (32- and 80-layer models) the
  leave-one-source-out error fell from 7.7 % to 5.1 % (CUDA) and from 12.3 % to 11.1 % (Metal). [s]
* **prefill MFU** — the fraction of dense tensor TFLOPS its prompt processing reaches;
* **KV-copy efficiency** — for eager transformers, which rebuilds its KV cache every step
  (``kv_cache_passes``, counted from its code), the fraction of datasheet bandwidth those copies
  reach: on its long-prompt rows the cache's cost grows several times faster than one read;
* **request overhead** — for an engine behind an HTTP API server (``SERVER_ENGINES``), the fixed
  time a request waits before its first token beyond prefill and one decode step: receiving and
  tokenizing it, scheduling it, streaming the token back;
* **memory behaviour** — how much of the card it takes: vLLM reserves
  ``gpu_memory_utilization`` of the card and fills what the weights leave with KV blocks, SGLang
  does the same with ``mem_fraction_static``, TensorRT-LLM gives the KV cache
  ``free_gpu_memory_fraction`` of the memory left after the weights; llama.cpp, MLX and
  transformers allocate the context they are given.

The speed figures are fitted on ``data/measurements.csv`` by ``llm_calc.engine_fit``
(``scripts/fit_engines.py`` writes ``data/engine_profiles.csv``, each with its row count, its
sources and its leave-one-source-out error). This module reads that file; it never holds a
speed constant itself.

Which engine runs what is a table (``ENGINE_FORMATS``, ``ENGINE_VENDORS``): an impossible pair
is refused with a message naming what does run it, and without an engine ``pick_engine`` names
the one a user would most likely run.

References
----------
.. [1] vLLM docs, "Engine Arguments": ``--gpu-memory-utilization`` (default 0.9), quantization
       methods awq, gptq, fp8, bitsandbytes. https://docs.vllm.ai/en/v0.8.5/serving/engine_args.html
.. [2] SGLang ``server_args.py``: ``mem_fraction_static`` defaults to 0.88 on one card (0.87 at
       TP 2, 0.85 at TP 4, 0.81 at TP 8).
       https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/server_args.py
.. [3] TensorRT-LLM docs, "How to Change KV Cache Behavior": ``free_gpu_memory_fraction``
       defaults to 0.9 of the memory free after the weights.
       https://nvidia.github.io/TensorRT-LLM/examples/kvcacheconfig.html
.. [4] llama.cpp README, "Supported backends" (CUDA, HIP for AMD built from the CUDA sources,
       Metal, CPU) and GGUF quantization types. https://github.com/ggml-org/llama.cpp
.. [5] MLX: "an array framework for machine learning on Apple silicon".
       https://github.com/ml-explore/mlx
.. [6] vLLM v0.8.0 release: "We have now enabled V1 engine by default" (vllm-project/vllm PR 13726),
       https://github.com/vllm-project/vllm/releases/tag/v0.8.0
.. [7] TensorRT-LLM docs, "PyTorch Backend": "available in version 0.17 and later".
       https://nvidia.github.io/TensorRT-LLM/torch.html
.. [8] transformers ``cache_utils.py``, ``DynamicLayer.update``: ``self.keys = torch.cat([self.keys,
       key_states], dim=-2)`` (the same ``torch.cat`` in every release since the tuple caches of 2023).
       https://github.com/huggingface/transformers/blob/main/src/transformers/cache_utils.py
.. [9] transformers PR 39412 (merged 2025-07-16, first in 4.54): ``sdpa_attention_forward`` passes
       ``enable_gqa`` to SDPA instead of ``repeat_kv``-ing the KV heads up to the query heads.
       https://github.com/huggingface/transformers/pull/39412
.. [10] transformers 4.46 ``modeling_flash_attention_utils._upad_input``: with an attention mask
       (``generate`` passes one) the cache is reshaped from its transposed layout and gathered by
       flash-attn's ``index_first_axis``, which expands its int64 index to every element
       (``repeat(indices, "z -> z d")``).
       https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/modeling_flash_attention_utils.py
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from llm_calc.catalog import DATA_DIR, CatalogError, Gpu, _read_rows, _text
from llm_calc.precision import AS_SHIPPED, weight_format
from llm_calc.quantization import StoragePlan

ENGINES = ("llama.cpp", "mlx", "vllm", "sglang", "tensorrt-llm", "transformers", "transformers-compiled")
"""Engine names, as the CLI, the app and ``data/measurements.csv`` spell them: ``transformers`` is
Hugging Face ``generate`` in eager mode, ``transformers-compiled`` the same with a static KV cache
and ``torch.compile``."""

UNCHUNKED_PREFILL_ENGINES = ("transformers", "transformers-compiled")
"""Engines whose prefill is one forward pass over every prompt of the batch: ``generate`` does not
split a prompt into chunks, so its activations grow with batch x prompt. The serving engines and
llama.cpp process a prompt in chunks of ``llm_calc.memory.DEFAULT_PREFILL_CHUNK_TOKENS``."""


def prefill_chunk_tokens(engine: str, batch: int, prompt_tokens: int, chunked: int) -> int:
    """Tokens one prefill forward pass holds with ``engine``: the whole batch's prompts for
    :data:`UNCHUNKED_PREFILL_ENGINES`, else the ``chunked`` size the engine is set to. [tokens]"""
    if engine in UNCHUNKED_PREFILL_ENGINES:
        return max(1, batch * prompt_tokens)
    return chunked


ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2")
"""transformers' ``attn_implementation`` values a measurement may name (``""``: the release's
default, SDPA since 4.36)."""

SDPA_DEFAULT_FROM = (4, 36)
"""The transformers release that made SDPA the default attention (eager matmuls before it)."""

SDPA_NATIVE_GQA_FROM = (4, 54)
"""The first transformers release whose SDPA path reads grouped KV heads as they are [9]."""

FLASH_ATTENTION_2_RELEASES = ((4, 36), (4, 46))
"""The transformers releases (first, last) whose FlashAttention 2 path ``kv_cache_passes`` counts:
the unpadding gather read in 4.46 [10]; the releases after it are not read here, so not counted."""


def transformers_release(version: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a transformers version string ("4.46.0", "4.32"), ``None`` for text
    without one ("main (May 2023)") or ``""`` (the current release)."""
    match = re.match(r"\s*(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def kv_cache_passes(engine: str, query_groups: int, version: str = "", attention: str = "") -> int:
    """Times one decode step moves each layer's KV cache through memory, in units of the cache's
    bytes (reads and writes), for an engine that keeps ``query_groups`` query heads per KV head. [1]

    * every engine but eager transformers keeps the cache in place (paged blocks, llama.cpp's and
      MLX's buffers, the static cache of ``transformers-compiled``) and writes the new token into
      it: its attention reads the cache once, **1**;
    * eager transformers ``generate`` appends the token with ``torch.cat`` [8], reading the
      whole cache and writing a new copy, every layer, every step (2), and then its attention:

      - eager matmuls, or SDPA taking the KV heads as they are (one query head per KV head, or
        from 4.54 on [9]): one read, **3** in all;
      - SDPA before 4.54 with grouped KV heads: ``repeat_kv`` reads the cache and writes
        ``query_groups`` copies, which SDPA reads: **3 + 2 x query_groups**;
      - FlashAttention 2 as in 4.46 [10]: the transposed cache copied by ``reshape`` (2), an int64
        index of 4 bytes per 16-bit byte written and read (8), the gather's read and write (2), the
        kernel's read (1): **15**.

    ``version`` ``""`` (or text without a release number) is the current release, ``attention``
    ``""`` the release's default. Counted from the code, not fitted; how fast the passes beyond the
    first run is fitted (``EngineProfile.kv_copy_efficiency``). Raises ``ValueError`` for an
    attention implementation this does not model.
    """
    if engine != "transformers":
        return 1
    if attention not in ("", *ATTENTION_IMPLEMENTATIONS):
        raise ValueError(f"attention {attention!r} is not one of {', '.join(ATTENTION_IMPLEMENTATIONS)}")
    release = transformers_release(version)
    if attention == "flash_attention_2":
        first, last = FLASH_ATTENTION_2_RELEASES
        if release is None or not first <= release <= last:
            raise ValueError(
                "the KV-cache traffic of transformers' FlashAttention 2 path is modelled for releases "
                f"{first[0]}.{first[1]} to {last[0]}.{last[1]} only, not {version or 'the current release'}"
            )
        return 15
    sdpa = attention == "sdpa" or (not attention and (release is None or release >= SDPA_DEFAULT_FROM))
    repeats = sdpa and query_groups > 1 and release is not None and release < SDPA_NATIVE_GQA_FROM
    return 3 + 2 * query_groups if repeats else 3


def copies_kv_cache(engine: str) -> bool:
    """Whether ``engine`` moves its KV cache more than once a decode step (:func:`kv_cache_passes`
    above 1 in its current release, whatever the model): only eager transformers, whose profile
    alone has a KV-copy efficiency to fit and show."""
    return kv_cache_passes(engine, 1) > 1


def fused_attention(engine: str, attention_sinks: bool) -> bool:
    """Whether ``engine`` runs the model's attention without materialising the score matrix:
    transformers runs attention-sink models (gpt-oss) with its eager attention, since that model
    has no SDPA path (``_supports_sdpa = False``) and FlashAttention needs the separate ``kernels``
    package; every other pairing here uses a fused kernel."""
    return not (engine in UNCHUNKED_PREFILL_ENGINES and attention_sinks)


LLAMA_CPP_BACKENDS = ("cuda", "metal", "cpu")
"""llama.cpp's backends with a profile of their own; AMD cards run the CUDA sources built with HIP
(``rocm``), so they share the ``cuda`` profile [4]."""

ROCM_PROFILED_ENGINES = ("vllm", "sglang")
"""Serving engines with a profile of their own on AMD cards: their ROCm builds run other kernels
(AITER, Triton, hipBLASLt) than their CUDA builds and reach another share of the bandwidth, so one
set of constants for both would sit between them and fit neither."""

PROFILE_KEYS = (
    "llama.cpp/cuda",
    "llama.cpp/metal",
    "llama.cpp/cpu",
    "mlx",
    "vllm",
    "vllm/rocm",
    "sglang",
    "sglang/rocm",
    "tensorrt-llm",
    "transformers",
    "transformers-compiled",
)
"""One profile per engine, per backend for llama.cpp, and per vendor for vLLM and SGLang."""

SERVER_ENGINES = ("vllm", "sglang", "tensorrt-llm")
"""Engines run behind an HTTP API server (``vllm serve``, ``sglang.launch_server``,
``trtllm-serve``): their time-to-first-token rows are timed by a benchmark client, and a request pays
the server's fixed time (``EngineProfile.request_overhead_seconds``) beside its prefill. llama.cpp's
rows come from ``llama-bench``, MLX's and transformers' from in-process runs: no server in the time."""

RELEASES_FROM: dict[str, str] = {"vllm": "2025-04", "sglang": "2025-04", "tensorrt-llm": "2025-04"}
"""The first month (YYYY-MM) of the releases each serving engine's profile describes; its rows
measured before then ran superseded releases and are kept, shown apart, and not fitted. The serving
engines were rebuilt in early 2025: vLLM's V1 engine became the default in 0.8.0 (2025-03) [6],
TensorRT-LLM's PyTorch backend arrived in 0.17 (2025-02) and became its default in 1.0 [7]; SGLang
has no one switch, but in our own rows DeepSeek-R1 on 8 H200 decodes 3.4x faster per step on
SGLang 0.5.7 (2026-03) than on 0.4.3 (2025-03), at the same concurrency of 8. Fitted together,
such rows set the constants between two generations of kernels and fit neither. Engines not named
here (llama.cpp, MLX, transformers) describe every release: their old rows still fit. The month
is the row's measurement date, the one date every row has: a row measured later may still have run
an older release (SGLang 0.4.6 measured in 2026-05), and counts as current."""


def releases_described(engine: str) -> str:
    """How the pages and profile notes name the releases ``engine``'s profile describes ("releases
    from 2025-04 on"); "" for an engine whose profile describes every release."""
    return f"releases from {RELEASES_FROM[engine]} on" if engine in RELEASES_FROM else ""


def superseded_release(engine: str, measured: str) -> bool:
    """Whether a row of ``engine`` measured in ``measured`` (YYYY-MM) ran a release from before
    the ones its profile describes (:data:`RELEASES_FROM`)."""
    return engine in RELEASES_FROM and measured[:7] < RELEASES_FROM[engine]


FORMAT_FAMILIES = ("16-bit", "fp32", "gguf", "fp8", "int8", "int4", "nf4", "mxfp4", "mlx-4bit")
"""What an engine must be able to read: 16-bit floats, fp32, GGUF block quants (q*_0, k-quants),
fp8, 8-bit integers, GPTQ/AWQ int4, bitsandbytes NF4, MXFP4 (gpt-oss's experts), MLX's own
affine 4-bit arrays."""

ENGINE_FORMATS: dict[str, tuple[str, ...]] = {
    "llama.cpp": ("16-bit", "fp32", "gguf", "mxfp4"),
    "mlx": ("16-bit", "fp32", "mlx-4bit"),
    "vllm": ("16-bit", "fp32", "fp8", "int8", "int4", "nf4", "mxfp4"),
    "sglang": ("16-bit", "fp32", "fp8", "int4", "mxfp4"),
    "tensorrt-llm": ("16-bit", "fp32", "fp8", "int8", "int4", "mxfp4"),
    "transformers": ("16-bit", "fp32", "int8", "int4", "nf4", "mxfp4"),
    "transformers-compiled": ("16-bit", "fp32"),
}
"""Weight-format families each engine loads [1]-[5]: GGUF is llama.cpp's own format (16-bit and
fp32 GGUF files included); MLX converts safetensors to its own arrays; vLLM, SGLang and
TensorRT-LLM load fp8, GPTQ/AWQ int4 and MXFP4 checkpoints; bitsandbytes int8/NF4 runs in
transformers (and vLLM); a static-cache compiled decode is modelled for plain 16-bit weights only."""

ENGINE_VENDORS: dict[str, tuple[str, ...]] = {
    "llama.cpp": ("NVIDIA", "AMD", "Apple", "CPU"),
    "mlx": ("Apple",),
    "vllm": ("NVIDIA", "AMD"),
    "sglang": ("NVIDIA", "AMD"),
    "tensorrt-llm": ("NVIDIA",),
    "transformers": ("NVIDIA", "AMD", "Apple"),
    "transformers-compiled": ("NVIDIA", "AMD"),
}
"""Card vendors each engine runs on: MLX only on Apple silicon, TensorRT-LLM only on NVIDIA,
vLLM and SGLang on CUDA and ROCm (not on Apple GPUs), transformers on CUDA, ROCm and Apple's MPS.
On CPUs (vendor ``CPU`` whoever made the chip) only llama.cpp's CPU backend is modelled: vLLM and
transformers have CPU paths too, but no profile of ours describes them, so they are refused. A
user's own card (vendor ``Custom``) is taken as a CUDA or ROCm card unless its class is Apple or CPU."""

VLLM_GPU_MEMORY_UTILIZATION = 0.9
"""Share of the card vLLM takes for weights, activations and KV blocks (its default) [1]."""

SGLANG_MEM_FRACTION_STATIC = 0.88
"""Share of the card SGLang takes for weights and the KV pool on one card (its default) [2]."""

TENSORRT_LLM_FREE_MEMORY_FRACTION = 0.9
"""Share of the memory left after the weights that TensorRT-LLM gives the KV cache [3]."""

CARD_FRACTION = {"vllm": VLLM_GPU_MEMORY_UTILIZATION, "sglang": SGLANG_MEM_FRACTION_STATIC}
"""Engines that reserve a fixed share of the card, whatever the model."""
FREE_FRACTION = {"tensorrt-llm": TENSORRT_LLM_FREE_MEMORY_FRACTION}
"""Engines whose KV cache takes a share of what the weights leave free."""

PROFILES_PATH = DATA_DIR / "engine_profiles.csv"
"""The fitted profiles, written by ``scripts/fit_engines.py``."""

PROFILE_STATUSES = ("validated", "fitted, not validated", "not fitted")
"""``validated``: fitted on rows of two or more sources, with a leave-one-source-out error;
``fitted, not validated``: all its rows come from one source; ``not fitted``: no rows of its own,
so the pooled fit of every engine's rows stands in (said on the page and in the JSON)."""


@dataclass(frozen=True)
class EngineProfile:
    """One engine's constants, as fitted (see the module docstring)."""

    key: str
    """A name of ``PROFILE_KEYS``."""
    bandwidth_efficiency: float
    """Fraction of datasheet memory bandwidth a decode step reaches. [1]"""
    layer_overhead_seconds: float
    """Fixed time added to every layer of every forward step. [s]"""
    moe_layer_overhead_seconds: float
    """Fixed time added on top to every MoE layer of every forward step: routing the tokens to
    their experts and gathering them back (top-k, sorting tokens by expert, the expert kernels'
    launches), and, with the experts split over tensor ranks, dispatch to the ranks' shards and
    waiting for the slowest. 0 where the engine's rows cannot tell it apart
    (see ``llm_calc.engine_fit``). [s]"""
    prefill_mfu: float
    """Fraction of dense tensor TFLOPS prompt processing reaches. [1]"""
    status: str
    """One of ``PROFILE_STATUSES``."""
    fit_rows: int
    """Speed rows of this engine the figures were fitted on."""
    sources: int
    """Distinct sources among those rows."""
    cv_median_abs_error: float | None
    """Median absolute error of the decode rows, each predicted by a fit that did not see its
    source; ``None`` with fewer than two sources. [1]"""
    source: str
    """Where the figures come from: the rows' sources, or the pooled fit that stands in."""
    note: str = ""
    """What the fit could not tell from its rows, and what the MoE-layer overhead rests on."""
    request_overhead_seconds: float = 0.0
    """Fixed time a request waits before its first token beyond its prefill and one decode step:
    for ``SERVER_ENGINES`` the API server's share (fitted, pooled over their time-to-first-token
    rows: see ``llm_calc.engine_fit``), 0 for the others. Added to the time to first token only:
    under load it overlaps other requests' decode steps. [s]"""
    kv_copy_efficiency: float = 1.0
    """Fraction of datasheet bandwidth at which the KV-cache passes beyond the attention's one read
    run (the copies of :func:`kv_cache_passes`): fitted for eager transformers, whose concatenation,
    ``repeat_kv`` and gathers are plain copy kernels; 1 for the engines that make no such pass. [1]"""

    @property
    def constants(self) -> tuple[float, float, float, float, float]:
        """``(efficiency, mfu, layer overhead, MoE-layer overhead, KV-copy efficiency)``, the
        arguments of ``llm_calc.hardware.StepCost.seconds``."""
        return (
            self.bandwidth_efficiency,
            self.prefill_mfu,
            self.layer_overhead_seconds,
            self.moe_layer_overhead_seconds,
            self.kv_copy_efficiency,
        )

    @cached_property  # read for every card of every estimate
    def engine(self) -> str:
        """The engine name (``llama.cpp`` for every llama.cpp backend)."""
        return self.key.partition("/")[0]

    @cached_property  # read for every card of every estimate
    def card_fraction(self) -> float:
        """Share of the card's usable memory the engine takes (1 when it allocates what it is given)."""
        return CARD_FRACTION.get(self.engine, 1.0)

    @cached_property  # read for every card of every estimate
    def free_fraction(self) -> float:
        """Share of the memory left after weights and buffers that the KV cache may take."""
        return FREE_FRACTION.get(self.engine, 1.0)


def _fraction(value: str) -> float:
    number = float(value)
    if not 0.01 <= number <= 1:
        raise ValueError(f"expected a fraction from 0.01 to 1, got {value!r}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not 0 <= number < 10:
        raise ValueError(f"expected seconds from 0 to 10, got {value!r}")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"expected a count >= 0, got {value!r}")
    return number


def _optional_error(value: str) -> float | None:
    return float(value) if value.strip() else None


PROFILE_COLUMNS: dict[str, Callable[[str], Any]] = {
    "profile": _text,
    "bandwidth_efficiency": _fraction,
    "layer_overhead_seconds": _seconds,
    "moe_layer_overhead_seconds": _seconds,
    "prefill_mfu": _fraction,
    "request_overhead_seconds": _seconds,
    "kv_copy_efficiency": _fraction,
    "status": _text,
    "fit_rows": _count,
    "sources": _count,
    "cv_median_abs_error": _optional_error,
    "source": _text,
    "note": str.strip,
}
"""Columns of ``data/engine_profiles.csv`` read into an ``EngineProfile`` (``cv_rows`` is for readers)."""


def load_profiles(path: Path | str = PROFILES_PATH) -> dict[str, EngineProfile]:
    """Read the fitted profiles. Raises :class:`~llm_calc.catalog.CatalogError`."""
    path = Path(path)
    profiles: dict[str, EngineProfile] = {}
    for number, row in _read_rows(path, PROFILE_COLUMNS):
        where = f"{path.name} row {number}"
        if row["profile"] not in PROFILE_KEYS:
            raise CatalogError(f"{where}, column profile: expected one of {', '.join(PROFILE_KEYS)}")
        if row["status"] not in PROFILE_STATUSES:
            raise CatalogError(f"{where}, column status: expected one of {', '.join(PROFILE_STATUSES)}")
        key = row.pop("profile")
        profiles[key] = EngineProfile(key=key, **row)
    missing = [k for k in PROFILE_KEYS if k not in profiles]
    if missing:
        raise CatalogError(f"{path.name}: no profile for {', '.join(missing)}; run scripts/fit_engines.py")
    return profiles


@cache
def default_profiles() -> dict[str, EngineProfile]:
    """The shipped profiles, read once per process."""
    return load_profiles()


def write_profiles(rows: list[dict[str, Any]], path: Path | str = PROFILES_PATH) -> None:
    """Write profile rows (dicts with ``PROFILE_COLUMNS`` and the reader columns ``cv_rows``, ``note``)."""
    columns = [*[c for c in PROFILE_COLUMNS if c != "note"], "cv_rows", "note"]
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


# --- which engine runs what ---------------------------------------------------------------------


def format_family(weight_format_name: str, storage: StoragePlan | None = None) -> str:
    """The ``FORMAT_FAMILIES`` entry of a precision, or of a checkpoint's storage as shipped.

    Raises ``ValueError`` for a storage plan whose format no engine table covers.
    """
    if weight_format_name != AS_SHIPPED:
        name = weight_format(weight_format_name).name
        if name in ("bf16", "fp16"):
            return "16-bit"
        if name.startswith("q"):
            return "gguf"
        return name
    if storage is None:
        raise ValueError("precision 'auto' (as shipped) needs the checkpoint's storage plan")
    label = storage.label.lower()
    if "gguf" in label:
        return "gguf"
    if storage.fp8_compute:
        return "fp8"
    # compressed-tensors labels name their integer width ("compressed-tensors int4 g32": Kimi K2.5's experts)
    for marker, family in (
        ("mxfp4", "mxfp4"),
        ("awq", "int4"),
        ("gptq", "int4"),
        ("int4", "int4"),
        ("int8", "int8"),
        ("nf4", "nf4"),
    ):
        if marker in label:
            return family
    if "no quantization_config" in label:
        return "fp32" if "32-bit" in label else "16-bit"
    if "bitsandbytes" in label:
        return "nf4"
    raise ValueError(f"no engine table covers weights stored {storage.label!r}; choose --precision")


def card_vendor(gpu: Gpu) -> str:
    """The vendor an engine sees: ``CPU`` for any CPU (AMD's EPYC runs llama.cpp's CPU backend, not
    ROCm); a user's own card is CUDA/ROCm-like unless its class is Apple or CPU."""
    if gpu.is_apple:
        return "Apple"
    if gpu.is_cpu:
        return "CPU"
    return gpu.vendor if gpu.vendor in ("NVIDIA", "AMD") else "NVIDIA"


def runs(engine: str, family: str, gpu: Gpu) -> bool:
    """Whether ``engine`` loads weights of ``family`` on ``gpu``."""
    check_engine_name(engine)
    return family in ENGINE_FORMATS[engine] and card_vendor(gpu) in ENGINE_VENDORS[engine]


def check_engine_name(engine: str) -> str:
    """``engine`` if it is one of ``ENGINES``; else ``ValueError`` naming them."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def check_engine(engine: str, family: str, gpu: Gpu) -> None:
    """Refuse an impossible engine, format and card with a message naming what does run it."""
    check_engine_name(engine)
    vendor = card_vendor(gpu)
    if vendor not in ENGINE_VENDORS[engine]:
        others = [e for e in ENGINES if vendor in ENGINE_VENDORS[e] and family in ENGINE_FORMATS[e]]
        refusal = (
            f"{engine} on a CPU is not modelled: only llama.cpp's CPU backend has a profile ({gpu.name}); "
            if vendor == "CPU"
            else f"{engine} does not run on {vendor} cards ({gpu.name}); "
        )
        raise ValueError(
            refusal
            + (f"for {family} weights there use {', '.join(others)}" if others else f"nothing runs {family} there")
        )
    if family not in ENGINE_FORMATS[engine]:
        others = [e for e in ENGINES if vendor in ENGINE_VENDORS[e] and family in ENGINE_FORMATS[e]]
        raise ValueError(
            f"{engine} does not load {family} weights; "
            + (f"on {gpu.name} use {', '.join(others)}" if others else f"no engine runs {family} on {gpu.name}")
        )


LIKELY_ENGINE: dict[tuple[str, str], str] = {
    ("Apple", "gguf"): "llama.cpp",
    ("Apple", "16-bit"): "mlx",
    ("Apple", "fp32"): "mlx",
    ("Apple", "mlx-4bit"): "mlx",
    ("Apple", "mxfp4"): "llama.cpp",
    ("Apple", "int4"): "transformers",
    ("Apple", "int8"): "transformers",
    ("Apple", "nf4"): "transformers",
}
"""The engine most users run for a format on Apple silicon: GGUF files in llama.cpp (and the apps
built on it), safetensors in MLX. Every other card: ``DEFAULT_SERVING_ENGINE`` where it loads the
format, else the first engine of ``ENGINES`` that does (GGUF: llama.cpp; bitsandbytes: vLLM)."""

DEFAULT_SERVING_ENGINE = "vllm"
"""On NVIDIA and AMD cards, the engine picked for the formats it loads: the most used open
serving engine."""


def pick_engine(family: str, gpu: Gpu) -> str:
    """The engine a user would most likely run for ``family`` weights on ``gpu``.

    Raises ``ValueError`` when no engine runs them there (e.g. fp8 on Apple silicon).
    """
    vendor = card_vendor(gpu)
    choice = LIKELY_ENGINE.get((vendor, family))
    if choice is None:
        choice = DEFAULT_SERVING_ENGINE if family in ENGINE_FORMATS[DEFAULT_SERVING_ENGINE] else ""
    if choice and vendor in ENGINE_VENDORS[choice] and family in ENGINE_FORMATS[choice]:
        return choice
    for engine in ENGINES:
        if vendor in ENGINE_VENDORS[engine] and family in ENGINE_FORMATS[engine]:
            return engine
    devices = "CPUs" if vendor == "CPU" else f"{vendor} cards"
    raise ValueError(f"no engine runs {family} weights on {devices} ({gpu.name})")


def backend_for(engine: str, gpu: Gpu) -> str:
    """The profile key of ``engine`` on ``gpu``: llama.cpp's CPU backend on a CPU, its Metal build on
    Apple, else its CUDA (HIP) build; vLLM's and SGLang's ROCm builds on AMD cards; other engines have one profile."""
    check_engine_name(engine)
    if engine in ROCM_PROFILED_ENGINES and card_vendor(gpu) == "AMD":
        return f"{engine}/rocm"
    if engine != "llama.cpp":
        return engine
    if gpu.is_cpu:
        return "llama.cpp/cpu"
    return "llama.cpp/metal" if gpu.is_apple else "llama.cpp/cuda"


def profile_for(engine: str, gpu: Gpu, profiles: dict[str, EngineProfile] | None = None) -> EngineProfile:
    """The fitted profile of ``engine`` on ``gpu``."""
    profiles = default_profiles() if profiles is None else profiles
    return profiles[backend_for(engine, gpu)]
