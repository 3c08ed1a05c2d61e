"""The Strategy protocol, normalising and building strategies from specs, and the helpers
a strategy (built-in or plugin) writes with: `chat`, `generation_request`, `answer_from`.

The shared plumbing itself lives in `medq.strategies._shared`, one job per module.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from medq import registry
from medq.models.base import Model
from medq.strategies._shared.answers import answer_from, languages_of
from medq.strategies._shared.messages import chat, generation_request
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.types import Answer, Question

__all__ = [
    "PreparedStrategy", "Strategy", "StrategySpec", "StrategySpecError", "answer_from",
    "build_strategy", "chat", "generation_request", "languages_of", "normalize",
    "prepare_strategy", "prompt_names", "strategy_info",
]

if TYPE_CHECKING:
    from medq.tasks.base import Task


class Strategy(Protocol):
    """Answers one question with one model: ``await strategy(question, model) -> Answer``."""

    async def __call__(self, question: Question, model: Model) -> Answer: ...


def strategy_info(name: str) -> dict[str, Any]:
    """What strategy `name` declared at registration: ``prompts`` (template names it
    renders), ``calls_per_item`` and ``accepts`` (answer kinds it can give)."""
    meta = registry.strategies.meta(name)
    meta.setdefault("prompts", ())
    meta.setdefault("calls_per_item", "?")
    meta.setdefault("accepts", ("choice",))
    return meta


def normalize(spec: StrategySpec | str, *, seed: int) -> StrategySpec:
    """The spec with every parameter checked against the factory's typed signature and
    every default filled in, nested strategies included, so equivalent spellings
    (``self_consistency:base=cot,n=2`` and ``self_consistency(base=cot(),n=2)``) are one
    spec. `seed` fills a strategy's ``seed`` parameter when the spec does not set it.

    Raises:
        StrategySpecError: an unknown strategy or parameter, a value of the wrong type
            or out of range.
    """
    from medq.strategies._shared.params import normalize_params

    spec = StrategySpec.coerce(spec)
    try:
        factory: Callable[..., Strategy] = registry.strategies.get(spec.name)
    except registry.UnknownNameError as exc:
        raise StrategySpecError(str(exc)) from None
    given = dict(spec.params)
    if "seed" in inspect.signature(factory).parameters:
        given.setdefault("seed", seed)
    params = normalize_params(spec.name, factory, given)
    for key, value in params.items():
        if isinstance(value, StrategySpec):
            params[key] = normalize(value, seed=seed)
    return StrategySpec(spec.name, params)


def prompt_names(spec: StrategySpec) -> list[str]:
    """Every prompt template a (normalised) spec renders, nested strategies included."""
    names: list[str] = []
    for nested in spec.nested():
        names.extend(strategy_info(nested.name)["prompts"])
    return list(dict.fromkeys(names))


def build_strategy(spec: StrategySpec | str, *, seed: int, task: Task | None = None) -> Strategy:
    """Instantiate a registered strategy from its (normalised) spec.

    Passes `seed` when the spec does not set it, and `task` (the evaluated `Task`, from
    which few-shot strategies derive their default exemplar pool) when the factory takes
    it.
    """
    spec = normalize(spec, seed=seed)
    factory: Callable[..., Strategy] = registry.strategies.get(spec.name)
    kwargs = dict(spec.params)
    if "task" in inspect.signature(factory).parameters:
        kwargs["task"] = task
    return factory(**kwargs)


@dataclass(frozen=True)
class PreparedStrategy:
    """A strategy with a one-off step per run, such as generating an exemplar pool.

    The runner awaits `prepare(model)` once before the first item and records its calls
    apart from the items' (``info.preparation`` of the run); `solve` must also work when
    `prepare` was never called (it then prepares itself on first use).
    """

    solve: Callable[[Question, Model], Awaitable[Answer]]
    prepare: Callable[[Model], Awaitable[None]]

    async def __call__(self, question: Question, model: Model) -> Answer:
        return await self.solve(question, model)


async def prepare_strategy(strategy: Strategy, model: Model) -> None:
    """Run a strategy's one-off preparation, if it has one (see `PreparedStrategy`)."""
    prepare = getattr(strategy, "prepare", None)
    if prepare is not None:
        await prepare(model)


