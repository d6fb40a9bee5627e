"""Numbers for people and spreadsheets: significant digits, never exponent notation."""

from __future__ import annotations

import math

import pytest

from rnnkit.numbers import column_numbers, plain_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42_002_815.4, "42002815"),  # .6g: 4.20028e+07
        (420.01504873, "420.015"),
        (0.000123456789, "0.000123457"),
        (-3.0, "-3"),
        (-0.0000001, "-0.0000001"),
        (0.0, "0"),
        (999.9996, "1000"),
    ],
)
def test_plain_number_keeps_the_integer_part_and_six_digits(value: float, text: str) -> None:
    assert plain_number(value) == text
    assert "e" not in text and float(text) == pytest.approx(value, rel=1e-5)


def test_plain_number_writes_what_is_not_finite_as_python_does() -> None:
    assert [plain_number(v) for v in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]


def test_a_column_has_the_decimals_of_its_largest_value() -> None:
    assert column_numbers([54.34, 116.8, None, 96.0]) == ["54.3", "116.8", "n/a", "96.0"]
    assert column_numbers([3_699_099.2, 11_451_666.0]) == ["3699099", "11451666"]
    assert column_numbers([0.0691, 0.0532]) == ["0.06910", "0.05320"]
    assert column_numbers([0.0, 0.0]) == ["0.000", "0.000"]
