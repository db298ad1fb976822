from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.common.records import OwnedCreate, OwnedRead, OwnedUpdate, PlanYear
from app.common.router import RecordListQuery
from app.common.types import Count, Month


class SurveySource(StrEnum):
    ONE_STOP = "one_stop"  # the one-stop administrative counter
    SURVEY = "survey"
    HOTLINE = "hotline"


MONTH_DOC = "The month surveyed, YYYY-MM."
RESPONDENTS_DOC = "How many people answered."
SATISFIED_DOC = "How many of them were satisfied with administrative procedures (at most respondents)."


class SatisfactionSurveyCreate(OwnedCreate):
    month: Annotated[Month, Field(description=MONTH_DOC)]
    source: SurveySource
    respondents: Annotated[Count, Field(description=RESPONDENTS_DOC)]
    satisfied: Annotated[Count, Field(description=SATISFIED_DOC)]


class SatisfactionSurveyUpdate(OwnedUpdate):
    month: Annotated[Month | None, Field(description=MONTH_DOC)] = None
    source: SurveySource | None = None
    respondents: Annotated[Count | None, Field(description=RESPONDENTS_DOC)] = None
    satisfied: Annotated[Count | None, Field(description=SATISFIED_DOC)] = None


class SatisfactionSurveyRead(OwnedRead):
    month: str
    source: SurveySource
    respondents: int
    satisfied: int


class SatisfactionSurveyQuery(RecordListQuery):
    """`from`/`to` filter on the first day of the survey's month."""

    month: Month | None = None
    year: Annotated[PlanYear | None, Field(description="Surveys whose month is in this year")] = None
