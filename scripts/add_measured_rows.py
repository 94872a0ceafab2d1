"""File the rows of ``scripts/measure_on_gpu.py``'s report into ``data/measurements.csv``.

    python scripts/add_measured_rows.py OUT/results.jsonl

Each report line's rows already carry the schema's columns, the driver and library versions and,
as ``source``, the report's place under ``data/own_measurements/``; this copies the report there
(the evidence every row cites), gives each row an id (``own-<source date>-<run>-<kind>[-engine]``)
and appends the rows whose id is not in the file yet. The file is then loaded and checked.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llm_calc.measurements import COLUMNS, MEASUREMENTS_PATH, load_measurements  # noqa: E402


def row_id(run: str, row: dict) -> str:
    date = row["date"].replace("-", "")
    engine = "-compiled" if row["engine"] == "transformers-compiled" else ""
    return f"own-{date}-{run}-{row['kind'].replace('_', '-')}{engine}"


def main(report: Path, measurements: Path = MEASUREMENTS_PATH) -> int:
    """File ``report``'s rows into ``measurements`` (the shipped file unless a test names another)."""
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    rows = []
    for line in lines:
        origin = line["report"]["origin"]
        for row in line["report"]["rows"]:
            row = {**row, "id": row_id(line["run"], row)}
            if "/" in origin and not origin.startswith("config "):
                row["hf_id"] = origin  # reports written before rows named the model by its Hub id
            rows.append(row)
    sources = {row["source"] for row in rows}
    if len(sources) != 1:
        raise SystemExit(f"one report per card and date, got rows citing {sorted(sources)}")
    (source,) = sources
    if report.resolve() != (ROOT / source).resolve():
        shutil.copyfile(report, ROOT / source)
    with measurements.open(newline="", encoding="utf-8") as handle:
        known = {row["id"] for row in csv.DictReader(handle)}
    new = [row for row in rows if row["id"] not in known]
    with measurements.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writerows(new)
    filed = load_measurements(measurements)
    print(f"{len(new)} rows added ({len(rows) - len(new)} already there); {len(filed)} rows load; evidence: {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
