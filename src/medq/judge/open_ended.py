"""Open-ended variants of multiple-choice tasks: the options removed, the answer judged.

FreeMedQA and OpenMedQA (2025) ask MedQA questions without their options, where models
lose ~39 points of accuracy; medq's variant works for any multiple-choice task. The model
sees the question (and its context) as one user turn (strategy ``respond``); the run's
judge compares the reply with the text of the gold option under the rubric in
``prompts/judge_open_ended.txt`` (correct / partially correct / incorrect). An item is
correct only when graded correct; its score is 1, 0.5 or 0, so the run has both an
accuracy (paired by original item with the multiple-choice run: ``medq probe --clean MCQ
--run OPEN``) and a partial-credit score.

The probe ``open_ended`` (`medq.probes.open_ended`) makes the items with
`open_ended_question` and brings `GRADING` (answer kind, scorer, grader) to the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from medq.judge.ask import REASK_PROMPT
from medq.judge.jury import judge_one, jury
from medq.judge.record import GRADING_KEY, Grading
from medq.judge.schema import GradeVerdict
from medq.prompts import render
from medq.types import Answer, Question, Status

PROMPT = "judge_open_ended"
GRADE_SCORES = {"correct": 1.0, "partially_correct": 0.5, "incorrect": 0.0}


def open_ended_question(question: Question) -> Question:
    """The item without its options: the gold option's text is the reference answer
    (``metadata["reference"]``); the gold letter stays, so the item pairs with its
    multiple-choice run."""
    if not question.options:
        raise ValueError(f"item {question.id!r} has no options: the open_ended probe turns "
                         f"multiple-choice items into open questions")
    prompt = f"{question.context}\n\n{question.stem}" if question.context else question.stem
    return Question(
        id=question.id,
        stem=question.stem,
        options={},
        gold=question.gold,
        context=question.context,
        metadata={
            **question.metadata,
            "messages": [{"role": "user", "content": prompt}],
            "question": prompt,
            "reference": question.options[question.gold],
            "mcq_options": dict(question.options),
        },
    )


def graded_correct(question: Question, choice: str) -> bool:
    """The scorer: correct only when the judge graded the reply ``correct``."""
    return choice == "correct"


class OpenEndedGrader:
    """The grading stage: the jury grades the reply against the reference answer."""

    prompts = (PROMPT, REASK_PROMPT)

    async def __call__(self, question: Question, answer: Answer, model: Any) -> Answer:
        if answer.status is not Status.OK:
            return answer
        judges = jury(model)
        decision = await judge_one(judges, PROMPT, self.fields(question, answer.text),
                                   GradeVerdict)
        per_judge = {}
        for vote in decision.votes:
            per_judge[vote.judge] = None if vote.label is None else GRADE_SCORES[vote.label]
        grading = Grading(prompt=PROMPT, judges=tuple(n for n, _ in judges),
                          decisions=(decision,), judge_scores=per_judge)
        details = {**answer.details, GRADING_KEY: grading.to_json()}
        if decision.label is None:
            return replace(answer, status=Status.UNGRADED, reason=decision.ungraded,
                           details=details)
        return replace(answer, choice=decision.label, details=details,
                       score=GRADE_SCORES[decision.label])

    @staticmethod
    def fields(question: Question, response: str) -> dict[str, str]:
        return {"question": str(question.metadata.get("question") or question.stem),
                "reference": str(question.metadata["reference"]), "response": response}

    def plan(self, question: Question) -> list[str]:
        """The judge prompt for the item, with an empty response (``--dry-run``)."""
        return [render(PROMPT, **self.fields(question, ""))]


@dataclass(frozen=True)
class OpenEndedGrading:
    """How an open-ended run is graded: free-text answers, the judge's grader, correct
    only when graded correct (`medq.probes.base.probe_grading`)."""

    scorer: Callable[[Question, str], bool]
    grader: Any

    def apply(self, task: Any) -> Any:
        """`task` (a `medq.tasks.base.Task`) graded this way; its items are probed apart."""
        return replace(task, answer_kind="free_text", scorer=self.scorer, grader=self.grader,
                       prompts=self.grader.prompts, metrics=())


GRADING = OpenEndedGrading(graded_correct, OpenEndedGrader())
