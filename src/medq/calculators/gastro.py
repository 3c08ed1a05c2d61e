"""Liver and gastrointestinal: Child-Pugh, MELD-Na, FIB-4, Glasgow-Blatchford."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from medq.calculators import units as u
from medq.calculators._common import (
    BUN,
    Age,
    Albumin,
    Bilirubin,
    Creatinine,
    HeartRate,
    Params,
    Sex,
    Sodium,
    SystolicBP,
    flag,
)
from medq.calculators.base import calculator
from medq.calculators.result import points, step
from medq.calculators.units import quantity

INR = Field(gt=0, le=20, description="international normalized ratio")
Aminotransferase = Annotated[float, *quantity(u.ENZYME, "aminotransferase activity", gt=0)]
Platelets = Annotated[float, *quantity(u.CELL_COUNT, "platelet count", gt=0)]
Hemoglobin = Annotated[float, *quantity(u.HEMOGLOBIN, "hemoglobin", gt=0)]


class ChildPughParams(Params):
    bilirubin: Bilirubin
    albumin: Albumin
    inr: float = INR
    ascites: Literal["absent", "slight", "moderate"] = Field(
        default="absent", description="ascites: absent, slight, or moderate(-severe)")
    encephalopathy: Literal["none", "grade 1-2", "grade 3-4"] = Field(
        default="none", description="hepatic encephalopathy grade")


@calculator(
    title="Child-Pugh Score for Cirrhosis Mortality", medcalc_id=15, output="integer",
    unit="points", category="severity",
    citation="Pugh RN et al. Transection of the oesophagus for bleeding oesophageal "
    "varices. Br J Surg 1973;60:646-9.",
)
def child_pugh(p: ChildPughParams) -> int:
    """Child-Pugh (5-15): bilirubin < 2 / 2-3 / > 3 mg/dL, albumin > 3.5 / 2.8-3.5 / < 2.8
    g/dL, INR < 1.7 / 1.7-2.3 / > 2.3, ascites and encephalopathy; 1-3 points each."""
    bilirubin = points("bilirubin", 1 if p.bilirubin < 2 else 2 if p.bilirubin <= 3 else 3)
    albumin = points("albumin", 1 if p.albumin > 3.5 else 2 if p.albumin >= 2.8 else 3)
    inr = points("INR", 1 if p.inr < 1.7 else 2 if p.inr <= 2.3 else 3)
    ascites = points("ascites", {"absent": 1, "slight": 2, "moderate": 3}[p.ascites])
    encephalopathy = points("encephalopathy", {"none": 1, "grade 1-2": 2, "grade 3-4": 3}[
        p.encephalopathy])
    return bilirubin + albumin + inr + ascites + encephalopathy


class MeldNaParams(Params):
    creatinine: Creatinine
    bilirubin: Bilirubin
    inr: float = INR
    sodium: Sodium
    dialysis: bool = flag("dialysis at least twice, or CVVHD for 24 h, in the past week")


@calculator(
    title="MELD Na (UNOS/OPTN)", medcalc_id=23, output="decimal", unit="points",
    category="lab",
    citation="Kim WR et al. Hyponatremia and mortality among patients on the liver-"
    "transplant waiting list. N Engl J Med 2008;359:1018-26; OPTN MELD policy (2016).",
)
def meld_na(p: MeldNaParams) -> int:
    """MELD-Na (OPTN 2016).

    Lab values below 1.0 are set to 1.0; creatinine is capped at 4.0 (and set to 4.0 with
    dialysis); sodium is bounded to 125-137. MELD(i) = 10 x (0.957 ln Cr + 0.378 ln bili +
    1.120 ln INR + 0.643), rounded to one decimal; above 11,
    MELD = MELD(i) + 1.32 x (137 - Na) - 0.033 x MELD(i) x (137 - Na). Capped at 40.
    """
    creatinine = step("creatinine used",
                      4.0 if p.dialysis else min(max(p.creatinine, 1.0), 4.0), "mg/dL")
    bilirubin = step("bilirubin used", max(p.bilirubin, 1.0), "mg/dL")
    inr = step("INR used", max(p.inr, 1.0))
    sodium = step("sodium used", min(max(p.sodium, 125.0), 137.0), "mEq/L")
    meld_i = 0.957 * math.log(creatinine) + 0.378 * math.log(bilirubin)
    meld_i += 1.120 * math.log(inr) + 0.643
    meld = step("MELD(i)", round(meld_i * 10, 1))
    if meld > 11:
        meld = step("MELD-Na before rounding",
                    meld + 1.32 * (137 - sodium) - 0.033 * meld * (137 - sodium))
    return min(round(meld), 40)


class Fib4Params(Params):
    age: Age
    ast: Aminotransferase
    alt: Aminotransferase
    platelets: Platelets


@calculator(
    title="Fibrosis-4 (FIB-4) Index for Liver Fibrosis", medcalc_id=19, output="decimal",
    unit=None, category="lab",
    citation="Sterling RK et al. Development of a simple noninvasive index to predict "
    "significant fibrosis in patients with HIV/HCV coinfection. Hepatology "
    "2006;43:1317-25.",
)
def fib4_index(p: Fib4Params) -> float:
    """FIB-4 = age x AST / (platelets (10^9/L) x sqrt(ALT))."""
    step("age x AST", p.age * p.ast)
    return p.age * p.ast / step("platelets x sqrt(ALT)", p.platelets * math.sqrt(p.alt))


class GlasgowBlatchfordParams(Params):
    bun: BUN
    hemoglobin: Hemoglobin
    sex: Sex
    systolic_bp: SystolicBP
    heart_rate: HeartRate
    melena: bool = flag("melena")
    syncope: bool = flag("recent syncope")
    hepatic_disease: bool = flag("hepatic disease history")
    cardiac_failure: bool = flag("cardiac failure")


@calculator(
    title="Glasgow-Blatchford Bleeding Score (GBS)", medcalc_id=27, output="integer",
    unit="points", category="risk",
    citation="Blatchford O, Murray WR, Blatchford M. A risk score to predict need for "
    "treatment for upper-gastrointestinal haemorrhage. Lancet 2000;356:1318-21.",
)
def glasgow_blatchford(p: GlasgowBlatchfordParams) -> int:
    """Glasgow-Blatchford: BUN (mg/dL: >= 18.2 2, >= 22.4 3, >= 28 4, > 70 6), hemoglobin
    by sex, systolic BP (100-109 1, 90-99 2, < 90 3), pulse >= 100 1, melena 1, syncope 2,
    hepatic disease 2, cardiac failure 2."""
    bun = p.bun
    score = points("BUN", 6 if bun > 70 else 4 if bun >= 28 else 3 if bun >= 22.4 else
                   2 if bun >= 18.2 else 0)
    hb = p.hemoglobin
    if p.sex == "male":
        score += points("hemoglobin", 6 if hb < 10 else 3 if hb < 12 else 1 if hb < 13 else 0)
    else:
        score += points("hemoglobin", 6 if hb < 10 else 1 if hb < 12 else 0)
    sbp = p.systolic_bp
    score += points("systolic BP", 3 if sbp < 90 else 2 if sbp < 100 else 1 if sbp < 110 else 0)
    score += points("pulse >= 100", p.heart_rate >= 100) + points("melena", p.melena)
    score += points("syncope", 2 * p.syncope)
    score += points("hepatic disease", 2 * p.hepatic_disease)
    score += points("cardiac failure", 2 * p.cardiac_failure)
    return int(score)

