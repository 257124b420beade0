"""How the core writes numbers that may lie beyond float64 in its sentences."""

from __future__ import annotations

import math


def power_of_ten(log10_value: float) -> str:
    """10^log10_value written as ``%.3g`` would write it, also beyond float64's range (where
    the value itself would overflow or underflow)."""
    exponent = math.floor(log10_value)
    mantissa = round(10.0 ** (log10_value - exponent), 2)
    if mantissa >= 10.0:
        mantissa, exponent = mantissa / 10.0, exponent + 1
    if -300 < exponent < 300:
        return f"{mantissa * 10.0**exponent:.3g}"
    return f"{mantissa:g}e{exponent:+03d}"
