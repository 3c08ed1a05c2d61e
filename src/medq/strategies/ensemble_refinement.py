"""Ensemble refinement: sample reasoning paths, then refine conditioned on all of them; vote.

Singhal et al., "Towards Expert-Level Medical Question Answering with Large Language
Models" (Med-PaLM 2, arXiv:2305.09617, 2023), section 3.3: 11 stage-one samples, 33
stage-two samples, plurality vote.

Stage one samples `n` chain-of-thought answers at `temperature` (one call each, sample
index 0..n-1). Stage two shows the question and *all* stage-one paths (invalid ones too,
in sample order) and samples `m` refined answers (one call each, sample index 0..m-1);
the answer is the plurality of the stage-two choices, ties going to the earliest option
letter, with its vote share as the confidence. Differences from the paper: stage one is
zero-shot chain of thought (the paper used few-shot CoT prompts), and the paper does not
publish its temperature; 0.7 is a common choice and is a parameter here.
"""

from __future__ import annotations

from dataclasses import replace

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import answer_by_vote, gather_or_cancel
from medq.strategies._shared.messages import chat, generation_request, prompt_messages
from medq.strategies._shared.params import Count, MaxTokens, Temperature
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = "n + m = 44"
PROMPTS = ("system", "cot", "ensemble_refinement")
ACCEPTS = ("choice",)


def format_paths(texts: list[str]) -> str:
    """Stage-one reasoning paths, numbered in sample order."""
    return "\n\n".join(f"Answer {i}:\n{text.strip()}" for i, text in enumerate(texts, 1))


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def ensemble_refinement(
    *,
    n: Count = 11,
    m: Count = 33,
    temperature: Temperature = 0.7,
    seed: int = 0,
    max_tokens: MaxTokens = None,
) -> Strategy:
    """Sample `n` reasoning paths, refine `m` times conditioned on all of them, vote.

    Args:
        n: stage-one samples (reasoning paths).
        m: stage-two samples (refined answers that vote).
        temperature: sampling temperature of both stages.
        seed: sent with every call (samples differ by sample index).
        max_tokens: completion limit per call (server default when None).

    Example:
        >>> ensemble_refinement(n=3, m=5)  # 8 calls per item
    """
    if n < 1 or m < 1:
        raise ValueError("ensemble_refinement needs n >= 1 and m >= 1")

    async def sample(
        messages: tuple[Message, ...], question: Question, model: Model, i: int
    ) -> Answer:
        # Distinct sample indices: backends derive distinct server seeds from them.
        request = generation_request(
            messages,
            seed=seed,
            max_tokens=max_tokens,
            temperature=temperature,
            sample_index=i,
        )
        return answer_from(await model.complete(request), question)

    async def solve(question: Question, model: Model) -> Answer:
        first = chat(question, "cot")
        paths = await gather_or_cancel(*(sample(first, question, model, i) for i in range(n)))
        second = prompt_messages(
            question, "ensemble_refinement", paths=format_paths([p.text for p in paths])
        )
        refined = await gather_or_cancel(*(sample(second, question, model, j) for j in range(m)))
        stage_one = answer_by_vote(paths, list(question.options))
        final = answer_by_vote(
            refined, list(question.options), stage_one_votes=dict(stage_one.details["votes"])
        )
        return replace(final, truncated=final.truncated or stage_one.truncated)

    return solve
