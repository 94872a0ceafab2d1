"""CPUs as devices: llama.cpp's CPU backend runs them, nothing else is modelled there, one socket a
deployment, no training.

Expected values are derived by hand in the comments (bytes from the architecture, the CPU's figures
as typed), never from the code under test."""

import json
from pathlib import Path

import pytest
from speed_rows import one_row_file

from llm_calc.catalog import DATA_DIR, GPU_CLASSES, CatalogError, Gpu, default_gpus, find_model, load_gpus
from llm_calc.cli import main
from llm_calc.engine_fit import profile_key
from llm_calc.engines import EngineProfile, card_vendor, check_engine, format_family, pick_engine, profile_for
from llm_calc.hardware import serving_curve, size_on_gpus, speed, usable_memory_bytes
from llm_calc.measurements import load_measurements
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.training import TrainingSetup, training_fit, trains_on

LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
# one socket with 12 channels of DDR5-4800: 12 x 4,800 MT/s x 8 bytes = 460.8 GB/s; 64 cores x 3.1 GHz
# x 32 FP32 FLOPs a cycle = 6.35 TFLOPS; 384 GiB of RAM
SERVER = Gpu.custom("Test EPYC", 384, 460.8, 6.35, gpu_class="cpu")


def _profile(efficiency: float, mfu: float, overhead: float) -> EngineProfile:
    return EngineProfile("llama.cpp/cpu", efficiency, overhead, 0.0, mfu, "not fitted", 0, 0, None, "test")


def test_cpu_is_a_device_class_and_its_engines_see_a_cpu():
    assert "cpu" in GPU_CLASSES
    assert card_vendor(SERVER) == "CPU" and SERVER.stands_alone and not SERVER.unmeasured_tile_limit


@pytest.mark.parametrize("precision", ["q4_k_m", "q8_0", "bf16"])
def test_llama_cpp_s_cpu_backend_is_picked_and_profiled(precision):
    assert pick_engine(format_family(precision), SERVER) == "llama.cpp"
    assert profile_for("llama.cpp", SERVER).key == "llama.cpp/cpu"


@pytest.mark.parametrize("engine", ["vllm", "transformers", "mlx", "sglang", "tensorrt-llm"])
def test_every_other_engine_on_a_cpu_is_refused_as_not_modelled(engine):
    with pytest.raises(ValueError, match=f"{engine} on a CPU is not modelled: only llama.cpp's CPU backend"):
        check_engine(engine, "16-bit", SERVER)


def test_fp8_weights_on_a_cpu_have_no_engine():
    with pytest.raises(ValueError, match=r"no engine runs fp8 weights on CPUs \(Test EPYC\)"):
        pick_engine("fp8", SERVER)


def test_a_cpu_s_decode_is_its_memory_channels_at_the_profile_s_efficiency():
    # Llama-2-7B bf16 with one token of context reads 13,215,211,520 bytes (test_hardware derives it);
    # at 60 % of 460.8 GB/s that is 47.798 ms, plus 32 layers x 100 us = 3.2 ms: 50.998 ms, 19.609 tokens/s
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    result = speed(LLAMA2_7B, settings, memory, SERVER, 1, profile=_profile(0.6, 0.5, 100e-6))
    assert result.engine == "llama.cpp"
    assert result.step_seconds == pytest.approx(13_215_211_520 / (460.8e9 * 0.6) + 32 * 100e-6)
    assert result.decode_tokens_per_s == pytest.approx(19.609, rel=1e-4)


def test_a_cpu_is_one_socket_a_deployment():
    settings = InferenceSettings(context_tokens=4096)
    # the whole RAM is usable: 384 GiB
    assert usable_memory_bytes(SERVER) == 384 * 2**30
    one, two = (size_on_gpus(LLAMA2_7B, settings, (SERVER,), cards)[1][0] for cards in (1, 2))
    assert one.fits and not two.fits
    with pytest.raises(ValueError, match="fits beside the weights on 2 x Test EPYC"):
        serving_curve(LLAMA2_7B, settings, SERVER, 2, prompt_tokens=1000, output_tokens=100)


def test_training_on_a_cpu_is_refused():
    assert not trains_on(SERVER)
    with pytest.raises(ValueError, match=r"training on a CPU \(Test EPYC\) is not modelled"):
        training_fit(LLAMA2_7B, TrainingSetup(), SERVER)


# --- the shipped catalog's CPUs ------------------------------------------------------------------

CPUS = [g for g in default_gpus() if g.is_cpu]


def test_the_catalog_s_cpus_have_their_channels_bandwidth_and_no_link():
    """Bandwidth = channels x MT/s x 8 bytes, from each row's source text."""
    by_name = {g.name: g for g in CPUS}
    assert by_name["AMD EPYC 9554 (192 GB)"].bandwidth_gbs == 12 * 4800 * 8 / 1000  # 12 x DDR5-4800
    assert by_name["AMD Threadripper PRO 5995WX (256 GB)"].bandwidth_gbs == 8 * 3200 * 8 / 1000  # 8 x DDR4-3200
    assert by_name["AWS Graviton3 (c7g.16xlarge)"].bandwidth_gbs == 8 * 4800 * 8 / 1000  # 8 x DDR5-4800
    assert by_name["Intel Core i5-4278U (8 GB)"].bandwidth_gbs == 2 * 1600 * 8 / 1000  # 2 x DDR3L-1600
    # vector FP32 at base clock: 64 cores x 32 FLOPs a cycle x 3.10 GHz = 6.3488 TFLOPS
    assert by_name["AMD EPYC 9554 (192 GB)"].tflops_16bit == pytest.approx(64 * 32 * 3.10e9 / 1e12, abs=0.005)
    assert all(not g.interconnect and g.stands_alone for g in CPUS)


def test_memory_json_runs_every_cpu_with_llama_cpp_s_cpu_profile(capsys):
    args = ["memory", "--model", "meta-llama/Llama-2-7b-hf", "--precision", "q4_0", "--gpu-class", "cpu", "--json"]
    assert main(args) == 0
    cards = json.loads(capsys.readouterr().out)["gpus"]
    assert {c["name"] for c in cards} == {g.name for g in CPUS}
    assert {c["engine"] for c in cards} == {"llama.cpp"}
    assert all(c["decode_tokens_per_s"] > 0 and c["ttft_seconds"] > 0 for c in cards)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["memory", "--model", "meta-llama/Llama-2-7b-hf", "--gpu-class", "cpu", "--engine", "vllm"],
         "vllm on a CPU is not modelled"),
        (["train", "--model", "meta-llama/Llama-2-7b-hf", "--gpu", "AMD EPYC 9554 (192 GB)"],
         "training on a CPU (AMD EPYC 9554 (192 GB)) is not modelled"),
        (["measure", "--model", "Qwen/Qwen3-0.6B", "--device", "cpu", "--gpu", "AMD EPYC 9554 (192 GB)"],
         "AMD EPYC 9554 (192 GB) is a CPU"),
    ],
)  # fmt: skip
def test_what_is_not_modelled_on_a_cpu_is_one_line_and_exit_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def _one_row(tmp_path, **changes) -> Path:
    """A measurements file of one llama.cpp decode row on a catalog CPU, with ``changes``."""
    row = dict(
        id="r", kind="decode", hf_id="meta-llama/Llama-2-7b-hf", precision="q4_0", engine="llama.cpp",
        backend="cpu", gpu="AMD EPYC 9554 (192 GB)", gpu_count="1", parallelism="none", concurrency="1",
        prompt_tokens="0", output_tokens="128", context_tokens="0", measured="30", unit="tokens/s", bound="exact",
        used_for_fit="false", date="2026-01", source="https://example.org/r",
    )  # fmt: skip
    return one_row_file(tmp_path / "rows.csv", **(row | changes))


def test_a_cpu_row_is_llama_cpp_s_cpu_backend_on_a_catalog_cpu(tmp_path):
    (row,) = load_measurements(_one_row(tmp_path))
    assert profile_key(row) == "llama.cpp/cpu"
    with pytest.raises(CatalogError, match="column backend: a CPU of the catalog runs llama.cpp's cpu backend only"):
        load_measurements(_one_row(tmp_path, engine="vllm"))
    with pytest.raises(CatalogError, match="column backend: a CPU of the catalog runs llama.cpp's cpu backend only"):
        load_measurements(_one_row(tmp_path, backend="cuda"))
    with pytest.raises(CatalogError, match="column gpu: llama.cpp's cpu backend runs on a CPU of the catalog"):
        load_measurements(_one_row(tmp_path, gpu="NVIDIA RTX 4090"))


def test_a_cpu_row_of_the_catalog_has_no_link(tmp_path):
    path = tmp_path / "gpus.csv"
    text = (DATA_DIR / "gpus.csv").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("AMD EPYC 9554"))
    path.write_text(text.replace(row, row.replace(",,,,,", ",pcie5,64,a link,,")), encoding="utf-8")
    with pytest.raises(CatalogError, match="column interconnect: a cpu device stands alone"):
        load_gpus(path)


def test_the_memory_table_lines_up_past_the_longest_device_name(capsys):
    # "AMD Threadripper PRO 5995WX (256 GB)" is 36 characters, past the table's 32-wide name column
    assert main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--precision", "q4_0", "--gpu-class", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("card "))
    table = lines[header : header + 1 + len(CPUS)]
    assert len({line.index("GiB") for line in table[1:]}) == 1  # the per-card column starts in one place
    assert len({line.rindex("llama.cpp") for line in table[1:]}) == 1
    assert table[0].index("fits") < table[1].index("yes") + len("yes")
