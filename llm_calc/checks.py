"""Range checks shared by the package's input dataclasses (``ModelSpec``, ``TrainingSetup``): a field
that must be a whole number within bounds is refused one way everywhere, naming the field, the
bounds and the value it got."""

from __future__ import annotations

import math

PRINTABLE_BITS = 64
"""Whole numbers wider than this are shown by their order of magnitude in a message: Python refuses
to print an ``int`` of over 4,300 digits, and one above 1e308 has no float to format it with."""
SHOWN_CHARS = 40
"""Longest text of a refused value shown in a message (a hostile string may be megabytes long)."""


def shown_value(value: object) -> str:
    """``value`` as a refusal message shows it: its ``repr``, cut to ``SHOWN_CHARS`` characters; a
    whole number too wide to print as its order of magnitude (``~1e400``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > PRINTABLE_BITS:
        return f"{'-' if value < 0 else ''}~1e{math.floor(math.log10(abs(value)))}"
    return f"{value!r:.{SHOWN_CHARS}}"


def check_whole_number(name: str, value: object, low: int, high: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a whole number (an ``int``, not a
    ``bool``) from ``low`` to ``high``, both included."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, got {shown_value(value)}")
