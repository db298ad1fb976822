"""Field types shared by every schema: they keep bad input a 422 instead of a database error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

MAX_SAFE_INT = 2**53 - 1  # what a JavaScript client reads exactly
MAX_INT64 = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_bool(value: object) -> object:
    """JSON's true and false are not numbers (Python would read them as 1 and 0: unit 1 is the city)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_nul)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_nul)]
LongText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_no_nul)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_nul)]
Url = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
# the numbers' bounds come before the check that runs first: after it, pydantic could not put them in the
# number's own (Rust) validator, so it checked them in Python (a third of a 50,000-row import's validation) and
# wrote them in the OpenAPI document as "ge" and "le", which JSON Schema and client generators do not know
Id = Annotated[int, Field(ge=1, le=MAX_INT64), BeforeValidator(_not_bool)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_not_bool)]
Vnd = Annotated[int, Field(ge=0, le=MAX_SAFE_INT), BeforeValidator(_not_bool)]


def _plausible_instant(value: datetime) -> datetime:
    """A year from 1900 to 2999 (which also keeps the conversion to UTC from overflowing), converted to UTC."""
    if not 1900 <= value.year <= 2999:
        raise ValueError("the year must be between 1900 and 2999")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_plausible_instant)]  # with an offset; converted to UTC
# [0-9], not \d: the pattern engine's \d also matches other scripts' digits ("٢٠٢٢")
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Year = Annotated[int, Field(ge=1900, le=2999), BeforeValidator(_not_bool)]


class Schema(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime
    version: int


__all__ = [
    "Count",
    "Id",
    "Instant",
    "LongText",
    "Month",
    "Name",
    "ReadSchema",
    "Ref",
    "Schema",
    "Text",
    "Title",
    "Url",
    "Vnd",
    "Year",
    "date",
]


class Topic(StrEnum):
    """The plan's content items a-h."""

    CONCEPTS = "concepts"
    ROLES = "roles"
    LEGAL_DOCUMENTS = "legal_documents"
    SUCCESS_STORIES = "success_stories"
    PROGRAMMES = "programmes"
    COMMUNE_DX = "commune_dx"
    SHARED_APPS = "shared_apps"
    EXPERIENCE_SHARING = "experience_sharing"


Topics = Annotated[list[Topic], Field(max_length=8)]
