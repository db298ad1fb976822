"""Query and response shapes of /obligations (API.md section 11)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from app.common.pagination import ListQuery
from app.common.types import Id
from app.kpis.schemas import KpiQuery


class Duty(StrEnum):
    UNIT_PLAN = "unit_plan"
    BROADCAST = "broadcast"
    FORUM = "forum"
    ANNUAL_REPORT = "annual_report"


class DutyStatus(StrEnum):
    MET = "met"
    MET_LATE = "met_late"
    DUE = "due"
    OVERDUE = "overdue"


class DutyActivityCode(StrEnum):
    """The activities whose duties fall on units (the annual report has none)."""

    A = "A"
    B1 = "B1"
    B3 = "B3"
    C4 = "C4"


class EvidenceResource(StrEnum):
    UNIT_PLANS = "unit-plans"
    BROADCASTS = "broadcasts"
    FORUMS = "forums"
    ANNUAL_REPORTS = "annual-reports"


class ObligationFilters(KpiQuery):
    """The filters of the list and of its summary; `plan`, `year` and `as_of` as for KPIs."""

    unit_id: Annotated[Id | None, Field(description="That unit and the units under it")] = None
    duty: Duty | None = None
    activity_code: DutyActivityCode | None = None
    status: DutyStatus | None = None
    period: Annotated[str | None, Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$", description="YYYY or YYYY-MM")] = None


class ObligationQuery(ObligationFilters, ListQuery):
    pass


class SummaryQuery(ObligationFilters):
    """The summary is of one year: without `year`, the year chosen as for KPIs."""


class Evidence(BaseModel):
    resource: EvidenceResource
    id: int


class Obligation(BaseModel):
    plan_id: int
    duty: Duty
    activity_code: DutyActivityCode | None
    unit_id: int
    period: str = Field(description="YYYY or YYYY-MM")
    due_on: date = Field(description="The last local day allowed")
    status: DutyStatus
    days_overdue: int = Field(description="as_of - due_on in days when overdue, else 0")
    met_on: date | None = Field(None, description="The local date of the record that met the duty")
    evidence: list[Evidence]


class ObligationPage(BaseModel):
    items: list[Obligation]
    total: int
    next_cursor: str | None


class StatusCounts(BaseModel):
    met: int
    met_late: int
    due: int
    overdue: int


class UnitCounts(StatusCounts):
    unit_id: int


class DutyCounts(StatusCounts):
    duty: Duty
    activity_code: DutyActivityCode | None


class ObligationSummary(BaseModel):
    year: int
    as_of: date
    plan: dict
    by_unit: list[UnitCounts]
    by_duty: list[DutyCounts]
