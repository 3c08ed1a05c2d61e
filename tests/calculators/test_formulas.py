"""Every calculator against cases computed by hand from its published formula."""

from __future__ import annotations

import math

import pytest

from medq.calculators import calculators, compute

CASES: list[tuple[str, dict, object]] = [
    # physical
    ("body_mass_index", {"weight": 70, "height": 175}, 70 / 1.75**2),
    ("body_mass_index", {"weight": [154.324, "lb"], "height": [68.8976, "in"]}, 70 / 1.75**2),
    ("ideal_body_weight", {"sex": "male", "height": [70, "in"]}, 50 + 2.3 * 10),
    ("ideal_body_weight", {"sex": "Female", "height": 152.4}, 45.5),
    ("adjusted_body_weight", {"sex": "female", "weight": 80, "height": [66, "in"]},
     (45.5 + 2.3 * 6) + 0.4 * (80 - (45.5 + 2.3 * 6))),
    ("body_surface_area", {"weight": 72, "height": 180}, 1.897366596),
    ("target_weight", {"target_bmi": 22, "height": [2, "m"]}, 88.0),
    ("maintenance_fluids", {"weight": 8}, 32.0),
    ("maintenance_fluids", {"weight": 10}, 40.0),
    ("maintenance_fluids", {"weight": 17}, 54.0),
    ("maintenance_fluids", {"weight": 20}, 60.0),
    ("maintenance_fluids", {"weight": 70}, 110.0),
    ("mean_arterial_pressure", {"systolic_bp": 120, "diastolic_bp": 80}, 280 / 3),
    # renal
    ("creatinine_clearance", {"age": 60, "sex": "male", "weight": 72, "creatinine": 1.0},
     80 * 72 / 72),
    ("creatinine_clearance",  # BMI 18.1: underweight, actual weight
     {"age": 87, "sex": "male", "weight": 48, "height": 163, "creatinine": 1.4},
     53 * 48 / (1.4 * 72)),
    ("creatinine_clearance",  # BMI 22.1 (normal): min(IBW 68.5, weight 70)
     {"age": 40, "sex": "female", "weight": 70, "height": [70, "in"],
      "creatinine": [88.42, "µmol/L"]},
     100 * 68.5 * 0.85 / (72 * 1.00020704)),
    ("ckd_epi_2021", {"age": 50, "sex": "male", "creatinine": 0.9},
     142 * 0.9938**50),  # at kappa both terms are 1
    ("ckd_epi_2021", {"age": 32, "sex": "female", "creatinine": 0.5},
     142 * (0.5 / 0.7) ** -0.241 * 0.9938**32 * 1.012),
    ("ckd_epi_2021", {"age": 70, "sex": "male", "creatinine": 1.8},
     142 * (1.8 / 0.9) ** -1.2 * 0.9938**70),
    ("mdrd_gfr", {"age": 51, "sex": "male", "creatinine": 1.87}, 38.256),
    ("mdrd_gfr", {"age": 60, "sex": "female", "creatinine": 1.0, "black": True},
     175 * 60**-0.203 * 0.742 * 1.212),
    ("fractional_excretion_of_sodium",
     {"sodium": 129, "creatinine": 0.6, "urine_sodium": 32, "urine_creatinine": 60.3},
     100 * 0.6 * 32 / (129 * 60.3)),
    # labs
    ("calcium_correction", {"calcium": 8.6, "albumin": 3.1}, 9.32),
    ("calcium_correction", {"calcium": [2.0, "mmol/L"], "albumin": [30, "g/L"]},
     8.016 + 0.8),
    ("sodium_correction_hyperglycemia", {"sodium": 130, "glucose": [22.2, "mmol/L"]},
     130 + 0.024 * (22.2 * 18.016 - 100)),
    ("serum_osmolality", {"sodium": 140, "bun": 28, "glucose": 180}, 280 + 10 + 10),
    ("homa_ir", {"insulin": 26, "glucose": 210}, 26 * 210 / 405),
    ("ldl_calculated", {"total_cholesterol": 182, "hdl_cholesterol": 39,
                        "triglycerides": 196}, 103.8),
    ("free_water_deficit", {"age": 23, "sex": "male", "weight": 70, "sodium": 154},
     0.6 * 70 * 0.1),
    ("free_water_deficit", {"age": 70, "sex": "female", "weight": 60, "sodium": 154},
     0.45 * 60 * 0.1),
    ("free_water_deficit", {"age": 64, "sex": "female", "weight": 60, "sodium": 154},
     0.5 * 60 * 0.1),
    ("anion_gap", {"sodium": 139, "chloride": 104, "bicarbonate": 20}, 15.0),
    ("delta_gap", {"sodium": 139, "chloride": 108, "bicarbonate": 4.6}, 14.4),
    ("delta_ratio", {"sodium": 139, "chloride": 104, "bicarbonate": 28.2}, -5.2 / -4.2),
    ("albumin_corrected_anion_gap",
     {"sodium": 174, "chloride": 135, "bicarbonate": 18.5, "albumin": 4.5}, 19.25),
    ("albumin_corrected_delta_gap",
     {"sodium": 125, "chloride": 87, "bicarbonate": 28, "albumin": 3.7}, -1.25),
    ("albumin_corrected_delta_ratio",
     {"sodium": 137, "chloride": 116, "bicarbonate": 12.1, "albumin": 3.7}, -2.35 / 11.9),
    # liver / GI
    ("child_pugh", {"bilirubin": 1.9, "albumin": 3.6, "inr": 1.69}, 5),
    ("child_pugh", {"bilirubin": 2.0, "albumin": 3.5, "inr": 1.7, "ascites": "slight",
                    "encephalopathy": "grade 1-2"}, 10),
    ("child_pugh", {"bilirubin": 3.1, "albumin": 2.7, "inr": 2.4, "ascites": "moderate",
                    "encephalopathy": "grade 3-4"}, 15),
    ("meld_na", {"creatinine": 2.0, "bilirubin": 0.7, "inr": 1.59, "sodium": 142}, 18),
    ("meld_na", {"creatinine": 3.16, "bilirubin": 2.11, "inr": 1.26, "sodium": 137}, 23),
    ("meld_na", {"creatinine": 1.5, "bilirubin": 4.0, "inr": 2.0, "sodium": 125,
                 "dialysis": True},  # Cr set to 4: 10 x 3.270 -> 32.7, then Na 125
     round(32.7 + 1.32 * 12 - 0.033 * 32.7 * 12)),
    ("fib4_index", {"age": 47, "ast": 213, "alt": 309, "platelets": [149000, "µL"]},
     47 * 213 / (149 * math.sqrt(309))),
    ("glasgow_blatchford", {"bun": 34, "hemoglobin": 13, "sex": "female",
                            "systolic_bp": 90, "heart_rate": 80, "melena": True,
                            "cardiac_failure": True}, 9),
    ("glasgow_blatchford", {"bun": 18.1, "hemoglobin": 13.0, "sex": "male",
                            "systolic_bp": 110, "heart_rate": 99}, 0),
    ("glasgow_blatchford", {"bun": [25, "mmol/L"], "hemoglobin": 9.9, "sex": "male",
                            "systolic_bp": 89, "heart_rate": 100, "syncope": True,
                            "hepatic_disease": True}, 6 + 6 + 3 + 1 + 2 + 2),
    # cardiac
    ("qtc_bazett", {"qt_interval": 400, "heart_rate": 60}, 400.0),
    ("qtc_bazett", {"qt_interval": 330, "heart_rate": 131}, 330 / math.sqrt(60 / 131)),
    ("qtc_fridericia", {"qt_interval": 330, "heart_rate": 118}, 330 / (60 / 118) ** (1 / 3)),
    ("qtc_framingham", {"qt_interval": 330, "heart_rate": 119}, 330 + 154 * (1 - 60 / 119)),
    ("qtc_hodges", {"qt_interval": 330, "heart_rate": 130}, 330 + 1.75 * 70),
    ("qtc_rautaharju", {"qt_interval": 330, "heart_rate": 136}, 330 * 256 / 180),
    ("qtc_bazett", {"qt_interval": [0.4, "s"], "heart_rate": 60}, 400.0),
    ("cha2ds2_vasc", {"age": 64, "sex": "male"}, 0),
    ("cha2ds2_vasc", {"age": 65, "sex": "female"}, 2),
    ("cha2ds2_vasc", {"age": 75, "sex": "female", "congestive_heart_failure": True,
                      "hypertension": True, "stroke_tia_thromboembolism": True,
                      "vascular_disease": True, "diabetes": True}, 9),
    ("has_bled", {"age": 65}, 0),
    ("has_bled", {"age": 66, "alcohol_drinks_per_week": 8}, 2),
    ("has_bled", {"age": 22, "stroke": True, "hypertension": True, "liver_disease": True,
                  "renal_disease": True, "alcohol_drinks_per_week": 12}, 5),
    ("heart_score", {"age": 44}, 0),
    ("heart_score", {"age": 52, "family_history": True}, 2),
    ("heart_score", {"age": 65, "history": "highly suspicious",
                     "ecg": "significant ST deviation", "hypertension": True,
                     "diabetes": True, "smoking": True, "troponin": ">3x normal"}, 10),
    ("heart_score", {"age": 30, "atherosclerotic_disease": True}, 2),
    ("revised_cardiac_risk_index", {"creatinine": 2.0}, 0),
    ("revised_cardiac_risk_index", {"creatinine": 2.1, "ischemic_heart_disease": True}, 2),
    ("framingham_hard_chd",  # ATP III worked by hand: sum = -1.9578 -> 1 - 0.9402^e^sum
     {"age": 54, "sex": "male", "smoker": True, "total_cholesterol": 235,
      "hdl_cholesterol": 26, "systolic_bp": 139}, None),
    # thrombosis
    ("wells_pe", {"heart_rate": 110}, 1.5),
    ("wells_pe", {"heart_rate": 100}, 0.0),
    ("wells_pe", {"heart_rate": 80, "dvt_signs": True, "pe_most_likely": True,
                  "immobilization_or_surgery": True, "previous_pe_or_dvt": True,
                  "hemoptysis": True, "malignancy": True}, 11.0),
    ("wells_dvt", {"bedridden_or_major_surgery": True, "alternative_diagnosis": True}, -1),
    ("wells_dvt", {"active_cancer": True, "calf_swelling": True, "pitting_edema": True}, 3),
    ("perc_rule", {"age": 49, "heart_rate": 99, "oxygen_saturation": 95}, 0),
    ("perc_rule", {"age": 50, "heart_rate": 100, "oxygen_saturation": 94.9,
                   "hormone_use": True}, 4),
    ("caprini_score", {"age": 40, "sex": "male"}, 0),
    ("caprini_score", {"age": 63, "sex": "female", "surgery_type": "major",
                       "recent_fracture": True, "varicose_veins": True,
                       "history_dvt": True, "mobility": "confined to bed >72 hours",
                       "bmi": 27.1}, 2 + 2 + 5 + 1 + 3 + 2 + 1),
    ("caprini_score", {"age": 75, "sex": "male", "surgery_type": "arthroplasty",
                       "malignancy": True, "bmi": 25}, 3 + 5 + 2),
    # critical care
    ("glasgow_coma_scale", {"eye": "eye opening to pain", "verbal": "inappropriate words",
                            "motor": "withdrawal from pain"}, 9),
    ("glasgow_coma_scale", {"eye": "no eye opening", "verbal": "no verbal response",
                            "motor": "no motor response"}, 3),
    ("sirs_criteria", {"temperature": 38.0, "heart_rate": 90, "respiratory_rate": 20,
                       "wbc": 12}, 0),
    ("sirs_criteria", {"temperature": [100.5, "°F"], "heart_rate": 91,
                       "respiratory_rate": 18, "paco2": 31, "wbc": [3900, "/µL"]}, 4),
    ("sofa", {"pao2": 76, "fio2": 60, "mechanical_ventilation": True, "platelets": 140.4,
              "gcs": 9, "bilirubin": [88.41, "µmol/L"], "hypotension": True,
              "creatinine": [121.32, "µmol/L"]}, 3 + 1 + 3 + 2 + 1 + 1),
    ("sofa", {"pao2": 90, "fio2": 21, "platelets": 200, "bilirubin": 0.5,
              "creatinine": 0.8}, 0),
    ("sofa", {"pao2": 80, "fio2": 100, "platelets": 19, "bilirubin": 12, "gcs": 5,
              "norepinephrine": 0.2, "urine_output": 150}, 2 + 4 + 4 + 4 + 4 + 4),
    ("apache_ii",  # all-normal physiology, 44 years old: 0
     {"age": 44, "temperature": 37, "systolic_bp": 120, "diastolic_bp": 80,
      "heart_rate": 80, "respiratory_rate": 16, "fio2": 21, "pao2": 95, "ph": 7.4,
      "sodium": 140, "potassium": 4, "creatinine": 1.0, "hematocrit": 40, "wbc": 8,
      "gcs": 15}, 0),
    ("apache_ii",  # hand-scored: T 34.9 (1), MAP 94.7 (0), HR 120 (2), RR 17 (0),
     # A-a 375 (3), pH 7.53 (1), Na (0), K 5.43 (0), Cr 1.258 (0), Hct 35 (0),
     # WBC 9.1 (0), GCS 12 (3), age 43 (0)
     {"age": 43, "temperature": 34.9, "systolic_bp": 122, "diastolic_bp": 81,
      "heart_rate": 120, "respiratory_rate": 17, "fio2": 57, "a_a_gradient": 375,
      "ph": 7.53, "sodium": 137.49, "potassium": 5.43, "creatinine": 1.258,
      "acute_renal_failure": True, "hematocrit": 35, "wbc": [9103, "µL"], "gcs": 12},
     10),
    ("apache_ii",  # creatinine 2.0 in acute renal failure: 3 x 2; chronic health 5
     {"age": 80, "temperature": 41, "systolic_bp": 60, "diastolic_bp": 40,
      "heart_rate": 39, "respiratory_rate": 5, "fio2": 30, "pao2": 54, "ph": 7.1,
      "sodium": 110, "potassium": 2.4, "creatinine": 2.0, "acute_renal_failure": True,
      "hematocrit": 19, "wbc": 0.9, "gcs": 3, "chronic_organ_insufficiency": True},
     4 + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 6 + 4 + 4 + 12 + 6 + 5),
    # infection
    ("pneumonia_severity_index",
     {"age": 25, "sex": "male", "altered_mental_status": True, "respiratory_rate": 32,
      "systolic_bp": 123, "temperature": 34, "heart_rate": 101, "ph": 7.17, "bun": 33.21,
      "sodium": 123, "glucose": [15, "mmol/L"], "hematocrit": 35, "pao2": 67}, 160),
    ("pneumonia_severity_index",
     {"age": 70, "sex": "female", "respiratory_rate": 16, "systolic_bp": 130,
      "temperature": 37, "heart_rate": 80}, 60),
    ("curb_65", {"bun": 19, "respiratory_rate": 29, "systolic_bp": 90, "diastolic_bp": 61,
                 "age": 64}, 0),
    ("curb_65", {"confusion": True, "bun": [7.1, "mmol/L"], "respiratory_rate": 30,
                 "systolic_bp": 120, "diastolic_bp": 60, "age": 65}, 5),
    ("centor_score", {"age": 15, "temperature": [100.1, "°F"], "cough_absent": True,
                      "tender_anterior_cervical_nodes": True}, 2),
    ("centor_score", {"age": 10, "temperature": 38.1, "cough_absent": True,
                      "tender_anterior_cervical_nodes": True,
                      "tonsillar_exudate_or_swelling": True}, 5),
    ("centor_score", {"age": 45, "temperature": 37}, -1),
    ("feverpain", {"fever_past_24h": True, "purulence": True,
                   "severe_tonsil_inflammation": True}, 3),
    # comorbidity
    ("charlson_comorbidity_index", {"age": 49}, 0),
    ("charlson_comorbidity_index",
     {"age": 75, "myocardial_infarction": True, "congestive_heart_failure": True,
      "peripheral_vascular_disease": True, "connective_tissue_disease": True,
      "dementia": True, "liver_disease": "mild", "solid_tumor": "metastatic"}, 15),
    ("charlson_comorbidity_index",
     {"age": 80, "liver_disease": "moderate to severe", "diabetes": "end-organ damage",
      "hemiplegia": True, "aids": True}, 4 + 3 + 2 + 2 + 6),
    # dosing
    ("steroid_conversion", {"from_steroid": "Dexamethasone PO", "dose": 7.96,
                            "to_steroid": "PrednisoLONE PO"}, 7.96 * 5 / 0.75),
    ("steroid_conversion", {"from_steroid": "hydrocortisone iv", "dose": [0.2, "g"],
                            "to_steroid": "methylprednisolone iv"}, 40.0),
    ("morphine_milligram_equivalents",
     {"opioids": [{"drug": "tapentadol", "dose": 50, "doses_per_day": 1},
                  {"drug": "tramadol", "dose": 50, "doses_per_day": 1},
                  {"drug": "fentanyl buccal", "dose": 20, "doses_per_day": 2}]}, 35.2),
    ("morphine_milligram_equivalents",
     {"opioids": [{"drug": "fentanyl patch", "dose": 25, "doses_per_day": 1},
                  {"drug": "methadone", "dose": 10, "doses_per_day": 2}]}, 60 + 94),
    # dates
    ("estimated_due_date", {"last_menstrual_period": "12/11/2013", "cycle_length": 28},
     "09/17/2014"),
    ("estimated_due_date", {"last_menstrual_period": "12/11/2013", "cycle_length": 22},
     "09/11/2014"),
    ("estimated_due_date", {"last_menstrual_period": "2024-02-29", "cycle_length": 30},
     "12/07/2024"),
    ("estimated_conception_date", {"last_menstrual_period": "12/17/2009"}, "12/31/2009"),
    ("gestational_age", {"last_menstrual_period": "03/23/2020",
                         "current_date": "03/29/2020"}, (0, 6)),
    ("gestational_age", {"last_menstrual_period": "12/15/2016",
                         "current_date": "01/09/2017"}, (3, 4)),
]


def _framingham_by_hand() -> float:
    ln_age, ln_tc = math.log(54), math.log(235)
    total = (52.00961 * ln_age + 20.014077 * ln_tc - 0.905964 * math.log(26)
             + 1.305784 * math.log(139) + 12.096316 - 4.605038 * ln_age * ln_tc
             - 2.84367 * ln_age - 2.93323 * ln_age * ln_age - 172.300168)
    return 100 * (1 - 0.9402 ** math.exp(total))


@pytest.mark.parametrize(("name", "args", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_hand_computed(name: str, args: dict, expected: object) -> None:
    if expected is None:
        expected = _framingham_by_hand()
    result = compute(name, args).value
    if isinstance(expected, float):
        assert result == pytest.approx(expected, rel=1e-3)
    else:
        assert result == expected


def test_every_calculator_has_a_hand_computed_case() -> None:
    assert {c[0] for c in CASES} == set(calculators())


def test_framingham_reference_values() -> None:
    assert _framingham_by_hand() == pytest.approx(29.02, abs=0.05)
    women = compute("framingham_hard_chd", {
        "age": 55, "sex": "female", "total_cholesterol": 213, "hdl_cholesterol": 50,
        "systolic_bp": 120}).value
    assert 0 < women < 2


def test_framingham_caps_smoking_age() -> None:
    base = {"sex": "male", "smoker": True, "total_cholesterol": 200,
            "hdl_cholesterol": 50, "systolic_bp": 130}
    ln70 = math.log(70)
    r71 = compute("framingham_hard_chd", {**base, "age": 71}).value
    # recompute by hand with the smoking term fixed at ln(70)
    ln_age, ln_tc = math.log(71), math.log(200)
    total = (52.00961 * ln_age + 20.014077 * ln_tc - 0.905964 * math.log(50)
             + 1.305784 * math.log(130) + 12.096316 - 4.605038 * ln_age * ln_tc
             - 2.84367 * ln70 - 2.93323 * ln_age**2 - 172.300168)
    assert r71 == pytest.approx(100 * (1 - 0.9402 ** math.exp(total)))


def test_ckd_epi_clamp_is_continuous_at_kappa() -> None:
    below = compute("ckd_epi_2021", {"age": 50, "sex": "female", "creatinine": 0.6999}).value
    at = compute("ckd_epi_2021", {"age": 50, "sex": "female", "creatinine": 0.7}).value
    above = compute("ckd_epi_2021", {"age": 50, "sex": "female", "creatinine": 0.7001}).value
    assert at == pytest.approx(142 * 0.9938**50 * 1.012)
    assert below > at > above
    assert below == pytest.approx(at, rel=1e-3) and above == pytest.approx(at, rel=1e-3)


def test_cockcroft_gault_uses_adjusted_weight_when_overweight() -> None:
    args = {"age": 50, "sex": "male", "weight": 100, "height": 175, "creatinine": 1.0}
    ibw = 50 + 2.3 * (175 / 2.54 - 60)
    expected = 90 * (ibw + 0.4 * (100 - ibw)) / 72
    assert compute("creatinine_clearance", args).value == pytest.approx(expected)
