"""Medprompt: kNN few-shot over self-generated chain of thought, with a choice-shuffle ensemble.

Nori, H., Lee, Y. T., Zhang, S., Carignan, D., Edgar, R., Fusi, N., King, N., Larson, J.,
Li, Y., Liu, W., Luo, R., McKinney, S. M., Ness, R. O., Poon, H., Qin, T., Usuyama, N.,
White, C., & Horvitz, E. "Can Generalist Foundation Models Outcompete Special-Purpose
Tuning? Case Study in Medicine" (arXiv:2311.16452, 2023).

Once per (model, pool) the evaluated model answers every pool item zero-shot with chain of
thought; an item becomes an exemplar only when its reasoning reaches the gold answer. Per
item, the question is embedded once, the `k` most similar accepted exemplars are chosen
(most similar last), and the model answers `shuffles` seeded permutations of the options;
each answer is mapped back to the original letters and the plurality wins (ties: the
earliest original letter, medq's one voting rule). The one-off pool generation is the
strategy's preparation, recorded apart from the items' calls.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from medq.embeddings import DEFAULT_ENCODER, Encoder
from medq.models.base import Model
from medq.registry import strategies
from medq.seeds import item_rng
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.exemplars import (
    ExemplarSelector,
    SelfGeneratedReasoning,
    few_shot_messages,
    resolve_pool,
)
from medq.strategies._shared.fanout import answer_by_vote, gather_or_cancel
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import Count, MaxTokens, Size, Temperature
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import PreparedStrategy, Strategy
from medq.types import LETTERS, Answer, Question

if TYPE_CHECKING:
    from medq.tasks.base import Task

CALLS_PER_ITEM = "shuffles + 1 embedding (+1 per pool item once)"
PROMPTS = ("system", "medprompt")
ACCEPTS = ("choice",)


def shuffled(question: Question, rng: random.Random) -> tuple[Question, dict[str, str]]:
    """`question` with its options permuted, and shown letter -> original letter."""
    originals = list(question.options)
    rng.shuffle(originals)
    back = {LETTERS[i]: letter for i, letter in enumerate(originals)}
    options = {shown: question.options[original] for shown, original in back.items()}
    gold = next(shown for shown, original in back.items() if original == question.gold)
    view = Question(question.id, question.stem, options, gold, question.context,
                    question.metadata, question.images)
    return view, back


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def medprompt(
    *,
    k: Size = 5,
    shuffles: Count = 5,
    temperature: Temperature = 0.0,
    selection: str = "knn",
    pool: str | None = None,
    pool_data: str | None = None,
    pool_size: int | None = None,
    encoder: str | Encoder = DEFAULT_ENCODER,
    seed: int = 0,
    max_tokens: MaxTokens = None,
    task: Task | None = None,
) -> Strategy:
    """Medprompt; `shuffles` calls and one question embedding per item.

    Args:
        k: exemplars per item (the paper: 5).
        shuffles: option permutations answered per item (the paper: 5).
        temperature: for the per-item calls (exemplar generation is at 0).
        selection: ``knn`` as in the paper; ``fixed`` / ``random`` for ablations.
        pool, pool_data, pool_size, encoder: as for `few_shot`.
        seed: seeds the permutations (per item ID) and is sent with every request.
        max_tokens: completion limit, also for generating exemplar reasoning.
        task: the evaluated task (passed by the runner).
    """
    if shuffles < 1:
        raise StrategySpecError(f"medprompt needs shuffles >= 1, not {shuffles}")
    exemplar_pool = resolve_pool(pool, pool_data, task, pool_size)
    selector = ExemplarSelector(exemplar_pool, k=k, selection=selection, seed=seed,
                                encoder=encoder)
    generated = SelfGeneratedReasoning(exemplar_pool, "medprompt", seed, max_tokens)

    async def prepare(model: Model) -> None:
        await generated.accepted(model)
        if selection == "knn":
            await selector.pool_embeddings()

    async def one(
        view: Question,
        back: dict[str, str],
        exemplars: list[tuple[Question, str]],
        index: int,
        model: Model,
    ) -> Answer:
        messages = few_shot_messages(view, exemplars, "medprompt")
        request = generation_request(messages, seed=seed, max_tokens=max_tokens,
                                     temperature=temperature, sample_index=index)
        return answer_from(await model.complete(request), view, back=back)

    async def solve(question: Question, model: Model) -> Answer:
        accepted = await generated.accepted(model)
        chosen = await selector.select(question, allowed=sorted(accepted))
        exemplars = [(exemplar_pool.questions[i], accepted[i]) for i in chosen]
        rng = item_rng(seed, question.id, "shuffle")
        views = [shuffled(question, rng) for _ in range(shuffles)]
        answers = await gather_or_cancel(
            *(one(view, back, exemplars, i, model) for i, (view, back) in enumerate(views))
        )
        return answer_by_vote(
            answers,
            list(question.options),
            exemplars=[exemplar_pool.questions[i].id for i in chosen],
            pool=exemplar_pool.name,
            orders=["".join(back.values()) for _, back in views],
            embeddings=1 if selection == "knn" else 0,
        )

    return PreparedStrategy(solve, prepare)
