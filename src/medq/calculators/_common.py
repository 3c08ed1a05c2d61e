"""Parameter building blocks shared by the calculator modules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from medq.calculators import units as u
from medq.calculators.units import Quantity

_SEX_ALIASES = {"m": "male", "man": "male", "f": "female", "woman": "female"}


def _sex(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    return _SEX_ALIASES.get(text, text)


Sex = Annotated[
    Literal["male", "female"],
    BeforeValidator(_sex),
    Field(description="biological sex: 'male' or 'female'"),
]


class Params(BaseModel):
    """Base of every calculator's parameters: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def flag(description: str) -> Any:
    """A yes/no criterion; absent means 'not present' (as the published scores assume)."""
    return Field(default=False, description=description)


Age = Quantity(u.AGE, "age", ge=0, le=130)
AdultAge = Quantity(u.AGE, "age (the equation is validated in adults)", gt=0, le=130)
Weight = Quantity(u.BODY_WEIGHT, "body weight", gt=0, le=700)
Height = Quantity(u.HEIGHT, "height", gt=0, le=300)
HeartRate = Quantity(u.RATE, "heart rate", gt=0, le=400)
RespiratoryRate = Quantity(u.RATE, "respiratory rate", ge=0, le=200)
SystolicBP = Quantity(u.PRESSURE, "systolic blood pressure", gt=0, le=400)
DiastolicBP = Quantity(u.PRESSURE, "diastolic blood pressure", gt=0, le=300)
Temperature = Quantity(u.TEMPERATURE, "body temperature", gt=10, le=50)
Creatinine = Quantity(u.CREATININE, "serum creatinine", gt=0)
Bilirubin = Quantity(u.BILIRUBIN, "total bilirubin", gt=0)
Albumin = Quantity(u.ALBUMIN, "serum albumin", gt=0)
Sodium = Quantity(u.SODIUM, "serum sodium", gt=0)
Potassium = Quantity(u.POTASSIUM, "serum potassium", gt=0)
Chloride = Quantity(u.CHLORIDE, "serum chloride", gt=0)
Bicarbonate = Quantity(u.BICARBONATE, "serum bicarbonate (HCO3-)", ge=0)
Glucose = Quantity(u.GLUCOSE, "serum glucose", gt=0)
BUN = Quantity(u.BUN, "blood urea nitrogen", ge=0)
QTInterval = Quantity(u.DURATION_MS, "measured QT interval", gt=0, le=2000)
BMI_Q = Quantity(u.BMI, "body mass index", gt=0, le=200)
