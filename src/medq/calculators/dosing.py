"""Drug dose equivalence: corticosteroids and opioids (morphine milligram equivalents)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from medq.calculators import units as u
from medq.calculators._common import Params
from medq.calculators.base import calculator
from medq.calculators.result import step
from medq.calculators.units import quantity

Steroid = Literal[
    "betamethasone iv", "cortisone po", "dexamethasone iv", "dexamethasone po",
    "hydrocortisone iv", "hydrocortisone po", "methylprednisolone iv",
    "methylprednisolone po", "prednisolone po", "prednisone po", "triamcinolone iv",
]

# mg equivalent to 20 mg hydrocortisone (anti-inflammatory potency), as tabulated by
# MDCalc's steroid conversion calculator (Meikle AW, Tyler FH. Am J Med 1977;63:200-7).
EQUIVALENT_MG = {
    "betamethasone": 0.75, "cortisone": 25.0, "dexamethasone": 0.75,
    "hydrocortisone": 20.0, "methylprednisolone": 4.0, "prednisolone": 5.0,
    "prednisone": 5.0, "triamcinolone": 4.0,
}

SteroidDose = Annotated[float, *quantity(u.MASS_MG, "dose of the steroid being converted", gt=0)]


def _steroid(value: object) -> object:
    return " ".join(value.lower().split()) if isinstance(value, str) else value


SteroidName = Annotated[Steroid, BeforeValidator(_steroid)]


class SteroidConversionParams(Params):
    from_steroid: SteroidName = Field(description="steroid and route converted from")
    dose: SteroidDose
    to_steroid: SteroidName = Field(description="steroid and route converted to")


@calculator(
    title="Steroid Conversion Calculator", medcalc_id=24, output="decimal", unit="mg",
    category="dosage",
    citation="Meikle AW, Tyler FH. Potency and duration of action of glucocorticoids. Am J "
    "Med 1977;63:200-7 (equivalent doses: betamethasone 0.75, cortisone 25, dexamethasone "
    "0.75, hydrocortisone 20, methylprednisolone 4, prednisolone 5, prednisone 5, "
    "triamcinolone 4 mg).",
)
def steroid_conversion(p: SteroidConversionParams) -> float:
    """Equivalent dose: dose x (equivalent mg of target) / (equivalent mg of source)."""
    source = step(f"equivalent dose of {p.from_steroid}",
                  EQUIVALENT_MG[p.from_steroid.split()[0]], "mg")
    target = step(f"equivalent dose of {p.to_steroid}",
                  EQUIVALENT_MG[p.to_steroid.split()[0]], "mg")
    return p.dose * target / source


Opioid = Literal[
    "codeine", "fentanyl buccal", "fentanyl patch", "hydrocodone", "hydromorphone",
    "methadone", "morphine", "oxycodone", "oxymorphone", "tapentadol", "tramadol",
]

# CDC Clinical Practice Guideline for Prescribing Opioids for Pain, 2022 (Dowell D et al.
# MMWR Recomm Rep 2022;71(3):1-95), Table: MME conversion factors.
MME_FACTOR = {
    "codeine": 0.15, "fentanyl buccal": 0.13, "fentanyl patch": 2.4, "hydrocodone": 1.0,
    "hydromorphone": 5.0, "methadone": 4.7, "morphine": 1.0, "oxycodone": 1.5,
    "oxymorphone": 3.0, "tapentadol": 0.4, "tramadol": 0.2,
}


class OpioidDose(Params):
    drug: Opioid = Field(description="opioid (fentanyl buccal in mcg, fentanyl patch in "
                         "mcg/hr, all others in mg)")
    dose: float = Field(gt=0, description="dose per administration: mg, or mcg for "
                        "fentanyl buccal, or mcg/hr for a fentanyl patch")
    doses_per_day: float = Field(gt=0, le=48, description="administrations per day "
                                 "(1 for a patch)")


class MmeParams(Params):
    opioids: list[OpioidDose] = Field(min_length=1, description="each opioid taken")


@calculator(
    title="Morphine Milligram Equivalents (MME) Calculator", medcalc_id=49, output="decimal",
    unit="MME/day", category="dosage",
    citation="Dowell D et al. CDC Clinical Practice Guideline for Prescribing Opioids for "
    "Pain - United States, 2022. MMWR Recomm Rep 2022;71(3):1-95.",
)
def morphine_milligram_equivalents(p: MmeParams) -> float:
    """Total MME/day = sum of dose x doses per day x CDC 2022 conversion factor."""
    return sum(
        step(f"{o.drug}: {o.dose:g} x {o.doses_per_day:g}/day x {MME_FACTOR[o.drug]:g}",
             o.dose * o.doses_per_day * MME_FACTOR[o.drug], "MME/day")
        for o in p.opioids
    )
