"""A calculator's result: the value, its unit, and the worked steps that led to it.

`compute` returns a `Calculation`, never a bare number, so a reader (a person, a report, a
tool-calling trace) sees what was computed from what::

    >>> from medq.calculators import compute
    >>> result = compute("creatinine_clearance", {"age": 65, "sex": "male",
    ...     "weight": [82, "kg"], "creatinine": [106, "µmol/L"]})
    >>> str(result)
    '71.2 mL/min'
    >>> [str(s) for s in result.inputs][:2]
    ['age = 65 years', 'sex = male']

Intermediate values are recorded by the calculator itself with `step(name, value, unit)`
(it returns the value, so a formula stays one expression); `compute` collects them for the
one calculation in progress (a context variable, so concurrent computations never mix).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Output = Literal["decimal", "integer", "date", "weeks_days"]
Value = float | int | str | tuple[int, int]
StepValue = float | int | str | bool | None

_T = TypeVar("_T")
_RECORDING: ContextVar[list[Step] | None] = ContextVar("medq_calculator_steps", default=None)


def format_number(value: float | int) -> str:
    """A number as a person reads it: integers as is, decimals to 3 significant figures
    with at least one decimal place (71.2, 412.3, 1.90, 0.420)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0.0"
    magnitude = math.floor(math.log10(abs(value))) + 1
    return f"{value:.{min(6, max(1, 3 - magnitude))}f}"


def format_exact(value: float | int) -> str:
    """A number at 4 significant figures without trailing zeros (65, 1.199, 0.02586):
    inputs and intermediate values, where rounding to 3 figures would hide a conversion."""
    if isinstance(value, bool) or isinstance(value, int):
        return format_number(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        return str(int(value))
    magnitude = math.floor(math.log10(abs(value))) + 1
    text = f"{value:.{min(8, max(0, 4 - magnitude))}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Step:
    """One named value of a calculation: an input after unit conversion, or an
    intermediate result (``BMI = 27.1 kg/m^2``, ``age points = 2``)."""

    name: str
    value: StepValue
    unit: str | None = None

    def __str__(self) -> str:
        value = self.value
        text = format_exact(value) if isinstance(value, int | float) else str(value)
        return f"{self.name} = {text}" + (f" {self.unit}" if self.unit else "")

    def to_json(self) -> dict[str, Any]:
        """``{"name", "value", "unit"}`` (JSON-ready)."""
        return {"name": self.name, "value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class Calculation:
    """The result of one calculator on one set of inputs.

    Attributes:
        calculator: the calculator's name (``creatinine_clearance``).
        title: its MedCalc-Bench title.
        value: the result: a float, an int (scores), MM/DD/YYYY text (dates) or
            (weeks, days).
        unit: the unit of ``value`` (None for dates and unitless results).
        output: how ``value`` reads: "decimal", "integer", "date" or "weeks_days".
        inputs: every parameter as used, quantities in the calculator's canonical unit.
        formula: the calculator's documented formula (its docstring).
        steps: the intermediate values, in the order they were computed.

    ``str()`` is the value with its unit (``71.2 mL/min``); `answer` is the value as
    MedCalc-Bench answer text; `explain` is the whole worked calculation.
    """

    calculator: str
    title: str
    value: Value
    unit: str | None
    output: Output
    inputs: tuple[Step, ...]
    formula: str
    steps: tuple[Step, ...] = ()

    def __str__(self) -> str:
        if self.output == "weeks_days":
            return self.answer
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            text = format_number(self.value)
        else:
            text = str(self.value)
        return f"{text} {self.unit}" if self.unit else text

    def __float__(self) -> float:
        if isinstance(self.value, int | float):
            return float(self.value)
        raise TypeError(f"{self.calculator} returns {self.output}, not a number")

    @property
    def answer(self) -> str:
        """The value as answer text, unrounded: a number, MM/DD/YYYY, or
        "(w weeks, d days)" — what the MedCalc-Bench scorer reads."""
        if self.output == "weeks_days" and isinstance(self.value, tuple):
            weeks, days = self.value
            return f"({int(weeks)} weeks, {int(days)} days)"
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"the calculator returned {self.value}")
        return str(self.value)

    def explain(self) -> str:
        """The worked calculation as text: title, inputs, formula, steps and result."""
        lines = [self.title, "inputs:"]
        lines += [f"  {s}" for s in self.inputs]
        lines.append("formula: " + " ".join(self.formula.split()))
        if self.steps:
            lines.append("steps:")
            lines += [f"  {s}" for s in self.steps]
        lines.append(f"result: {self}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready (a (weeks, days) value becomes a list)."""
        return {
            "calculator": self.calculator,
            "title": self.title,
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
            "unit": self.unit,
            "output": self.output,
            "text": str(self),
            "inputs": [s.to_json() for s in self.inputs],
            "formula": self.formula,
            "steps": [s.to_json() for s in self.steps],
        }


def step(name: str, value: _T, unit: str | None = None) -> _T:
    """Record an intermediate value of the calculation in progress and return it.

    Outside `compute` (a calculator function called directly) nothing is recorded.
    """
    steps = _RECORDING.get()
    if steps is not None:
        recorded: StepValue = (
            value if isinstance(value, int | float | str | bool) or value is None else str(value)
        )
        steps.append(Step(name, recorded, unit))
    return value


def points(criterion: str, value: int | bool) -> int:
    """Record the points one criterion of a score contributes and return them."""
    return step(criterion, int(value), "points")


@contextmanager
def recording() -> Iterator[list[Step]]:
    """Collect the `step` calls made inside the block (one calculation's steps)."""
    steps: list[Step] = []
    token = _RECORDING.set(steps)
    try:
        yield steps
    finally:
        _RECORDING.reset(token)
