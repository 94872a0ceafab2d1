"""Speed and memory of token counting (issue 3), measured on this machine.

    python benchmarks/bench_tokens.py

Target (issue 14): counting a 1 MB English text with the four OpenAI encodings through the app's
path (``count_many``: every piece of every encoding on one thread pool) in at most 0.7x the time of
raw ``Encoding.encode_ordinary`` called once per encoding, one after the other, on 2 cores: the
median of 5 runs, each run timing both so that their ratio is taken under the same load. Also
reports the one-time load of every tokenizer, the memory they hold (shared by every browser
session: they are cached per process), and the time to count a 20 MB upload with all seven
tokenizers as the page does (``--skip-large`` leaves it out). Exits 1 if the target is missed.

On a machine whose cores are busy with other work the wall-clock ratio says little (Linux's
autogroup scheduling gives a process its share of the CPU however many threads it runs), so the
script also reports the CPU seconds each counting thread spent against those of the serial run:
the ratio the parallel path reaches when its two cores are free.
"""

from __future__ import annotations

import inspect
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_calc.tokenizers import COUNT_WORKERS, REGISTRY, count_jobs, count_many, get_tokenizer, run_counts  # noqa: E402

OPENAI = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
RUNS = 5
TARGET_RATIO = 0.7
"""App path / serial raw encode_ordinary, median of :data:`RUNS` (issue 14)."""


def english_text(size: int) -> str:
    """Real English prose, offline: the docstrings of the standard library, repeated to size."""
    import importlib

    names = (
        "argparse",
        "collections",
        "email",
        "http.client",
        "json",
        "logging",
        "pathlib",
        "subprocess",
        "typing",
    )
    docs = []
    for module in map(importlib.import_module, names):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200:
                docs.append(doc)
    corpus = "\n\n".join(dict.fromkeys(docs))
    return (corpus * (size // len(corpus) + 1))[:size]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def thread_cpu_split(text: str) -> tuple[float, float]:
    """(CPU seconds of the serial raw run, CPU seconds of the busiest counting thread) for ``text``."""
    encodings = [get_tokenizer(n)._encoding for n in OPENAI]
    start = time.thread_time()
    for encoding in encodings:
        encoding.encode_ordinary(text)
    serial_cpu = time.thread_time() - start
    per_thread: dict[int, float] = {}

    def measured(job):
        def run() -> int:
            begin = time.thread_time()
            count = job()
            ident = threading.get_ident()
            per_thread[ident] = per_thread.get(ident, 0.0) + time.thread_time() - begin
            return count

        return run

    jobs = [measured(job) for name in OPENAI for job in count_jobs(get_tokenizer(name), text)]
    run_counts(jobs)
    return serial_cpu, max(per_thread.values())


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    before = rss_mib()
    start = time.perf_counter()
    for name in REGISTRY:
        get_tokenizer(name)
    load_seconds = time.perf_counter() - start
    loaded = rss_mib()
    assert all(get_tokenizer(name) is get_tokenizer(name) for name in REGISTRY)  # one copy per process

    text = english_text(1_000_000)
    encodings = [get_tokenizer(n)._encoding for n in OPENAI]
    expected = {n: len(e.encode_ordinary(text)) for n, e in zip(OPENAI, encodings, strict=True)}
    assert count_many(text, OPENAI) == expected  # the same counts, or the timing means nothing
    raws, apps = [], []
    for _ in range(RUNS):
        raws.append(timed(lambda: [len(e.encode_ordinary(text)) for e in encodings]))
        apps.append(timed(lambda: count_many(text, OPENAI)))
    ratios = [a / r for a, r in zip(apps, raws, strict=True)]
    ratio = statistics.median(ratios)
    splits = [thread_cpu_split(text) for _ in range(RUNS)]
    cpu_ratio = statistics.median(busiest / serial for serial, busiest in splits)

    if "--skip-large" not in sys.argv:
        big = english_text(20_000_000)
        start = time.perf_counter()
        counts = count_many(big, REGISTRY)
        big_seconds = time.perf_counter() - start

    print(
        f"load all {len(REGISTRY)} tokenizers (once per process)   {load_seconds:6.2f} s, "
        f"+{loaded - before:.0f} MiB resident (peak RSS {loaded:.0f} MiB)"
    )
    print(
        f"1 MB English, 4 OpenAI encodings, {os.cpu_count()} cores, {COUNT_WORKERS} counting threads: serial raw "
        f"encode_ordinary median {statistics.median(raws) * 1000:7.1f} ms, app path median "
        f"{statistics.median(apps) * 1000:7.1f} ms; ratio per run {', '.join(f'{r:.2f}' for r in ratios)}, "
        f"median {ratio:.2f} (target <= {TARGET_RATIO})"
    )
    print(
        f"  CPU time: busiest counting thread / serial raw run, median of {RUNS}: {cpu_ratio:.2f} "
        "(the wall-clock ratio on free cores)"
    )
    if "--skip-large" not in sys.argv:
        print(
            f"20 MB English, all {len(REGISTRY)} tokenizers (the page's work)  {big_seconds:6.2f} s "
            f"({statistics.mean(counts.values()) / 1e6:.1f} M tokens on average)"
        )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
