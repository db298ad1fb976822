"""Contests (readable by everyone), their entries (the organiser's side writes them) and results.

Entries are read by those who may write them (the lead office, the organiser's scope), by the city-wide
readers, and by a unit for the entries of its own schools and branches; results are computed over exactly
the entries the caller may read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.auth.scope import subtree
from app.common import repository
from app.common.records import external_ref_key
from app.common.spec import NaturalKey, ResourceSpec, require_fields
from app.common.writes import Ctx
from app.contests.schemas import (
    MEAN_DECIMALS,
    ContestCreate,
    ContestRead,
    ContestUpdate,
    EntryCreate,
    EntryRead,
    EntryUpdate,
)
from app.errors import Conflict, Forbidden, Invalid
from app.models import Contest, ContestEntry, Unit
from app.timeutil import local_today

contests = Contest.__table__
entries = ContestEntry.__table__
units = Unit.__table__


async def _organiser_scope(ctx: Ctx, organiser_id: int, what: str) -> None:
    if not await ctx.in_scope(organiser_id):
        raise Forbidden(f"Only the lead office or the organiser's scope (unit {organiser_id}) may write {what}.")


async def _may_write_contest(ctx: Ctx, record: dict[str, Any]) -> None:
    """Contests are read city-wide, so the write service checks the stored organiser as well as a new one."""
    require_fields(record, ["unit_id"])
    await _organiser_scope(ctx, record["unit_id"], "this contest")
    if await ctx.unit(record["unit_id"]) is None:
        raise Invalid(f"unit_id {record['unit_id']} is not a unit.", loc=["body", "unit_id"])


async def _contest_rules(ctx: Ctx, data: dict[str, Any], _existing: dict[str, Any] | None) -> None:
    require_fields(data, ["unit_id", "title", "audience", "starts_on", "ends_on"])
    if data["ends_on"] < data["starts_on"]:
        raise Invalid("ends_on is before starts_on.", loc=["body", "ends_on"])


async def _keep_contest_with_entries(ctx: Ctx, existing: dict[str, Any]) -> None:
    """A contest with entries stays (its results are part of the plan's record): 409."""
    count = await ctx.conn.scalar(
        select(func.count()).select_from(entries).where(entries.c.contest_id == existing["id"])
    )
    if count:
        raise Conflict(f"The contest has {count} entries; delete them first.")


spec = ResourceSpec(
    name="contests",
    table=contests,
    create=ContestCreate,
    update=ContestUpdate,
    read=ContestRead,
    read_perm=Perm.CATALOGUE_READ,
    scoped_read=False,
    date_column="starts_on",
    filters={"audience": lambda v: contests.c.audience == str(v)},
    natural_keys=[external_ref_key()],
    rules=[_contest_rules],
    may_write=_may_write_contest,
    on_delete=_keep_contest_with_entries,
)


def _entry_visibility(principal: Principal, t: Table) -> ColumnElement[bool]:
    if principal.city_wide:
        return true()
    scope = subtree(principal.unit_id)
    organised = select(contests.c.id).where(contests.c.unit_id.in_(scope))
    return or_(t.c.unit_id.in_(scope), t.c.contest_id.in_(organised))


async def _may_write_entry(ctx: Ctx, record: dict[str, Any]) -> None:
    """Entries are written by the organiser's side, for entrants of any unit."""
    contest_id = record["contest_id"]
    organiser_id = await ctx.remember(
        ("contest organiser", contest_id),
        lambda: ctx.conn.scalar(select(contests.c.unit_id).where(contests.c.id == contest_id)),
    )
    if organiser_id is None:
        raise Invalid(f"contest_id {record['contest_id']} is not a contest.", loc=["body", "contest_id"])
    await _organiser_scope(ctx, organiser_id, "this contest's entries")


async def _entry_rules(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """The entrant's unit may be any unit (schools of every ward take part), but an active one."""
    require_fields(data, ["unit_id", "participant_ref", "participant_name", "score", "submitted_at"])
    if existing is not None and data["unit_id"] == existing["unit_id"]:
        return
    unit = await ctx.unit(data["unit_id"])  # cached: an import asks once per unit, not once per row
    if unit is None:
        raise Invalid(f"unit_id {data['unit_id']} is not a unit.", loc=["body", "unit_id"])
    dissolved = unit["dissolved_on"]
    if dissolved is not None and dissolved <= local_today():
        raise Invalid(f"unit_id {data['unit_id']} was dissolved on {dissolved}.", loc=["body", "unit_id"])


entry_spec = ResourceSpec(
    name="contest-entries",
    table=entries,
    create=EntryCreate,
    update=EntryUpdate,
    read=EntryRead,
    scoped_read=False,
    visibility=_entry_visibility,
    date_column="submitted_at",
    date_is_instant=True,
    natural_keys=[
        NaturalKey(("contest_id", "participant_ref"), "This contest has an entry with this participant_ref."),
        external_ref_key("contest_id"),
    ],
    rules=[_entry_rules],
    may_write=_may_write_entry,
    parent=("contest_id", contests),
)


async def results(conn: AsyncConnection, principal: Principal, contest_id: int, *, top: int | None = None) -> dict:
    """Counts and mean scores by unit, and the ranking (higher score first, then the earlier submission)."""
    await repository.load(conn, spec, principal, contest_id)
    t = entries
    where = [t.c.contest_id == contest_id, repository.visible(entry_spec, principal)]
    by_unit = (
        select(t.c.unit_id, func.count().label("entries"), func.avg(t.c.score).label("mean_score"))
        .where(*where)
        .group_by(t.c.unit_id)
        .order_by(t.c.unit_id)
    )
    order = (t.c.score.desc(), t.c.submitted_at.asc(), t.c.id.asc())
    ranking = (
        select(
            func.row_number().over(order_by=order).label("rank"),
            t.c.participant_ref,
            t.c.participant_name,
            t.c.unit_id,
            t.c.score,
        )
        .where(*where)
        .order_by(*order)
        .limit(top)
    )
    units_out = [
        {"unit_id": r.unit_id, "entries": r.entries, "mean_score": round(float(r.mean_score), MEAN_DECIMALS)}
        for r in await conn.execute(by_unit)
    ]
    return {
        "entries": sum(u["entries"] for u in units_out),
        "by_unit": units_out,
        "ranking": [dict(r._mapping) for r in await conn.execute(ranking)],
    }
