"""A card's measured weight-streaming ceiling (``Gpu.weight_stream_gbs``): the weights a decode step
reads go no faster than it, the KV cache still at the efficiency times the datasheet. Expected
values are worked by hand from the models' published counts and the catalog's figures (comments)."""

import json

import pytest

from llm_calc.catalog import Gpu, find_gpu, find_model, load_gpus
from llm_calc.cli import main
from llm_calc.engines import EngineProfile
from llm_calc.hardware import StepCost, speed
from llm_calc.memory import InferenceSettings, inference_memory

LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
H20 = find_gpu("NVIDIA H20 96GB")
H100 = find_gpu("NVIDIA H100 SXM")
# Llama-2-7B bf16 at decode: its weights minus the input embedding (a lookup),
# (6,738,415,616 - 131,072,000) x 2 bytes; one token of KV cache is 2 x 32 layers x 4,096 x 2 bytes
WEIGHT_BYTES = (6_738_415_616 - 131_072_000) * 2
KV_BYTES_PER_TOKEN = 2 * 32 * 4096 * 2


def _roofline(efficiency: float) -> EngineProfile:
    return EngineProfile("vllm", efficiency, 0.0, 0.0, 1.0, "not fitted", 0, 0, None, "test")


def _step(gpu, efficiency: float, context: int) -> float:
    settings = InferenceSettings(context_tokens=context)
    result = speed(LLAMA2_7B, settings, inference_memory(LLAMA2_7B, settings), gpu, 1, profile=_roofline(efficiency))
    return result.step_seconds


def test_the_h20_carries_the_ceiling_its_gemm_benchmark_measured():
    # InferSim's DeepGEMM row m 16, k 4096, n 24576: 4,096 x 24,576 one-byte weights in 53.425 us
    assert H20.weight_stream_gbs == pytest.approx(4096 * 24576 / 53.425e-6 / 1e9, abs=0.5)
    assert H20.weight_stream_source
    assert H100.weight_stream_gbs is None


def test_a_measured_ceiling_lies_under_what_64_row_tiles_allow():
    # a Hopper tensor-core GEMM computes at least 64 rows: 2 x 64 FLOPs per one-byte weight, so at
    # the card's dense FP8 peak it streams at most TFLOPS / 128 bytes a second (H20: 2,312 GB/s)
    for gpu in load_gpus():
        if gpu.weight_stream_gbs is not None:
            assert gpu.weight_stream_gbs < gpu.tflops_fp8 * 1e3 / 128 < gpu.bandwidth_gbs, gpu.name


def test_every_card_whose_tiles_cannot_keep_up_with_its_memory_has_a_measured_ceiling():
    # at 2 x 64 FLOPs per 2-byte weight a card's 16-bit peak streams TFLOPS x 1e3 / 64 GB/s of weights;
    # Apple's engines (llama.cpp, MLX) and llama.cpp on a CPU decode with matrix-vector kernels, not tensor-core tiles
    short = [g.name for g in load_gpus() if not g.stands_alone and g.tflops_16bit * 1e3 / 64 < g.bandwidth_gbs]
    assert short == ["NVIDIA H20 96GB"]  # 148e3 / 64 = 2,312 GB/s against 4,000
    assert all(find_gpu(name).weight_stream_gbs for name in short)


def test_weights_stream_at_the_ceiling_and_the_kv_cache_at_the_datasheet():
    # at full efficiency the H20 would read at 4,000 GB/s; its weights go at the catalog's 1,884 GB/s
    one_token = WEIGHT_BYTES / (H20.weight_stream_gbs * 1e9) + KV_BYTES_PER_TOKEN / 4000e9
    assert _step(H20, 1.0, 1) == pytest.approx(one_token, rel=1e-9)
    # a 32,768-token cache adds 17,179,869,184 bytes read at the datasheet's 4,000 GB/s
    long = WEIGHT_BYTES / (H20.weight_stream_gbs * 1e9) + 32768 * KV_BYTES_PER_TOKEN / 4000e9
    assert _step(H20, 1.0, 32768) == pytest.approx(long, rel=1e-9)
    # at 50 % of 4,000 GB/s (2,000) the ceiling still binds; at 40 % (1,600) the efficiency does
    assert _step(H20, 0.5, 1) == pytest.approx(WEIGHT_BYTES / 1884e9 + KV_BYTES_PER_TOKEN / 2000e9, rel=1e-9)
    assert _step(H20, 0.4, 1) == pytest.approx((WEIGHT_BYTES + KV_BYTES_PER_TOKEN) / 1600e9, rel=1e-9)
    # a card without a ceiling reads everything at the efficiency times its datasheet
    assert _step(H100, 1.0, 1) == pytest.approx((WEIGHT_BYTES + KV_BYTES_PER_TOKEN) / 3350e9, rel=1e-9)


def test_the_speed_says_when_the_ceiling_sets_the_pace():
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    assert speed(LLAMA2_7B, settings, memory, H20, 1, profile=_roofline(0.7)).weight_stream_gbs == H20.weight_stream_gbs
    assert speed(LLAMA2_7B, settings, memory, H20, 1, profile=_roofline(0.4)).weight_stream_gbs is None
    assert speed(LLAMA2_7B, settings, memory, H100, 1, profile=_roofline(0.7)).weight_stream_gbs is None


def test_step_cost_reads_the_weights_no_faster_than_the_ceiling():
    # 10 ms of reads at the datasheet, 8 of them weights, which take 12 ms at the ceiling:
    # at 80 % the reads take 12.5 ms plus the 2 ms by which the ceiling's 12 exceeds 8 / 0.8 = 10
    step = StepCost(1, 0.010, 0.0, 0, 0.0, 0, weight_seconds=0.008, weight_ceiling_seconds=0.012)
    assert step.memory_time(0.8) == pytest.approx(0.0145)
    assert step.seconds(0.8, 1.0, 0.0) == pytest.approx(0.0145)
    assert step.at_weight_ceiling(0.8)
    # at 50 % the weights take 16 ms at the efficiency, over the ceiling's 12: no change
    assert step.memory_time(0.5) == pytest.approx(0.020)
    assert not step.at_weight_ceiling(0.5)
    # a card without a ceiling: the plain roofline
    assert StepCost(1, 0.010, 0.0, 0, 0.0, 0).memory_time(0.8) == pytest.approx(0.0125)


def test_memory_json_names_the_ceiling_where_it_sets_the_pace(capsys):
    assert main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--engine", "vllm", "--json"]) == 0
    cards = {card["name"]: card for card in json.loads(capsys.readouterr().out)["gpus"]}
    assert cards["NVIDIA H20 96GB"]["weight_stream_gbs"] == 1884
    assert cards["NVIDIA H100 SXM"]["weight_stream_gbs"] is None


def test_only_a_card_without_a_measured_ceiling_is_flagged_for_its_tiles():
    h20 = find_gpu("NVIDIA H20 96GB")
    assert h20.tile_weight_stream_gbs == pytest.approx(148e3 / 64)  # 2,312.5 GB/s
    assert not h20.unmeasured_tile_limit  # its measured 1,884 GB/s is applied instead
    assert [g.name for g in load_gpus() if g.unmeasured_tile_limit] == []
    like_h20 = Gpu.custom("mine", 96, 4000, 148)
    assert like_h20.unmeasured_tile_limit
    assert not Gpu.custom("mine", 96, 4000, 148, gpu_class="apple").unmeasured_tile_limit
    assert not Gpu.custom("mine", 80, 3350, 989).unmeasured_tile_limit
