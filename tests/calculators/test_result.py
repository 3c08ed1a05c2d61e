"""`compute` returns a Calculation: value, unit, inputs as used, formula and steps."""

from __future__ import annotations

import dataclasses
import json

import pytest
from tests.calculators.test_formulas import CASES

from medq.calculators import Calculation, Step, calculators, compute, get_calculator, step

README_ARGS = {"age": 65, "sex": "male", "weight": [82, "kg"], "creatinine": [106, "µmol/L"]}


def test_readme_example_reads_as_promised() -> None:
    result = compute("creatinine_clearance", README_ARGS)
    assert isinstance(result, Calculation)
    assert str(result) == "71.2 mL/min"
    # (140 - 65) x 82 / (72 x 106 µmol/L in mg/dL), by hand; 1 mg/dL = 88.40 µmol/L
    assert result.value == pytest.approx(75 * 82 / (72 * 106 / 88.40), rel=1e-4)
    assert result.unit == "mL/min" and result.output == "decimal"


def test_inputs_are_the_values_used_after_unit_conversion() -> None:
    inputs = {s.name: s for s in compute("creatinine_clearance", README_ARGS).inputs}
    assert inputs["creatinine"].value == pytest.approx(106 / 88.40, rel=1e-4)
    assert inputs["creatinine"].unit == "mg/dL"
    assert (inputs["weight"].value, inputs["weight"].unit) == (82, "kg")
    assert (inputs["sex"].value, inputs["sex"].unit) == ("male", None)
    assert inputs["height"].value is None and inputs["height"].unit == "cm"  # optional
    assert str(inputs["creatinine"]) == "creatinine = 1.199 mg/dL"


def test_intermediate_values_reproduce_the_result() -> None:
    args = {"age": 50, "sex": "male", "weight": 100, "height": 175, "creatinine": 1.0}
    result = compute("creatinine_clearance", args)
    steps = {s.name: s.value for s in result.steps}
    ibw = 50 + 2.3 * (175 / 2.54 - 60)
    assert steps["BMI"] == pytest.approx(100 / 1.75**2)
    assert steps["ideal body weight (Devine)"] == pytest.approx(ibw)
    assert steps["adjusted body weight"] == pytest.approx(ibw + 0.4 * (100 - ibw))
    assert result.value == pytest.approx((140 - 50) * steps["weight used"] / 72)
    text = result.explain()
    for line in ("inputs:", "formula: Cockcroft-Gault", "steps:", "BMI = 32.65 kg/m^2",
                 f"result: {result}"):
        assert line in text


SCORES_WITH_POINTS = {"apache_ii", "caprini_score", "charlson_comorbidity_index",
                      "child_pugh", "glasgow_blatchford", "glasgow_coma_scale",
                      "heart_score", "sofa"}


@pytest.mark.parametrize(("name", "args"), [(c[0], c[1]) for c in CASES
                                            if c[0] in SCORES_WITH_POINTS])
def test_score_points_add_up_to_the_score(name: str, args: dict) -> None:
    result = compute(name, args)
    assert sum(s.value for s in result.steps if s.unit == "points") == result.value


@pytest.mark.parametrize(("name", "args"), [(c[0], c[1]) for c in CASES],
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_calculation_is_complete_and_serialisable(name: str, args: dict) -> None:
    calc = get_calculator(name)
    result = compute(name, args)
    assert [s.name for s in result.inputs] == list(calc.params.model_fields)
    assert result.formula == calc.description and result.title == calc.title
    assert str(result).endswith(calc.unit or "")
    assert all(isinstance(s, Step) and s.name for s in result.steps)
    json.dumps(result.to_json())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 0  # type: ignore[misc]


def test_every_equation_records_an_intermediate_or_is_one_expression() -> None:
    # Calculators whose formula is a single expression of the inputs have nothing between
    # inputs and result; every other one records its steps.
    single = {"mean_arterial_pressure", "qtc_rautaharju", "homa_ir"}
    for name, args, _ in CASES:
        if get_calculator(name).output == "decimal" and name not in single:
            assert compute(name, args).steps, name
    assert len(calculators()) == 55


def test_dates_and_gestational_age_read_as_answers() -> None:
    due = compute("estimated_due_date", {"last_menstrual_period": "01/01/2021"})
    assert str(due) == due.answer == "10/08/2021" and due.unit is None
    age = compute("gestational_age", {"last_menstrual_period": "01/01/2021",
                                      "current_date": "01/31/2021"})
    assert age.value == (4, 2) and str(age) == age.answer == "(4 weeks, 2 days)"
    assert age.to_json()["value"] == [4, 2]


def test_scores_read_as_integers_with_their_unit() -> None:
    result = compute("glasgow_coma_scale", {"eye": "eye opening to pain",
                                            "verbal": "confused", "motor": "obeys commands"})
    assert result.value == 12 and str(result) == "12 points"
    assert [(s.name, s.value) for s in result.steps] == [("eye", 2), ("verbal", 4),
                                                        ("motor", 6)]


def test_step_outside_a_computation_records_nothing() -> None:
    assert step("x", 3.0) == 3.0
    calc = get_calculator("body_mass_index")
    assert calc.func(calc.params(weight=70, height=175)) == pytest.approx(22.857, rel=1e-4)
    assert [s.name for s in compute("body_mass_index", {"weight": 70, "height": 175}).steps] \
        == ["height"]
