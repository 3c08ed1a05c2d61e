"""Reading a strategy's final answer from a generation, with the reading recorded for rescore.
"""

from __future__ import annotations

from collections.abc import Mapping

from medq.strategies._shared.spec import StrategySpecError
from medq.types import (
    Answer,
    Completion,
    Question,
)


def answer_from(
    completion: Completion,
    question: Question,
    index: int = 0,
    *,
    back: Mapping[str, str] | None = None,
) -> Answer:
    """Extract the chosen option from one generation; unparseable means invalid.

    `question` is the item as presented (a shuffled view, for instance) and `back` maps its
    letters to the original ones. The answer carries its `Reading`, so `medq rescore` can
    read it again from the stored response alone.
    """
    from medq.scoring.readings import choice_reading, read_leaf

    reading = choice_reading(completion, question.options, index, back=back,
                             languages=languages_of(question))
    return read_leaf(reading, completion.generations[index])


def languages_of(question: Question) -> tuple[str, ...]:
    """The answer languages of an item: its metadata's ``language``, when it has one."""
    language = question.metadata.get("language")
    return (str(language),) if language else ()


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


def calc_answer(completion: Completion, question: Question, answer_format: str) -> Answer:
    """Read the calculation answer of the first generation; unparseable means invalid."""
    from medq.scoring.readings import leaf, read_leaf

    reading = leaf("calc", completion, answer_format=answer_format)
    return read_leaf(reading, completion.generations[0])
