"""How temperature reshapes a model's next-token probabilities.

A model outputs one score (logit) per vocabulary token; sampling draws from
``softmax(logits / temperature)``. Temperature below 1 sharpens the distribution toward the top
token, above 1 flattens it; 0 means always taking the top token (greedy decoding).

References
----------
.. [1] Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration" (sampling with
       temperature, top-k and nucleus sampling).
"""

from __future__ import annotations

import math

EXAMPLE_PROMPT = "The capital of France is"
EXAMPLE_LOGITS = {" Paris": 9.0, " a": 5.5, " located": 5.0, " the": 4.6, " Lyon": 3.2, " not": 2.8}
"""Illustrative scores for a few candidate next tokens (not from a real model)."""


def temperature_probabilities(logits: dict[str, float], temperature: float) -> dict[str, float]:
    """``softmax(logits / temperature)``; temperature 0 puts all probability on the top token."""
    if temperature < 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if not logits:
        return {}
    if temperature == 0:
        top = max(logits, key=logits.__getitem__)
        return {token: 1.0 if token == top else 0.0 for token in logits}
    peak = max(logits.values())
    weights = {token: math.exp((score - peak) / temperature) for token, score in logits.items()}
    total = sum(weights.values())
    return {token: weight / total for token, weight in weights.items()}
