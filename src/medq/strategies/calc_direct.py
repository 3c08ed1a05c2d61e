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
from medq.registry import strategies
from medq.strategies._shared.answers import calc_answer, require_calculation
from medq.strategies._shared.messages import calc_messages, generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Question

CALLS_PER_ITEM = 1
PROMPTS = ("medcalc_direct_system", "medcalc_direct")
ACCEPTS = ("calculation",)


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
