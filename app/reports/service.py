"""The annual report: every KPI with its breakdown, the monthly series, and the year's budget totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.kpis import service as kpis
from app.kpis.registry import KPIS
from app.models import BudgetRound, BudgetSubmission, Unit

rounds = BudgetRound.__table__
submissions = BudgetSubmission.__table__
units = Unit.__table__

AMOUNTS = ("requested_total_vnd", "appraised_total_vnd", "approved_total_vnd")


async def budget_totals(conn: AsyncConnection, principal: Principal, year: int) -> dict[str, Any]:
    """Non-draft submissions of the rounds whose period starts with the year, by status (one GROUP BY)."""
    sums = [func.coalesce(func.sum(submissions.c[name]), 0).label(name) for name in AMOUNTS]
    rows = (
        await conn.execute(
            select(submissions.c.status, func.count().label("count"), *sums)
            .select_from(submissions.join(rounds, rounds.c.id == submissions.c.round_id))
            .where(
                rounds.c.period.like(f"{year:04d}%"),
                submissions.c.status != "draft",
                scope_clause(principal, submissions.c.unit_id),
            )
            .group_by(submissions.c.status)
            .order_by(submissions.c.status)
        )
    ).all()
    by_status = [
        {"status": r.status, "count": r.count, **{name: int(r._mapping[name]) for name in AMOUNTS}} for r in rows
    ]
    return {**{name: sum(s[name] for s in by_status) for name in AMOUNTS}, "by_status": by_status}


async def annual(conn: AsyncConnection, principal: Principal, year: int, as_of) -> dict[str, Any]:
    ctx = await kpis.context(conn, principal, year, as_of)
    return {
        "year": year,
        "as_of": as_of.isoformat(),
        "kpis": [await kpis.detail(conn, kpi, ctx) for kpi in KPIS],
        "monthly": {kpi.code: await kpis.monthly(conn, kpi, ctx) for kpi in KPIS if kpi.monthly is not None},
        "budget": await budget_totals(conn, principal, year),
    }


async def unit_labels(conn: AsyncConnection, principal: Principal) -> dict[int, tuple[str, str]]:
    """Code and name of every unit the caller may see in a breakdown, for the workbook."""
    rows = await conn.execute(select(units.c.id, units.c.code, units.c.name).where(scope_clause(principal, units.c.id)))
    return {r.id: (r.code, r.name) for r in rows}
