"""Numbers written for people and spreadsheets: so many significant digits, and never in
exponent notation.

``f"{x:.6g}"`` writes a forecast of 42,002,815 as ``4.20028e+07``: its last digits are
lost, and some spreadsheets read the cell as text. ``plain_number`` keeps the whole
integer part and as many decimals as the significant digits leave; ``column_numbers``
gives a column of a table the same decimals, so that its figures line up and compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def decimals_for(magnitude: float, significant: int) -> int:
    """The decimals that show SIGNIFICANT digits of a number of MAGNITUDE (its absolute
    value): none for a number with as many digits before the point or more."""
    if magnitude == 0 or not math.isfinite(magnitude):
        return significant - 1
    return max(0, significant - 1 - math.floor(math.log10(magnitude)))


def plain_number(value: float, significant: int = 6) -> str:
    """VALUE with at least SIGNIFICANT digits (all of its integer part), in positional
    notation, without trailing zeros.

    Inputs:
        value: any float (NaN and infinities are written as Python writes them).
        significant: digits to keep.
    Outputs:
        the text, e.g. ``"42002815"``, ``"420.015"``, ``"0.000123457"``, ``"-3"``.
    """
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{decimals_for(abs(value), significant)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def column_numbers(values: Sequence[float | None], significant: int = 4) -> list[str]:
    """VALUES with the same decimals: SIGNIFICANT digits of the largest one (None: "n/a").

    Inputs:
        values: the figures of one column of a table.
        significant: digits shown of the largest finite value.
    Outputs:
        one text per value, e.g. ``["54.3", "116.8", "n/a"]``.
    """
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    decimals = decimals_for(max(finite, default=0.0), significant)
    return ["n/a" if v is None else f"{v:.{decimals}f}" for v in values]
