"""The one scope helper: which units a principal may read and write (its unit and all below it)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.models import Unit

units = Unit.__table__


def subtree(root_id: int) -> Select:
    """SELECT of the ids of `root_id` and every unit below it (UNION: a cycle cannot loop)."""
    tree = select(units.c.id).where(units.c.id == root_id).cte("subtree", recursive=True)
    tree = tree.union(select(units.c.id).where(units.c.parent_id == tree.c.id))
    return select(tree.c.id)


def scope_clause(principal: Principal, unit_column: ColumnElement) -> ColumnElement[bool]:
    """A WHERE clause limiting `unit_column` to the principal's scope (true for city-wide roles)."""
    if principal.city_wide:
        return true()
    return unit_column.in_(subtree(principal.unit_id))


async def in_subtree(conn: AsyncConnection, root_id: int, unit_id: int) -> bool:
    sub = subtree(root_id).subquery()
    return await conn.scalar(select(sub.c.id).where(sub.c.id == unit_id)) is not None


async def in_scope(conn: AsyncConnection, principal: Principal, unit_id: int) -> bool:
    return unit_id in await units_in_scope(conn, principal, {unit_id})


async def units_in_scope(conn: AsyncConnection, principal: Principal, unit_ids: set[int]) -> set[int]:
    """Those of `unit_ids` that the principal may act for."""
    if principal.city_wide or not unit_ids:
        return set(unit_ids)
    sub = subtree(principal.unit_id).subquery()
    rows = await conn.execute(select(sub.c.id).where(sub.c.id.in_(list(unit_ids))))
    return {r[0] for r in rows}
