"""`llm_calc measure` on the CPU with tiny versions of real configs.

The whole path runs here as it runs on a GPU: the model is built from a config with random
weights, the prompt is prefilled, the decode steps are run and timed, two optimizer steps are
taken. What must hold exactly is what does not depend on the device: the parameters built, the
bytes of the KV cache the model really holds, the bytes of weights, gradients and optimizer
states after a step. Each expected value is derived by hand below, and must also equal the
estimate ``llm_calc`` prints beside it. Speed and peak memory need a GPU; on the CPU they are
reported as not measured.
"""

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from llm_calc.catalog import CatalogError, default_gpus, find_gpu, find_model
from llm_calc.cli import main
from llm_calc.hf_config import parse_config_text
from llm_calc.measure import MeasureError, MeasureRequest, busy_seconds, catalog_gpu, host_description, measure
from llm_calc.measurements import load_measurements
from llm_calc.training import TrainingSetup

torch = pytest.importorskip("torch", reason="measure needs torch (requirements-measure.txt)")
pytest.importorskip("transformers", reason="measure needs transformers (requirements-measure.txt)")

HF_CONFIGS = Path(__file__).resolve().parents[1] / "data" / "hf_configs"
MEASUREMENTS_COLUMNS = (
    "id,kind,hf_id,precision,engine,engine_version,backend,gpu,gpu_count,interconnect,parallelism,concurrency,"
    "prompt_tokens,output_tokens,context_tokens,measured,unit,bound,used_for_fit,date,source,note,driver,"
    "library_versions,kv_format,training_setup,attention"
).split(",")

# Sizes shared by every tiny config: 2 layers, 4 query heads and 2 KV heads of 16 dims.
TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 512,
    "max_position_embeddings": 512,
}


def tiny(file: str, **extra) -> dict:
    """The real config of ``file`` with the sizes of ``TINY``: same architecture, small tensors."""
    config = json.loads((HF_CONFIGS / file).read_text())
    config = {k: v for k, v in config.items() if k not in ("quantization_config", "layer_types", "auto_map")}
    return {**config, **TINY, **extra}


def request(config: dict, **settings) -> MeasureRequest:
    spec = parse_config_text(json.dumps(config), name="tiny")
    return MeasureRequest(spec=spec, config=config, device="cpu", **settings)


def parts(result) -> dict:
    return {part.name: part for part in result.parts}


@pytest.mark.parametrize(
    ("file", "extra"),
    [
        ("meta-llama__Llama-3.2-1B-Instruct.json", {}),  # GQA, tied embeddings
        ("Qwen__Qwen3-30B-A3B.json", {"moe_intermediate_size": 32, "num_experts": 8, "num_experts_per_tok": 2}),
        ("google__gemma-3-1b-it.json", {"sliding_window": 256}),  # q/k norms, sliding layers wider than the context
    ],
)
def test_inference_builds_the_parameters_and_holds_the_cache_we_estimate(file, extra):
    config = tiny(file, **extra)
    result = measure(request(config, context_tokens=48, batch=2, new_tokens=8, decode_modes=("eager", "static")))
    measured = parts(result)
    assert measured["parameters"].measured == measured["parameters"].estimate
    # KV cache after 40 prompt + 8 decoded tokens, hand-derived: K and V x 2 layers x 2 sequences
    # x 48 tokens x 2 KV heads x 16 dims x 2 bytes (bf16) = 24,576 bytes, in both cache kinds
    for mode in ("eager", "static"):
        kv = measured[f"KV cache held ({mode})"]
        assert kv.measured == 2 * 2 * 2 * 48 * 2 * 16 * 2 == 24_576
        assert kv.estimate == kv.measured
        per_sequence = measured[f"decode per sequence ({mode})"].measured
        assert per_sequence > 0
        assert measured[f"decode, all 2 sequences ({mode})"].measured == pytest.approx(2 * per_sequence)
    assert measured["weights"].measured == 2 * measured["parameters"].measured  # bf16: 2 bytes each
    assert measured["peak allocated"].measured is None  # a CPU has no allocator statistics to read
    assert not [name for name in measured if name.startswith("device busy")]  # profiled on CUDA only


def test_device_busy_time_counts_overlapping_kernels_once():
    """Kernels (µs): 0-10 and 5-20 overlap (20 µs busy), 30-40 stands apart (10), 32-35 lies
    inside it: 30 µs in all, in any order."""
    assert busy_seconds([(30, 40), (0, 10), (32, 35), (5, 20)]) == pytest.approx(30e-6)
    assert busy_seconds([]) == 0


def test_every_row_has_the_measurements_schema_and_names_the_run():
    result = measure(request(tiny("meta-llama__Llama-3.2-1B-Instruct.json"), context_tokens=32, new_tokens=4))
    assert result.rows
    for row in result.rows:
        assert list(row) == MEASUREMENTS_COLUMNS
        assert row["source"].startswith("data/own_measurements/") and row["source"].endswith(".jsonl")
        assert row["engine"] == "transformers" and row["backend"] == "cpu"
        assert "torch=" in row["library_versions"] and "transformers=" in row["library_versions"]
    # decode as llama-bench's tg4 at depth 28: the prompt is in the cache, its prefill not in the time
    decode = next(row for row in result.rows if row["kind"] == "decode")
    assert (decode["prompt_tokens"], decode["output_tokens"], decode["context_tokens"]) == ("0", "4", "28")
    prefill = next(row for row in result.rows if row["kind"] == "prefill")
    assert (prefill["prompt_tokens"], prefill["unit"]) == ("28", "tokens/s")


SHIPPED_REPORT = "data/own_measurements/2026-11-27-nvidia-h100-sxm.jsonl"


def _filed(rows: list[dict], tmp_path) -> Path:
    """``rows`` as a measurements file of their own, with ids and the shipped report as source."""
    path = tmp_path / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MEASUREMENTS_COLUMNS)
        writer.writeheader()
        for number, row in enumerate(rows):
            writer.writerow({**row, "id": f"row-{number}", "source": SHIPPED_REPORT})
    return path


def test_rows_on_a_catalog_card_load_as_measurements_and_keep_the_training_setup(tmp_path):
    h100 = find_gpu("NVIDIA H100 SXM")
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    inference = measure(request(config, context_tokens=32, new_tokens=4, gpu=h100)).rows
    setup = TrainingSetup(method="lora", seq_len=32, micro_batch=2, checkpointing=True, lora_rank=4)
    training = measure(request(config, method="lora", training=setup, gpu=h100)).rows
    # on the CPU there is no peak-memory row; every row that is there must load
    rows = load_measurements(_filed([*inference, *training], tmp_path))
    assert {(row.kind, row.engine) for row in rows} == {
        ("decode", "transformers"), ("prefill", "transformers"), ("train_step", "transformers")
    }  # fmt: skip
    step = next(row for row in rows if row.kind == "train_step")
    assert step.training == setup


def test_a_row_without_its_report_is_refused(tmp_path):
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    rows = measure(request(config, context_tokens=32, new_tokens=4, gpu=find_gpu("NVIDIA H100 SXM"))).rows
    path = _filed(list(rows), tmp_path)
    path.write_text(path.read_text().replace(SHIPPED_REPORT, "data/own_measurements/missing.jsonl"))
    with pytest.raises(CatalogError, match="a report under data/own_measurements/"):
        load_measurements(path)


def test_full_training_holds_sixteen_bytes_per_parameter_after_a_step():
    """Mixed precision as the Trainer runs it: fp32 weights (4) + fp32 gradients (4) + AdamW's two
    fp32 moments (8) = 16 bytes per parameter, the estimate's 2 + 2 + 4 master + 8."""
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    setup = TrainingSetup(method="full", seq_len=32, micro_batch=2)
    result = measure(request(config, method="full", training=setup))
    measured = parts(result)
    params = measured["trainable parameters"].measured
    assert params == measured["trainable parameters"].estimate
    states = measured["weights, gradients and optimizer"]
    assert states.measured == 16 * params
    assert states.estimate == pytest.approx(states.measured, rel=1e-9)  # the estimate rounds each part up


def test_lora_trains_only_the_adapters_we_count():
    pytest.importorskip("peft", reason="LoRA needs peft (requirements-measure.txt)")
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    setup = TrainingSetup(method="lora", seq_len=32, lora_rank=4, lora_targets=("q_proj", "v_proj"))
    measured = parts(measure(request(config, method="lora", training=setup)))
    # rank 4 on q_proj (64 -> 4 x 16 = 64) and v_proj (64 -> 2 x 16 = 32) in 2 layers:
    # 2 x [4 x (64 + 64) + 4 x (64 + 32)] = 2 x (512 + 384) = 1,792 adapter parameters
    assert measured["trainable parameters"].measured == 1_792
    assert measured["trainable parameters"].estimate == 1_792


def test_refusals_are_one_sentence():
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    with pytest.raises(MeasureError, match="below the context"):
        request(config, context_tokens=16, new_tokens=16)
    with pytest.raises(MeasureError, match="unknown decode mode"):
        request(config, decode_modes=("turbo",))
    with pytest.raises(MeasureError, match="torch threads must be from 1 to 1,024, got 0"):
        request(config, torch_threads=0)
    if not torch.cuda.is_available():
        with pytest.raises(MeasureError, match="no CUDA GPU"):
            measure(MeasureRequest(spec=parse_config_text(json.dumps(config)), config=config, device="cuda"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--params", "7"], "give --model or --config"),
        (["--model", "huggyllama/llama-7b"], "no config.json of huggyllama/llama-7b is stored"),
        (["--config", "CONFIG", "--method", "qlora"], "bitsandbytes"),
        (["--config", "CONFIG", "--context", "8", "--new-tokens", "8"], "below the context"),
        (["--config", "CONFIG", "--torch-threads", "-2"], "torch threads must be from 1"),
    ],
)
def test_cli_refuses_in_one_line(tmp_path, capsys, argv, message):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny("meta-llama__Llama-3.2-1B-Instruct.json")))
    argv = [str(config) if a == "CONFIG" else a for a in argv]
    assert main(["measure", *argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_prints_estimate_beside_measurement(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny("meta-llama__Llama-3.2-1B-Instruct.json")))
    assert main(["measure", "--config", str(config), "--device", "cpu", "--context", "24", "--new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "KV cache held (generate) [GiB]" in out and "+0.0%" in out


@pytest.mark.parametrize(
    ("device_name", "memory_gib", "card"),
    [
        ("NVIDIA H100 80GB HBM3", 79.1, "NVIDIA H100 SXM"),  # an SXM part names no form factor
        ("NVIDIA H100 PCIe", 79.6, "NVIDIA H100 PCIe"),
        ("NVIDIA A100-SXM4-80GB", 79.2, "NVIDIA A100 80GB SXM"),
        ("NVIDIA GeForce RTX 4090", 23.6, "NVIDIA RTX 4090"),
        ("NVIDIA H200", 139.8, "NVIDIA H200 SXM"),
        ("Quadro P1000", 4.0, None),
    ],
)
def test_a_cuda_device_name_is_matched_to_its_catalog_card(device_name, memory_gib, card):
    match = catalog_gpu(device_name, int(memory_gib * 2**30), default_gpus())
    assert (match.name if match else None) == card


def test_the_driver_is_read_from_nvidia_smi_and_left_empty_without_it(monkeypatch):
    import subprocess

    from llm_calc import measure as measure_module

    def smi(argv, **_):
        assert argv[0] == "nvidia-smi"
        return subprocess.CompletedProcess(argv, 0, stdout="580.159.04\n", stderr="")

    monkeypatch.setattr(measure_module.subprocess, "run", smi)
    assert measure_module.nvidia_driver_version() == "driver 580.159.04"

    def absent(argv, **_):
        raise FileNotFoundError(argv[0])

    monkeypatch.setattr(measure_module.subprocess, "run", absent)
    assert measure_module.nvidia_driver_version() == ""


def test_generate_mode_times_model_generate_and_files_a_first_token_row():
    """``generate`` is the engine the measurements' ``transformers`` rows mean: its cache after
    8 new tokens of a 40-token prompt holds the 48-token context (K and V x 2 layers x 1 sequence x
    48 tokens x 2 KV heads x 16 dims x 2 bytes = 12,288 bytes), and at batch 1 it files a decode row
    and a first-token row (prefill and one pick), never a bare prefill row."""
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    result = measure(request(config, context_tokens=48, batch=1, new_tokens=8, decode_modes=("generate",)))
    measured = parts(result)
    assert measured["KV cache held (generate)"].measured == 2 * 2 * 1 * 48 * 2 * 16 * 2 == 12_288
    assert measured["first token (generate)"].measured > 0
    assert [(row["kind"], row["engine"], row["unit"]) for row in result.rows] == [
        ("decode", "transformers", "tokens/s"), ("ttft", "transformers", "s")
    ]  # fmt: skip
    assert "model.generate" in result.rows[0]["note"]


def test_the_prefill_estimate_is_the_prompts_whatever_the_tokens_decoded_after_it():
    """The same 40-token prompt, followed by 8 or by 400 decode steps: the prefill measured is the
    prompt's, so its estimate must not change with the context the decode steps fill afterwards.
    The estimate is for Llama-3.2-1B's real shape on an H100 (the tiny model only runs the steps):
    prefilling 440 tokens is compute-bound there (2 x 1.24e9 x 440 FLOPs, about 1.6 ms at 70 % of
    989 TFLOPS, above the 0.7 ms the weights take to read), so sizing the whole context, as the
    estimate once did, gives another figure."""
    config = tiny("meta-llama__Llama-3.2-1B-Instruct.json")
    # the real shape, with the tiny model's vocabulary (the prompt's token ids are drawn from it)
    real = dataclasses.replace(find_model("meta-llama/Llama-3.2-1B-Instruct").spec, vocab_size=512)
    h100 = find_gpu("NVIDIA H100 SXM")
    estimates = []
    for new in (8, 400):
        run = dataclasses.replace(request(config, context_tokens=40 + new, new_tokens=new, gpu=h100), spec=real)
        estimates.append(parts(measure(run))["prefill (eager)"].estimate)
    assert estimates[0] is not None and estimates[0] == pytest.approx(estimates[1], rel=1e-12)


def test_the_report_names_the_host_cpu_and_torch_threads(tmp_path):
    """Eager decode is bound by the host, so a report must say which host ran it."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n")
    described = host_description(16, cpuinfo)
    assert described.startswith("AMD EPYC 9654 96-Core Processor; ") and described.endswith("; torch threads 16")
    assert "logical CPUs" in host_description(1, tmp_path / "missing")  # no cpuinfo: the platform's name
    threads = torch.get_num_threads()
    try:  # the run sets the process's thread count, and its report says so
        one = request(tiny("meta-llama__Llama-3.2-1B-Instruct.json"), context_tokens=32, new_tokens=2, torch_threads=1)
        assert measure(one).environment["host"].endswith("; torch threads 1")
    finally:
        torch.set_num_threads(threads)
