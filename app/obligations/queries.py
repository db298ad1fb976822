"""The duties of API.md section 11 as one SQL statement: one row per (duty, unit, period) that the plan puts on a
unit for every period begun by `as_of`, with the day it was met and the records that met it.

The monthly duties use the KPI rules themselves (app/kpis/queries.py: the quota of B1, B3 and C4, the station
rule, local-time months, a unit owes only for periods in which it exists), so that for the months a KPI counts,
met duties are its numerator and all duties its denominator. Status is judged in SQL, so that the list filters,
counts and pages in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.kpis.periods import local_midnight, local_month, month_after, month_of
from app.kpis.queries import (
    CITY_STATION_KIND,
    LOCAL_KINDS,
    VILLAGE_KINDS,
    airings,
    annual_reports,
    broadcasts,
    exists_between,
    forums,
    station_rule,
    unit_plans,
    units,
)
from app.plans.lookup import BroadcastQuota, PlanRules

DUTIES = ("unit_plan", "broadcast", "forum", "annual_report")
STATUSES = ("met", "met_late", "due", "overdue")


class local_date(FunctionElement):  # noqa: N801 - reads as the SQL function it is
    """The local (Asia/Ho_Chi_Minh) date of an instant stored in UTC."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+7 hours')"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler, **kw) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Ho_Chi_Minh' AS DATE)"


class id_list(FunctionElement):  # noqa: N801
    """The ids of a group as one comma-separated text (evidence), in ascending order."""

    type = String()
    inherit_cache = True
    name = "id_list"


@compiles(id_list, "sqlite")
def _id_list_sqlite(element: id_list, compiler, **kw) -> str:
    # SQLite keeps the order rows reach the aggregate in; the subqueries feeding it are ordered by id
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(id_list, "postgresql")
def _id_list_postgresql(element: id_list, compiler, **kw) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"string_agg(CAST({arg} AS TEXT), ',' ORDER BY {arg})"


@dataclass(frozen=True)
class Window:
    """What the duties are computed for: the plan, the as-of day, the periods asked (a year, or one period),
    and the units (the caller's scope narrowed by the unit_id filter; None for the whole city)."""

    plan: PlanRules
    as_of: date
    year: int | None = None
    period: str | None = None
    units: tuple[int, ...] | None = None

    def months(self) -> list[tuple[str, date, date]]:
        """The plan's months begun by as_of (and asked for): (YYYY-MM, first day, last day)."""
        out = []
        first = self.plan.starts_on.replace(day=1)
        while first <= self.plan.ends_on and first <= self.as_of:
            key = f"{first:%Y-%m}"
            if self._wanted(key, first.year):
                out.append((key, first, month_after(first) - timedelta(days=1)))
            first = month_after(first)
        return out

    def years(self) -> list[int]:
        """The plan's years begun by as_of (and asked for)."""
        last = min(self.plan.ends_on.year, self.as_of.year)
        return [y for y in range(self.plan.starts_on.year, last + 1) if self._wanted(f"{y:04d}", y)]

    def _wanted(self, key: str, year: int) -> bool:
        return (self.period is None or self.period == key) and (self.year is None or self.year == year)

    def in_units(self, column: ColumnElement) -> ColumnElement[bool]:
        if self.units is None:
            return true()
        return column.in_(list(self.units))

    @property
    def as_of_end(self):
        return local_midnight(self.as_of + timedelta(days=1))


def _values(rows: list[tuple], names: tuple[str, ...], types: tuple, name: str):
    """A small literal table (months or years), empty when there are no rows."""
    if not rows:
        return (
            select(*(literal(None, t).label(n) for n, t in zip(names, types, strict=True)))
            .where(false())
            .subquery(name)
        )
    parts = [select(*(literal(v, t).label(n) for v, n, t in zip(row, names, types, strict=True))) for row in rows]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery(name)


def _duty_row(
    duty: str,
    code: str | None,
    unit_id: ColumnElement,
    period: ColumnElement,
    due_on: ColumnElement,
    met: ColumnElement,
    met_on: ColumnElement,
    resource: str,
    evidence: ColumnElement,
) -> list[ColumnElement]:
    return [
        literal(duty, String).label("duty"),
        literal(code, String).label("activity_code"),
        unit_id.label("unit_id"),
        period.label("period"),
        due_on.label("due_on"),
        met.label("met"),
        met_on.label("met_on"),
        literal(resource, String).label("resource"),
        evidence.label("evidence"),
    ]


def _monthly_pairs(w: Window, kinds: tuple[str, ...], name: str):
    months = _values(w.months(), ("month", "first", "last"), (String, Date, Date), f"{name}_months")
    return (
        select(units.c.id.label("unit_id"), months.c.month, months.c.last)
        .select_from(units.join(months, true()))
        .where(units.c.kind.in_(kinds), exists_between(months.c.first, months.c.last), w.in_units(units.c.id))
        .subquery(name)
    )


def _span(w: Window) -> tuple[date, date]:
    months = w.months()
    if not months:
        return w.plan.starts_on, w.plan.starts_on - timedelta(days=1)
    return months[0][1], min(months[-1][2], w.as_of)


def _station_duties(w: Window, code: str, kinds: tuple[str, ...], quota: BroadcastQuota) -> Select:
    """B1 / B3: a station meets its month when one of its broadcasts reaching the quota's rule is aired the
    quota's number of times in that local month (up to as_of); met on the local day of the airing that reached
    it (the earliest such airing over its broadcasts)."""
    first, last = _span(w)
    station = units.alias(f"station_{code}")
    month = local_month(airings.c.aired_at)
    numbered = (
        select(
            broadcasts.c.id.label("broadcast_id"),
            broadcasts.c.unit_id,
            month.label("month"),
            airings.c.aired_at,
            func.row_number()
            .over(partition_by=(broadcasts.c.id, month), order_by=(airings.c.aired_at, airings.c.id))
            .label("n"),
        )
        .select_from(
            airings.join(broadcasts, broadcasts.c.id == airings.c.broadcast_id).join(
                station, station.c.id == broadcasts.c.unit_id
            )
        )
        .where(
            airings.c.aired_at >= local_midnight(first),
            airings.c.aired_at < min(local_midnight(last + timedelta(days=1)), w.as_of_end),
            station_rule(station.c.kind.in_(kinds), quota),
            w.in_units(broadcasts.c.unit_id),
        )
        .subquery(f"numbered_{code}")
    )
    reached = (
        select(numbered.c.unit_id, numbered.c.month, numbered.c.broadcast_id, numbered.c.aired_at)
        .where(numbered.c.n == quota.airings_per_month)
        .order_by(numbered.c.broadcast_id)
        .subquery(f"reached_{code}")
    )
    met = (
        select(
            reached.c.unit_id,
            reached.c.month,
            func.min(reached.c.aired_at).label("at"),
            id_list(reached.c.broadcast_id).label("evidence"),
        )
        .group_by(reached.c.unit_id, reached.c.month)
        .subquery(f"met_{code}")
    )
    pairs = _monthly_pairs(w, kinds, f"stations_{code}")
    return select(
        *_duty_row(
            "broadcast",
            code,
            pairs.c.unit_id,
            pairs.c.month,
            pairs.c.last,
            case((met.c.unit_id.is_not(None), 1), else_=0),
            local_date(met.c.at),
            "broadcasts",
            met.c.evidence,
        )
    ).select_from(pairs.outerjoin(met, and_(met.c.unit_id == pairs.c.unit_id, met.c.month == pairs.c.month)))


def _forum_duties(w: Window) -> Select:
    """C4: a village or quarter meets its month with the quota's number of forums of its kind held there; met on
    the day of the forum that reached it."""
    quota = w.plan.village_forum
    assert quota is not None
    first, last = _span(w)
    month = month_of(forums.c.held_on)
    numbered = (
        select(
            forums.c.id,
            forums.c.unit_id,
            forums.c.held_on,
            month.label("month"),
            func.row_number()
            .over(partition_by=(forums.c.unit_id, month), order_by=(forums.c.held_on, forums.c.id))
            .label("n"),
        )
        .where(
            forums.c.kind == quota.forum_kind,
            forums.c.held_on >= first,
            forums.c.held_on <= last,
            w.in_units(forums.c.unit_id),
        )
        .subquery("numbered_forums")
    )
    ordered = select(numbered).order_by(numbered.c.id).subquery("ordered_forums")
    held = (
        select(
            ordered.c.unit_id,
            ordered.c.month,
            func.max(case((ordered.c.n == quota.forums_per_month, ordered.c.held_on))).label("reached_on"),
            id_list(ordered.c.id).label("evidence"),
        )
        .group_by(ordered.c.unit_id, ordered.c.month)
        .subquery("held_forums")
    )
    pairs = _monthly_pairs(w, VILLAGE_KINDS, "villages")
    return select(
        *_duty_row(
            "forum",
            "C4",
            pairs.c.unit_id,
            pairs.c.month,
            pairs.c.last,
            case((held.c.reached_on.is_not(None), 1), else_=0),
            held.c.reached_on,
            "forums",
            case((held.c.reached_on.is_not(None), held.c.evidence), else_=null()),
        )
    ).select_from(pairs.outerjoin(held, and_(held.c.unit_id == pairs.c.unit_id, held.c.month == pairs.c.month)))


def _yearly_pairs(w: Window, name: str, due_month: int, due_day: int):
    rows = [(f"{y:04d}", y, date(y, 1, 1), date(y, 12, 31), date(y, due_month, due_day)) for y in w.years()]
    years = _values(rows, ("period", "year", "first", "last", "due_on"), (String, Integer, Date, Date, Date), name)
    return (
        select(units.c.id.label("unit_id"), years.c.period, years.c.year, years.c.due_on)
        .select_from(units.join(years, true()))
        .where(
            units.c.kind.in_(w.plan.required_unit_kinds),
            exists_between(years.c.first, years.c.last),
            w.in_units(units.c.id),
        )
        .subquery(f"{name}_pairs")
    )


def _unit_plan_duties(w: Window) -> Select:
    """A: each required unit, a unit plan for the year by 31 December (issued later: met late)."""
    pairs = _yearly_pairs(w, "plan_years", 12, 31)
    ordered = (
        select(unit_plans.c.id, unit_plans.c.unit_id, unit_plans.c.year, unit_plans.c.issued_on)
        .where(or_(unit_plans.c.issued_on.is_(None), unit_plans.c.issued_on <= w.as_of))
        .order_by(unit_plans.c.id)
        .subquery("ordered_unit_plans")
    )
    issued = (
        select(
            ordered.c.unit_id,
            ordered.c.year,
            func.min(ordered.c.issued_on).label("issued_on"),
            id_list(ordered.c.id).label("evidence"),
        )
        .group_by(ordered.c.unit_id, ordered.c.year)
        .subquery("issued_unit_plans")
    )
    return select(
        *_duty_row(
            "unit_plan",
            "A",
            pairs.c.unit_id,
            pairs.c.period,
            pairs.c.due_on,
            case((issued.c.unit_id.is_not(None), 1), else_=0),
            issued.c.issued_on,
            "unit-plans",
            issued.c.evidence,
        )
    ).select_from(pairs.outerjoin(issued, and_(issued.c.unit_id == pairs.c.unit_id, issued.c.year == pairs.c.year)))


def _annual_report_duties(w: Window) -> Select:
    """The annual report: each required unit, submitted before 1 December local (a later one: met late)."""
    pairs = _yearly_pairs(w, "report_years", 11, 30)
    reports = (
        select(annual_reports.c.id, annual_reports.c.unit_id, annual_reports.c.year, annual_reports.c.submitted_at)
        .where(annual_reports.c.submitted_at < w.as_of_end)
        .subquery("reports")
    )
    return select(
        *_duty_row(
            "annual_report",
            None,
            pairs.c.unit_id,
            pairs.c.period,
            pairs.c.due_on,
            case((reports.c.id.is_not(None), 1), else_=0),
            local_date(reports.c.submitted_at),
            "annual-reports",
            cast(reports.c.id, String),
        )
    ).select_from(pairs.outerjoin(reports, and_(reports.c.unit_id == pairs.c.unit_id, reports.c.year == pairs.c.year)))


def duties(w: Window) -> Select:
    """Every duty of the window with its status: (duty, activity_code, unit_id, period, due_on, met_on, resource,
    evidence, status)."""
    parts = [_unit_plan_duties(w), _annual_report_duties(w)]
    if w.plan.city_station is not None:
        parts.append(_station_duties(w, "B1", (CITY_STATION_KIND,), w.plan.city_station))
    if w.plan.local_station is not None:
        parts.append(_station_duties(w, "B3", LOCAL_KINDS, w.plan.local_station))
    if w.plan.village_forum is not None:
        parts.append(_forum_duties(w))
    every = union_all(*parts).subquery("duties")
    met_by = or_(every.c.met_on.is_(None), every.c.met_on <= every.c.due_on)
    status = case(
        (and_(every.c.met == 1, met_by), "met"),
        (every.c.met == 1, "met_late"),
        (every.c.due_on >= w.as_of, "due"),
        else_="overdue",
    )
    return select(
        every.c.duty,
        every.c.activity_code,
        every.c.unit_id,
        every.c.period,
        every.c.due_on,
        every.c.met_on,
        every.c.resource,
        every.c.evidence,
        status.label("status"),
    )
