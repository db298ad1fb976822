"""Which months and instants a KPI looks at, judged in local time (Asia/Ho_Chi_Minh, UTC+7, no DST since 1975).

Months are computed in SQL by one construct, `local_month`, compiled per dialect, so that SQLite and
PostgreSQL group an airing at 2022-04-30T17:30Z into the same local month (2022-05).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.timeutil import LOCAL_TZ


class local_month(FunctionElement):  # noqa: N801 - reads as the SQL function it is
    """`'YYYY-MM'` of an instant (stored in UTC) in local time."""

    type = String()
    inherit_cache = True
    name = "local_month"


class month_of(FunctionElement):  # noqa: N801
    """`'YYYY-MM'` of a date (a local date already: held_on, issued_on)."""

    type = String()
    inherit_cache = True
    name = "month_of"


@compiles(local_month, "sqlite")
def _local_month_sqlite(element: local_month, compiler, **kw) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+7 hours')"


@compiles(local_month, "postgresql")
def _local_month_postgresql(element: local_month, compiler, **kw) -> str:
    # AT TIME ZONE on a timestamptz gives local wall-clock time whatever the session's time zone is.
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_of_sqlite(element: month_of, compiler, **kw) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element: month_of, compiler, **kw) -> str:
    # Through `timestamp` (no time zone): a date never shifts, and it is cheaper than via timestamptz.
    return f"to_char(CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP), 'YYYY-MM')"


def local_midnight(day: date) -> datetime:
    """The UTC instant at which `day` begins in local time."""
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def month_after(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


@dataclass(frozen=True)
class Month:
    key: str  # YYYY-MM
    first: date
    last: date


@dataclass(frozen=True)
class Period:
    """The year a KPI is asked for, the as-of date that cuts off what counts, and the plan's window."""

    year: int
    as_of: date
    plan_start: date
    plan_end: date
    months: tuple[Month, ...] = field(init=False)

    def __post_init__(self) -> None:
        months = counted_months(self.year, self.as_of, self.plan_start, self.plan_end)
        object.__setattr__(self, "months", tuple(months))

    @property
    def first(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last(self) -> date:
        return date(self.year, 12, 31)

    @property
    def last_counted_day(self) -> date:
        """The earlier of 31 December and as_of."""
        return min(self.last, self.as_of)

    @property
    def as_of_end(self) -> datetime:
        """The UTC instant at which the as-of day ends locally: an instant before it is 'on or before as_of'."""
        return local_midnight(self.as_of + timedelta(days=1))

    @property
    def report_deadline(self) -> datetime:
        """1 December of the year, 00:00 local time: annual reports are on time strictly before it."""
        return local_midnight(date(self.year, 12, 1))

    @property
    def as_of_month(self) -> str:
        return f"{self.as_of:%Y-%m}"


def counted_months(year: int, as_of: date, plan_start: date, plan_end: date) -> list[Month]:
    """Months of `year` within the plan whose following month begins on or before `as_of`."""
    out = []
    for m in range(1, 13):
        first = date(year, m, 1)
        following = month_after(first)
        if first < plan_start.replace(day=1) or first > plan_end or following > as_of:
            continue
        out.append(Month(f"{year:04d}-{m:02d}", first, following - timedelta(days=1)))
    return out
