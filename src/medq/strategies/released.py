"""Reading released outputs: the strategy of `medq import` runs.

Papers release their models' responses (MIRAGE, MedAgentsBench, BiasMedQA, MedCalc-Bench);
`medq import` serves them through `medq.importers.release.ReleaseModel` and reads each with
this strategy, so an imported run is scored by the same readers, runner and store as an
evaluated one (and re-read by `medq rescore` the same way).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from medq.registry import strategies
from medq.scoring.readings import leaf, read_leaf
from medq.strategies._shared.answers import answer_from, calc_answer
from medq.strategies.base import Strategy, StrategySpecError
from medq.types import Answer, GenerationRequest, Message, Question

READERS = ("option", "calc")
PROMPT_PREFIX = "medq: the released output for item "


def release_request(item_id: str) -> GenerationRequest:
    """The request whose completion is item `item_id`'s released output."""
    return GenerationRequest((Message("user", f"{PROMPT_PREFIX}{item_id}"),))


@strategies.register(prompts=(), calls_per_item=1,
                     accepts=("choice", "calculation", "correction", "free_text"))
def released(*, reader: str = "option") -> Strategy:
    """Read an item's released output (`medq import`); one stored call per item.

    Args:
        reader: ``option`` (free text through medq's extractor; a released letter is
            checked against the options) or ``calc`` (MedCalc-Bench's calculation reader).
    """
    if reader not in READERS:
        raise StrategySpecError(f"released: reader must be one of {READERS}, not {reader!r}")

    async def solve(question: Question, model: Any) -> Answer:
        completion = await model.complete(release_request(question.id))
        release = dict(question.metadata.get("release") or {})
        if reader == "calc":
            answer = calc_answer(completion, question, question.metadata["answer_format"])
        elif release.get("given") == "choice":
            reading = leaf("given_choice", completion, options=list(question.options))
            answer = read_leaf(reading, completion.generations[0])
        else:
            answer = answer_from(completion, question)
        details = {**release.get("details", {}), **answer.details}
        return replace(answer, details=details)

    return solve
