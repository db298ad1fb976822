"""What every operational record (API.md section 4) carries: unit_id, external_ref, topics."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.common.resource import NaturalKey
from app.common.types import Id, ReadSchema, Ref, Schema, Text, Topic, Topics

Title = Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class RecordCreate(Schema):
    unit_id: Id
    external_ref: Ref | None = None
    topics: Topics | None = None


class RecordUpdate(Schema):
    unit_id: Id | None = None
    external_ref: Ref | None = None
    topics: Topics | None = None


class RecordRead(ReadSchema):
    unit_id: int
    external_ref: str | None
    topics: list[Topic] | None


def external_ref_key(*scope: str) -> NaturalKey:
    """external_ref is unique per resource and unit (and per parent, for nested records)."""
    return NaturalKey(
        (*scope, "unit_id", "external_ref"), "A record with this external_ref exists for this unit.", nullable=True
    )


__all__ = ["RecordCreate", "RecordRead", "RecordUpdate", "Title", "external_ref_key"]
