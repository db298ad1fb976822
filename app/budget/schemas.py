"""Bodies and answers of budget rounds, submissions and their transitions (API.md section 5).

Money and quantities are strict integers: `1.5`, `1.0`, `"5"` and `true` are 422s, so no float ever
reaches the money path.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from app.common.pagination import ListQuery
from app.common.router import RecordListQuery
from app.common.types import MAX_SAFE_INT, Id, Instant, LongText, ReadSchema, Ref, Schema, Text, Vnd


class BudgetStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    FORWARDED = "forwarded"
    APPRAISED = "appraised"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class BudgetAction(StrEnum):
    """A transition of a submission (the path segment of POST /budget-submissions/{id}/<action>)."""

    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    RETURN = "return"
    FORWARD = "forward"
    APPRAISE = "appraise"
    APPROVE = "approve"
    REJECT = "reject"


class FundingSource(StrEnum):
    CITY_BUDGET = "city_budget"
    WARD_BUDGET = "ward_budget"
    OTHER = "other"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Money = Annotated[Vnd, Strict()]
Quantity = Annotated[int, Strict(), Field(gt=0, le=2**31 - 1)]
Title = Annotated[Text, Field(min_length=1, max_length=500), AfterValidator(_not_blank)]
Description = Annotated[Text, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]
RequiredNote = Annotated[LongText, AfterValidator(_not_blank)]
DecisionNumber = Annotated[Text, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
# "2021", "2021-H2", "2021-Q3" or "2021-09"
Period = Annotated[str, Field(pattern=r"^[0-9]{4}(-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$", examples=["2021-H2"])]


# --- rounds -------------------------------------------------------------------------------------


class BudgetRoundCreate(Schema):
    title: Title
    period: Period
    deadline: Instant


class BudgetRoundUpdate(Schema):
    title: Title | None = None
    period: Period | None = None
    deadline: Instant | None = None


class BudgetRoundRead(ReadSchema):
    title: str
    period: str
    deadline: datetime


class BudgetRoundQuery(ListQuery):
    period: Period | None = None


class StatusTotals(BaseModel):
    status: BudgetStatus
    count: int
    requested_total_vnd: int
    appraised_total_vnd: int
    approved_total_vnd: int


class UnitTotals(BaseModel):
    unit_id: int
    count: int
    requested_total_vnd: int
    appraised_total_vnd: int
    approved_total_vnd: int


class BudgetRoundSummary(BaseModel):
    """Totals over the round's non-draft submissions; a null amount sums as 0. No total passes 2^53 - 1:
    a write that would take its year's total past it is refused (422)."""

    round_id: int
    by_status: list[StatusTotals]
    by_unit: list[UnitTotals]
    on_time: int
    late: int


# --- submissions --------------------------------------------------------------------------------


class BudgetItemIn(Schema):
    description: Description
    quantity: Quantity
    unit_cost_vnd: Money


Items = Annotated[list[BudgetItemIn], Field(min_length=1, max_length=1000)]


class BudgetSubmissionCreate(Schema):
    round_id: Id
    unit_id: Id
    activity_id: Id | None = None
    title: Title
    funding_source: FundingSource
    items: Items
    external_ref: Ref | None = None


class BudgetSubmissionUpdate(Schema):
    """The submitting unit cannot be changed; delete and create again instead."""

    round_id: Id | None = None
    activity_id: Id | None = None
    title: Title | None = None
    funding_source: FundingSource | None = None
    items: Items | None = None
    external_ref: Ref | None = None


class BudgetItemRead(BaseModel):
    description: str
    quantity: int
    unit_cost_vnd: int
    amount_vnd: int = Field(description="quantity x unit_cost_vnd, computed by the server")


class HistoryActor(BaseModel):
    kind: str
    id: int
    role: str
    unit_id: int | None


class HistoryEntry(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    action: str
    from_: BudgetStatus = Field(alias="from")
    to: BudgetStatus
    actor: HistoryActor
    at: datetime
    note: str | None


class BudgetSubmissionRead(ReadSchema):
    round_id: int
    unit_id: int
    activity_id: int | None
    title: str
    funding_source: FundingSource
    items: list[BudgetItemRead]
    status: BudgetStatus
    requested_total_vnd: int = Field(le=MAX_SAFE_INT)
    appraised_total_vnd: int | None
    approved_total_vnd: int | None
    decision_number: str | None
    decision_date: date | None
    submitted_at: datetime | None = Field(description="when it was last submitted")
    late: bool = Field(description="whether the latest submit came after the round's deadline")
    external_ref: str | None
    history: list[HistoryEntry] = Field(description="every transition, oldest first")
    allowed_actions: list[BudgetAction] = Field(description="the transitions the caller may make now")


class BudgetSubmissionQuery(RecordListQuery):
    round_id: Id | None = None
    activity_id: Id | None = None
    status: BudgetStatus | None = None


# --- transition bodies --------------------------------------------------------------------------


class ReturnBody(Schema):
    note: RequiredNote = Field(description="what the unit must change")


class ForwardBody(Schema):
    note: LongText | None = None


class AppraiseBody(Schema):
    appraised_total_vnd: Money
    note: LongText | None = None


class ApproveBody(Schema):
    approved_total_vnd: Money = Field(description="at most the appraised total")
    decision_number: DecisionNumber
    decision_date: date


class RejectBody(Schema):
    note: RequiredNote = Field(description="why it is rejected")
