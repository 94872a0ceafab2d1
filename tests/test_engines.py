"""Engine profiles, the step-time model with overhead, several GPUs and the fit of the constants.

Expected values are derived by hand in the comments (bytes from the architecture, bandwidths and
links from data/gpus.csv), never from the code under test."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from speed_rows import speed_row

from llm_calc.catalog import default_gpus, default_models, find_gpu, find_model
from llm_calc.cli import main
from llm_calc.engine_fit import (
    RowCost,
    cross_validated_predictions,
    fit,
    fit_profiles,
    load_speed_rows,
    profile_key,
    row_cost,
    usable_costs,
)
from llm_calc.engines import (
    EngineProfile,
    check_engine,
    default_profiles,
    format_family,
    fused_attention,
    load_profiles,
    pick_engine,
    prefill_chunk_tokens,
    profile_for,
    superseded_release,
)
from llm_calc.hardware import (
    ServingCurve,
    ServingPoint,
    StepCost,
    decode_read_bytes,
    max_concurrency,
    serving_curve,
    size_on_gpus,
    speed,
)
from llm_calc.memory import InferenceSettings, inference_memory

ROOT = Path(__file__).resolve().parent.parent
LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
H100 = find_gpu("NVIDIA H100 SXM")
M2_ULTRA = find_gpu("Apple M2 Ultra (192 GB)")


def _profile(key: str, efficiency: float, mfu: float, overhead: float) -> EngineProfile:
    return EngineProfile(key, efficiency, overhead, 0.0, mfu, "not fitted", 0, 0, None, "test")


# --- which engine runs what ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "precision", "gpu", "message"),
    [
        ("mlx", "bf16", "NVIDIA H100 SXM", "mlx does not run on NVIDIA cards"),
        ("tensorrt-llm", "bf16", "AMD Instinct MI300X", "tensorrt-llm does not run on AMD cards"),
        ("vllm", "q4_k_m", "NVIDIA H100 SXM", "vllm does not load gguf weights; on NVIDIA H100 SXM use llama.cpp"),
        ("llama.cpp", "fp8", "NVIDIA H100 SXM", "llama.cpp does not load fp8 weights"),
        ("vllm", "bf16", "Apple M2 Ultra (192 GB)", "vllm does not run on Apple cards"),
    ],
)
def test_an_impossible_engine_format_and_card_is_refused_by_name(engine, precision, gpu, message):
    with pytest.raises(ValueError, match=message):
        check_engine(engine, format_family(precision), find_gpu(gpu))


@pytest.mark.parametrize(
    ("precision", "gpu", "engine"),
    [
        ("q4_k_m", "Apple M2 Ultra (192 GB)", "llama.cpp"),  # GGUF files: llama.cpp and the apps on it
        ("bf16", "Apple M2 Ultra (192 GB)", "mlx"),  # safetensors on a Mac: MLX
        ("q4_k_m", "NVIDIA RTX 4090", "llama.cpp"),  # GGUF runs nowhere else
        ("bf16", "NVIDIA H100 SXM", "vllm"),
        ("fp8", "AMD Instinct MI300X", "vllm"),
        ("int4", "NVIDIA RTX 4090", "vllm"),
    ],
)
def test_without_an_engine_the_likely_one_is_picked(precision, gpu, engine):
    assert pick_engine(format_family(precision), find_gpu(gpu)) == engine


def test_fp8_on_apple_silicon_has_no_engine():
    with pytest.raises(ValueError, match="no engine runs fp8 weights on Apple cards"):
        pick_engine("fp8", M2_ULTRA)


# --- step time ------------------------------------------------------------------------------------


def test_decode_step_is_bytes_over_efficient_bandwidth_plus_the_overhead():
    # Llama-2-7B bf16 with one token of context reads 13,215,211,520 bytes (test_hardware derives it);
    # at 50 % of 3,350 GB/s that is 7.8897 ms, plus 32 layers x 312.5 us = 10 ms of overhead:
    # 17.8897 ms -> 55.897 tokens/s
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    result = speed(LLAMA2_7B, settings, memory, H100, 1, profile=_profile("vllm", 0.5, 0.5, 0.010 / 32))
    assert result.step_seconds == pytest.approx(13_215_211_520 / (3350e9 * 0.5) + 0.010)
    assert result.decode_tokens_per_s == pytest.approx(55.897, rel=1e-4)
    assert result.step_overhead_seconds == pytest.approx(0.010) and result.engine == "vllm"


def test_efficiency_override_replaces_the_engine_s_and_keeps_its_overhead():
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    profile = _profile("vllm", 0.5, 0.5, 0.010 / 32)  # 10 ms a step over 32 layers
    result = speed(LLAMA2_7B, settings, memory, H100, 1, efficiency=1.0, profile=profile)
    assert result.step_seconds == pytest.approx(13_215_211_520 / 3350e9 + 0.010)


def test_ttft_is_the_prompt_s_prefill_plus_one_decode_step():
    # prompt 1,000 tokens, one chunk: 2 x 6,738,415,616 x 1,000 + 2 x 32 layers x 4,096 x 1,000^2 FLOPs
    # = 13,476,831,232,000 + 262,144,000,000 = 13,738,975,232,000 at 50 % of 989 TFLOPS = 27.78 ms
    # (compute-bound: the weights take 3.9 ms
    # at full bandwidth), + 2 ms overhead (32 layers x 62.5 us); then a decode step at 1,024 tokens:
    # 13,215,211,520 - 524,288 + 524,288 x 1,024 = 13,751,558,144 bytes / 3,350 GB/s + 2 ms.
    settings = InferenceSettings(context_tokens=1024)
    memory = inference_memory(LLAMA2_7B, settings)
    profile = _profile("vllm", 1.0, 0.5, 0.002 / 32)
    result = speed(LLAMA2_7B, settings, memory, H100, 1, prompt_tokens=1000, profile=profile)
    prefill = 13_738_975_232_000 / (989e12 * 0.5) + 0.002
    decode = 13_751_558_144 / 3350e9 + 0.002
    assert result.ttft_seconds == pytest.approx(prefill + decode)


def test_a_prompt_longer_than_the_context_is_refused():
    settings = InferenceSettings(context_tokens=1024)
    memory = inference_memory(LLAMA2_7B, settings)
    with pytest.raises(ValueError, match="does not fit a context of 1,024"):
        speed(LLAMA2_7B, settings, memory, H100, 1, prompt_tokens=2048)


def test_pipeline_keeps_one_sequence_at_one_card_s_speed_and_batches_raise_throughput():
    # Llama-2-7B bf16, context 1, on 2 H100 as 2 stages: each stage reads half the weights, one
    # after the other, plus one hand-off of 4,096 x 2 bytes over NVLink (6 us + 8,192 / 450e9).
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    roofline = _profile("vllm", 1.0, 1.0, 0.0)
    one = speed(LLAMA2_7B, settings, memory, H100, 1, profile=roofline)
    two = speed(LLAMA2_7B, settings, memory, H100, 2, parallel="pp", profile=roofline)
    hand_off = 6e-6 + 4096 * 2 / 450e9
    assert two.step_seconds == pytest.approx(2 * 6_607_605_760 / 3350e9 + hand_off, rel=1e-6)
    assert two.decode_tokens_per_s < one.decode_tokens_per_s
    # 2,048 sequences, compute-bound: one card does 2,048 x 2 x 6,738,415,616 FLOPs at 989 TFLOPS
    # (27.9 ms; reading 13.2 GB takes 3.9 ms); two stages take 2 micro-batches of 1,024, each stage
    # doing half the layers (6.98 ms a pass against 2.0 ms of reads): half the time, plus a hand-off
    # of 1,024 x 8,192 bytes.
    batch = InferenceSettings(context_tokens=1, batch=2048)
    memory = inference_memory(LLAMA2_7B, batch)
    one = speed(LLAMA2_7B, batch, memory, H100, 1, profile=roofline)
    two = speed(LLAMA2_7B, batch, memory, H100, 2, parallel="pp", profile=roofline)
    assert one.step_seconds == pytest.approx(2048 * 2 * 6_738_415_616 / 989e12)
    assert two.step_seconds == pytest.approx(2048 * 2 * 6_738_415_616 / (2 * 989e12) + 6e-6 + 1024 * 8192 / 450e9)


def test_tensor_parallel_over_pcie_pays_for_its_all_reduces():
    # Llama-2-7B on 2 RTX 4090 (PCIe 4, 32 GB/s per direction): 2 all-reduces per layer x 32 layers,
    # each 6 us + 2 x 1/2 x 4,096 x 2 bytes / 32e9 = 6.256 us -> 400.4 us per token on top of the reads.
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    rtx = find_gpu("NVIDIA RTX 4090")
    result = speed(LLAMA2_7B, settings, memory, rtx, 2, parallel="tp", profile=_profile("vllm", 1.0, 1.0, 0.0))
    assert result.communication_seconds == pytest.approx(64 * (6e-6 + 4096 * 2 / 32e9))


def test_llama_cpp_tensor_split_is_refused():
    settings = InferenceSettings(weight_format="q4_k_m", context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    with pytest.raises(ValueError, match="row split is not modelled"):
        speed(LLAMA2_7B, settings, memory, H100, 2, engine="llama.cpp", parallel="tp")


def test_max_concurrency_follows_each_engine_s_memory_rule():
    # Llama-2-7B bf16 at 4,096 tokens on an 80 GiB H100: weights 13,476,831,232; activations of a
    # 2,048-token chunk 2,048 x 41,216 x 2 = 168,820,736 + logits 32,000 x 4 = 128,000; overhead
    # 1 GiB; fixed 14,719,521,792. KV per sequence 524,288 x 4,096 = 2,147,483,648.
    # vLLM takes 0.9 x 85,899,345,920 = 77,309,411,328 -> 62,589,889,536 / 2,147,483,648 = 29.1 -> 29;
    # llama.cpp may use the whole card: 71,179,824,128 / 2,147,483,648 = 33.1 -> 33;
    # TensorRT-LLM gives the KV cache 0.9 of what is free: 64,061,841,715 / 2,147,483,648 = 29.8 -> 29.
    settings = InferenceSettings(context_tokens=4096)
    memory = inference_memory(LLAMA2_7B, settings)
    rules = {"vllm": 29, "llama.cpp/cuda": 33, "tensorrt-llm": 29}
    for key, expected in rules.items():
        assert max_concurrency(LLAMA2_7B, settings, memory, H100, 1, _profile(key, 1, 1, 0)) == expected, key


# --- no estimate beats physics --------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["bf16", "q4_k_m"])
def test_no_estimate_exceeds_the_bytes_over_peak_bandwidth_bound(precision):
    """Across the catalog and every card: a sequence's speed never beats reading what a step must
    read at the deployment's full datasheet bandwidth."""
    checked = 0
    for model in default_models():
        settings = InferenceSettings(weight_format=precision, context_tokens=4096, batch=1)
        memory, results = size_on_gpus(model.spec, settings, default_gpus())
        bytes_read = decode_read_bytes(model.spec, settings, memory)
        for result in results:
            if result.speed is None:
                continue
            bound = result.cards_used * result.gpu.bandwidth_gbs * 1e9 / bytes_read
            assert result.speed.decode_tokens_per_s <= bound, (model.hf_id, result.gpu.name)
            if result.cards_used == 1:
                assert result.speed.decode_tokens_per_s <= result.gpu.bandwidth_gbs * 1e9 / bytes_read
            checked += 1
    assert checked > 1000


# --- the fit ----------------------------------------------------------------------------------------


def _synthetic(efficiency: float, overhead: float, source: str, precisions=("fp16", "q8_0", "q4_0")):
    """Rows whose 'measured' speed is what an engine of known constants would reach."""
    rows = []
    for precision in precisions:
        row = speed_row(
            f"{source}-{precision}", "decode", "meta-llama/Llama-2-7b-hf", precision, "llama.cpp", "cuda",
            "NVIDIA RTX 4090", 1, "none", 1, 0, 128, 0, 1.0, "tokens/s", source,
        )  # fmt: skip
        truth = row_cost(row).predict(efficiency, 0.5, overhead)
        rows.append(dataclasses.replace(row, measured=truth))
    return rows


THREE_SIZES = ("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf")


def _vllm(efficiency: float, overhead: float, source: str, date: str, slower: float = 1.0, models=THREE_SIZES):
    """vLLM rows of ``models`` on an H100, measured ``slower`` times below what an engine of known
    constants would reach."""
    rows = []
    for model in models:
        row = speed_row(
            f"{source}-{model}", "decode", model, "fp16", "vllm", "cuda",
            "NVIDIA H100 SXM", 1, "none", 1, 0, 128, 0, 1.0, "tokens/s", source, date=date,
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(efficiency, 0.5, overhead) / slower))
    return rows


def test_a_serving_engine_s_profile_describes_its_releases_from_2025_04():
    assert superseded_release("vllm", "2025-03") and superseded_release("tensorrt-llm", "2023-10-15")
    assert not superseded_release("vllm", "2025-04") and not superseded_release("sglang", "2026-03")
    assert not superseded_release("llama.cpp", "2023-08")  # llama.cpp, MLX, transformers: every release


def test_an_engine_whose_rows_cannot_tell_its_overhead_takes_the_pooled_one():
    """vLLM measured on one model only: its rows cannot tell a per-layer overhead from a lower
    efficiency. Held at 0, the efficiency would absorb the overhead; held at the overhead every
    engine's rows give together (here 100 µs, as both engines were built with), it comes out right."""
    llama_cpp = _synthetic(0.7, 1e-4, "a") + _synthetic(0.7, 1e-4, "b")
    one_model = ("meta-llama/Llama-2-7b-hf",)
    vllm_rows = _vllm(0.7, 1e-4, "v1", "2026-01", models=one_model) + _vllm(
        0.7, 1e-4, "v2", "2026-02", models=one_model
    )
    table, _ = fit_profiles(llama_cpp + vllm_rows)
    vllm = next(p for p in table if p["profile"] == "vllm")
    assert float(vllm["layer_overhead_seconds"]) == pytest.approx(1e-4, rel=0.1)
    assert float(vllm["bandwidth_efficiency"]) == pytest.approx(0.7, abs=0.02)
    assert "held at the pooled fit's" in vllm["note"]
    assert float(vllm["cv_median_abs_error"]) < 0.02  # each fold, held at the others' pooled overhead
    alone, _ = fit_profiles(vllm_rows)  # no other engine to pool with: the overhead cannot be known
    assert float(next(p for p in alone if p["profile"] == "vllm")["bandwidth_efficiency"]) < 0.6


def test_blocks_of_one_page_are_one_source_held_out_together():
    """A cookbook's benchmark blocks (one page, anchored by line) share a harness and a day: a
    block's held-out estimate must not see the page's other blocks."""
    page = "https://example.org/cookbook.md"
    rows = (
        _vllm(0.7, 1e-4, f"{page}#L10", "2026-01")
        + _vllm(0.7, 1e-4, f"{page}#L90", "2026-01")
        + _vllm(0.6, 1e-4, "https://example.org/other.md", "2026-02")
        + _vllm(0.5, 1e-4, "https://example.org/third.md", "2026-03")
    )
    target = rows[0]
    before = cross_validated_predictions(rows)[target.id]
    moved = [dataclasses.replace(r, measured=r.measured * 10) if r.source == f"{page}#L90" else r for r in rows]
    assert cross_validated_predictions(moved)[target.id] == pytest.approx(before)
    table, _ = fit_profiles(rows)
    assert next(p for p in table if p["profile"] == "vllm")["sources"] == 3


def test_rows_of_earlier_releases_are_estimated_but_never_fitted():
    current = _vllm(0.7, 1e-4, "a", "2026-01") + _vllm(0.7, 1e-4, "b", "2025-10")
    earlier = _vllm(0.7, 1e-4, "old", "2025-02", slower=3.0)  # the same runs, three times slower
    table, skipped = fit_profiles(current + earlier)
    vllm = next(p for p in table if p["profile"] == "vllm")
    assert float(vllm["bandwidth_efficiency"]) == pytest.approx(0.7, abs=0.005)  # as if "old" were not there
    assert (vllm["fit_rows"], vllm["sources"]) == (6, 2)
    assert "releases from 2025-04 on: 3 rows of earlier releases kept, not fitted" in vllm["note"]
    assert sorted(
        r.id for r, reason in skipped if "its profile describes vllm releases from 2025-04 on" in reason
    ) == sorted(r.id for r in earlier)
    estimates = cross_validated_predictions(current + earlier)
    for row in earlier:  # estimated as today's profile would: three times what was measured
        assert estimates[row.id] == pytest.approx(3 * row.measured, rel=0.01)


def test_the_fit_recovers_known_constants():
    costs, skipped = usable_costs(_synthetic(0.7, 1e-4, "a") + _synthetic(0.7, 1e-4, "b"))
    assert not skipped
    result = fit(costs)
    assert result.bandwidth_efficiency == pytest.approx(0.7, abs=0.005)  # the grid refines to 0.001
    assert result.layer_overhead_seconds == pytest.approx(1e-4, rel=0.1)


def test_a_single_source_is_fitted_not_validated_and_two_are_cross_validated():
    table, _ = fit_profiles(_synthetic(0.7, 1e-4, "a"))
    cuda = next(p for p in table if p["profile"] == "llama.cpp/cuda")
    assert (cuda["status"], cuda["sources"], cuda["cv_median_abs_error"]) == ("fitted, not validated", 1, "")
    assert next(p for p in table if p["profile"] == "vllm")["status"] == "not fitted"
    table, _ = fit_profiles(_synthetic(0.7, 1e-4, "a") + _synthetic(0.7, 1e-4, "b"))
    cuda = next(p for p in table if p["profile"] == "llama.cpp/cuda")
    assert cuda["status"] == "validated" and float(cuda["cv_median_abs_error"]) < 0.01


def test_new_schema_rows_load_and_unmodelled_parallelism_is_left_out_with_its_reason():
    rows = load_speed_rows(ROOT / "tests" / "fixtures" / "engine_speed_rows.csv")
    assert {r.id for r in rows} == {"fx-vllm-h100-tp2", "fx-vllm-h100-ep", "fx-llamacpp-4090-row"}
    costs, skipped = usable_costs(rows)
    assert [c.row.id for c in costs] == ["fx-vllm-h100-tp2", "fx-vllm-h100-ep"]  # EP is costed as TP
    assert skipped[0][0].id == "fx-llamacpp-4090-row" and "parallelism 'row-split' is not modelled" in skipped[0][1]
    tp2 = costs[0]
    assert tp2.row.gpu_count == 2 and tp2.decode.passes == 1 and tp2.decode.communication_seconds > 0


def test_the_shipped_profiles_are_a_fresh_fit_of_the_shipped_measurements():
    """A stale data/engine_profiles.csv would show constants no fit of the data gives."""
    done = subprocess.run(
        [sys.executable, "scripts/fit_engines.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    profiles = load_profiles()
    assert profiles["llama.cpp/metal"].status == "validated" and profiles["llama.cpp/metal"].sources >= 2


# --- the CLI ----------------------------------------------------------------------------------------


def test_memory_json_names_the_engine_and_gives_ttft_concurrency_and_overhead(capsys):
    code = main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--gpu-class", "apple", "--json"])
    assert code == 0
    card = json.loads(capsys.readouterr().out)["gpus"][0]
    assert card["engine"] == "mlx"  # bf16 safetensors on a Mac
    assert {"ttft_seconds", "max_concurrency", "step_overhead_seconds", "decode_tokens_per_s"} <= set(card)
    assert card["ttft_seconds"] > 0 and card["max_concurrency"] >= 1


def test_an_engine_no_card_runs_is_one_line_and_exit_2(capsys):
    code = main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--engine", "mlx", "--vendor", "NVIDIA"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "mlx does not run on NVIDIA cards" in err


def test_a_row_s_cross_validated_estimate_never_sees_its_own_source():
    """If a row's own value moved its estimate, the Accuracy page's held-out errors would be in-sample."""
    rows = load_speed_rows()
    target = next(r for r in rows if r.id == "xd-4090-l3-8b-q4km-tg512")
    before = cross_validated_predictions(rows)[target.id]
    moved = [dataclasses.replace(r, measured=r.measured * 10) if r.source == target.source else r for r in rows]
    after = cross_validated_predictions(moved)
    assert after[target.id] == pytest.approx(before)
    other = next(r for r in rows if r.source != target.source and profile_key(r) == profile_key(target))
    assert after[other.id] != pytest.approx(cross_validated_predictions(rows)[other.id])  # the others did see it


# --- the serving curve ------------------------------------------------------------------------------


def test_the_serving_curve_doubles_users_up_to_the_kv_limit():
    # 3,000 + 1,096 = 4,096 tokens per request: the vLLM limit derived in
    # test_max_concurrency_follows_each_engine_s_memory_rule, 29 sequences on one H100.
    curve = serving_curve(LLAMA2_7B, InferenceSettings(), H100, 1, 3000, 1096, engine="vllm")
    assert curve.max_concurrency == 29
    assert [p.concurrency for p in curve.points] == [1, 2, 4, 8, 16, 29]
    each = [p.per_user_tokens_per_s for p in curve.points]
    total = [p.aggregate_tokens_per_s for p in curve.points]
    assert each == sorted(each, reverse=True) and total == sorted(total)


def test_the_curve_finds_the_exact_busiest_concurrency_at_a_user_speed():
    """Not rounded down to a power of two: the point meets the speed and one more user would not.
    The speed asked for lies halfway between what 16 users and the KV limit of 29 users get, so the
    answer lies strictly between them whatever the fitted constants are."""

    def per_user(users: int) -> float:  # at the curve's average KV depth 3,000 + 1,096 / 2 = 3,548 tokens
        settings = InferenceSettings(context_tokens=3548, batch=users)
        return speed(
            LLAMA2_7B, settings, inference_memory(LLAMA2_7B, settings), H100, 1, engine="vllm"
        ).decode_tokens_per_s

    wanted = (per_user(16) + per_user(29)) / 2
    curve = serving_curve(
        LLAMA2_7B, InferenceSettings(), H100, 1, 3000, 1096, engine="vllm", min_per_user_tokens_per_s=wanted
    )
    busiest = curve.busiest_point(wanted)
    assert busiest.per_user_tokens_per_s >= wanted and 16 < busiest.concurrency < 29
    assert per_user(busiest.concurrency + 1) < wanted
    # any speed one user reaches is met up to the KV limit of 29 derived above
    assert (
        serving_curve(
            LLAMA2_7B, InferenceSettings(), H100, 1, 3000, 1096, engine="vllm", min_per_user_tokens_per_s=0.01
        )
        .busiest_point(0.01)
        .concurrency
        == 29
    )
    with pytest.raises(ValueError, match="per-user speed must be a positive number"):
        serving_curve(LLAMA2_7B, InferenceSettings(), H100, 1, 3000, 1096, min_per_user_tokens_per_s=float("nan"))


def test_cost_per_million_tokens_takes_the_busiest_concurrency_that_keeps_the_user_speed():
    # at $3.60/h: 1,000 tokens/s is 3.6e6 tokens/h -> $1.00 per million; 400 tokens/s -> $2.50
    points = (
        ServingPoint(1, 100.0, 100.0, 0.1),
        ServingPoint(8, 50.0, 400.0, 0.1),
        ServingPoint(64, 15.6, 1000.0, 0.2),
    )
    curve = ServingCurve(H100, 1, default_profiles()["vllm"], "tp", 1, 1, 64, points, 3.6)
    assert curve.cost_per_million_output_tokens_usd(10) == pytest.approx(1.0)
    assert curve.cost_per_million_output_tokens_usd(20) == pytest.approx(2.5)
    assert curve.cost_per_million_output_tokens_usd(200) is None
    assert curve.busiest_point(20) == points[1] and curve.busiest_point(100) == points[0]
    assert curve.busiest_point(100.1) is None


def test_serve_prints_the_curve_as_json_and_refuses_in_one_line(capsys):
    args = ["serve", "--model", "meta-llama/Llama-2-7b-hf", "--gpu", "NVIDIA H100 SXM", "--engine", "vllm"]
    assert main([*args, "--prompt-tokens", "3000", "--output-tokens", "1096", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_concurrency"] == 29 and report["points"][-1]["concurrency"] == 29
    assert main([*args, "--prompt-tokens", "0", "--output-tokens", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prompt tokens must be a whole number of at least 1" in err


def _served(kind: str, unit: str, concurrency: int = 4, cards: int = 2) -> RowCost:
    row = speed_row(
        "r", kind, "meta-llama/Llama-2-7b-hf", "bf16", "vllm", "cuda", "NVIDIA H100 SXM", cards, "tp",
        concurrency, 1000, 100, 0, 1.0, unit, "s",
    )  # fmt: skip
    # a decode step of 20 ms and a prompt's prefill of 500 ms, whatever the engine constants
    decode = StepCost(1, 0.020, 0.0, 0, 0.0, 0)
    prefill = StepCost(1, 0.500, 0.0, 0, 0.0, 0)
    return RowCost(row, decode, prefill)


def test_served_rows_count_every_slot_s_prefill_in_a_request_s_life():
    # 4 requests of 1,000 in / 100 out: a request lives 100 x 20 ms + 4 x 500 ms = 4.0 s, so
    # 4 x 100 / 4.0 = 100 tokens/s in all, 50 per card on 2 cards; per output token after its own
    # prefill: (4.0 - 0.5) / 100 = 35 ms, i.e. 28.571 tokens/s; first token alone: 500 + 20 = 520 ms.
    assert _served("aggregate_decode", "tokens/s").predict(1, 1, 0) == pytest.approx(100)
    assert _served("aggregate_decode", "tokens/s/GPU").predict(1, 1, 0) == pytest.approx(50)
    assert _served("decode", "ms/token").predict(1, 1, 0) == pytest.approx(35)
    assert _served("decode", "tokens/s").predict(1, 1, 0) == pytest.approx(1 / 0.035)
    assert _served("ttft", "ms", concurrency=1).predict(1, 1, 0) == pytest.approx(520)


def test_ttft_under_load_is_left_out_of_the_fit():
    row = dataclasses.replace(_served("ttft", "ms").row, concurrency=8)
    with pytest.raises(ValueError, match="includes queueing, which is not modelled"):
        row_cost(row)


# --- fit agrees with the engine's memory reservation ----------------------------------------------


@pytest.mark.parametrize(
    ("engine", "batch", "fits"),
    [("vllm", 29, True), ("vllm", 30, False), ("tensorrt-llm", 29, True), ("tensorrt-llm", 30, False)],
)
def test_a_batch_fits_only_where_the_engine_s_reserved_memory_holds_it(engine, batch, fits):
    # Llama-2-7B bf16 at 4,096 tokens on one 80 GiB H100 (85,899,345,920 bytes), as derived in
    # test_max_concurrency_follows_each_engine_s_memory_rule; 30 sequences: activations 168,820,736
    # + logits 30 x 32,000 x 4 = 172,660,736, fixed 14,723,233,792, KV 30 x 2,147,483,648 = 64,424,509,440.
    # Whole card: 79,147,743,232 <= 85,899,345,920, so the card alone would hold it; but vLLM takes
    # 0.9 of the card (77,309,411,328) and TensorRT-LLM gives the KV cache 0.9 x 71,176,112,128 =
    # 64,058,500,915 < 64,424,509,440. 29 sequences fit both (their max_concurrency above).
    settings = InferenceSettings(context_tokens=4096, batch=batch)
    _, [result] = size_on_gpus(LLAMA2_7B, settings, (H100,), 1, engine=engine)
    assert result.fits is fits
    assert result.count_needed == (1 if fits else 2)


def test_a_deployment_that_holds_no_sequence_does_not_fit():
    """DeepSeek-V3 fp8 on 8 x H100 with vLLM: the weights fill the 0.9 of each card vLLM takes, so
    not one sequence fits; the calculator said "fits" beside a concurrency of 0."""
    deepseek = find_model("deepseek-ai/DeepSeek-V3").spec
    _, [result] = size_on_gpus(deepseek, InferenceSettings(weight_format="fp8"), (H100,), 8, engine="vllm")
    assert not result.fits
    assert result.cards_used > 8 and result.speed.max_concurrency >= 1


@pytest.mark.parametrize("precision", ["bf16", "fp8", "q4_k_m"])
def test_fit_and_max_concurrency_agree_across_the_catalog(precision):
    """Wherever a speed is shown, the deployment holds the sequences it was sized for."""
    gpus = tuple(find_gpu(name) for name in ("NVIDIA H100 SXM", "NVIDIA RTX 4090", "Apple M2 Ultra (192 GB)"))
    for model in default_models():
        for count in (1, 8):
            settings = InferenceSettings(weight_format=precision, context_tokens=8192, batch=4)
            _, results = size_on_gpus(model.spec, settings, gpus, count)
            for r in results:
                if r.speed is not None and r.speed.max_concurrency is not None:
                    assert r.speed.max_concurrency >= 4, (model.hf_id, r.gpu.name, r.cards_used)


def test_a_gpt_oss_row_in_mxfp4_is_costed_at_its_shipped_storage():
    """gpt-oss ships MXFP4 experts (its config's quantization_config, data/hf_configs): a speed row
    in ``mxfp4`` is costed as shipped, not left out as an unknown precision (it was, on main).
    Bytes one decode step reads on one card at batch 1, by hand from the config (hidden 2880,
    36 layers, 64 query / 8 KV heads of 64, 128 experts of width 2880, top-4, vocabulary 201,088):
    attention 2880 x (4096 + 512 + 512) + 4096 x 2880 = 26.54 M per layer, 955.5 M in all;
    router 2880 x 128 x 36 = 13.3 M; the 4 experts touched 4 x 3 x 2880 x 2880 x 36 = 3,583.2 M;
    lm_head 201,088 x 2880 = 579.1 M. In bf16: 5,131.1 M x 2 bytes = 10.26 GB; shipped, experts
    at 4.25 bits (4-bit values + an e8m0 scale per 32): 3,583.2 M x 4.25 / 8 = 1.90 GB, the rest
    1,547.9 M x 2 = 3.10 GB, 5.00 GB in all (biases, norms and the KV cache of one token ride on both)."""
    row = speed_row(
        id="gptoss", kind="decode", hf_id="openai/gpt-oss-120b", precision="mxfp4", engine="vllm",
        backend="cuda", gpu="NVIDIA H100 SXM", gpu_count=1, parallelism="none", concurrency=1,
        prompt_tokens=0, output_tokens=1, context_tokens=0, measured=200.0, unit="tokens/s", source="hand",
    )  # fmt: skip
    shipped = row_cost(row).decode.card_read_bytes
    bf16 = row_cost(dataclasses.replace(row, precision="bf16")).decode.card_read_bytes
    assert shipped == pytest.approx(5.00e9, rel=0.03)
    assert bf16 == pytest.approx(10.26e9, rel=0.01)


def test_a_checkpoint_format_the_model_does_not_ship_is_refused_by_name():
    base = next(r for r in load_speed_rows() if r.id == "xd-3090x2-l3-8b-q4km-tg512")
    with pytest.raises(
        ValueError, match=r"precision 'mxfp4' is not a weight format and its checkpoint is not stored quantized"
    ):
        row_cost(dataclasses.replace(base, precision="mxfp4"))


def test_vllm_and_sglang_on_amd_cards_have_profiles_of_their_own():
    """Their ROCm builds run other kernels: an AMD card takes the ``/rocm`` profile, with the same
    memory rule as the engine's CUDA build (vLLM reserves gpu_memory_utilization 0.9 of the card,
    SGLang mem_fraction_static 0.88, their documented defaults)."""
    mi300x, h100 = find_gpu("AMD Instinct MI300X"), find_gpu("NVIDIA H100 SXM")
    assert profile_for("vllm", mi300x).key == "vllm/rocm" and profile_for("vllm", h100).key == "vllm"
    assert profile_for("sglang", mi300x).key == "sglang/rocm"
    assert profile_for("llama.cpp", mi300x).key == "llama.cpp/cuda"  # HIP builds of the CUDA sources
    assert profile_for("vllm", mi300x).card_fraction == 0.9
    assert profile_for("sglang", mi300x).card_fraction == 0.88
    row = next(r for r in load_speed_rows() if r.id == "dsr1-mi300x-vllm-c4-tpot")
    assert profile_key(row) == "vllm/rocm"


def test_generate_prefills_the_whole_batch_in_one_pass_and_the_serving_engines_in_chunks():
    # 8 prompts of 4,032 tokens: 32,256 tokens in transformers' one forward pass
    assert prefill_chunk_tokens("transformers", 8, 4_032, 2_048) == 32_256
    assert prefill_chunk_tokens("transformers-compiled", 1, 1_984, 2_048) == 1_984
    assert prefill_chunk_tokens("vllm", 8, 4_032, 2_048) == 2_048
    assert prefill_chunk_tokens("llama.cpp", 1, 512, 2_048) == 2_048


def test_transformers_runs_attention_sink_models_with_eager_attention():
    assert fused_attention("transformers", attention_sinks=True) is False
    assert fused_attention("transformers-compiled", attention_sinks=True) is False
    assert fused_attention("transformers", attention_sinks=False) is True
    assert fused_attention("vllm", attention_sinks=True) is True
