"""Operational records (API.md section 4): what the units do under the plan."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import IdType, UTCDateTime
from app.models.base import RecordBase, fk


def topics_column() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


class RecordMixin(RecordBase):
    """unit_id (owner), external_ref (the caller system's id, unique per resource and unit), topics."""

    external_ref: str | None = Field(default=None, max_length=255)


class UnitPlan(RecordMixin, table=True):
    __tablename__ = "unit_plans"
    __table_args__ = (UniqueConstraint("unit_id", "year"), UniqueConstraint("unit_id", "external_ref"))

    unit_id: int = fk("units.id", nullable=False)
    year: int = Field(nullable=False)
    title: str = Field(max_length=500, nullable=False)
    document_number: str | None = Field(default=None, max_length=100)
    issued_on: date | None = Field(default=None, index=True)
    url: str | None = Field(default=None, max_length=2000)
    topics: list[str] | None = topics_column()


class AnnualReport(RecordMixin, table=True):
    __tablename__ = "annual_reports"
    __table_args__ = (UniqueConstraint("unit_id", "year"), UniqueConstraint("unit_id", "external_ref"))

    unit_id: int = fk("units.id", nullable=False)
    year: int = Field(nullable=False)
    summary: str = Field(default="", nullable=False)
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    url: str | None = Field(default=None, max_length=2000)
    topics: list[str] | None = topics_column()


class Broadcast(RecordMixin, table=True):
    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("unit_id", "external_ref"),)

    unit_id: int = fk("units.id", nullable=False)
    channel: str = Field(max_length=32, nullable=False)
    title: str = Field(max_length=500, nullable=False)
    duration_minutes: int = Field(default=0, nullable=False)
    produced_on: date = Field(nullable=False, index=True)
    url: str | None = Field(default=None, max_length=2000)
    topics: list[str] | None = topics_column()


class Airing(SQLModel, table=True):
    """One airing of a broadcast: an instant, stored in UTC."""

    __tablename__ = "airings"
    __table_args__ = (Index("ix_airings_broadcast_id_aired_at", "broadcast_id", "aired_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    broadcast_id: int = Field(sa_column=Column(IdType, ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False))
    aired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class Forum(RecordMixin, table=True):
    __tablename__ = "forums"
    __table_args__ = (
        UniqueConstraint("unit_id", "external_ref"),
        Index("ix_forums_unit_id_held_on", "unit_id", "held_on"),
    )

    unit_id: int = fk("units.id", nullable=False, index=False)
    kind: str = Field(max_length=32, nullable=False)
    held_on: date = Field(nullable=False, index=True)
    title: str = Field(max_length=500, nullable=False)
    attendees: int = Field(default=0, nullable=False)
    questions_answered: int = Field(default=0, nullable=False)
    topics: list[str] | None = topics_column()


class Training(RecordMixin, table=True):
    __tablename__ = "trainings"
    __table_args__ = (UniqueConstraint("unit_id", "external_ref"),)

    unit_id: int = fk("units.id", nullable=False)
    audience: str = Field(max_length=32, nullable=False)
    title: str = Field(max_length=500, nullable=False)
    held_on: date = Field(nullable=False, index=True)
    topics: list[str] | None = topics_column()


class TrainingParticipant(SQLModel, table=True):
    """How many came to a training from one unit (for officials: their agency)."""

    __tablename__ = "training_participants"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    training_id: int = Field(
        sa_column=Column(IdType, ForeignKey("trainings.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    unit_id: int = fk("units.id", nullable=False)
    count: int = Field(default=0, nullable=False)


class Contest(RecordMixin, table=True):
    __tablename__ = "contests"
    __table_args__ = (UniqueConstraint("unit_id", "external_ref"),)

    unit_id: int = fk("units.id", nullable=False)
    title: str = Field(max_length=500, nullable=False)
    audience: str = Field(max_length=32, nullable=False)
    starts_on: date = Field(nullable=False, index=True)
    ends_on: date = Field(nullable=False)
    topics: list[str] | None = topics_column()


class ContestEntry(RecordMixin, table=True):
    __tablename__ = "contest_entries"
    __table_args__ = (
        UniqueConstraint("contest_id", "participant_ref"),
        UniqueConstraint("contest_id", "unit_id", "external_ref"),
    )

    contest_id: int = fk("contests.id", nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    participant_ref: str = Field(max_length=255, nullable=False)
    participant_name: str = Field(max_length=255, nullable=False)
    score: float = Field(sa_column=Column(Float, nullable=False))
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SatisfactionSurvey(RecordMixin, table=True):
    __tablename__ = "satisfaction_surveys"
    __table_args__ = (UniqueConstraint("unit_id", "external_ref"), Index("ix_satisfaction_surveys_month", "month"))

    unit_id: int = fk("units.id", nullable=False)
    month: str = Field(max_length=7, nullable=False)  # YYYY-MM
    source: str = Field(max_length=32, nullable=False)
    respondents: int = Field(default=0, nullable=False)
    satisfied: int = Field(default=0, nullable=False)
