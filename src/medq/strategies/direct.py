"""Direct answering: ask for the option letter only (the zero-shot baseline of every paper).

Jin et al., "What Disease does this Patient Have? A Large-scale Open Domain Question
Answering Dataset from Medical Exams" (MedQA, 2021) and Singhal et al., "Large language
models encode clinical knowledge" (Nature 2023, MultiMedQA) report it as the plain
zero-shot setting.
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
PROMPTS = ("system", "direct")
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def direct(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Answer with the option letter; one call at temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        request = generation_request(
            chat(question, "direct"), seed=seed, max_tokens=max_tokens
        )
        return answer_from(await model.complete(request), question)

    return solve
