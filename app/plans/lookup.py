"""Which plan a request means, and what of it the KPIs read: the window, the required unit kinds, the quotas of
activities B1, B3 and C4, and the targets of a year. Reads only; the plans resource writes (app/plans/service.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Integer,
    Row,
    String,
    bindparam,
    cast,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import subtree
from app.errors import Invalid
from app.models import Activity, Plan, PlanTarget, Unit

plans = Plan.__table__
plan_targets = PlanTarget.__table__
activities = Activity.__table__
units = Unit.__table__

MAX_DEPTH = 64  # a unit tree deeper than this is a cycle, not a city


@dataclass(frozen=True)
class BroadcastQuota:
    """A station is compliant for a month when one of its broadcasts on `channel` (lasting min to max minutes,
    when set) is aired at least `airings_per_month` times in that local month."""

    channel: str
    airings_per_month: int
    min_minutes: int | None = None
    max_minutes: int | None = None


@dataclass(frozen=True)
class ForumQuota:
    """A village or quarter is compliant for a month with `forums_per_month` forums of `forum_kind` held there."""

    forum_kind: str
    forums_per_month: int


@dataclass(frozen=True)
class PlanRules:
    """What the KPI statements depend on; hashable, so that statements built for it are kept and reused."""

    id: int
    code: str
    title: str
    starts_on: date
    ends_on: date
    required_unit_kinds: tuple[str, ...]
    city_station: BroadcastQuota | None  # B1: media centres
    local_station: BroadcastQuota | None  # B3: wards and communes
    village_forum: ForumQuota | None  # C4: villages and quarters

    @property
    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code}


QUOTA_ACTIVITIES = ("B1", "B3", "C4")


class PlanRow(NamedTuple):
    id: int
    code: str
    title: str
    starts_on: date
    ends_on: date
    required_unit_kinds: list[str]


def covers(plan: Row, year: int) -> bool:
    return plan.starts_on.year <= year <= plan.ends_on.year


def _listing(found: list[Row]) -> str:
    if not found:
        return "there is no plan"
    return "the plans are: " + "; ".join(f"{p.code} ({p.starts_on} to {p.ends_on})" for p in found)


def _city_of(unit_id: int):
    """The unit's nearest ancestor (or itself) of kind city, as a scalar subquery (NULL when there is none)."""
    up = (
        select(units.c.id, units.c.kind, units.c.parent_id, literal(0).label("depth"))
        .where(units.c.id == unit_id)
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(units.c.id, units.c.kind, units.c.parent_id, (up.c.depth + 1).label("depth"))
        .select_from(units.join(up, units.c.id == up.c.parent_id))
        .where(up.c.depth < MAX_DEPTH)
    )
    return select(up.c.id).where(up.c.kind == "city").order_by(up.c.depth).limit(1).scalar_subquery()


async def city_plans(conn: AsyncConnection, unit_id: int) -> list[Row]:
    """The plans issued by the unit's city, latest-starting first (every plan when the unit has no city)."""
    city = _city_of(unit_id)
    q = (
        select(plans)
        .where(or_(plans.c.issued_by_unit_id == city, city.is_(None)))
        .order_by(plans.c.starts_on.desc(), plans.c.id.desc())
    )
    return list((await conn.execute(q)).all())


def choose_from(found: list[Row], *, year: int | None, as_of: date) -> tuple[Row, int]:
    """Of plans latest-starting first: the one whose window holds `year` (default: the as-of year, else the last
    year of the latest plan)."""
    if year is not None:
        for plan in found:
            if covers(plan, year):
                return plan, year
        raise Invalid(f"No plan covers {year}; {_listing(found)}.", loc=["query", "year"])
    for plan in found:
        if covers(plan, as_of.year):
            return plan, as_of.year
    return found[0], found[0].ends_on.year


async def plan_for_today(conn: AsyncConnection, unit_id: int, today: date) -> int | None:
    """The plan an activity created without plan_id belongs to: the caller's city's plan covering today (the
    latest-starting), else its latest plan; None when there is no plan at all."""
    found = await city_plans(conn, unit_id)
    for plan in found:
        if plan.starts_on <= today <= plan.ends_on:
            return plan.id
    return found[0].id if found else None


def _broadcast(quota: dict[str, Any] | None) -> BroadcastQuota | None:
    if not quota or "channel" not in quota or "airings_per_month" not in quota:
        return None
    return BroadcastQuota(
        quota["channel"], int(quota["airings_per_month"]), quota.get("min_minutes"), quota.get("max_minutes")
    )


def _forum(quota: dict[str, Any] | None) -> ForumQuota | None:
    if not quota or "forum_kind" not in quota or "forums_per_month" not in quota:
        return None
    return ForumQuota(quota["forum_kind"], int(quota["forums_per_month"]))


@dataclass
class Asked:
    """What one KPI request reads of the plans, in one statement: the candidate plans (latest-starting first)
    with the quotas of their activities B1, B3 and C4 and their targets, and the caller's scope when it is a
    unit. One round trip, so that reading plan data costs a KPI request no more than its scope query did."""

    plans: list[Row] = field(default_factory=list)
    quotas: dict[int, dict[str, dict[str, Any] | None]] = field(default_factory=dict)
    targets: dict[int, list[tuple[int | None, str, str, str]]] = field(default_factory=dict)
    scope: tuple[int, ...] | None = None

    def rules(self, plan: Row) -> PlanRules:
        quotas = self.quotas.get(plan.id, {})
        return PlanRules(
            id=plan.id,
            code=plan.code,
            title=plan.title,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            required_unit_kinds=tuple(plan.required_unit_kinds),
            city_station=_broadcast(quotas.get("B1")),
            local_station=_broadcast(quotas.get("B3")),
            village_forum=_forum(quotas.get("C4")),
        )

    def targets_for(self, plan_id: int, year: int) -> dict[str, tuple[str, str]]:
        """kpi_code -> (target, comparison) for the year: a row for the year overrides the plan-wide row."""
        rows = sorted(self.targets.get(plan_id, []), key=lambda t: t[0] is not None)
        return {code: (target, comparison) for y, code, target, comparison in rows if y in (None, year)}


def _nulls(*types) -> list:
    return [cast(null(), t) for t in types]


@lru_cache(maxsize=4)
def _asked_statement(by_code: bool, scoped: bool) -> Any:
    """asked()'s UNION ALL, built once per shape, its values bound per request (`code`, `unit_id`): building it
    and deriving its cache key each time was a large part of a small KPI answer's time."""
    unit_id = bindparam("unit_id", type_=BigInteger)
    if by_code:
        wanted = plans.c.code == bindparam("code", type_=String)
    else:
        city = _city_of(unit_id)
        wanted = or_(plans.c.issued_by_unit_id == city, city.is_(None))
    ids = select(plans.c.id).where(wanted)
    parts = [
        # columns: part, plan_id, a number (year, unit id), three strings, two dates, JSON (read by position)
        select(literal("P"), plans.c.id, *_nulls(Integer), plans.c.code, plans.c.title, *_nulls(String),
               plans.c.starts_on, plans.c.ends_on, plans.c.required_unit_kinds).where(wanted),
        select(literal("A"), activities.c.plan_id, *_nulls(Integer), activities.c.code, *_nulls(String, String, Date, Date),
               activities.c.quota).where(activities.c.plan_id.in_(ids), activities.c.code.in_(QUOTA_ACTIVITIES)),
        select(literal("T"), plan_targets.c.plan_id, plan_targets.c.year, plan_targets.c.kpi_code, plan_targets.c.target,
               plan_targets.c.comparison, *_nulls(Date, Date, JSON)).where(plan_targets.c.plan_id.in_(ids)),
    ]  # fmt: skip
    if scoped:
        tree = subtree(unit_id).subquery("scope")
        parts.append(
            select(literal("S"), *_nulls(Integer), tree.c.id, *_nulls(String, String, String, Date, Date, JSON))
        )
    return union_all(*parts)


async def asked(conn: AsyncConnection, unit_id: int, *, code: str | None, scoped: bool) -> Asked:
    """The plans a KPI request may mean (the one named by `code`, else the caller's city's), with their quotas
    and targets, and (`scoped`) the ids of the caller's unit and every unit below it, in one UNION ALL."""
    params: dict[str, Any] = {"unit_id": unit_id}
    if code is not None:
        params["code"] = code
    stmt = _asked_statement(code is not None, scoped)
    out = Asked(scope=() if scoped else None)
    found, scope = [], []
    for part, plan_id, number, s1, s2, s3, d1, d2, data in await conn.execute(stmt, params):
        if part == "P":
            found.append(PlanRow(plan_id, s1, s2, d1, d2, data))
        elif part == "A":
            out.quotas.setdefault(plan_id, {})[s1] = data
        elif part == "T":
            out.targets.setdefault(plan_id, []).append((number, s1, s2, s3))
        else:
            scope.append(number)
    out.plans = sorted(found, key=lambda p: (p.starts_on, p.id), reverse=True)
    if scoped:
        out.scope = tuple(sorted(scope))
    return out


async def choose(
    conn: AsyncConnection, unit_id: int, *, code: str | None, year: int | None, as_of: date
) -> tuple[Row, int]:
    """The plan and year a request means (API.md section 10): the plan named by `code`, else the plan of the
    caller's city whose window holds the year (the latest-starting one). Without a year: the as-of year when a
    plan covers it, else the last year of the latest plan. A year no plan covers is a 422 naming the plans."""
    found = await asked(conn, unit_id, code=code, scoped=False)
    await _refuse_unknown(conn, found, unit_id, code)
    return choose_from(found.plans, year=year, as_of=as_of)


async def _refuse_unknown(conn: AsyncConnection, found: Asked, unit_id: int, code: str | None) -> None:
    """422 when no plan answers: an unknown code names the city's plans; no plan at all says so."""
    if not found.plans and code is not None:
        named = await city_plans(conn, unit_id)
        raise Invalid(f"No plan has the code {code!r}; {_listing(named)}.", loc=["query", "plan"])
    if not found.plans:
        raise Invalid("No plan is set up for your city; the lead office creates one at /plans.", loc=["query"])


async def rules(conn: AsyncConnection, plan: Row) -> PlanRules:
    """A plan's rules (window, kinds, the quotas of its B1, B3 and C4), for callers holding its row."""
    rows = await conn.execute(
        select(activities.c.code, activities.c.quota).where(
            activities.c.plan_id == plan.id, activities.c.code.in_(QUOTA_ACTIVITIES)
        )
    )
    return Asked(quotas={plan.id: {r.code: r.quota for r in rows}}).rules(plan)


async def for_kpis(conn: AsyncConnection, principal: Principal, *, code: str | None, year: int | None, as_of: date):
    """What a KPI request reads before its aggregate, in one statement: the plan and year chosen as `choose`
    does, the plan's rules and targets for the year, and the caller's scope (None: city-wide)."""
    found = await asked(conn, principal.unit_id, code=code, scoped=not principal.city_wide)
    await _refuse_unknown(conn, found, principal.unit_id, code)
    plan, year = choose_from(found.plans, year=year, as_of=as_of)
    return found.rules(plan), found.targets_for(plan.id, year), year, found.scope
