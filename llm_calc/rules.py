"""The primer's rules of thumb, kept beside the detailed estimates so users can compare.

The rules multiply model size by a constant. They answer "roughly how big a GPU?" for a short
prompt and one user; the detailed estimate adds what grows with use (KV cache with context and
batch) and what is fixed per card (runtime overhead), which is why the two differ.

The rules are published in decimal gigabytes (1 GB = 10⁹ bytes) per billion parameters, so a
rule's GB per billion is also its bytes per parameter. The functions return bytes; pages show
them in GiB (2³⁰ bytes) like every other memory figure, and label the rule itself as decimal.
"""

from __future__ import annotations

INFERENCE_GB_PER_BILLION_16BIT = 2.1
"""Inference at 16 bits: 2 bytes per parameter plus ~5 % for cache and buffers. [decimal GB per 1e9 params]"""

INFERENCE_GB_PER_BILLION_QUANTIZED = 0.7
"""Inference with 4-bit weights: 0.5 bytes per parameter plus scales, cache and buffers. [decimal GB per 1e9 params]"""

FINE_TUNING_GB_PER_BILLION = 12
"""Full fine-tuning: about 12 GB per billion parameters, i.e. 12 bytes per parameter (16-bit
weights and gradients plus two fp32 Adam moments: 2 + 2 + 8), activations not counted.
[decimal GB per 1e9 params]"""


def inference_rule_bytes(params: float, quantized: bool) -> int:
    """The rule-of-thumb inference memory for ``params`` parameters. [bytes]"""
    if params < 0:
        raise ValueError("parameter count must not be negative")
    per_billion = INFERENCE_GB_PER_BILLION_QUANTIZED if quantized else INFERENCE_GB_PER_BILLION_16BIT
    return round(params / 1e9 * per_billion * 1e9)


def fine_tuning_rule_bytes(params: float) -> int:
    """The rule-of-thumb full fine-tuning memory for ``params`` parameters. [bytes]"""
    if params < 0:
        raise ValueError("parameter count must not be negative")
    return round(params / 1e9 * FINE_TUNING_GB_PER_BILLION * 1e9)
