"""Command-line interface: the same numbers as the app, for scripts and for checking.

    python -m llm_calc memory --model meta-llama/Meta-Llama-3-70B --precision q4_k_m \
        --context 32768 --batch 4 --json
    python -m llm_calc serve --model meta-llama/Llama-3.1-8B --gpu "NVIDIA H100 SXM" \
        --prompt-tokens 1000 --output-tokens 200
    python -m llm_calc tokens notes.txt --encoding cl100k_base --json
    python -m llm_calc tokens notes.txt --hf Qwen/Qwen3-8B   # any model's tokenizer.json from the Hub
    python -m llm_calc models          # the catalog's Hugging Face ids
    python -m llm_calc gpus            # the catalog's cards

Bad input exits with status 2 and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import NoReturn

from llm_calc import hf_config
from llm_calc.accuracy import default_track_records
from llm_calc.architecture import ModelSpec, count_parameters, kv_bytes_per_token, scale_architecture
from llm_calc.catalog import (
    GPU_CLASSES,
    CatalogError,
    Gpu,
    default_gpus,
    default_models,
    find_gpu,
    find_model,
    nearest_dense_model,
    shipped_checkpoint,
    stored_config_path,
)
from llm_calc.engines import ENGINES, UNCHUNKED_PREFILL_ENGINES, fused_attention, prefill_chunk_tokens, profile_for
from llm_calc.gguf import (
    HEADER_PREFIX_BYTES,
    MAX_HEADER_BYTES,
    GgufHeader,
    GgufTruncatedError,
    combine_split,
    gguf_model_spec,
    parse_gguf_header,
)
from llm_calc.gguf import active_parameters as gguf_active_parameters
from llm_calc.gguf import storage_plan as gguf_storage_plan
from llm_calc.hardware import (
    CARD_LADDER,
    PARALLEL_MODES,
    serving_curve,
    size_on_gpus,
)
from llm_calc.hf_config import (
    MAX_CONFIG_BYTES,
    ConfigError,
    load_config_json,
    parse_checkpoint_text,
    parse_config_text,
)
from llm_calc.hf_tokenizer import DEFAULT_SYSTEM_MESSAGE, chat_note, count_with_hub
from llm_calc.hub import (
    GGUF_SCHEME,
    HubIdError,
    HubModel,
    HubNotFoundError,
    HubSettings,
    HubUnavailableError,
    check_repo_id,
    fetch_gguf_split,
    fetch_model,
    split_gguf_uri,
    token_from_env,
)
from llm_calc.measure import (
    DEFAULT_TIME_BUDGET_S,
    MeasureError,
    MeasureRequest,
    device_gpu,
    measure,
)
from llm_calc.memory import DEFAULT_PREFILL_CHUNK_TOKENS, InferenceSettings
from llm_calc.precision import (
    AS_SHIPPED,
    DEFAULT_KV_FORMAT,
    KV_ALIASES,
    KV_FORMATS,
    WEIGHT_PRECISIONS,
    kv_format,
    weight_format,
)
from llm_calc.quantization import MTP_BASIS, Checkpoint, StoragePlan, storage_plan
from llm_calc.tokenizers import REGISTRY, TokenizerError
from llm_calc.tokens import count_tokens, decode_upload
from llm_calc.training import (
    DEFAULT_MFU,
    DEFAULT_OPTIMIZER_IMPL,
    DEFAULT_WEIGHTS_PRECISION,
    LORA_TARGETS,
    METHODS,
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    TENSOR_PARALLEL_SIZES,
    WEIGHTS_PRECISIONS,
    TrainingSetup,
    chinchilla_tokens,
    trainable_params,
    training_fit,
    training_flops,
    training_memory,
    training_run,
)
from llm_calc.units import GIB, format_count, format_gib

MIN_CUSTOM_PARAMS_B = 0.01
MAX_CUSTOM_PARAMS_B = 10_000


class UsageError(Exception):
    """Input the CLI refuses; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m llm_calc", description="LLM Primer calculations.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    memory = commands.add_parser("memory", help="memory, GPU fit and decode speed for inference")
    _add_model_source(memory).add_argument(
        "--gguf",
        nargs="+",
        metavar="FILE",
        help="a GGUF file, or its first MiB (head -c 32M), or every shard of a split one, or one on the Hub "
        "as hf://ORG/NAME/FILE.gguf (its header only, by ranged reads; one shard brings every shard of a split file): "
        "weights as stored in it (precision auto)",
    )
    memory.add_argument(
        "--precision",
        default=None,
        choices=list(WEIGHT_PRECISIONS),
        type=str.lower,
        help="weights format; auto = as shipped (the default when --config carries a quantization_config, else bf16)",
    )
    memory.add_argument("--context", type=int, default=4096, help="prompt + completion tokens")
    memory.add_argument("--batch", type=int, default=1, help="concurrent sequences")
    memory.add_argument("--kv-precision", default=DEFAULT_KV_FORMAT, type=str.lower, choices=[*KV_FORMATS, *KV_ALIASES])
    memory.add_argument("--gpus", type=int, default=1, help="cards per deployment (1, 2, 4, 8, 16, ...)")
    memory.add_argument("--gpu-class", choices=GPU_CLASSES, action="append", help="only these classes (repeatable)")
    memory.add_argument("--vendor", action="append", help="only these vendors (repeatable)")
    memory.add_argument(
        "--efficiency",
        type=float,
        default=None,
        help="fraction of memory bandwidth decode achieves (default: the engine's fitted value)",
    )
    memory.add_argument("--mfu", type=float, default=None, help="model-FLOPs utilisation (default: the engine's)")
    memory.add_argument(
        "--engine", choices=ENGINES, default=None, help="inference engine (default: the one most users run per card)"
    )
    memory.add_argument("--prompt-tokens", type=int, default=None, help="prompt of the TTFT (default: the context)")
    memory.add_argument(
        "--parallel", choices=PARALLEL_MODES, default=None, help="tp, or pp (llama.cpp's layer split, its default)"
    )
    memory.add_argument(
        "--prefill-chunk",
        type=int,
        default=None,
        help=f"tokens per prefill pass (default: {DEFAULT_PREFILL_CHUNK_TOKENS:,}; transformers does not chunk)",
    )
    memory.add_argument("--no-flash-attention", action="store_true")
    memory.add_argument("--json", action="store_true", help="print one JSON object")

    train = commands.add_parser("train", help="training / fine-tuning memory per GPU, time and cost")
    _add_model_source(train)
    train.add_argument("--method", choices=METHODS, default="full")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw", help="for every method")
    train.add_argument(
        "--weights-precision",
        choices=WEIGHTS_PRECISIONS,
        default=DEFAULT_WEIGHTS_PRECISION,
        help="mixed: bf16 weights + fp32 master and optimizer states; bf16: pure bf16, no master copy",
    )
    train.add_argument(
        "--optimizer-impl",
        choices=OPTIMIZER_IMPLS,
        default=DEFAULT_OPTIMIZER_IMPL,
        help="PyTorch optimizer kernel: foreach (default on CUDA) allocates parameter-sized temporaries, fused none",
    )
    train.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence")
    train.add_argument("--micro-batch", type=int, default=1, help="sequences per GPU per step")
    train.add_argument("--checkpointing", action="store_true", help="gradient (activation) checkpointing")
    train.add_argument("--no-flash-attention", action="store_true")
    train.add_argument("--gpus", type=int, default=1, help="number of GPUs")
    train.add_argument("--gpu", default=DEFAULT_TRAINING_GPU, help="card name from data/gpus.csv")
    train.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0, help="ZeRO / FSDP stage")
    train.add_argument("--tp", type=int, choices=TENSOR_PARALLEL_SIZES, default=1, help="tensor parallel")
    train.add_argument("--lora-rank", type=int, default=8)
    train.add_argument("--lora-alpha", type=int, default=16)
    train.add_argument(
        "--lora-targets",
        default="q_proj,v_proj",
        help="comma-separated PEFT module names: " + ",".join(LORA_TARGETS),
    )
    train.add_argument(
        "--tokens",
        type=_token_amount,
        default=None,
        help="training tokens, e.g. 1.4e12 or 1.4T (default: 20 per parameter)",
    )
    train.add_argument("--mfu", type=float, default=DEFAULT_MFU, help="model-FLOPs utilisation")
    train.add_argument("--price", type=float, default=None, help="$ per GPU-hour (default: the catalog's)")
    train.add_argument("--attention-flops", action="store_true", help="add the attention FLOPs term")
    train.add_argument("--json", action="store_true", help="print one JSON object")

    serve = commands.add_parser("serve", help="per-user and total speed as concurrent users grow, on one deployment")
    _add_model_source(serve)
    serve.add_argument("--precision", default=None, choices=list(WEIGHT_PRECISIONS), type=str.lower)
    serve.add_argument("--kv-precision", default=DEFAULT_KV_FORMAT, type=str.lower, choices=[*KV_FORMATS, *KV_ALIASES])
    serve.add_argument("--gpu", required=True, help="card name from data/gpus.csv")
    serve.add_argument("--gpus", type=int, default=1, help="cards in the deployment (1, 2, 4, 8, 16, ...)")
    serve.add_argument("--engine", choices=ENGINES, default=None, help="default: the one most users run")
    serve.add_argument("--parallel", choices=PARALLEL_MODES, default=None)
    serve.add_argument("--prompt-tokens", type=int, required=True, help="tokens of each request's prompt")
    serve.add_argument("--output-tokens", type=int, required=True, help="tokens of each answer")
    serve.add_argument(
        "--min-user-tokens-per-s", type=float, default=None, help="per-user speed the cost per 1M tokens must keep"
    )
    serve.add_argument("--json", action="store_true", help="print one JSON object")

    tokens = commands.add_parser("tokens", help="exact token counts of a text file or stdin")
    tokens.add_argument("file", nargs="?", default="-", help="a text file, or - for standard input")
    tokens.add_argument(
        "--encoding", action="append", choices=list(REGISTRY), help="tokenizer (repeatable; default: all)"
    )
    tokens.add_argument(
        "--special",
        action="store_true",
        help="count special-token text such as <|endoftext|> as special tokens",
    )
    tokens.add_argument("--json", action="store_true", help="print a JSON list, one object per encoding")
    tokens.add_argument(
        "--hf",
        action="append",
        default=[],
        metavar="ORG/NAME",
        help="also count with this Hugging Face model's tokenizer.json, fetched and cached (repeatable); "
        "its chat template's overhead is reported beside it",
    )
    tokens.add_argument(
        "--system",
        default=DEFAULT_SYSTEM_MESSAGE,
        help="system message for the --hf chat overhead (the text is the user's)",
    )

    measure = commands.add_parser("measure", help="run the estimated workload on this machine's GPU, side by side")
    _add_model_source(measure)
    _add_measure_arguments(measure)

    commands.add_parser("models", help="list the model catalog")
    commands.add_parser("gpus", help="list the GPU catalog")
    return parser


def _add_model_source(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="Hugging Face id: from data/models.csv, or any ORG/NAME read from the Hub")
    source.add_argument("--config", type=Path, help="path to a Hugging Face config.json")
    source.add_argument("--params", type=float, help="parameter count in billions (custom model)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="a --model not in the catalog, or a --gguf hf://..., from the local cache only (HF_HUB_OFFLINE=1)",
    )
    return source


_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def _token_amount(text: str) -> float:
    """'1.4T', '300B', '5e9' -> tokens."""
    cleaned = text.strip().lower()
    scale = _SUFFIXES.get(cleaned[-1:], 1.0)
    number = cleaned[:-1] if cleaned[-1:] in _SUFFIXES else cleaned
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a token amount: {text!r} (try 1.4e12 or 1.4T)") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a token amount: {text!r}")
    return value


def resolve_model(args: argparse.Namespace) -> tuple[ModelSpec, str]:
    """The spec the user asked for and a label saying where it came from."""
    if args.model is not None:  # `--model ""` is an unknown model, not a missing one
        try:
            model = find_model(args.model)
        except ValueError:
            return _resolve_from_hub(args)
        return model.spec, model.hf_id
    if args.config:
        path: Path = args.config
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise UsageError(f"{path} is larger than {MAX_CONFIG_BYTES:,} bytes; not a config.json")
            text = path.read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror}") from None
        spec = parse_config_text(text, name=str(path))
        return spec, f"config {path}"
    billions = args.params
    if not math.isfinite(billions) or not MIN_CUSTOM_PARAMS_B <= billions <= MAX_CUSTOM_PARAMS_B:
        raise UsageError(f"--params must be between {MIN_CUSTOM_PARAMS_B} and {MAX_CUSTOM_PARAMS_B:,} (billions)")
    base = nearest_dense_model(billions * 1e9)
    spec = scale_architecture(base.spec, billions * 1e9, name=f"Custom {billions:g}B")
    return spec, f"custom {billions:g}B shaped like {base.hf_id}"


def _resolve_from_hub(args: argparse.Namespace) -> tuple[ModelSpec, str]:
    """An id not in the catalog: its config.json from the Hugging Face Hub, or from the local cache.

    The CLI user's own HF_TOKEN is sent. The model read is kept on ``args.hub_model`` so that
    ``memory`` shows the checkpoint's stored size beside its estimate.
    """
    try:
        check_repo_id(args.model)  # garbage is refused without touching the network
    except HubIdError as error:
        raise UsageError(f"unknown model {args.model!r}: not in data/models.csv, and {error}") from None
    settings = HubSettings.from_env(token=token_from_env(shared_deployment=False))
    if args.offline:
        settings = replace(settings, offline=True)
    try:
        hub_model = fetch_model(args.model, settings)
    except (HubNotFoundError, HubUnavailableError) as error:
        raise UsageError(f"unknown model {args.model!r}: not in data/models.csv, and {error}") from None
    args.hub_model = hub_model
    cached = " (local cache, offline)" if settings.offline else ""
    return hub_model.spec, f"config.json on the Hub at commit {hub_model.commit[:12]}{cached}"


def _hub_checkpoint(hub_model: HubModel | None) -> dict | None:
    """The stored size of a Hub model's safetensors checkpoint, from their headers, JSON-ready."""
    if hub_model is None:
        return None
    checkpoint = hub_model.checkpoint
    return {
        "repo_id": hub_model.repo_id,
        "commit": hub_model.commit,
        "tensor_bytes": checkpoint.tensor_bytes if checkpoint else None,
        "files": checkpoint.file_count if checkpoint else None,
        "bytes_by_dtype": checkpoint.bytes_by_dtype if checkpoint else None,
        "note": hub_model.checkpoint_note,
    }


@dataclass(frozen=True)
class GgufSource:
    """``--gguf``: the header of one file (or of every shard), and the spec read from it."""

    header: GgufHeader
    paths: tuple[str, ...]
    """Local paths, or ``hf://ORG/NAME/FILE.gguf``."""
    file_bytes: int
    """The files the headers describe, summed over shards. [bytes]"""
    spec: ModelSpec | None
    """``None`` where the architecture is not modelled (``not_modelled`` says why)."""
    not_modelled: str | None

    @property
    def origin(self) -> str:
        shards = f" and {len(self.paths) - 1} more shards" if len(self.paths) > 1 else ""
        return f"GGUF {self.paths[0]}{shards}: weights as stored in the file"

    def report_fields(self) -> dict:
        """What ``memory``'s report takes from the file: counts, precision and the tensor types."""
        header = self.header
        return {
            "params": header.parameters,
            "active_params": gguf_active_parameters(header),
            "weights_source": "gguf",
            "not_modelled": self.not_modelled,
            "gguf": {
                "architecture": header.architecture,
                "name": header.name,
                "file_type": header.file_type,
                "version": header.version,
                "context_length": header.context_length,
                "tensor_count": len(header.tensors),
                "header_bytes": header.header_bytes,
                "file_bytes": self.file_bytes,
                "tensor_types": [
                    {"type": t.type_name, "tensors": t.tensors, "elements": t.elements, "bytes": t.nbytes}
                    for t in header.type_totals()
                ],
            },
        }

    def weights_only_report(self) -> dict:
        """The report of an architecture whose KV cache is not modelled: the exact weights only."""
        unknown = dict.fromkeys(
            ("kv_cache_bytes", "activations_bytes", "overhead_bytes", "total_bytes", "kv_bytes_per_token")
        )
        return {
            "model": self.header.name or PurePosixPath(self.paths[0]).name,
            "origin": self.origin,
            "precision": AS_SHIPPED,
            "weights_format": gguf_storage_plan(self.header).label,
            "weights_bytes": self.header.weights_bytes,
            **unknown,
            "gpus": [],
            **self.report_fields(),
        }


def read_gguf_files(paths: list[Path] | list[str], offline: bool = False) -> GgufSource:
    """Read the header of each file (only as far as it goes) and the spec it describes. A name
    ``hf://ORG/NAME/FILE.gguf`` is read from the Hub, with every shard when it is one shard of a
    split GGUF (``llm_calc.hub.fetch_gguf_split``), from the local cache only when ``offline``."""
    headers, file_bytes, read = [], 0, []
    for path in paths:
        hub = str(path).startswith(GGUF_SCHEME)
        for where, header in (
            _read_hub_gguf(str(path), offline) if hub else [(str(path), _read_gguf_header(Path(path)))]
        ):
            if where in read:  # a shard named and also found from another's name
                continue
            read.append(where)
            headers.append(header)
            file_bytes += header.file_bytes
    header = combine_split(headers)
    if not header.tensors:
        raise UsageError(f"{paths[0]} lists no tensors (a vocabulary-only GGUF?): nothing to size")
    try:
        spec, refusal = gguf_model_spec(header, name=header.name or PurePosixPath(read[0]).name), None
    except ValueError as error:
        spec, refusal = None, str(error)
    return GgufSource(header, tuple(read), file_bytes, spec, refusal)


def _read_hub_gguf(uri: str, offline: bool) -> list[tuple[str, GgufHeader]]:
    """``hf://ORG/NAME/FILE.gguf`` from the Hub, every shard of a split one, each as (its
    ``hf://`` name, its header). The CLI user's own HF_TOKEN is sent."""
    settings = HubSettings.from_env(token=token_from_env(shared_deployment=False))
    if offline:
        settings = replace(settings, offline=True)
    repo_id, filename = split_gguf_uri(uri)
    return [(shard.uri, shard.header) for shard in fetch_gguf_split(repo_id, filename, settings)]


def _read_gguf_header(path: Path) -> GgufHeader:
    """Read ``HEADER_PREFIX_BYTES`` of ``path``, and more while the header goes on."""
    try:
        with path.open("rb") as handle:
            data = handle.read(HEADER_PREFIX_BYTES)
            while True:
                try:
                    return parse_gguf_header(data)
                except GgufTruncatedError as short:
                    wanted = min(max(short.needed_bytes, 2 * len(data)), MAX_HEADER_BYTES) - len(data)
                    more = handle.read(wanted) if wanted > 0 else b""
                    if not more:
                        raise ValueError(f"{path}: {short}") from None
                    data += more
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def memory_report(args: argparse.Namespace) -> dict:
    """Everything ``memory`` prints, as a JSON-ready dictionary."""
    gguf_file = read_gguf_files(args.gguf, offline=args.offline) if getattr(args, "gguf", None) else None
    if gguf_file is not None and gguf_file.spec is None:
        return gguf_file.weights_only_report()
    vision_params, vision_not_modelled = 0, ""
    if gguf_file is None:
        spec, origin = resolve_model(args)
        precision, storage = _weights_storage(args, spec)
        vision_params, vision_not_modelled = _config_vision(args)
    else:
        if args.precision not in (None, AS_SHIPPED):
            raise UsageError("--precision does not apply to --gguf: the file's tensors carry their own types")
        spec, origin = gguf_file.spec, gguf_file.origin
        precision, storage = AS_SHIPPED, gguf_storage_plan(gguf_file.header)
    engine = args.engine or ""
    if args.prefill_chunk is not None and engine in UNCHUNKED_PREFILL_ENGINES:
        raise UsageError(f"--prefill-chunk does not apply to {engine}: generate prefills every prompt in one pass")
    chosen_chunk = DEFAULT_PREFILL_CHUNK_TOKENS if args.prefill_chunk is None else args.prefill_chunk
    settings = InferenceSettings(
        weight_format=precision,
        storage=storage,
        context_tokens=args.context,
        batch=args.batch,
        kv_format=args.kv_precision,
        prefill_chunk_tokens=prefill_chunk_tokens(engine, args.batch, args.prompt_tokens or args.context, chosen_chunk),
        flash_attention=not args.no_flash_attention and fused_attention(engine, spec.attention_sinks),
        vision_params=vision_params,
    )
    gpus = default_gpus()
    if args.gpu_class:
        gpus = tuple(g for g in gpus if g.gpu_class in args.gpu_class)
    if args.vendor:
        vendors = {v.lower() for v in args.vendor}
        gpus = tuple(g for g in gpus if g.vendor.lower() in vendors)
    if args.gpus not in CARD_LADDER:
        raise UsageError(f"--gpus must be 1, 2, 4, 8 or a multiple of 8 up to {CARD_LADDER[-1]}, got {args.gpus}")
    memory, results = size_on_gpus(
        spec,
        settings,
        gpus,
        args.gpus,
        args.efficiency,
        args.mfu,
        engine=args.engine,
        parallel=args.parallel,
        prompt_tokens=args.prompt_tokens,
    )
    if results and all(r.speed_note and not r.speed for r in results):
        raise UsageError(results[0].speed_note)  # the engine runs on none of the cards asked about
    params = count_parameters(spec)
    report = {
        "model": spec.name,
        "origin": origin,
        "params": params.total,
        "active_params": params.active,
        "precision": settings.weight_format,
        "kv_precision": settings.kv_format,
        "context": settings.context_tokens,
        "batch": settings.batch,
        "gpu_count": args.gpus,
        **_storage_report(storage, precision),
        "weights_bytes": memory.weights_bytes,
        "kv_cache_bytes": memory.kv_cache_bytes,
        "state_bytes": memory.state_bytes,
        "vision_params": settings.vision_params,
        "vision_bytes": memory.vision_bytes,
        "vision_not_modelled": vision_not_modelled or None,
        "activations_bytes": memory.activations_bytes,
        "overhead_bytes": memory.overhead_bytes,
        "total_bytes": memory.total_bytes,
        "kv_bytes_per_token": kv_bytes_per_token(spec, kv_format(settings.kv_format).bits),
        "hub_checkpoint": _hub_checkpoint(getattr(args, "hub_model", None)),
        "gpus": [
            {
                "name": r.gpu.name,
                "class": r.gpu.gpu_class,
                "memory_bytes": r.gpu.memory_bytes,
                "usable_memory_bytes": r.usable_memory_bytes,
                "fits": r.fits,
                "count_needed": r.count_needed,
                "cards_used": r.cards_used,
                "per_card_bytes": r.per_card_bytes,
                "card_read_bytes": r.speed.card_read_bytes if r.speed else None,
                "decode_tokens_per_s": _rounded(r.speed.decode_tokens_per_s if r.speed else None),
                "aggregate_tokens_per_s": _rounded(r.speed.aggregate_tokens_per_s if r.speed else None),
                "prefill_seconds": _rounded(r.speed.prefill_seconds if r.speed else None),
                "engine": r.engine or None,
                "engine_profile": r.speed.profile_status if r.speed else None,
                "parallel": r.speed.parallel if r.speed else None,
                "ttft_seconds": _rounded(r.speed.ttft_seconds if r.speed else None),
                "max_concurrency": r.speed.max_concurrency if r.speed else None,
                "step_overhead_seconds": r.speed.step_overhead_seconds if r.speed else None,
                "weight_stream_gbs": r.speed.weight_stream_gbs if r.speed else None,
                "kv_cache_passes": r.speed.kv_cache_passes if r.speed else None,
                "track_record": _track_record(r.speed.engine, r.gpu) if r.speed else None,
                "speed_note": r.speed_note or None,
                "price_per_hour_usd": _rounded(r.price_per_hour_usd),
                "cost_per_million_tokens_usd": _rounded(r.cost_per_million_tokens_usd),
            }
            for r in results
        ],
    }
    return report if gguf_file is None else {**report, **gguf_file.report_fields()}


def _track_record(engine: str, gpu: Gpu) -> dict | None:
    """How the engine's held-out estimates fared on the card (``data/track_records.csv``), JSON-ready;
    ``None`` where none of its runs was measured there."""
    profile = profile_for(engine, gpu).key
    record = default_track_records().get((profile, gpu.name))
    if record is None:
        return None
    return {
        "profile": profile,
        "rows": record.rows,
        "several_card_rows": record.several_card_rows,
        "sources": record.sources,
        "median_speed_ratio": record.median_speed_ratio,
        "median_abs_error": record.median_abs_error,
    }


def _weights_storage(args: argparse.Namespace, spec: ModelSpec) -> tuple[str, StoragePlan | None]:
    """The precision ``memory`` sizes weights at, and the checkpoint's storage plan when as shipped.

    Unset, it is as shipped for a checkpoint that is stored quantized (a ``--config`` or Hub id
    whose config carries a quantization_config, an unsupported one refused, never sized as bf16;
    a catalog model whose stored config.json does, ``llm_calc.catalog.shipped_checkpoint``), else
    bf16; a catalog model that ships quantized without a stored config takes the weight format
    that stands in for its checkpoint (``CatalogModel.shipped_weight_format``). As shipped needs
    that config.
    """
    if args.precision not in (None, AS_SHIPPED):
        return args.precision, None
    checkpoint = _config_checkpoint(args)
    if args.precision is None:
        if checkpoint is None and args.model is not None and getattr(args, "hub_model", None) is None:
            return find_model(args.model).shipped_weight_format or "bf16", None  # fp8 for DeepSeek-R1-0528
        if checkpoint is None or checkpoint.quantization is None:
            return "bf16", None
    elif checkpoint is None:
        raise UsageError(
            "--precision auto (as shipped) needs the model's config.json: --config, a Hub id, or a catalog "
            "model whose checkpoint ships quantized"
        )
    return AS_SHIPPED, storage_plan(spec, checkpoint)


def _config_checkpoint(args: argparse.Namespace) -> Checkpoint | None:
    """How the checkpoint of a ``--config``, a Hub id or a catalog model that ships quantized is
    stored; None for other catalog models and ``--params``."""
    hub_model: HubModel | None = getattr(args, "hub_model", None)
    if args.config:  # resolve_model has read and size-checked it
        return parse_checkpoint_text(args.config.read_bytes(), name=str(args.config))
    if hub_model is not None:  # a Hub id: resolve_model fetched and size-checked its config.json
        return parse_checkpoint_text(hub_model.config.path.read_bytes(), name=hub_model.repo_id)
    if args.model is not None:
        return shipped_checkpoint(find_model(args.model).hf_id)
    return None


def _config_vision(args: argparse.Namespace) -> tuple[int, str]:
    """Parameters of the vision tower of a ``--config`` or Hub id's multimodal config, and why a
    tower is not counted ("" if none is missing). A catalog model counts the tower of the
    checkpoint it ships quantized (that checkpoint loads it); other catalog models and
    ``--params`` have none."""
    hub_model: HubModel | None = getattr(args, "hub_model", None)
    if args.config:
        text, name = args.config.read_bytes(), str(args.config)
    elif hub_model is not None:
        text, name = hub_model.config.path.read_bytes(), hub_model.repo_id
    else:
        shipped = shipped_checkpoint(find_model(args.model).hf_id) if args.model is not None else None
        return (shipped.vision_params if shipped else 0), ""
    try:
        return hf_config.parse_vision_parameters_text(text, name=name), ""
    except ConfigError as error:  # a tower of a kind not modelled: said, the language model still sized
        return 0, str(error)


def _storage_report(storage: StoragePlan | None, precision: str) -> dict:
    """JSON fields saying how the weights were sized."""
    if storage is None:
        fmt = weight_format(precision)
        return {"weights_format": f"{fmt.label}, every parameter at {fmt.bits:.4g} bits", "checkpoint_bytes": None}
    report = {
        "weights_format": storage.label,
        "checkpoint_bytes": storage.checkpoint_bytes,
        "mtp_params": storage.mtp_params,
        "weights_basis": MTP_BASIS if storage.mtp_rows else "the whole checkpoint",
        "weights_storage": [
            {"group": r.group, "params": r.params, "bits": round(r.bits, 6), "bytes": r.bytes}
            for r in storage.rows
            if r.params
        ],
    }
    return report


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def print_memory_text(report: dict) -> None:
    print(f"{report['model']}  ({report['origin']})")
    total, active = format_count(report["params"]), format_count(report["active_params"])
    print(f"  parameters     {total} total, {active} active")
    if "gguf" in report:
        print_gguf_text(report)
        if report["not_modelled"]:
            return
    print(
        f"  settings       {'as shipped' if report['precision'] == AS_SHIPPED else report['precision']} weights, "
        f"{report['kv_precision']} KV cache, "
        f"{report['context']:,} tokens x {report['batch']} sequences"
    )
    print(f"  storage        {report['weights_format']}")
    if report.get("mtp_params"):
        print(
            f"  checkpoint     {format_gib(report['checkpoint_bytes'])} as stored, with "
            f"{format_count(report['mtp_params'])} parameters of multi-token-prediction layers; "
            f"the weights below are {report['weights_basis']}"
        )
    for key, label in (
        ("weights_bytes", "weights"),
        ("kv_cache_bytes", "KV cache"),
        ("vision_bytes", "vision tower"),
        ("state_bytes", "layer state"),
        ("activations_bytes", "activations"),
        ("overhead_bytes", "overhead/GPU"),
        ("total_bytes", "total"),
    ):
        if key in ("state_bytes", "vision_bytes") and not report.get(key):  # hybrids' state, multimodal towers
            continue
        print(f"  {label:14s} {format_gib(report[key])}")
    if report.get("vision_not_modelled"):
        print(f"  vision tower   not counted: {report['vision_not_modelled']}")
    print(f"  KV per token   {report['kv_bytes_per_token']:,} bytes")
    if report["hub_checkpoint"] is not None:
        print(f"  {_checkpoint_line(report['hub_checkpoint'])}")
    print()
    width = max([32, *(len(gpu["name"]) for gpu in report["gpus"])])
    print(
        f"  {'card':{width}s} {'fits':>5s} {'needed':>6s} {'per card':>10s} {'tok/s':>8s} {'TTFT s':>8s} "
        f"{'engine':>21s} {'$/h':>8s}"
    )
    for gpu in report["gpus"]:
        needed = gpu["count_needed"] if gpu["count_needed"] else "-"
        tps = f"{gpu['decode_tokens_per_s']:.1f}" if gpu["decode_tokens_per_s"] else "-"
        price = f"{gpu['price_per_hour_usd']:.2f}" if gpu["price_per_hour_usd"] else "-"
        ttft = f"{gpu['ttft_seconds']:.2f}" if gpu.get("ttft_seconds") else "-"
        print(
            f"  {gpu['name']:{width}s} {'yes' if gpu['fits'] else 'no':>5s} {needed!s:>6s} "
            f"{format_gib(gpu['per_card_bytes']):>10s} {tps:>8s} {ttft:>8s} {gpu.get('engine') or '-':>21s} {price:>8s}"
        )


def _checkpoint_line(checkpoint: dict) -> str:
    if checkpoint["files"]:
        return (
            f"checkpoint on the Hub: {format_gib(checkpoint['tensor_bytes'])} in {checkpoint['files']:,} "
            f"safetensors file{'s' if checkpoint['files'] != 1 else ''} (tensor bytes from their headers)"
        )
    return f"checkpoint on the Hub: not read ({checkpoint['note']})"


def print_gguf_text(report: dict) -> None:
    """The lines ``--gguf`` adds: where the weights come from and the bytes of each tensor type."""
    gguf = report["gguf"]
    print(
        f"  GGUF           {gguf['architecture']}, {gguf['file_type'] or 'no file type'}, "
        f"{gguf['tensor_count']:,} tensors, file {gguf['file_bytes']:,} bytes"
    )
    for row in gguf["tensor_types"]:
        print(f"  {row['type']:>13s}  {format_gib(row['bytes'])} in {row['tensors']:,} tensors")
    if report["not_modelled"]:
        print(f"  weights        {format_gib(report['weights_bytes'])} (exact, from the file)")
        print(f"  not modelled   {report['not_modelled']}")


DEFAULT_TRAINING_GPU = "NVIDIA A100 80GB SXM"


def _measured_card(args: argparse.Namespace) -> Gpu | None:
    """The catalog card whose estimate ``measure`` compares with: ``--gpu``, else the CUDA device's."""
    if not args.gpu:
        return device_gpu(args.device)
    gpu = find_gpu(args.gpu)
    if gpu.is_cpu:
        raise UsageError(
            f"{gpu.name} is a CPU: measure times PyTorch and transformers, which are not modelled on CPUs "
            "(only llama.cpp is); leave out --gpu"
        )
    return gpu


def _training_setup(args: argparse.Namespace, method: str, **parallel) -> TrainingSetup:
    """The ``TrainingSetup`` of the flags ``train`` and ``measure`` share (same names in both), plus
    what only ``train`` takes (``parallel``: GPUs, ZeRO, tensor parallelism, FlashAttention)."""
    return TrainingSetup(
        method=method,
        optimizer=args.optimizer,
        weights_precision=args.weights_precision,
        optimizer_impl=args.optimizer_impl,
        seq_len=args.seq_len,
        micro_batch=args.micro_batch,
        checkpointing=args.checkpointing,
        lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha,
        lora_targets=tuple(t.strip() for t in args.lora_targets.split(",") if t.strip()),
        **parallel,
    )


def train_report(args: argparse.Namespace) -> dict:
    """Everything ``train`` prints, as a JSON-ready dictionary."""
    spec, origin = resolve_model(args)
    setup = _training_setup(
        args,
        args.method,
        flash_attention=not args.no_flash_attention,
        gpus=args.gpus,
        zero_stage=args.zero,
        tensor_parallel=args.tp,
    )
    gpu = find_gpu(args.gpu)
    memory = training_memory(spec, setup)
    trainable = trainable_params(spec, setup)
    tokens = args.tokens if args.tokens is not None else float(chinchilla_tokens(spec))
    flops = training_flops(spec, tokens, setup.method, trainable, setup.seq_len, args.attention_flops)
    price = args.price if args.price is not None else gpu.price_per_hour_usd
    run = training_run(flops, setup.gpus, gpu.tflops_16bit, args.mfu, price)
    fit = training_fit(spec, setup, gpu)
    # a run that does not fit has no time or cost: they are null, never figures for a run that cannot start
    return {
        "model": spec.name,
        "origin": origin,
        "method": setup.method,
        "optimizer": setup.optimizer,
        "weights_precision": setup.weights_precision,
        "optimizer_impl": setup.optimizer_impl,
        "params": count_parameters(spec).total,
        "trainable_params": trainable,
        "gpu": gpu.name,
        "gpus": setup.gpus,
        "memory_per_gpu_bytes": memory.total_bytes,
        "weights_bytes": memory.weights_bytes,
        "gradients_bytes": memory.gradients_bytes,
        "optimizer_bytes": memory.optimizer_bytes,
        "activations_bytes": memory.activations_bytes,
        "overhead_bytes": memory.overhead_bytes,
        "step_temporaries_bytes": memory.step_temporaries_bytes,
        "usable_memory_per_gpu_bytes": fit.usable_bytes,
        "fits": fit.fits,
        "count_needed": fit.gpus_needed,
        "zero_stage_needed": fit.zero_stage_needed,
        "count_needed_zero3": fit.gpus_needed_zero3,
        "tokens": tokens,
        "flops": flops,
        "mfu": args.mfu,
        "days": run.days if fit.fits else None,
        "gpu_hours": run.gpu_hours if fit.fits else None,
        "price_per_gpu_hour_usd": price,
        "cost_usd": run.cost_usd if fit.fits else None,
    }


def print_train_text(report: dict) -> None:
    print(f"{report['model']}  ({report['origin']})")
    print(
        f"  {report['method']} on {report['gpus']} x {report['gpu']}, {report['optimizer']} "
        f"({report['optimizer_impl']}), {report['weights_precision']} precision"
    )
    trainable, total = format_count(report["trainable_params"]), format_count(report["params"])
    print(f"  trainable            {trainable} of {total}")
    for key in (
        "weights_bytes",
        "gradients_bytes",
        "optimizer_bytes",
        "activations_bytes",
        "step_temporaries_bytes",
        "overhead_bytes",
        "memory_per_gpu_bytes",
    ):
        print(f"  {key.removesuffix('_bytes').replace('_', ' '):22s} {format_gib(report[key])}")
    print("  (the peak counts the larger of activations and step temporaries)")
    if not report["fits"]:
        print(
            f"  DOES NOT FIT: {format_gib(report['memory_per_gpu_bytes'])} per GPU, "
            f"{format_gib(report['usable_memory_per_gpu_bytes'])} usable on the {report['gpu']}"
        )
        print(f"  {_fit_hint(report)}")
        print(f"  {report['tokens']:.3g} tokens, {report['flops']:.3g} FLOPs; no time or cost: the run does not fit")
        return
    print(f"  fits                   yes (fewest GPUs that fit: {report['count_needed'] or 'none'})")
    cost = f"${report['cost_usd']:,.0f}" if report["cost_usd"] is not None else "no price"
    print(
        f"  {report['tokens']:.3g} tokens, {report['flops']:.3g} FLOPs: {report['days']:,.1f} days, "
        f"{report['gpu_hours']:,.0f} GPU-hours, {cost}"
    )


def _fit_hint(report: dict) -> str:
    """What would make a run fit, from ``train``'s report."""
    hints = []
    if report["zero_stage_needed"] is not None:
        hints.append(f"ZeRO stage {report['zero_stage_needed']} on these {report['gpus']:,} GPUs")
    if report["count_needed"] is not None:
        hints.append(f"{report['count_needed']:,} GPUs at this ZeRO stage")
    if report["count_needed_zero3"] is not None:
        hints.append(f"{report['count_needed_zero3']:,} GPUs with ZeRO-3")
    if not hints:
        return "no GPU count up to the card ladder's largest fits this card; try LoRA, QLoRA or checkpointing"
    return "it would fit with " + ", or ".join(hints)


MAX_TOKEN_INPUT_BYTES = 512 * 1024**2
"""Largest file ``tokens`` reads (512 MiB); beyond that, split the file."""


def tokens_report(args: argparse.Namespace) -> list[dict]:
    """Per encoding: the count and the words-based rule beside it."""
    if args.file == "-":
        data = sys.stdin.buffer.read(MAX_TOKEN_INPUT_BYTES + 1)
    else:
        path = Path(args.file)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_TOKEN_INPUT_BYTES + 1)
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_TOKEN_INPUT_BYTES:
        raise UsageError(f"input is larger than {MAX_TOKEN_INPUT_BYTES:,} bytes; split it")
    upload = decode_upload(data)
    fetched = [] if not args.hf else count_with_hub(upload.text, args.hf, args.special, args.system, _hub_settings())
    counts = count_tokens(upload.text, args.encoding or list(REGISTRY), special=args.special)
    rows = [
        {
            "encoding": c.encoding,
            "tokens": c.tokens,
            "characters": c.characters,
            "words": c.words,
            "tokens_per_word": _rounded(c.tokens_per_word),
            "characters_per_token": _rounded(c.characters_per_token),
            "rule_estimate": c.rule_estimate,
            "undecodable_bytes": upload.replaced_bytes,
        }
        for c in [*counts, *(f.count for f in fetched)]
    ]
    for row, hub_count in zip(rows[len(counts) :], fetched, strict=True):
        row.update(hub_count.report_fields())
    return rows


def _hub_settings() -> HubSettings:
    """The CLI's Hub settings: the environment's, with the user's own HF_TOKEN."""
    return HubSettings.from_env(token=token_from_env(shared_deployment=False))


def print_tokens_text(report: list[dict]) -> None:
    for row in report:
        print(
            f"{row['encoding']:16s} {row['tokens']:>12,} tokens  {row['characters']:>12,} chars"
            f"  {row['words']:>10,} words  (rule of thumb: {row['rule_estimate']:,})"
            + (chat_note(row) if "chat_overhead_tokens" in row else "")
        )


def _add_measure_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=("inference", *METHODS), default="inference")
    parser.add_argument(
        "--precision",
        default="bf16",
        choices=list(WEIGHT_PRECISIONS),
        type=str.lower,
        help="weights format; formats that need real packed weights are measured in bf16, labelled",
    )
    parser.add_argument("--context", type=int, default=1024, help="prompt + new tokens per sequence")
    parser.add_argument("--batch", type=int, default=1, help="sequences decoded together")
    parser.add_argument("--new-tokens", type=int, default=64, help="decode steps timed (forced: no early stop)")
    parser.add_argument(
        "--decode",
        default=None,
        help="comma-separated: generate,eager,static,compiled (default: generate,compiled on a GPU, generate on CPU)",
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    parser.add_argument("--weights-precision", choices=WEIGHTS_PRECISIONS, default=DEFAULT_WEIGHTS_PRECISION)
    parser.add_argument("--optimizer-impl", choices=OPTIMIZER_IMPLS, default=DEFAULT_OPTIMIZER_IMPL)
    parser.add_argument("--seq-len", type=int, default=2048, help="tokens per training sequence")
    parser.add_argument("--micro-batch", type=int, default=1, help="training sequences per step")
    parser.add_argument("--checkpointing", action="store_true", help="gradient (activation) checkpointing")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--lora-targets", default="q_proj,v_proj", help="comma-separated PEFT module names")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a small model")
    parser.add_argument("--gpu", default=None, help="the card's name in data/gpus.csv (default: matched by name)")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET_S, help="seconds")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="PyTorch's CPU threads (default: PyTorch's own choice)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")  # fmt: skip


def measure_report(args: argparse.Namespace) -> dict:
    """Build the model with random weights on the device, run the workload, set it beside the estimate."""
    spec, origin = resolve_model(args)
    config = _measure_config(args)
    training = _training_setup(args, args.method if args.method != "inference" else "full")
    on_gpu = args.device.startswith("cuda")
    modes = args.decode.split(",") if args.decode else (["generate", "compiled"] if on_gpu else ["generate"])
    request = MeasureRequest(
        spec=spec,
        config=config,
        method=args.method,
        precision=args.precision,
        context_tokens=args.context,
        batch=args.batch,
        new_tokens=args.new_tokens,
        decode_modes=tuple(m.strip() for m in modes),
        training=training,
        device=args.device,
        time_budget_s=args.time_budget,
        torch_threads=args.torch_threads,
        gpu=_measured_card(args),
        hf_id=args.model or "",
    )
    result = measure(request)
    return {
        "model": spec.name,
        "origin": origin,
        "method": args.method,
        "device": result.environment["device"],
        "parts": [
            {"name": p.name, "unit": p.unit, "estimate": p.estimate, "measured": p.measured, "error": p.error}
            for p in result.parts
        ],
        "labels": list(result.labels),
        "environment": result.environment,
        "rows": list(result.rows),
    }


def _measure_config(args: argparse.Namespace) -> dict:
    """The config.json the model is built from: the file given, the Hub's, or the catalog's stored copy."""
    if args.config:
        raw = load_config_json(args.config.read_bytes(), name=str(args.config))
    elif getattr(args, "hub_model", None) is not None:
        raw = load_config_json(args.hub_model.config.path.read_bytes(), name=args.model)
    elif args.model is not None:
        stored = stored_config_path(args.model)
        if stored is None:
            raise UsageError(f"no config.json of {args.model} is stored in data/hf_configs: pass --config FILE")
        raw = load_config_json(stored.read_bytes(), name=args.model)
    else:
        raise UsageError("measure builds a real architecture: give --model or --config, not --params")
    if isinstance(raw.get("text_config"), dict):
        return raw["text_config"]
    return raw


def print_measure_text(report: dict) -> None:
    print(f"{report['model']} ({report['origin']}) on {report['device']}, {report['method']}")
    for label in report["labels"]:
        print(f"  {label}")
    lines = []
    for part in report["parts"]:
        error = "" if part["error"] is None else f"{100 * part['error']:+.1f}%"
        scale, unit = (GIB, "GiB") if part["unit"] == "bytes" else (1, part["unit"])
        estimate, measured = (None if v is None else v / scale for v in (part["estimate"], part["measured"]))
        lines.append((f"{part['name']} [{unit}]", _figure(estimate), _figure(measured), error))
    width = max((len(line[0]) for line in lines), default=0)
    print(f"  {'':{width}s} {'estimate':>14s} {'measured':>14s} {'error':>8s}")
    for name, estimate, measured, error in lines:
        print(f"  {name:{width}s} {estimate:>14s} {measured:>14s} {error:>8s}".rstrip())
    print("  rows for data/measurements.csv (--json prints them in full):", len(report["rows"]))


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"


def serve_report(args: argparse.Namespace) -> dict:
    """``serve``: the concurrency curve of one deployment, JSON-ready."""
    spec, origin = resolve_model(args)
    precision, storage = _weights_storage(args, spec)
    if args.gpus not in CARD_LADDER:
        raise UsageError(f"--gpus must be 1, 2, 4, 8 or a multiple of 8 up to {CARD_LADDER[-1]}, got {args.gpus}")
    settings = InferenceSettings(weight_format=precision, storage=storage, kv_format=args.kv_precision)
    target = args.min_user_tokens_per_s
    if target is not None and not (math.isfinite(target) and target > 0):
        raise UsageError(f"--min-user-tokens-per-s must be a positive number, got {target}")
    curve = serving_curve(
        spec,
        settings,
        find_gpu(args.gpu),
        args.gpus,
        args.prompt_tokens,
        args.output_tokens,
        engine=args.engine,
        parallel=args.parallel,
        min_per_user_tokens_per_s=target,
    )
    record = _track_record(curve.engine, curve.gpu)
    return {
        "model": spec.name,
        "origin": origin,
        "precision": precision,
        "gpu": curve.gpu.name,
        "gpu_count": curve.cards,
        "engine": curve.engine,
        "engine_profile": curve.profile_status,
        "track_record": record,
        "parallel": curve.parallel,
        "prompt_tokens": curve.prompt_tokens,
        "output_tokens": curve.output_tokens,
        "max_concurrency": curve.max_concurrency,
        "price_per_hour_usd": _rounded(curve.price_per_hour_usd),
        "min_user_tokens_per_s": target,
        "cost_per_million_output_tokens_usd": _rounded(
            curve.cost_per_million_output_tokens_usd(target) if target is not None else None
        ),
        "points": [
            {
                "concurrency": p.concurrency,
                "per_user_tokens_per_s": _rounded(p.per_user_tokens_per_s),
                "aggregate_tokens_per_s": _rounded(p.aggregate_tokens_per_s),
                "ttft_seconds": _rounded(p.ttft_seconds),
            }
            for p in curve.points
        ],
    }


def print_serve_text(report: dict) -> None:
    print(f"{report['model']}  ({report['origin']})")
    print(
        f"  {report['gpu_count']} x {report['gpu']}, {report['engine']} ({report['engine_profile']}), "
        f"{report['prompt_tokens']:,} prompt + {report['output_tokens']:,} output tokens per request"
    )
    print(f"  KV memory holds at most {report['max_concurrency']:,} concurrent sequences")
    record = report["track_record"]
    if record is None:
        print(f"  no measured runs of {report['engine']} on this card: the estimate rests on other cards' runs")
    else:
        print(
            f"  measured runs of {record['profile']} on this card ({record['rows']:,} rows from {record['sources']:,} "
            f"source(s), any model and load) ran at a median {record['median_speed_ratio']:.2f}x our estimated speed "
            f"(median error {record['median_abs_error']:.0%})"
        )
    print(f"  {'users':>8s} {'tok/s each':>11s} {'tok/s total':>12s} {'TTFT (s)':>9s}")
    for p in report["points"]:
        print(
            f"  {p['concurrency']:>8,} {p['per_user_tokens_per_s']:>11,.1f} {p['aggregate_tokens_per_s']:>12,.0f} "
            f"{p['ttft_seconds']:>9,.3f}"
        )
    if report["min_user_tokens_per_s"] is not None:
        cost = report["cost_per_million_output_tokens_usd"]
        shown = f"${cost:,.3f}" if cost is not None else "no price, or no concurrency keeps that speed"
        print(f"  per 1M output tokens at >= {report['min_user_tokens_per_s']:g} tokens/s per user: {shown}")


REPORTS = {  # command -> (build the JSON-ready report, print it as text)
    "memory": (memory_report, print_memory_text),
    "serve": (serve_report, print_serve_text),
    "train": (train_report, print_train_text),
    "tokens": (tokens_report, print_tokens_text),
    "measure": (measure_report, print_measure_text),
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command in REPORTS:
            build, print_text = REPORTS[args.command]
            report = build(args)
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                print_text(report)
        elif args.command == "models":
            for model in default_models():
                print(f"{model.hf_id:42s} {format_count(model.params_published):>8s}  {model.name}")
        elif args.command == "gpus":
            width = max(len(gpu.name) for gpu in default_gpus())
            for gpu in default_gpus():
                print(
                    f"{gpu.name:{width}s} {gpu.gpu_class:12s} {format_gib(gpu.memory_bytes):>10s} "
                    f"{gpu.bandwidth_gbs:>7,.0f} GB/s"
                )
    except (UsageError, ConfigError, CatalogError, TokenizerError, MeasureError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `| head` closed the pipe
        return 0
    return 0
