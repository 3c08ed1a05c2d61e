"""Cardiology: QT correction, atrial fibrillation risk, chest pain, peri-operative and
10-year coronary risk."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from medq.calculators import units as u
from medq.calculators._common import (
    Age,
    Creatinine,
    HeartRate,
    Params,
    QTInterval,
    Sex,
    SystolicBP,
    flag,
)
from medq.calculators.base import calculator
from medq.calculators.result import points, step
from medq.calculators.units import quantity

TotalCholesterol = Annotated[float, *quantity(u.CHOLESTEROL, "total cholesterol", gt=0)]
HDL = Annotated[float, *quantity(u.CHOLESTEROL, "HDL cholesterol", gt=0)]
FraminghamAge = Annotated[float, *quantity(u.AGE, "age (the model covers 30-79)", ge=20, le=130)]


class QTcParams(Params):
    qt_interval: QTInterval
    heart_rate: HeartRate


def _rr_seconds(heart_rate: float) -> float:
    return step("RR interval", 60 / heart_rate, "s")


@calculator(
    title="QTc Bazett Calculator", medcalc_id=11, output="decimal", unit="msec",
    category="physical",
    citation="Bazett HC. An analysis of the time-relations of electrocardiograms. "
    "Heart 1920;7:353-70.",
)
def qtc_bazett(p: QTcParams) -> float:
    """Bazett: QTc = QT / sqrt(RR), RR = 60 / heart rate in seconds."""
    return p.qt_interval / math.sqrt(_rr_seconds(p.heart_rate))


@calculator(
    title="QTc Fridericia Calculator", medcalc_id=56, output="decimal", unit="msec",
    category="physical",
    citation="Fridericia LS. Die Systolendauer im Elektrokardiogramm. Acta Med Scand "
    "1920;53:469-86.",
)
def qtc_fridericia(p: QTcParams) -> float:
    """Fridericia: QTc = QT / RR^(1/3), RR in seconds."""
    return p.qt_interval / _rr_seconds(p.heart_rate) ** (1 / 3)


@calculator(
    title="QTc Framingham Calculator", medcalc_id=57, output="decimal", unit="msec",
    category="physical",
    citation="Sagie A et al. An improved method for adjusting the QT interval for heart "
    "rate (the Framingham Heart Study). Am J Cardiol 1992;70:797-801.",
)
def qtc_framingham(p: QTcParams) -> float:
    """Framingham (Sagie): QTc = QT + 154 x (1 - RR), QT in msec and RR in seconds."""
    return p.qt_interval + 154 * (1 - _rr_seconds(p.heart_rate))


@calculator(
    title="QTc Hodges Calculator", medcalc_id=58, output="decimal", unit="msec",
    category="physical",
    citation="Hodges M et al. Bazett's QT correction reviewed: evidence that a linear QT "
    "correction for heart rate is better. J Am Coll Cardiol 1983;1:694.",
)
def qtc_hodges(p: QTcParams) -> float:
    """Hodges: QTc = QT + 1.75 x (heart rate - 60)."""
    return p.qt_interval + 1.75 * (60 / _rr_seconds(p.heart_rate) - 60)


@calculator(
    title="QTc Rautaharju Calculator", medcalc_id=59, output="decimal", unit="msec",
    category="physical",
    citation="Rautaharju PM et al. Sex differences in the evolution of the "
    "electrocardiographic QT interval with age. Can J Cardiol 1992;8:690-5.",
)
def qtc_rautaharju(p: QTcParams) -> float:
    """Rautaharju: QTc = QT x (120 + heart rate) / 180."""
    return p.qt_interval * (120 + p.heart_rate) / 180


class Cha2ds2VascParams(Params):
    age: Age
    sex: Sex
    congestive_heart_failure: bool = flag("congestive heart failure history")
    hypertension: bool = flag("hypertension history")
    stroke_tia_thromboembolism: bool = flag("prior stroke, TIA or thromboembolism")
    vascular_disease: bool = flag("vascular disease (prior MI, peripheral artery disease, "
                                  "aortic plaque)")
    diabetes: bool = flag("diabetes mellitus")


@calculator(
    title="CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", medcalc_id=4,
    output="integer", unit="points", category="risk",
    citation="Lip GYH et al. Refining clinical risk stratification for predicting stroke "
    "and thromboembolism in atrial fibrillation. Chest 2010;137:263-72.",
)
def cha2ds2_vasc(p: Cha2ds2VascParams) -> int:
    """CHA2DS2-VASc: CHF 1, hypertension 1, age >= 75 2 (65-74 1), diabetes 1,
    stroke/TIA/thromboembolism 2, vascular disease 1, female sex 1."""
    score = points("age", 2 if p.age >= 75 else 1 if p.age >= 65 else 0)
    score += points("female sex", p.sex == "female")
    score += p.congestive_heart_failure + p.hypertension + p.diabetes + p.vascular_disease
    score += points("stroke/TIA/thromboembolism", 2 * p.stroke_tia_thromboembolism)
    return int(score)


class HasBledParams(Params):
    age: Age
    hypertension: bool = flag("hypertension (uncontrolled, systolic > 160 mm Hg)")
    renal_disease: bool = flag("abnormal renal function (dialysis, transplant, Cr > 2.26 "
                               "mg/dL)")
    liver_disease: bool = flag("abnormal liver function (cirrhosis, bilirubin > 2x normal "
                               "with AST/ALT/AP > 3x normal)")
    stroke: bool = flag("prior stroke")
    prior_bleeding: bool = flag("prior major bleeding or predisposition to bleeding")
    labile_inr: bool = flag("labile INR (unstable/high INRs, time in range < 60%)")
    bleeding_medication: bool = flag("medication predisposing to bleeding (antiplatelets, "
                                     "NSAIDs)")
    alcohol_drinks_per_week: float = Field(
        default=0, ge=0, description="alcoholic drinks per week (>= 8 scores a point)"
    )


@calculator(
    title="HAS-BLED Score for Major Bleeding Risk", medcalc_id=25, output="integer",
    unit="points", category="risk",
    citation="Pisters R et al. A novel user-friendly score (HAS-BLED) to assess 1-year risk "
    "of major bleeding in patients with atrial fibrillation. Chest 2010;138:1093-100.",
)
def has_bled(p: HasBledParams) -> int:
    """HAS-BLED: one point each for hypertension, abnormal renal function, abnormal liver
    function, stroke, bleeding, labile INR, age > 65, bleeding drugs, alcohol >= 8/week."""
    criteria = [
        p.hypertension, p.renal_disease, p.liver_disease, p.stroke, p.prior_bleeding,
        p.labile_inr, step("age > 65", p.age > 65), p.bleeding_medication,
        step("alcohol >= 8 drinks/week", p.alcohol_drinks_per_week >= 8),
    ]
    return sum(bool(c) for c in criteria)


class HeartScoreParams(Params):
    history: Literal["slightly suspicious", "moderately suspicious", "highly suspicious"] = (
        Field(default="slightly suspicious", description="suspicion from the history")
    )
    ecg: Literal["normal", "non-specific repolarization disturbance",
                 "significant ST deviation"] = Field(default="normal", description="ECG")
    age: Age
    hypertension: bool = flag("hypertension")
    hypercholesterolemia: bool = flag("hypercholesterolemia")
    diabetes: bool = flag("diabetes mellitus")
    obesity: bool = flag("obesity (BMI > 30)")
    smoking: bool = flag("current smoker or quit within 3 months")
    family_history: bool = flag("parent or sibling with cardiovascular disease before 65")
    atherosclerotic_disease: bool = flag("known atherosclerotic disease (prior MI, PCI/CABG, "
                                         "stroke/TIA, peripheral arterial disease)")
    troponin: Literal["normal", "1-3x normal", ">3x normal"] = Field(
        default="normal", description="initial troponin relative to the normal limit"
    )


@calculator(
    title="HEART Score for Major Cardiac Events", medcalc_id=18, output="integer",
    unit="points", category="risk",
    citation="Six AJ, Backus BE, Kelder JC. Chest pain in the emergency room: value of the "
    "HEART score. Neth Heart J 2008;16:191-6.",
)
def heart_score(p: HeartScoreParams) -> int:
    """HEART: History, ECG, Age (45-64 1, >= 65 2), Risk factors (1-2: 1; >= 3 or known
    atherosclerotic disease: 2), Troponin (1-3x 1, > 3x 2); each 0-2."""
    history = {"slightly suspicious": 0, "moderately suspicious": 1, "highly suspicious": 2}
    ecg = {"normal": 0, "non-specific repolarization disturbance": 1,
           "significant ST deviation": 2}
    troponin = {"normal": 0, "1-3x normal": 1, ">3x normal": 2}
    age = points("age", 2 if p.age >= 65 else 1 if p.age >= 45 else 0)
    n_risk = step("risk factors present", sum([
        p.hypertension, p.hypercholesterolemia, p.diabetes, p.obesity, p.smoking,
        p.family_history]))
    risk = points("risk factors",
                  2 if (n_risk >= 3 or p.atherosclerotic_disease) else 1 if n_risk else 0)
    return (points("history", history[p.history]) + points("ECG", ecg[p.ecg]) + age + risk
            + points("troponin", troponin[p.troponin]))


class RcriParams(Params):
    high_risk_surgery: bool = flag("intraperitoneal, intrathoracic or suprainguinal "
                                   "vascular surgery")
    ischemic_heart_disease: bool = flag("history of ischemic heart disease")
    congestive_heart_failure: bool = flag("history of congestive heart failure")
    cerebrovascular_disease: bool = flag("history of stroke or TIA")
    insulin_treatment: bool = flag("pre-operative treatment with insulin")
    creatinine: Creatinine


@calculator(
    title="Revised Cardiac Risk Index for Pre-Operative Risk", medcalc_id=17,
    output="integer", unit="points", category="risk",
    citation="Lee TH et al. Derivation and prospective validation of a simple index for "
    "prediction of cardiac risk of major noncardiac surgery. Circulation 1999;100:1043-9.",
)
def revised_cardiac_risk_index(p: RcriParams) -> int:
    """RCRI: one point each for high-risk surgery, ischemic heart disease, heart failure,
    cerebrovascular disease, insulin treatment and pre-operative creatinine > 2 mg/dL."""
    criteria = [p.high_risk_surgery, p.ischemic_heart_disease, p.congestive_heart_failure,
                p.cerebrovascular_disease, p.insulin_treatment,
                step("creatinine > 2 mg/dL", p.creatinine > 2)]
    return sum(bool(c) for c in criteria)


class FraminghamParams(Params):
    age: FraminghamAge
    sex: Sex
    smoker: bool = flag("current smoker")
    total_cholesterol: TotalCholesterol
    hdl_cholesterol: HDL
    systolic_bp: SystolicBP
    bp_treated: bool = flag("blood pressure treated with medication")


_FRAMINGHAM = {
    # ln(age), ln(TC), ln(HDL), ln(SBP), treated, smoker, ln(age)ln(TC),
    # ln(age)*smoker, ln(age)^2, constant, baseline survival, smoking age cap
    "male": (52.00961, 20.014077, -0.905964, 1.305784, 0.241549, 12.096316, -4.605038,
             -2.84367, -2.93323, -172.300168, 0.9402, 70),
    "female": (31.764001, 22.465206, -1.187731, 2.552905, 0.420251, 13.07543, -5.060998,
               -2.996945, 0.0, -146.5933061, 0.98767, 78),
}


@calculator(
    title="Framingham Risk Score for Hard Coronary Heart Disease", medcalc_id=46,
    output="decimal", unit="%", category="lab",
    citation="National Cholesterol Education Program ATP III. Circulation "
    "2002;106:3143-421 (Framingham 10-year risk of MI or coronary death); Wilson PWF et "
    "al. Circulation 1998;97:1837-47.",
)
def framingham_hard_chd(p: FraminghamParams) -> float:
    """ATP III Framingham 10-year risk (%) of myocardial infarction or coronary death.

    Sex-specific Cox model in ln(age), ln(total cholesterol mg/dL), ln(HDL mg/dL),
    ln(systolic BP), BP treatment and smoking (age capped at 70 in men, 78 in women for
    the smoking interaction); risk = 1 - S0^exp(sum), S0 = 0.9402 (men) / 0.98767 (women).
    """
    b = _FRAMINGHAM[p.sex]
    ln_age = math.log(p.age)
    ln_tc = math.log(p.total_cholesterol)
    smoker = float(p.smoker)
    total = step("linear predictor", (
        b[0] * ln_age + b[1] * ln_tc + b[2] * math.log(p.hdl_cholesterol)
        + b[3] * math.log(p.systolic_bp) + b[4] * float(p.bp_treated) + b[5] * smoker
        + b[6] * ln_age * ln_tc + b[7] * math.log(min(p.age, b[11])) * smoker
        + b[8] * ln_age * ln_age + b[9]
    ))
    step("baseline 10-year survival S0", b[10])
    return 100 * (1 - b[10] ** math.exp(total))

