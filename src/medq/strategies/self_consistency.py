"""Self-consistency: sample several reasoning paths and take the majority answer.

Wang, X., Wei, J., Schuurmans, D., Le, Q., Chi, E., Narang, S., Chowdhery, A., & Zhou, D.
"Self-Consistency Improves Chain of Thought Reasoning in Language Models" (ICLR 2023).

The base strategy (a nested spec, default ``cot``) runs `n` times on a view of the model
that samples: every request of sample i is sent at `temperature`, with sample index
``<the base's own index> * n + i`` (0..n-1 for a one-call base; distinct cache entries,
yet reproducible, however the base numbers its own calls); backends turn distinct sample
indices into distinct server seeds, so servers that honour seeds do not return one sample
n times. Where the server serves ``n``, the n samples of one request go out as one
request (`medq.coalesce`), each still stored under its own key. Ties go to the earliest
option letter among the tied (medq's one voting rule, `medq.strategies._shared.fanout`); invalid
samples do not vote but are counted, and the winner's share of all n samples is the
confidence; a failed call makes the item an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.fanout import answer_by_vote, gather_or_cancel
from medq.strategies._shared.params import Count, Temperature
from medq.strategies._shared.sampling import SamplingModel
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.strategies.base import PreparedStrategy, Strategy, build_strategy, prepare_strategy
from medq.types import (
    Answer,
    Question,
)

if TYPE_CHECKING:
    from medq.tasks.base import Task

CALLS_PER_ITEM = "n × base"
PROMPTS = ("system",)
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def self_consistency(
    *,
    n: Count = 5,
    temperature: Temperature = 0.7,
    base: StrategySpec | str = "cot",
    seed: int = 0,
    task: Task | None = None,
) -> Strategy:
    """Majority vote over `n` samples of `base` at `temperature`; n × base calls.

    Args:
        n: samples per item.
        temperature: sampling temperature for every call of every sample.
        base: the strategy sampled, as a spec: ``cot``, ``cot_few_shot(k=3)``, ...
        seed: seed of the base strategy (samples differ by sample index).
        task: the evaluated task (passed on to the base strategy).

    Example:
        >>> StrategySpec.parse("self_consistency(n=5,base=cot_few_shot(k=3))")
    """
    if n < 1:
        raise StrategySpecError(f"self_consistency needs n >= 1, not {n}")
    base_spec = StrategySpec.coerce(base)
    inner = build_strategy(base_spec, seed=seed, task=task)

    async def prepare(model: Model) -> None:
        await prepare_strategy(inner, model)

    async def solve(question: Question, model: Model) -> Answer:
        samples = await gather_or_cancel(
            *(inner(question, SamplingModel(model, i, n, temperature)) for i in range(n))
        )
        return answer_by_vote(samples, list(question.options), base=str(base_spec),
                              temperature=temperature)

    return PreparedStrategy(solve, prepare)
