"""The Accuracy page reads the speed rows' held-out estimates from the baseline instead of refitting
every engine once per source: the two must be the same figures, and a baseline that cannot give
them all makes the page refit rather than show a partial set."""

import csv

import pytest

from llm_calc.accuracy import (
    BASELINE_PATH,
    default_measurements,
    evaluate,
    predict,
    stored_held_out_estimates,
)
from llm_calc.engine_fit import default_cross_validated_predictions


def test_the_stored_estimates_are_the_ones_a_refit_gives():
    stored = stored_held_out_estimates()
    refit = default_cross_validated_predictions()
    assert stored is not None and stored.keys() == refit.keys()
    # the baseline keeps ten significant digits; a stale one (a fit changed, the script not rerun) fails here
    assert all(stored[row] == pytest.approx(refit[row], rel=1e-9) for row in refit)


def test_a_baseline_that_lacks_a_speed_row_or_cannot_be_read_gives_none(tmp_path):
    with BASELINE_PATH.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    speed = next(i for i, row in enumerate(rows) if row["kind"] == "decode")
    short = tmp_path / "accuracy_baseline.csv"
    with short.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[:speed] + rows[speed + 1 :])
    assert stored_held_out_estimates(short) is None
    assert stored_held_out_estimates(tmp_path / "missing.csv") is None


def test_a_speed_row_takes_the_estimate_it_is_given_and_a_what_if_ignores_it():
    row = next(r for r in default_measurements() if r.kind == "decode" and r.engine == "llama.cpp")
    assert predict(row, held_out={row.id: 123.0}) == 123.0
    assert predict(row, efficiency=0.5, held_out={row.id: 123.0}) != 123.0  # the shipped profile at 50 %
    stored = stored_held_out_estimates()
    speed = [r for r in default_measurements() if r.id in stored][:40]
    assert [c.predicted for c in evaluate(speed, held_out=stored).comparisons] == [stored[r.id] for r in speed]
