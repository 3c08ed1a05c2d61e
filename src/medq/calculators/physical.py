"""Body size, weight targets, maintenance fluids and mean arterial pressure."""

from __future__ import annotations

import math

from medq.calculators._common import (
    BMI_Q,
    DiastolicBP,
    Height,
    Params,
    Sex,
    SystolicBP,
    Weight,
)
from medq.calculators.base import calculator
from medq.calculators.result import step

CM_PER_INCH = 2.54


def devine_ibw(sex: str, height_cm: float) -> float:
    """Devine ideal body weight in kg: 50 (male) or 45.5 (female) + 2.3 kg per inch over 5 ft."""
    base = 50.0 if sex == "male" else 45.5
    return base + 2.3 * (height_cm / CM_PER_INCH - 60)


class BodyMassIndexParams(Params):
    weight: Weight
    height: Height


@calculator(
    title="Body Mass Index (BMI)", medcalc_id=6, output="decimal", unit="kg/m^2",
    category="physical",
    citation="Quetelet index; WHO Technical Report Series 854 (1995).",
)
def body_mass_index(p: BodyMassIndexParams) -> float:
    """Body mass index: weight (kg) / height (m)^2."""
    return p.weight / step("height", p.height / 100, "m") ** 2


class IdealBodyWeightParams(Params):
    sex: Sex
    height: Height


@calculator(
    title="Ideal Body Weight", medcalc_id=10, output="decimal", unit="kg", category="physical",
    citation="Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655.",
)
def ideal_body_weight(p: IdealBodyWeightParams) -> float:
    """Devine ideal body weight: 50 kg (male) or 45.5 kg (female) + 2.3 kg per inch over 60 in."""
    step("height", p.height / CM_PER_INCH, "in")
    return devine_ibw(p.sex, p.height)


class AdjustedBodyWeightParams(Params):
    sex: Sex
    weight: Weight
    height: Height


@calculator(
    title="Adjusted Body Weight", medcalc_id=62, output="decimal", unit="kg",
    category="physical",
    citation="Devine IBW with the 0.4 correction factor: Bauer LA, Applied Clinical "
    "Pharmacokinetics (2008); Pai MP, Paloucek FP. Ann Pharmacother 2000;34:1066-9.",
)
def adjusted_body_weight(p: AdjustedBodyWeightParams) -> float:
    """Adjusted body weight: IBW + 0.4 x (actual weight - IBW), IBW by Devine."""
    ibw = step("ideal body weight (Devine)", devine_ibw(p.sex, p.height), "kg")
    return ibw + 0.4 * (p.weight - ibw)


class BodySurfaceAreaParams(Params):
    weight: Weight
    height: Height


@calculator(
    title="Body Surface Area Calculator", medcalc_id=60, output="decimal", unit="m^2",
    category="physical",
    citation="Mosteller RD. Simplified calculation of body-surface area. "
    "N Engl J Med 1987;317:1098.",
)
def body_surface_area(p: BodySurfaceAreaParams) -> float:
    """Mosteller body surface area: sqrt(height (cm) x weight (kg) / 3600)."""
    return math.sqrt(step("height x weight / 3600", p.weight * p.height / 3600))


class TargetWeightParams(Params):
    target_bmi: BMI_Q
    height: Height


@calculator(
    title="Target weight", medcalc_id=61, output="decimal", unit="kg", category="physical",
    citation="Inverse of the Quetelet index: weight = BMI x height (m)^2.",
)
def target_weight(p: TargetWeightParams) -> float:
    """Weight that gives the target BMI: target BMI x height (m)^2."""
    return p.target_bmi * step("height", p.height / 100, "m") ** 2


class MaintenanceFluidsParams(Params):
    weight: Weight


@calculator(
    title="Maintenance Fluids Calculations", medcalc_id=22, output="decimal", unit="mL/hr",
    category="physical",
    citation="Holliday MA, Segar WE. The maintenance need for water in parenteral fluid "
    "therapy. Pediatrics 1957;19:823-832 (the 4-2-1 rule).",
)
def maintenance_fluids(p: MaintenanceFluidsParams) -> float:
    """Holliday-Segar 4-2-1 rule: 4 mL/kg/h for the first 10 kg, 2 for the next 10, 1 after."""
    w = p.weight
    step("first 10 kg at 4 mL/kg/h", 4 * min(w, 10), "mL/hr")
    if w <= 10:
        return 4 * w
    step("next 10 kg at 2 mL/kg/h", 2 * (min(w, 20) - 10), "mL/hr")
    if w <= 20:
        return 40 + 2 * (w - 10)
    step("above 20 kg at 1 mL/kg/h", w - 20, "mL/hr")
    return 60 + (w - 20)


class MeanArterialPressureParams(Params):
    systolic_bp: SystolicBP
    diastolic_bp: DiastolicBP


@calculator(
    title="Mean Arterial Pressure (MAP)", medcalc_id=5, output="decimal", unit="mm Hg",
    category="physical",
    citation="MAP = DBP + (SBP - DBP)/3; e.g. Sesso HD et al. Hypertension 2000;36:801-7.",
)
def mean_arterial_pressure(p: MeanArterialPressureParams) -> float:
    """Mean arterial pressure: (2 x diastolic + systolic) / 3."""
    return (2 * p.diastolic_bp + p.systolic_bp) / 3

