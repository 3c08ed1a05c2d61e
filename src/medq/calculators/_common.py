"""Parameter building blocks shared by the calculator modules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from medq.calculators import units as u
from medq.calculators.units import quantity

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


Age = Annotated[float, *quantity(u.AGE, "age", ge=0, le=130)]
AdultAge = Annotated[
    float, *quantity(u.AGE, "age (the equation is validated in adults)", gt=0, le=130)
]
Weight = Annotated[float, *quantity(u.BODY_WEIGHT, "body weight", gt=0, le=700)]
Height = Annotated[float, *quantity(u.HEIGHT, "height", gt=0, le=300)]
HeartRate = Annotated[float, *quantity(u.RATE, "heart rate", gt=0, le=400)]
RespiratoryRate = Annotated[float, *quantity(u.RATE, "respiratory rate", ge=0, le=200)]
SystolicBP = Annotated[float, *quantity(u.PRESSURE, "systolic blood pressure", gt=0, le=400)]
DiastolicBP = Annotated[float, *quantity(u.PRESSURE, "diastolic blood pressure", gt=0, le=300)]
Temperature = Annotated[float, *quantity(u.TEMPERATURE, "body temperature", gt=10, le=50)]
Creatinine = Annotated[float, *quantity(u.CREATININE, "serum creatinine", gt=0)]
Bilirubin = Annotated[float, *quantity(u.BILIRUBIN, "total bilirubin", gt=0)]
Albumin = Annotated[float, *quantity(u.ALBUMIN, "serum albumin", gt=0)]
Sodium = Annotated[float, *quantity(u.SODIUM, "serum sodium", gt=0)]
Potassium = Annotated[float, *quantity(u.POTASSIUM, "serum potassium", gt=0)]
Chloride = Annotated[float, *quantity(u.CHLORIDE, "serum chloride", gt=0)]
Bicarbonate = Annotated[float, *quantity(u.BICARBONATE, "serum bicarbonate (HCO3-)", ge=0)]
Glucose = Annotated[float, *quantity(u.GLUCOSE, "serum glucose", gt=0)]
BUN = Annotated[float, *quantity(u.BUN, "blood urea nitrogen", ge=0)]
QTInterval = Annotated[float, *quantity(u.DURATION_MS, "measured QT interval", gt=0, le=2000)]
BMI_Q = Annotated[float, *quantity(u.BMI, "body mass index", gt=0, le=200)]
