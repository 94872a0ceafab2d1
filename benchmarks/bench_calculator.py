"""Speed targets of the hardware calculator (issue 2), measured on this machine.

    python benchmarks/bench_calculator.py

Targets: a full recompute of the page's results (all cards x all precisions) < 5 ms in-process;
a warm rerun of the page under AppTest < 300 ms; `python -m llm_calc memory --json` < 1 s.
Prints one line per measurement (median of repeated runs) and exits 1 if a target is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_calc.catalog import default_gpus, find_model  # noqa: E402
from llm_calc.hardware import size_on_gpus  # noqa: E402
from llm_calc.memory import InferenceSettings  # noqa: E402
from llm_calc.precision import WEIGHT_FORMATS  # noqa: E402


def median_ms(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def recompute_all() -> None:
    spec = find_model("meta-llama/Meta-Llama-3-70B").spec
    gpus = default_gpus()
    for precision in WEIGHT_FORMATS:
        settings = InferenceSettings(weight_format=precision, context_tokens=32_768, batch=4)
        size_on_gpus(spec, settings, gpus, 1)


def page_rerun_ms() -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/hardware_calculator.py").run()
    at.run()  # warm: modules imported, catalogs cached
    return median_ms(at.run, 15)


def cli_ms() -> float:
    command = [
        sys.executable,
        "-m",
        "llm_calc",
        "memory",
        "--model",
        "meta-llama/Meta-Llama-3-70B",
        "--precision",
        "q4_k_m",
        "--context",
        "32768",
        "--batch",
        "4",
        "--json",
    ]
    return median_ms(lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True), 5)


def main() -> int:
    recompute_all()  # warm the catalog cache
    results = [
        (
            f"recompute: {len(default_gpus())} cards x {len(WEIGHT_FORMATS)} precisions",
            median_ms(recompute_all, 50),
            5.0,
        ),
        ("page rerun under AppTest (warm)", page_rerun_ms(), 300.0),
        ("python -m llm_calc memory --json", cli_ms(), 1000.0),
    ]
    missed = False
    for name, measured, target in results:
        ok = measured < target
        missed |= not ok
        print(f"{name:40s} {measured:8.1f} ms   target < {target:g} ms   {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
