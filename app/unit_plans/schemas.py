from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from app.common.records import PlanYear, RecordCreate, RecordRead, RecordUpdate
from app.common.router import RecordListQuery
from app.common.types import Title, Topics, Url

DocumentNumber = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
YEAR_DOC = "The year the plan is for; one plan per unit and year."
ISSUED_ON_DOC = "The date the plan was signed and issued."
NUMBER_DOC = 'The plan\'s document number, e.g. "45/KH-UBND".'


class UnitPlanCreate(RecordCreate):
    year: Annotated[PlanYear, Field(description=YEAR_DOC)]
    title: Title
    document_number: Annotated[DocumentNumber, Field(description=NUMBER_DOC)]
    issued_on: Annotated[date, Field(description=ISSUED_ON_DOC)]
    url: Url | None = None
    topics: Topics | None = None


class UnitPlanUpdate(RecordUpdate):
    year: Annotated[PlanYear | None, Field(description=YEAR_DOC)] = None
    title: Title | None = None
    document_number: Annotated[DocumentNumber | None, Field(description=NUMBER_DOC)] = None
    issued_on: Annotated[date | None, Field(description=ISSUED_ON_DOC)] = None
    url: Url | None = None
    topics: Topics | None = None


class UnitPlanRead(RecordRead):
    year: int
    title: str
    document_number: str | None
    issued_on: date | None
    url: str | None
    topics: list[str] | None


class UnitPlanQuery(RecordListQuery):
    """`from`/`to` filter on issued_on."""

    year: PlanYear | None = None
