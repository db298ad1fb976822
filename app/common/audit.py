"""Audit rows, written with the change in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.common.context import request_id_var
from app.db import utcnow
from app.models import AuditEvent

audit_events = AuditEvent.__table__


async def record(
    conn: AsyncConnection,
    principal: Any,
    *,
    action: str,
    resource: str,
    resource_id: int | None,
    before: Any = None,
    after: Any = None,
) -> None:
    await conn.execute(
        insert(audit_events).values(
            at=utcnow(),
            actor_kind=getattr(principal, "kind", "system"),
            actor_id=getattr(principal, "id", None),
            actor_role=str(principal.role) if principal is not None else None,
            actor_unit_id=getattr(principal, "unit_id", None),
            action=action,
            resource=resource,
            resource_id=resource_id,
            before=before,
            after=after,
            request_id=request_id_var.get(),
        )
    )
