"""Self-refine: answer, then alternate self-review and revision until the review approves.

Madaan et al., "Self-Refine: Iterative Refinement with Self-Feedback" (NeurIPS 2023), as
run in the MedAgentsBench baselines (Tang et al., "MedAgentsBench: Benchmarking Thinking
Models and Agent Frameworks for Complex Medical Reasoning", 2025; `self_refine-3`).

One chain-of-thought answer, then up to `rounds` rounds of: a review of the current
solution (``Verdict: correct`` stops; the reviewer is told to say incorrect only when more
than 95% sure, as in MedAgentsBench), and, when not approved, a revision given the
review as feedback. The final answer is extracted from the last solution. Calls per item:
2r when the r-th review approves, 1 + 2 x rounds when none does (2 to 7 at rounds=3).
All calls at temperature 0. Differences from MedAgentsBench: their review and revision
prompts show the question without its options (we show both), and they parse answers and
verdicts with an extra LLM call (we use medq's extractor; an unparseable review counts as
not approved, so the solution is revised).
"""

from __future__ import annotations

from dataclasses import replace

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.messages import chat, generation_request, prompt_messages
from medq.strategies._shared.params import Count, MaxTokens
from medq.strategies._shared.verdicts import parse_verdict
from medq.strategies.base import Strategy
from medq.types import Answer, Completion, Message, Question

CALLS_PER_ITEM = "2–7 (2r if review r approves; ≤ 1 + 2·rounds)"
PROMPTS = ("system", "cot", "self_refine_review", "self_refine_revise")
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def self_refine(*, rounds: Count = 3, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Answer with chain of thought, then review and revise up to `rounds` times.

    Args:
        rounds: most review (+ revision) rounds; 0 gives plain chain of thought.
        seed: sent with every request for servers that honour it.
        max_tokens: completion limit per call (server default when None).
    """
    if rounds < 0:
        raise ValueError("self_refine needs rounds >= 0")

    async def ask(model: Model, messages: tuple[Message, ...]) -> Completion:
        return await model.complete(generation_request(messages, seed=seed, max_tokens=max_tokens))

    async def solve(question: Question, model: Model) -> Answer:
        current = await ask(model, chat(question, "cot"))
        truncated = current.generations[0].truncated
        history: list[bool | None] = []
        for _ in range(rounds):
            solution = current.generations[0].text
            review = await ask(
                model, prompt_messages(question, "self_refine_review", solution=solution)
            )
            feedback = review.generations[0].text
            truncated = truncated or review.generations[0].truncated
            approved = parse_verdict(feedback, yes=["correct"], no=["incorrect"])
            history.append(approved)
            if approved:
                break
            current = await ask(
                model,
                prompt_messages(
                    question, "self_refine_revise", solution=solution, feedback=feedback
                ),
            )
            truncated = truncated or current.generations[0].truncated
        answer = answer_from(current, question)
        return replace(answer, truncated=truncated, details={**answer.details, "reviews": history})

    return solve
