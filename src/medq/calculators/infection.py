"""Infection severity: pneumonia (PSI, CURB-65) and sore throat (Centor, FeverPAIN)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from medq.calculators import units as u
from medq.calculators._common import (
    BUN,
    Age,
    DiastolicBP,
    Glucose,
    HeartRate,
    Params,
    RespiratoryRate,
    Sex,
    Sodium,
    SystolicBP,
    Temperature,
    flag,
)
from medq.calculators.base import calculator
from medq.calculators.result import points, step
from medq.calculators.units import quantity

Hematocrit = Annotated[float, *quantity(u.PERCENT, "hematocrit", gt=0, le=100)]
PaO2 = Annotated[
    float, *quantity(u.PRESSURE, "arterial partial pressure of oxygen (PaO2)", gt=0, le=800)
]


class PsiParams(Params):
    age: Age
    sex: Sex
    nursing_home_resident: bool = flag("nursing home resident")
    neoplastic_disease: bool = flag("neoplastic disease")
    liver_disease: bool = flag("liver disease history")
    congestive_heart_failure: bool = flag("congestive heart failure history")
    cerebrovascular_disease: bool = flag("cerebrovascular disease history")
    renal_disease: bool = flag("renal disease history")
    altered_mental_status: bool = flag("altered mental status")
    respiratory_rate: RespiratoryRate
    systolic_bp: SystolicBP
    temperature: Temperature
    heart_rate: HeartRate
    ph: float | None = Field(default=None, gt=6, lt=8, description="arterial pH")
    bun: BUN | None = None
    sodium: Sodium | None = None
    glucose: Glucose | None = None
    hematocrit: Hematocrit | None = None
    pao2: PaO2 | None = None
    pleural_effusion: bool = flag("pleural effusion on x-ray")


@calculator(
    title="PSI Score: Pneumonia Severity Index for CAP", medcalc_id=29, output="integer",
    unit="points", category="severity",
    citation="Fine MJ et al. A prediction rule to identify low-risk patients with "
    "community-acquired pneumonia. N Engl J Med 1997;336:243-50.",
)
def pneumonia_severity_index(p: PsiParams) -> int:
    """PSI/PORT: age in years (women minus 10) plus points for residence, comorbidities,
    examination and laboratory findings; a laboratory value not given scores 0."""
    score = step("age (women minus 10)", p.age - (10 if p.sex == "female" else 0), "points")
    score += points("residence and comorbidities",
                    10 * p.nursing_home_resident + 30 * p.neoplastic_disease
                    + 20 * p.liver_disease + 10 * p.congestive_heart_failure
                    + 10 * p.cerebrovascular_disease + 10 * p.renal_disease)
    score += points("examination",
                    20 * p.altered_mental_status + 20 * (p.respiratory_rate >= 30)
                    + 20 * (p.systolic_bp < 90)
                    + 15 * (p.temperature < 35 or p.temperature >= 40)
                    + 10 * (p.heart_rate >= 125))
    score += points("laboratory and imaging",
                    30 * (p.ph is not None and p.ph < 7.35)
                    + 20 * (p.bun is not None and p.bun >= 30)
                    + 20 * (p.sodium is not None and p.sodium < 130)
                    + 10 * (p.glucose is not None and p.glucose >= 250)
                    + 10 * (p.hematocrit is not None and p.hematocrit < 30)
                    + 10 * (p.pao2 is not None and p.pao2 < 60)
                    + 10 * p.pleural_effusion)
    return round(score)


class Curb65Params(Params):
    confusion: bool = flag("new confusion")
    bun: BUN
    respiratory_rate: RespiratoryRate
    systolic_bp: SystolicBP
    diastolic_bp: DiastolicBP
    age: Age


@calculator(
    title="CURB-65 Score for Pneumonia Severity", medcalc_id=45, output="integer",
    unit="points", category="risk",
    citation="Lim WS et al. Defining community acquired pneumonia severity on presentation "
    "to hospital. Thorax 2003;58:377-82.",
)
def curb_65(p: Curb65Params) -> int:
    """CURB-65: confusion, BUN > 19 mg/dL (urea > 7 mmol/L), respiratory rate >= 30,
    SBP < 90 or DBP <= 60, age >= 65; one point each."""
    return sum([
        p.confusion, step("BUN > 19 mg/dL", p.bun > 19),
        step("respiratory rate >= 30", p.respiratory_rate >= 30),
        step("SBP < 90 or DBP <= 60", p.systolic_bp < 90 or p.diastolic_bp <= 60),
        step("age >= 65", p.age >= 65),
    ])


class CentorParams(Params):
    age: Age
    temperature: Temperature
    cough_absent: bool = flag("cough absent")
    tender_anterior_cervical_nodes: bool = flag("tender/swollen anterior cervical nodes")
    tonsillar_exudate_or_swelling: bool = flag("exudate or swelling on tonsils")


@calculator(
    title="Centor Score (Modified/McIsaac) for Strep Pharyngitis", medcalc_id=20,
    output="integer", unit="points", category="severity",
    citation="McIsaac WJ et al. A clinical score to reduce unnecessary antibiotic use in "
    "patients with sore throat. CMAJ 1998;158:75-83.",
)
def centor_score(p: CentorParams) -> int:
    """McIsaac-modified Centor: age 3-14 +1, 15-44 0, >= 45 -1; temperature > 38 C, absent
    cough, tender anterior cervical nodes, tonsillar exudate/swelling +1 each."""
    age = points("age", 1 if 3 <= p.age < 15 else -1 if p.age >= 45 else 0)
    return age + sum([step("temperature > 38 C", p.temperature > 38), p.cough_absent,
                      p.tender_anterior_cervical_nodes, p.tonsillar_exudate_or_swelling])


class FeverPainParams(Params):
    fever_past_24h: bool = flag("fever in the past 24 hours")
    purulence: bool = flag("purulent tonsils")
    attend_rapidly: bool = flag("symptom onset <= 3 days before attending")
    severe_tonsil_inflammation: bool = flag("severely inflamed tonsils")
    no_cough_or_coryza: bool = flag("absence of cough or coryza")


@calculator(
    title="FeverPAIN Score for Strep Pharyngitis", medcalc_id=33, output="integer",
    unit="points", category="diagnosis",
    citation="Little P et al. Clinical score and rapid antigen detection test to guide "
    "antibiotic use for sore throats. BMJ 2013;347:f5806.",
)
def feverpain(p: FeverPainParams) -> int:
    """FeverPAIN: Fever, Purulence, Attend rapidly (<= 3 days), severely Inflamed tonsils,
    No cough or coryza; one point each."""
    return sum([p.fever_past_24h, p.purulence, p.attend_rapidly,
                p.severe_tonsil_inflammation, p.no_cough_or_coryza])
