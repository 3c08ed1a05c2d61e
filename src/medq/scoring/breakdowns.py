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


def by_field(field: str) -> tuple[str, Callable[[Sequence[Mapping[str, Any]]], Any],
                                  Callable[[Any], list[str]]]:
    """The metric ``by_<field>`` (name, function, `medq show` lines): accuracy per value of
    ``metadata[field]``; None when no item has the field."""

    def metric(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        from medq.scoring.stats import NO_GROUP, breakdown

        groups = breakdown(samples, field)
        if all(g.group == NO_GROUP for g in groups):
            return None
        return {g.group: {"n": g.n, "correct": g.correct, "accuracy": g.accuracy,
                          "ci_low": g.ci_low, "ci_high": g.ci_high, "invalid": g.invalid,
                          "errors": g.errors} for g in groups}

    def lines(value: Mapping[str, Mapping[str, Any]]) -> list[str]:
        return [f"by {field}: " + ", ".join(
            f"{group} {_pct(row['accuracy'])} (n={row['n']})" for group, row in value.items())]

    metric.__name__ = f"by_{field}"
    return f"by_{field}", metric, lines


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"

