"""scripts/measure_on_gpu.py: the list our own GPU rows come from, rehearsed on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="measure needs torch (requirements-measure.txt)")
pytest.importorskip("peft", reason="the list's LoRA runs need peft")

ROOT = Path(__file__).resolve().parents[1]


def test_the_tiny_rehearsal_runs_a_dense_inference_and_a_moe_lora_with_exact_counts(tmp_path):
    """Two runs of the list on the CPU, with tiny versions of their real configs: each reports, and
    the parameters and KV cache (inference) or weights, gradients and optimizer states (LoRA) it
    built equal the estimate beside them."""
    only = "llama-1b-inference,gpt-oss-20b-lora"
    done = subprocess.run(
        [sys.executable, "scripts/measure_on_gpu.py", "--tiny", "--out", str(tmp_path), "--only", only],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [line["run"] for line in lines] == only.split(",")
    exact = {"parameters", "KV cache held (eager)", "trainable parameters", "weights, gradients and optimizer"}
    checked = [p for line in lines for p in line["report"]["parts"] if p["name"] in exact]
    assert len(checked) == 4
    assert all(p["estimate"] == p["measured"] for p in checked), checked
