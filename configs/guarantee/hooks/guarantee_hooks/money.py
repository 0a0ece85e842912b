"""Money in yuan as Decimal, rounded to the fen (0.01) with a product's rounding mode."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

FEN = Decimal("0.01")
#: The `rounding` choices of loan_product and the Decimal rounding mode of each.
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}


def rounding_mode(name: str | None) -> str:
    """Return the Decimal rounding mode of a product's `rounding` choice; half up when none is given."""
    if not name:
        return ROUND_HALF_UP
    try:
        return ROUNDING_MODES[name]
    except KeyError:
        raise ValueError(f"unknown rounding {name!r}; expected one of {', '.join(ROUNDING_MODES)}") from None


def to_fen(value: Decimal, rounding: str = "half_up") -> Decimal:
    """Round yuan to the fen with the named rounding (a key of ROUNDING_MODES)."""
    return value.quantize(FEN, rounding=rounding_mode(rounding))


def decimal_of(value: Any) -> Decimal:
    """Return a stored number as Decimal; 0 for an empty value."""
    if value is None or value == "":
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))
