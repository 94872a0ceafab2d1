"""Run the workload we estimate on the local device and put the measurement beside the estimate.

Memory and speed do not depend on the weights' values, so a model is built from its config with
random weights directly on the device (no checkpoint download, no initialisation of billions of
parameters on the CPU first) and the exact workload of an estimate is run on it:

* **inference**: a prefill of ``context - new_tokens`` prompt tokens for ``batch`` sequences,
  then ``new_tokens`` decode steps that each feed the previous step's token back (greedy, so
  random weights cannot end the run early with an end-of-sequence token), so the cache ends
  holding ``context`` tokens per sequence. Decode runs with the modes asked for: ``eager``
  (``DynamicCache``, what ``generate`` does by default), ``static`` (a pre-allocated
  ``StaticCache``) and ``compiled`` (the static cache under ``torch.compile``), each labelled.
* **training** (``full``, ``lora``, ``qlora``): two optimizer steps with the estimate's optimizer,
  weights precision, micro-batch, sequence length and checkpointing.

What is measured: parameters built, their bytes, the KV cache actually held (the cache tensors'
bytes), peak allocated memory and memory used on the device (the CUDA context included), tokens
per second per sequence and for the batch, time per training step. Each is set beside the
estimate of ``llm_calc`` for the same settings, with the relative error.

PyTorch, transformers and (for LoRA) peft are imported only here and only when a measurement
runs: they are in ``requirements-measure.txt``, never in the app's requirements.

References
----------
.. [1] PyTorch CUDA semantics, memory management: ``max_memory_allocated``, ``mem_get_info``.
.. [2] Hugging Face transformers, "Caching" and "LLM inference optimization" (``StaticCache`` and
       ``torch.compile`` for decode).
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_calc.architecture import ModelSpec, count_parameters, kv_cache_bytes
from llm_calc.catalog import Gpu, default_gpus
from llm_calc.engines import fused_attention, prefill_chunk_tokens
from llm_calc.hardware import Speed, speed
from llm_calc.measurements import own_measurement_source
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.precision import DEFAULT_KV_FORMAT
from llm_calc.training import TrainingSetup, setup_text, step_seconds, training_memory
from llm_calc.units import GIB

MEASURED_PRECISIONS = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
"""Weight formats a model with random weights can be built in. Any other format (fp8, MXFP4,
GPTQ, AWQ, GGUF k-quants) is measured in bf16 and labelled so: its kernels need real packed
weights."""

DECODE_MODES = ("generate", "eager", "static", "compiled")
"""``generate``: ``model.generate`` itself, greedy, its length forced (what the ``transformers``
engine of ``data/measurements.csv`` means); ``eager``: our own loop of forward passes over a
``DynamicCache``; ``static``: that loop over a pre-allocated ``StaticCache``; ``compiled``: the
static cache with the forward pass under ``torch.compile`` [2]."""

DEFAULT_TIME_BUDGET_S = 300.0
"""Wall-clock budget of one ``measure`` run; checked between phases. [s]"""

MAX_MEASURE_TOKENS = 1_000_000
"""Largest context x batch a measurement runs: beyond it a single prefill takes minutes even on
the fastest card and the time budget is better spent on several smaller runs. [tokens]"""

MODE_ENGINES = {
    "generate": "transformers",
    "eager": "transformers",
    "static": "transformers",
    "compiled": "transformers-compiled",
}
"""The engine profile (``llm_calc.engines``) whose estimate a decode mode is compared with: eager
``generate`` for the three uncompiled modes, the compiled static cache for ``compiled``."""

ROW_MODES = ("generate", "eager", "compiled")
"""Decode modes that give rows for ``data/measurements.csv``, each as its engine of
:data:`MODE_ENGINES`. ``static`` (our loop over a static cache, uncompiled) is no engine users run;
it is shown, not filed."""


MODE_NOTES = {
    "generate": "decode mode generate (model.generate, DynamicCache)",
    "eager": "decode mode eager (our loop of forward passes, DynamicCache)",
    "static": "decode mode static (our loop, StaticCache)",
    "compiled": "decode mode compiled (StaticCache under torch.compile)",
}
"""How a row's note names the decode mode it was measured in."""


class MeasureError(ValueError):
    """A measurement that cannot run: no device, missing package, does not fit, over budget."""


MAX_TORCH_THREADS = 1024
"""The most PyTorch CPU threads a run may ask for: beyond any host's cores."""


@dataclass(frozen=True)
class MeasureRequest:
    """What to run. Sizes in tokens; ``method`` is ``inference`` or a training method."""

    spec: ModelSpec
    config: dict[str, Any]
    """The Hugging Face config the model is built from (its ``text_config`` for a wrapper)."""
    method: str = "inference"
    precision: str = "bf16"
    context_tokens: int = 1024
    batch: int = 1
    new_tokens: int = 64
    decode_modes: tuple[str, ...] = ("eager",)
    training: TrainingSetup = field(default_factory=TrainingSetup)
    device: str = "cuda"
    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    torch_threads: int | None = None
    """PyTorch's CPU threads for the run (``None``: PyTorch's default, one per core): eager decode is
    bound by the host, where busy-waiting threads of tiny CPU-side ops can cost more than they save."""
    gpu: Gpu | None = None
    """The catalog card the device is, for the speed estimate (``None``: no speed estimate)."""
    hf_id: str = ""
    """The Hugging Face id the rows name (``--model``); the config's model name when built from a file."""

    def __post_init__(self) -> None:
        if self.method != "inference" and self.method != self.training.method:
            raise MeasureError(f"method {self.method!r} and the training setup's {self.training.method!r} differ")
        for mode in self.decode_modes:
            if mode not in DECODE_MODES:
                raise MeasureError(f"unknown decode mode {mode!r}; choose from {', '.join(DECODE_MODES)}")
        if self.method == "inference":
            if not 1 <= self.new_tokens < self.context_tokens:
                raise MeasureError(
                    f"new tokens must be at least 1 and below the context ({self.context_tokens:,}), "
                    f"got {self.new_tokens:,}"
                )
            if self.context_tokens * self.batch > MAX_MEASURE_TOKENS:
                raise MeasureError(f"context x batch must be at most {MAX_MEASURE_TOKENS:,} tokens to measure")
        if not self.time_budget_s > 0:
            raise MeasureError("the time budget must be positive")
        if self.torch_threads is not None and not 1 <= self.torch_threads <= MAX_TORCH_THREADS:
            raise MeasureError(f"torch threads must be from 1 to {MAX_TORCH_THREADS:,}, got {self.torch_threads:,}")

    @property
    def built_precision(self) -> str:
        """The format the model is actually built in (see ``MEASURED_PRECISIONS``)."""
        return self.precision if self.precision in MEASURED_PRECISIONS else "bf16"

    @property
    def prompt_tokens(self) -> int:
        return self.context_tokens - self.new_tokens


@dataclass(frozen=True)
class Part:
    """One quantity, estimated and measured, in ``unit``."""

    name: str
    unit: str
    estimate: float | None
    measured: float | None

    @property
    def error(self) -> float | None:
        """(estimate − measured) / measured; ``None`` where either is missing or measured is 0."""
        if self.estimate is None or not self.measured:
            return None
        return (self.estimate - self.measured) / self.measured


@dataclass(frozen=True)
class MeasureResult:
    parts: tuple[Part, ...]
    labels: tuple[str, ...]
    """Sentences a reader needs: what was built in which precision, which mode is which."""
    rows: tuple[dict[str, str], ...]
    """Rows in the schema of ``data/measurements.csv``, ready to be added."""
    environment: dict[str, str]


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, phase: str) -> None:
        if time.monotonic() > self.deadline:
            raise MeasureError(f"the time budget of {self.seconds:g} s ran out before {phase}; raise --time-budget")


def _torch():
    try:
        import torch
        import transformers
    except ImportError as error:
        raise MeasureError(
            f"measure needs PyTorch and transformers ({error.name} is missing): pip install -r requirements-measure.txt"
        ) from None
    return torch, transformers


def measure(request: MeasureRequest) -> MeasureResult:
    """Build the model on ``request.device``, run the workload, compare with the estimate.

    Raises ``MeasureError`` with one sentence when it cannot run; nothing is left on the device
    afterwards (the model, caches and optimizer are freed and the CUDA cache emptied).
    """
    torch, transformers = _torch()
    _check_device(torch, request)
    if request.torch_threads is not None:
        torch.set_num_threads(request.torch_threads)
    budget = _Budget(request.time_budget_s)
    run = _inference if request.method == "inference" else _training
    try:
        parts, labels, rows = run(torch, transformers, request, budget)
        env = environment(torch, transformers, request.device)
        versions = {"driver": env["driver"], "library_versions": env["library_versions"]}
        return MeasureResult(parts, labels, tuple({**row, **versions} for row in rows), env)
    except torch.OutOfMemoryError:
        raise MeasureError(
            f"out of memory on {request.device}: the model and workload do not fit "
            f"(estimate: {_estimated_total(request) / GIB:,.1f} GiB)"
        ) from None
    finally:
        gc.collect()
        if request.device.startswith("cuda"):
            torch.cuda.empty_cache()


def _check_device(torch, request: MeasureRequest) -> None:
    if request.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MeasureError(
                "no CUDA GPU is visible: measure runs on a GPU (--device cpu runs a small model on the CPU)"
            )
        free, _total = torch.cuda.mem_get_info()
        need = _estimated_total(request)
        if need > free:
            raise MeasureError(
                f"the estimate needs {need / GIB:,.1f} GiB and the GPU has {free / GIB:,.1f} GiB free: not run"
            )
    elif request.device != "cpu":
        raise MeasureError(f"unknown device {request.device!r}; use cuda, cuda:N or cpu")
    if request.method == "qlora" or request.training.optimizer == "adam8bit":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise MeasureError("QLoRA and 8-bit Adam need bitsandbytes: pip install bitsandbytes (CUDA only)") from None
        if not request.device.startswith("cuda"):
            raise MeasureError("QLoRA and 8-bit Adam run on a CUDA GPU only")


def _estimated_total(request: MeasureRequest) -> int:
    if request.method == "inference":
        return inference_memory(request.spec, _settings(request)).total_bytes
    return training_memory(request.spec, request.training).total_bytes


def _settings(request: MeasureRequest) -> InferenceSettings:
    return InferenceSettings(
        weight_format=request.built_precision,
        context_tokens=request.context_tokens,
        batch=request.batch,
        kv_format=DEFAULT_KV_FORMAT,  # the cache is kept in the model's 16-bit dtype
        # generate prefills every prompt of the batch in one forward pass, as measured here
        prefill_chunk_tokens=prefill_chunk_tokens("transformers", request.batch, request.prompt_tokens, 1),
        flash_attention=fused_attention("transformers", request.spec.attention_sinks),
    )


def _dtype(torch, precision: str):
    return getattr(torch, MEASURED_PRECISIONS[precision])


def build_model(torch, transformers, config: dict[str, Any], device: str, dtype):
    """The model of ``config`` with random weights, created on ``device`` directly."""
    shape = {k: v for k, v in config.items() if k not in ("quantization_config", "auto_map", "_name_or_path")}
    hf_config = transformers.AutoConfig.for_model(**shape)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(hf_config, dtype=dtype)
    return model.eval(), hf_config


def _sync(torch, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(torch, device: str, work: Callable[[], Any]) -> tuple[Any, float]:
    _sync(torch, device)
    start = time.perf_counter()
    result = work()
    _sync(torch, device)
    return result, time.perf_counter() - start


def cache_bytes(cache) -> int:
    """Bytes of the key and value tensors a transformers cache holds. [bytes]"""
    total = 0
    for layer in cache.layers:
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if tensor is not None and hasattr(tensor, "nbytes"):
                total += tensor.nbytes
    return total


def _reset_peak(torch, device: str) -> None:
    """Start the peak over once the model is built: building can hold temporaries (a tied matrix
    made twice, an initialisation's scratch) that the workload we estimate never needs."""
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _memory(torch, device: str) -> tuple[int | None, int | None]:
    """(peak allocated by PyTorch, used on the device including the CUDA context), or None on CPU."""
    if not device.startswith("cuda"):
        return None, None
    free, total = torch.cuda.mem_get_info()
    return torch.cuda.max_memory_allocated(), total - free


def _inference(torch, transformers, request: MeasureRequest, budget: _Budget) -> MeasureResult:
    spec, settings = request.spec, _settings(request)
    estimate = inference_memory(spec, settings)
    model, hf_config = build_model(
        torch, transformers, request.config, request.device, _dtype(torch, request.built_precision)
    )
    _reset_peak(torch, request.device)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    generator = torch.Generator(device="cpu").manual_seed(0)
    prompt = torch.randint(0, spec.vocab_size, (request.batch, request.prompt_tokens), generator=generator)
    prompt = prompt.to(request.device)
    parts = [
        Part("parameters", "count", count_parameters(spec).total, params),
        Part("weights", "bytes", estimate.weights_bytes, weight_bytes),
    ]
    rows, labels = [], [_precision_label(request)]
    estimated_kv = kv_cache_bytes(spec, request.context_tokens, request.batch, 16)
    prompt_tokens = request.batch * request.prompt_tokens
    for mode in request.decode_modes:
        budget.check(f"the {mode} decode")
        held, prefill_s, decode_s, busy = _run_decode(torch, transformers, model, hf_config, prompt, request, mode)
        per_sequence = request.new_tokens / decode_s
        estimated = _estimated_speed(request, settings, estimate, MODE_ENGINES[mode])
        # generate's first run times the prefill and the first pick: a first token, not a bare prefill
        first_token = mode == "generate"
        estimated_first = None
        if estimated is not None:
            step = 1 / estimated.decode_tokens_per_s
            prompt_prefill = estimated.ttft_seconds - step  # one prompt's prefill (ttft = prefill + a step)
            estimated_first = prompt_prefill * request.batch + (step if first_token else 0)
        parts += [
            Part(f"KV cache held ({mode})", "bytes", estimated_kv, held),
            Part(f"{'first token' if first_token else 'prefill'} ({mode})", "s", estimated_first, prefill_s),
            Part(f"decode per sequence ({mode})", "tokens/s", estimated and estimated.decode_tokens_per_s,
                 per_sequence),
            Part(f"decode, all {request.batch} sequences ({mode})", "tokens/s",
                 estimated and estimated.aggregate_tokens_per_s, per_sequence * request.batch),
        ]  # fmt: skip
        if busy is not None:  # the device's share of a step, beside our roofline of it (the step less overhead)
            roofline = estimated and 1 / estimated.decode_tokens_per_s - estimated.step_overhead_seconds
            parts.append(Part(f"device busy per decode step ({mode})", "s", roofline, busy))
            step_s = decode_s / request.new_tokens
            labels.append(
                f"{mode} decode: the device ran kernels {busy / step_s:.0%} of each {step_s * 1e3:,.1f} ms step "
                f"(profiler, {PROFILED_STEPS} steps); the rest is host time (Python, launches, synchronisation)."
            )
        if mode in ROW_MODES:
            rows.append(_row(request, mode, "decode", per_sequence, "tokens/s"))
            if not first_token:
                rows.append(_row(request, mode, "prefill", prompt_tokens / prefill_s, "tokens/s"))
            elif request.batch == 1:  # the schema's first-token rows are of one request, no queue
                rows.append(_row(request, mode, "ttft", prefill_s, "s"))
    peak, used = _memory(torch, request.device)
    parts += [
        Part("peak allocated", "bytes", estimate.total_bytes - estimate.overhead_bytes, peak),
        Part("used on the device (CUDA context included)", "bytes", estimate.total_bytes, used),
    ]
    if peak is not None:
        mode = next((m for m in request.decode_modes if m in ROW_MODES), None)
        if mode is not None and len({MODE_ENGINES[m] for m in request.decode_modes}) == 1:
            rows.append(_row(request, mode, "peak_memory", peak / GIB, "GiB"))
    if "static" in request.decode_modes or "compiled" in request.decode_modes:
        labels.append("A static cache is allocated for the whole context up front; an eager one grows per token.")
    if "static" in request.decode_modes:
        labels.append("The static mode is compared with eager generate's profile and gives no row: no engine runs it.")
    if request.gpu is None:
        labels.append("No speed estimate: the device is not a card of data/gpus.csv (name it with --gpu).")
    return tuple(parts), tuple(labels), tuple(rows)


WARMUP_STEPS = 3
"""Decode steps run, untimed, before each timed run: the first calls pay for kernel selection,
allocator growth and, in ``compiled`` mode, compilation and CUDA-graph capture."""


PROFILED_STEPS = 8
"""Decode steps run once more, on a CUDA device, under the PyTorch profiler: the time its kernels
kept the device busy, beside the step time measured without the profiler, says whether a step is
spent on the device or on the host (Python, kernel launches, synchronisation)."""


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``(start, end)`` intervals given in microseconds (kernels
    that overlap count once). [s]"""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total / 1e6


def _run_decode(torch, transformers, model, hf_config, prompt, request: MeasureRequest, mode: str):
    """Prefill the prompt, then decode ``new_tokens`` greedily; (cache bytes, prefill s, decode s,
    device busy s per decode step or ``None``: ``PROFILED_STEPS`` more steps under the profiler,
    on a CUDA device, for our own loops; ``generate`` runs none).

    A warm-up pass (a prefill and ``WARMUP_STEPS`` decode steps into a cache of its own) runs first."""
    if mode == "generate":
        return (*_run_generate(torch, model, prompt, request), None)
    forward = model.forward
    if mode == "compiled":
        forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=False)
    _prefill_and_decode(torch, transformers, model, forward, hf_config, prompt, request, mode, WARMUP_STEPS)
    timed = _prefill_and_decode(
        torch, transformers, model, forward, hf_config, prompt, request, mode, request.new_tokens
    )
    return (*timed, _device_busy_per_step(torch, transformers, model, forward, hf_config, prompt, request, mode))


def _device_busy_per_step(torch, transformers, model, forward, hf_config, prompt, request, mode: str) -> float | None:
    """Seconds per decode step the device spent running kernels, over ``PROFILED_STEPS`` steps under
    the PyTorch profiler; ``None`` off CUDA, or where the profiler fails or records no kernel (a
    diagnostic: it must not cost the run its measurements)."""
    if not request.device.startswith("cuda"):
        return None
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    kernels: list[tuple[float, float]] = []

    def profiled(work: Callable[[], Any]) -> tuple[Any, float]:
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            result = work()
            _sync(torch, request.device)
        kernels.extend(
            (e.time_range.start, e.time_range.end) for e in prof.events() if e.device_type == DeviceType.CUDA
        )
        return result, 0.0

    try:
        _prefill_and_decode(
            torch, transformers, model, forward, hf_config, prompt, request, mode, PROFILED_STEPS, profiled
        )
    except (RuntimeError, AssertionError):  # the profiler asserts when it has no activity (no CUPTI)
        return None
    return busy_seconds(kernels) / PROFILED_STEPS if kernels else None


def _run_generate(torch, model, prompt, request: MeasureRequest):
    """``model.generate`` itself, greedy, ``min_new_tokens`` forcing the length (random weights may
    pick an end-of-sequence token): (cache bytes, first-token s, decode s). The first token takes
    a run of one new token (the prefill and one pick); the decode is a run of ``new_tokens + 1``
    less that run, the ``new_tokens`` steps after the first. The cache ends holding the context."""

    def run(tokens: int):
        return model.generate(
            prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=tokens,
            min_new_tokens=tokens, return_dict_in_generate=True, pad_token_id=0,
        )  # fmt: skip

    with torch.inference_mode():
        run(WARMUP_STEPS)
        _, first_s = _timed(torch, request.device, lambda: run(1))
        out, whole_s = _timed(torch, request.device, lambda: run(request.new_tokens + 1))
    return cache_bytes(out.past_key_values), first_s, whole_s - first_s


def _prefill_and_decode(
    torch, transformers, model, forward, hf_config, prompt, request, mode: str, steps: int, timer=None
):
    """Prefill into a fresh cache, then ``steps`` greedy decode steps timed by ``timer`` (``_timed``
    by default): (cache bytes, prefill s, decode s)."""
    if mode == "eager":
        cache = transformers.DynamicCache(config=hf_config)
    else:
        cache = transformers.StaticCache(config=hf_config, max_cache_len=request.context_tokens)
    position = torch.arange(request.prompt_tokens, device=prompt.device)
    with torch.inference_mode():
        out, prefill_s = _timed(
            torch, request.device,
            lambda: model(prompt, past_key_values=cache, use_cache=True, cache_position=position, logits_to_keep=1),
        )  # fmt: skip
        token = out.logits[:, -1:].argmax(-1)

        def decode() -> None:
            nonlocal token
            for step in range(steps):
                where = torch.tensor([request.prompt_tokens + step], device=prompt.device)
                logits = forward(token, past_key_values=cache, use_cache=True, cache_position=where).logits
                token = logits[:, -1:].argmax(-1)

        _, decode_s = timer(decode) if timer else _timed(torch, request.device, decode)
    return cache_bytes(cache), prefill_s, decode_s


def _estimated_speed(request: MeasureRequest, settings: InferenceSettings, memory, engine: str) -> Speed | None:
    """The estimate with ``engine``'s profile: decode per sequence, and in ``ttft_seconds`` one prompt of
    ``prompt_tokens`` (a batch's prompts take ``batch`` times as long: prefill is compute-bound)."""
    if request.gpu is None:
        return None
    return speed(request.spec, settings, memory, request.gpu, 1, engine=engine, prompt_tokens=request.prompt_tokens)


def _training(torch, transformers, request: MeasureRequest, budget: _Budget) -> MeasureResult:
    setup = request.training
    estimate = training_memory(request.spec, setup)
    mixed = setup.weights_precision == "mixed"
    # mixed precision as the Trainer runs it: fp32 weights under bf16 autocast (4 + 4 + states per
    # parameter, the same bytes as bf16 working weights + fp32 master copy); LoRA keeps the base in bf16
    build_dtype = torch.float32 if setup.method == "full" and mixed else torch.bfloat16
    model, _ = build_model(torch, transformers, request.config, request.device, build_dtype)
    model.train()
    if setup.checkpointing:
        model.gradient_checkpointing_enable()
    if setup.method != "full":
        model = _with_lora(model, setup)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(torch, trainable, setup)
    _reset_peak(torch, request.device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    batch = torch.randint(0, request.spec.vocab_size, (setup.micro_batch, setup.seq_len), generator=generator)
    batch = batch.to(request.device)
    autocast = torch.autocast(device_type=request.device.split(":")[0], dtype=torch.bfloat16, enabled=mixed)
    step_s = []
    gradient_bytes = 0
    for step in range(2):
        budget.check(f"training step {step + 1}")

        def one_step() -> int:
            with autocast:
                loss = model(batch, labels=batch).loss
            loss.backward()
            grads = sum(p.grad.nbytes for p in trainable if p.grad is not None)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return grads

        gradient_bytes, seconds = _timed(torch, request.device, one_step)
        step_s.append(seconds)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    # per-parameter states (moments, momentum); AdamW's scalar "step" counter is not one
    state_bytes = sum(
        t.nbytes
        for state in optimizer.state.values()
        for name, t in state.items()
        if isinstance(t, torch.Tensor) and name != "step"
    )
    peak, used = _memory(torch, request.device)
    parts = [
        Part("trainable parameters", "count", _estimated_trainable(request), sum(p.numel() for p in trainable)),
        Part("weights, gradients and optimizer", "bytes",
             estimate.weights_bytes + estimate.gradients_bytes + estimate.optimizer_bytes,
             weight_bytes + gradient_bytes + state_bytes),
        Part("peak allocated", "bytes", estimate.total_bytes - estimate.overhead_bytes, peak),
        Part("used on the device (CUDA context included)", "bytes", estimate.total_bytes, used),
        Part("time per step (second step)", "s",
             step_seconds(request.spec, setup, request.gpu.tflops_16bit) if request.gpu else None, step_s[-1]),
    ]  # fmt: skip
    rows = [_row(request, "eager", "train_step", step_s[-1], "s")]
    if peak is not None:
        rows.append(_row(request, "eager", "peak_memory", peak / GIB, "GiB"))
    labels = [
        f"{setup.method} with {setup.optimizer} ({setup.optimizer_impl}), weights {setup.weights_precision}, "
        f"micro-batch {setup.micro_batch} x {setup.seq_len:,} tokens, "
        f"checkpointing {'on' if setup.checkpointing else 'off'}."
    ]
    return tuple(parts), tuple(labels), tuple(rows)


def _estimated_trainable(request: MeasureRequest) -> int:
    from llm_calc.training import trainable_params

    return trainable_params(request.spec, request.training)


def _with_lora(model, setup: TrainingSetup):
    try:
        import peft
    except ImportError:
        raise MeasureError("LoRA needs peft: pip install -r requirements-measure.txt") from None
    config = peft.LoraConfig(
        r=setup.lora_rank, lora_alpha=setup.lora_alpha, target_modules=list(setup.lora_targets), lora_dropout=0.0
    )
    # mixed keeps the adapters in fp32 beside the bf16 base (peft's default); bf16 keeps them in bf16
    return peft.get_peft_model(model, config, autocast_adapter_dtype=setup.weights_precision == "mixed")


def _optimizer(torch, params, setup: TrainingSetup):
    fused = setup.optimizer_impl == "fused"
    kind = {"foreach": not fused, "fused": fused}
    if setup.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, **kind)
    if setup.optimizer == "sgd":
        return torch.optim.SGD(params, lr=1e-5, momentum=0.9, **kind)
    import bitsandbytes

    return bitsandbytes.optim.AdamW8bit(params, lr=1e-5)


def _precision_label(request: MeasureRequest) -> str:
    if request.precision == request.built_precision:
        return f"Built with random weights in {request.built_precision} on {request.device}."
    return (
        f"{request.precision} needs real packed weights: measured in {request.built_precision} instead "
        f"(the estimate beside it is for {request.built_precision} too)."
    )


def environment(torch, transformers, device: str) -> dict[str, str]:
    """Versions and device that a row must name."""
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
    try:
        import peft

        versions["peft"] = peft.__version__
    except ImportError:
        pass
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(device)
        driver = "; ".join(part for part in (nvidia_driver_version(), f"CUDA {torch.version.cuda}") if part)
    else:
        name, driver = environment_device(device), ""
    return {
        "device": name,
        "driver": driver,
        "library_versions": ";".join(f"{k}={v}" for k, v in versions.items()),
        "host": host_description(torch.get_num_threads()),
    }


def host_description(torch_threads: int, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The host CPU, its logical CPUs and PyTorch's thread count: eager decode is bound by the host
    (Python and kernel launches), so a report of it names the host ("AMD EPYC 9654 96-Core
    Processor; 16 logical CPUs; torch threads 16")."""
    model = platform.processor() or platform.machine()
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}; {os.cpu_count() or 0} logical CPUs; torch threads {torch_threads}"


def environment_device(device: str) -> str:
    """The name a row or report gives a device without a catalog card (the CPU)."""
    return device if device.startswith("cuda") else f"CPU ({platform.processor() or platform.machine()})"


def nvidia_driver_version() -> str:
    """The NVIDIA driver's version as ``nvidia-smi`` reports it ("driver 580.159.04"), or "" where
    it cannot be read: PyTorch knows only the CUDA runtime it was built with, not the driver."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    version = out.strip().splitlines()[0].strip() if out.strip() else ""
    return f"driver {version}" if version else ""


def _row(request: MeasureRequest, mode: str, kind: str, value: float, unit: str) -> dict[str, str]:
    """A row in the schema of ``data/measurements.csv``; ``id`` is left for whoever files it.

    Decode rows read as llama-bench's ``tg`` at a depth: ``new_tokens`` generated with the prompt
    already in the cache (``context_tokens`` = the prompt), so the prefill is not in their time.
    Prefill rows: the batch's prompt tokens per second. Training rows: ``prompt_tokens`` is the
    sequence length, ``concurrency`` the micro-batch, ``training_setup`` the rest."""
    training = request.method != "inference"
    decoding = kind == "decode"
    today = dt.date.today().isoformat()
    device = request.gpu.name if request.gpu else environment_device(request.device)
    return {
        "id": "",
        "kind": kind,
        "hf_id": request.hf_id or request.spec.name,
        "precision": request.built_precision,
        "engine": MODE_ENGINES[mode],
        "engine_version": "",
        "backend": "cuda" if request.device.startswith("cuda") else "cpu",
        "gpu": request.gpu.name if request.gpu else "",
        "gpu_count": "1" if request.gpu else "0",
        "interconnect": "",
        "parallelism": "none",
        "concurrency": str(request.training.micro_batch if training else request.batch),
        "prompt_tokens": str(request.training.seq_len if training else 0 if decoding else request.prompt_tokens),
        "output_tokens": str(request.new_tokens if decoding or (kind == "peak_memory" and not training) else 0),
        "context_tokens": str(request.prompt_tokens if decoding else 0),
        "measured": f"{value:.6g}",
        "unit": unit,
        "bound": "exact",
        "used_for_fit": "false",
        "date": today,
        "source": own_measurement_source(today, device),
        "note": _row_note(request, mode, kind),
        "driver": "",
        "library_versions": "",
        "kv_format": "",  # the model's 16-bit dtype, the default
        "training_setup": setup_text(request.training) if training else "",
        "attention": "",  # the release's default (SDPA)
    }


def _row_note(request: MeasureRequest, mode: str, kind: str) -> str:
    if request.method != "inference":
        return f"python -m llm_calc measure: {request.method}, the second of two optimizer steps; random weights"
    what = {
        "decode": f"{request.new_tokens} greedy decode steps after a {request.prompt_tokens:,}-token prompt",
        "prefill": f"one forward pass over {request.batch} prompt(s) of {request.prompt_tokens:,} tokens",
        "ttft": f"the first token of a {request.prompt_tokens:,}-token prompt (prefill and one greedy pick)",
        "peak_memory": "torch.cuda.max_memory_allocated after the build (CUDA context not included)",
    }[kind]
    return f"python -m llm_calc measure: {what}, batch {request.batch}, {MODE_NOTES[mode]}; random weights"


FORM_FACTOR_WORDS = frozenset({"pcie", "nvl"})
"""Words that set a card variant apart in both the catalog and the CUDA device name
("NVIDIA H100 PCIe", "NVIDIA H100 NVL"); an SXM part reports neither ("NVIDIA H100 80GB HBM3")."""


def catalog_gpu(device_name: str, memory_bytes: int, gpus: tuple[Gpu, ...] | None = None) -> Gpu | None:
    """The catalog card a CUDA device is: a card whose chip word (``H100``, ``4090``) is in the
    device name, preferring the variant whose form-factor words it carries, then the one nearest
    in memory; ``None`` when no card matches."""
    gpus = default_gpus() if gpus is None else gpus
    words = _words(device_name)
    candidates = [g for g in gpus if _model_token(g.name) in words]
    if not candidates:
        return None

    def rank(gpu: Gpu) -> tuple[int, float]:
        missing = len((_words(gpu.name) & FORM_FACTOR_WORDS) - words)
        return missing, abs(math.log(gpu.memory_bytes / memory_bytes))

    return min(candidates, key=rank)


def _words(name: str) -> set[str]:
    return {w.lower() for w in name.replace("-", " ").split()}


def device_gpu(device: str) -> Gpu | None:
    """The catalog card of a CUDA ``device`` (see ``catalog_gpu``); ``None`` on the CPU."""
    if not device.startswith("cuda"):
        return None
    torch, _ = _torch()
    if not torch.cuda.is_available():
        return None  # measure() says so in one line
    return catalog_gpu(torch.cuda.get_device_name(device), torch.cuda.get_device_properties(device).total_memory)


def _model_token(name: str) -> str:
    """The word of a catalog name that identifies the chip: the first one with a digit."""
    for word in name.replace("-", " ").split():
        if any(ch.isdigit() for ch in word):
            return word.lower()
    return name.lower()
