"""The request overhead of engines behind an API server: what a time to first token adds beside its
prefill and first decode step, fitted once for vLLM, SGLang and TensorRT-LLM on their measured
times to first token, and shown wherever a time to first token is.

Expected values are derived by hand in the comments or planted in rows built here, never taken
from the code under test."""

import dataclasses

import pytest
from apptest_pages import open_app_link
from speed_rows import speed_row

from llm_calc.catalog import find_gpu, find_model
from llm_calc.engine_fit import (
    REQUEST_OVERHEAD_GRID,
    RowCost,
    cross_validated_predictions,
    fit_profiles,
    fit_request_overhead,
    row_cost,
    usable_costs,
)
from llm_calc.engines import SERVER_ENGINES, EngineProfile, load_profiles
from llm_calc.hardware import StepCost, speed
from llm_calc.memory import InferenceSettings, inference_memory

LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
H100 = find_gpu("NVIDIA H100 SXM")
CONSTANTS = (0.7, 0.5, 1e-4, 0.0)  # efficiency, MFU, layer overhead, MoE-layer overhead


def _one_request(kind: str, unit: str) -> RowCost:
    row = speed_row(
        "r", kind, "meta-llama/Llama-2-7b-hf", "bf16", "vllm", "cuda", "NVIDIA H100 SXM", 1, "none",
        1, 1000, 100, 0, 1.0, unit, "s",
    )  # fmt: skip
    # a decode step of 20 ms and a prompt's prefill of 500 ms, whatever the engine constants
    return RowCost(row, StepCost(1, 0.020, 0.0, 0, 0.0, 0), StepCost(1, 0.500, 0.0, 0, 0.0, 0))


def test_the_overhead_counts_in_a_first_token_only():
    # first token: 500 ms prefill + 20 ms step + 70 ms request = 590 ms
    assert _one_request("ttft", "ms").predict(1, 1, 0, 0, request_overhead_seconds=0.070) == pytest.approx(590)
    assert _one_request("ttft", "s").predict(1, 1, 0, 0, request_overhead_seconds=0.070) == pytest.approx(0.590)
    # a decode row of the same request is the same as without it: (100 x 20 + 500 - 500) / 100 = 20 ms
    assert _one_request("decode", "ms/token").predict(1, 1, 0, 0, request_overhead_seconds=0.070) == pytest.approx(20)


def test_the_calculator_s_time_to_first_token_adds_the_engine_s_overhead():
    # the prefill and decode step of tests/test_engines.py's worked example (27.78 + 2 ms, 4.10 + 2 ms),
    # then 69 ms more for the request: the sum with and without it differs by exactly 69 ms
    settings = InferenceSettings(context_tokens=1024)
    memory = inference_memory(LLAMA2_7B, settings)
    plain = EngineProfile("vllm", 1.0, 0.002 / 32, 0.0, 0.5, "not fitted", 0, 0, None, "test")
    served = dataclasses.replace(plain, request_overhead_seconds=0.069)
    without = speed(LLAMA2_7B, settings, memory, H100, 1, prompt_tokens=1000, profile=plain)
    with_it = speed(LLAMA2_7B, settings, memory, H100, 1, prompt_tokens=1000, profile=served)
    assert with_it.ttft_seconds - without.ttft_seconds == pytest.approx(0.069)
    assert with_it.decode_tokens_per_s == without.decode_tokens_per_s  # decode is untouched


def _first_tokens(source: str, planted: float, engine: str = "sglang", prompts=(128, 1024, 4096)) -> list:
    """Time-to-first-token rows (ms) of ``engine`` measured ``planted`` seconds above what an engine
    of :data:`CONSTANTS` gives for prefill plus one step."""
    rows = []
    for prompt in prompts:
        row = speed_row(
            f"{source}-{prompt}", "ttft", "meta-llama/Llama-2-7b-hf", "bf16", engine, "cuda", "NVIDIA H100 SXM",
            1, "none", 1, prompt, 100, 0, 1.0, "ms", source,
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(*CONSTANTS) + planted * 1000))
    return rows


SIZES = ("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf")


def _decodes(source: str, engine: str = "sglang") -> list:
    """Decode rows of three model sizes at what an engine of :data:`CONSTANTS` reaches: they set
    the step constants, which the first tokens' fixed time must not move."""
    rows = []
    for model in SIZES:
        row = speed_row(
            f"{source}-{model}", "decode", model, "bf16", engine, "cuda", "NVIDIA H100 SXM", 1, "none",
            1, 0, 128, 0, 1.0, "tokens/s", source,
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(*CONSTANTS)))
    return rows


def test_the_fit_recovers_a_planted_overhead_to_its_grid_step():
    rows = _first_tokens("https://example.org/a", 0.080) + _first_tokens("https://example.org/b", 0.080)
    costs, skipped = usable_costs(rows)
    assert not skipped
    found = fit_request_overhead([(c, CONSTANTS) for c in costs])
    assert found == pytest.approx(0.080, rel=0.05)  # the grid steps by 5 %
    assert fit_request_overhead([]) == 0.0
    assert REQUEST_OVERHEAD_GRID[0] == 0.0  # no overhead is a possible fit


def test_the_profiles_share_one_overhead_and_engines_without_a_server_have_none():
    # 3 SGLang sources, each with decode rows at the planted constants and first tokens 80 ms after
    # prefill and step: the step constants come out as planted, the 80 ms as the request overhead
    sources = [f"https://example.org/{s}" for s in "abc"]
    rows = [r for s in sources for r in _decodes(s) + _first_tokens(s, 0.080)]
    table, _ = fit_profiles(rows)
    sglang = next(p for p in table if p["profile"] == "sglang")
    assert float(sglang["bandwidth_efficiency"]) == pytest.approx(0.7, abs=0.005)
    assert float(sglang["layer_overhead_seconds"]) == pytest.approx(1e-4, rel=0.1)
    overheads = {p["profile"]: float(p["request_overhead_seconds"]) for p in table}
    served = [key for key in overheads if key.partition("/")[0] in SERVER_ENGINES]
    assert set(served) == {"vllm", "vllm/rocm", "sglang", "sglang/rocm", "tensorrt-llm"}
    assert len({overheads[key] for key in served}) == 1
    assert overheads["sglang"] == pytest.approx(0.080, rel=0.05)
    assert all(overheads[key] == 0 for key in overheads if key not in served)  # llama-bench, in-process runs
    assert (
        "request overhead pooled over the server engines' time-to-first-token rows (9 sglang; 3 sources)"
        in (sglang["note"])
    )
    assert float(sglang["cv_median_abs_error"]) < 0.05  # decode rows and first tokens, each held out


def test_a_first_token_s_estimate_never_uses_an_overhead_fitted_on_its_own_source():
    sources = [f"https://example.org/{s}" for s in "abc"]
    rows = [r for s in sources for r in _decodes(s) + _first_tokens(s, 0.080)]
    target = next(r for r in rows if r.kind == "ttft")
    before = cross_validated_predictions(rows)[target.id]
    moved = [
        dataclasses.replace(r, measured=r.measured + 500) if r.kind == "ttft" and r.source == target.source else r
        for r in rows
    ]
    after = cross_validated_predictions(moved)
    assert after[target.id] == pytest.approx(before)  # its own source's 500 ms more did not reach it
    other = next(r for r in reversed(rows) if r.kind == "ttft")
    assert after[other.id] > cross_validated_predictions(rows)[other.id]  # the others' overhead did


def test_the_shipped_server_profiles_carry_one_overhead_and_it_is_in_their_first_tokens():
    profiles = load_profiles()
    served = {p.request_overhead_seconds for p in profiles.values() if p.engine in SERVER_ENGINES}
    assert len(served) == 1 and next(iter(served)) > 0
    assert all(p.request_overhead_seconds == 0 for p in profiles.values() if p.engine not in SERVER_ENGINES)


def test_the_serving_page_says_what_the_first_token_waits_for():
    overhead = load_profiles()["vllm"].request_overhead_seconds
    at = open_app_link("app_pages/serving.py", {"engine": "vllm"})
    said = f"plus {overhead * 1000:,.0f} ms that vllm's API server adds to a request"
    assert any(said in m.value for m in at.markdown)  # the Assumptions expander
    assert said in next(m for m in at.metric if m.label == "Time to first token").proto.help
