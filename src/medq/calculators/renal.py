"""Kidney function: creatinine clearance, eGFR (CKD-EPI 2021, MDRD), FENa."""

from __future__ import annotations

from typing import Annotated

from medq.calculators import units as u
from medq.calculators._common import (
    AdultAge,
    Creatinine,
    Height,
    Params,
    Sex,
    Sodium,
    Weight,
    flag,
)
from medq.calculators.base import calculator
from medq.calculators.physical import devine_ibw
from medq.calculators.result import step
from medq.calculators.units import quantity

UrineCreatinine = Annotated[float, *quantity(u.CREATININE, "urine creatinine", gt=0)]
UrineSodium = Annotated[float, *quantity(u.SODIUM, "urine sodium", ge=0)]


class CreatinineClearanceParams(Params):
    age: AdultAge
    sex: Sex
    weight: Weight
    creatinine: Creatinine
    height: Height | None = None


@calculator(
    title="Creatinine Clearance (Cockcroft-Gault Equation)", medcalc_id=2, output="decimal",
    unit="mL/min", category="lab",
    citation="Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum "
    "creatinine. Nephron 1976;16:31-41; weight choice by BMI as in MDCalc (Winter MA et al. "
    "Pharmacotherapy 2012;32:604-12).",
)
def creatinine_clearance(p: CreatinineClearanceParams) -> float:
    """Cockcroft-Gault: (140 - age) x weight x (0.85 if female) / (72 x creatinine mg/dL).

    With a height, the weight used follows the BMI: underweight (BMI < 18.5) actual weight;
    normal (18.5-24.9) the lesser of ideal (Devine) and actual weight; overweight or obese
    (BMI >= 25) the adjusted body weight, IBW + 0.4 x (weight - IBW). Without a height the
    actual weight is used, as in the original paper.
    """
    weight = p.weight
    if p.height is not None:
        bmi = step("BMI", p.weight / (p.height / 100) ** 2, "kg/m^2")
        ibw = step("ideal body weight (Devine)", devine_ibw(p.sex, p.height), "kg")
        if 18.5 <= bmi < 25:
            weight = min(ibw, p.weight)
        elif bmi >= 25:
            weight = step("adjusted body weight", ibw + 0.4 * (p.weight - ibw), "kg")
    step("weight used", weight, "kg")
    sex_factor = step("sex factor", 0.85 if p.sex == "female" else 1.0)
    return (140 - p.age) * weight * sex_factor / (72 * p.creatinine)


class CkdEpiParams(Params):
    age: AdultAge
    sex: Sex
    creatinine: Creatinine


@calculator(
    title="CKD-EPI Equations for Glomerular Filtration Rate", medcalc_id=3, output="decimal",
    unit="mL/min/1.73 m^2", category="lab",
    citation="Inker LA et al. New creatinine- and cystatin C-based equations to estimate "
    "GFR without race. N Engl J Med 2021;385:1737-49 (CKD-EPI 2021 creatinine).",
)
def ckd_epi_2021(p: CkdEpiParams) -> float:
    """CKD-EPI 2021 (race-free) creatinine eGFR.

    142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 (female), with
    k = 0.7 (female) / 0.9 (male) and a = -0.241 (female) / -0.302 (male); Scr in mg/dL.
    """
    female = p.sex == "female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    step("kappa", kappa, "mg/dL")
    step("alpha", alpha)
    ratio = step("Scr / kappa", p.creatinine / kappa)
    step("age factor 0.9938^age", 0.9938**p.age)
    egfr = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938**p.age
    return egfr * step("sex factor", 1.012 if female else 1.0)


class MdrdParams(Params):
    age: AdultAge
    sex: Sex
    creatinine: Creatinine
    black: bool = flag("Black race (the equation's 1.212 race coefficient)")


@calculator(
    title="MDRD GFR Equation", medcalc_id=9, output="decimal", unit="mL/min/1.73 m^2",
    category="lab",
    citation="Levey AS et al. Expressing the MDRD study equation for estimating GFR with "
    "standardized serum creatinine values. Clin Chem 2007;53:766-72 (IDMS, 175).",
)
def mdrd_gfr(p: MdrdParams) -> float:
    """IDMS-traceable MDRD: 175 x Scr^-1.154 x age^-0.203 x 0.742 (female) x 1.212 (Black)."""
    egfr = step("175 x Scr^-1.154 x age^-0.203", 175 * p.creatinine**-1.154 * p.age**-0.203,
                "mL/min/1.73 m^2")
    if p.sex == "female":
        egfr *= step("sex factor", 0.742)
    if p.black:
        egfr *= step("race factor", 1.212)
    return egfr


class FenaParams(Params):
    sodium: Sodium
    creatinine: Creatinine
    urine_sodium: UrineSodium
    urine_creatinine: UrineCreatinine


@calculator(
    title="Fractional Excretion of Sodium (FENa)", medcalc_id=40, output="decimal", unit="%",
    category="lab",
    citation="Espinel CH. The FENa test. JAMA 1976;236:579-81.",
)
def fractional_excretion_of_sodium(p: FenaParams) -> float:
    """FENa (%) = 100 x (urine Na x serum Cr) / (serum Na x urine Cr)."""
    return 100 * step("urine Na x serum Cr", p.urine_sodium * p.creatinine) / step(
        "serum Na x urine Cr", p.sodium * p.urine_creatinine)
