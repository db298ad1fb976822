from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, computed_field

from app.common.pagination import ListQuery
from app.common.types import Count, Id, Name, ReadSchema, Schema, Text
from app.timeutil import local_today


class UnitKind(StrEnum):
    CITY = "city"
    DEPARTMENT = "department"
    MEDIA_CENTER = "media_center"
    ASSOCIATION = "association"
    WARD = "ward"
    COMMUNE = "commune"
    QUARTER = "quarter"
    VILLAGE = "village"
    SCHOOL = "school"


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class UnitCreate(Schema):
    code: Code
    name: Name
    kind: UnitKind
    parent_id: Id | None = None
    is_pilot: bool = False
    staff_count: Count = 0
    established_on: date | None = None
    dissolved_on: date | None = None
    merged_into_id: Id | None = None


class UnitUpdate(Schema):
    code: Code | None = None
    name: Name | None = None
    kind: UnitKind | None = None
    parent_id: Id | None = None
    is_pilot: bool | None = None
    staff_count: Count | None = None
    established_on: date | None = None
    dissolved_on: date | None = None
    merged_into_id: Id | None = None


class UnitRead(ReadSchema):
    code: str
    name: str
    kind: UnitKind
    parent_id: int | None
    is_pilot: bool
    staff_count: int
    established_on: date | None
    dissolved_on: date | None
    merged_into_id: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        return self.dissolved_on is None or self.dissolved_on > local_today()


class UnitQuery(ListQuery):
    kind: UnitKind | None = None
    parent_id: Id | None = None
    active: bool | None = None
    q: Annotated[Text | None, Field(max_length=255)] = None
