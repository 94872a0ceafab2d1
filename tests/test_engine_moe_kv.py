"""Speed model terms added for serving rows: the overhead of every MoE layer, on one card or split
over several, and a measurement's own KV-cache format. Expected values are derived by hand from the
models' configs (comments), not read from the code."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
from speed_rows import speed_row

from llm_calc.catalog import find_gpu, find_model
from llm_calc.engine_fit import _grid_loss, fit, load_speed_rows, row_cost, usable_costs
from llm_calc.hardware import StepCost, _workload, decode_cost
from llm_calc.memory import InferenceSettings, inference_memory

DEEPSEEK_V3 = find_model("deepseek-ai/DeepSeek-V3").spec
H200 = find_gpu("NVIDIA H200 SXM")


def _decode(spec, cards, parallel):
    settings = InferenceSettings(weight_format="fp8", context_tokens=1024, batch=1)
    return decode_cost(_workload(spec, settings, inference_memory(spec, settings)), H200, cards, parallel)


def test_every_moe_layer_pays_the_moe_overhead_on_one_card_or_several():
    # DeepSeek-V3's config: num_hidden_layers 61, first_k_dense_replace 3 -> 58 MoE layers, each of
    # which routes its tokens to their experts however the layers are laid out over the cards
    assert _decode(DEEPSEEK_V3, 8, "tp").moe_steps == 58
    assert _decode(DEEPSEEK_V3, 1, "tp").moe_steps == 58
    assert _decode(DEEPSEEK_V3, 8, "pp").moe_steps == 58  # each stage's layers, one stage after another
    llama = find_model("meta-llama/Llama-3.1-70B").spec
    assert _decode(llama, 8, "tp").moe_steps == 0  # a dense model has none


def test_the_moe_overhead_is_added_per_moe_layer():
    step = StepCost(1, 0.010, 0.0, 61, 0.0, 0, moe_steps=58)
    # 10 ms of reads + 61 x 100 us + 58 x 500 us = 10 + 6.1 + 29 = 45.1 ms
    assert step.seconds(1.0, 1.0, 1e-4, 5e-4) == pytest.approx(0.0451)
    assert step.seconds(1.0, 1.0, 1e-4) == pytest.approx(0.0161)  # the term defaults to 0


def _rows(constants, source):
    """vLLM rows whose 'measured' figure is what an engine of known constants would reach: a dense
    model on cards of different bandwidth, and an MoE model on 2, 4 and 8 cards."""
    dense = [
        ("meta-llama/Llama-2-7b-hf", gpu, 1, "none") for gpu in ("NVIDIA L4", "NVIDIA A100 80GB SXM", "NVIDIA H100 SXM")
    ]
    moe = [("mistralai/Mixtral-8x7B-v0.1", "NVIDIA H100 SXM", n, "tp") for n in (2, 4, 8)]
    rows = []
    for i, (model, gpu, cards, parallel) in enumerate(dense + moe):
        row = speed_row(
            f"{source}-{i}", "decode", model, "bf16", "vllm", "cuda", gpu, cards, parallel, 1, 0, 128, 0, 1.0,
            "tokens/s", source,
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(*constants)))
    return rows


def test_the_fit_recovers_a_known_moe_layer_overhead():
    efficiency, mfu, overhead, moe_overhead = 0.8, 0.5, 5e-5, 3e-4
    costs, skipped = usable_costs(_rows((efficiency, mfu, overhead, moe_overhead), "a"))
    assert not skipped
    result = fit(costs)
    assert result.bandwidth_efficiency == pytest.approx(efficiency, abs=0.005)
    assert result.layer_overhead_seconds == pytest.approx(overhead, rel=0.1)
    assert result.moe_layer_overhead_seconds == pytest.approx(moe_overhead, rel=0.1)


def test_too_few_moe_rows_are_left_out_rather_than_inflate_the_shared_overhead():
    rows = _rows((0.8, 0.5, 5e-5, 3e-3), "a")
    dense, moe = rows[:3], rows[3:]
    result = fit(usable_costs(dense + moe[:2])[0])
    alone = fit(usable_costs(dense)[0])
    assert result.moe_layer_overhead_seconds == 0.0
    assert result.layer_overhead_seconds == alone.layer_overhead_seconds
    assert result.bandwidth_efficiency == alone.bandwidth_efficiency
    assert "2 rows of MoE models left out" in result.note


def test_the_grid_scores_each_point_as_the_row_by_row_prediction_does():
    # every shipped row, so every kind and unit of figure; the grid is scored all rows at once
    sample, _ = usable_costs(load_speed_rows())
    page = {c.row.id: c.row.source.partition("#")[0] for c in sample}  # a source is a page, anchors aside
    per_source = Counter(page.values())

    def by_row(constants):  # each row's absolute log error, a source of n rows weighing sqrt(n) in all
        return sum(
            abs(math.log(c.predict(*constants) / c.row.measured)) / math.sqrt(per_source[page[c.row.id]])
            for c in sample
        )

    assert float(_grid_loss(sample, 0.73, 0.41, 8e-5, 2e-4)) == pytest.approx(
        by_row((0.73, 0.41, 8e-5, 2e-4)), rel=1e-12
    )
    # eager transformers' rows copy their KV cache: their copies at a third of the sheet, both ways
    assert any(c.decode and c.decode.kv_copy_seconds for c in sample)
    assert float(_grid_loss(sample, 0.73, 0.41, 8e-5, 2e-4, 0.3)) == pytest.approx(
        by_row((0.73, 0.41, 8e-5, 2e-4, 0.3)), rel=1e-12
    )
    grid = _grid_loss(sample, np.array([[0.5], [0.9]]), 0.6, np.array([[0.0, 1e-4]]), 3e-5)
    assert grid.shape == (2, 2)
    for i, efficiency in enumerate((0.5, 0.9)):
        for j, overhead in enumerate((0.0, 1e-4)):
            assert grid[i, j] == pytest.approx(by_row((efficiency, 0.6, overhead, 3e-5)), rel=1e-12)


def test_a_row_s_fp8_kv_cache_halves_the_cache_it_reads():
    row = speed_row(
        "kv", "decode", "meta-llama/Llama-2-7b-hf", "fp8", "tensorrt-llm", "cuda", "NVIDIA H100 SXM", 1, "none", 4,
        0, 128, 0, 1.0, "tokens/s", "s",
    )  # fmt: skip
    fp16 = row_cost(row).decode.card_read_bytes
    fp8 = row_cost(dataclasses.replace(row, kv_format="fp8")).decode.card_read_bytes
    # Llama-2-7B: 32 layers x (K + V) x 32 heads x 128 dims = 262,144 elements per token, 2 bytes at
    # fp16 and 1 at fp8; 4 sequences at the run's mean depth of 128 / 2 = 64 tokens
    assert fp16 - fp8 == 4 * 64 * 262_144


def test_trt_llm_s_published_h100_and_l40s_runs_are_read_with_their_fp8_kv_cache():
    # performance.md at 138f96d builds these engines with --enable_fp8 --fp8_kv_cache
    rows = {r.id: r for r in load_speed_rows()}
    assert rows["trt061-h100-l2-7b-bs112-tp1-128-2048"].kv_format == "fp8"
    assert rows["trt05-l40s-l2-7b-tp1-ttft-128"].kv_format == "fp8"
    assert rows["dsr1-h200-sglang-c4-tpot"].kv_format == ""  # the engine's 16-bit default


def _dense(constants, source, count, slower=1.0):
    """``count`` vLLM rows of Llama-2-7B at batch 1 on cards of different bandwidth, measured
    ``slower`` times below what an engine of ``constants`` reaches."""
    cards = ["NVIDIA L4", "NVIDIA A100 80GB SXM", "NVIDIA H100 SXM", "NVIDIA L40S", "NVIDIA A10", "NVIDIA H200 SXM"]
    rows = []
    for i in range(count):
        row = speed_row(
            f"{source}-{i}", "decode", "meta-llama/Llama-2-7b-hf", "bf16", "vllm", "cuda", cards[i % len(cards)], 1,
            "none", 1 + i // len(cards), 0, 128, 0, 1.0, "tokens/s", source,
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(*constants) / slower))
    return rows


def test_one_source_with_many_rows_does_not_outvote_two_that_agree():
    # two sources agree on the engine; a third, with three times their rows, ran three times slower
    # (an early release): a source weighs the square root of its rows (2 + 2 against 3.5) and errors
    # are absolute, so the fit follows the two that agree instead of settling halfway
    truth = (0.7, 0.5, 1e-4, 0.0)
    rows = _dense(truth, "a", 4) + _dense(truth, "b", 4) + _dense(truth, "c", 12, slower=3.0)
    result = fit(usable_costs(rows)[0])
    assert result.bandwidth_efficiency == pytest.approx(0.7, abs=0.01)
    assert result.layer_overhead_seconds == pytest.approx(1e-4, rel=0.1)


def test_a_transformers_prompt_is_prefilled_in_one_pass_a_vllm_one_in_chunks():
    """A 4,032-token prompt: generate runs it in one forward pass; vLLM in ceil(4,032 / 2,048) = 2
    chunks, each paying every layer's overhead (32 layers: 32 and 64 layer passes)."""
    steps = {}
    for engine in ("transformers", "vllm"):
        row = speed_row(
            engine, "prefill", "meta-llama/Llama-3.1-8B-Instruct", "bf16", engine, "cuda", "NVIDIA H100 SXM", 1,
            "none", 1, 4032, 0, 0, 30_000.0, "tokens/s", "s",
        )  # fmt: skip
        steps[engine] = (row_cost(row).prefill.passes, row_cost(row).prefill.steps)
    assert steps == {"transformers": (1, 32), "vllm": (2, 64)}
