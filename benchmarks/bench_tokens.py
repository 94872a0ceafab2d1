"""Speed and memory of token counting (issue 3), measured on this machine.

    python benchmarks/bench_tokens.py

Target: counting a 1 MB English text with the four OpenAI encodings through the app's path
(``Tokenizer.count``) within 1.2x of raw ``Encoding.encode_ordinary``. Also reports the one-time
load of every tokenizer, the memory they hold (shared by every browser session: they are cached
per process), and the time to count a 20 MB upload with all seven tokenizers as the page does.
Exits 1 if the target is missed.
"""

from __future__ import annotations

import inspect
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_calc.tokenizers import REGISTRY, get_tokenizer  # noqa: E402

OPENAI = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")


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


def best_of(action, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return min(samples)


def main() -> int:
    before = rss_mib()
    start = time.perf_counter()
    for name in REGISTRY:
        get_tokenizer(name)
    load_seconds = time.perf_counter() - start
    loaded = rss_mib()
    assert all(get_tokenizer(name) is get_tokenizer(name) for name in REGISTRY)  # one copy per process

    text = english_text(1_000_000)
    raw = sum(best_of(lambda n=n: len(get_tokenizer(n)._encoding.encode_ordinary(text))) for n in OPENAI)
    app = sum(best_of(lambda n=n: get_tokenizer(n).count(text)) for n in OPENAI)
    ratio = app / raw

    big = english_text(20_000_000)
    start = time.perf_counter()
    counts = {name: get_tokenizer(name).count(big) for name in REGISTRY}
    big_seconds = time.perf_counter() - start

    print(
        f"load all {len(REGISTRY)} tokenizers (once per process)   {load_seconds:6.2f} s, "
        f"+{loaded - before:.0f} MiB resident (peak RSS {loaded:.0f} MiB)"
    )
    print(
        f"1 MB English, 4 OpenAI encodings: raw encode_ordinary {raw * 1000:7.1f} ms, "
        f"app count {app * 1000:7.1f} ms, ratio {ratio:.2f} (target <= 1.2)"
    )
    print(
        f"20 MB English, all {len(REGISTRY)} tokenizers (the page's work)  {big_seconds:6.2f} s "
        f"({statistics.mean(counts.values()) / 1e6:.1f} M tokens on average)"
    )
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
