"""Map a MedCalc-Bench row's "Relevant Entities" to a calculator's parameters.

MedCalc-Bench (Khandekar et al. 2024) stores each row's inputs as a Python-literal dict
keyed by human-readable names (``{"age": [65, "years"], "Congestive Heart Faliure":
True, ...}``), with quantities as ``[value, unit]``. This adapter renames those keys to
the calculators' parameters, passes quantities through with their units (the calculators
convert them), and maps categorical text onto the calculators' options. A criterion the
row leaves out is absent, as in MedCalc-Bench's own implementations.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

# Entity name -> parameter name, shared by all calculators.
_COMMON = {
    "age": "age", "sex": "sex", "weight": "weight", "height": "height",
    "creatinine": "creatinine", "Sodium": "sodium", "Chloride": "chloride",
    "Bicarbonate": "bicarbonate", "Albumin": "albumin", "Glucose": "glucose",
    "Blood Urea Nitrogen (BUN)": "bun", "Heart Rate or Pulse": "heart_rate",
    "QT interval": "qt_interval", "Systolic Blood Pressure": "systolic_bp",
    "Diastolic Blood Pressure": "diastolic_bp", "Temperature": "temperature",
    "respiratory rate": "respiratory_rate", "Bilirubin": "bilirubin",
    "international normalized ratio": "inr", "pH": "ph", "Potassium": "potassium",
    "Hematocrit": "hematocrit", "White blood cell count": "wbc",
    "Platelet count": "platelets", "FiO₂": "fio2",
    "Partial pressure of oxygen (PaO₂) for Apache II": "pao2",
    "Glasgow Coma Score": "gcs", "Calcium": "calcium", "Insulin": "insulin",
    "Total cholesterol": "total_cholesterol",
    "high-density lipoprotein cholesterol": "hdl_cholesterol",
    "Triglycerides": "triglycerides", "Body Mass Index (BMI)": "bmi",
    "Urine creatinine": "urine_creatinine", "Urine sodium": "urine_sodium",
    "Alanine aminotransferase": "alt", "Aspartate aminotransferase": "ast",
    "Hemoglobin": "hemoglobin", "O₂ saturation percentage": "oxygen_saturation",
    "PaCO₂": "paco2", "A-a gradient": "a_a_gradient",
    "Pre-operative creatinine": "creatinine",
    "Last menstrual date": "last_menstrual_period", "cycle length": "cycle_length",
    "Current Date": "current_date",
}

# Per calculator id: entity name -> parameter; several entities may feed one parameter
# (their truth values are OR-ed), and None drops an entity the calculator does not use.
_SPECIFIC: dict[int, dict[str, str | None]] = {
    4: {"Congestive Heart Faliure": "congestive_heart_failure",
        "Hypertension history": "hypertension", "Stroke": "stroke_tia_thromboembolism",
        "Transient Ischemic Attacks History": "stroke_tia_thromboembolism",
        "Thromboembolism history": "stroke_tia_thromboembolism",
        "Vascular disease history": "vascular_disease", "Diabetes history": "diabetes"},
    8: {"Clinical signs and symptoms of Deep Vein Thrombosis": "dvt_signs",
        "Pulmonary Embolism is #1 diagnosis OR equally likely": "pe_most_likely",
        "Immobilization for at least 3 days": "immobilization_or_surgery",
        "Surgery in the previous 4 weeks": "immobilization_or_surgery",
        "Previously Documented Pulmonary Embolism": "previous_pe_or_dvt",
        "Previously documented Deep Vein Thrombosis": "previous_pe_or_dvt",
        "Hemoptysis": "hemoptysis",
        "Malignancy with treatment within 6 months or palliative": "malignancy"},
    9: {"Race": "black"},
    13: {},
    15: {"Ascites": "ascites", "Encephalopathy": "encephalopathy"},
    16: {"Active cancer": "active_cancer",
         "Bedridden recently >3 days or major surgery within 12 weeks":
             "bedridden_or_major_surgery",
         "Major surgery within 12 weeks": "bedridden_or_major_surgery",
         "Calf swelling >3 centimeters compared to the other leg": "calf_swelling",
         "Collateral (nonvaricose) superficial veins present": "collateral_veins",
         "Entire Leg Swollen": "entire_leg_swollen",
         "Localized tenderness along the deep venous system": "localized_tenderness",
         "Pitting edema, confined to symptomatic leg": "pitting_edema",
         "Paralysis, paresis, or recent plaster immobilization of the lower extremity":
             "paralysis_or_cast",
         "Previously documented Deep Vein Thrombosis": "previous_dvt",
         "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely":
             "alternative_diagnosis"},
    17: {"Elevated-risk surgery": "high_risk_surgery",
         "History of ischemic heart disease": "ischemic_heart_disease",
         "Congestive Heart Failure criteria for the Cardiac Risk Index rule":
             "congestive_heart_failure",
         "History of cerebrovascular disease": "cerebrovascular_disease",
         "Cerebrovascular disease history": "cerebrovascular_disease",
         "Pre-operative treatment with insulin": "insulin_treatment"},
    18: {"Suspicion History": "history", "Electrocardiogram Test": "ecg",
         "Initial troponin": "troponin", "Hypertension history": "hypertension",
         "hypercholesterolemia": "hypercholesterolemia",
         "Diabetes mellitus criteria for CCI rule": "diabetes", "obesity": "obesity",
         "smoking": "smoking",
         "parent or sibling with Cardiovascular disease before age 65": "family_history",
         "atherosclerotic disease": "atherosclerotic_disease",
         "Transient Ischemic Attacks History": "atherosclerotic_disease"},
    20: {"Cough Absent": "cough_absent",
         "Tender/swollen anterior cervical lymph nodes": "tender_anterior_cervical_nodes",
         "Exudate or swelling on tonsils": "tonsillar_exudate_or_swelling"},
    21: {"Best eye response": "eye", "Best verbal response": "verbal",
         "Best motor response": "motor"},
    23: {"Dialysis at least twice in the past week": "dialysis",
         "Continuous veno-venous hemodialysis for ≥24 hours in the past week": "dialysis"},
    25: {"Hypertension history": "hypertension",
         "Renal disease criteria for the HAS-BLED rule": "renal_disease",
         "Liver disease criteria for the HAS-BLED rule": "liver_disease",
         "Stroke": "stroke",
         "Prior major bleeding or predisposition to bleeding": "prior_bleeding",
         "Labile international normalized ratio": "labile_inr",
         "Medication usage predisposing to bleeding": "bleeding_medication",
         "Number of Alcoholic Drinks Per Week": "alcohol_drinks_per_week"},
    27: {"Melena present": "melena", "Recent syncope": "syncope",
         "Hepatic disease history": "hepatic_disease",
         "Cardiac failure present": "cardiac_failure"},
    28: {"Acute renal failure": "acute_renal_failure", "Chronic Renal Failure": None,
         "History of severe organ failure or immunocompromise":
             "chronic_organ_insufficiency",
         "Surgery Type": "admission"},
    29: {"Nursing home resident": "nursing_home_resident",
         "Neoplastic disease": "neoplastic_disease",
         "Liver disease severity": "liver_disease",
         "Congestive Heart Faliure": "congestive_heart_failure",
         "Cerebrovascular disease history": "cerebrovascular_disease",
         "Renal disease": "renal_disease", "Altered mental status": "altered_mental_status",
         "Pleural effusion on x-ray": "pleural_effusion"},
    32: {"Myocardial infarction": "myocardial_infarction",
         "Congestive Heart Faliure": "congestive_heart_failure",
         "Peripheral vascular disease": "peripheral_vascular_disease",
         "Cerebrovascular Accident": "cerebrovascular_disease",
         "Transient Ischemic Attacks History": "cerebrovascular_disease",
         "Dementia": "dementia", "Chronic Obstructive Pulmonary Disease": "copd",
         "Connective tissue disease": "connective_tissue_disease",
         "Peptic ulcer disease": "peptic_ulcer_disease",
         "Liver disease severity": "liver_disease",
         "Diabetes mellitus criteria for CCI rule": "diabetes",
         "Hemiplegia": "hemiplegia",
         "Moderate to severe Chronic Kidney Disease": "moderate_severe_ckd",
         "Solid tumor": "solid_tumor", "Leukemia": "leukemia", "Lymphoma": "lymphoma",
         "AIDS": "aids"},
    33: {"Fever in past 24 hours": "fever_past_24h", "Purulent tonsils": "purulence",
         "Symptom onset ≤3 days": "attend_rapidly",
         "Severe tonsil inflammation": "severe_tonsil_inflammation",
         "Absence of cough or coryza": "no_cough_or_coryza",
         "Occipital, parietal or temporal scalp hematoma; history of level of conciousness "
         "(LOC) ≥5 sec; not acting normally per parent or severe mechanism of injury?": None,
         "Altered mental status for PECARN head injury criteria": None},
    36: {"Surgery Type": "surgery_type",
         "Major Surgery in the last month": "recent_major_surgery",
         "Congestive Heart Failure in the last month": "recent_chf",
         "Sepsis in the last month": "recent_sepsis",
         "Pneumonia in the last month": "recent_pneumonia",
         "Immobilizing plaster cast in the last month": "recent_plaster_cast",
         "Hip, pelvis, or leg fracture in the last month": "recent_fracture",
         "Stroke in the last month": "recent_stroke",
         "Multiple trauma in the last month": "recent_multiple_trauma",
         "Acute spinal cord injury causing paralysis in the last month":
             "recent_spinal_cord_injury",
         "Varicose veins": "varicose_veins", "Current swollen legs": "swollen_legs",
         "Current central venous access": "central_venous_access",
         "Previously documented Deep Vein Thrombosis": "history_dvt",
         "Previously Documented Pulmonary Embolism": "history_pe",
         "Family history of thrombosis": "family_history_thrombosis",
         "Positive Factor V Leiden": "factor_v_leiden",
         "Positive prothrombin 20210A": "prothrombin_20210a",
         "Elevated serum homocysteine": "elevated_homocysteine",
         "Positive lupus anticoagulant": "lupus_anticoagulant",
         "Elevated anticardiolipin antibody": "anticardiolipin_antibody",
         "Heparin-induced thrombocytopenia": "heparin_induced_thrombocytopenia",
         "Other congenital or acquired thrombophilia": "other_thrombophilia",
         "Mobility": "mobility",
         "History of inflammatory bowel disease": "inflammatory_bowel_disease",
         "Acute Myocardial infarction": "acute_mi",
         "Chronic Obstructive Pulmonary Disease": "copd",
         "Present or previous malignancy": "malignancy"},
    43: {"On mechanical ventilation": "mechanical_ventilation",
         "Continous positive airway pressure": "mechanical_ventilation",
         "Hypotension": "hypotension", "DOPamine": "dopamine", "DOBUTamine": "dobutamine",
         "EPINEPHrine": "epinephrine", "norEPINEPHrine": "norepinephrine",
         "Urine Output": "urine_output",
         "Continuous veno-venous hemodialysis for ≥24 hours in the past week": None},
    45: {"Confusion": "confusion"},
    46: {"Smoker": "smoker", "Blood pressure being treated with medicines": "bp_treated"},
    48: {"Unilateral Leg Swelling": "unilateral_leg_swelling", "Hemoptysis": "hemoptysis",
         "Recent surgery or trauma": "recent_surgery_or_trauma",
         "Previously Documented Pulmonary Embolism": "previous_pe_or_dvt",
         "Previously documented Deep Vein Thrombosis": "previous_pe_or_dvt",
         "Hormone use": "hormone_use"},
    61: {"Body Mass Index (BMI)": "target_bmi"},
    68: {"cycle length": None},
}

# Categorical text -> the calculator's option, per parameter.
# Keys are the text of an option, or the bare yes/no some rows give instead.
_CHOICES: dict[str, dict[str | bool, Any]] = {
    "history": {"slightly suspicious": "slightly suspicious",
                "moderately suspicious": "moderately suspicious",
                "highly suspicious": "highly suspicious"},
    "ecg": {"normal": "normal",
            "non-specific repolarization disturbance":
                "non-specific repolarization disturbance",
            "significant st deviation": "significant ST deviation"},
    "troponin": {"less than or equal to normal limit": "normal",
                 "between the normal limit or up to three times the normal limit":
                     "1-3x normal",
                 "greater than three times normal limit": ">3x normal"},
    "encephalopathy": {"no encephalopathy": "none", "grade 0": "none",
                       "grade 1-2": "grade 1-2", "grade 3-4": "grade 3-4"},
    "admission": {"nonoperative": "nonoperative", "elective": "elective postoperative",
                  "emergency": "emergency postoperative",
                  "nonelective": "emergency postoperative"},
    "liver_disease": {"mild": "mild", "moderate": "moderate to severe",
                      "moderate to severe": "moderate to severe",
                      "severe": "moderate to severe", True: "mild", False: "none"},
    "diabetes": {"none or diet-controlled": "none or diet-controlled",
                 "uncomplicated": "uncomplicated", "end-organ damage": "end-organ damage",
                 True: "uncomplicated", False: "none or diet-controlled"},
    "solid_tumor": {"localized": "localized", "metastatic": "metastatic",
                    True: "localized", False: "none"},
    "moderate_severe_ckd": {"severe": True, "moderate": True},
    "surgery_type": {"none": "none", "minor": "minor", "major": "major",
                     "laparoscopic": "laparoscopic",
                     "elective major lower extremity": "arthroplasty",
                     "elective major lower extremity arthroplasty": "arthroplasty",
                     "arthroplasty": "arthroplasty"},
    "mobility": {"normal": "normal", "on bed rest": "bed rest", "bed rest": "bed rest",
                 "confined to bed >72 hours": "confined to bed >72 hours"},
    "black": {"black": True, "white": False},
}

# Parameters graded in the Charlson index but plain yes/no flags elsewhere.
_GRADED_ONLY_IN = {"liver_disease": 32, "diabetes": 32, "solid_tumor": 32,
                   "moderate_severe_ckd": 32}


class EntityError(ValueError):
    """Relevant Entities that the adapter cannot map (an unknown key or option)."""


def parse_entities(text: str) -> dict[str, Any]:
    """The Relevant Entities column as a dict (a Python literal: parsed, never evaluated)."""
    value = ast.literal_eval(text)
    if not isinstance(value, dict):
        raise EntityError(f"Relevant Entities is not a dict: {text[:80]!r}")
    return value


def _choice(calculator_id: int, param: str, value: Any) -> Any:
    table = _CHOICES.get(param)
    if table is None or _GRADED_ONLY_IN.get(param, calculator_id) != calculator_id:
        return value
    key = value.strip().lower() if isinstance(value, str) else value
    if key in table:
        return table[key]
    if isinstance(value, str) and value.strip().lower() in {"not mentinoed", "not mentioned"}:
        return None
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    raise EntityError(f"no option of {param!r} matches {value!r}")


def _fix_unit(value: Any) -> Any:
    # MedCalc-Bench writes some white cell counts per "m^3"; the notes mean per mm^3 (uL).
    if isinstance(value, list) and len(value) == 2 and value[1] == "m^3":
        return [value[0], "mm^3"]
    return value


def _mme(entities: Mapping[str, Any]) -> dict[str, Any]:
    opioids = []
    for key, value in entities.items():
        if key.endswith(" Dose Per Day"):
            continue
        if not key.endswith(" Dose"):
            raise EntityError(f"unexpected MME entity {key!r}")
        name = key[: -len(" Dose")]
        per_day = entities.get(f"{name} Dose Per Day", [1])
        opioids.append({"drug": name.lower(), "dose": value[0], "doses_per_day": per_day[0]})
    return {"opioids": opioids}


def _steroids(entities: Mapping[str, Any]) -> dict[str, Any]:
    name, value, unit = entities["input steroid"]
    return {"from_steroid": name, "dose": [value, unit],
            "to_steroid": entities["target steroid"]}


_WHOLE: dict[int, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    24: _steroids, 49: _mme,
}


def params_from_entities(calculator_id: int, entities: Mapping[str, Any]) -> dict[str, Any]:
    """The calculator's arguments for one MedCalc-Bench row's Relevant Entities.

    Raises EntityError for an entity name or categorical value this adapter does not know.
    """
    if calculator_id in _WHOLE:
        return _WHOLE[calculator_id](entities)
    specific = _SPECIFIC.get(calculator_id, {})
    args: dict[str, Any] = {}
    for key, value in entities.items():
        if key in specific:
            param = specific[key]
        elif key in _COMMON:
            param = _COMMON[key]
        else:
            raise EntityError(f"calculator {calculator_id}: unknown entity {key!r}")
        if param is None:
            continue
        value = _choice(calculator_id, param, _fix_unit(value))
        if value is None:
            continue
        if isinstance(value, bool) and isinstance(args.get(param), bool):
            args[param] = args[param] or value
        else:
            args[param] = value
    return args
