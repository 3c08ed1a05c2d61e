"""Multi-answer questions: ask for every correct option, read the set of letters.

Labrak et al., "FrenchMedMCQA: A French Multiple-Choice Question Answering Dataset for
Medical domain" (LOUHI @ EMNLP 2022): items with one to five correct options, scored by the
exact set match and the Hamming score (`medq.scoring.choice_set`). The prompt says that
one or more options are correct and asks for all their letters; with ``reasoning`` it asks
for step-by-step reasoning first (Kojima et al., NeurIPS 2022) and a final "Answers:" line.
"""

from __future__ import annotations

from medq.models.base import Model
from medq.registry import strategies
from medq.scoring.choice_set import set_answer
from medq.strategies._shared.answers import languages_of
from medq.strategies._shared.messages import chat, generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Question

CALLS_PER_ITEM = 1
PROMPTS = ("system", "multi_answer", "multi_answer_cot")
ACCEPTS = ("choice_set",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def multi_answer(
    *, reasoning: bool = False, seed: int = 0, max_tokens: MaxTokens = None
) -> Strategy:
    """Answer with the letters of every correct option; one call at temperature 0.

    Args:
        reasoning: reason step by step before the final ``Answers: X, Y`` line.
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """
    prompt = "multi_answer_cot" if reasoning else "multi_answer"

    async def solve(question: Question, model: Model) -> Answer:
        request = generation_request(chat(question, prompt), seed=seed, max_tokens=max_tokens)
        completion = await model.complete(request)
        return set_answer(completion, question.options, languages=languages_of(question))

    return solve
