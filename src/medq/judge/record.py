"""The record of an item's grading, stored with its result (``details["grading"]``).

Typed (pydantic) rather than a loose dict, so the summary, the report and `medq judge`
read back exactly what the grader wrote: every judge's vote on every criterion, the
decision, and why a criterion was left ungraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GRADING_KEY = "grading"


class Vote(BaseModel):
    """One judge's verdict on one criterion.

    Attributes:
        judge: the judge's role (``judge``, ``judge_2`` …).
        label: the verdict's label (``met`` / ``not_met``, a grade, an option letter), or
            None when the judge gave no valid verdict after the re-asks.
        attempts: calls it took (1 + re-asks).
        error: the last validation error, when there is no label.
        model: the model ID the judge's server reported.
        explanation: the judge's stated reason.
    """

    model_config = ConfigDict(frozen=True)

    judge: str
    label: str | None
    attempts: int
    error: str | None = None
    model: str | None = None
    explanation: str = ""


class Decision(BaseModel):
    """The jury's decision on one criterion (or on the item, for one-question graders).

    Attributes:
        label: the majority's label; None when the criterion is ungraded.
        votes: every judge's vote, in jury order.
        ungraded: why there is no decision (no valid verdict, no majority), else None.
        points: the criterion's weight, for rubric tasks.
    """

    model_config = ConfigDict(frozen=True)

    label: str | None
    votes: tuple[Vote, ...]
    ungraded: str | None = None
    points: float | None = None


class Grading(BaseModel):
    """How one item was graded.

    Attributes:
        prompt: the judge prompt file used.
        judges: the jury's roles, in order.
        decisions: one per criterion, in the rubric's order.
        judge_scores: the item's score by each judge's own verdicts alone (None where that
            judge left a criterion the score needs without a verdict).
    """

    model_config = ConfigDict(frozen=True)

    prompt: str
    judges: tuple[str, ...]
    decisions: tuple[Decision, ...]
    judge_scores: dict[str, float | None] = Field(default_factory=dict)

    @property
    def ungraded(self) -> int:
        """Criteria without a decision."""
        return sum(d.label is None for d in self.decisions)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def grading_of(details: Mapping[str, Any]) -> Grading | None:
    """The grading record in a result's details, or None for items no judge graded."""
    raw = details.get(GRADING_KEY)
    return None if raw is None else Grading.model_validate(raw)
