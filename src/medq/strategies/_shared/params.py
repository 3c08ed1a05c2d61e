"""Typed strategy parameters: validation and normalisation from the factory's signature.

A strategy factory's keyword signature is the one source of truth for its parameters:
their types (annotations, with `Range` bounds through ``Annotated``), their defaults and,
through the docstring's ``Args:`` section, their meaning. `normalize` checks a parsed spec
against it and fills every default in, recursively for nested strategies, so two
spellings of the same strategy are one spec, and so one run.

Example:
    >>> from medq.strategies.base import StrategySpec
    >>> str(normalize(StrategySpec.parse("self_consistency:n=2"), seed=0))  # doctest: +SKIP
    'self_consistency(base=cot(max_tokens=None,seed=0),n=2,seed=0,temperature=0.7)'
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

INJECTED = frozenset({"task"})
"""Parameters the runner passes itself; never part of a spec."""


@dataclass(frozen=True)
class Range:
    """Bounds of a numeric parameter, inclusive: ``Annotated[int, Range(1)]``."""

    low: float | None = None
    high: float | None = None

    def check(self, value: float) -> str | None:
        """Why `value` is out of range, or None."""
        if self.low is not None and value < self.low:
            return f">= {self.low:g}"
        if self.high is not None and value > self.high:
            return f"<= {self.high:g}"
        return None

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return " and ".join(parts)


Count = Annotated[int, Range(1)]
"""A number of calls, samples, rounds or experts: at least 1."""
Size = Annotated[int, Range(0)]
"""A number of exemplars or passages: at least 0."""
Temperature = Annotated[float, Range(0.0, 2.0)]
"""A sampling temperature (the OpenAI range)."""
MaxTokens = Annotated[int | None, Range(1)]
"""A completion limit, or None for the server's default."""
Probability = Annotated[float, Range(0.0, 1.0)]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a strategy, as `medq strategies NAME` lists it."""

    name: str
    type: str
    default: Any
    required: bool
    help: str


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The factory's resolved annotations; one that cannot be resolved (a name imported
    only for type checking, such as ``Task``) is left out rather than failing the rest."""
    target = inspect.unwrap(factory)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - resolve what can be resolved, one by one
        pass
    hints = {}
    namespace = getattr(target, "__globals__", {})
    for name, annotation in getattr(target, "__annotations__", {}).items():
        try:
            hints[name] = typing.get_type_hints(
                _Holder(annotation), globalns=namespace, include_extras=True)["value"]
        except Exception:  # noqa: BLE001
            continue
    return hints


class _Holder:
    """An object whose only annotation is `value`, to resolve one annotation at a time."""

    def __init__(self, annotation: Any) -> None:
        self.__annotations__ = {"value": annotation}


def _split(hint: Any) -> tuple[Any, Range | None]:
    """(the bare type, its Range) of an annotation."""
    if typing.get_origin(hint) is Annotated:
        base, *extras = typing.get_args(hint)
        bounds = next((e for e in extras if isinstance(e, Range)), None)
        return base, bounds
    return hint, None


def _alternatives(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def type_name(hint: Any) -> str:
    """A short readable name of an annotation: ``int``, ``float | None``, ``strategy``."""
    base, bounds = _split(hint)
    names = []
    for alt in _alternatives(base):
        if alt is type(None):
            names.append("None")
        elif isinstance(alt, type) and alt.__name__ == "StrategySpec":
            names.append("strategy")
        elif isinstance(alt, type):
            names.append(alt.__name__)
        else:
            names.append(getattr(alt, "__name__", str(alt)))
    names = list(dict.fromkeys(n for n in names if n != "str" or "strategy" not in names))
    text = " | ".join(names)
    return f"{text} ({bounds.describe()})" if bounds else text


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    """(accepted, the value in its declared type) for a value parsed from a spec."""
    from medq.strategies._shared.spec import StrategySpec

    base, _ = _split(hint)
    alternatives = _alternatives(base)
    if value is None:
        return type(None) in alternatives, None
    for alt in alternatives:
        if alt is bool and isinstance(value, bool):
            return True, value
        if alt is int and isinstance(value, int) and not isinstance(value, bool):
            return True, value
        if alt is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        if alt is str and isinstance(value, str):
            return True, value
        if isinstance(alt, type) and alt.__name__ == "StrategySpec":
            if isinstance(value, StrategySpec):
                return True, value
            if isinstance(value, str):
                try:
                    return True, StrategySpec.parse(value)
                except ValueError:
                    return False, value
    # A library type (an Encoder, a Retriever) passed from Python, not from a spec.
    if not isinstance(value, str | int | float | bool):
        for alt in alternatives:
            if not isinstance(alt, type) or alt in (str, int, float, bool):
                continue
            try:
                if isinstance(value, alt):
                    return True, value
            except TypeError:  # a Protocol that is not runtime-checkable: duck typing
                return True, value
    if not any(isinstance(alt, type) for alt in alternatives):
        return True, value  # an annotation we cannot check (a plugin's): trust it
    return False, value


def check_value(strategy: str, name: str, value: Any, hint: Any) -> Any:
    """`value` in its declared type; StrategySpecError naming the parameter otherwise."""
    from medq.strategies._shared.spec import StrategySpecError

    if hint is None:
        return value
    accepted, converted = _coerce(value, hint)
    if not accepted:
        raise StrategySpecError(
            f"strategy {strategy!r}: parameter {name}={value!r} must be {type_name(hint)}"
        )
    _, bounds = _split(hint)
    if bounds is not None and isinstance(converted, int | float) and not isinstance(
        converted, bool
    ):
        problem = bounds.check(converted)
        if problem:
            raise StrategySpecError(
                f"strategy {strategy!r}: parameter {name}={value!r} must be {problem}"
            )
    return converted


def parameters(factory: Callable[..., Any]) -> list[Parameter]:
    """The spec parameters of a strategy factory, with types, defaults and meanings."""
    hints = _hints(factory)
    helps = _resolve_shared_help(_arg_help(inspect.getdoc(factory) or ""))
    out = []
    for name, param in inspect.signature(factory).parameters.items():
        if name in INJECTED or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        required = param.default is inspect.Parameter.empty
        out.append(
            Parameter(
                name,
                type_name(hints[name]) if name in hints else "any",
                None if required else param.default,
                required,
                helps.get(name, ""),
            )
        )
    return out


def _arg_help(doc: str) -> dict[str, str]:
    """``name: meaning`` lines of a Google-style ``Args:`` section (first line of each)."""
    helps: dict[str, str] = {}
    section = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)*)", doc, re.MULTILINE)
    if not section:
        return helps
    for line in section.group(1).splitlines():
        match = re.match(r"^\s{2,6}(\w+(?:, \w+)*)(?: \([^)]*\))?:\s*(.*)$", line)
        if match:
            for name in match.group(1).split(", "):
                helps[name] = match.group(2).strip()
    return helps


def _resolve_shared_help(helps: dict[str, str]) -> dict[str, str]:
    """``k, pool: as for `few_shot`.`` takes the meaning from that strategy's docstring."""
    from medq.registry import strategies

    for name, text in helps.items():
        match = re.match(r"as for `(\w+)`", text)
        if match:
            other = _arg_help(inspect.getdoc(strategies.get(match.group(1))) or "")
            helps[name] = other.get(name, text)
    return helps


def normalize_params(
    strategy: str, factory: Callable[..., Any], given: dict[str, Any]
) -> dict[str, Any]:
    """Every spec parameter of `factory`: given values checked and converted, defaults
    filled in. Raises StrategySpecError for unknown, missing or ill-typed parameters."""
    from medq.strategies._shared.spec import StrategySpecError

    signature = inspect.signature(factory).parameters
    accepted = {n for n in signature if n not in INJECTED}
    unknown = set(given) - accepted
    if unknown:
        raise StrategySpecError(
            f"strategy {strategy!r} has no parameter(s) {sorted(unknown)}; "
            f"it takes {sorted(accepted - {'seed'}) or 'none'} (see `medq strategies {strategy}`)"
        )
    hints = _hints(factory)
    out: dict[str, Any] = {}
    for name in signature:
        if name not in accepted:
            continue
        param = signature[name]
        if name in given:
            out[name] = check_value(strategy, name, given[name], hints.get(name))
        elif param.default is inspect.Parameter.empty:
            raise StrategySpecError(f"strategy {strategy!r} needs parameter {name!r}")
        else:
            out[name] = check_value(strategy, name, param.default, hints.get(name))
    return out
