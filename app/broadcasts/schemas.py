from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.common.records import RecordCreate, RecordRead, RecordUpdate, Title
from app.common.router import RecordListQuery
from app.common.types import Count, Instant, Url

MAX_AIRINGS = 1000


class Channel(StrEnum):
    CITY_RADIO_TV = "city_radio_tv"
    WARD_RADIO = "ward_radio"
    WEB_PORTAL = "web_portal"


Airings = Annotated[
    list[Instant],
    Field(max_length=MAX_AIRINGS, description="Instants with an offset; stored and returned in UTC, sorted"),
]


class BroadcastCreate(RecordCreate):
    channel: Channel
    title: Title
    duration_minutes: Count = 0
    produced_on: date
    airings: Airings = []
    url: Url | None = None


class BroadcastUpdate(RecordUpdate):
    channel: Channel | None = None
    title: Title | None = None
    duration_minutes: Count | None = None
    produced_on: date | None = None
    airings: Airings | None = None
    url: Url | None = None


class BroadcastRead(RecordRead):
    channel: Channel
    title: str
    duration_minutes: int
    produced_on: date
    airings: list[datetime]
    url: str | None


class BroadcastQuery(RecordListQuery):
    channel: Channel | None = None
