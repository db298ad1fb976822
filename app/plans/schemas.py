"""Bodies and answers of /plans and /plans/{id}/targets (API.md section 10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.common.pagination import ListQuery
from app.common.types import Id, ReadSchema, Schema, Title
from app.units.schemas import UnitKind

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # the years KPIs can be asked for

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
PlanDay = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY, description="From 2000-01-01 to 2100-12-31")]
DocumentNumber = Annotated[str, Field(min_length=1, max_length=100)]
Kinds = Annotated[
    list[UnitKind],
    Field(min_length=1, max_length=len(UnitKind), description="Kinds of unit that owe a unit plan and annual report"),
]
KpiCode = Annotated[str, Field(min_length=1, max_length=64, description="A KPI code, e.g. forum_compliance")]
TargetValue = Annotated[
    Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6, description="A share, from 0 to 1 (0.8 = 80%)")
]
TargetYear = Annotated[int, Field(ge=FIRST_DAY.year, le=LAST_DAY.year)]


class Comparison(StrEnum):
    GTE = "gte"
    GT = "gt"


class PlanCreate(Schema):
    code: Code
    title: Title
    issued_by_unit_id: Id
    document_number: DocumentNumber | None = None
    issued_on: PlanDay | None = None
    starts_on: PlanDay
    ends_on: PlanDay
    required_unit_kinds: Kinds


class PlanUpdate(Schema):
    code: Code | None = None
    title: Title | None = None
    issued_by_unit_id: Id | None = None
    document_number: DocumentNumber | None = None
    issued_on: PlanDay | None = None
    starts_on: PlanDay | None = None
    ends_on: PlanDay | None = None
    required_unit_kinds: Kinds | None = None


class PlanCopy(Schema):
    """The new plan's code, title and window; the rest comes from the plan copied."""

    code: Code
    title: Title
    starts_on: PlanDay
    ends_on: PlanDay


class PlanRead(ReadSchema):
    code: str
    title: str
    issued_by_unit_id: int
    document_number: str | None
    issued_on: date | None
    starts_on: date
    ends_on: date
    required_unit_kinds: list[str]


class PlanQuery(ListQuery):
    issued_by_unit_id: Id | None = None
    code: Code | None = None


class TargetCreate(Schema):
    kpi_code: KpiCode
    year: TargetYear | None = Field(default=None, description="null: every year of the plan")
    target: TargetValue
    comparison: Comparison


class TargetUpdate(Schema):
    kpi_code: KpiCode | None = None
    year: TargetYear | None = None
    target: TargetValue | None = None
    comparison: Comparison | None = None


class TargetRead(ReadSchema):
    plan_id: int
    kpi_code: str
    year: int | None
    target: float
    comparison: Comparison


class TargetQuery(ListQuery):
    kpi_code: KpiCode | None = None
    year: TargetYear | None = None
