"""The eight KPIs of API.md section 6, one SQL aggregate each, parameterised by the plan (section 10): its
window, required unit kinds and the quotas of activities B1, B3 and C4 come from the database.

Every function returns a SELECT of one row per unit of the KPI's denominator set, grouped in SQL:
`(unit_id, numerator, denominator)`. The service sums it (in the same statement) into the KPI's totals.
Months are judged in local time by `local_month` / `month_of`; nothing dated after `as_of` counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.types import TypeDecorator

from app.kpis.periods import Month, Period, local_midnight, local_month, month_after, month_of
from app.models import (
    Airing,
    AnnualReport,
    Broadcast,
    Forum,
    MonthTally,
    SatisfactionSurvey,
    Training,
    TrainingParticipant,
    Unit,
    UnitPlan,
)
from app.plans.lookup import BroadcastQuota, PlanRules

units = Unit.__table__
unit_plans = UnitPlan.__table__
annual_reports = AnnualReport.__table__
broadcasts = Broadcast.__table__
airings = Airing.__table__
forums = Forum.__table__
trainings = Training.__table__
participants = TrainingParticipant.__table__
surveys = SatisfactionSurvey.__table__
tallies = MonthTally.__table__

# Which kinds owe which duty is fixed by API.md section 10 (B1: media centres, B3: wards and communes, C4:
# villages and quarters); what they owe is the plan's quota.
LOCAL_KINDS = ("ward", "commune")
CITY_STATION_KIND = "media_center"
VILLAGE_KINDS = ("quarter", "village")


@dataclass(frozen=True)
class KpiContext:
    """The period asked for, the plan's rules, and the caller's scope (its units' ids; None for the whole city)."""

    period: Period
    plan: PlanRules
    scope: tuple[int, ...] | None = None

    def in_scope(self, column: ColumnElement) -> ColumnElement[bool]:
        if self.scope is None:
            return true()
        # integers written into the SQL: no bound-parameter limit however large the scope
        return column.in_(bindparam("scope", list(self.scope), expanding=True, literal_execute=True))


def exists_between(first: ColumnElement | date, last: ColumnElement | date) -> ColumnElement[bool]:
    """The unit exists in [first, last]: established on or before the last day, not dissolved by the first."""
    return and_(
        or_(units.c.established_on.is_(None), units.c.established_on <= last),
        or_(units.c.dissolved_on.is_(None), units.c.dissolved_on > first),
    )


def _active_units(ctx: KpiContext, kinds: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return [units.c.kind.in_(kinds), exists_between(ctx.period.first, ctx.period.last), ctx.in_scope(units.c.id)]


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def unit_plan_coverage(ctx: KpiContext) -> Select:
    """Required units with a unit plan for the year (issued on or before as_of)."""
    joined = units.outerjoin(
        unit_plans,
        and_(
            unit_plans.c.unit_id == units.c.id,
            unit_plans.c.year == ctx.period.year,
            or_(unit_plans.c.issued_on.is_(None), unit_plans.c.issued_on <= ctx.period.as_of),
        ),
    )
    return (
        select(
            units.c.id.label("unit_id"),
            _flag(func.count(unit_plans.c.id) > 0).label("numerator"),
            literal(1).label("denominator"),
        )
        .select_from(joined)
        .where(*_active_units(ctx, ctx.plan.required_unit_kinds))
        .group_by(units.c.id)
    )


def raw_official_training_coverage(ctx: KpiContext) -> Select:
    """The reference the tallies are tested against: per staffed unit, min(staff_count, officials trained since
    the plan began), over staff_count, summed from every participant row of every officials' training."""
    trained = _officials_between(ctx)(ctx.plan.starts_on, ctx.period.last_counted_day).subquery("trained")
    return _training_coverage(ctx, trained)


def _training_coverage(ctx: KpiContext, trained) -> Select:
    count = func.coalesce(trained.c.n, 0)
    return (
        select(
            units.c.id.label("unit_id"),
            case((count < units.c.staff_count, count), else_=units.c.staff_count).label("numerator"),
            units.c.staff_count.label("denominator"),
        )
        .select_from(units.outerjoin(trained, trained.c.key_id == units.c.id))
        .where(units.c.staff_count > 0, exists_between(ctx.period.first, ctx.period.last), ctx.in_scope(units.c.id))
    )


def raw_school_dx_coverage(ctx: KpiContext) -> Select:
    """The reference the tallies are tested against: active schools that organised at least one training for
    students in the year, grouped from every training."""
    joined = units.outerjoin(
        trainings,
        and_(
            trainings.c.unit_id == units.c.id,
            trainings.c.audience == "students",
            trainings.c.held_on >= ctx.period.first,
            trainings.c.held_on <= ctx.period.last_counted_day,
        ),
    )
    return (
        select(
            units.c.id.label("unit_id"),
            _flag(func.count(trainings.c.id) > 0).label("numerator"),
            literal(1).label("denominator"),
        )
        .select_from(joined)
        .where(*_active_units(ctx, ("school",)))
        .group_by(units.c.id)
    )


def _tallied_days(ctx: KpiContext, source: str, tag: str, first: date, last: date, raw) -> Select:
    """(key_id, n): a source's tally per key over the days [first, last]. Whole months are read from
    `month_tallies` (one statement per set of month columns, the years sharing it as a range); a month cut by
    `first` or `last` (an as-of day mid-month) is counted from the records by `raw(first, last)`, which gives
    (key_id, n) of a span of days within one month."""
    columns: dict[int, list[str]] = {}
    partial: list[tuple[date, date]] = []
    month = date(first.year, first.month, 1)
    while month <= last:
        after = month_after(month)
        end = after - timedelta(days=1)
        if month >= first and end <= last:
            columns.setdefault(month.year, []).append(f"m{month.month:02d}")
        else:
            partial.append((max(month, first), min(end, last)))
        month = after
    # only the first and the last year can miss months, so the years sharing a set of columns are a range
    by_columns: dict[tuple[str, ...], list[int]] = {}
    for year, cols in columns.items():
        by_columns.setdefault(tuple(cols), []).append(year)
    parts = [
        select(tallies.c.key_id, _sum([tallies.c[c] for c in cols]).label("n")).where(
            tallies.c.source == source,
            tallies.c.year.between(years[0], years[-1]),
            tallies.c.tag == tag,
            ctx.in_scope(tallies.c.key_id),
        )
        for cols, years in by_columns.items()
    ] + [raw(a, b) for a, b in partial]
    if not parts:
        return select(literal(0).label("key_id"), literal(0).label("n")).where(false())
    spans = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("spans")
    return select(spans.c.key_id, func.sum(spans.c.n).label("n")).group_by(spans.c.key_id)


def _trainings_between(ctx: KpiContext, audience: str, key: ColumnElement, n: ColumnElement, joined):
    """`raw(first, last)` for `_tallied_days`: (key_id, n) over the audience's trainings held in those days."""

    def raw(first: date, last: date) -> Select:
        return (
            select(key.label("key_id"), n.label("n"))
            .select_from(joined)
            .where(trainings.c.audience == audience, trainings.c.held_on.between(first, last), ctx.in_scope(key))
            .group_by(key)
        )

    return raw


def _officials_between(ctx: KpiContext):
    """`raw(first, last)`: officials trained per participants' unit in those days."""
    joined = participants.join(trainings, trainings.c.id == participants.c.training_id)
    return _trainings_between(ctx, "officials", participants.c.unit_id, func.sum(participants.c.count), joined)


def official_training_coverage(ctx: KpiContext) -> Select:
    """Per staffed unit: min(staff_count, officials trained since the plan began), over staff_count; the
    trained are summed from the participants' tallies (migration 0011) per month, their unit and the training's
    audience and month."""
    first, last = ctx.plan.starts_on, ctx.period.last_counted_day
    trained = _tallied_days(ctx, "training_participants", "officials", first, last, _officials_between(ctx))
    return _training_coverage(ctx, trained.subquery("trained"))


def school_dx_coverage(ctx: KpiContext) -> Select:
    """Active schools that organised at least one training for students in the year (the trainings' tallies,
    migration 0011: per organising unit, audience and month)."""

    raw = _trainings_between(ctx, "students", trainings.c.unit_id, func.count(), trainings)
    first, last = ctx.period.first, ctx.period.last_counted_day
    held = _tallied_days(ctx, "trainings", "students", first, last, raw).subquery("held")
    return (
        select(
            units.c.id.label("unit_id"),
            _flag(func.coalesce(held.c.n, 0) > 0).label("numerator"),
            literal(1).label("denominator"),
        )
        .select_from(units.outerjoin(held, held.c.key_id == units.c.id))
        .where(*_active_units(ctx, ("school",)))
    )


def satisfaction_rate(ctx: KpiContext) -> Select:
    """Satisfied over respondents of the surveys of the year's months up to as_of, per surveyed unit."""
    return (
        select(
            surveys.c.unit_id.label("unit_id"),
            func.sum(surveys.c.satisfied).label("numerator"),
            func.sum(surveys.c.respondents).label("denominator"),
        )
        .where(
            surveys.c.month >= f"{ctx.period.year:04d}-01",
            surveys.c.month <= min(f"{ctx.period.year:04d}-12", ctx.period.as_of_month),
            ctx.in_scope(surveys.c.unit_id),
        )
        .group_by(surveys.c.unit_id)
    )


class _Day(TypeDecorator):
    """A date that renders as a typed literal (`CAST('2024-05-01' AS DATE)`) when a statement is sent as text:
    a bare '2024-05-01' in the months table's UNION would be text on PostgreSQL, not a date."""

    impl = Date
    cache_ok = True

    def literal_processor(self, dialect: Any) -> Any:
        if dialect.name != "postgresql":  # SQLite's CAST(... AS DATE) would make it the number 2024
            return lambda value: f"'{value.isoformat()}'"
        return lambda value: f"CAST('{value.isoformat()}' AS DATE)"


LITERAL_DAY = _Day()


def _months(ctx: KpiContext):
    """The counted months as a small table (month, first, last)."""
    rows = ctx.period.months
    if not rows:
        return (
            select(
                literal("", String).label("month"),
                literal(ctx.period.first, LITERAL_DAY).label("first"),
                literal(ctx.period.first, LITERAL_DAY).label("last"),
            )
            .where(false())
            .subquery("months")
        )
    parts = [
        select(
            literal(m.key, String).label("month"),
            literal(m.first, LITERAL_DAY).label("first"),
            literal(m.last, LITERAL_DAY).label("last"),
        )
        for m in rows
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("months")


def _unit_months(ctx: KpiContext, kinds: tuple[str, ...], name: str):
    """(unit, counted month) pairs for units of `kinds` that exist in that month."""
    months = _months(ctx)
    return (
        select(units.c.id.label("unit_id"), months.c.month)
        .select_from(units.join(months, true()))
        .where(units.c.kind.in_(kinds), exists_between(months.c.first, months.c.last), ctx.in_scope(units.c.id))
        .subquery(name)
    )


def _counted_span(ctx: KpiContext) -> tuple[date, date]:
    months = ctx.period.months
    if not months:
        return ctx.period.first, ctx.period.first
    return months[0].first, months[-1].last


def station_rule(kinds: ColumnElement[bool], quota: BroadcastQuota, of=broadcasts) -> ColumnElement[bool]:
    """A broadcast counts for a station of these kinds when on the quota's channel and of its length (read from
    `of`: the broadcasts, or an airing's tally row, which carries both)."""
    conditions = [kinds, of.c.channel == quota.channel]
    minutes = of.c.duration_minutes
    if quota.min_minutes is not None and quota.max_minutes is not None:
        conditions.append(minutes.between(quota.min_minutes, quota.max_minutes))
    elif quota.min_minutes is not None:
        conditions.append(minutes >= quota.min_minutes)
    elif quota.max_minutes is not None:
        conditions.append(minutes <= quota.max_minutes)
    return and_(*conditions)


def _station_quotas(
    ctx: KpiContext, station, judged, of=broadcasts
) -> tuple[ColumnElement[bool], tuple[str, ...], ColumnElement]:
    """What B1 and B3 ask of a station: the rule its broadcasts must meet (over `station`), the kinds that owe
    it, and the airings a month it needs (over `judged`, the units being judged)."""
    local, city = ctx.plan.local_station, ctx.plan.city_station
    rules, kinds = [], []
    if local is not None:
        rules.append(station_rule(station.c.kind.in_(LOCAL_KINDS), local, of))
        kinds += LOCAL_KINDS
    if city is not None:
        rules.append(station_rule(station.c.kind == CITY_STATION_KIND, city, of))
        kinds.append(CITY_STATION_KIND)
    if local is not None and city is not None:
        needed = case((judged.c.kind == CITY_STATION_KIND, city.airings_per_month), else_=local.airings_per_month)
    else:
        needed = literal((local or city).airings_per_month if (local or city) else 1)
    return (or_(*rules) if rules else false()), tuple(kinds), needed


def raw_broadcast_months(ctx: KpiContext) -> Select:
    """The reference the tallies are tested against (and what they replaced): (station, counted month,
    compliant 0/1) grouped from every airing of the counted months: a ward or commune with a broadcast meeting
    B3's quota in the local month (seeded: ward radio, 10-15 minutes, aired 3 times); a media centre meeting B1's (city radio-TV, 4
    airings). A kind whose activity sets no quota owes nothing and is not counted."""
    first, last = _counted_span(ctx)
    month = local_month(airings.c.aired_at)
    station = units.alias("station")
    rule, kinds, needed = _station_quotas(ctx, station, station)
    aired = (
        select(broadcasts.c.unit_id, month.label("month"))
        .select_from(
            airings.join(broadcasts, broadcasts.c.id == airings.c.broadcast_id).join(
                station, station.c.id == broadcasts.c.unit_id
            )
        )
        .where(
            airings.c.aired_at >= local_midnight(first),
            airings.c.aired_at < local_midnight(last + timedelta(days=1)),
            rule,
            ctx.in_scope(broadcasts.c.unit_id),
        )
        .group_by(broadcasts.c.id, broadcasts.c.unit_id, station.c.kind, month)
        .having(func.count() >= needed)
        .subquery("aired")
    )
    compliant = select(aired.c.unit_id, aired.c.month).distinct().subquery("compliant")
    pairs = _unit_months(ctx, tuple(kinds), "stations")
    return select(pairs.c.unit_id, pairs.c.month, _flag(compliant.c.unit_id.is_not(None)).label("ok")).select_from(
        pairs.outerjoin(compliant, and_(compliant.c.unit_id == pairs.c.unit_id, compliant.c.month == pairs.c.month))
    )


def raw_forum_months(ctx: KpiContext) -> Select:
    """The reference the tallies are tested against: (village or quarter, counted month, 0/1) grouped from
    every forum of the counted months: C4's quota of forums held there that month (seeded: one village
    forum). Without a C4 quota no village owes a forum: no pairs."""
    first, last = _counted_span(ctx)
    quota = ctx.plan.village_forum
    month = month_of(forums.c.held_on)
    held = (
        select(forums.c.unit_id, month.label("month"))
        .where(
            forums.c.kind == (quota.forum_kind if quota else ""),
            forums.c.held_on >= first,
            forums.c.held_on <= last,
            ctx.in_scope(forums.c.unit_id),
        )
        .group_by(forums.c.unit_id, month)
    )
    if quota is not None and quota.forums_per_month > 1:
        held = held.having(func.count() >= quota.forums_per_month)
    held = held.subquery("held")
    pairs = _unit_months(ctx, VILLAGE_KINDS if quota else (), "villages")
    return select(pairs.c.unit_id, pairs.c.month, _flag(held.c.unit_id.is_not(None)).label("ok")).select_from(
        pairs.outerjoin(held, and_(held.c.unit_id == pairs.c.unit_id, held.c.month == pairs.c.month))
    )


def raw_per_unit(unit_months: Select) -> Select:
    """Per-unit (numerator, denominator) of a raw (unit, month, ok) pairs statement: the reference."""
    sub = unit_months.subquery("unit_months")
    return select(sub.c.unit_id, func.sum(sub.c.ok).label("numerator"), func.count().label("denominator")).group_by(
        sub.c.unit_id
    )


def raw_per_month(unit_months: Select) -> Select:
    """The monthly series of raw pairs: (month, numerator, denominator), the reference."""
    sub = unit_months.subquery("unit_months")
    return (
        select(sub.c.month, func.sum(sub.c.ok).label("numerator"), func.count().label("denominator"))
        .group_by(sub.c.month)
        .order_by(sub.c.month)
    )


# The month-by-month KPIs read `month_tallies` (kept by triggers, migration 0010): one row per unit (forums) or
# broadcast (airings) and year with a count per month, instead of grouping every forum and airing of the year.
# Their statements are wide: per unit, `due_MM` (the unit exists in counted month MM) and `ok_MM` (and met its
# quota there), one pair per counted month; per-unit totals and the monthly series are sums of those columns.


def _wide(ctx: KpiContext, kinds: tuple[str, ...], counts, needed: ColumnElement | int, joined) -> Select:
    """(unit_id, due_MM, ok_MM...) for units of `kinds` existing in the counted months; `counts(col)` is the
    unit's tally of month column `col` (NULL when nothing was recorded)."""
    months = ctx.period.months
    columns = []
    for m in months:
        col = f"m{m.first.month:02d}"
        live = exists_between(m.first, m.last)
        columns.append(_flag(live).label(f"due_{col}"))
        columns.append(_flag(and_(live, func.coalesce(counts(col), 0) >= needed)).label(f"ok_{col}"))
    first, last = _counted_span(ctx)
    where = [units.c.kind.in_(kinds), exists_between(first, last), ctx.in_scope(units.c.id)] if months else [false()]
    if not kinds:
        where = [false()]
    return select(units.c.id.label("unit_id"), *columns).select_from(joined).where(*where)


def broadcast_months(ctx: KpiContext) -> Select:
    """Per station (ward or commune: B3's quota, seeded ward radio, 10-15 minutes, aired 3 times in the local
    month; media centre: B1's, city radio-TV, 4 airings) and counted month: whether it exists, and whether one of
    its broadcasts meeting the quota's channel and length was aired often enough. A kind whose activity sets no
    quota owes nothing and is not counted."""
    station = units.alias("station")
    rule, kinds, needed = _station_quotas(ctx, station, units, of=tallies)
    cols = [f"m{m.first.month:02d}" for m in ctx.period.months]
    best = (
        select(tallies.c.unit_id, *(func.max(tallies.c[c]).label(c) for c in cols))
        .select_from(tallies.join(station, station.c.id == tallies.c.unit_id))
        .where(
            tallies.c.source == "airings",
            tallies.c.year == ctx.period.year,
            tallies.c.tag == "",
            rule,
            ctx.in_scope(tallies.c.unit_id),
        )
        .group_by(tallies.c.unit_id)
        .subquery("best")
    )
    joined = units.outerjoin(best, best.c.unit_id == units.c.id)
    return _wide(ctx, kinds, lambda c: best.c[c], needed, joined)


def forum_months(ctx: KpiContext) -> Select:
    """Per village or quarter and counted month: whether it exists, and whether C4's quota of forums was held
    there that month (seeded: one village forum). Without a C4 quota no village owes a forum: no rows."""
    quota = ctx.plan.village_forum
    tally = tallies.alias("forum_tally")
    joined = units.outerjoin(
        tally,
        and_(
            tally.c.source == "forums",
            tally.c.key_id == units.c.id,
            tally.c.tag == (quota.forum_kind if quota else ""),
            tally.c.year == ctx.period.year,
        ),
    )
    needed = quota.forums_per_month if quota else 1
    return _wide(ctx, VILLAGE_KINDS if quota else (), lambda c: tally.c[c], needed, joined)


def _sum(columns: list[ColumnElement]) -> ColumnElement:
    total = columns[0]
    for c in columns[1:]:
        total = total + c
    return total


def _per_unit(wide: Select) -> Select:
    sub = wide.subquery("unit_months")
    due = [c for c in sub.c if c.name.startswith("due_")]
    ok = [c for c in sub.c if c.name.startswith("ok_")]
    if not due:
        return select(sub.c.unit_id, literal(0).label("numerator"), literal(0).label("denominator")).where(false())
    return select(sub.c.unit_id, _sum(ok).label("numerator"), _sum(due).label("denominator")).where(_sum(due) > 0)


def per_month(wide: Select, months: tuple[Month, ...]) -> Select:
    """The monthly series of a month-by-month KPI: (month, numerator, denominator), months with a unit to count."""
    if not months:
        return select(
            literal("", String).label("month"), literal(0).label("numerator"), literal(0).label("denominator")
        ).where(false())
    sub = wide.cte("unit_months")
    parts = [
        select(
            literal(m.key, String).label("month"),
            func.sum(sub.c[f"ok_m{m.first.month:02d}"]).label("numerator"),
            func.sum(sub.c[f"due_m{m.first.month:02d}"]).label("denominator"),
        ).having(func.sum(sub.c[f"due_m{m.first.month:02d}"]) > 0)
        for m in months
    ]
    series = union_all(*parts).subquery("series")
    return select(series.c.month, series.c.numerator, series.c.denominator).order_by(series.c.month)


def broadcast_compliance(ctx: KpiContext) -> Select:
    return _per_unit(broadcast_months(ctx))


def forum_compliance(ctx: KpiContext) -> Select:
    return _per_unit(forum_months(ctx))


def _annual_reports(ctx: KpiContext, *conditions: ColumnElement[bool]) -> Select:
    joined = units.outerjoin(
        annual_reports,
        and_(
            annual_reports.c.unit_id == units.c.id,
            annual_reports.c.year == ctx.period.year,
            annual_reports.c.submitted_at < ctx.period.as_of_end,
            *conditions,
        ),
    )
    return (
        select(
            units.c.id.label("unit_id"),
            _flag(func.count(annual_reports.c.id) > 0).label("numerator"),
            literal(1).label("denominator"),
        )
        .select_from(joined)
        .where(*_active_units(ctx, ctx.plan.required_unit_kinds))
        .group_by(units.c.id)
    )


def annual_report_rate(ctx: KpiContext) -> Select:
    """Required units whose annual report for the year was submitted on or before as_of."""
    return _annual_reports(ctx)


def annual_report_timeliness(ctx: KpiContext) -> Select:
    """Required units whose annual report was submitted before 1 December, 00:00 local time."""
    return _annual_reports(ctx, annual_reports.c.submitted_at < ctx.period.report_deadline)
