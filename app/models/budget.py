"""Budget rounds, submissions, their line items and their transitions (API.md section 5)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import IdType, UTCDateTime
from app.models.base import RecordBase, fk


class BudgetRound(RecordBase, table=True):
    __tablename__ = "budget_rounds"

    title: str = Field(max_length=500, nullable=False)
    period: str = Field(max_length=32, nullable=False, index=True)
    deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BudgetSubmission(RecordBase, table=True):
    __tablename__ = "budget_submissions"
    __table_args__ = (UniqueConstraint("unit_id", "external_ref"),)

    round_id: int = fk("budget_rounds.id", nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    activity_id: int | None = fk("activities.id")
    title: str = Field(max_length=500, nullable=False)
    funding_source: str = Field(max_length=32, nullable=False)
    status: str = Field(max_length=16, nullable=False, index=True)
    requested_total_vnd: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    appraised_total_vnd: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    approved_total_vnd: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    late: bool = Field(default=False, nullable=False)
    external_ref: str | None = Field(default=None, max_length=255)


class BudgetItem(SQLModel, table=True):
    __tablename__ = "budget_items"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    submission_id: int = Field(
        sa_column=Column(IdType, ForeignKey("budget_submissions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    position: int = Field(nullable=False)
    description: str = Field(max_length=1000, nullable=False)
    quantity: int = Field(nullable=False)
    unit_cost_vnd: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_vnd: int = Field(sa_column=Column(BigInteger, nullable=False))


class BudgetTransition(SQLModel, table=True):
    __tablename__ = "budget_transitions"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    submission_id: int = Field(
        sa_column=Column(IdType, ForeignKey("budget_submissions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    action: str = Field(max_length=16, nullable=False)
    from_status: str = Field(max_length=16, nullable=False)
    to_status: str = Field(max_length=16, nullable=False)
    actor_kind: str = Field(max_length=16, nullable=False)
    actor_id: int = Field(sa_type=IdType, nullable=False)
    actor_role: str = Field(max_length=32, nullable=False)
    actor_unit_id: int | None = Field(default=None, sa_type=IdType)  # the actor's unit when it acted
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = None
