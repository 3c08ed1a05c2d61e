"""One-shot chain of thought for calculations: a worked example of the same calculator.

Khandekar et al., "MedCalc-Bench: Evaluating Large Language Models for Medical
Calculations" (NeurIPS 2024 D&B), ``evaluation/run.py`` "one_shot": the system text holds
one example note, its task and the JSON answer ``{"step_by_step_thinking": explanation,
"answer": ...}`` for the same calculator as the item; then the item is asked as in the
zero-shot prompt.

The official run takes its examples from a separate file of curated explanations
(``one_shot_finalized_explanation.json``). medq takes the example from the evaluated task
itself: the first *other* row of the same calculator in release order (its note, question,
Ground Truth Explanation and answer), skipping any row with the item's ID or the item's
patient note, so the test row never explains itself. The official template's doubled
braces (``{{"step_by_step_thinking": ...}}``, an f-string slip) are written single here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import calc_answer, require_calculation
from medq.strategies._shared.messages import calc_messages, generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import Strategy
from medq.types import Answer, Question, Status

if TYPE_CHECKING:
    from medq.tasks.base import Task

CALLS_PER_ITEM = 1
PROMPTS = ("medcalc_one_shot_system", "medcalc_one_shot")
ACCEPTS = ("calculation",)


def pick_example(question: Question, pool: Sequence[Question]) -> Question | None:
    """The first row of `pool` with the item's calculator that is not the item itself."""
    calculator = question.metadata.get("calculator_id")
    for candidate in pool:
        if (
            candidate.metadata.get("calculator_id") == calculator
            and candidate.id != question.id
            and candidate.context != question.context
            and candidate.metadata.get("explanation")
        ):
            return candidate
    return None


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def one_shot_cot(
    *, seed: int = 0, max_tokens: MaxTokens = None, task: Task | None = None
) -> Strategy:
    """Show one solved row of the same calculator, then ask step by step; one call.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
        task: the evaluated task (passed by the runner); its rows are the examples.
    """
    if task is None:
        raise StrategySpecError(
            "strategy 'one_shot_cot' takes its worked examples from the evaluated task's rows; "
            "build it with task=... (the runner does)"
        )
    pool = task.questions

    async def solve(question: Question, model: Model) -> Answer:
        answer_format = require_calculation(question, "one_shot_cot")
        example = pick_example(question, pool)
        if example is None:
            return Answer(None, Status.ERROR, reason=(
                f"no other row of calculator {question.metadata.get('calculator_id')!r} in "
                f"task {task.name!r} to use as the worked example"))
        output = {"step_by_step_thinking": example.metadata["explanation"],
                  "answer": example.gold}
        messages = calc_messages(
            question, "medcalc_one_shot_system", "medcalc_one_shot",
            example_note=example.context or "", example_question=example.stem,
            example_output=json.dumps(output),
        )
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        answer = calc_answer(await model.complete(request), question, answer_format)
        return replace(answer, details={**answer.details, "example": example.id})

    return solve
