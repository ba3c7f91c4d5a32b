"""How strata prints metric values: dollars as 17,790, losses as 0.09262."""

from __future__ import annotations


def metric_value(value: float) -> str:
    """`12,345` for magnitudes of a thousand and more, four significant digits below."""
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
