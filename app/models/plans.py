"""Plans (API.md section 10): the window, the required unit kinds and the targets a plan sets."""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from app.models.base import RecordBase, fk


class Plan(RecordBase, table=True):
    __tablename__ = "plans"

    code: str = Field(max_length=64, unique=True, nullable=False)
    title: str = Field(max_length=500, nullable=False)
    issued_by_unit_id: int = fk("units.id", nullable=False)
    document_number: str | None = Field(default=None, max_length=100)
    issued_on: date | None = None
    starts_on: date = Field(nullable=False)
    ends_on: date = Field(nullable=False)
    required_unit_kinds: list[str] = Field(sa_column=Column(JSON, nullable=False))


class PlanTarget(RecordBase, table=True):
    """A KPI's target in a plan: plan-wide (year null) or a milestone for one year, which overrides it."""

    __tablename__ = "plan_targets"
    __table_args__ = (UniqueConstraint("plan_id", "kpi_code", "year"),)

    plan_id: int = fk("plans.id", nullable=False)
    kpi_code: str = Field(max_length=64, nullable=False)
    year: int | None = None
    # a decimal string ("0.8"), compared exactly: no float rounding at the boundary
    target: str = Field(max_length=16, nullable=False)
    comparison: str = Field(max_length=8, nullable=False)
