"""Run ``python -m llm_calc measure`` for the configurations our own measurement rows come from.

One prepared run for a lent GPU: each configuration is its own process (a crash or an
out-of-memory in one leaves the others), bounded by a timeout, its JSON report appended to
``OUT/results.jsonl`` and its output to ``OUT/log.txt``. ``--tiny`` runs the same list on the CPU
with tiny versions of the same configs (same architecture, small sizes) to test the path before
any device time is spent.

    python scripts/measure_on_gpu.py --out "$OUT"            # on the GPU machine
    python scripts/measure_on_gpu.py --tiny --out /tmp/tiny   # here, first

Then ``scripts/add_measured_rows.py OUT/results.jsonl`` adds the rows to data/measurements.csv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HF_CONFIGS = ROOT / "data" / "hf_configs"

# (name, catalog id, flags). Dense and MoE, inference and LoRA / full fine-tuning; the runs that
# compile come last, so a slow compilation cannot cost the others their time.
RUNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # the published eager-generate baseline of Qwen3-0.6B (a 1-token prompt, 100 tokens: 8.11 ms a
    # step on an RTX 5090, 136 tokens/s on an RTX 3090; rows s6t-alpin-*, s6t-megaqwen-*): a healthy
    # host should match or beat them on an H100
    ("qwen3-0.6b-generate", "Qwen/Qwen3-0.6B",
     ("--context", "101", "--batch", "1", "--new-tokens", "100", "--decode", "generate,eager")),
    # the same over a 16k-token cache: Qwen's speed benchmark (transformers 4.51.3, one H20) slowed
    # this model 2.8x from a 1-token to a 14k-token prompt, far beyond what the cache's bytes explain;
    # generate and our own loop at that depth tell whether today's cache and attention path still do
    ("qwen3-0.6b-generate-16k", "Qwen/Qwen3-0.6B",
     ("--context", "16484", "--batch", "1", "--new-tokens", "100", "--decode", "generate,eager")),
    ("llama-1b-inference", "meta-llama/Llama-3.2-1B-Instruct",
     ("--context", "2048", "--batch", "1", "--new-tokens", "128", "--decode", "generate,eager")),
    # the same with one PyTorch thread: on a shared host, threads busy-waiting on tiny CPU-side ops
    # made a tiny model's eager step 18x slower (0.26 -> 4.8 ms a layer on this project's 2-core machine)
    ("llama-1b-eager-1-thread", "meta-llama/Llama-3.2-1B-Instruct",
     ("--context", "2048", "--batch", "1", "--new-tokens", "128", "--decode", "eager", "--torch-threads", "1")),
    ("llama-8b-inference-batch8", "meta-llama/Llama-3.1-8B-Instruct",
     ("--context", "4096", "--batch", "8", "--new-tokens", "64", "--decode", "eager")),
    ("qwen3-30b-a3b-inference", "Qwen/Qwen3-30B-A3B",
     ("--context", "2048", "--batch", "1", "--new-tokens", "64", "--decode", "eager")),
    ("gpt-oss-20b-inference", "openai/gpt-oss-20b",
     ("--context", "2048", "--batch", "4", "--new-tokens", "64", "--decode", "eager")),
    ("llama-8b-lora", "meta-llama/Llama-3.1-8B-Instruct",
     ("--method", "lora", "--seq-len", "2048", "--micro-batch", "4", "--checkpointing")),
    ("llama-1b-full", "meta-llama/Llama-3.2-1B-Instruct",
     ("--method", "full", "--seq-len", "2048", "--micro-batch", "4", "--optimizer-impl", "fused")),
    ("gpt-oss-20b-lora", "openai/gpt-oss-20b",
     ("--method", "lora", "--seq-len", "1024", "--micro-batch", "2", "--checkpointing")),
    ("llama-1b-compiled", "meta-llama/Llama-3.2-1B-Instruct",
     ("--context", "2048", "--batch", "1", "--new-tokens", "128", "--decode", "compiled")),
    ("llama-8b-batch1", "meta-llama/Llama-3.1-8B-Instruct",
     ("--context", "1024", "--batch", "1", "--new-tokens", "128", "--decode", "generate,eager,compiled")),
    ("llama-8b-compiled-batch8", "meta-llama/Llama-3.1-8B-Instruct",
     ("--context", "2048", "--batch", "8", "--new-tokens", "64", "--decode", "compiled")),
    ("qwen3-30b-a3b-compiled", "Qwen/Qwen3-30B-A3B",
     ("--context", "2048", "--batch", "1", "--new-tokens", "64", "--decode", "compiled")),
)  # fmt: skip

MIN_RUN_SECONDS = 45
"""A run is not started with less of the deadline left: the imports and the build alone take ~20 s."""

TINY = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 512, "max_position_embeddings": 512,
    # MoE sizes (ignored by dense configs)
    "moe_intermediate_size": 32, "num_experts": 8, "num_local_experts": 8, "num_experts_per_tok": 2,
    "experts_per_token": 2,
}  # fmt: skip
"""Sizes of the CPU rehearsal, as in tests/test_measure.py."""

TINY_FLAGS = {"--context": "64", "--new-tokens": "8", "--batch": "2", "--seq-len": "32", "--micro-batch": "2"}


def tiny_config(hf_id: str, folder: Path) -> Path:
    config = json.loads((HF_CONFIGS / (hf_id.replace("/", "__") + ".json")).read_text())
    config = {k: v for k, v in config.items() if k not in ("quantization_config", "layer_types", "auto_map")}
    config.update({k: v for k, v in TINY.items() if k in config or k in TINY_DENSE_KEYS})
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):  # ids of the real vocabulary
        if isinstance(config.get(key), int) and config[key] >= TINY["vocab_size"]:
            config[key] = 0
    path = folder / (hf_id.replace("/", "__") + ".tiny.json")
    path.write_text(json.dumps(config))
    return path


TINY_DENSE_KEYS = frozenset(k for k in TINY if "expert" not in k and not k.startswith("moe_"))
"""Sizes every config gets; the MoE ones replace only keys the config has."""


def command(hf_id: str, flags: tuple[str, ...], tiny_folder: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "llm_calc", "measure", "--json", "--time-budget", "200"]
    if tiny_folder is None:
        return [*argv, "--model", hf_id, *flags]
    flags = list(flags)
    for i, flag in enumerate(flags[:-1]):
        if flag in TINY_FLAGS:
            flags[i + 1] = TINY_FLAGS[flag]
    return [*argv, "--config", str(tiny_config(hf_id, tiny_folder)), "--device", "cpu", *flags]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="CPU rehearsal with tiny configs")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per configuration")
    parser.add_argument("--only", help="comma-separated run names")
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds for the whole list")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    failures = 0
    begun = time.monotonic()
    with (args.out / "results.jsonl").open("a") as results, (args.out / "log.txt").open("a") as log:
        for name, hf_id, flags in RUNS:
            if wanted is not None and name not in wanted:
                continue
            argv = command(hf_id, flags, args.out if args.tiny else None)
            start = time.monotonic()
            left = args.deadline - (start - begun)
            if left < MIN_RUN_SECONDS:
                print(f"{name}: skipped, {left:.0f} s left of the deadline", flush=True)
                continue
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=min(args.timeout, left), cwd=ROOT)
                rc, stdout, stderr = done.returncode, done.stdout, done.stderr
            except subprocess.TimeoutExpired as error:
                rc, stdout, stderr = "timeout", error.stdout or "", error.stderr or ""
                stdout, stderr = (s.decode() if isinstance(s, bytes) else s for s in (stdout, stderr))
            seconds = time.monotonic() - start
            line = f"{name}: rc={rc} in {seconds:.0f} s"
            print(line, flush=True)
            log.write(f"== {line}\n$ {' '.join(argv)}\n{stderr[-4000:]}\n")
            if rc == 0:
                report = json.loads(stdout)
                line = {"run": name, "argv": argv[2:], "seconds": round(seconds, 1), "report": report}
                results.write(json.dumps(line) + "\n")
                for part in report["parts"]:
                    error = "" if part["error"] is None else f"{part['error']:+.1%}"
                    print(f"   {part['name']}: est {part['estimate']} meas {part['measured']} {error}", flush=True)
            else:
                failures += 1
                print(stderr[-1500:], flush=True)
            results.flush()
            log.flush()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
