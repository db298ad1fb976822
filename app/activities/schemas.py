from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.common.pagination import ListQuery
from app.common.router import RecordListQuery
from app.common.types import Count, Id, LongText, ReadSchema, Ref, Schema, Url


class Frequency(StrEnum):
    ONCE = "once"
    MONTHLY = "monthly"
    YEARLY = "yearly"


Title = Annotated[str, Field(min_length=1, max_length=500)]
Code = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
UnitIds = Annotated[list[Id], Field(max_length=1000)]
Period = Annotated[str, Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$")]


class ActivityCreate(Schema):
    code: Code
    title: Title
    description: LongText = ""
    frequency: Frequency
    lead_unit_ids: UnitIds = []
    coordinating_unit_ids: UnitIds = []
    starts_on: date | None = None
    ends_on: date | None = None


class ActivityUpdate(Schema):
    code: Code | None = None
    title: Title | None = None
    description: LongText | None = None
    frequency: Frequency | None = None
    lead_unit_ids: UnitIds | None = None
    coordinating_unit_ids: UnitIds | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class ActivityRead(ReadSchema):
    code: str
    title: str
    description: str
    frequency: Frequency
    lead_unit_ids: list[int]
    coordinating_unit_ids: list[int]
    starts_on: date | None
    ends_on: date | None


class ActivityQuery(ListQuery):
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
