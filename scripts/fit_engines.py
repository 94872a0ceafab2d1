"""Fit every engine's constants on the speed rows of data/measurements.csv and write
data/engine_profiles.csv (see llm_calc.engine_fit).

    python scripts/fit_engines.py            # write the file
    python scripts/fit_engines.py --check    # exit 1 if the file differs from a fresh fit
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_calc.engine_fit import fit_profiles, load_speed_rows
from llm_calc.engines import PROFILES_PATH, write_profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=Path, default=None, help="default: data/measurements.csv")
    parser.add_argument("--out", type=Path, default=PROFILES_PATH)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    rows = load_speed_rows(args.measurements) if args.measurements else load_speed_rows()
    table, skipped = fit_profiles(rows)
    for row, reason in skipped:
        print(f"left out {row.id}: {reason}", file=sys.stderr)
    for profile in table:
        cv = profile["cv_median_abs_error"]
        print(
            f"{profile['profile']:22s} eff {profile['bandwidth_efficiency']}  overhead "
            f"{float(profile['layer_overhead_seconds']) * 1e6:7.1f} us/layer  MFU {profile['prefill_mfu']}  "
            f"{profile['status']:22s} {profile['fit_rows']:>3} rows {profile['sources']:>2} sources  "
            f"CV {float(cv):.1%}"
            if cv
            else f"{profile['profile']:22s} eff {profile['bandwidth_efficiency']}  "
            f"overhead {float(profile['layer_overhead_seconds']) * 1e6:7.1f} us/layer  MFU {profile['prefill_mfu']}  "
            f"{profile['status']:22s} {profile['fit_rows']:>3} rows {profile['sources']:>2} sources"
        )
    if args.check:
        with tempfile.TemporaryDirectory() as folder:
            fresh = Path(folder) / "profiles.csv"
            write_profiles(table, fresh)
            if fresh.read_text() != args.out.read_text():
                print(f"{args.out} is stale: run scripts/fit_engines.py", file=sys.stderr)
                return 1
        return 0
    write_profiles(table, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
