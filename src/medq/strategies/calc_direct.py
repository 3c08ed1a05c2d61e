"""Direct answer for calculations: the official MedCalc-Bench "direct_answer" prompt.

Khandekar et al., "MedCalc-Bench: Evaluating Large Language Models for Medical
Calculations" (NeurIPS 2024 D&B), ``evaluation/run.py``: the system text asks for a JSON
dict ``{"answer": str(value which is the answer to the question)}`` and the user turn gives
the patient note and the task. The answer is read by `medq.scoring.medcalc` and scored by
the task's official tolerance rule.

Also home to the helpers the calculation strategies share (``calc_direct``, ``calc_cot``,
``one_shot_cot``, ``calculator_tool``): they answer open-answer calculation items only, and
a multiple-choice item is a clear error rather than a silently invalid answer.
"""

from __future__ import annotations

from medq.models.base import Model
from medq.prompts import render
from medq.registry import strategies
from medq.strategies._params import MaxTokens
from medq.strategies.base import Strategy, StrategySpecError, generation_request
from medq.types import Answer, Completion, Message, Question

CALLS_PER_ITEM = 1
PROMPTS = ("medcalc_direct_system", "medcalc_direct")
ACCEPTS = ("calculation",)


def require_calculation(question: Question, strategy: str) -> str:
    """The item's answer format; StrategySpecError for an item that is not a calculation."""
    answer_format = question.metadata.get("answer_format")
    if question.options or not isinstance(answer_format, str):
        raise StrategySpecError(
            f"strategy {strategy!r} answers open-answer calculation items (task 'medcalc'); "
            f"item {question.id!r} is "
            + ("multiple choice: use direct, cot or another multiple-choice strategy"
               if question.options else "not a MedCalc-Bench item (no 'answer_format')")
        )
    return answer_format


def calc_messages(
    question: Question, system: str, user: str, **system_fields: str
) -> tuple[Message, ...]:
    """The system and user turns of a calculation prompt (the note is the item's context)."""
    fields = {"note": question.context or "", "question": question.stem}
    return (
        Message("system", render(system, **system_fields)),
        Message("user", render(user, **fields)),
    )


def calc_answer(completion: Completion, question: Question, answer_format: str) -> Answer:
    """Read the calculation answer of the first generation; unparseable means invalid."""
    from medq.scoring.readings import leaf, read_leaf

    reading = leaf("calc", completion, answer_format=answer_format)
    return read_leaf(reading, completion.generations[0])


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def calc_direct(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Ask for ``{"answer": ...}`` only; one call at temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        answer_format = require_calculation(question, "calc_direct")
        messages = calc_messages(question, "medcalc_direct_system", "medcalc_direct")
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        return calc_answer(await model.complete(request), question, answer_format)

    return solve
