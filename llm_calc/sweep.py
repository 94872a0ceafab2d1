"""Series for charts: the same estimate evaluated over a range of one input."""

from __future__ import annotations

from dataclasses import replace

from llm_calc.architecture import ModelSpec
from llm_calc.memory import InferenceSettings, MemoryBreakdown, inference_memory

CONTEXT_STEPS = tuple(2**k for k in range(7, 21))
"""128 to 1,048,576 tokens, doubling: the context choices the app offers. [tokens]"""


def memory_by_context(spec: ModelSpec, settings: InferenceSettings, largest: int) -> list[tuple[int, MemoryBreakdown]]:
    """Memory breakdown at every context step up to ``largest`` (and at ``largest`` itself)."""
    contexts = sorted({c for c in CONTEXT_STEPS if c <= largest} | {largest})
    return [(c, inference_memory(spec, replace(settings, context_tokens=c))) for c in contexts]
