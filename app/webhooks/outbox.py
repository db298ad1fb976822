"""The transactional outbox: events are rows written with the change that causes them, in its connection and
transaction, so a change that rolls back sends nothing and one that commits is delivered (at least once).

One row per event and endpoint: `data` is rendered when the event is written, as the endpoint's own view of
the record (an endpoint sees like a `unit` principal of its unit: the records of its unit and the units under
it). Time-driven events (obligations falling due) carry a key that makes them unique per duty and endpoint,
so any number of workers may produce them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.permissions import Role
from app.auth.principal import Principal
from app.auth.scope import subtree
from app.common.spec import Event, EventHook, ResourceSpec, to_read
from app.config import get_settings
from app.db import after_commit, dicts, utcnow
from app.models import Unit, WebhookEndpoint, WebhookEvent
from app.timeutil import local_day
from app.webhooks.schemas import EventType

endpoints = WebhookEndpoint.__table__
events = WebhookEvent.__table__
units = Unit.__table__

Render = Callable[[Principal], Any]  # the endpoint's view -> the event's `data`

# Called after a commit that wrote events, so that this worker delivers them at once (others poll).
_wakers: set[Callable[[], None]] = set()


def add_waker(callback: Callable[[], None]) -> None:
    _wakers.add(callback)


def remove_waker(callback: Callable[[], None]) -> None:
    _wakers.discard(callback)


def wake() -> None:
    for callback in list(_wakers):
        callback()


def endpoint_view(endpoint: Mapping[str, Any]) -> Principal:
    """Who an endpoint reads as: a `unit` principal of its unit (scope: that unit and those under it)."""
    return Principal(
        kind="webhook", id=endpoint["id"], name=f"webhook {endpoint['id']}", role=Role.UNIT, unit_id=endpoint["unit_id"]
    )


def new_msg_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _ancestors_and_self(unit_id: int):
    """SELECT of the unit's id and those of every unit above it (the endpoints whose scope holds it)."""
    up = select(units.c.id, units.c.parent_id).where(units.c.id == unit_id).cte("up", recursive=True)
    up = up.union(select(units.c.id, units.c.parent_id).where(units.c.id == up.c.parent_id))
    return select(up.c.id)


async def subscribers(conn: AsyncConnection, event_type: str, unit_id: int) -> list[dict[str, Any]]:
    """Active endpoints subscribed to `event_type` whose unit's scope holds `unit_id`."""
    rows = await conn.execute(
        select(endpoints).where(endpoints.c.active.is_(True), endpoints.c.unit_id.in_(_ancestors_and_self(unit_id)))
    )
    return [r for r in dicts(rows) if event_type in (r["events"] or [])]


async def write(
    conn: AsyncConnection,
    event_type: str,
    targets: Iterable[Mapping[str, Any]],
    render: Render,
    *,
    dedupe_key: str | None = None,
) -> list[dict[str, Any]]:
    """Queue one event per target endpoint, in the caller's transaction; returns the rows that were new."""
    now = utcnow()
    retry_until = now + timedelta(hours=get_settings().webhook_retry_hours)
    stamp = now.isoformat().replace("+00:00", "Z")
    rows = [
        {
            "msg_id": new_msg_id(),
            "endpoint_id": ep["id"],
            "type": event_type,
            "payload": orjson.dumps(
                {"type": event_type, "timestamp": stamp, "data": render(endpoint_view(ep))}
            ).decode(),
            "dedupe_key": dedupe_key,
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "retry_until": retry_until,
        }
        for ep in targets
    ]
    if not rows:
        return []
    if dedupe_key is None:
        await conn.execute(insert(events), rows)
        written = rows
    else:
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = (
            dialect_insert(events)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "dedupe_key"])
            .returning(events.c.id)
        )
        written = [row for row in rows if (await conn.execute(stmt.values(**row))).first() is not None]
    if written:
        after_commit(conn, wake)
    return written


def render_record(spec: ResourceSpec, record: Mapping[str, Any]) -> Render:
    """The record as its GET shows it to the endpoint (per-caller fields such as allowed_actions included)."""

    def render(view: Principal) -> Any:
        shown = dict(record)
        if spec.per_caller is not None:
            shown.update(spec.per_caller(view, shown))
        return to_read(spec, shown)

    return render


async def record_event(conn: AsyncConnection, event_type: str, spec: ResourceSpec, record: Mapping[str, Any]) -> int:
    """The event about a record that changed, for every endpoint subscribed to it whose scope holds it."""
    unit_column = spec.unit_column or "unit_id"
    targets = await subscribers(conn, event_type, record[unit_column])
    return len(await write(conn, event_type, targets, render_record(spec, record)))


def hook(spec: ResourceSpec, event_type: Callable[[Event], str | None]) -> EventHook:
    """An `after` hook for the write path: the change's event (None: this change sends none), written in the
    change's transaction. Register it with `spec.after.append(outbox.hook(spec, ...))`."""

    async def send(event: Event) -> None:
        name = event_type(event)
        if name is not None and event.record is not None:
            await record_event(event.conn, name, spec, event.record)

    return send


# --- time-driven events: obligations --------------------------------------------------------------

DUE_SOON_DAYS = 3
UNMET = frozenset({"due", "overdue"})

# Answers the unmet duties as of a local day (the obligation as GET /obligations shows it); set by the
# obligations package, called by every worker's delivery task.
DutySource = Callable[[AsyncConnection, date], Awaitable[Iterable[Mapping[str, Any]]]]
_duty_source: DutySource | None = None


def set_duty_source(source: DutySource | None) -> None:
    global _duty_source
    _duty_source = source


def duty_source() -> DutySource | None:
    return _duty_source


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def obligation_event(duty: Mapping[str, Any], today: date) -> str | None:
    """The event an unmet duty calls for today: due_soon from 3 local days before due_on until due_on,
    overdue once due_on has passed; None when it is met or not yet close."""
    if duty["status"] not in UNMET:
        return None
    due_on = _as_date(duty["due_on"])
    if today > due_on:
        return EventType.OBLIGATION_OVERDUE.value
    if today >= due_on - timedelta(days=DUE_SOON_DAYS):
        return EventType.OBLIGATION_DUE_SOON.value
    return None


def duty_key(event_type: str, duty: Mapping[str, Any]) -> str:
    parts = (duty.get("plan_id"), duty["duty"], duty.get("activity_code"), duty["unit_id"], duty["period"])
    return ":".join([event_type, *("" if p is None else str(p) for p in parts)])[:255]


async def produce_obligation_events(conn: AsyncConnection, duties: Iterable[Mapping[str, Any]], *, today: date) -> int:
    """One `obligation.due_soon` or `.overdue` event per unmet duty and endpoint, once ever (however often and
    by however many workers this runs), only to endpoints created on or before the duty's `due_on` and
    subscribed to that type, whose unit's scope holds the duty's unit. Returns how many events are new."""
    wanted = {EventType.OBLIGATION_DUE_SOON.value, EventType.OBLIGATION_OVERDUE.value}
    listening = [
        dict(r)
        for r in (await conn.execute(select(endpoints).where(endpoints.c.active.is_(True)))).mappings()
        if wanted & set(r["events"] or [])
    ]
    if not listening:
        return 0
    scopes: dict[int, set[int]] = {}
    for unit_id in {ep["unit_id"] for ep in listening}:
        scopes[unit_id] = set((await conn.execute(subtree(unit_id))).scalars())
    written = 0
    for duty in duties:
        event_type = obligation_event(duty, today)
        if event_type is None:
            continue
        due_on = _as_date(duty["due_on"])
        targets = [
            ep
            for ep in listening
            if event_type in ep["events"]
            and duty["unit_id"] in scopes[ep["unit_id"]]
            and local_day(ep["created_at"]) <= due_on
        ]
        data = orjson.loads(orjson.dumps(dict(duty), default=str))
        key = duty_key(event_type, duty)
        written += len(await write(conn, event_type, targets, lambda _view, d=data: d, dedupe_key=key))
    return written
