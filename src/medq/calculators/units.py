"""Explicit unit conversion for calculator inputs.

Every quantity parameter has one canonical unit (the unit its formula is written in). A
caller may give a bare number (read as the canonical unit), ``[value, "unit"]`` or
``{"value": ..., "unit": ...}``; the value is converted here, before range checks, so a
range error reports the canonical value. An unknown unit is a CalculatorInputError-style
validation error that names the parameter and lists the accepted units.

Conversion factors (molar masses from the standard clinical tables):
creatinine 88.42 umol/L per mg/dL (113.12 g/mol); bilirubin 17.1 umol/L per mg/dL
(584.66 g/mol); urea nitrogen 0.357 mmol/L per mg/dL (28.02 g/mol of N2); glucose
0.0555 mmol/L per mg/dL (180.16 g/mol); cholesterol 0.02586 mmol/L per mg/dL
(386.65 g/mol); triglycerides 0.01129 mmol/L per mg/dL (885.7 g/mol); calcium 0.2495
mmol/L per mg/dL (40.08 g/mol); sodium 22.99 g/mol; insulin 6 pmol/L per uIU/mL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError


def normalize_unit(unit: str) -> str:
    """Canonical spelling for matching: lower case, no spaces, micro as 'u', no '^'."""
    text = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace("°", "deg")
    text = text.replace("^", "").replace("²", "2").replace("³", "3").replace("₂", "2")
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Dimension:
    """A kind of quantity: its canonical unit and how each other unit converts to it."""

    name: str
    canonical: str
    to_canonical: Mapping[str, Callable[[float], float]]
    display: tuple[str, ...] = ()

    def convert(self, value: float, unit: str) -> float:
        """``value`` in ``unit`` expressed in the canonical unit; KeyError if unknown."""
        return self.to_canonical[normalize_unit(unit)](value)

    def accepts(self, unit: str) -> bool:
        return normalize_unit(unit) in self.to_canonical

    @property
    def unit_names(self) -> list[str]:
        """The accepted units as usually written (misspelled aliases left out)."""
        return list(self.display) or sorted(self.to_canonical)


def _scale(factor: float) -> Callable[[float], float]:
    return lambda value: value * factor


def dimension(
    name: str,
    canonical: str,
    factors: Mapping[str, float | Callable[[float], float]],
    aliases: Mapping[str, str] | None = None,
) -> Dimension:
    """A Dimension from ``{unit spelling: factor to canonical, or a function}``.

    ``aliases`` maps extra spellings (misspellings seen in notes) to a listed unit; they
    are accepted but not advertised in the schema.
    """
    table: dict[str, Callable[[float], float]] = {normalize_unit(canonical): _scale(1.0)}
    for unit, factor in factors.items():
        table[normalize_unit(unit)] = factor if callable(factor) else _scale(float(factor))
    for alias, unit in (aliases or {}).items():
        table[normalize_unit(alias)] = table[normalize_unit(unit)]
    display = tuple(dict.fromkeys([canonical, *factors]))
    return Dimension(name, canonical, table, display)


def _per_volume(mg_dl_per_mmol_l: float) -> dict[str, float]:
    """Mass and molar concentration units of an analyte whose canonical unit is mg/dL."""
    return {
        "mmol/L": mg_dl_per_mmol_l,
        "µmol/L": mg_dl_per_mmol_l / 1000,
        "mg/L": 0.1,
        "g/L": 100.0,
        "g/dL": 1000.0,
    }


# --- demographics and vital signs -------------------------------------------------------
AGE = dimension("age", "years", {
    "year": 1, "yr": 1, "yrs": 1, "y": 1, "months": 1 / 12, "month": 1 / 12, "mo": 1 / 12,
    "weeks": 7 / 365.25, "week": 7 / 365.25, "days": 1 / 365.25, "day": 1 / 365.25,
})
BODY_WEIGHT = dimension("weight", "kg", {
    "kilograms": 1, "kilogram": 1, "g": 0.001, "grams": 0.001, "lb": 0.453592,
    "lbs": 0.453592, "pounds": 0.453592, "pound": 0.453592, "oz": 0.0283495,
})
HEIGHT = dimension("height", "cm", {
    "m": 100, "meters": 100, "mm": 0.1, "in": 2.54, "inch": 2.54, "inches": 2.54,
    "ft": 30.48, "feet": 30.48,
})
TEMPERATURE = dimension(
    "temperature", "°C",
    {"degrees celsius": 1, "°F": lambda v: (v - 32) * 5 / 9, "K": lambda v: v - 273.15},
    aliases={"C": "°C", "celsius": "°C", "degrees celsisus": "°C", "degree celsius": "°C",
             "F": "°F", "fahrenheit": "°F", "degrees fahrenheit": "°F",
             "degrees fahreinheit": "°F", "kelvin": "K"},
)
PRESSURE = dimension("pressure", "mm Hg", {"mmhg": 1, "torr": 1, "kpa": 7.50062})
RATE = dimension("rate", "per minute", {
    "beats per minute": 1, "bpm": 1, "/min": 1, "breaths per minute": 1, "min-1": 1,
    "per min": 1,
})
DURATION_MS = dimension("duration", "msec", {"ms": 1, "milliseconds": 1, "s": 1000,
                                             "sec": 1000, "seconds": 1000})
PERCENT = dimension("percent", "%", {"percent": 1, "fraction": 100})
BMI = dimension("body mass index", "kg/m^2", {"kg/m2": 1})

# --- laboratory values --------------------------------------------------------------------
CREATININE = dimension("creatinine", "mg/dL", _per_volume(11.312))
BILIRUBIN = dimension("bilirubin", "mg/dL", _per_volume(58.466))
BUN = dimension("blood urea nitrogen", "mg/dL", _per_volume(2.8014))
GLUCOSE = dimension("glucose", "mg/dL", _per_volume(18.016))
CHOLESTEROL = dimension("cholesterol", "mg/dL", _per_volume(38.665))
TRIGLYCERIDES = dimension("triglycerides", "mg/dL", _per_volume(88.57))
CALCIUM = dimension("calcium", "mg/dL", {**_per_volume(4.008), "mEq/L": 2.004})
ALBUMIN = dimension("albumin", "g/dL", {"g/L": 0.1, "mg/dL": 0.001})
HEMOGLOBIN = dimension("hemoglobin", "g/dL", {"g/L": 0.1, "mmol/L": 1.611})


def _monovalent(molar_mass: float) -> dict[str, float]:
    # mEq = mmol for a monovalent ion; mass units through the molar mass.
    return {"mmol/L": 1, "meq/L": 1, "mg/dL": 10 / molar_mass, "mg/L": 1 / molar_mass}


SODIUM = dimension("sodium", "mEq/L", _monovalent(22.99))
POTASSIUM = dimension("potassium", "mEq/L", _monovalent(39.098))
CHLORIDE = dimension("chloride", "mEq/L", _monovalent(35.45))
BICARBONATE = dimension("bicarbonate", "mEq/L", _monovalent(61.02))
INSULIN = dimension("insulin", "uIU/mL", {"mIU/L": 1, "pmol/L": 1 / 6.0})
ENZYME = dimension("enzyme activity", "U/L", {"IU/L": 1, "units/L": 1})
CELL_COUNT = dimension("cell count", "10^9/L", {
    "10^3/uL": 1, "x10^9/L": 1, "x10^3/uL": 1, "10^3/mm^3": 1, "k/uL": 1, "thousand/uL": 1,
    # a count per microlitre (per mm^3), per litre, as written in notes
    "/µL": 1e-3, "µL": 1e-3, "count/µL": 1e-3, "cells/µL": 1e-3, "/mm^3": 1e-3,
    "mm^3": 1e-3, "cells/mm^3": 1e-3, "/L": 1e-9, "L": 1e-9, "count/L": 1e-9,
})
VASOPRESSOR = dimension("infusion rate", "mcg/kg/min", {"ug/kg/min": 1, "mc/kg/min": 1})
URINE_OUTPUT = dimension("urine output", "mL/day", {"mL/24h": 1, "mL/24hr": 1, "L/day": 1000,
                                                    "mL/d": 1})
MASS_MG = dimension("dose", "mg", {"g": 1000, "mcg": 0.001, "ug": 0.001})
MASS_UG = dimension("dose", "mcg", {"ug": 1, "mg": 1000})
FENTANYL_PATCH = dimension("fentanyl patch rate", "mcg/hr", {"ug/hr": 1, "ug/h": 1,
                                                              "mcg/h": 1})
PER_DAY = dimension("doses per day", "per day", {"/day": 1, "doses/day": 1, "times/day": 1})


def _quantity_parser(dim: Dimension) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        if isinstance(raw, Mapping):
            if set(raw) != {"value", "unit"}:
                raise PydanticCustomError(
                    "quantity", "give a number in {canonical} or {{'value': ..., 'unit': ...}}",
                    {"canonical": dim.canonical},
                )
            value, unit = raw["value"], raw["unit"]
        elif isinstance(raw, list | tuple):
            if len(raw) != 2:
                raise PydanticCustomError(
                    "quantity", "give a number in {canonical} or [value, unit]",
                    {"canonical": dim.canonical},
                )
            value, unit = raw
        else:
            return raw  # a bare number: already in the canonical unit
        if not isinstance(unit, str):
            raise PydanticCustomError("quantity", "the unit must be text", {})
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PydanticCustomError("quantity", "the value must be a number", {})
        if not dim.accepts(unit):
            raise PydanticCustomError(
                "unknown_unit",
                "unknown {name} unit '{unit}'; canonical unit {canonical}, accepted: {known}",
                {"name": dim.name, "unit": unit, "canonical": dim.canonical,
                 "known": ", ".join(dim.unit_names)},
            )
        return dim.convert(float(value), unit)

    return parse


def quantity_schema(dim: Dimension, description: str) -> dict[str, Any]:
    """JSON schema: a number in the canonical unit, or an object with value and unit."""
    return {
        "anyOf": [
            {"type": "number"},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "number"},
                    "unit": {"type": "string", "examples": dim.unit_names},
                },
                "required": ["value", "unit"],
                "additionalProperties": False,
            },
        ],
    }


@dataclass(frozen=True)
class CanonicalUnit:
    """Marks a quantity parameter with the unit its value is held in after conversion."""

    unit: str


def quantity(
    dim: Dimension,
    description: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> tuple[Any, ...]:
    """The metadata of a float parameter in ``dim``'s canonical unit, accepting any known unit.

    Unpack it into ``Annotated`` so that type checkers see a plain float alias::

        Age = Annotated[float, *quantity(AGE, "age", ge=0, le=130)]
    """
    return (
        BeforeValidator(_quantity_parser(dim)),
        annotated_types.Interval(gt=gt, ge=ge, lt=lt, le=le),
        Field(
            description=f"{description}: a number in {dim.canonical}, or "
            f'{{"value": number, "unit": "..."}} in an accepted unit'
        ),
        WithJsonSchema(quantity_schema(dim, description)),
        CanonicalUnit(dim.canonical),
    )
