"""How the estimates of each engine profile fared on each card (data/track_records.csv), and the
note the Serving page and the calculator show beside a deployment's speed.

The hand-built rows below carry estimates the test sets, so every median is worked out by hand in
the comments; the shipped file must match a fresh computation from data/measurements.csv."""

import dataclasses
import json

import pytest
from apptest_pages import open_app_link
from speed_rows import speed_row

from llm_calc.accuracy import (
    Comparison,
    TrackRecord,
    compare,
    default_measurements,
    load_track_records,
    track_records,
    write_track_records,
)
from llm_calc.catalog import CatalogError
from llm_calc.cli import main
from ui import engine_view

H100 = "NVIDIA H100 SXM"
# id, kind, engine, backend, card, cards, measured, unit, our estimate, date, source
ROWS = [
    ("v1", "decode", "vllm", "cuda", H100, 1, 100, "tokens/s", 80, "2026-01", "https://example.org/a"),
    ("v2", "decode", "vllm", "cuda", H100, 1, 10, "ms/token", 12.5, "2026-01", "https://example.org/a"),
    ("v3", "aggregate_decode", "vllm", "cuda", H100, 2, 1000, "tokens/s", 2000, "2026-01", "https://example.org/b#c2"),
    ("s1", "decode", "sglang", "cuda", H100, 1, 50, "tokens/s", 40, "2026-01", "https://example.org/c"),
    ("r1", "decode", "vllm", "rocm", "AMD Instinct MI300X", 1, 30, "tokens/s", 60, "2026-01", "https://example.org/d"),
    # left out: a release older than vLLM's profile describes, a prompt speed, a fitted row
    ("v4", "decode", "vllm", "cuda", H100, 1, 10, "tokens/s", 40, "2024-10", "https://example.org/e"),
    ("v5", "prefill", "vllm", "cuda", H100, 1, 5000, "tokens/s", 9000, "2026-01", "https://example.org/a"),
    ("v6", "decode", "vllm", "cuda", H100, 1, 10, "tokens/s", 90, "2026-01", "https://example.org/f"),
]  # fmt: skip


@pytest.fixture
def comparisons():
    """The hand-built rows (``tests/speed_rows.py``), each beside the estimate we set."""
    built = []
    for row_id, kind, engine, backend, gpu, cards, measured, unit, estimate, date, source in ROWS:
        row = speed_row(
            row_id, kind, "meta-llama/Llama-3.1-8B", "bf16", engine, backend, gpu, cards, "tp" if cards > 1 else "none",
            1, 512 if kind == "prefill" else 0, 0 if kind == "prefill" else 128, 0, measured, unit, source, date=date,
        )  # fmt: skip
        built.append(Comparison(dataclasses.replace(row, used_for_fit=row_id == "v6"), estimate))
    return built


def test_each_engine_and_card_pair_worked_by_hand(comparisons):
    records = {(r.profile, r.gpu): r for r in track_records(comparisons)}
    assert list(records) == [("sglang", H100), ("vllm", H100), ("vllm/rocm", "AMD Instinct MI300X")]
    vllm = records["vllm", H100]
    # v1 ran 100 tokens/s where we estimate 80: 1.25x, |error| 20 %; v2 10 ms where we estimate 12.5:
    # also 1.25x faster, |error| 25 %; v3 1,000 where we estimate 2,000 (on 2 cards): 0.5x, 100 %.
    # Medians: 1.25x and 25 %. Sources: a, and b (its #c2 block is the same document): 2.
    assert (vllm.rows, vllm.several_card_rows, vllm.sources) == (3, 1, 2)
    assert vllm.median_speed_ratio == pytest.approx(1.25) and vllm.median_abs_error == pytest.approx(0.25)
    # s1: 50 where we estimate 40: 1.25x, 20 %; r1 (vLLM's ROCm profile): 30 where we estimate 60: 0.5x
    assert records["sglang", H100].median_speed_ratio == pytest.approx(1.25)
    assert records["sglang", H100].median_abs_error == pytest.approx(0.20)
    assert records["vllm/rocm", "AMD Instinct MI300X"].median_speed_ratio == pytest.approx(0.5)


def test_the_file_round_trips_and_refuses_an_unknown_profile(comparisons, tmp_path):
    path = tmp_path / "track_records.csv"
    records = track_records(comparisons)
    write_track_records(records, path)
    for kept, record in zip(load_track_records(path).values(), records, strict=True):
        same = ("profile", "gpu", "rows", "several_card_rows", "sources")
        assert [getattr(kept, f) for f in same] == [getattr(record, f) for f in same]
        assert kept.median_speed_ratio == pytest.approx(record.median_speed_ratio, rel=1e-3)
    path.write_text(path.read_text().replace("sglang,", "sglang-next,", 1))
    with pytest.raises(CatalogError, match="row 2, column profile"):
        load_track_records(path)


def test_the_shipped_file_matches_the_measurements():
    """data/track_records.csv is what scripts/update_accuracy_baseline.py writes from today's rows."""
    fresh = track_records(compare(default_measurements()))
    shipped = load_track_records()
    assert list(shipped) == [(r.profile, r.gpu) for r in fresh], "stale: run scripts/update_accuracy_baseline.py"
    for record in fresh:
        kept = shipped[record.profile, record.gpu]
        assert (kept.rows, kept.several_card_rows, kept.sources) == (
            record.rows,
            record.several_card_rows,
            record.sources,
        )
        assert kept.median_speed_ratio == pytest.approx(record.median_speed_ratio, rel=1e-3)
        assert kept.median_abs_error == pytest.approx(record.median_abs_error, rel=1e-3)


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_serving_page_says_how_the_estimates_fared_on_the_card():
    record: TrackRecord = load_track_records()["vllm", H100]
    at = open_app_link("app_pages/serving.py", {"card": H100, "engine": "vllm"})
    text = _captions(at)
    assert f"Measured runs of vllm on the {H100} ({record.rows:,} decode-speed rows" in text
    assert f"**{record.median_speed_ratio:.2f}×** our estimated speed" in text
    # no vLLM row was measured on an L40S (data/track_records.csv has no such pair)
    assert ("vllm", "NVIDIA L40S") not in load_track_records()
    at = open_app_link("app_pages/serving.py", {"card": "NVIDIA L40S", "engine": "vllm"})
    assert "No measured runs of vllm on the NVIDIA L40S" in _captions(at)


def test_an_amd_card_is_judged_by_the_engine_s_rocm_profile():
    """vLLM on an MI300X runs its ROCm build: the note names that profile's runs, not the CUDA one's."""
    at = open_app_link(
        "app_pages/serving.py", {"model": "Llama 3.1 8B", "card": "AMD Instinct MI300X", "engine": "vllm"}
    )
    assert "runs of vllm/rocm on the AMD Instinct MI300X" in _captions(at)


def test_the_calculator_says_it_for_the_deployment_it_explains():
    at = open_app_link("app_pages/hardware_calculator.py", {"model": "Llama 3.1 8B"})
    explained = at.selectbox(key="explain").value  # "NVIDIA A10 × 1": the card and its count
    engine = next(m.value for m in at.metric if m.label == "Engine")
    assert f"runs of {engine}" in _captions(at)
    assert f"on the {explained.rpartition(' × ')[0]}" in _captions(at)


def test_serve_reports_the_track_record_in_json_and_text(capsys):
    record = load_track_records()["vllm", H100]
    args = ["serve", "--model", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--prompt-tokens", "1000"]
    assert main([*args, "--output-tokens", "500", "--gpu", H100, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["track_record"]
    assert (shown["profile"], shown["rows"], shown["sources"]) == ("vllm", record.rows, record.sources)
    assert main([*args, "--output-tokens", "500", "--gpu", "NVIDIA L40S"]) == 0
    assert "no measured runs of vllm on this card" in capsys.readouterr().out
    assert main([*args, "--output-tokens", "500", "--gpu", "NVIDIA L40S", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["track_record"] is None


def test_the_accuracy_page_lists_every_engine_and_card_pair():
    at = open_app_link("app_pages/accuracy.py", {})
    table = next(frame.value for frame in at.dataframe if {"engine", "card"} <= set(frame.value.columns))
    shipped = load_track_records()
    assert list(zip(table["engine"], table["card"], strict=True)) == list(shipped)
    assert list(table["rows"]) == [record.rows for record in shipped.values()]


def test_memory_json_gives_each_card_s_track_record(capsys):
    shipped = load_track_records()
    assert main(["memory", "--model", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--json"]) == 0
    cards = {card["name"]: card for card in json.loads(capsys.readouterr().out)["gpus"]}
    h100 = cards[H100]["track_record"]
    assert (h100["profile"], h100["rows"]) == ("vllm", shipped["vllm", H100].rows)
    assert cards["NVIDIA L40S"]["track_record"] is None  # no vLLM row measured on it


def test_an_unreadable_track_record_file_is_said_and_the_page_still_draws(monkeypatch):
    def unreadable():
        raise CatalogError("track_records.csv: cannot open (No such file or directory)")

    monkeypatch.setattr(engine_view, "default_track_records", unreadable)
    at = open_app_link("app_pages/serving.py", {"card": H100, "engine": "vllm"})
    assert "How the estimates fared on measured runs is not available" in _captions(at)
    assert not at.error and any(m.label == "Time to first token" for m in at.metric)
