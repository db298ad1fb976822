"""What each unit owes and what is overdue (API.md section 11): the duties statement of queries.py, filtered,
counted and paged in SQL, over the caller's scope as KPIs are."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import subtree
from app.common.pagination import decode_cursor, encode_cursor, walk_key
from app.models import Plan, WebhookEndpoint
from app.obligations.queries import STATUSES, Window, duties
from app.obligations.schemas import ObligationFilters
from app.plans import lookup
from app.timeutil import local_day

plans = Plan.__table__
endpoints = WebhookEndpoint.__table__

plans = Plan.__table__
endpoints = WebhookEndpoint.__table__


async def window(
    conn: AsyncConnection, principal: Principal, q: ObligationFilters, *, one_year: bool = False
) -> Window:
    """The plan (chosen as for KPIs), the as-of day, the periods and the units the caller asks about; `one_year`:
    the year chosen as for KPIs when none is asked (the summary)."""
    plan, year = await lookup.choose(conn, principal.unit_id, code=q.plan, year=q.year, as_of=q.as_of)
    rules = await lookup.rules(conn, plan)
    ids: set[int] | None = None
    if not principal.city_wide:
        ids = set((await conn.scalars(subtree(principal.unit_id))).all())
    if q.unit_id is not None:
        asked = set((await conn.scalars(subtree(q.unit_id))).all())
        ids = asked if ids is None else ids & asked
    return Window(rules, q.as_of, year if one_year else q.year, q.period, None if ids is None else tuple(sorted(ids)))


def filtered(w: Window, q: ObligationFilters) -> Select:
    sub = duties(w).subquery("obligations")
    stmt = select(sub)
    if q.duty is not None:
        stmt = stmt.where(sub.c.duty == q.duty)
    if q.activity_code is not None:
        stmt = stmt.where(sub.c.activity_code == q.activity_code)
    if q.status is not None:
        stmt = stmt.where(sub.c.status == q.status)
    return stmt


def _ordered(stmt: Select) -> Select:
    sub = stmt.subquery("listed")
    return select(sub).order_by(sub.c.period, sub.c.unit_id, sub.c.duty, sub.c.activity_code)


def render(w: Window, row: Any) -> dict[str, Any]:
    ids = [int(i) for i in row.evidence.split(",")] if row.evidence else []
    overdue = row.status == "overdue"
    return {
        "plan_id": w.plan.id,
        "duty": row.duty,
        "activity_code": row.activity_code,
        "unit_id": row.unit_id,
        "period": row.period,
        "due_on": _day(row.due_on),
        "status": row.status,
        "days_overdue": (w.as_of - _day(row.due_on)).days if overdue else 0,
        "met_on": _day(row.met_on),
        "evidence": [{"resource": row.resource, "id": i} for i in ids],
    }


def _day(value: Any) -> date | None:
    """SQLite hands back computed dates as text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def page(conn: AsyncConnection, principal: Principal, q) -> tuple[list[dict], int, str | None]:
    """One page, ordered by (period, unit_id, duty); the cursor carries the position and the walk's total."""
    w = await window(conn, principal, q)
    stmt = filtered(w, q)
    walk = walk_key("obligations", principal.key, q.model_dump(exclude={"cursor", "limit"}, mode="json"))
    cursor = decode_cursor(q.cursor)
    offset = cursor.after if cursor else 0
    total = cursor.total if cursor and cursor.total is not None and cursor.walk == walk else None
    if total is None:
        total = await conn.scalar(select(func.count()).select_from(stmt.subquery("counted")))
    rows = (await conn.execute(_ordered(stmt).limit(q.limit + 1).offset(offset))).all()
    more = len(rows) > q.limit
    items = [render(w, r) for r in rows[: q.limit]]
    return items, int(total), encode_cursor(offset + q.limit, int(total), walk) if more else None


async def every(conn: AsyncConnection, principal: Principal, q) -> list[dict]:
    """Every matching duty (the CSV export), read in this request's transaction."""
    w = await window(conn, principal, q)
    return [render(w, r) for r in (await conn.execute(_ordered(filtered(w, q)))).all()]


def _counts(sub, *keys) -> Select:
    return select(*keys, *(func.sum(case((sub.c.status == s, 1), else_=0)).label(s) for s in STATUSES)).group_by(*keys)


async def summary(conn: AsyncConnection, principal: Principal, q) -> dict[str, Any]:
    """Counts by unit and by duty, most overdue first (ties by unit_id, then by duty)."""
    w = await window(conn, principal, q, one_year=True)
    sub = filtered(w, q).subquery("summed")
    by_unit = (await conn.execute(_counts(sub, sub.c.unit_id))).all()
    by_duty = (await conn.execute(_counts(sub, sub.c.duty, sub.c.activity_code))).all()

    def counts(r) -> dict[str, int]:
        return {s: int(getattr(r, s) or 0) for s in STATUSES}

    units = sorted(({"unit_id": r.unit_id, **counts(r)} for r in by_unit), key=lambda u: (-u["overdue"], u["unit_id"]))
    kinds = sorted(
        ({"duty": r.duty, "activity_code": r.activity_code, **counts(r)} for r in by_duty),
        key=lambda d: (-d["overdue"], d["duty"], d["activity_code"] or ""),
    )
    return {"year": w.year, "as_of": q.as_of, "plan": w.plan.ref, "by_unit": units, "by_duty": kinds}


async def unmet_duties(conn: AsyncConnection, today: date) -> list[dict]:
    """The duty source of the time-driven webhook events (app/webhooks/outbox.py): the unmet duties, as of
    today, of every plan whose window holds today, due no earlier than the oldest active endpoint was created
    (no endpoint hears of a duty that fell due before it existed)."""
    oldest = await conn.scalar(select(func.min(endpoints.c.created_at)).where(endpoints.c.active.is_(True)))
    if oldest is None:
        return []
    due_from = local_day(oldest)
    current = await conn.execute(select(plans).where(plans.c.starts_on <= today, plans.c.ends_on >= today))
    found = []
    for plan in current.all():
        w = Window(await lookup.rules(conn, plan), today)
        sub = duties(w).subquery("unmet")
        rows = await conn.execute(select(sub).where(sub.c.status.in_(("due", "overdue")), sub.c.due_on >= due_from))
        found += [render(w, r) for r in rows.all()]
    return found
