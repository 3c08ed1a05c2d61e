"""The Strategy protocol, strategy specs (``'name:k=v'``, ``'name(k=v,base=other(...))'``)
and shared helpers."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from medq import registry
from medq.models.base import Model
from medq.prompts import question_fields, render, template, template_fields
from medq.types import Answer, Completion, GenerationRequest, Message, Question

if TYPE_CHECKING:
    from medq.tasks.base import Task


class Strategy(Protocol):
    """Answers one question with one model: ``await strategy(question, model) -> Answer``."""

    async def __call__(self, question: Question, model: Model) -> Answer: ...


class StrategySpecError(ValueError):
    """A strategy spec that cannot be parsed or names unknown parameters."""


@dataclass(frozen=True)
class StrategySpec:
    """A strategy name and its parameters, as given on the command line or in a run file.

    Two spellings parse to the same spec: ``'name:key=value,...'`` and the call syntax
    ``'name(key=value,...)'``; the call syntax nests, so a parameter value may itself be a
    spec: ``'self_consistency(n=5,base=cot_few_shot(k=3))'``. ``str(spec)`` is canonical
    (parameters sorted; the colon form unless a value is a nested spec) and parses back to
    an equal spec. Values are read as bool, None, int, float, a nested spec, or a string
    (quote a string with ``"..."`` when it holds ``,()=:`` or looks like a number).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> StrategySpec:
        """Parse ``'cot'``, ``'self_consistency:n=5,temperature=0.7'`` or
        ``'self_consistency(n=5,base=cot_few_shot(k=3))'``."""
        parser = _SpecParser(text)
        spec = parser.spec(top=True)
        parser.end()
        return spec

    @classmethod
    def coerce(cls, value: StrategySpec | str | Mapping[str, Any]) -> StrategySpec:
        """A spec from a spec, its text, or a run-file table ``{name = ..., key = value}``."""
        if isinstance(value, StrategySpec):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            params = dict(value)
            name = params.pop("name", None)
            if not isinstance(name, str) or not name:
                raise StrategySpecError(f"strategy table {value!r} needs a 'name'")
            nested = {k: cls.coerce(v) if isinstance(v, Mapping) else v for k, v in params.items()}
            return cls(name, nested)
        raise StrategySpecError(f"not a strategy spec: {value!r}")

    def nested(self) -> list[StrategySpec]:
        """This spec and every spec nested in its parameters, outermost first."""
        out = [self]
        for value in self.params.values():
            if isinstance(value, StrategySpec):
                out.extend(value.nested())
        return out

    def __str__(self) -> str:
        if not self.params:
            return self.name
        if any(isinstance(v, StrategySpec) for v in self.params.values()):
            return self._call_form()
        return f"{self.name}:{self._body()}"  # the flat form of earlier medq versions

    def _body(self) -> str:
        return ",".join(f"{k}={_format_value(v)}" for k, v in sorted(self.params.items()))

    def _call_form(self) -> str:
        return f"{self.name}({self._body() if self.params else ''})"


_SPECIAL = set(",()=:\"'")


def _format_value(value: Any) -> str:
    if isinstance(value, StrategySpec):
        return value._call_form()
    text = str(value)
    if isinstance(value, str) and (
        _parse_value(text) != value or _SPECIAL & set(text) or text != text.strip() or not text
    ):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


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


class _SpecParser:
    """A small recursive-descent parser for strategy specs (see `StrategySpec`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> StrategySpecError:
        return StrategySpecError(f"strategy {self.text!r}: {message} at position {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def end(self) -> None:
        self.skip_space()
        if self.pos != len(self.text):
            raise self.error(f"unexpected {self.peek()!r}")

    def name(self) -> str:
        self.skip_space()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() in "_-."):
            self.pos += 1
        if start == self.pos:
            raise self.error("expected a strategy name")
        return self.text[start : self.pos]

    def spec(self, *, top: bool = False) -> StrategySpec:
        name = self.name()
        self.skip_space()
        if self.peek() == "(":
            self.pos += 1
            params = self.params(closing=")")
            if self.peek() != ")":
                raise self.error("expected ')'")
            self.pos += 1
            return StrategySpec(name, params)
        if top and self.peek() == ":":
            self.pos += 1
            return StrategySpec(name, self.params(closing=""))
        return StrategySpec(name, {})

    def params(self, closing: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        while True:
            self.skip_space()
            if self.peek() in {closing, ""} if closing else self.peek() == "":
                return params
            if self.peek() == ",":
                self.pos += 1
                continue
            start = self.pos
            while self.peek() and self.peek() not in "=,()":
                self.pos += 1
            key = self.text[start : self.pos].strip()
            if self.peek() != "=" or not key:
                part = self.text[start : self.pos]
                raise StrategySpecError(
                    f"strategy {self.text!r}: expected key=value, got {part.strip()!r}"
                )
            self.pos += 1
            if key in params:
                raise self.error(f"parameter {key!r} given twice")
            params[key] = self.value()

    def value(self) -> Any:
        self.skip_space()
        if self.peek() in {'"', "'"}:
            quote, chars = self.peek(), []
            self.pos += 1
            while self.peek() != quote:
                if not self.peek():
                    raise self.error("unterminated string")
                if self.peek() == "\\":
                    self.pos += 1
                chars.append(self.peek())
                self.pos += 1
            self.pos += 1
            return "".join(chars)
        start = self.pos
        while self.peek() and self.peek() not in ",()":
            self.pos += 1
        if self.peek() == "(":
            self.pos = start
            return self.spec()
        return _parse_value(self.text[start : self.pos].strip())


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
    from medq.strategies._params import normalize_params

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


def chat(question: Question, prompt: str, *, system: bool = True) -> tuple[Message, ...]:
    """The messages for a multiple-choice prompt template: system text first, then the item.

    The system text comes first and is byte-identical across items, so server-side prefix
    caching works.
    """
    if not question.options:
        raise StrategySpecError(
            f"item {question.id!r} is an open-answer item (no options); multiple-choice "
            f"prompt {prompt!r} cannot answer it — use the task's own strategies "
            f"(`medq strategies`), e.g. calc_cot for medcalc or medec_json for medec"
        )
    used = template_fields(prompt)
    fields = {k: v for k, v in question_fields(question).items() if k in used}
    user = Message("user", render(prompt, **fields))
    if not system:
        return (user,)
    return (Message("system", template("system").strip()), user)


def answer_from(
    completion: Completion,
    question: Question,
    index: int = 0,
    *,
    back: Mapping[str, str] | None = None,
) -> Answer:
    """Extract the chosen option from one generation; unparseable means invalid.

    `question` is the item as presented (a shuffled view, for instance) and `back` maps its
    letters to the original ones. The answer carries its `Reading`, so `medq rescore` can
    read it again from the stored response alone.
    """
    from medq.scoring.readings import choice_reading, read_leaf

    reading = choice_reading(completion, question.options, index, back=back,
                             languages=languages_of(question))
    return read_leaf(reading, completion.generations[index])


def languages_of(question: Question) -> tuple[str, ...]:
    """The answer languages of an item: its metadata's ``language``, when it has one."""
    language = question.metadata.get("language")
    return (str(language),) if language else ()


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
