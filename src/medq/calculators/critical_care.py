"""Critical care: Glasgow Coma Scale, APACHE II, SOFA and SIRS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from medq.calculators import units as u
from medq.calculators._common import (
    Age,
    Bilirubin,
    Creatinine,
    DiastolicBP,
    HeartRate,
    Params,
    Potassium,
    RespiratoryRate,
    Sodium,
    SystolicBP,
    Temperature,
    flag,
)
from medq.calculators.base import CalculatorInputError, calculator
from medq.calculators.result import points, step
from medq.calculators.units import quantity

PaO2 = Annotated[
    float, *quantity(u.PRESSURE, "arterial partial pressure of oxygen (PaO2)", gt=0, le=800)
]
PaCO2 = Annotated[
    float, *quantity(u.PRESSURE, "arterial partial pressure of CO2 (PaCO2)", gt=0, le=300)
]
FiO2 = Annotated[
    float, *quantity(u.PERCENT, "fraction of inspired oxygen, in percent", ge=21, le=100)
]
AaGradient = Annotated[float, *quantity(u.PRESSURE, "alveolar-arterial O2 gradient", ge=0, le=800)]
Hematocrit = Annotated[float, *quantity(u.PERCENT, "hematocrit", gt=0, le=100)]
WhiteCells = Annotated[float, *quantity(u.CELL_COUNT, "white blood cell count", ge=0)]
Platelets = Annotated[float, *quantity(u.CELL_COUNT, "platelet count", ge=0)]
Vasopressor = Annotated[float, *quantity(u.VASOPRESSOR, "infusion rate", ge=0)]
UrineOutput = Annotated[float, *quantity(u.URINE_OUTPUT, "urine output", ge=0)]
MeanArterialPressure = Annotated[
    float, *quantity(u.PRESSURE, "mean arterial pressure", gt=0, le=300)
]
BandPercent = Annotated[float, *quantity(u.PERCENT, "band forms", ge=0, le=100)]
GCS = Field(ge=3, le=15, description="Glasgow Coma Scale total, 3-15")

Eye = Literal["eyes open spontaneously", "eye opening to verbal command",
              "eye opening to pain", "no eye opening", "not testable"]
Verbal = Literal["oriented", "confused", "inappropriate words", "incomprehensible sounds",
                 "no verbal response", "not testable"]
Motor = Literal["obeys commands", "localizes pain", "withdrawal from pain",
                "flexion to pain", "extension to pain", "no motor response"]
_EYE = {"eyes open spontaneously": 4, "eye opening to verbal command": 3,
        "eye opening to pain": 2, "no eye opening": 1, "not testable": 4}
_VERBAL = {"oriented": 5, "confused": 4, "inappropriate words": 3,
           "incomprehensible sounds": 2, "no verbal response": 1, "not testable": 5}
_MOTOR = {"obeys commands": 6, "localizes pain": 5, "withdrawal from pain": 4,
          "flexion to pain": 3, "extension to pain": 2, "no motor response": 1}


class GlasgowComaParams(Params):
    eye: Eye = Field(description="best eye response")
    verbal: Verbal = Field(description="best verbal response")
    motor: Motor = Field(description="best motor response")


@calculator(
    title="Glasgow Coma Score (GCS)", medcalc_id=21, output="integer", unit="points",
    category="severity",
    citation="Teasdale G, Jennett B. Assessment of coma and impaired consciousness. "
    "Lancet 1974;2:81-4.",
)
def glasgow_coma_scale(p: GlasgowComaParams) -> int:
    """GCS = eye (1-4) + verbal (1-5) + motor (1-6). A component recorded as 'not testable'
    (e.g. swollen eyes, intubation) is scored as normal, which overestimates the total."""
    return (points("eye", _EYE[p.eye]) + points("verbal", _VERBAL[p.verbal])
            + points("motor", _MOTOR[p.motor]))


def _band(value: float, bands: Sequence[tuple[float, int]], default: int) -> int:
    """Points for the first (lower bound inclusive, points) band the value reaches."""
    for lower, band_points in bands:
        if value >= lower:
            return band_points
    return default


class ApacheIIParams(Params):
    age: Age
    temperature: Temperature
    systolic_bp: SystolicBP
    diastolic_bp: DiastolicBP
    heart_rate: HeartRate
    respiratory_rate: RespiratoryRate
    fio2: FiO2
    pao2: PaO2 | None = None
    a_a_gradient: AaGradient | None = None
    ph: float = Field(gt=6, lt=8, description="arterial pH")
    sodium: Sodium
    potassium: Potassium
    creatinine: Creatinine
    acute_renal_failure: bool = flag("acute renal failure (doubles creatinine points)")
    hematocrit: Hematocrit
    wbc: WhiteCells
    gcs: int = GCS
    chronic_organ_insufficiency: bool = flag(
        "history of severe organ insufficiency (cirrhosis, NYHA IV, severe COPD, dialysis) "
        "or immunocompromise")
    admission: Literal["nonoperative", "emergency postoperative", "elective postoperative"] = (
        Field(default="nonoperative", description="admission type (for chronic health "
              "points)"))


@calculator(
    title="APACHE II Score", medcalc_id=28, output="integer", unit="points", category="risk",
    citation="Knaus WA, Draper EA, Wagner DP, Zimmerman JE. APACHE II: a severity of "
    "disease classification system. Crit Care Med 1985;13:818-29.",
)
def apache_ii(p: ApacheIIParams) -> int:
    """APACHE II: acute physiology (12 variables, worst in 24 h) + age + chronic health.

    Oxygenation uses the A-a gradient when FiO2 >= 50% and PaO2 otherwise; creatinine
    points double in acute renal failure; GCS contributes 15 - GCS.
    """
    temp = p.temperature
    score = points("temperature", _band(
        temp, [(41, 4), (39, 3), (38.5, 1), (36, 0), (34, 1), (32, 2), (30, 3)], 4))
    mean_ap = step("mean arterial pressure", (2 * p.diastolic_bp + p.systolic_bp) / 3, "mm Hg")
    score += points("mean arterial pressure", _band(
        mean_ap, [(160, 4), (130, 3), (110, 2), (70, 0), (50, 2)], 4))
    score += points("heart rate", _band(
        p.heart_rate, [(180, 4), (140, 3), (110, 2), (70, 0), (55, 2), (40, 3)], 4))
    score += points("respiratory rate", _band(
        p.respiratory_rate, [(50, 4), (35, 3), (25, 1), (12, 0), (10, 1), (6, 2)], 4))
    if p.fio2 >= 50:
        if p.a_a_gradient is None:
            raise _missing("a_a_gradient", "FiO2 >= 50% scores the A-a gradient")
        score += points("A-a gradient", _band(p.a_a_gradient, [(500, 4), (350, 3), (200, 2)], 0))
    else:
        if p.pao2 is None:
            raise _missing("pao2", "FiO2 < 50% scores the PaO2")
        score += points("PaO2", _band(p.pao2, [(70.0001, 0), (61, 1), (55, 3)], 4))
    score += points("arterial pH", _band(
        p.ph, [(7.7, 4), (7.6, 3), (7.5, 1), (7.33, 0), (7.25, 2), (7.15, 3)], 4))
    score += points("sodium", _band(
        p.sodium, [(180, 4), (160, 3), (155, 2), (150, 1), (130, 0), (120, 2), (111, 3)], 4))
    score += points("potassium", _band(
        p.potassium, [(7, 4), (6, 3), (5.5, 1), (3.5, 0), (3, 1), (2.5, 2)], 4))
    creatinine = _band(p.creatinine, [(3.5, 4), (2, 3), (1.5, 2), (0.6, 0)], 2)
    score += points("creatinine", creatinine * (2 if p.acute_renal_failure else 1))
    score += points("hematocrit", _band(
        p.hematocrit, [(60, 4), (50, 2), (46, 1), (30, 0), (20, 2)], 4))
    score += points("white cell count", _band(
        p.wbc, [(40, 4), (20, 2), (15, 1), (3, 0), (1, 2)], 4))
    score += points("15 - GCS", 15 - p.gcs)
    score += points("age", _band(p.age, [(75, 6), (65, 5), (55, 3), (45, 2)], 0))
    if p.chronic_organ_insufficiency:
        score += points("chronic health", 2 if p.admission == "elective postoperative" else 5)
    return score


def _missing(param: str, why: str) -> CalculatorInputError:
    return CalculatorInputError(f"apache_ii: parameter {param!r} is required ({why})", param)


class SofaParams(Params):
    pao2: PaO2
    fio2: FiO2
    mechanical_ventilation: bool = flag("on mechanical ventilation or CPAP")
    platelets: Platelets
    gcs: int = Field(default=15, ge=3, le=15, description="Glasgow Coma Scale (default 15)")
    bilirubin: Bilirubin
    mean_arterial_pressure: MeanArterialPressure | None = None
    systolic_bp: SystolicBP | None = None
    diastolic_bp: DiastolicBP | None = None
    hypotension: bool = flag("mean arterial pressure < 70 mm Hg (if no pressure is given)")
    dopamine: Vasopressor = 0.0
    dobutamine: Vasopressor = 0.0
    epinephrine: Vasopressor = 0.0
    norepinephrine: Vasopressor = 0.0
    creatinine: Creatinine | None = None
    urine_output: UrineOutput | None = None


@calculator(
    title="Sequential Organ Failure Assessment (SOFA) Score", medcalc_id=43,
    output="integer", unit="points", category="risk",
    citation="Vincent JL et al. The SOFA (Sepsis-related Organ Failure Assessment) score to "
    "describe organ dysfunction/failure. Intensive Care Med 1996;22:707-10.",
)
def sofa(p: SofaParams) -> int:
    """SOFA: six organ systems scored 0-4 each (respiration, coagulation, liver,
    cardiovascular, CNS, renal). PaO2/FiO2 < 200 scores 3-4 only with respiratory support;
    renal takes the worse of creatinine and urine output."""
    ratio = step("PaO2/FiO2", p.pao2 / (p.fio2 / 100), "mm Hg")
    respiration = _band(ratio, [(400, 0), (300, 1), (200, 2)], 3)
    if respiration == 3:
        respiration = (4 if ratio < 100 else 3) if p.mechanical_ventilation else 2
    coagulation = _band(p.platelets, [(150, 0), (100, 1), (50, 2), (20, 3)], 4)
    liver = _band(p.bilirubin, [(12, 4), (6, 3), (2, 2), (1.2, 1)], 0)
    if p.dopamine > 15 or p.epinephrine > 0.1 or p.norepinephrine > 0.1:
        cardiovascular = 4
    elif p.dopamine > 5 or p.epinephrine > 0 or p.norepinephrine > 0:
        cardiovascular = 3
    elif p.dopamine > 0 or p.dobutamine > 0:
        cardiovascular = 2
    elif _map_below_70(p):
        cardiovascular = 1
    else:
        cardiovascular = 0
    cns = _band(p.gcs, [(15, 0), (13, 1), (10, 2), (6, 3)], 4)
    renal = 0
    if p.creatinine is not None:
        renal = _band(p.creatinine, [(5, 4), (3.5, 3), (2, 2), (1.2, 1)], 0)
    if p.urine_output is not None:
        renal = max(renal, _band(p.urine_output, [(500, 0), (200, 3)], 4))
    return (points("respiration", respiration) + points("coagulation", coagulation)
            + points("liver", liver) + points("cardiovascular", cardiovascular)
            + points("central nervous system", cns) + points("renal", renal))


def _map_below_70(p: SofaParams) -> bool:
    mean_ap = p.mean_arterial_pressure
    if mean_ap is None and p.systolic_bp is not None and p.diastolic_bp is not None:
        mean_ap = (2 * p.diastolic_bp + p.systolic_bp) / 3
    return mean_ap < 70 if mean_ap is not None else p.hypotension


class SirsParams(Params):
    temperature: Temperature
    heart_rate: HeartRate
    respiratory_rate: RespiratoryRate
    paco2: PaCO2 | None = None
    wbc: WhiteCells
    bands: BandPercent | None = None


@calculator(
    title="SIRS Criteria", medcalc_id=51, output="integer", unit="criteria",
    category="diagnosis",
    citation="Bone RC et al. Definitions for sepsis and organ failure (ACCP/SCCM Consensus "
    "Conference). Chest 1992;101:1644-55.",
)
def sirs_criteria(p: SirsParams) -> int:
    """Number of SIRS criteria met (0-4): temperature > 38 or < 36 C; heart rate > 90;
    respiratory rate > 20 or PaCO2 < 32 mm Hg; WBC > 12 or < 4 x10^9/L or bands > 10%."""
    return sum([
        step("temperature > 38 or < 36 C", p.temperature > 38 or p.temperature < 36),
        step("heart rate > 90", p.heart_rate > 90),
        step("respiratory rate > 20 or PaCO2 < 32",
             p.respiratory_rate > 20 or (p.paco2 is not None and p.paco2 < 32)),
        step("WBC > 12 or < 4, or bands > 10%",
             p.wbc > 12 or p.wbc < 4 or (p.bands is not None and p.bands > 10)),
    ])
