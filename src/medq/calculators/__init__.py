"""Deterministic clinical calculators: the 55 of MedCalc-Bench, typed and unit-aware.

Each calculator takes a pydantic parameter model (which is also its JSON schema for tool
calling) and cites its published formula. Quantities accept a number in the canonical
unit, ``[value, "unit"]`` or ``{"value": ..., "unit": ...}``.

Example:
    >>> from medq.calculators import compute, get_calculator, json_schema
    >>> round(compute("creatinine_clearance", {"age": 65, "sex": "male",
    ...     "weight": [82, "kg"], "creatinine": [106, "µmol/L"]}), 1)
    71.2
    >>> json_schema("body_mass_index")["parameters"]["required"]
    ['weight', 'height']
    >>> get_calculator(2).title
    'Creatinine Clearance (Cockcroft-Gault Equation)'
"""

from medq.calculators.base import (
    Calculator,
    CalculatorInputError,
    Output,
    Result,
    UnknownCalculatorError,
    calculator,
    calculators,
    compute,
    get_calculator,
    json_schema,
)
from medq.calculators.tolerance import is_correct

__all__ = [
    "Calculator",
    "CalculatorInputError",
    "Output",
    "Result",
    "UnknownCalculatorError",
    "calculator",
    "calculators",
    "compute",
    "get_calculator",
    "is_correct",
    "json_schema",
]
