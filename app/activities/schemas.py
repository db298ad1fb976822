from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.broadcasts.schemas import Channel
from app.common.pagination import ListQuery
from app.common.router import RecordListQuery
from app.common.types import Count, Id, LongText, ReadSchema, Ref, Schema, Url
from app.forums.schemas import ForumKind


class Frequency(StrEnum):
    ONCE = "once"
    MONTHLY = "monthly"
    YEARLY = "yearly"


Title = Annotated[str, Field(min_length=1, max_length=500)]
Code = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
UnitIds = Annotated[list[Id], Field(max_length=1000)]
Period = Annotated[str, Field(pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$")]


PerMonth = Annotated[int, Field(ge=1, le=31)]
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]


class Quota(Schema):
    """What a unit owes each month under the activity: a broadcast quota (`channel`, `airings_per_month`,
    optionally `min_minutes`/`max_minutes`: activities B1, B3) or a forum quota (`forum_kind`,
    `forums_per_month`: C4)."""

    channel: Channel | None = None
    airings_per_month: PerMonth | None = None
    min_minutes: Minutes | None = None
    max_minutes: Minutes | None = None
    forum_kind: ForumKind | None = None
    forums_per_month: PerMonth | None = None


QuotaOut = Annotated[
    dict[str, str | int] | None,
    Field(description="The activity's quota as set (only the fields given); null where the plan sets none"),
]


class ActivityCreate(Schema):
    plan_id: Id | None = Field(default=None, description="Default: the plan covering today, else the latest")
    code: Code
    title: Title
    description: LongText = ""
    frequency: Frequency
    lead_unit_ids: UnitIds = []
    coordinating_unit_ids: UnitIds = []
    starts_on: date | None = None
    ends_on: date | None = None
    quota: Quota | None = None


class ActivityUpdate(Schema):
    plan_id: Id | None = None
    code: Code | None = None
    title: Title | None = None
    description: LongText | None = None
    frequency: Frequency | None = None
    lead_unit_ids: UnitIds | None = None
    coordinating_unit_ids: UnitIds | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    quota: Quota | None = Field(default=None, description="Replaces the quota whole; null clears it")


class ActivityRead(ReadSchema):
    plan_id: int
    code: str
    title: str
    description: str
    frequency: Frequency
    lead_unit_ids: list[int]
    coordinating_unit_ids: list[int]
    starts_on: date | None
    ends_on: date | None
    quota: QuotaOut


class ActivityQuery(ListQuery):
    plan_id: Id | None = None
    frequency: Frequency | None = None


class ActivityReportCreate(Schema):
    unit_id: Id
    period: Period
    output_count: Count = 0
    note: LongText | None = None
    url: Url | None = None
    external_ref: Ref | None = None


class ActivityReportUpdate(Schema):
    unit_id: Id | None = None
    period: Period | None = None
    output_count: Count | None = None
    note: LongText | None = None
    url: Url | None = None
    external_ref: Ref | None = None


class ActivityReportRead(ReadSchema):
    activity_id: int
    unit_id: int
    period: str
    output_count: int
    note: str | None
    url: str | None
    external_ref: str | None


class ActivityReportQuery(RecordListQuery):
    period: Period | None = None
