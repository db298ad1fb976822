"""Runs the KPI queries: all eight totals in one statement, or one KPI with its per-unit breakdown.

Statements are built once per (year, as_of, plan rules, scope) and kept: building the eight aggregates and
deriving SQLAlchemy's cache key costs several milliseconds, which a hot read should not pay on every request.
The plan's rules are read per request (with the scope, in one small statement); equal rules find the statements
already built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.kpis.periods import Period
from app.kpis.queries import KpiContext, per_month
from app.kpis.registry import KPIS, Kpi, status
from app.plans import lookup
from app.plans.lookup import PlanRules


@dataclass(frozen=True)
class KpiRun:
    """One KPI request: what the statements are built for, and the plan's targets for the year."""

    ctx: KpiContext
    targets: Mapping[str, tuple[str, str]]

    def header(self) -> dict[str, Any]:
        """What every KPI answer starts with: the year, the as-of day and the plan."""
        period = self.ctx.period
        return {"year": period.year, "as_of": period.as_of.isoformat(), "plan": self.ctx.plan.ref}


async def context(
    conn: AsyncConnection, principal: Principal, *, plan: str | None, year: int | None, as_of: date
) -> KpiRun:
    """The plan and year asked for (API.md section 10), over the caller's scope for a unit caller; every other
    role sees the city.

    The plan's data and the scope's ids are read first (one small statement) and the ids written into the KPI
    statements as a list: the planner then knows it is a handful of units and uses the unit_id indexes."""
    rules, targets, year, scope = await lookup.for_kpis(conn, principal, code=plan, year=year, as_of=as_of)
    return KpiRun(scoped_context(year, as_of, rules, scope), targets)


@lru_cache(maxsize=256)
def scoped_context(year: int, as_of: date, plan: PlanRules, scope: tuple[int, ...] | None) -> KpiContext:
    return KpiContext(Period(year, as_of, plan.starts_on, plan.ends_on), plan, scope)


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def kpi_body(kpi: Kpi, run: KpiRun, numerator: int, denominator: int) -> dict[str, Any]:
    target, comparison = run.targets.get(kpi.code, (None, None))
    return {
        "code": kpi.code,
        "name": kpi.name,
        "name_en": kpi.name_en,
        "numerator": numerator,
        "denominator": denominator,
        "value": ratio(numerator, denominator),
        "target": float(target) if target is not None else None,
        "comparison": comparison,
        "status": status(numerator, denominator, target, comparison),
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


@lru_cache(maxsize=512)
def _literal_sql(stmt: Select, dialect: Dialect) -> str:
    """The statement as PostgreSQL text with its values written in, compiled once per built statement (it is
    cached above): a request then pays no cache key, no expansion of the scope's IN list and no parameter
    binding; and PostgreSQL plans it for its own months and dates (a prepared statement's generic plan, blind to
    them, was 2-3x slower). The compiler doubles every `%` for the driver's parameter style; sent without
    parameters the text must carry them single."""
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True, "render_postcompile": True}))
    return sql.replace("%%", "%")


async def _rows(conn: AsyncConnection, stmt: Select) -> list[Any]:
    if conn.dialect.name == "postgresql":
        result = await conn.exec_driver_sql(_literal_sql(stmt, conn.dialect), execution_options={"no_parameters": True})
        return list(result.all())
    return list((await conn.execute(stmt)).all())


async def summary(conn: AsyncConnection, run: KpiRun) -> list[dict[str, Any]]:
    rows = await _rows(conn, totals_statement(run.ctx))
    by_position = {r.position: (int(r.numerator), int(r.denominator)) for r in rows}
    return [kpi_body(kpi, run, *by_position[i]) for i, kpi in enumerate(KPIS)]


async def detail(conn: AsyncConnection, kpi: Kpi, run: KpiRun) -> dict[str, Any]:
    rows = await _rows(conn, breakdown_statement(kpi, run.ctx))
    numerator = int(rows[0].total_numerator) if rows else 0
    denominator = int(rows[0].total_denominator) if rows else 0
    body = kpi_body(kpi, run, numerator, denominator)
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


@lru_cache(maxsize=256)
def per_month_statement(kpi: Kpi, ctx: KpiContext) -> Select:
    assert kpi.monthly is not None
    return per_month(kpi.monthly(ctx), ctx.period.months)


async def monthly(conn: AsyncConnection, kpi: Kpi, ctx: KpiContext) -> list[dict[str, Any]]:
    """The month-by-month series of a monthly KPI (months with at least one unit to count)."""
    rows = await _rows(conn, per_month_statement(kpi, ctx))
    return [
        {
            "month": r.month,
            "numerator": int(r.numerator),
            "denominator": int(r.denominator),
            "value": ratio(int(r.numerator), int(r.denominator)),
        }
        for r in rows
    ]
