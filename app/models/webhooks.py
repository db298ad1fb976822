"""Webhook endpoints, their outbox of events, and the log of delivery attempts (API.md section 12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import IdType
from app.models.base import RecordBase, fk, instant


class WebhookEndpoint(RecordBase, table=True):
    """A ward or department system's URL; the secret signs every delivery (kept to sign, never shown again)."""

    __tablename__ = "webhook_endpoints"

    url: str = Field(max_length=2000, nullable=False)
    events: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    unit_id: int = fk("units.id", nullable=False)
    active: bool = Field(default=True, nullable=False)
    description: str | None = Field(default=None, max_length=2000)
    secret: str = Field(max_length=128, nullable=False)
    disabled_reason: str | None = Field(default=None, max_length=500)


class WebhookEvent(SQLModel, table=True):
    """The outbox: one event for one endpoint, written in the transaction of the change that caused it.

    `payload` is the exact body sent (rendered when written); `dedupe_key` makes a time-driven event
    (an obligation falling due) unique per endpoint however many workers produce it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "dedupe_key"),
        Index("ix_webhook_events_pending", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    msg_id: str = Field(max_length=64, nullable=False, unique=True)  # the webhook-id header
    endpoint_id: int = fk("webhook_endpoints.id", nullable=False, ondelete="CASCADE")
    type: str = Field(max_length=64, nullable=False)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=255)
    state: str = Field(max_length=16, nullable=False)  # pending | delivered | failed
    attempts: int = Field(default=0, nullable=False)
    created_at: datetime = instant(nullable=False)
    next_attempt_at: datetime | None = instant()
    retry_until: datetime = instant(nullable=False)
    delivered_at: datetime | None = instant()


class WebhookDelivery(SQLModel, table=True):
    """One finished delivery attempt. A response body is kept only as a short excerpt inside `error`."""

    __tablename__ = "webhook_deliveries"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    endpoint_id: int = fk("webhook_endpoints.id", nullable=False, ondelete="CASCADE")
    event_row_id: int = fk("webhook_events.id", nullable=False, ondelete="CASCADE")
    event_id: str = Field(max_length=64, nullable=False)
    type: str = Field(max_length=64, nullable=False)
    attempt: int = Field(nullable=False)
    at: datetime = instant(nullable=False)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = instant()
