"""Shapes of the annual report (documented in OpenAPI)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.kpis.schemas import KpiQuery, KpiWithBreakdown, PlanRef


class AnnualReportQuery(KpiQuery):
    format: Annotated[Literal["json", "xlsx"], Field(description="json (default) or an Excel workbook")] = "json"


class MonthPoint(BaseModel):
    month: str = Field(description="YYYY-MM, local time")
    numerator: int
    denominator: int
    value: float | None


class BudgetByStatus(BaseModel):
    status: str
    count: int
    requested_total_vnd: int
    appraised_total_vnd: int
    approved_total_vnd: int


class BudgetTotals(BaseModel):
    requested_total_vnd: int
    appraised_total_vnd: int
    approved_total_vnd: int
    by_status: list[BudgetByStatus]


class PlanNamed(PlanRef):
    title: str


class AnnualReportOut(BaseModel):
    year: int
    as_of: date
    plan: PlanNamed = Field(description="The plan the report is for")
    kpis: list[KpiWithBreakdown]
    monthly: dict[str, list[MonthPoint]] = Field(
        description="Month-by-month series of broadcast_compliance and forum_compliance (counted months)"
    )
    budget: BudgetTotals = Field(
        description="Non-draft submissions of the rounds whose period starts with the year (a null amount sums as 0)"
    )
