from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import IdType
from app.models.base import RecordBase, fk


class Activity(RecordBase, table=True):
    """An activity of one plan; its code is unique within the plan, its quota (if any) is the plan's data."""

    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    plan_id: int = fk("plans.id", nullable=False)
    code: str = Field(max_length=16, nullable=False)
    title: str = Field(max_length=500, nullable=False)
    description: str = Field(default="", nullable=False)
    frequency: str = Field(max_length=16, nullable=False)
    starts_on: date | None = None
    ends_on: date | None = None
    quota: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ActivityUnit(SQLModel, table=True):
    """A unit that leads or coordinates an activity."""

    __tablename__ = "activity_units"

    activity_id: int = Field(
        sa_column=Column(IdType, ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    )
    unit_id: int = Field(sa_column=Column(IdType, ForeignKey("units.id"), primary_key=True))
    role: str = Field(max_length=16, primary_key=True)  # lead | coordinating


class ActivityReport(RecordBase, table=True):
    __tablename__ = "activity_reports"
    __table_args__ = (UniqueConstraint("activity_id", "unit_id", "external_ref"),)

    activity_id: int = fk("activities.id", nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    period: str = Field(max_length=7, nullable=False)
    output_count: int = Field(default=0, nullable=False)
    note: str | None = None
    url: str | None = Field(default=None, max_length=2000)
    external_ref: str | None = Field(default=None, max_length=255)
