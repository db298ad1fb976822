from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import IdType, UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One row for every write, import and transition, written in the same transaction."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_resource_resource_id", "resource", "resource_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_kind: str = Field(max_length=16, nullable=False)
    actor_id: int | None = Field(default=None, sa_type=IdType)
    actor_role: str | None = Field(default=None, max_length=32)
    actor_unit_id: int | None = Field(default=None, sa_type=IdType)
    action: str = Field(max_length=64, nullable=False)
    resource: str = Field(max_length=64, nullable=False)
    resource_id: int | None = Field(default=None, sa_type=IdType)
    before: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    request_id: str | None = Field(default=None, max_length=128)


class IdempotencyKey(SQLModel, table=True):
    """A POST's first answer, replayed for a retry with the same key (shared by every worker)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    principal: str = Field(max_length=64, nullable=False)
    key: str = Field(max_length=255, nullable=False)
    request_hash: str = Field(max_length=64, nullable=False)
    state: str = Field(max_length=16, nullable=False)  # running | done
    owner: str | None = Field(default=None, max_length=128)  # host:pid of the worker running it
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=255)
    # the headers a replay repeats ([name, value] pairs: content-type, etag, location, ...)
    headers: list[list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # NULL once done: the answer carried a secret (Cache-Control: no-store), which is never stored
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class RateLimitCounter(SQLModel, table=True):
    """Hits in one fixed window for one bucket (a principal, a username, an address), shared by all workers."""

    __tablename__ = "rate_limit_counters"

    bucket: str = Field(max_length=200, primary_key=True)
    window: int = Field(primary_key=True, sa_type=IdType)
    count: int = Field(default=0, nullable=False)


class RecordCount(SQLModel, table=True):
    """How many records of a table each unit owns, kept by database triggers in the same transaction as every
    insert, delete and move (migration 0009): a list's unfiltered total sums a scope's rows here instead of
    counting the whole table on every first page."""

    __tablename__ = "record_counts"

    table_name: str = Field(max_length=64, primary_key=True)
    unit_id: int = Field(primary_key=True, sa_type=IdType)
    n: int = Field(default=0, nullable=False, sa_type=IdType)


MONTH_COLUMNS = tuple(f"m{m:02d}" for m in range(1, 13))


class MonthTally(SQLModel, table=True):
    """How many records of a source fell in each local month of a year, per key, kept by database triggers in the
    same transaction as every insert, update and delete (migration 0010). `forums`: key = unit, tag = the forum's
    kind, month of `held_on`; `airings`: key = broadcast, tag = '', local month of `aired_at`; `trainings`
    (migration 0011): key = organising unit, tag = audience; `training_participants`: key = the participants' unit,
    tag = the training's audience, the sum of their counts in the training's month. The KPIs read one row per unit
    or broadcast and year here instead of grouping every record of the year: the row count is that of the units,
    not of the records."""

    __tablename__ = "month_tallies"
    __table_args__ = (
        Index("ix_month_tallies_source_key_id", "source", "key_id"),
        Index("ix_month_tallies_unit_id_year", "unit_id", "year"),
    )

    # key order: one source's year (and tag) is one range of the key, which is what a KPI reads
    source: str = Field(max_length=32, primary_key=True)
    year: int = Field(primary_key=True)
    tag: str = Field(max_length=32, primary_key=True)
    key_id: int = Field(primary_key=True, sa_type=IdType)
    m01: int = Field(default=0, nullable=False)
    m02: int = Field(default=0, nullable=False)
    m03: int = Field(default=0, nullable=False)
    m04: int = Field(default=0, nullable=False)
    m05: int = Field(default=0, nullable=False)
    m06: int = Field(default=0, nullable=False)
    m07: int = Field(default=0, nullable=False)
    m08: int = Field(default=0, nullable=False)
    m09: int = Field(default=0, nullable=False)
    m10: int = Field(default=0, nullable=False)
    m11: int = Field(default=0, nullable=False)
    m12: int = Field(default=0, nullable=False)
    # an airing's row carries what B1 and B3 judge of its broadcast (kept by a trigger on broadcasts)
    unit_id: int | None = Field(default=None, sa_type=IdType)
    channel: str | None = Field(default=None, max_length=32)
    duration_minutes: int | None = Field(default=None)
