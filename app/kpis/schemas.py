"""Query and response shapes of /kpis (documented in OpenAPI; answers are serialized without them)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.timeutil import local_today

FIRST_YEAR, LAST_YEAR = 2000, 2100


class KpiQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    plan: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=64,
            description="A plan's code; default: the plan of the caller's city whose window holds the year.",
        ),
    ] = None
    year: Annotated[
        int | None,
        Field(
            ge=FIRST_YEAR,
            le=LAST_YEAR,
            description="The year; default: the year of `as_of` when a plan covers it, else the last year of the "
            "latest plan.",
        ),
    ] = None
    as_of: Annotated[
        date | None,
        Field(
            ge=date(FIRST_YEAR, 1, 1),
            le=date(LAST_YEAR, 12, 31),
            description="Nothing dated after this day counts (local time); default: today, local.",
        ),
    ] = None

    @model_validator(mode="after")
    def _defaults(self) -> KpiQuery:
        if self.as_of is None:
            self.as_of = local_today()
        return self


class KpiComparison(StrEnum):
    """How the value meets its target: at least (`gte`) or above (`gt`)."""

    GTE = "gte"
    GT = "gt"


class KpiStatus(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NO_DATA = "no_data"
    TRACKING = "tracking"


class BreakdownRow(BaseModel):
    unit_id: int
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator; null when the denominator is 0")


class PlanRef(BaseModel):
    id: int
    code: str


class KpiOut(BaseModel):
    code: str
    name: str = Field(description="Vietnamese name, as in the plan")
    name_en: str
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator; null when the denominator is 0")
    target: float | None
    comparison: KpiComparison | None
    status: KpiStatus


class KpiWithBreakdown(KpiOut):
    breakdown: list[BreakdownRow] = Field(description="One row per unit of the denominator's set, by unit_id")


class KpiDetail(KpiWithBreakdown):
    year: int
    as_of: date
    plan: PlanRef


class KpiList(BaseModel):
    year: int
    as_of: date
    plan: PlanRef
    items: list[KpiOut]
