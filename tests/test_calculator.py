"""The calculator: exact decimal arithmetic on numbers as reports write them, and a clear refusal
for anything that is not arithmetic — never a hang, never code run."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from ponder.reason.calculator import calculate, written


@pytest.mark.parametrize("expression, value", [
    ("1,496.5 − 1,202.9", "293.6"),
    ("(44.1 + 56.7) / 2", "50.4"),
    ("0.1 + 0.2", "0.3"),  # decimal, not binary floating point
    ("$1,452.4 - $1,146.2", "306.2"),
    ("3.5亿 + 2.1亿", "560000000.0"),
    ("（4.5 - 4）/ 4", "0.125"),
    ("-(0.9 + 0.1) / 2", "-0.5"),
    ("12% × 200", "24.00"),
    ("2 + 3 × 4", "14"),
])
def test_arithmetic_is_exact(expression: str, value: str) -> None:
    calculation = calculate(expression)
    assert calculation.ok and calculation.value == Decimal(value), calculation


@pytest.mark.parametrize("expression, refusal", [
    ("9**9**9", "powers"),
    ("2 ^ 1000", "powers"),
    ("__import__('os').system('true')", "names are not allowed ('__import__')"),
    ("rate + 2", "names are not allowed ('rate')"),
    ("0 / 0", "division by zero"),
    ("5 / 0", "division by zero"),
    ("(1 + 2", "unclosed parenthesis"),
    ("2 +", "ends early"),
    ("", "empty"),
    ("1 + " * 200 + "1", "longer than"),
    ("(" * 40 + "1" + ")" * 40, "nested deeper"),
    ("1 2", "unexpected"),
])
def test_what_is_not_arithmetic_is_refused_with_the_reason(expression: str, refusal: str) -> None:
    started = time.perf_counter()
    calculation = calculate(expression)
    assert not calculation.ok and refusal in calculation.refusal, calculation
    assert time.perf_counter() - started < 1  # refused, not worked on


@pytest.mark.parametrize("value, decimals, text", [
    (Decimal("293.60"), 2, "293.6"), (Decimal("-1234.5678"), 2, "-1,234.57"), (Decimal("24"), 2, "24"),
    (Decimal("0.125"), 4, "0.125"),
])
def test_results_are_written_at_their_rounding(value: Decimal, decimals: int, text: str) -> None:
    assert written(value, decimals) == text
