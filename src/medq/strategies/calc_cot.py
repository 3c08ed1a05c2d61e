"""Zero-shot chain of thought for calculations: the official MedCalc-Bench "zero_shot" prompt.

Khandekar et al., "MedCalc-Bench: Evaluating Large Language Models for Medical
Calculations" (NeurIPS 2024 D&B), ``evaluation/run.py``: think step by step and answer with
the JSON dict ``{"step_by_step_thinking": ..., "answer": ...}``; after Kojima et al.,
"Large Language Models are Zero-Shot Reasoners" (NeurIPS 2022).
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
PROMPTS = ("medcalc_cot_system", "medcalc_cot")
ACCEPTS = ("calculation",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def calc_cot(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Reason step by step inside the JSON answer; one call at temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        answer_format = require_calculation(question, "calc_cot")
        messages = calc_messages(question, "medcalc_cot_system", "medcalc_cot")
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        return calc_answer(await model.complete(request), question, answer_format)

    return solve
