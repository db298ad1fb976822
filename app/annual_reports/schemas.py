from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.common.records import PlanYear, RecordCreate, RecordRead, RecordUpdate
from app.common.router import RecordListQuery
from app.common.types import Instant, LongText, Topics, Url

YEAR_DOC = "The year reported on; one report per unit and year."
SUBMITTED_AT_DOC = (
    "When the report was submitted. Set by the server to the time of creation and kept on later edits; "
    "only lead_office may set it (to backfill a paper report), and never in the future. "
    "From any other caller the value is ignored."
)


class AnnualReportCreate(RecordCreate):
    year: Annotated[PlanYear, Field(description=YEAR_DOC)]
    summary: LongText
    submitted_at: Annotated[Instant | None, Field(description=SUBMITTED_AT_DOC)] = None
    url: Url | None = None
    topics: Topics | None = None


class AnnualReportUpdate(RecordUpdate):
    year: Annotated[PlanYear | None, Field(description=YEAR_DOC)] = None
    summary: LongText | None = None
    submitted_at: Annotated[Instant | None, Field(description=SUBMITTED_AT_DOC)] = None
    url: Url | None = None
    topics: Topics | None = None


class AnnualReportRead(RecordRead):
    year: int
    summary: str
    submitted_at: Annotated[datetime, Field(description="When the report was submitted (UTC).")]
    url: str | None
    topics: list[str] | None


class AnnualReportQuery(RecordListQuery):
    """`from`/`to` filter on the local (Asia/Ho_Chi_Minh) date of submitted_at."""

    year: PlanYear | None = None
