"""First load of the Accuracy page, measured on this machine.

    python benchmarks/bench_accuracy.py

The page shows every speed row beside its estimate from constants fitted without the row's source.
It reads those estimates from data/accuracy_baseline.csv
(``llm_calc.accuracy.stored_held_out_estimates``) instead of refitting every engine once per
source. Each run starts a fresh Python process (the fits are cached per process) and opens the page
under AppTest, once reading the stored estimates and once refitting; the two loads alternate, three
of each, and the medians and their ratio are printed (one machine, one run: a ratio, not a timing to
compare across machines). Target: the stored load under a fifth of the refitting one. Exits 1 if it
is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOAD = """
import sys, time
sys.path.insert(0, {root!r})
import llm_calc.accuracy
if {refit}:
    llm_calc.accuracy.default_stored_held_out_estimates = lambda: None
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=600).run()
start = time.perf_counter()
at.switch_page({page!r}).run()
assert not at.exception, at.exception
print(time.perf_counter() - start)
"""


def first_load_seconds(refit: bool) -> float:
    code = LOAD.format(
        root=str(ROOT), refit=refit, app=str(ROOT / "app.py"), page=str(ROOT / "app_pages" / "accuracy.py")
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    stored, refit = [], []
    for _ in range(3):
        stored.append(first_load_seconds(refit=False))
        refit.append(first_load_seconds(refit=True))
    fast, slow = statistics.median(stored), statistics.median(refit)
    print(
        f"Accuracy page, first load: {fast:.1f} s reading the stored estimates, "
        f"{slow:.1f} s refitting ({fast / slow:.2f}x)"
    )
    return 0 if fast < slow / 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
