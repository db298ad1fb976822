"""The annual report: every KPI with its breakdown, the monthly series, and the year's budget totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.budget.schemas import Status
from app.kpis import service as kpis
from app.kpis.registry import KPIS
from app.models import BudgetRound, BudgetSubmission, Unit
from app.reports import xlsx
from app.timeutil import local_today

rounds = BudgetRound.__table__
submissions = BudgetSubmission.__table__
units = Unit.__table__

AMOUNTS = ("requested_total_vnd", "appraised_total_vnd", "approved_total_vnd")


async def budget_lines(conn: AsyncConnection, principal: Principal, year: int) -> list[dict[str, Any]]:
    """Non-draft submissions of the rounds whose period starts with the year, by status in workflow order (one
    GROUP BY). An amount is None where no submission of that status carries it (nothing appraised yet)."""
    sums = [func.sum(submissions.c[name]).label(name) for name in AMOUNTS]
    rows = (
        await conn.execute(
            select(submissions.c.status, func.count().label("count"), *sums)
            .select_from(submissions.join(rounds, rounds.c.id == submissions.c.round_id))
            .where(
                rounds.c.period.like(f"{year:04d}%"),
                submissions.c.status != Status.DRAFT,
                scope_clause(principal, submissions.c.unit_id),
            )
            .group_by(submissions.c.status)
        )
    ).all()
    order = {status: i for i, status in enumerate(Status)}
    lines = [{"status": r.status, "count": r.count, **{name: _int(r._mapping[name]) for name in AMOUNTS}} for r in rows]
    return sorted(lines, key=lambda line: order[line["status"]])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def budget_totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON's budget: every amount a number (a null amount sums as 0, API.md section 8)."""
    by_status = [{**line, **{name: line[name] or 0 for name in AMOUNTS}} for line in lines]
    return {**{name: sum(s[name] for s in by_status) for name in AMOUNTS}, "by_status": by_status}


async def annual(
    conn: AsyncConnection, principal: Principal, year: int, as_of, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    ctx = await kpis.context(conn, principal, year, as_of)
    if lines is None:
        lines = await budget_lines(conn, principal, year)
    return {
        "year": year,
        "as_of": as_of.isoformat(),
        "kpis": [await kpis.detail(conn, kpi, ctx) for kpi in KPIS],
        "monthly": {kpi.code: await kpis.monthly(conn, kpi, ctx) for kpi in KPIS if kpi.monthly is not None},
        "budget": budget_totals(lines),
    }


async def annual_workbook(conn: AsyncConnection, principal: Principal, year: int, as_of) -> bytes:
    """The workbook of the annual report: the JSON's numbers, with blanks where no amount exists yet."""
    lines = await budget_lines(conn, principal, year)
    report = await annual(conn, principal, year, as_of, lines)
    labels = await unit_labels(conn, principal)
    return await run_in_threadpool(xlsx.workbook, report, lines, labels, local_today())  # CPU work, off the loop


async def unit_labels(conn: AsyncConnection, principal: Principal) -> dict[int, tuple[str, str]]:
    """Code and name of every unit the caller may see in a breakdown, for the workbook."""
    rows = await conn.execute(select(units.c.id, units.c.code, units.c.name).where(scope_clause(principal, units.c.id)))
    return {r.id: (r.code, r.name) for r in rows}
