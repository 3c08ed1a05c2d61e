"""Strategy specs: ``name:k=v`` and ``name(k=v,base=other(...))``, parsed and printed canonically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
