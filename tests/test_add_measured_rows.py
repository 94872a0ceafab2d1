"""scripts/add_measured_rows.py files a `measure` report's rows into data/measurements.csv."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "data" / "own_measurements" / "2026-11-27-nvidia-h100-sxm.jsonl"


def _script():
    spec = importlib.util.spec_from_file_location("add_measured_rows", ROOT / "scripts" / "add_measured_rows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_filing_the_shipped_report_again_gives_the_shipped_rows_once(tmp_path, capsys):
    """The H100 report filed into the measurements without its rows gives back the 31 rows the file
    ships, line for line; filed a second time, it adds none."""
    shipped = (ROOT / "data" / "measurements.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    own = [line for line in shipped if line.startswith("own-")]
    assert len(own) == 31
    path = tmp_path / "measurements.csv"
    path.write_text("".join(line for line in shipped if not line.startswith("own-")), encoding="utf-8")
    script = _script()
    assert script.main(REPORT, path) == 0
    assert [
        line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.startswith("own-")
    ] == own
    assert script.main(REPORT, path) == 0
    assert "0 rows added (31 already there)" in capsys.readouterr().out.splitlines()[-1]
    assert path.read_text(encoding="utf-8").count("\nown-") == 31
