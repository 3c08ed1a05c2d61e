"""Zero-shot chain of thought: reason step by step, then state the answer.

Kojima et al., "Large Language Models are Zero-Shot Reasoners" (NeurIPS 2022); used as the
CoT baseline in MIRAGE (Xiong et al., Findings of ACL 2024) and MedAgentsBench (Tang et
al. 2025).
"""

from __future__ import annotations

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.messages import chat, generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Question

CALLS_PER_ITEM = 1
PROMPTS = ("system", "cot")
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def cot(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Think step by step, end with ``Answer: X``; one call at temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        request = generation_request(chat(question, "cot"), seed=seed, max_tokens=max_tokens)
        return answer_from(await model.complete(request), question)

    return solve
