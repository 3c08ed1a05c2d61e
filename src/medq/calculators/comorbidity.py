"""Comorbidity burden: the Charlson Comorbidity Index."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medq.calculators._common import Age, Params, flag
from medq.calculators.base import calculator
from medq.calculators.result import points


class CharlsonParams(Params):
    age: Age
    myocardial_infarction: bool = flag("history of myocardial infarction")
    congestive_heart_failure: bool = flag("congestive heart failure")
    peripheral_vascular_disease: bool = flag("peripheral vascular disease")
    cerebrovascular_disease: bool = flag("cerebrovascular accident or TIA")
    dementia: bool = flag("dementia")
    copd: bool = flag("chronic pulmonary disease")
    connective_tissue_disease: bool = flag("connective tissue disease")
    peptic_ulcer_disease: bool = flag("peptic ulcer disease")
    liver_disease: Literal["none", "mild", "moderate to severe"] = Field(
        default="none", description="liver disease: none; mild (chronic hepatitis or "
        "cirrhosis without portal hypertension); moderate to severe")
    diabetes: Literal["none or diet-controlled", "uncomplicated", "end-organ damage"] = Field(
        default="none or diet-controlled", description="diabetes mellitus")
    hemiplegia: bool = flag("hemiplegia")
    moderate_severe_ckd: bool = flag("moderate to severe chronic kidney disease")
    solid_tumor: Literal["none", "localized", "metastatic"] = Field(
        default="none", description="solid tumor")
    leukemia: bool = flag("leukemia")
    lymphoma: bool = flag("lymphoma")
    aids: bool = flag("AIDS (not just HIV positive)")


@calculator(
    title="Charlson Comorbidity Index (CCI)", medcalc_id=32, output="integer",
    unit="points", category="risk",
    citation="Charlson ME et al. A new method of classifying prognostic comorbidity in "
    "longitudinal studies. J Chronic Dis 1987;40:373-83; age points per Charlson et al. "
    "J Clin Epidemiol 1994;47:1245-51.",
)
def charlson_comorbidity_index(p: CharlsonParams) -> int:
    """Age-adjusted Charlson index: age (< 50 0, 50-59 1, 60-69 2, 70-79 3, >= 80 4) plus
    weighted comorbidities (1: MI, CHF, PVD, CVA/TIA, dementia, COPD, connective tissue,
    ulcer, mild liver, uncomplicated diabetes; 2: hemiplegia, moderate-severe CKD, diabetes
    with end-organ damage, localized solid tumor, leukemia, lymphoma; 3: moderate-severe
    liver; 6: metastatic tumor, AIDS)."""
    score = points("age", 4 if p.age >= 80 else 3 if p.age >= 70 else 2 if p.age >= 60 else (
        1 if p.age >= 50 else 0))
    score += points("1-point comorbidities", sum([
        p.myocardial_infarction, p.congestive_heart_failure, p.peripheral_vascular_disease,
        p.cerebrovascular_disease, p.dementia, p.copd, p.connective_tissue_disease,
        p.peptic_ulcer_disease]))
    score += points("liver disease", {"none": 0, "mild": 1, "moderate to severe": 3}[
        p.liver_disease])
    score += points("diabetes", {"none or diet-controlled": 0, "uncomplicated": 1,
                                 "end-organ damage": 2}[p.diabetes])
    score += points("2-point comorbidities",
                    2 * (p.hemiplegia + p.moderate_severe_ckd + p.leukemia + p.lymphoma))
    score += points("solid tumor", {"none": 0, "localized": 2, "metastatic": 6}[
        p.solid_tumor])
    score += points("AIDS", 6 * p.aids)
    return int(score)
