"""The registry, JSON schemas, unit conversion and input errors."""

from __future__ import annotations

import json

import pytest

from medq.calculators import (
    Calculator,
    CalculatorInputError,
    UnknownCalculatorError,
    calculators,
    compute,
    get_calculator,
    json_schema,
)
from medq.calculators import units as u


def test_registry_holds_the_55_medcalc_bench_calculators() -> None:
    calcs = calculators()
    assert len(calcs) == 55
    ids = {c.medcalc_id for c in calcs.values()}
    assert len(ids) == 55 and None not in ids
    for name, calc in calcs.items():
        assert isinstance(calc, Calculator) and calc.name == name
        assert calc.output in ("decimal", "integer", "date", "weeks_days")
        assert calc.citation and calc.title and calc.description


def test_lookup_by_name_or_medcalc_id() -> None:
    assert get_calculator(2).name == "creatinine_clearance"
    assert get_calculator("2").title == "Creatinine Clearance (Cockcroft-Gault Equation)"
    assert get_calculator("qtc_bazett").medcalc_id == 11
    with pytest.raises(UnknownCalculatorError, match="unknown calculator 'nope'"):
        get_calculator("nope")
    with pytest.raises(UnknownCalculatorError, match="id 999"):
        get_calculator(999)


@pytest.mark.parametrize("name", sorted(calculators()))
def test_json_schema_is_a_valid_tool_definition(name: str) -> None:
    tool = json_schema(name)
    assert tool["name"] == name and tool["description"]
    params = tool["parameters"]
    assert params["type"] == "object" and params["properties"]
    json.dumps(tool)  # serialisable as-is
    for prop in params["properties"].values():
        assert "description" in prop or "$ref" in prop or "anyOf" in prop or "items" in prop


def test_quantity_schema_offers_number_or_value_unit() -> None:
    prop = json_schema("creatinine_clearance")["parameters"]["properties"]["creatinine"]
    kinds = [alt.get("type") for alt in prop["anyOf"]]
    assert kinds == ["number", "object"]
    assert "mg/dL" in prop["description"]
    assert "µmol/L" in prop["anyOf"][1]["properties"]["unit"]["examples"]


@pytest.mark.parametrize(("dim", "value", "unit", "expected"), [
    (u.CREATININE, 88.42, "µmol/L", 1.0002),
    (u.CREATININE, 88.42, "umol/l", 1.0002),
    (u.BODY_WEIGHT, 154.324, "lbs", 70.0),
    (u.HEIGHT, 70, "in", 177.8),
    (u.TEMPERATURE, 98.6, "°F", 37.0),
    (u.TEMPERATURE, 310.15, "K", 37.0),
    (u.GLUCOSE, 5.55, "mmol/L", 99.99),
    (u.CHOLESTEROL, 5.0, "mmol/L", 193.3),
    (u.TRIGLYCERIDES, 1.0, "mmol/L", 88.57),
    (u.BUN, 10, "mmol/L", 28.01),
    (u.ALBUMIN, 35, "g/L", 3.5),
    (u.CALCIUM, 2.5, "mmol/L", 10.02),
    (u.BILIRUBIN, 17.1, "µmol/L", 1.0),
    (u.SODIUM, 140, "mmol/L", 140),
    (u.CELL_COUNT, 150000, "µL", 150),
    (u.CELL_COUNT, 1.5e11, "L", 150),
    (u.AGE, 18, "months", 1.5),
    (u.PRESSURE, 10, "kPa", 75.0062),
])
def test_unit_conversions(dim: u.Dimension, value: float, unit: str, expected: float) -> None:
    assert dim.convert(value, unit) == pytest.approx(expected, rel=1e-3)


def test_quantity_forms_are_equivalent() -> None:
    base = {"age": 60, "sex": "male", "weight": 72}
    a = compute("creatinine_clearance", {**base, "creatinine": 1.0}).value
    b = compute("creatinine_clearance", {**base, "creatinine": [88.42, "µmol/L"]}).value
    c = compute("creatinine_clearance",
                {**base, "creatinine": {"value": 1, "unit": "mg/dL"}}).value
    assert a == c and b == pytest.approx(a, rel=1e-3)


@pytest.mark.parametrize(("name", "args", "param", "text"), [
    ("creatinine_clearance", {"age": 60, "sex": "male", "weight": 70, "creatinine": 0},
     "creatinine", "greater than 0"),
    ("creatinine_clearance", {"age": -1, "sex": "male", "weight": 70, "creatinine": 1},
     "age", "greater than 0"),
    ("creatinine_clearance", {"age": 60, "sex": "male", "weight": 70}, "creatinine",
     "is required"),
    ("creatinine_clearance", {"age": 60, "sex": "other", "weight": 70, "creatinine": 1},
     "sex", "'male' or 'female'"),
    ("creatinine_clearance",
     {"age": 60, "sex": "male", "weight": [70, "stone"], "creatinine": 1},
     "weight", "unknown weight unit 'stone'"),
    ("body_mass_index", {"weight": 70, "height": 170, "bmi": 3}, "bmi",
     "not a parameter"),
    ("body_mass_index", {"weight": [70], "height": 170}, "weight", "[value, unit]"),
    ("body_mass_index", {"weight": {"value": "x", "unit": "kg"}, "height": 170}, "weight",
     "must be a number"),
    ("glasgow_coma_scale", {"eye": "wide", "verbal": "oriented", "motor": "obeys commands"},
     "eye", "eye"),
    ("delta_ratio", {"sodium": 140, "chloride": 104, "bicarbonate": 24}, "bicarbonate",
     "zero"),
    ("apache_ii", {"age": 44, "temperature": 37, "systolic_bp": 120, "diastolic_bp": 80,
                   "heart_rate": 80, "respiratory_rate": 16, "fio2": 60, "ph": 7.4,
                   "sodium": 140, "potassium": 4, "creatinine": 1.0, "hematocrit": 40,
                   "wbc": 8, "gcs": 15}, "a_a_gradient", "A-a gradient"),
    ("gestational_age", {"last_menstrual_period": "01/02/2020",
                         "current_date": "01/01/2020"}, "current_date", "before"),
    ("estimated_due_date", {"last_menstrual_period": "13/45/2020"},
     "last_menstrual_period", "date"),
])
def test_errors_name_the_parameter(name: str, args: dict, param: str, text: str) -> None:
    with pytest.raises(CalculatorInputError) as info:
        compute(name, args)
    assert info.value.param == param
    assert param in str(info.value) and text in str(info.value)


def test_arguments_must_be_an_object() -> None:
    with pytest.raises(CalculatorInputError, match="object of parameters"):
        compute("body_mass_index", [70, 170])  # type: ignore[arg-type]


def test_params_instance_is_accepted() -> None:
    calc = get_calculator("body_mass_index")
    params = calc.params(weight=70, height=175)
    assert calc.compute(params).value == pytest.approx(22.857, rel=1e-4)
