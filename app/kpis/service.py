"""Runs the KPI queries: all eight totals in one statement, or one KPI with its per-unit breakdown.

Statements are built once per (year, as_of, scope) and kept: building the eight aggregates and deriving
SQLAlchemy's cache key costs several milliseconds, which a hot read should not pay on every request.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import subtree
from app.kpis.periods import Period
from app.kpis.queries import KpiContext, per_month
from app.kpis.registry import KPIS, Kpi


async def context(conn: AsyncConnection, principal: Principal, year: int, as_of: date) -> KpiContext:
    """A unit caller's KPIs are computed over its scope; every other role sees the city.

    The scope's ids are read first (one small query) and written into the KPI statements as a list: the
    planner then knows it is a handful of units and uses the unit_id indexes."""
    if principal.city_wide:
        return scoped_context(year, as_of, None)
    ids = tuple(sorted((await conn.scalars(subtree(principal.unit_id))).all()))
    return scoped_context(year, as_of, ids)


@lru_cache(maxsize=256)
def scoped_context(year: int, as_of: date, scope: tuple[int, ...] | None) -> KpiContext:
    return KpiContext(Period(year, as_of), scope)


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def kpi_body(kpi: Kpi, numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "code": kpi.code,
        "name": kpi.name,
        "name_en": kpi.name_en,
        "numerator": numerator,
        "denominator": denominator,
        "value": ratio(numerator, denominator),
        "target": float(kpi.target) if kpi.target is not None else None,
        "comparison": kpi.comparison,
        "status": kpi.status(numerator, denominator),
    }


@lru_cache(maxsize=256)
def totals_statement(ctx: KpiContext, kpis: tuple[Kpi, ...] = KPIS) -> Select:
    """One statement: (position, numerator, denominator) of every KPI, each summed from its per-unit rows."""
    parts = []
    for i, kpi in enumerate(kpis):
        sub = kpi.query(ctx).subquery(f"kpi_{i}")
        parts.append(
            select(
                literal(i).label("position"),
                func.coalesce(func.sum(sub.c.numerator), 0).label("numerator"),
                func.coalesce(func.sum(sub.c.denominator), 0).label("denominator"),
            ).select_from(sub)
        )
    return union_all(*parts)


@lru_cache(maxsize=256)
def breakdown_statement(kpi: Kpi, ctx: KpiContext) -> Select:
    """One statement: the per-unit rows, each carrying the KPI's totals (a window over all rows)."""
    sub = kpi.query(ctx).subquery("per_unit")
    return select(
        sub.c.unit_id,
        sub.c.numerator,
        sub.c.denominator,
        func.sum(sub.c.numerator).over().label("total_numerator"),
        func.sum(sub.c.denominator).over().label("total_denominator"),
    ).order_by(sub.c.unit_id)


async def _custom_plan(conn: AsyncConnection) -> None:
    """Plan each KPI statement for its own parameters. psycopg prepares a statement run five times, and
    PostgreSQL then tries a generic plan, blind to the months and date bounds: 2-3x slower here."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


async def summary(conn: AsyncConnection, ctx: KpiContext) -> list[dict[str, Any]]:
    await _custom_plan(conn)
    rows = (await conn.execute(totals_statement(ctx))).all()
    by_position = {r.position: (int(r.numerator), int(r.denominator)) for r in rows}
    return [kpi_body(kpi, *by_position[i]) for i, kpi in enumerate(KPIS)]


async def detail(conn: AsyncConnection, kpi: Kpi, ctx: KpiContext) -> dict[str, Any]:
    await _custom_plan(conn)
    rows = (await conn.execute(breakdown_statement(kpi, ctx))).all()
    numerator = int(rows[0].total_numerator) if rows else 0
    denominator = int(rows[0].total_denominator) if rows else 0
    body = kpi_body(kpi, numerator, denominator)
    body["breakdown"] = [
        {
            "unit_id": r.unit_id,
            "numerator": int(r.numerator),
            "denominator": int(r.denominator),
            "value": ratio(int(r.numerator), int(r.denominator)),
        }
        for r in rows
    ]
    return body


async def monthly(conn: AsyncConnection, kpi: Kpi, ctx: KpiContext) -> list[dict[str, Any]]:
    """The month-by-month series of a monthly KPI (months with at least one unit to count)."""
    assert kpi.monthly is not None
    await _custom_plan(conn)
    rows = (await conn.execute(per_month(kpi.monthly(ctx)))).all()
    return [
        {
            "month": r.month,
            "numerator": int(r.numerator),
            "denominator": int(r.denominator),
            "value": ratio(int(r.numerator), int(r.denominator)),
        }
        for r in rows
    ]
