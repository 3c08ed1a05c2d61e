"""Medical error detection and correction as one JSON reply: flag, sentence ID, correction.

Ben Abacha et al., "MEDEC: A Benchmark for Medical Error Detection and Correction in
Clinical Notes" (2024) and MEDIQA-CORR 2024: the model gets the text one sentence a line
with sentence IDs and answers the three subtasks together; here as
``{"error_flag": 0|1, "error_sentence_id": N, "corrected_sentence": "..."}`` (the paper's
prompts ask for "CORRECT" or "<id> <corrected sentence>" in plain text; JSON makes the
reply unambiguous to read). The answer's ``choice`` is the flag ("1"/"0"), scored against
the reference flag; the sentence ID and correction go to ``details["medec"]`` for the
sentence accuracy and ROUGE-1 metrics (`medq.scoring.medec`).
"""

from __future__ import annotations

from medq.models.base import Model
from medq.prompts import render
from medq.registry import strategies
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = 1
PROMPTS = ("medec_system", "medec_json")
ACCEPTS = ("correction",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def medec_json(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Ask for the error flag, sentence ID and corrected sentence as JSON; one call.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        if question.options or "error_sentence_id" not in question.metadata:
            raise StrategySpecError(
                f"strategy 'medec_json' answers MEDEC items (tasks 'medec', 'medec_val'); "
                f"item {question.id!r} is not one"
            )
        messages = (
            Message("system", render("medec_system")),
            Message("user", render("medec_json", sentences=question.stem)),
        )
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        from medq.scoring.readings import leaf, read_leaf

        completion = await model.complete(request)
        return read_leaf(leaf("correction", completion), completion.generations[0])

    return solve
