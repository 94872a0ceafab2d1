"""Rewrite data/accuracy_baseline.csv (the per-row CI gate) and data/track_records.csv (per engine
and card, how the estimates fared) from the current estimates, then the README's accuracy figures.

    python scripts/update_accuracy_baseline.py --reason "decode reads quantized bytes (issue 10)"

Rows that are new or whose error grew take the reason (it is required then, and should say why
the change is right); rows unchanged or better keep the reason they were accepted with. Commit the
baseline together with the change that moved the errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one
sys.path.insert(0, str(ROOT / "scripts"))

import readme_figures  # noqa: E402

from llm_calc.accuracy import (  # noqa: E402
    BASELINE_PATH,
    TRACK_RECORDS_PATH,
    compare,
    default_measurements,
    improvements,
    load_baseline,
    new_baseline,
    regressions,
    track_records,
    write_baseline,
    write_track_records,
)
from llm_calc.catalog import CatalogError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reason", default="", help="why rows that got worse (or are new) are accepted")
    args = parser.parse_args(argv)
    comparisons = compare(default_measurements())
    try:
        old = load_baseline()
    except CatalogError:
        old = {}  # no baseline yet: every row is new and takes the reason
    for line in regressions(comparisons, old):
        print("accepting:", line)
    for line in improvements(comparisons, old):
        print("improved:", line)
    try:
        rows = new_baseline(comparisons, old, args.reason)
    except ValueError as error:
        print(f"error: {error} (--reason '...')", file=sys.stderr)
        return 2
    write_baseline(rows, BASELINE_PATH)
    print(f"{BASELINE_PATH.relative_to(ROOT)}: {len(rows):,} rows")
    records = track_records(comparisons)
    write_track_records(records, TRACK_RECORDS_PATH)
    print(f"{TRACK_RECORDS_PATH.relative_to(ROOT)}: {len(records):,} engine and card pairs")
    return readme_figures.main([])


if __name__ == "__main__":
    sys.exit(main())
