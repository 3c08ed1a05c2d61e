"""Few-shot prompting: k solved exemplars from a dev or train split before the question.

Brown et al., "Language Models are Few-Shot Learners" (NeurIPS 2020); kNN selection of
in-context exemplars from Liu et al., "What Makes Good In-Context Examples for GPT-3?"
(DeeLIO 2022), as used by Medprompt (Nori et al. 2023).

Exemplars are prior user/assistant turns after the system text, so with ``fixed`` selection
every item shares a byte-identical prefix (server-side prefix caching). The pool is a
registered task: ``pool="medqa_dev"`` (with ``pool_data=PATH`` for its files), or by default
``<task>_dev`` / ``<task>_train`` of the evaluated task, found beside its files. An exemplar
is never the test item (see `medq.strategies._shared.exemplars`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from medq.embeddings import DEFAULT_ENCODER, Encoder
from medq.models.base import Model
from medq.prompts import render
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.exemplars import ExemplarSelector, few_shot_messages, resolve_pool
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import MaxTokens, Size
from medq.strategies.base import PreparedStrategy, Strategy
from medq.types import Answer, Question

if TYPE_CHECKING:
    from medq.tasks.base import Task

CALLS_PER_ITEM = "1 (+1 embedding with selection=knn)"
PROMPTS = ("system", "few_shot", "few_shot_answer")
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def few_shot(
    *,
    k: Size = 5,
    selection: str = "fixed",
    pool: str | None = None,
    pool_data: str | None = None,
    pool_size: int | None = None,
    encoder: str | Encoder = DEFAULT_ENCODER,
    seed: int = 0,
    max_tokens: MaxTokens = None,
    task: Task | None = None,
) -> Strategy:
    """Answer after `k` exemplars answered with their gold letter; one call at temperature 0.

    Args:
        k: exemplars per item.
        selection: ``fixed`` (first k), ``random`` (seeded per item) or ``knn`` (most
            similar by embedding, the most similar placed last).
        pool: the task to draw exemplars from (default: derived from `task`).
        pool_data: files of the pool's release (default: beside the evaluated task's).
        pool_size: use only the first N pool items.
        encoder: sentence-transformers model (name or path) for ``knn``.
        seed: seeds ``random`` selection; sent with the request.
        max_tokens: completion limit (server default when None).
        task: the evaluated task (passed by the runner).

    Example:
        >>> build_strategy(StrategySpec.parse("few_shot:k=3,selection=knn"), seed=0, task=t)
    """
    exemplar_pool = resolve_pool(pool, pool_data, task, pool_size)
    selector = ExemplarSelector(exemplar_pool, k=k, selection=selection, seed=seed,
                                encoder=encoder)

    async def prepare(model: Model) -> None:
        if selection == "knn":
            await selector.pool_embeddings()

    async def solve(question: Question, model: Model) -> Answer:
        chosen = [exemplar_pool.questions[i] for i in await selector.select(question)]
        exemplars = [(q, render("few_shot_answer", answer=q.gold)) for q in chosen]
        messages = few_shot_messages(question, exemplars, "few_shot")
        request = generation_request(messages, seed=seed, max_tokens=max_tokens)
        answer = answer_from(await model.complete(request), question)
        details = {**answer.details, "exemplars": [q.id for q in chosen],
                   "pool": exemplar_pool.name}
        return replace(answer, details=details)

    return PreparedStrategy(solve, prepare)
