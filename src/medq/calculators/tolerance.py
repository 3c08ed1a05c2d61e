"""MedCalc-Bench's official correctness rule, as a pure function over parsed values.

Khandekar et al. 2024 (MedCalc-Bench, ``evaluation/evaluate.py``): a decimal answer is
correct when it lies within the row's [Lower Limit, Upper Limit]; an integer answer when
it rounds (Python ``round``, half to even) to the ground truth; a date (MM/DD/YYYY) and a
gestational age (weeks, days) only when exact. The official script ``eval()``s text; this
module parses numbers, dates and tuples with plain string handling and never evaluates.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_WEEKS_DAYS = re.compile(
    r"""\(?\s*["']?\s*(\d+)\s*(?:weeks?)?\s*["']?\s*,?\s*["']?\s*(\d+)\s*(?:days?)?\s*["']?\s*\)?""",
    re.IGNORECASE,
)
_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y")


def parse_number(value: object) -> float | None:
    """A finite float from a number or plain numeric text ("4", "4.0", "-1.5e2"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip().replace(",", "")):
        number = float(value.strip().replace(",", ""))
    else:
        return None
    return number if math.isfinite(number) else None


def parse_date(value: object) -> date | None:
    """A date from a ``date`` or text in MM/DD/YYYY (also YYYY-MM-DD, MM-DD-YYYY); else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_weeks_days(value: object) -> tuple[int, int] | None:
    """(weeks, days) from a tuple/list of two ints or text like "('14 weeks', '1 days')"."""
    if isinstance(value, tuple | list) and len(value) == 2:
        parts = [_leading_int(part) for part in value]
        if parts[0] is not None and parts[1] is not None:
            return parts[0], parts[1]
        return None
    if not isinstance(value, str):
        return None
    match = _WEEKS_DAYS.search(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _leading_int(part: object) -> int | None:
    if isinstance(part, bool):
        return None
    if isinstance(part, int):
        return part
    if isinstance(part, float) and part.is_integer():
        return int(part)
    if isinstance(part, str):
        match = re.match(r"\s*(\d+)", part)
        return int(match.group(1)) if match else None
    return None


def is_correct(
    output_type: str,
    answer: object,
    ground_truth: object,
    lower: object = None,
    upper: object = None,
) -> bool:
    """Whether ``answer`` matches a MedCalc-Bench row under the official tolerance.

    Args:
        output_type: "decimal", "integer", "date" or "weeks_days" (MedCalc-Bench labels
            Calculator 69's (weeks, days) rows "integer"; such a ground truth is detected
            and compared as weeks_days).
        answer: the model's (or calculator's) answer: a number, date, tuple or text.
        ground_truth: the row's Ground Truth Answer.
        lower: the row's Lower Limit (decimal rows).
        upper: the row's Upper Limit (decimal rows).

    An answer that cannot be parsed is incorrect, never an error.

    Example:
        >>> is_correct("decimal", "25.9", "25.238", "23.9761", "26.4999")
        True
        >>> is_correct("integer", 4.0, "4")
        True
    """
    kind = output_type.strip().lower()
    if kind == "integer" and isinstance(ground_truth, str) and "week" in ground_truth.lower():
        kind = "weeks_days"
    if kind == "decimal":
        value, low, high = parse_number(answer), parse_number(lower), parse_number(upper)
        if low is None or high is None:
            raise ValueError("a decimal row needs numeric lower and upper limits")
        return value is not None and low <= value <= high
    if kind == "integer":
        value, truth = parse_number(answer), parse_number(ground_truth)
        if truth is None:
            raise ValueError(f"integer ground truth is not a number: {ground_truth!r}")
        # Python's round (half to even), as the official script applies it.
        return value is not None and round(value) == round(truth)
    if kind == "date":
        truth_date = parse_date(ground_truth)
        if truth_date is None:
            raise ValueError(f"date ground truth is not a date: {ground_truth!r}")
        return parse_date(answer) == truth_date
    if kind == "weeks_days":
        truth_wd = parse_weeks_days(ground_truth)
        if truth_wd is None:
            raise ValueError(f"ground truth is not (weeks, days): {ground_truth!r}")
        return parse_weeks_days(answer) == truth_wd
    raise ValueError(f"unknown output type {output_type!r}")
