"""Eager transformers rebuilds its KV cache every decode step: the passes counted from its code,
their bytes, what they cost, and the fit of their efficiency."""

import csv
import dataclasses
import json

import pytest
from speed_rows import one_row_file, speed_row

from llm_calc.catalog import CatalogError, find_gpu, find_model
from llm_calc.cli import main
from llm_calc.engine_fit import fit, row_cost, usable_costs
from llm_calc.engines import ENGINES, PROFILES_PATH, copies_kv_cache, kv_cache_passes, load_profiles, profile_for
from llm_calc.hardware import _workload, decode_cost, speed
from llm_calc.measurements import load_measurements
from llm_calc.memory import InferenceSettings, inference_memory
from ui.accuracy_tables import profile_rows

H100 = find_gpu("NVIDIA H100 SXM")  # 3,350 GB/s on its datasheet
LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec  # 32 layers, 32 KV heads of 128: 1 query head each


@pytest.mark.parametrize(
    ("engine", "groups", "version", "attention", "passes"),
    [
        ("vllm", 8, "", "", 1),  # paged blocks, the token written in place, read once
        ("llama.cpp", 4, "", "", 1),
        ("transformers-compiled", 4, "", "", 1),  # a static cache, written in place
        ("transformers", 4, "", "", 3),  # current: torch.cat reads + writes it, SDPA reads it with enable_gqa
        ("transformers", 4, "5.17.0", "", 3),
        ("transformers", 8, "4.54.0", "", 3),  # enable_gqa from 4.54 on
        ("transformers", 8, "4.51.3", "", 19),  # cat 2 + repeat_kv reads 1, writes 8 + SDPA reads 8
        ("transformers", 4, "4.46.3", "", 11),  # 2 + 1 + 4 + 4
        ("transformers", 1, "4.51.3", "", 3),  # multi-head: repeat_kv returns the cache as it is
        ("transformers", 4, "4.32", "", 3),  # eager matmuls were the default before 4.36
        ("transformers", 4, "4.46.3", "eager", 3),
        ("transformers", 7, "4.46.0", "flash_attention_2", 15),  # 2 + reshape 2 + int64 index 8 + gather 2 + 1
        ("transformers", 4, "main (May 2023)", "", 3),  # no release number: taken as the current release
    ],
)
def test_passes_per_engine_release_and_attention(engine, groups, version, attention, passes):
    assert kv_cache_passes(engine, groups, version, attention) == passes


def test_only_eager_transformers_copies_its_cache():
    assert [e for e in ENGINES if copies_kv_cache(e)] == ["transformers"]


def test_unmodelled_attention_is_refused_by_name():
    with pytest.raises(ValueError, match="4.36 to 4.46 only, not 5.17.0"):
        kv_cache_passes("transformers", 4, "5.17.0", "flash_attention_2")
    with pytest.raises(ValueError, match="'xformers' is not one of eager, sdpa, flash_attention_2"):
        kv_cache_passes("transformers", 4, "4.46.0", "xformers")


def _llama2_step(passes: int):
    settings = InferenceSettings(context_tokens=4096, batch=1, weight_format="fp16")
    work = _workload(LLAMA2_7B, settings, inference_memory(LLAMA2_7B, settings))
    return decode_cost(work, H100, 1, "tp", kv_passes=passes)


def test_the_copies_are_the_cache_bytes_beyond_one_read():
    # Llama-2-7B's fp16 cache at 4,096 tokens: 2 (K, V) x 32 layers x 4,096 x 4,096 x 2 bytes = 2 GiB
    cache = 2 * 32 * 4096 * 4096 * 2
    three = _llama2_step(3)
    assert three.kv_copy_seconds == pytest.approx(2 * cache / 3.35e12)  # 1.282 ms
    assert _llama2_step(1).kv_copy_seconds == 0.0
    # at half the datasheet, the two extra passes take 2 x 1.282 ms; nothing else changes
    slower = three.seconds(1.0, 1.0, 0.0, 0.0, 0.5) - three.seconds(1.0, 1.0, 0.0, 0.0, 1.0)
    assert slower == pytest.approx(2 * cache / 3.35e12)
    assert three.seconds(1.0, 1.0, 0.0) - _llama2_step(1).seconds(1.0, 1.0, 0.0) == pytest.approx(1.2821e-3, rel=1e-4)


def test_speed_names_the_passes_and_transformers_pays_for_them():
    settings = InferenceSettings(context_tokens=32_768, batch=1, weight_format="fp16")
    memory = inference_memory(LLAMA2_7B, settings)
    eager = speed(LLAMA2_7B, settings, memory, H100, 1, engine="transformers")
    served = speed(LLAMA2_7B, settings, memory, H100, 1, engine="vllm")
    assert (eager.kv_cache_passes, served.kv_cache_passes) == (3, 1)
    assert served.kv_copy_seconds == 0.0
    # 2 x 32 layers x 4,096 x 32,768 x 2 bytes = 16 GiB of cache: two copies of it at the shipped
    # profile's copy efficiency of the 3,350 GB/s sheet
    copy = profile_for("transformers", H100).kv_copy_efficiency
    assert eager.kv_copy_seconds == pytest.approx(2 * 16 * 2**30 / (3.35e12 * copy))
    assert eager.kv_copy_seconds < eager.memory_seconds  # the weights and the attention's read come on top


def test_memory_json_gives_the_passes(capsys):
    for engine, passes in (("transformers", 3), ("vllm", 1)):
        code = main(["memory", "--model", "meta-llama/Llama-2-7b-hf", "--engine", engine, "--json"])
        assert code == 0
        card = next(c for c in json.loads(capsys.readouterr().out)["gpus"] if c["name"] == "NVIDIA H100 SXM")
        assert card["kv_cache_passes"] == passes


def _transformers_rows(constants):
    rows = []
    for i, (hf_id, batch, depth) in enumerate(
        [
            ("meta-llama/Llama-2-7b-hf", 1, 128),
            ("meta-llama/Llama-2-7b-hf", 1, 8192),
            ("meta-llama/Llama-2-7b-hf", 1, 32_768),
            ("meta-llama/Llama-2-7b-hf", 4, 16_384),
            ("meta-llama/Llama-2-7b-hf", 8, 4096),
            ("meta-llama/Llama-3.1-8B", 1, 128),
            ("meta-llama/Llama-3.1-8B", 8, 32_768),
            ("meta-llama/Llama-3.1-8B", 32, 16_384),
            ("Qwen/Qwen2.5-0.5B", 1, 128),
        ]
    ):
        row = speed_row(
            f"t{i}", "decode", hf_id, "bf16", "transformers", "cuda", "NVIDIA H100 SXM", 1, "none", batch,
            0, 128, depth, 1.0, "tokens/s", "s",
        )  # fmt: skip
        rows.append(dataclasses.replace(row, measured=row_cost(row).predict(*constants)))
    return rows


def test_the_fit_recovers_a_planted_copy_efficiency():
    efficiency, mfu, overhead, copy = 0.8, 0.5, 3e-4, 0.3
    costs, skipped = usable_costs(_transformers_rows((efficiency, mfu, overhead, 0.0, copy)))
    assert not skipped
    result = fit(costs)
    assert result.kv_copy_efficiency == pytest.approx(copy, abs=0.01)
    # nine rows tell the efficiency from the per-layer overhead only roughly (every row within 2 %)
    assert result.bandwidth_efficiency == pytest.approx(efficiency, abs=0.05)
    assert result.layer_overhead_seconds == pytest.approx(overhead, rel=0.1)


def test_rows_that_cannot_tell_the_copies_hold_them_at_the_datasheet():
    short = [r for r in _transformers_rows((0.8, 0.5, 3e-4, 0.0, 0.3)) if r.context_tokens == 128]
    result = fit(usable_costs(short)[0])
    assert result.kv_copy_efficiency == 1.0
    assert "KV-copy efficiency not identifiable" in result.note


def _measurements_file(tmp_path, **changes):
    row = dict(
        id="r", kind="decode", hf_id="meta-llama/Llama-2-7b-hf", precision="fp16", engine="transformers",
        engine_version="4.46.0", backend="cuda", gpu="NVIDIA H100 SXM", gpu_count="1", parallelism="none",
        concurrency="1", prompt_tokens="0", output_tokens="128", context_tokens="0", measured="30", unit="tokens/s",
        bound="exact", used_for_fit="false", date="2026-01", source="https://example.org/r",
    )  # fmt: skip
    return one_row_file(tmp_path / "rows.csv", **(row | changes))


def test_a_row_names_its_attention_and_a_wrong_one_is_refused(tmp_path):
    (row,) = load_measurements(_measurements_file(tmp_path, attention="flash_attention_2"))
    assert row.attention == "flash_attention_2"
    assert row_cost(row).decode.kv_copy_seconds > 0
    with pytest.raises(CatalogError, match="column attention: only transformers rows"):
        load_measurements(_measurements_file(tmp_path, engine="vllm", attention="sdpa"))
    with pytest.raises(CatalogError, match="column attention: the KV-cache traffic .* not 4.57.0"):
        load_measurements(_measurements_file(tmp_path, engine_version="4.57.0", attention="flash_attention_2"))
    with pytest.raises(CatalogError, match="column attention: expected one of eager, sdpa, flash_attention_2"):
        load_measurements(_measurements_file(tmp_path, attention="paged"))


def test_the_profiles_table_shows_the_copy_efficiency_only_where_the_engine_copies(tmp_path):
    text = PROFILES_PATH.read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    column = header.index("kv_copy_efficiency")
    lines = [text[0]]
    for line in text[1:]:
        cells = next(csv.reader([line]))
        cells[column] = "0.250" if cells[0] in ("transformers", "vllm") else cells[column]
        lines.append(",".join(f'"{c}"' if "," in c else c for c in cells))
    path = tmp_path / "engine_profiles.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = {r["profile"]: r for r in profile_rows(list(load_profiles(path).values()))}
    assert rows["transformers"]["KV-copy efficiency"] == "25.0%"
    assert rows["vllm"]["KV-copy efficiency"] == "—"  # vLLM's paged cache is read in place: no copies to time
