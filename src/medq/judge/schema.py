"""What a judge must answer: one pydantic model per kind of verdict, validated strictly.

A verdict is a JSON object. Validation is strict (a boolean field takes ``true`` or
``false``, never ``"maybe"``, ``"yes"`` or ``1``), so a reply either is a verdict or is
not; there is no coercion that could turn a vague answer into a grade. Every verdict
reduces to one `label` (a string), the unit of juries and agreement statistics.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Verdict(BaseModel):
    """A judge's verdict: an explanation and the decision its subclass adds."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    LABELS: ClassVar[tuple[str, ...]] = ()

    explanation: str = ""

    @property
    def label(self) -> str:
        """The decision as one string (for juries and agreement)."""
        raise NotImplementedError


class RubricVerdict(Verdict):
    """Whether a response meets one rubric criterion (HealthBench's grader output)."""

    LABELS: ClassVar[tuple[str, ...]] = ("met", "not_met")

    criteria_met: bool

    @property
    def label(self) -> str:
        return "met" if self.criteria_met else "not_met"


class GradeVerdict(Verdict):
    """A free-text answer graded against a reference: correct, partially or incorrect."""

    LABELS: ClassVar[tuple[str, ...]] = ("correct", "partially_correct", "incorrect")

    grade: Literal["correct", "partially_correct", "incorrect"]

    @property
    def label(self) -> str:
        return self.grade


class ChoiceVerdict(Verdict):
    """Which option a response chose (None: none, or several).

    Validated against the item's option letters, passed as the validation context
    ``{"letters": [...]}``.
    """

    choice: str | None

    @field_validator("choice")
    @classmethod
    def _an_option(cls, value: str | None, info: ValidationInfo) -> str | None:
        letters = (info.context or {}).get("letters")
        if value is not None and letters is not None and value not in letters:
            raise ValueError(f"must be one of {', '.join(letters)} or null, not {value!r}")
        return value

    @property
    def label(self) -> str:
        return self.choice if self.choice is not None else "none"


def labels_of(schema: type[Verdict], context: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The labels a schema's verdicts can take (a choice verdict's come from `context`)."""
    if schema.LABELS:
        return schema.LABELS
    return (*((context or {}).get("letters") or ()), "none")
