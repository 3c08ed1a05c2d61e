"""Open-ended: the item without its options; the run's judge grades the free-text reply.

FreeMedQA and OpenMedQA (2025) ask MedQA questions without their options, where models
lose ~39 points of accuracy. The reply is graded against the text of the gold option by
the run's judge (``--judge``), correct / partially correct / incorrect, under the rubric
in ``prompts/judge_open_ended.txt`` (`medq.judge.open_ended`); answer with ``--strategy
respond``. Must be the last probe: its items are no longer multiple choice.
"""

from __future__ import annotations

from medq.judge.open_ended import GRADING, open_ended_question
from medq.probes.base import Transform, Variant, probes
from medq.types import Question


@probes.register(grading=GRADING)
def open_ended() -> Transform:
    """Remove the options; the judge compares the reply with the gold option's text."""

    def transform(question: Question) -> list[Variant]:
        return [Variant("open", open_ended_question(question), {})]

    return transform
