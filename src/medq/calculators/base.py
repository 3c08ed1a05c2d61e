"""The calculator type, its registry and the one validating entry point.

A calculator is a deterministic function of a pydantic parameter model. Registering one
is a decorator on the function, so adding a calculator never edits a central list::

    @calculator(title="Mean Arterial Pressure (MAP)", medcalc_id=5, output="decimal",
                unit="mm Hg", citation="...")
    def mean_arterial_pressure(p: MeanArterialPressureParams) -> float:
        \"\"\"Mean arterial pressure: (2 x diastolic + systolic) / 3.\"\"\"
        return (2 * p.diastolic_bp + p.systolic_bp) / 3

`Calculator.compute` (and `compute`) return a `Calculation`: the value with its unit, the
inputs after unit conversion, the formula and the intermediate values the function
records with `step`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from medq.calculators.result import Calculation, Output, Step, recording
from medq.calculators.result import Value as Result
from medq.calculators.units import CanonicalUnit

_REGISTRY: dict[str, Calculator] = {}
_LOADED = False


class CalculatorInputError(ValueError):
    """Inputs a calculator cannot use: missing, out of range, or in an unknown unit.

    ``param`` names the offending parameter (None when the problem is not one parameter,
    such as an unknown calculator name).
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class UnknownCalculatorError(CalculatorInputError, KeyError):
    """A calculator name or MedCalc-Bench id that nothing registered."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Calculator:
    """One clinical calculator: metadata, a typed parameter model and the function.

    Attributes:
        name: snake_case id, the registered function's name.
        title: MedCalc-Bench's "Calculator Name".
        medcalc_id: MedCalc-Bench's "Calculator ID" (None for calculators outside it).
        params: the pydantic model of the inputs (also the JSON schema for tool calls).
        output: "decimal", "integer", "date" (MM/DD/YYYY) or "weeks_days" ((weeks, days)).
        unit: unit of the result, or None for scores and dates.
        citation: the published source of the formula.
        category: MedCalc-Bench category (lab, risk, physical, severity, diagnosis, ...).
        func: the implementation, taking a validated ``params`` instance.
    """

    name: str
    title: str
    medcalc_id: int | None
    params: type[BaseModel]
    output: Output
    unit: str | None
    citation: str
    category: str
    func: Callable[[Any], Result]

    @property
    def description(self) -> str:
        """The implementation's docstring: what it computes and how."""
        return inspect.cleandoc(self.func.__doc__ or self.title)

    def validate(self, arguments: BaseModel | Mapping[str, Any]) -> BaseModel:
        """Validated parameters; CalculatorInputError names the first bad parameter."""
        if isinstance(arguments, self.params):
            return arguments
        if isinstance(arguments, BaseModel):
            arguments = arguments.model_dump()
        if not isinstance(arguments, Mapping):
            raise CalculatorInputError(
                f"{self.name}: arguments must be an object of parameters, "
                f"got {type(arguments).__name__}"
            )
        try:
            return self.params.model_validate(dict(arguments))
        except ValidationError as exc:
            raise _input_error(self.name, exc) from None

    def compute(self, arguments: BaseModel | Mapping[str, Any]) -> Calculation:
        """Validate ``arguments`` (a params instance or a dict) and compute the result,
        with the inputs as used and the intermediate values."""
        params = self.validate(arguments)
        with recording() as steps:
            value = self.func(params)
        return Calculation(
            calculator=self.name, title=self.title, value=value, unit=self.unit,
            output=self.output, inputs=inputs_used(params), formula=self.description,
            steps=tuple(steps),
        )


def inputs_used(params: BaseModel) -> tuple[Step, ...]:
    """Each parameter's validated value, quantities in their canonical unit."""
    fields = type(params).model_fields
    return tuple(
        Step(name, _plain(getattr(params, name)), _canonical_unit(info))
        for name, info in fields.items()
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, BaseModel):
        return str(value.model_dump(mode="json"))
    if isinstance(value, list | tuple):
        return ", ".join(str(_plain(v)) for v in value)
    return str(value)


def _canonical_unit(info: FieldInfo) -> str | None:
    for meta in info.metadata:
        if isinstance(meta, CanonicalUnit):
            return meta.unit
    # An optional quantity (``Height | None``) keeps its marker inside the union.
    stack = [info.annotation]
    while stack:
        hint = stack.pop()
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, CanonicalUnit):
                return meta.unit
        stack.extend(typing.get_args(hint))
    return None


def _input_error(name: str, exc: ValidationError) -> CalculatorInputError:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"]
    if first["type"] == "missing":
        message = "is required"
    elif first["type"] == "extra_forbidden":
        message = "is not a parameter of this calculator"
    text = f"{name}: parameter {param!r} {message}" if param else f"{name}: {message}"
    if first["type"] not in ("missing", "extra_forbidden") and "input" in first:
        text += f" (got {first['input']!r})"
    more = exc.error_count() - 1
    if more:
        text += f"; and {more} more problem{'s' if more > 1 else ''}"
    return CalculatorInputError(text, param)


def calculator(
    *,
    title: str,
    medcalc_id: int | None,
    output: Output,
    unit: str | None,
    citation: str,
    category: str,
) -> Callable[[Callable[[Any], Result]], Callable[[Any], Result]]:
    """Decorator: register a function ``f(params) -> result`` as a calculator.

    The parameter model is the annotation of the function's single argument; the
    registered name is the function's name.
    """

    def decorate(func: Callable[[Any], Result]) -> Callable[[Any], Result]:
        hints = typing.get_type_hints(func)
        (arg,) = inspect.signature(func).parameters
        params = hints[arg]
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise TypeError(f"{func.__name__}: annotate its argument with a pydantic model")
        if func.__name__ in _REGISTRY:
            raise ValueError(f"calculator {func.__name__!r} is registered twice")
        _REGISTRY[func.__name__] = Calculator(
            name=func.__name__,
            title=title,
            medcalc_id=medcalc_id,
            params=params,
            output=output,
            unit=unit,
            citation=citation,
            category=category,
            func=func,
        )
        return func

    return decorate


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("medq.calculators")
    # Every public module registers its calculators on import.
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name not in _NOT_CALCULATORS:
            importlib.import_module(f"medq.calculators.{module.name}")
    _LOADED = True


_NOT_CALCULATORS = {"base", "units", "tolerance", "medcalc_bench", "result"}


def calculators() -> dict[str, Calculator]:
    """Every registered calculator by name, sorted by name."""
    _load()
    return dict(sorted(_REGISTRY.items()))


def get_calculator(name_or_medcalc_id: str | int) -> Calculator:
    """A calculator by its snake_case name or its MedCalc-Bench Calculator ID.

    A numeric string ("2") is read as a MedCalc-Bench id.
    """
    _load()
    key = name_or_medcalc_id
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key.strip())
    if isinstance(key, int) and not isinstance(key, bool):
        for calc in _REGISTRY.values():
            if calc.medcalc_id == key:
                return calc
        raise UnknownCalculatorError(f"no calculator has MedCalc-Bench id {key}")
    if isinstance(key, str) and key in _REGISTRY:
        return _REGISTRY[key]
    known = ", ".join(sorted(_REGISTRY))
    raise UnknownCalculatorError(f"unknown calculator {name_or_medcalc_id!r}; known: {known}")


def json_schema(calc: Calculator | str) -> dict[str, Any]:
    """A tool definition: ``{"name", "description", "parameters"}`` (JSON Schema)."""
    if isinstance(calc, str):
        calc = get_calculator(calc)
    description = f"{calc.title}. {calc.description}"
    if calc.unit:
        description += f"\nResult unit: {calc.unit}."
    return {
        "name": calc.name,
        "description": description,
        "parameters": calc.params.model_json_schema(),
    }


def compute(name: str | int, arguments: BaseModel | Mapping[str, Any]) -> Calculation:
    """Compute calculator ``name`` (or MedCalc-Bench id) on ``arguments``.

    Example:
        >>> result = compute("body_mass_index", {"weight": 70, "height": [175, "cm"]})
        >>> str(result), result.value
        ('22.9 kg/m^2', 22.857142857142858)
    """
    return get_calculator(name).compute(arguments)
