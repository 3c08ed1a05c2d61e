"""Short answers to visual questions: the image, the question, one word or phrase back.

Liu et al., "Improved Baselines with Visual Instruction Tuning" (LLaVA-1.5, CVPR 2024)
prompt short-answer VQA with "Answer the question using a single word or phrase."; Li et
al., "LLaVA-Med" (NeurIPS 2023 Datasets and Benchmarks) evaluate VQA-RAD, SLAKE and PathVQA
this way. The reply is read by the ``short_answer`` reader (`medq.scoring.vqa`): a closed
question's yes/no or named alternative, strictly, or an open question's normalised answer.
"""

from __future__ import annotations

from medq.models.base import Model
from medq.prompts import render, template
from medq.registry import strategies
from medq.scoring.vqa import short_answer as read_answer
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = 1
PROMPTS = ("vqa_system", "vqa")
ACCEPTS = ("short_answer",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def short_answer(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Show the image(s) and the question, ask for a single word or phrase; one call at
    temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        messages = (Message("system", template("vqa_system").strip()),
                    Message("user", render("vqa", question=question.stem), question.images))
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        return read_answer(await model.complete(request), question)

    return solve
