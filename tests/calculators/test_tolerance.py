"""MedCalc-Bench's official correctness rule on hand-made edge cases."""

from __future__ import annotations

import pytest

from medq.calculators import is_correct
from medq.calculators.tolerance import parse_date, parse_number, parse_weeks_days


@pytest.mark.parametrize(("kind", "answer", "truth", "low", "high", "expected"), [
    ("decimal", "25.9", "25.238", "23.9761", "26.4999", True),
    ("decimal", 26.4999, "25.238", "23.9761", "26.4999", True),  # at the upper limit
    ("decimal", "23.9761", "25.238", "23.9761", "26.4999", True),  # at the lower limit
    ("decimal", 26.5, "25.238", "23.9761", "26.4999", False),
    ("decimal", "about 25", "25.238", "23.9761", "26.4999", False),
    ("decimal", "1e1", "10", "9.5", "10.5", True),
    ("integer", 4.0, "4", None, None, True),
    ("integer", "4.0", "4", None, None, True),
    ("integer", "4.4", "4", None, None, True),
    ("integer", "4.5", "4", None, None, True),  # Python round: half to even
    ("integer", "5.5", "5", None, None, False),
    ("integer", "-1", "-1", None, None, True),
    ("integer", "four", "4", None, None, False),
    ("integer", True, "1", None, None, False),
    ("date", "09/23/2014", "09/23/2014", None, None, True),
    ("date", "9/23/2014", "09/23/2014", None, None, True),
    ("date", "2014-09-23", "09/23/2014", None, None, True),
    ("date", "09/24/2014", "09/23/2014", None, None, False),  # off by one day
    ("date", "next week", "09/23/2014", None, None, False),
    ("weeks_days", (0, 6), "('0 weeks', '6 days')", None, None, True),
    ("weeks_days", "(14, 1)", "('14 weeks', '1 days')", None, None, True),
    ("weeks_days", "14 weeks 1 day", "('14 weeks', '1 days')", None, None, True),
    ("weeks_days", "(14, 2)", "('14 weeks', '1 days')", None, None, False),
    ("integer", "('3 weeks', '4 days')", "('3 weeks', '4 days')", None, None, True),
])
def test_is_correct(kind: str, answer: object, truth: str, low: object, high: object,
                    expected: bool) -> None:
    assert is_correct(kind, answer, truth, low, high) is expected


def test_parsers_never_evaluate_text() -> None:
    assert parse_number("__import__('os')") is None
    assert parse_number("nan") is None and parse_number(float("inf")) is None
    assert parse_date("13/01/2020") is None
    assert parse_weeks_days("no numbers") is None


def test_bad_rows_are_errors() -> None:
    with pytest.raises(ValueError, match="lower and upper"):
        is_correct("decimal", 1.0, "1.0")
    with pytest.raises(ValueError, match="unknown output type"):
        is_correct("fraction", 1.0, "1.0")
