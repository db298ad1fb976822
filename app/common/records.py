"""What every operational record (API.md section 4) shares: owner unit, external_ref, topics, and their rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from app.common.spec import NaturalKey, Rule, require_fields
from app.common.types import Id, ReadSchema, Ref, Schema, Title, Topic, Topics
from app.common.writes import Ctx

PlanYear = Annotated[int, Field(ge=2000, le=2100, description="A year from 2000 to 2100")]

UNIT_ID_DOC = "The unit that owns the record; it must be in the caller's scope."
EXTERNAL_REF_DOC = "The caller system's own id for the record, unique per resource and unit."


class OwnedCreate(Schema):
    unit_id: Annotated[Id, Field(description=UNIT_ID_DOC)]
    external_ref: Annotated[Ref | None, Field(description=EXTERNAL_REF_DOC)] = None


class OwnedUpdate(Schema):
    unit_id: Annotated[Id | None, Field(description=UNIT_ID_DOC)] = None
    external_ref: Annotated[Ref | None, Field(description=EXTERNAL_REF_DOC)] = None


class OwnedRead(ReadSchema):
    unit_id: int
    external_ref: str | None


class RecordCreate(OwnedCreate):
    topics: Topics | None = None


class RecordUpdate(OwnedUpdate):
    topics: Topics | None = None


class RecordRead(OwnedRead):
    topics: list[Topic] | None


def external_ref_key(*scope: str, what: str = "record") -> NaturalKey:
    """`external_ref` is unique per resource and unit (and per parent, for nested records), so that a
    re-import updates instead of duplicating."""
    return NaturalKey(
        (*scope, "unit_id", "external_ref"), f"A {what} with this external_ref exists for this unit.", nullable=True
    )


def not_null(*names: str) -> Rule:
    """A rule: these fields may be left out of a PATCH, never set to null (422 naming each)."""
    fields: Sequence[str] = names

    async def rule(_ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
        if existing is not None:  # a create body cannot leave them out: its schema requires them
            require_fields(data, fields)

    return rule


__all__ = [
    "OwnedCreate",
    "OwnedRead",
    "OwnedUpdate",
    "PlanYear",
    "RecordCreate",
    "RecordRead",
    "RecordUpdate",
    "Title",
    "external_ref_key",
    "not_null",
]
