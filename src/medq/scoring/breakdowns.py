"""A task's own breakdowns as metrics: accuracy per value of a metadata field.

Benchmarks report their results by their own categories (AfriMed-QA by country and
specialty, VQA sets by organ and question type); a task declares
``metrics=(by_field("country"), ...)`` and `medq show --format json` carries
``by_country: {value: {n, correct, accuracy, ci_low, ci_high, invalid, errors}}``, by
medq's one accuracy rule (`medq.scoring.stats.breakdown`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def by_field(field: str) -> tuple[str, Callable[[Sequence[Mapping[str, Any]]], Any]]:
    """The (name, metric) pair ``by_<field>``: accuracy per value of ``metadata[field]``;
    None when no item has the field."""

    def metric(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        from medq.scoring.stats import NO_GROUP, breakdown

        groups = breakdown(samples, field)
        if all(g.group == NO_GROUP for g in groups):
            return None
        return {g.group: {"n": g.n, "correct": g.correct, "accuracy": g.accuracy,
                          "ci_low": g.ci_low, "ci_high": g.ci_high, "invalid": g.invalid,
                          "errors": g.errors} for g in groups}

    metric.__name__ = f"by_{field}"
    return f"by_{field}", metric
