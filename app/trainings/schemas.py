from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from app.common.records import RecordCreate, RecordRead, RecordUpdate, Title
from app.common.router import RecordListQuery
from app.common.types import Count, Id, Schema

MAX_PARTICIPANT_UNITS = 1000


class Audience(StrEnum):
    OFFICIALS = "officials"
    RESIDENTS = "residents"
    BUSINESSES = "businesses"
    STUDENTS = "students"


class Participant(Schema):
    """How many came from one unit (for officials: their agency, which may be any unit)."""

    unit_id: Id
    count: Count


class ParticipantRead(BaseModel):
    unit_id: int
    count: int


ParticipantList = Annotated[list[Participant], Field(max_length=MAX_PARTICIPANT_UNITS)]


class TrainingCreate(RecordCreate):
    audience: Audience
    title: Title
    held_on: date
    participants: ParticipantList = []


class TrainingUpdate(RecordUpdate):
    audience: Audience | None = None
    title: Title | None = None
    held_on: date | None = None
    participants: ParticipantList | None = None


class TrainingRead(RecordRead):
    audience: Audience
    title: str
    held_on: date
    participants: list[ParticipantRead]


class TrainingQuery(RecordListQuery):
    audience: Audience | None = None
