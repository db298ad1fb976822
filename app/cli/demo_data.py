"""`python -m app demo-data`: a realistic synthetic province for trying the API and benchmarking the KPIs.

Deterministic (one seeded random generator, fixed order). Written with COPY on PostgreSQL and with
executemany on SQLite, with ids assigned here so that child rows (airings, participants, items) need no
round trip, through the write service's bulk writer (one audit row per table). The rows are the system's own,
built valid (one count per unit in a training, so that its export imports back), so they skip the per-row
checks an import makes. Units get codes `DM-...`; running it twice on one database is refused, and so is a
database that holds real records unless `--force`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.broadcasts.schemas import Channel
from app.budget.schemas import BudgetStatus as Status
from app.budget.schemas import FundingSource
from app.common import bulk, writes
from app.common.text import fold
from app.config import Settings
from app.db import make_engine
from app.forums.schemas import ForumKind
from app.kpis.periods import local_midnight, month_after
from app.models import (
    Airing,
    AnnualReport,
    Broadcast,
    BudgetItem,
    BudgetRound,
    BudgetSubmission,
    Forum,
    SatisfactionSurvey,
    Training,
    TrainingParticipant,
    Unit,
    UnitPlan,
)
from app.surveys.schemas import SurveySource
from app.trainings.schemas import Audience
from app.units.schemas import UnitKind as K

PREFIX = "DM-"


@dataclass
class Options:
    wards: int = 250
    villages: int = 2000
    schools: int | None = None  # default: 3 for every 5 wards
    media_centers: int | None = None  # default: 1 for every 15 wards
    years: tuple[int, int] = (2021, 2025)
    news_per_month: int = 6  # other items a ward produces each month besides its DX report
    replays: int = 40  # mean airings of a ward-radio news item (loudspeakers replay it for days)
    seed: int = 20211
    dissolved_share: float = 0.02  # wards merged away in mid-plan (their villages go with them)
    force: bool = False  # load even into a database that holds real records


@dataclass
class DemoUnit:
    id: int
    kind: str
    parent_id: int
    staff: int
    established_on: date | None = None
    dissolved_on: date | None = None

    def exists(self, first: date, last: date) -> bool:
        return (self.established_on is None or self.established_on <= last) and (
            self.dissolved_on is None or self.dissolved_on > first
        )


class Sink:
    """Writes the generated rows of each table through the write service's bulk writer (COPY on PostgreSQL,
    executemany on SQLite), a chunk at a time, with one audit row per table."""

    CHUNK = 50_000

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.counts: dict[str, int] = {}
        self._next: dict[str, int] = {}

    async def start(self) -> None:
        """Every table's next id, read before any COPY starts (no query can run while one is open)."""
        for name, t in _TABLES.items():
            self._next[name] = (await self.conn.scalar(select(func.max(t.c.id))) or 0) + 1

    def next_id(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value

    async def write(self, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
        n = 0
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= self.CHUNK:
                n += await self._flush(table, columns, chunk)
        n += await self._flush(table, columns, chunk)
        self.counts[table] = self.counts.get(table, 0) + n
        await writes.record_load(self.conn, table, {"rows": n}, action="demo-data")

    async def _flush(self, table: str, columns: list[str], chunk: list[tuple]) -> int:
        n = len(chunk)
        await bulk.insert_values(self.conn, _TABLES[table], columns, list(chunk))
        chunk.clear()
        return n

    async def finish(self) -> None:
        if self.conn.dialect.name == "postgresql":
            for table in self.counts:
                await self.conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )


_TABLES = {
    m.__tablename__: m.__table__
    for m in (
        Airing,
        AnnualReport,
        Broadcast,
        BudgetItem,
        BudgetRound,
        BudgetSubmission,
        Forum,
        SatisfactionSurvey,
        Training,
        TrainingParticipant,
        Unit,
        UnitPlan,
    )
}
RECORD = ["id", "created_at", "updated_at", "version"]


def _months(years: tuple[int, int]) -> list[tuple[date, date, datetime, float]]:
    """(first, last, local start as UTC, length in seconds) of every month of the years."""
    out = []
    for year in range(years[0], years[1] + 1):
        for m in range(1, 13):
            first = date(year, m, 1)
            following = month_after(first)
            start = local_midnight(first)
            out.append(
                (first, following - timedelta(days=1), start, (local_midnight(following) - start).total_seconds())
            )
    return out


class Generator:
    def __init__(self, sink: Sink, opts: Options, now: datetime) -> None:
        self.sink, self.opts, self.now = sink, opts, now
        self.rnd = random.Random(opts.seed)
        self.months = _months(opts.years)

    def stamp(self, record_id: int) -> tuple:
        return (record_id, self.now, self.now, 1)

    # --- units -------------------------------------------------------------------------------------

    async def units(self, city_id: int, existing: list[DemoUnit]) -> dict[str, list[DemoUnit]]:
        o, rnd = self.opts, self.rnd
        made: dict[str, list[DemoUnit]] = {"ward": [], "village": [], "school": [], "media_center": []}
        rows: list[tuple] = []
        merge_day = date(o.years[0] + (o.years[1] - o.years[0]) // 2, 7, 1)

        def add(
            kind: str,
            parent: int,
            code: str,
            name: str,
            staff: int,
            dissolved: date | None = None,
            merged_into: int | None = None,
            group: str | None = None,
        ) -> DemoUnit:
            unit = DemoUnit(self.sink.next_id("units"), kind, parent, staff, None, dissolved)
            rows.append(
                (*self.stamp(unit.id), code, name, fold(name), kind, parent, False, staff, None, dissolved, merged_into)
            )
            made[group or kind].append(unit)
            return unit

        for i in range(o.media_centers if o.media_centers is not None else max(1, o.wards // 15)):
            add(
                K.MEDIA_CENTER.value,
                city_id,
                f"{PREFIX}TT-{i + 1:03d}",
                f"Trung tâm Truyền thông - Văn hóa {i + 1:03d}",
                rnd.randint(10, 30),
            )
        for i in range(o.wards):
            kind = K.WARD.value if i % 10 < 7 else K.COMMUNE.value
            label = "Phường" if kind == K.WARD else "Xã"
            add(kind, city_id, f"{PREFIX}W-{i + 1:04d}", f"{label} Mẫu {i + 1:04d}", rnd.randint(15, 40), group="ward")
        wards = made["ward"]
        row_of = {r[0]: i for i, r in enumerate(rows)}
        for n, ward in enumerate(wards[1:], start=1):
            if rnd.random() < o.dissolved_share:
                ward.dissolved_on = merge_day
                # merged into the ward written before it: a unit written in a later batch would not exist yet
                # when this one's foreign key is checked (SQLite checks each batch's statement on its own)
                index = row_of[ward.id]
                rows[index] = (*rows[index][:-2], merge_day, wards[n - 1].id)
        for i in range(o.villages):
            ward = wards[i % len(wards)]
            kind = K.QUARTER.value if ward.kind == K.WARD else K.VILLAGE.value
            label = "Khối phố" if kind == K.QUARTER else "Thôn"
            add(
                kind,
                ward.id,
                f"{PREFIX}V-{i + 1:05d}",
                f"{label} Mẫu {i + 1:05d}",
                0,
                ward.dissolved_on,
                group="village",
            )
        for i in range(o.schools if o.schools is not None else o.wards * 3 // 5):
            ward = wards[i % len(wards)]
            add(
                K.SCHOOL.value,
                ward.id,
                f"{PREFIX}S-{i + 1:04d}",
                f"Trường THCS Mẫu {i + 1:04d}",
                rnd.randint(20, 80),
                ward.dissolved_on,
            )
        await self.sink.write(
            "units",
            [
                *RECORD,
                "code",
                "name",
                "search_name",
                "kind",
                "parent_id",
                "is_pilot",
                "staff_count",
                "established_on",
                "dissolved_on",
                "merged_into_id",
            ],
            rows,
        )
        made["required"] = [
            u for u in existing if u.kind in (K.DEPARTMENT, K.MEDIA_CENTER, K.ASSOCIATION, K.WARD, K.COMMUNE)
        ]
        made["required"] += made["media_center"] + wards
        made["staffed"] = [u for u in existing if u.staff > 0] + made["media_center"] + wards + made["school"]
        return made

    # --- records -------------------------------------------------------------------------------------

    def _instant(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=int(self.rnd.random() * seconds))

    async def forums(self, villages: list[DemoUnit], wards: list[DemoUnit]) -> None:
        rnd = self.rnd

        def rows() -> Iterator[tuple]:
            for first, last, _start, _len in self.months:
                days = (last - first).days + 1
                for v in villages:
                    if v.exists(first, last) and rnd.random() < 0.92:
                        yield (
                            *self.stamp(self.sink.next_id("forums")),
                            v.id,
                            None,
                            None,
                            ForumKind.VILLAGE_FORUM.value,
                            first + timedelta(days=rnd.randrange(days)),
                            "Diễn đàn chuyển đổi số",
                            rnd.randint(15, 80),
                            rnd.randint(0, 12),
                        )
                if first.month % 3 == 0:
                    for w in wards:
                        if w.exists(first, last) and rnd.random() < 0.3:
                            yield (
                                *self.stamp(self.sink.next_id("forums")),
                                w.id,
                                None,
                                None,
                                ForumKind.BUSINESS_DIALOGUE.value,
                                first + timedelta(days=rnd.randrange(days)),
                                "Đối thoại doanh nghiệp",
                                rnd.randint(10, 40),
                                rnd.randint(0, 10),
                            )

        await self.sink.write(
            "forums",
            [
                *RECORD,
                "unit_id",
                "external_ref",
                "topics",
                "kind",
                "held_on",
                "title",
                "attendees",
                "questions_answered",
            ],
            rows(),
        )

    async def broadcasts(self, wards: list[DemoUnit], centers: list[DemoUnit]) -> None:
        o, rnd = self.opts, self.rnd
        plan: list[tuple[int, datetime, float, int]] = []  # (broadcast id, month start, month seconds, airings)

        def item(unit: DemoUnit, channel: str, duration: int, month: tuple, airings: int, title: str) -> tuple:
            first, last, start, seconds = month
            broadcast_id = self.sink.next_id("broadcasts")
            plan.append((broadcast_id, start, seconds, airings))
            return (
                *self.stamp(broadcast_id),
                unit.id,
                None,
                None,
                channel,
                title,
                duration,
                first + timedelta(days=rnd.randrange(3)),
                None,
            )

        def rows() -> Iterator[tuple]:
            for month in self.months:
                first, last = month[0], month[1]
                for w in wards:
                    if not w.exists(first, last):
                        continue
                    duration = rnd.choice((8, 10, 11, 12, 12, 13, 14, 15, 15, 12, 12, 18))
                    yield item(
                        w,
                        Channel.WARD_RADIO.value,
                        duration,
                        month,
                        rnd.choice((2, 3, 3, 3, 3, 4)),
                        "Phóng sự chuyển đổi số",
                    )
                    for _ in range(o.news_per_month):
                        if rnd.random() < 0.7:
                            airings = max(1, int(rnd.expovariate(1 / o.replays))) if o.replays else 1
                            yield item(
                                w, Channel.WARD_RADIO.value, rnd.randint(2, 30), month, airings, "Bản tin phường"
                            )
                        else:
                            yield item(w, Channel.WEB_PORTAL.value, 0, month, 1, "Tin bài trên cổng thông tin")
                for c in centers:
                    yield item(
                        c,
                        Channel.CITY_RADIO_TV.value,
                        rnd.randint(15, 30),
                        month,
                        rnd.choice((3, 4, 4, 4, 4, 5)),
                        "Chuyên mục chuyển đổi số",
                    )

        await self.sink.write(
            "broadcasts",
            [
                *RECORD,
                "unit_id",
                "external_ref",
                "topics",
                "channel",
                "title",
                "duration_minutes",
                "produced_on",
                "url",
            ],
            rows(),
        )

        def airing_rows() -> Iterator[tuple]:
            next_id = self.sink.next_id
            for broadcast_id, start, seconds, n in plan:
                for _ in range(n):
                    yield (next_id("airings"), broadcast_id, self._instant(start, seconds))

        await self.sink.write("airings", ["id", "broadcast_id", "aired_at"], airing_rows())

    async def trainings(self, units: dict[str, list[DemoUnit]], departments: list[DemoUnit]) -> None:
        rnd = self.rnd
        participants: list[tuple] = []
        staffed = units["staffed"]

        def training(organiser: DemoUnit, audience: str, held_on: date, who: list[tuple[DemoUnit, int]]) -> tuple:
            training_id = self.sink.next_id("trainings")
            for unit, count in who:
                participants.append((self.sink.next_id("training_participants"), training_id, unit.id, count))
            return (*self.stamp(training_id), organiser.id, None, None, audience, "Tập huấn chuyển đổi số", held_on)

        def rows() -> Iterator[tuple]:
            for year in range(self.opts.years[0], self.opts.years[1] + 1):
                first, last = date(year, 1, 1), date(year, 12, 31)

                def day(first: date = first) -> date:
                    return first + timedelta(days=rnd.randrange(365))

                for w in units["ward"]:
                    if not w.exists(first, last):
                        continue
                    who = [(w, max(1, w.staff // rnd.randint(3, 6)))]
                    # one count per unit (API.md section 4): the ward itself is not sampled again
                    others = [u for u in rnd.sample(staffed, min(4, len(staffed))) if u is not w][:3]
                    who += [(u, max(1, u.staff // rnd.randint(6, 15))) for u in others]
                    yield training(w, Audience.OFFICIALS.value, day(), who)
                    for v in rnd.sample(units["village"], min(2, len(units["village"]))):
                        yield training(w, Audience.RESIDENTS.value, day(), [(v, rnd.randint(20, 90))])
                for d in departments:
                    yield training(
                        d,
                        Audience.OFFICIALS.value,
                        day(),
                        [(u, rnd.randint(1, 4)) for u in rnd.sample(staffed, min(15, len(staffed)))],
                    )
                for s in units["school"]:
                    if not s.exists(first, last):
                        continue
                    for _ in range(rnd.choice((0, 1, 1, 2, 3))):
                        yield training(s, Audience.STUDENTS.value, day(), [(s, rnd.randint(40, 400))])
                for v in units["village"]:
                    if v.exists(first, last):
                        for quarter in range(4):
                            held = date(year, quarter * 3 + 1, 1) + timedelta(days=rnd.randrange(85))
                            yield training(v, Audience.RESIDENTS.value, held, [(v, rnd.randint(10, 60))])

        await self.sink.write(
            "trainings", [*RECORD, "unit_id", "external_ref", "topics", "audience", "title", "held_on"], rows()
        )
        await self.sink.write("training_participants", ["id", "training_id", "unit_id", "count"], participants)

    async def surveys(self, wards: list[DemoUnit]) -> None:
        rnd = self.rnd

        def rows() -> Iterator[tuple]:
            for first, last, _s, _l in self.months:
                for w in wards:
                    if not w.exists(first, last):
                        continue
                    for source in (s.value for s in SurveySource):
                        respondents = rnd.randint(20, 400)
                        satisfied = int(respondents * rnd.uniform(0.68, 0.97))
                        yield (
                            *self.stamp(self.sink.next_id("satisfaction_surveys")),
                            w.id,
                            None,
                            f"{first:%Y-%m}",
                            source,
                            respondents,
                            satisfied,
                        )

        await self.sink.write(
            "satisfaction_surveys",
            [*RECORD, "unit_id", "external_ref", "month", "source", "respondents", "satisfied"],
            rows(),
        )

    async def filings(self, required: list[DemoUnit], today: date) -> None:
        rnd = self.rnd
        plans: list[tuple] = []
        reports: list[tuple] = []
        for year in range(self.opts.years[0], self.opts.years[1] + 1):
            first, last = date(year, 1, 1), date(year, 12, 31)
            for u in required:
                if not u.exists(first, last):
                    continue
                if rnd.random() < 0.9:
                    issued = first + timedelta(days=rnd.randint(4, 90))
                    plans.append(
                        (
                            *self.stamp(self.sink.next_id("unit_plans")),
                            u.id,
                            None,
                            None,
                            year,
                            f"Kế hoạch truyền thông về chuyển đổi số năm {year}",
                            f"{rnd.randint(1, 300)}/KH",
                            issued,
                            None,
                        )
                    )
                submitted = local_midnight(date(year, 11, 10)) + timedelta(seconds=rnd.randrange(35 * 86400))
                if rnd.random() < 0.88 and submitted.date() <= today:
                    reports.append(
                        (
                            *self.stamp(self.sink.next_id("annual_reports")),
                            u.id,
                            None,
                            None,
                            year,
                            "Báo cáo kết quả thực hiện kế hoạch",
                            submitted,
                            None,
                        )
                    )
        await self.sink.write(
            "unit_plans",
            [*RECORD, "unit_id", "external_ref", "topics", "year", "title", "document_number", "issued_on", "url"],
            plans,
        )
        await self.sink.write(
            "annual_reports",
            [*RECORD, "unit_id", "external_ref", "topics", "year", "summary", "submitted_at", "url"],
            reports,
        )

    async def budget(self, wards: list[DemoUnit]) -> None:
        rnd = self.rnd
        rounds, submissions, items = [], [], []
        S = Status  # the mix of statuses a province's submissions are in
        statuses = tuple(
            x.value
            for x in (
                S.DRAFT,
                S.SUBMITTED,
                S.RETURNED,
                S.FORWARDED,
                S.APPRAISED,
                S.APPROVED,
                S.APPROVED,
                S.REJECTED,
                S.WITHDRAWN,
            )
        )
        for year in range(self.opts.years[0], self.opts.years[1] + 1):
            for half, deadline in (("H1", date(year, 3, 31)), ("H2", date(year, 9, 30))):
                round_id = self.sink.next_id("budget_rounds")
                rounds.append(
                    (
                        *self.stamp(round_id),
                        f"Đợt đề nghị kinh phí {year}-{half}",
                        f"{year}-{half}",
                        local_midnight(deadline),
                    )
                )
                for w in wards:
                    if rnd.random() > 0.5:
                        continue
                    submission_id = self.sink.next_id("budget_submissions")
                    requested = 0
                    for position in range(rnd.randint(1, 3)):
                        quantity, cost = rnd.randint(1, 20), rnd.randint(1, 50) * 100_000
                        requested += quantity * cost
                        items.append(
                            (
                                self.sink.next_id("budget_items"),
                                submission_id,
                                position,
                                "Chi phí tổ chức hoạt động",
                                quantity,
                                cost,
                                quantity * cost,
                            )
                        )
                    status = rnd.choice(statuses)
                    appraised = requested * rnd.randint(70, 100) // 100 if status in (S.APPRAISED, S.APPROVED) else None
                    approved = appraised * rnd.randint(80, 100) // 100 if status == S.APPROVED and appraised else None
                    submitted = (
                        None
                        if status == Status.DRAFT
                        else local_midnight(deadline) - timedelta(days=rnd.randint(-5, 40))
                    )
                    submissions.append(
                        (
                            *self.stamp(submission_id),
                            round_id,
                            w.id,
                            None,
                            "Tổ chức diễn đàn, tập huấn",
                            FundingSource.CITY_BUDGET.value,
                            status,
                            requested,
                            appraised,
                            approved,
                            None,
                            None,
                            submitted,
                            bool(submitted and submitted > local_midnight(deadline)),
                            None,
                        )
                    )
        await self.sink.write("budget_rounds", [*RECORD, "title", "period", "deadline"], rounds)
        await self.sink.write(
            "budget_submissions",
            [
                *RECORD,
                "round_id",
                "unit_id",
                "activity_id",
                "title",
                "funding_source",
                "status",
                "requested_total_vnd",
                "appraised_total_vnd",
                "approved_total_vnd",
                "decision_number",
                "decision_date",
                "submitted_at",
                "late",
                "external_ref",
            ],
            submissions,
        )
        await self.sink.write(
            "budget_items",
            ["id", "submission_id", "position", "description", "quantity", "unit_cost_vnd", "amount_vnd"],
            items,
        )


# the operational records a real city writes; any of them means the database is not a demo's to fill
REAL_RECORDS = ("forums", "broadcasts", "trainings", "satisfaction_surveys", "unit_plans", "annual_reports",
                "budget_submissions", "contest_entries", "activity_reports")  # fmt: skip


async def real_records(conn: AsyncConnection) -> int:
    metadata = _TABLES["units"].metadata
    return sum([await conn.scalar(select(func.count()).select_from(metadata.tables[t])) or 0 for t in REAL_RECORDS])


async def generate(conn: AsyncConnection, opts: Options, log: Callable[[str], None] = print) -> dict[str, int]:
    """Write the demo province into an already migrated and seeded database (in the caller's transaction)."""
    units = _TABLES["units"]
    if await conn.scalar(select(units.c.id).where(units.c.code.like(f"{PREFIX}%")).limit(1)) is not None:
        raise SystemExit("error: demo data is already loaded in this database")
    city_id = await conn.scalar(select(units.c.id).where(units.c.code == "UBND-TK"))
    if city_id is None:
        raise SystemExit("error: the database is not seeded (run `python -m app seed`)")
    held = await real_records(conn)
    if held and not opts.force:
        raise SystemExit(
            f"error: this database already holds {held:,} real records; a synthetic province would mix with "
            "them in every KPI and report (add --force if that is what you want)"
        )
    existing = [
        DemoUnit(r.id, r.kind, r.parent_id or 0, r.staff_count, r.established_on, r.dissolved_on)
        for r in await conn.execute(
            select(
                units.c.id,
                units.c.kind,
                units.c.parent_id,
                units.c.staff_count,
                units.c.established_on,
                units.c.dissolved_on,
            )
        )
    ]
    sink = Sink(conn)
    await sink.start()
    gen = Generator(sink, opts, datetime.now(UTC))
    made: dict[str, list[DemoUnit]] = {}

    async def do_units() -> None:
        made.update(await gen.units(city_id, existing))

    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("units", do_units),
        ("forums", lambda: gen.forums(made["village"], made["ward"])),
        ("broadcasts and airings", lambda: gen.broadcasts(made["ward"], made["media_center"])),
        ("trainings", lambda: gen.trainings(made, [u for u in existing if u.kind == K.DEPARTMENT])),
        ("satisfaction surveys", lambda: gen.surveys(made["ward"])),
        ("unit plans and annual reports", lambda: gen.filings(made["required"], datetime.now(UTC).date())),
        ("budget", lambda: gen.budget(made["ward"])),
    ]
    for label, step in steps:
        started = time.perf_counter()
        await step()
        log(f"  {label}: {time.perf_counter() - started:.1f} s")
    await sink.finish()
    return sink.counts


def run(settings: Settings, opts: Options) -> dict[str, int]:
    started = time.perf_counter()

    async def load() -> dict[str, int]:
        engine = make_engine(settings)
        try:
            async with engine.begin() as conn:
                return await generate(conn, opts)
        finally:
            await engine.dispose()

    counts = asyncio.run(load())
    if settings.sync_url.startswith("postgresql"):
        engine = create_engine(settings.sync_url)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
        engine.dispose()
    total = sum(counts.values())
    print(f"demo data: {total:,} rows in {time.perf_counter() - started:.1f} s")
    for table, n in counts.items():
        print(f"  {table}: {n:,}")
    return counts


def parse_years(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    years = (int(first), int(last or first))
    if not (2000 <= years[0] <= years[1] <= 2100):
        raise ValueError("years as YYYY-YYYY between 2000 and 2100")
    return years
