from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.common.pagination import ListQuery
from app.common.types import Id, ReadSchema, Schema, Text, Url


class EventType(StrEnum):
    """What an endpoint may subscribe to (`webhook.test` is sent whatever it subscribed to)."""

    BUDGET_SUBMITTED = "budget_submission.submitted"
    BUDGET_WITHDRAWN = "budget_submission.withdrawn"
    BUDGET_RETURNED = "budget_submission.returned"
    BUDGET_FORWARDED = "budget_submission.forwarded"
    BUDGET_APPRAISED = "budget_submission.appraised"
    BUDGET_APPROVED = "budget_submission.approved"
    BUDGET_REJECTED = "budget_submission.rejected"
    OBLIGATION_DUE_SOON = "obligation.due_soon"
    OBLIGATION_OVERDUE = "obligation.overdue"
    ANNUAL_REPORT_CREATED = "annual_report.created"


TEST_EVENT = "webhook.test"

Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
Description = Annotated[Text, StringConstraints(max_length=2000)]
URL_DOC = (
    "Where events are POSTed: https (http only for hosts in DX_WEBHOOK_ALLOW_HOSTS), not resolving to a "
    "loopback, private or link-local address unless its host is listed there."
)
UNIT_DOC = "The endpoint gets events about records and duties of this unit and the units under it."


class WebhookCreate(Schema):
    url: Annotated[Url, Field(description=URL_DOC)]
    events: Events
    unit_id: Annotated[Id, Field(description=UNIT_DOC)]
    active: bool = True
    description: Description | None = None


class WebhookUpdate(Schema):
    url: Annotated[Url | None, Field(description=URL_DOC)] = None
    events: Events | None = None
    unit_id: Annotated[Id | None, Field(description=UNIT_DOC)] = None
    active: bool | None = None
    description: Description | None = None


class WebhookRead(ReadSchema):
    url: str
    events: list[str]
    unit_id: int
    active: bool
    description: str | None
    disabled_reason: str | None = Field(description="Why the service disabled the endpoint (a 410 Gone), if it did.")


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Signs every delivery (`whsec_` + base64). Shown once, in this answer only.")


class WebhookQuery(ListQuery):
    unit_id: Id | None = None
    active: bool | None = None


class DeliveryRead(BaseModel):
    """One finished delivery attempt."""

    id: int
    event_id: str = Field(description="The event's webhook-id header, the same on every attempt.")
    type: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None = Field(description="What went wrong, with at most a short excerpt of the response body.")
    next_attempt_at: datetime | None = Field(
        description="When the event is tried again; null once delivered or given up."
    )


class EventAccepted(BaseModel):
    """An event queued for delivery (202)."""

    event_id: str
    type: str
    state: str
    next_attempt_at: datetime | None
