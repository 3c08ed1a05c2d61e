"""Venous thromboembolism: Wells (PE, DVT), PERC and Caprini."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from medq.calculators import units as u
from medq.calculators._common import Age, HeartRate, Params, Sex, flag
from medq.calculators.base import calculator
from medq.calculators.result import points, step
from medq.calculators.units import quantity

OxygenSaturation = Annotated[
    float, *quantity(u.PERCENT, "oxygen saturation on room air", ge=0, le=100)
]
BodyMassIndex = Annotated[float, *quantity(u.BMI, "body mass index", gt=0, le=200)]


class WellsPeParams(Params):
    dvt_signs: bool = flag("clinical signs and symptoms of DVT")
    pe_most_likely: bool = flag("PE is the #1 diagnosis or equally likely")
    heart_rate: HeartRate
    immobilization_or_surgery: bool = flag("immobilization >= 3 days or surgery in the "
                                           "previous 4 weeks")
    previous_pe_or_dvt: bool = flag("previously documented PE or DVT")
    hemoptysis: bool = flag("hemoptysis")
    malignancy: bool = flag("malignancy with treatment within 6 months or palliative")


@calculator(
    title="Wells' Criteria for Pulmonary Embolism", medcalc_id=8, output="decimal",
    unit="points", category="risk",
    citation="Wells PS et al. Derivation of a simple clinical model to categorize patients' "
    "probability of pulmonary embolism. Thromb Haemost 2000;83:416-20.",
)
def wells_pe(p: WellsPeParams) -> float:
    """Wells PE: DVT signs 3, PE most likely 3, HR > 100 1.5, immobilization/surgery 1.5,
    previous PE/DVT 1.5, hemoptysis 1, malignancy 1."""
    step("heart rate > 100", p.heart_rate > 100)
    return (
        3.0 * p.dvt_signs + 3.0 * p.pe_most_likely + 1.5 * (p.heart_rate > 100)
        + 1.5 * p.immobilization_or_surgery + 1.5 * p.previous_pe_or_dvt
        + 1.0 * p.hemoptysis + 1.0 * p.malignancy
    )


class WellsDvtParams(Params):
    active_cancer: bool = flag("active cancer (treatment within 6 months or palliative)")
    bedridden_or_major_surgery: bool = flag("bedridden > 3 days or major surgery within 12 "
                                            "weeks")
    calf_swelling: bool = flag("calf swelling > 3 cm compared with the other leg")
    collateral_veins: bool = flag("collateral (non-varicose) superficial veins")
    entire_leg_swollen: bool = flag("entire leg swollen")
    localized_tenderness: bool = flag("localized tenderness along the deep venous system")
    pitting_edema: bool = flag("pitting edema confined to the symptomatic leg")
    paralysis_or_cast: bool = flag("paralysis, paresis or recent plaster immobilization of "
                                   "the leg")
    previous_dvt: bool = flag("previously documented DVT")
    alternative_diagnosis: bool = flag("alternative diagnosis at least as likely as DVT")


@calculator(
    title="Wells' Criteria for DVT", medcalc_id=16, output="integer", unit="points",
    category="risk",
    citation="Wells PS et al. Evaluation of D-dimer in the diagnosis of suspected "
    "deep-vein thrombosis. N Engl J Med 2003;349:1227-35.",
)
def wells_dvt(p: WellsDvtParams) -> int:
    """Wells DVT: one point for each of nine findings, minus 2 for an alternative
    diagnosis at least as likely."""
    findings = points("findings (1 each)", sum([
        p.active_cancer, p.bedridden_or_major_surgery, p.calf_swelling, p.collateral_veins,
        p.entire_leg_swollen, p.localized_tenderness, p.pitting_edema, p.paralysis_or_cast,
        p.previous_dvt,
    ]))
    return findings - points("alternative diagnosis", 2 * p.alternative_diagnosis)


class PercParams(Params):
    age: Age
    heart_rate: HeartRate
    oxygen_saturation: OxygenSaturation
    unilateral_leg_swelling: bool = flag("unilateral leg swelling")
    hemoptysis: bool = flag("hemoptysis")
    recent_surgery_or_trauma: bool = flag("surgery or trauma within 4 weeks")
    previous_pe_or_dvt: bool = flag("prior PE or DVT")
    hormone_use: bool = flag("oral contraceptives, hormone replacement or estrogen use")


@calculator(
    title="PERC Rule for Pulmonary Embolism", medcalc_id=48, output="integer",
    unit="criteria", category="diagnosis",
    citation="Kline JA et al. Clinical criteria to prevent unnecessary diagnostic testing "
    "in emergency department patients with suspected pulmonary embolism. J Thromb Haemost "
    "2004;2:1247-55.",
)
def perc_rule(p: PercParams) -> int:
    """Number of PERC criteria met: age >= 50, HR >= 100, SaO2 < 95%, unilateral leg
    swelling, hemoptysis, recent surgery/trauma, prior PE/DVT, hormone use."""
    return sum(bool(c) for c in [
        step("age >= 50", p.age >= 50), step("heart rate >= 100", p.heart_rate >= 100),
        step("SaO2 < 95%", p.oxygen_saturation < 95),
        p.unilateral_leg_swelling, p.hemoptysis, p.recent_surgery_or_trauma,
        p.previous_pe_or_dvt, p.hormone_use,
    ])


SurgeryType = Literal["none", "minor", "major", "laparoscopic", "arthroplasty"]
Mobility = Literal["normal", "bed rest", "confined to bed >72 hours"]


class CapriniParams(Params):
    age: Age
    sex: Sex
    surgery_type: SurgeryType = Field(
        default="none", description="none; minor; major (> 45 min); laparoscopic (> 45 "
        "min); arthroplasty (elective major lower-extremity arthroplasty)")
    recent_major_surgery: bool = flag("major surgery in the last month")
    recent_chf: bool = flag("congestive heart failure in the last month")
    recent_sepsis: bool = flag("sepsis in the last month")
    recent_pneumonia: bool = flag("pneumonia in the last month")
    recent_plaster_cast: bool = flag("immobilizing plaster cast in the last month")
    recent_fracture: bool = flag("hip, pelvis or leg fracture in the last month")
    recent_stroke: bool = flag("stroke in the last month")
    recent_multiple_trauma: bool = flag("multiple trauma in the last month")
    recent_spinal_cord_injury: bool = flag("acute spinal cord injury with paralysis in the "
                                           "last month")
    varicose_veins: bool = flag("varicose veins")
    swollen_legs: bool = flag("current swollen legs")
    central_venous_access: bool = flag("current central venous access")
    history_dvt: bool = flag("previously documented DVT")
    history_pe: bool = flag("previously documented PE")
    family_history_thrombosis: bool = flag("family history of thrombosis")
    factor_v_leiden: bool = flag("positive factor V Leiden")
    prothrombin_20210a: bool = flag("positive prothrombin 20210A")
    elevated_homocysteine: bool = flag("elevated serum homocysteine")
    lupus_anticoagulant: bool = flag("positive lupus anticoagulant")
    anticardiolipin_antibody: bool = flag("elevated anticardiolipin antibody")
    heparin_induced_thrombocytopenia: bool = flag("heparin-induced thrombocytopenia")
    other_thrombophilia: bool = flag("other congenital or acquired thrombophilia")
    mobility: Mobility = Field(default="normal", description="mobility")
    inflammatory_bowel_disease: bool = flag("history of inflammatory bowel disease")
    bmi: BodyMassIndex | None = None
    acute_mi: bool = flag("acute myocardial infarction")
    copd: bool = flag("chronic obstructive pulmonary disease")
    malignancy: bool = flag("present or previous malignancy")
    pregnancy_related: bool = flag("female: pregnant or postpartum, history of unexplained "
                                   "stillbirth or recurrent abortion, or on hormones")


@calculator(
    title="Caprini Score for Venous Thromboembolism (2005)", medcalc_id=36,
    output="integer", unit="points", category="risk",
    citation="Caprini JA. Thrombosis risk assessment as a guide to quality patient care. "
    "Dis Mon 2005;51:70-8.",
)
def caprini_score(p: CapriniParams) -> int:
    """Caprini 2005 VTE risk score: weighted sum of age, surgery, recent events, venous
    disease and thrombophilia, mobility and other risk factors (BMI > 25 scores 1)."""
    score = points("age", 3 if p.age >= 75 else 2 if p.age >= 61 else 1 if p.age >= 41 else 0)
    score += points("surgery", {"none": 0, "minor": 1, "major": 2, "laparoscopic": 2,
                                "arthroplasty": 5}[p.surgery_type])
    score += points("1-point factors", sum([
        p.recent_major_surgery, p.recent_chf, p.recent_sepsis, p.recent_pneumonia,
        p.varicose_veins, p.swollen_legs, p.inflammatory_bowel_disease, p.acute_mi, p.copd]))
    score += points("2-point factors", 2 * sum([p.recent_plaster_cast,
                                                p.central_venous_access, p.malignancy]))
    score += points("3-point factors", 3 * sum([
        p.history_dvt, p.history_pe, p.family_history_thrombosis, p.factor_v_leiden,
        p.prothrombin_20210a, p.elevated_homocysteine, p.lupus_anticoagulant,
        p.anticardiolipin_antibody, p.heparin_induced_thrombocytopenia,
        p.other_thrombophilia,
    ]))
    score += points("5-point factors", 5 * sum([
        p.recent_fracture, p.recent_stroke, p.recent_multiple_trauma,
        p.recent_spinal_cord_injury]))
    score += points("mobility", {"normal": 0, "bed rest": 1, "confined to bed >72 hours": 2}[
        p.mobility])
    score += points("BMI > 25", p.bmi is not None and p.bmi > 25)
    score += points("pregnancy-related", p.sex == "female" and p.pregnancy_related)
    return int(score)
