from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.common.records import RecordCreate, RecordRead, RecordUpdate
from app.common.router import RecordListQuery
from app.common.types import Count, Id, Title, Topics


class ForumKind(StrEnum):
    VILLAGE_FORUM = "village_forum"  # the monthly DX forum of a village or residential quarter (C4)
    BUSINESS_DIALOGUE = "business_dialogue"  # leaders meeting businesses (C2)


UNIT_DOC = "The village, quarter or unit where the forum was held; it must be in the caller's scope."
ATTENDEES_DOC = "How many people attended."
QUESTIONS_DOC = "How many of their questions were answered."


class ForumCreate(RecordCreate):
    unit_id: Annotated[Id, Field(description=UNIT_DOC)]
    kind: ForumKind
    held_on: date
    title: Title
    attendees: Annotated[Count, Field(description=ATTENDEES_DOC)]
    questions_answered: Annotated[Count, Field(description=QUESTIONS_DOC)]
    topics: Topics | None = None


class ForumUpdate(RecordUpdate):
    unit_id: Annotated[Id | None, Field(description=UNIT_DOC)] = None
    kind: ForumKind | None = None
    held_on: date | None = None
    title: Title | None = None
    attendees: Annotated[Count | None, Field(description=ATTENDEES_DOC)] = None
    questions_answered: Annotated[Count | None, Field(description=QUESTIONS_DOC)] = None
    topics: Topics | None = None


class ForumRead(RecordRead):
    kind: ForumKind
    held_on: date
    title: str
    attendees: int
    questions_answered: int
    topics: list[str] | None


class ForumQuery(RecordListQuery):
    """`from`/`to` filter on held_on."""

    kind: ForumKind | None = None
