"""The published error figures hold: CI fails when a change makes our estimates worse."""

import shutil
from pathlib import Path

import pytest
from apptest_pages import open_app_page

from llm_calc.accuracy import (
    DECODE_ERROR_TARGET,
    MEMORY_ERROR_TARGET,
    OUTLIER_FACTOR,
    PREFILL_ERROR_TARGET,
    compare,
    default_measurements,
    fitted_efficiency,
    load_measurements,
    summarize,
)
from llm_calc.catalog import DATA_DIR, CatalogError
from llm_calc.hardware import DECODE_BANDWIDTH_EFFICIENCY

ROOT = Path(__file__).resolve().parent.parent
ROWS = default_measurements()
COMPARISONS = compare(ROWS)
SUMMARY = {s.kind: s for s in summarize(COMPARISONS)}


def test_every_row_has_a_source_and_the_issue_s_kinds_are_covered():
    assert all(r.source.startswith("http") for r in ROWS)
    assert {r.kind for r in ROWS} == {"weights_file", "decode", "prefill", "peak_memory", "training_fits"}
    assert {r.gpu for r in ROWS if r.kind == "decode"} >= {"Apple M2 Ultra (192 GB)", "NVIDIA RTX 3090 Ti"}


def test_memory_and_file_sizes_within_five_percent_median_on_held_out_rows():
    held = [
        abs(c.error)
        for c in COMPARISONS
        if c.measurement.kind not in ("decode", "prefill") and not c.measurement.used_for_fit
    ]
    assert len(held) >= 10
    assert sorted(held)[len(held) // 2] <= MEMORY_ERROR_TARGET


@pytest.mark.parametrize("kind", ["weights_file", "peak_memory", "training_fits"])
def test_each_memory_kind_is_within_target(kind):
    assert SUMMARY[kind].held_out_median_abs_error <= MEMORY_ERROR_TARGET


def test_decode_speed_within_twenty_five_percent_median_on_held_out_rows():
    assert SUMMARY["decode"].held_out_rows >= 4
    assert SUMMARY["decode"].held_out_median_abs_error <= DECODE_ERROR_TARGET


def test_prompt_processing_within_target_on_held_out_rows():
    assert SUMMARY["prefill"].held_out_rows >= 4
    assert SUMMARY["prefill"].held_out_median_abs_error <= PREFILL_ERROR_TARGET


def test_no_row_off_by_more_than_a_factor_of_two_without_a_note():
    for comparison in COMPARISONS:
        if not 1 / OUTLIER_FACTOR <= comparison.ratio <= OUTLIER_FACTOR:
            assert comparison.measurement.note, comparison.measurement.id


def test_the_app_constant_is_the_fitted_one():
    # fitted on the rows marked used_for_fit only; the held-out rows above check it
    assert round(fitted_efficiency(ROWS), 2) == DECODE_BANDWIDTH_EFFICIENCY


def test_readme_quotes_the_current_error_figures():
    readme = (ROOT / "README.md").read_text()
    for kind, label in (
        ("weights_file", "weight file sizes"),
        ("peak_memory", "peak GPU memory"),
        ("decode", "decode speed"),
        ("training_fits", "training fits"),
    ):
        figure = f"{SUMMARY[kind].held_out_median_abs_error:.1%}"
        assert f"| {label} | {SUMMARY[kind].held_out_rows} | {figure} |" in readme, (label, figure)


def test_a_row_for_an_unknown_model_names_file_row_and_column(tmp_path):
    path = tmp_path / "measurements.csv"
    shutil.copy(DATA_DIR / "measurements.csv", path)
    path.write_text(path.read_text().replace("huggyllama/llama-7b", "someone/llama-8b", 1))
    with pytest.raises(CatalogError, match=r"measurements\.csv row \d+, column hf_id: unknown model"):
        load_measurements(path)


def test_the_accuracy_page_shows_every_row():
    at = open_app_page("app_pages/accuracy.py")
    assert len(at.dataframe[0].value) == len(ROWS)
    at.slider(key="accuracy_efficiency").set_value(0.9).run()
    assert not at.exception
