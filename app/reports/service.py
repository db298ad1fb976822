"""The annual report: every KPI with its breakdown, the monthly series, and the year's budget totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.budget.schemas import BudgetStatus
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
                submissions.c.status != BudgetStatus.DRAFT,
                scope_clause(principal, submissions.c.unit_id),
            )
            .group_by(submissions.c.status)
        )
    ).all()
    order = {status: i for i, status in enumerate(BudgetStatus)}
    lines = [{"status": r.status, "count": r.count, **{name: _int(r._mapping[name]) for name in AMOUNTS}} for r in rows]
    return sorted(lines, key=lambda line: order[line["status"]])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def budget_totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON's budget: every amount a number (a null amount sums as 0, API.md section 8)."""
    by_status = [{**line, **{name: line[name] or 0 for name in AMOUNTS}} for line in lines]
    return {**{name: sum(s[name] for s in by_status) for name in AMOUNTS}, "by_status": by_status}


async def _annual(
    conn: AsyncConnection, principal: Principal, *, plan: str | None, year: int | None, as_of
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report and its budget lines. The plan and year are chosen as for KPIs; the report names the plan."""
    run = await kpis.context(conn, principal, plan=plan, year=year, as_of=as_of)
    lines = await budget_lines(conn, principal, run.ctx.period.year)
    report = {
        **run.header(),
        "plan": {**run.ctx.plan.ref, "title": run.ctx.plan.title},
        "kpis": [await kpis.detail(conn, kpi, run) for kpi in KPIS],
        "monthly": {kpi.code: await kpis.monthly(conn, kpi, run.ctx) for kpi in KPIS if kpi.monthly is not None},
        "budget": budget_totals(lines),
    }
    return report, lines


async def annual(conn: AsyncConnection, principal: Principal, *, plan: str | None, year: int | None, as_of):
    return (await _annual(conn, principal, plan=plan, year=year, as_of=as_of))[0]


async def annual_workbook(
    conn: AsyncConnection, principal: Principal, *, plan: str | None, year: int | None, as_of
) -> tuple[bytes, int]:
    """The workbook of the annual report (the JSON's numbers, with blanks where no amount exists yet) and its
    year."""
    report, lines = await _annual(conn, principal, plan=plan, year=year, as_of=as_of)
    labels = await unit_labels(conn, principal)
    book = await run_in_threadpool(xlsx.workbook, report, lines, labels, local_today())  # CPU work, off the loop
    return book, report["year"]


async def unit_labels(conn: AsyncConnection, principal: Principal) -> dict[int, tuple[str, str]]:
    """Code and name of every unit the caller may see in a breakdown, for the workbook."""
    rows = await conn.execute(select(units.c.id, units.c.code, units.c.name).where(scope_clause(principal, units.c.id)))
    return {r.id: (r.code, r.name) for r in rows}
