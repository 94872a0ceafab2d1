"""`python -m llm_calc`: the JSON contract and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_calc.cli import main

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).parent / "configs"


def run_json(capsys, *args):
    assert main(["memory", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_keys_and_values(capsys):
    report = run_json(
        capsys,
        "--model",
        "meta-llama/Meta-Llama-3-70B",
        "--precision",
        "q4_k_m",
        "--context",
        "32768",
        "--batch",
        "4",
    )
    for key in (
        "params",
        "active_params",
        "weights_bytes",
        "kv_cache_bytes",
        "activations_bytes",
        "overhead_bytes",
        "total_bytes",
        "kv_bytes_per_token",
        "gpus",
    ):
        assert key in report
    assert report["params"] == 70_553_706_496
    assert report["kv_bytes_per_token"] == 327_680
    assert report["kv_cache_bytes"] == 40 * 2**30
    assert report["total_bytes"] == sum(
        report[k] for k in ("weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes")
    )
    h100 = next(g for g in report["gpus"] if g["name"] == "NVIDIA H100 SXM")
    assert {"name", "memory_bytes", "fits", "count_needed", "decode_tokens_per_s"} <= set(h100)
    assert (h100["fits"], h100["count_needed"]) == (False, 2)
    assert h100["decode_tokens_per_s"] > 0


def test_config_file_gives_the_same_numbers_as_the_catalog(capsys):
    by_config = run_json(capsys, "--config", str(CONFIGS / "Llama-2-7b-hf.json"))
    by_model = run_json(capsys, "--model", "meta-llama/Llama-2-7b-hf")
    assert by_config["params"] == by_model["params"] == 6_738_415_616
    assert by_config["total_bytes"] == by_model["total_bytes"]
    assert by_config["kv_bytes_per_token"] == 524_288


def test_params_builds_a_custom_model_of_that_size(capsys):
    report = run_json(capsys, "--params", "30")
    assert report["params"] == pytest.approx(30e9, rel=0.05)


def test_filters_and_gpu_count(capsys):
    report = run_json(capsys, "--model", "meta-llama/Llama-2-7b-hf", "--gpu-class", "apple", "--gpus", "1")
    assert report["gpus"] and all(g["class"] == "apple" for g in report["gpus"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "no/such-model"], "unknown model 'no/such-model'"),
        (["--model", "meta-llama/Llama-2-7b-hf", "--context", "-5"], "context"),
        (["--model", "meta-llama/Llama-2-7b-hf", "--precision", "fp12"], "invalid choice"),
        (["--model", "meta-llama/Llama-2-7b-hf", "--gpus", "3"], "--gpus"),
        (["--config", "/no/such/config.json"], "cannot read"),
        (["--params", "-1"], "--params"),
        (["--params", "nan"], "--params"),
        ([], "one of the arguments"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    assert main(["memory", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert message in captured.err


def test_unreadable_config_exits_2(capsys, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_bytes(b"\x00\xff not json")
    assert main(["memory", "--config", str(bad)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_module_entry_point_runs_as_a_subprocess():
    ok = subprocess.run(
        [sys.executable, "-m", "llm_calc", "memory", "--params", "7", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["params"] > 6e9
    bad = subprocess.run(
        [sys.executable, "-m", "llm_calc", "memory", "--model", "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_tokens_json_from_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"hello world")))
    assert main(["tokens", "-", "--encoding", "cl100k_base", "--encoding", "o200k_base", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["encoding"], r["tokens"], r["characters"], r["words"]) for r in rows] == [
        ("cl100k_base", 2, 11, 2),
        ("o200k_base", 2, 11, 2),
    ]


def test_tokens_counts_a_file_with_every_tokenizer(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("The quick brown fox jumps over the lazy dog.")
    assert main(["tokens", str(path), "--json"]) == 0
    rows = {r["encoding"]: r["tokens"] for r in json.loads(capsys.readouterr().out)}
    assert len(rows) == 7 and rows["cl100k_base"] == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens", "/no/such/file.txt"], "cannot read"),
        (["tokens", "-", "--encoding", "gpt9"], "invalid choice"),
    ],
)
def test_tokens_bad_input_exits_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_train_json_has_the_documented_keys(capsys):
    assert (
        main(
            [
                "train",
                "--model",
                "meta-llama/Llama-2-7b-hf",
                "--method",
                "lora",
                "--lora-rank",
                "8",
                "--lora-targets",
                "q_proj,v_proj",
                "--tokens",
                "10M",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    for key in ("memory_per_gpu_bytes", "trainable_params", "flops", "gpu_hours", "days", "cost_usd"):
        assert key in report
    assert report["trainable_params"] == 4_194_304
    assert report["flops"] == (4 * 6_738_415_616 + 6 * 4_194_304) * 10e6
    assert report["price_per_gpu_hour_usd"] == 1.79  # the default card's catalog price


def test_train_predicts_the_llama_65b_run(capsys):
    # a prediction, not a fit: 6 x 65,285,660,672 (LLaMA 65B as built) x 1.4e12 FLOPs on 2,048 A100s at
    # 312 TFLOPS and the default MFU 0.40, priced at the catalog's $1.79 per GPU-hour
    assert main(["train", "--model", "huggyllama/llama-65b", "--gpus", "2048", "--zero", "3", "--tokens", "1.4T",
                 "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    days = 6 * 65_285_660_672 * 1.4e12 / (2048 * 312e12 * 0.40) / 86_400
    assert report["fits"] is True
    assert report["days"] == pytest.approx(days, rel=1e-12)
    assert report["cost_usd"] == pytest.approx(days * 24 * 2048 * 1.79, rel=1e-12)


def test_train_echoes_the_training_setup(capsys):
    args = ["train", "--params", "7", "--weights-precision", "bf16", "--optimizer-impl", "fused", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["weights_precision"] == "bf16" and report["optimizer_impl"] == "fused"
    assert report["step_temporaries_bytes"] == 0
    # pure bf16 AdamW: 2 (bf16 master-less weights) + 2 (grads) + 2 x 2 (bf16 moments) = 8 bytes per parameter
    assert report["weights_bytes"] + report["gradients_bytes"] + report["optimizer_bytes"] == 8 * report["params"]


def test_train_lora_optimizer_changes_the_adapter_states(capsys):
    base = ["train", "--model", "meta-llama/Llama-2-7b-hf", "--method", "lora", "--json", "--optimizer"]
    bytes_per_adapter = {}
    for optimizer in ("adamw", "sgd"):
        assert main([*base, optimizer]) == 0
        report = json.loads(capsys.readouterr().out)
        bytes_per_adapter[optimizer] = report["optimizer_bytes"] / report["trainable_params"]
    # fp32 adapter and gradient (4 + 4) plus two fp32 Adam moments (8) or one fp32 momentum (4)
    assert bytes_per_adapter == {"adamw": 16, "sgd": 12}


def test_train_that_does_not_fit_has_no_time_or_cost(capsys):
    # Llama-2-7B full fine-tuning, mixed AdamW: 16 + 4 (foreach temporaries) = 20 bytes x 6.74e9 = 134.8e9
    # bytes on one 80 GiB (85.9e9) card: it does not fit, so no days, GPU-hours or dollars
    assert main(["train", "--model", "meta-llama/Llama-2-7b-hf", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is False
    assert report["days"] is None and report["gpu_hours"] is None and report["cost_usd"] is None
    assert report["count_needed_zero3"] == 2  # ZeRO-3 on 2 GPUs: 10 x 6.74e9 + 1 GiB + gather buffers
    assert main(["train", "--model", "meta-llama/Llama-2-7b-hf"]) == 0
    text = capsys.readouterr().out
    assert "DOES NOT FIT" in text and "2 GPUs with ZeRO-3" in text and "days" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "7", "--zero", "5"], "invalid choice"),
        (["--params", "7", "--method", "lora", "--lora-targets", "c_attn"], "LoRA targets"),
        (["--params", "7", "--gpu", "GTX 480"], "unknown GPU"),
        (["--params", "7", "--tokens", "lots"], "not a token amount"),
        (["--params", "7", "--mfu", "2"], "MFU"),
        (["--params", "7", "--weights-precision", "fp8"], "invalid choice"),
        (["--params", "7", "--optimizer-impl", "apex"], "invalid choice"),
        (["--params", "7", "--gpus", "6", "--tp", "4"], "multiple of tensor_parallel"),
    ],
)
def test_train_bad_input_exits_2(capsys, args, message):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_hybrid_models_state_is_reported_and_in_the_total(capsys):
    """Qwen3-Next keeps 39,518,208 bytes of DeltaNet state per sequence (hand-derived in
    tests/test_architecture.py); the JSON names it and its parts add up to the total."""
    report = run_json(capsys, "--config", str(CONFIGS / "Qwen3-Next-80B-A3B-Thinking.json"), "--batch", "8")
    assert report["state_bytes"] == 8 * 39_518_208
    parts = ("weights_bytes", "kv_cache_bytes", "state_bytes", "activations_bytes", "overhead_bytes")
    assert report["total_bytes"] == sum(report[k] for k in parts)
    assert main(["memory", "--config", str(CONFIGS / "Qwen3-Next-80B-A3B-Thinking.json")]) == 0
    assert "layer state" in capsys.readouterr().out


def test_transformers_prefills_the_whole_batch_so_its_activations_grow_with_it(capsys):
    """Llama-3.1-8B, 8 prompts of 4,096 tokens. A layer's largest stage holds, per token, the MLP's
    input and output (2 x 4,096) and its three inner products (3 x 14,336): 51,200 elements, 2 bytes
    each. vLLM prefills in chunks of 2,048 tokens: 2,048 x 102,400 = 209,715,200 bytes; transformers'
    generate runs all 32,768 tokens in one pass: 16 times that, 3,355,443,200. Both add the fp32
    logits of one position per sequence: 8 x 128,256 x 4 = 4,104,192 (seen on an H100: the estimate
    with a 2,048-token chunk read 14.8 % low, with the whole batch 2.0 % low)."""
    base = ["memory", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--batch", "8", "--context", "4096", "--json"]
    activations = {}
    for engine in ("vllm", "transformers"):
        assert main([*base, "--engine", engine, "--gpu-class", "datacenter"]) == 0
        activations[engine] = json.loads(capsys.readouterr().out)["activations_bytes"]
    assert activations == {"vllm": 209_715_200 + 4_104_192, "transformers": 3_355_443_200 + 4_104_192}


def test_a_prefill_chunk_for_transformers_is_refused_in_one_line(capsys):
    model = ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
    assert main(["memory", *model, "--engine", "transformers", "--prefill-chunk", "512"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --prefill-chunk does not apply to transformers: generate prefills every prompt in one pass"
    )
