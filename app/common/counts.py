"""Totals read from `record_counts` (kept by triggers in the same transaction as every write, migration 0009)
instead of a `count(*)` over everything the caller sees: what a list's first page costs then grows with the
number of units in scope, not with the number of records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.common.spec import ResourceSpec
from app.models import RecordCount

record_counts = RecordCount.__table__

# the tables the triggers count (the migration keeps its own copy: a test holds the two equal)
COUNTED = ("annual_reports", "broadcasts", "forums", "satisfaction_surveys", "trainings", "unit_plans")


def countable(spec: ResourceSpec, filters: dict[str, Any], parent_id: int | None) -> bool:
    """Whether the list's total is a sum of record_counts: a counted table, listed by the unit that owns its
    records, with no filter but the unit (a date or any other filter is counted in the table itself)."""
    return (
        spec.table.name in COUNTED
        and spec.unit_column == "unit_id"
        and spec.visibility is None
        and parent_id is None
        and all(v is None for k, v in filters.items() if k != "unit_id")
    )


async def scope_total(conn: AsyncConnection, spec: ResourceSpec, principal: Principal, unit_id: int | None) -> int:
    """The number of records of the spec's table that the principal sees (in one unit when `unit_id`)."""
    c = record_counts.c
    q = select(func.coalesce(func.sum(c.n), 0)).where(c.table_name == spec.table.name)
    if spec.scoped_read:
        q = q.where(scope_clause(principal, c.unit_id))
    if unit_id is not None:
        q = q.where(c.unit_id == unit_id)
    return int(await conn.scalar(q) or 0)
