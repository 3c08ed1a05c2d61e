"""The Strategy protocol, strategy specs (``'name:key=value,...'``) and shared helpers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from medq import registry
from medq.models.base import Model
from medq.prompts import question_fields, render, template, template_fields
from medq.scoring.extract import extract_choice
from medq.types import Answer, Completion, GenerationRequest, Message, Question, Status


class Strategy(Protocol):
    """Answers one question with one model: ``await strategy(question, model) -> Answer``."""

    async def __call__(self, question: Question, model: Model) -> Answer: ...


class StrategySpecError(ValueError):
    """A strategy spec that cannot be parsed or names unknown parameters."""


@dataclass(frozen=True)
class StrategySpec:
    """A strategy name and its parameters, as given on the command line or in a run file."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> StrategySpec:
        """Parse ``'cot'`` or ``'self_consistency:n=5,temperature=0.7'``."""
        name, _, rest = text.partition(":")
        params: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise StrategySpecError(f"strategy {text!r}: expected key=value, got {part!r}")
            params[key.strip()] = _parse_value(value.strip())
        return cls(name.strip(), params)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))


def _parse_value(value: str) -> Any:
    lowered = value.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"none", "null"}:
        return None
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value


def build_strategy(spec: StrategySpec, *, seed: int) -> Strategy:
    """Instantiate a registered strategy; passes `seed` when the factory takes one."""
    factory: Callable[..., Strategy] = registry.strategies.get(spec.name)
    accepted = inspect.signature(factory).parameters
    unknown = set(spec.params) - set(accepted)
    if unknown:
        raise StrategySpecError(
            f"strategy {spec.name!r} has no parameter(s) {sorted(unknown)}; "
            f"it takes {sorted(p for p in accepted if p != 'seed')}"
        )
    kwargs = dict(spec.params)
    if "seed" in accepted:
        kwargs.setdefault("seed", seed)
    return factory(**kwargs)


def chat(question: Question, prompt: str, *, system: bool = True) -> tuple[Message, ...]:
    """The messages for a multiple-choice prompt template: system text first, then the item.

    The system text comes first and is byte-identical across items, so server-side prefix
    caching works.
    """
    used = template_fields(prompt)
    fields = {k: v for k, v in question_fields(question).items() if k in used}
    user = Message("user", render(prompt, **fields))
    if not system:
        return (user,)
    return (Message("system", template("system").strip()), user)


def answer_from(completion: Completion, question: Question, index: int = 0) -> Answer:
    """Extract the chosen option from one generation; unparseable means invalid."""
    generation = completion.generations[index]
    extraction = extract_choice(generation.text, question.options)
    details = {"method": extraction.method}
    if extraction.choice is None:
        return Answer(
            None,
            Status.INVALID,
            generation.text,
            truncated=generation.truncated,
            reason=extraction.reason or "no answer found",
            details=details,
        )
    return Answer(
        extraction.choice,
        Status.OK,
        generation.text,
        truncated=generation.truncated,
        details=details,
    )


def generation_request(
    messages: tuple[Message, ...],
    *,
    seed: int,
    max_tokens: int | None,
    temperature: float = 0.0,
    sample_index: int = 0,
) -> GenerationRequest:
    """A request with medq's defaults for one sampled answer."""
    return GenerationRequest(
        messages,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        sample_index=sample_index,
    )
