from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from app.common.records import RecordCreate, RecordRead, RecordUpdate, Title
from app.common.router import RecordListQuery
from app.common.types import Id, Instant, Name, ReadSchema, Ref, Schema

MAX_SCORE = 1_000_000
MEAN_DECIMALS = 6

Score = Annotated[float, Field(ge=0, le=MAX_SCORE, allow_inf_nan=False)]


class Audience(StrEnum):
    YOUTH = "youth"
    STUDENTS = "students"


class ContestCreate(RecordCreate):
    """unit_id is the organiser."""

    title: Title
    audience: Audience
    starts_on: date
    ends_on: date


class ContestUpdate(RecordUpdate):
    title: Title | None = None
    audience: Audience | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class ContestRead(RecordRead):
    title: str
    audience: Audience
    starts_on: date
    ends_on: date


class ContestQuery(RecordListQuery):
    audience: Audience | None = None


class EntryCreate(Schema):
    """unit_id is the entrant's school or youth branch: any active unit."""

    unit_id: Id
    participant_ref: Ref
    participant_name: Name
    score: Score
    submitted_at: Instant
    external_ref: Ref | None = None


class EntryUpdate(Schema):
    unit_id: Id | None = None
    participant_ref: Ref | None = None
    participant_name: Name | None = None
    score: Score | None = None
    submitted_at: Instant | None = None
    external_ref: Ref | None = None


class EntryRead(ReadSchema):
    contest_id: int
    unit_id: int
    participant_ref: str
    participant_name: str
    score: float
    submitted_at: datetime
    external_ref: str | None


class EntryQuery(RecordListQuery):
    """`from` and `to` are on the local date of submitted_at."""


class UnitResult(BaseModel):
    unit_id: int
    entries: int
    mean_score: float = Field(description=f"The unit's mean score, rounded to {MEAN_DECIMALS} decimals")


class RankedEntry(BaseModel):
    rank: int = Field(description="1 for the best; ties in score go to the earlier submission")
    participant_ref: str
    participant_name: str
    unit_id: int
    score: float


class ContestResults(BaseModel):
    """Over the entries the caller may read."""

    entries: int
    by_unit: list[UnitResult]
    ranking: list[RankedEntry]
