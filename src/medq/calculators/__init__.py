"""Deterministic clinical calculators: the 55 of MedCalc-Bench, typed and unit-aware.

Each calculator takes a pydantic parameter model (which is also its JSON schema for tool
calling) and cites its published formula. Quantities accept a number in the canonical
unit, ``[value, "unit"]`` or ``{"value": ..., "unit": ...}``. A computation returns a
`Calculation`: the value, its unit, the inputs after unit conversion, the formula and the
intermediate values.

Example:
    >>> from medq.calculators import compute, get_calculator, json_schema
    >>> result = compute("creatinine_clearance", {"age": 65, "sex": "male",
    ...     "weight": [82, "kg"], "creatinine": [106, "µmol/L"]})
    >>> str(result), round(result.value, 2)
    ('71.2 mL/min', 71.24)
    >>> json_schema("body_mass_index")["parameters"]["required"]
    ['weight', 'height']
    >>> get_calculator(2).title
    'Creatinine Clearance (Cockcroft-Gault Equation)'
"""

from medq.calculators.base import (
    Calculation,
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
from medq.calculators.result import Step, step
from medq.calculators.tolerance import is_correct

__all__ = [
    "Calculation",
    "Calculator",
    "CalculatorInputError",
    "Output",
    "Result",
    "Step",
    "UnknownCalculatorError",
    "calculator",
    "calculators",
    "compute",
    "get_calculator",
    "is_correct",
    "json_schema",
    "step",
]
