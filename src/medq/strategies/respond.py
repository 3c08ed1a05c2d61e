"""Respond: send the item's conversation to the model as it is, and keep its reply.

Arora, R. K., Wei, J., Soskin Hicks, R., et al. "HealthBench: Evaluating Large Language
Models Towards Improved Human Health" (OpenAI, 2025): each example is a conversation whose
messages go to the model unchanged, with no system prompt added, and the model's next
turn is graded by a judge against physician-written rubric criteria.

An item is a conversation when its metadata carries ``messages`` (a list of
``{"role", "content"}``); otherwise its stem is sent as one user turn. The answer is free
text (`medq.scoring.free_text`), for the task's grader to judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medq.models.base import Model
from medq.registry import strategies
from medq.scoring.free_text import free_text_answer
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = 1
PROMPTS: tuple[str, ...] = ()
ACCEPTS = ("free_text",)
_ROLES = ("system", "user", "assistant")


def conversation(question: Question) -> tuple[Message, ...]:
    """The item's messages: its ``messages`` metadata as they are, or its stem as a user turn.

    Raises:
        StrategySpecError: a message that is not ``{"role", "content"}`` with a known role.
    """
    raw: Any = question.metadata.get("messages")
    if raw is None:
        return (Message("user", question.stem),)
    messages = []
    for i, message in enumerate(raw):
        role = message.get("role") if isinstance(message, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if role not in _ROLES or not isinstance(content, str):
            raise StrategySpecError(f"item {question.id!r}: message {i} is not a "
                                    f"{{role, content}} turn with role in {_ROLES}")
        messages.append(Message(role, content))
    if not messages:
        raise StrategySpecError(f"item {question.id!r}: its conversation has no messages")
    return tuple(messages)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def respond(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Reply to the item's conversation; one call at temperature 0.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """

    async def solve(question: Question, model: Model) -> Answer:
        request = generation_request(conversation(question), seed=seed, max_tokens=max_tokens)
        return free_text_answer(await model.complete(request))

    return solve
