"""Byte units used at the edges where numbers are shown.

GPU memory is sold in binary units: an "80 GB" A100 reports 81,920 MiB in ``nvidia-smi``, i.e.
80 GiB. We therefore show memory in GiB (2**30 bytes) everywhere, and keep bytes inside.
"""

MIB = 1024**2
GIB = 1024**3
GB = 10**9
MICROSECONDS_PER_SECOND = 1_000_000
"""Engine overheads are kept in seconds and shown in µs."""


def format_gib(n_bytes: float, digits: int = 1) -> str:
    """Bytes as a human string in GiB, e.g. ``"13.5 GiB"``; small values in MiB."""
    if abs(n_bytes) < GIB:
        return f"{n_bytes / MIB:,.{0 if n_bytes >= 100 * MIB else 1}f} MiB"
    return f"{n_bytes / GIB:,.{digits}f} GiB"


def format_count(n: float) -> str:
    """A parameter or token count with a metric suffix: 6.74 B, 131 K."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            value = n / scale
            return f"{value:,.3g} {suffix}" if value < 1000 else f"{value:,.0f} {suffix}"
    return f"{n:,.0f}"
