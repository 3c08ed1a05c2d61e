"""Pregnancy dating from the last menstrual period (LMP)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from medq.calculators._common import Params
from medq.calculators.base import CalculatorInputError, calculator
from medq.calculators.result import step


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    return value


Date = Annotated[date, BeforeValidator(_parse_date),
                 Field(description="a date, MM/DD/YYYY or YYYY-MM-DD")]


def _format(day: date) -> str:
    return day.strftime("%m/%d/%Y")


class DueDateParams(Params):
    last_menstrual_period: Date
    cycle_length: int = Field(default=28, ge=20, le=45, description="menstrual cycle "
                              "length in days")


@calculator(
    title="Estimated Due Date", medcalc_id=13, output="date", unit=None, category="date",
    citation="Naegele's rule (Naegele FC, 1836) with the cycle-length correction: EDD = LMP "
    "+ 280 days + (cycle length - 28) days; ACOG Committee Opinion 700 (2017).",
)
def estimated_due_date(p: DueDateParams) -> str:
    """Estimated due date (MM/DD/YYYY): LMP + 280 days + (cycle length - 28) days."""
    days = step("days added", 280 + p.cycle_length - 28, "days")
    return _format(p.last_menstrual_period + timedelta(days=days))


class ConceptionDateParams(Params):
    last_menstrual_period: Date


@calculator(
    title="Estimated of Conception", medcalc_id=68, output="date", unit=None, category="date",
    citation="Conception about 2 weeks after the LMP in a 28-day cycle; ACOG Committee "
    "Opinion 700 (2017), as in MDCalc's pregnancy dating calculator.",
)
def estimated_conception_date(p: ConceptionDateParams) -> str:
    """Estimated conception date (MM/DD/YYYY): LMP + 14 days."""
    return _format(p.last_menstrual_period + timedelta(days=14))


class GestationalAgeParams(Params):
    last_menstrual_period: Date
    current_date: Date


@calculator(
    title="Estimated Gestational Age", medcalc_id=69, output="weeks_days", unit=None,
    category="date",
    citation="Gestational age from the LMP; ACOG Committee Opinion 700 (2017).",
)
def gestational_age(p: GestationalAgeParams) -> tuple[int, int]:
    """Gestational age as (weeks, days) elapsed from the LMP to the current date."""
    days = step("days since the LMP", (p.current_date - p.last_menstrual_period).days, "days")
    if days < 0:
        raise CalculatorInputError(
            "gestational_age: parameter 'current_date' is before 'last_menstrual_period'",
            "current_date",
        )
    return divmod(days, 7)
