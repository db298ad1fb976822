"""Webhook endpoints as a resource of the shared machinery, their delivery log, retry and test."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from sqlalchemy import Table, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.common import repository, writes
from app.common.records import not_null
from app.common.spec import ResourceSpec, to_read
from app.common.writes import Ctx
from app.config import get_settings
from app.db import after_commit, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks import outbox, ssrf
from app.webhooks.schemas import TEST_EVENT, DeliveryRead, WebhookCreate, WebhookRead, WebhookUpdate

endpoints = WebhookEndpoint.__table__
events = WebhookEvent.__table__
deliveries = WebhookDelivery.__table__


def new_secret() -> str:
    """Standard Webhooks' secret format: `whsec_` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _own_unit(principal: Principal, t: Table):
    """lead_office manages every endpoint; a unit those of its own unit exactly (not of the units under it)."""
    return true() if principal.city_wide else t.c.unit_id == principal.unit_id


async def _may_write(ctx: Ctx, record: dict[str, Any]) -> None:
    """A unit writes the endpoints of its own unit exactly (403 otherwise); the unit must exist (422)."""
    principal, unit_id = ctx.principal, record.get("unit_id")
    if principal is None or unit_id is None:
        return
    if not principal.city_wide and unit_id != principal.unit_id:
        raise Forbidden(f"unit_id {unit_id} is not your unit: a unit manages the webhooks of its own unit only.")
    if await ctx.unit(unit_id) is None:
        raise Invalid(f"unit_id {unit_id} is not a unit.", loc=["body", "unit_id"])


async def _check_url(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    if data.get("url") is None or (existing is not None and data["url"] == existing["url"]):
        return
    try:
        await ssrf.resolve(data["url"], get_settings().webhook_allow_hosts)
    except ssrf.UnsafeUrl as exc:
        raise Invalid(str(exc), loc=["body", "url"]) from None


def _derive(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"events": list(dict.fromkeys(str(e) for e in data["events"]))}
    if data.get("active"):
        out["disabled_reason"] = None  # switched back on by its owner
    return out


spec = ResourceSpec(
    name="webhooks",
    table=endpoints,
    create=WebhookCreate,
    update=WebhookUpdate,
    read=WebhookRead,
    read_perm=Perm.WEBHOOKS,
    write_perm=Perm.WEBHOOKS,
    scoped_read=False,
    visibility=_own_unit,
    filters={"active": lambda v: endpoints.c.active.is_(v)},
    rules=[not_null("url", "events", "unit_id", "active"), _check_url],
    derive=_derive,
    may_write=_may_write,
)

# The delivery log, nested under its endpoint (list only; its rows are written by the delivery task).
delivery_spec = ResourceSpec(
    name="deliveries",
    table=deliveries,
    create=DeliveryRead,
    update=DeliveryRead,
    read=DeliveryRead,
    read_perm=Perm.WEBHOOKS,
    write_perm=Perm.WEBHOOKS,
    unit_column=None,
    parent=("endpoint_id", endpoints),
)


async def create(conn: AsyncConnection, principal: Principal, body: WebhookCreate) -> tuple[dict[str, Any], str]:
    """A new endpoint and its secret, which the answer shows once (the audit row and every read never do)."""
    secret = new_secret()
    record = await writes.create(conn, spec, principal, {**body.model_dump(), "secret": secret})
    return record, secret


def _accepted(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("type", "state", "next_attempt_at")} | {"event_id": row["msg_id"]}


async def _active_endpoint(conn: AsyncConnection, principal: Principal, endpoint_id: int) -> dict[str, Any]:
    endpoint = await repository.load(conn, spec, principal, endpoint_id)
    if not endpoint["active"]:
        raise Conflict("The endpoint is disabled; set active to true before sending to it.")
    return endpoint


async def send_test(conn: AsyncConnection, principal: Principal, endpoint_id: int) -> dict[str, Any]:
    """Queue a `webhook.test` event (whatever the endpoint subscribed to); its data is the endpoint."""
    endpoint = await _active_endpoint(conn, principal, endpoint_id)
    shown = to_read(spec, endpoint)
    (row,) = await outbox.write(conn, TEST_EVENT, [endpoint], lambda _view: shown)
    return _accepted(row)


async def retry(conn: AsyncConnection, principal: Principal, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    """Send the event of that attempt again now, whatever its state, with the same webhook-id."""
    await _active_endpoint(conn, principal, endpoint_id)
    event_row_id = await conn.scalar(
        select(deliveries.c.event_row_id).where(deliveries.c.id == delivery_id, deliveries.c.endpoint_id == endpoint_id)
    )
    if event_row_id is None:
        raise NotFound(f"No delivery {delivery_id} of webhook {endpoint_id}.")
    now = utcnow()
    row = (await conn.execute(select(events).where(events.c.id == event_row_id))).mappings().one()
    values = {"state": "pending", "next_attempt_at": now, "retry_until": max(row["retry_until"], now)}
    await conn.execute(update(events).where(events.c.id == event_row_id).values(**values))
    after_commit(conn, outbox.wake)
    return _accepted({**row, **values})
