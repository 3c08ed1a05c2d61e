"""Chemistry: electrolyte gaps and corrections, osmolality, lipids, insulin resistance."""

from __future__ import annotations

from typing import Annotated

from medq.calculators import units as u
from medq.calculators._common import (
    BUN,
    Age,
    Albumin,
    Bicarbonate,
    Chloride,
    Glucose,
    Params,
    Sex,
    Sodium,
    Weight,
)
from medq.calculators.base import CalculatorInputError, calculator
from medq.calculators.result import step
from medq.calculators.units import quantity

Calcium = Annotated[float, *quantity(u.CALCIUM, "serum total calcium", gt=0)]
TotalCholesterol = Annotated[float, *quantity(u.CHOLESTEROL, "total cholesterol", gt=0)]
HDL = Annotated[float, *quantity(u.CHOLESTEROL, "HDL cholesterol", gt=0)]
Triglycerides = Annotated[float, *quantity(u.TRIGLYCERIDES, "triglycerides", ge=0)]
Insulin = Annotated[float, *quantity(u.INSULIN, "fasting insulin", gt=0)]
FastingGlucose = Annotated[float, *quantity(u.GLUCOSE, "fasting glucose", gt=0)]

NORMAL_ALBUMIN = 4.0  # g/dL
NORMAL_ANION_GAP = 12.0  # mEq/L
NORMAL_BICARBONATE = 24.0  # mEq/L


class CalciumCorrectionParams(Params):
    calcium: Calcium
    albumin: Albumin


@calculator(
    title="Calcium Correction for Hypoalbuminemia", medcalc_id=7, output="decimal",
    unit="mg/dL", category="lab",
    citation="Payne RB et al. Interpretation of serum calcium in patients with abnormal "
    "serum proteins. Br Med J 1973;4:643-6.",
)
def calcium_correction(p: CalciumCorrectionParams) -> float:
    """Corrected calcium (mg/dL) = calcium + 0.8 x (4.0 - albumin g/dL)."""
    return p.calcium + step("0.8 x (4.0 - albumin)", 0.8 * (NORMAL_ALBUMIN - p.albumin),
                            "mg/dL")


class SodiumCorrectionParams(Params):
    sodium: Sodium
    glucose: Glucose


@calculator(
    title="Sodium Correction for Hyperglycemia", medcalc_id=26, output="decimal",
    unit="mEq/L", category="lab",
    citation="Katz MA. Hyperglycemia-induced hyponatremia: calculation of expected serum "
    "sodium depression. N Engl J Med 1973;289:843-4.",
)
def sodium_correction_hyperglycemia(p: SodiumCorrectionParams) -> float:
    """Katz correction: sodium + 0.024 x (glucose mg/dL - 100)."""
    return p.sodium + step("0.024 x (glucose - 100)", 0.024 * (p.glucose - 100), "mEq/L")


class SerumOsmolalityParams(Params):
    sodium: Sodium
    bun: BUN
    glucose: Glucose


@calculator(
    title="Serum Osmolality", medcalc_id=30, output="decimal", unit="mOsm/kg",
    category="lab",
    citation="Calculated osmolality 2 x Na + BUN/2.8 + glucose/18 (Dorwart WV, Chalmers L. "
    "Clin Chem 1975;21:190-4).",
)
def serum_osmolality(p: SerumOsmolalityParams) -> float:
    """Calculated serum osmolality: 2 x Na + BUN (mg/dL) / 2.8 + glucose (mg/dL) / 18."""
    step("2 x Na", 2 * p.sodium, "mOsm/kg")
    step("BUN / 2.8", p.bun / 2.8, "mOsm/kg")
    step("glucose / 18", p.glucose / 18, "mOsm/kg")
    return 2 * p.sodium + p.bun / 2.8 + p.glucose / 18


class HomaIrParams(Params):
    insulin: Insulin
    glucose: FastingGlucose


@calculator(
    title="HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)", medcalc_id=31,
    output="decimal", unit=None, category="lab",
    citation="Matthews DR et al. Homeostasis model assessment. Diabetologia "
    "1985;28:412-9.",
)
def homa_ir(p: HomaIrParams) -> float:
    """HOMA-IR = fasting insulin (uIU/mL) x fasting glucose (mg/dL) / 405."""
    return p.insulin * p.glucose / 405


class LdlParams(Params):
    total_cholesterol: TotalCholesterol
    hdl_cholesterol: HDL
    triglycerides: Triglycerides


@calculator(
    title="LDL Calculated", medcalc_id=44, output="decimal", unit="mg/dL", category="lab",
    citation="Friedewald WT, Levy RI, Fredrickson DS. Clin Chem 1972;18:499-502.",
)
def ldl_calculated(p: LdlParams) -> float:
    """Friedewald LDL (mg/dL) = total cholesterol - HDL - triglycerides / 5."""
    return p.total_cholesterol - p.hdl_cholesterol - step(
        "triglycerides / 5", p.triglycerides / 5, "mg/dL")


class FreeWaterDeficitParams(Params):
    age: Age
    sex: Sex
    weight: Weight
    sodium: Sodium


def total_body_water_fraction(age: float, sex: str) -> float:
    """Fraction of body weight that is water: children 0.6; adults 0.6 (men) / 0.5 (women);
    65 and over 0.5 (men) / 0.45 (women)."""
    if age < 18:
        return 0.6
    if age < 65:
        return 0.6 if sex == "male" else 0.5
    return 0.5 if sex == "male" else 0.45


@calculator(
    title="Free Water Deficit", medcalc_id=38, output="decimal", unit="L", category="lab",
    citation="Adrogue HJ, Madias NE. Hypernatremia. N Engl J Med 2000;342:1493-9.",
)
def free_water_deficit(p: FreeWaterDeficitParams) -> float:
    """Free water deficit (L) = total body water fraction x weight (kg) x (Na / 140 - 1)."""
    fraction = step("total body water fraction", total_body_water_fraction(p.age, p.sex))
    step("total body water", fraction * p.weight, "L")
    return fraction * p.weight * step("Na / 140 - 1", p.sodium / 140 - 1)


class AnionGapParams(Params):
    sodium: Sodium
    chloride: Chloride
    bicarbonate: Bicarbonate


class AlbuminAnionGapParams(AnionGapParams):
    albumin: Albumin


def _anion_gap(p: AnionGapParams) -> float:
    return step("anion gap", p.sodium - (p.chloride + p.bicarbonate), "mEq/L")


def _albumin_corrected_gap(p: AlbuminAnionGapParams) -> float:
    return step("albumin-corrected anion gap",
                _anion_gap(p) + 2.5 * (NORMAL_ALBUMIN - p.albumin), "mEq/L")


def _ratio(delta_gap: float, bicarbonate: float) -> float:
    if bicarbonate == NORMAL_BICARBONATE:
        raise CalculatorInputError(
            "parameter 'bicarbonate' equals 24 mEq/L, so the delta ratio's denominator "
            "(24 - bicarbonate) is zero", "bicarbonate"
        )
    step("delta gap", delta_gap, "mEq/L")
    return delta_gap / step("24 - HCO3", NORMAL_BICARBONATE - bicarbonate, "mEq/L")


_GAP_CITE = "Emmett M, Narins RG. Clinical use of the anion gap. Medicine 1977;56:38-54"
_ALB_CITE = (
    "Figge J, Jabor A, Kazda A, Fencl V. Anion gap and hypoalbuminemia. "
    "Crit Care Med 1998;26:1807-10"
)
_DELTA_CITE = "Wrenn K. The delta (delta) gap. Ann Emerg Med 1990;19:1310-3"


@calculator(title="Anion Gap", medcalc_id=39, output="decimal", unit="mEq/L",
            category="lab", citation=_GAP_CITE + ".")
def anion_gap(p: AnionGapParams) -> float:
    """Anion gap = Na - (Cl + HCO3), all in mEq/L."""
    return _anion_gap(p)


@calculator(title="Delta Gap", medcalc_id=63, output="decimal", unit="mEq/L",
            category="lab", citation=_DELTA_CITE + ".")
def delta_gap(p: AnionGapParams) -> float:
    """Delta gap = anion gap - 12 (normal anion gap)."""
    return _anion_gap(p) - NORMAL_ANION_GAP


@calculator(title="Delta Ratio", medcalc_id=64, output="decimal", unit=None,
            category="lab", citation=_DELTA_CITE + ".")
def delta_ratio(p: AnionGapParams) -> float:
    """Delta ratio = (anion gap - 12) / (24 - HCO3)."""
    return _ratio(_anion_gap(p) - NORMAL_ANION_GAP, p.bicarbonate)


@calculator(title="Albumin Corrected Anion Gap", medcalc_id=65, output="decimal",
            unit="mEq/L", category="lab", citation=_ALB_CITE + ".")
def albumin_corrected_anion_gap(p: AlbuminAnionGapParams) -> float:
    """Albumin-corrected anion gap = anion gap + 2.5 x (4 - albumin g/dL)."""
    return _albumin_corrected_gap(p)


@calculator(title="Albumin Corrected Delta Gap", medcalc_id=66, output="decimal",
            unit="mEq/L", category="lab", citation=f"{_ALB_CITE}; {_DELTA_CITE}.")
def albumin_corrected_delta_gap(p: AlbuminAnionGapParams) -> float:
    """Albumin-corrected delta gap = albumin-corrected anion gap - 12."""
    return _albumin_corrected_gap(p) - NORMAL_ANION_GAP


@calculator(title="Albumin Corrected Delta Ratio", medcalc_id=67, output="decimal",
            unit=None, category="lab", citation=f"{_ALB_CITE}; {_DELTA_CITE}.")
def albumin_corrected_delta_ratio(p: AlbuminAnionGapParams) -> float:
    """Albumin-corrected delta ratio = (albumin-corrected anion gap - 12) / (24 - HCO3)."""
    return _ratio(_albumin_corrected_gap(p) - NORMAL_ANION_GAP, p.bicarbonate)
