"""Broadcast and forum compliance (migration 0010) and the two training KPIs (migration 0011) read
`month_tallies`, which triggers keep in the same transaction as every write. Whatever is written, through the API
or around it, their answers must equal the raw aggregates over every airing, forum, training and participant
(`queries.raw_*`, what the KPIs computed before the tallies), for the city and for a ward, for every year and
as-of day (mid-month too: that month is counted from the records), and the tallies must equal a recount."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from app.config import get_settings
from app.db import make_engine
from app.kpis import queries
from app.kpis.periods import Period
from app.plans import lookup
from tests.conftest import BACKEND
from tests.conftest import run_sql as _sql
from tests.factories import Factory

VERSIONS = Path(__file__).parents[2] / "migrations/versions"
MONTHLY = {"broadcast_compliance": queries.raw_broadcast_months, "forum_compliance": queries.raw_forum_months}
PER_UNIT = {
    "official_training_coverage": queries.raw_official_training_coverage,
    "school_dx_coverage": queries.raw_school_dx_coverage,
}
CODES = (*MONTHLY, *PER_UNIT)


def _migration(name: str = "20261202_0010_month_tallies"):
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _rules(year: int, as_of: date):
    """The plan's rules for the year, read as GET /kpis reads them."""

    async def read():
        engine = make_engine(get_settings())
        try:
            async with engine.connect() as conn:
                office = await conn.scalar(text("SELECT id FROM units WHERE code = 'P-VHTT'"))
                found = await lookup.asked(conn, office, code=None, scoped=False)
                return found.rules(lookup.choose_from(found.plans, year=year, as_of=as_of)[0])
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _reference(year: int, as_of: date, scope: tuple[int, ...] | None) -> dict:
    """{code: ((numerator, denominator), {month: (numerator, denominator)})} from the raw aggregates."""
    rules = _rules(year, as_of)
    ctx = queries.KpiContext(Period(year, as_of, rules.starts_on, rules.ends_on), rules, scope)
    engine = create_engine(get_settings().sync_url)
    out = {}
    try:
        with engine.connect() as conn:

            def total(per_unit) -> tuple[int, int]:
                sub = per_unit.subquery()
                found = conn.execute(
                    select(func.coalesce(func.sum(sub.c.numerator), 0), func.coalesce(func.sum(sub.c.denominator), 0))
                ).one()
                return int(found[0]), int(found[1])

            for code, raw in MONTHLY.items():
                months = {
                    r.month: (int(r.numerator), int(r.denominator))
                    for r in conn.execute(queries.raw_per_month(raw(ctx)))
                }
                out[code] = (total(queries.raw_per_unit(raw(ctx))), months)
            for code, raw in PER_UNIT.items():
                out[code] = (total(raw(ctx)), None)
    finally:
        engine.dispose()
    return out


def _answers(api, year: int, as_of: date) -> dict:
    params = {"year": year, "as_of": as_of.isoformat()}
    r = api.get("/api/v1/kpis", params=params)
    assert r.status_code == 200, r.text
    totals = {k["code"]: (k["numerator"], k["denominator"]) for k in r.json()["items"] if k["code"] in CODES}
    r = api.get("/api/v1/reports/annual", params=params)
    assert r.status_code == 200, r.text
    monthly = r.json()["monthly"]
    series = {code: {p["month"]: (p["numerator"], p["denominator"]) for p in monthly[code]} for code in MONTHLY}
    return {code: (totals[code], series.get(code)) for code in CODES}


def _scope(ward_id: int) -> tuple[int, ...]:
    return tuple(sorted(r[0] for r in _sql("SELECT id FROM units WHERE id = :w OR parent_id = :w", w=ward_id)))


def _recount() -> set[tuple]:
    """Every source's tallies counted from scratch by its migration's backfill."""
    m, trained = _migration(), _migration("20261203_0011_training_tallies")
    postgresql = BACKEND == "postgresql"
    rows = set()
    for t in m.SOURCES:
        sql = m._pg_pivot(t, m._pg_rows(t, t, 1)) if postgresql else m._sqlite_backfill(t)
        rows |= {tuple(int(v) if isinstance(v, int) else v for v in r) for r in _sql(sql)}
    for t in trained.SOURCES:  # no broadcast columns
        rows |= {
            (*(int(v) if isinstance(v, int) else v for v in r), None, None, None)
            for r in _sql(trained.recount(t, postgresql))
        }
    return rows


def _tallies() -> set[tuple]:
    months = ", ".join(f"m{i:02d}" for i in range(1, 13))
    rows = _sql(f"SELECT source, key_id, tag, year, {months}, unit_id, channel, duration_minutes FROM month_tallies")
    return {tuple(r) for r in rows if any(r[4:16])}  # a row whose records all left it keeps zeros


def _check(world, lead, ward_api, ward_id: int, checked: tuple[str, ...] = tuple(MONTHLY)) -> None:
    assert _tallies() == _recount(), "month_tallies differ from a recount of the forums, airings and trainings"
    whole_year = _reference(2022, date(2023, 1, 1), _scope(ward_id))
    assert all(whole_year[code][0][0] > 0 for code in checked), (
        f"nothing compliant: the comparison proves nothing {whole_year}"
    )
    for year, as_of in (
        (2022, date(2022, 7, 31)),
        (2022, date(2023, 1, 1)),
        (2023, date(2023, 6, 15)),
        (2021, date(2022, 1, 1)),
        (2022, date(2022, 3, 1)),
        (2023, date(2023, 12, 31)),
    ):
        assert _answers(lead, year, as_of) == _reference(year, as_of, None), (
            f"the city's KPIs read from tallies for {year} as of {as_of} differ from the raw aggregates"
        )
        assert _answers(ward_api, year, as_of) == _reference(year, as_of, _scope(ward_id)), (
            f"a ward's KPIs read from tallies for {year} as of {as_of} differ from the raw aggregates over its scope"
        )


@pytest.fixture(scope="module")
def factory(world):
    f = Factory.for_world(world)
    yield f
    f.close()


def _if_match(api, path: str) -> dict:
    return {"If-Match": api.get(path).headers["etag"]}


def test_compliance_from_tallies_equals_the_raw_aggregates_after_every_kind_of_write(world, lead, factory):
    ward = world.new_unit("ward", "UBND-TK")
    ward_api = world.user("unit", ward["code"])
    villages = [world.new_unit("village", ward["code"])["id"] for _ in range(3)]
    # a quarter that exists from mid-March 2022, a village dissolved at the end of April 2022
    late = world.new_unit("quarter", ward["code"], established_on="2022-03-15")["id"]
    gone = world.new_unit("village", ward["code"], dissolved_on="2022-04-30")["id"]
    center = world.new_unit("media_center", "UBND-TK")["id"]

    def forum(unit: int, ref: str, held_on: str, kind: str = "village_forum") -> dict:
        body = {
            "unit_id": unit,
            "external_ref": ref,
            "kind": kind,
            "held_on": held_on,
            "title": "Diễn đàn CĐS",
            "attendees": 30,
            "questions_answered": 4,
        }
        r = lead.post("/api/v1/forums", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    made = [forum(v, f"f-{v}-{m}", f"2022-{m:02d}-10") for v in villages for m in (1, 2, 3, 5, 12)]
    forum(late, "late-3", "2022-03-01")  # before it existed: counts nowhere
    forum(gone, "gone-4", "2022-04-20")
    forum(villages[0], "dialogue", "2022-06-10", kind="business_dialogue")
    factory.forum(villages[1], "2023-02-28")  # around the API
    r = lead.post(
        "/api/v1/broadcasts",
        json={"unit_id": ward["id"], "channel": "ward_radio", "title": "Chuyên mục CĐS", "duration_minutes": 12,
              "produced_on": "2022-04-01", "airings": ["2022-04-30T17:30:00Z", "2022-05-10T01:00:00Z", "2022-05-20T01:00:00Z"]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    radio = r.json()
    factory.broadcast(center, channel="city_radio_tv", airings=[f"2022-02-0{d}T01:00:00Z" for d in range(1, 6)])
    too_long = factory.broadcast(
        ward["id"], duration_minutes=16, airings=[f"2022-06-0{d}T01:00:00Z" for d in range(1, 4)]
    )
    elsewhere = world.new_unit("ward", "UBND-TK")["id"]
    moving = factory.broadcast(elsewhere, airings=[f"2022-09-0{d}T01:00:00Z" for d in range(1, 4)])
    _check(world, lead, ward_api, ward["id"])

    # a forum moved to another month, another kind, another village; one deleted
    path = f"/api/v1/forums/{made[0]['id']}"
    assert lead.patch(path, json={"held_on": "2022-04-11"}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/forums/{made[1]['id']}"
    assert lead.patch(path, json={"kind": "business_dialogue"}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/forums/{made[2]['id']}"
    assert lead.patch(path, json={"unit_id": late}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/forums/{made[3]['id']}"
    assert lead.patch(path, json={"title": "Chỉ đổi tên"}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/forums/{made[4]['id']}"
    assert lead.delete(path, headers=_if_match(lead, path)).status_code == 204
    # the broadcast's airings replaced: May loses one (not compliant any more), July gains three
    path = f"/api/v1/broadcasts/{radio['id']}"
    body = {
        "airings": ["2022-05-10T01:00:00Z", "2022-05-20T01:00:00Z", *(f"2022-07-0{d}T01:00:00Z" for d in (1, 2, 3))]
    }
    assert lead.patch(path, json=body, headers=_if_match(lead, path)).status_code == 200
    # what B1 and B3 judge of a broadcast changes: its length (July no longer counts), its unit (September moves
    # to this ward), its channel
    assert lead.patch(path, json={"duration_minutes": 16}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/broadcasts/{moving}"
    assert lead.patch(path, json={"unit_id": ward["id"]}, headers=_if_match(lead, path)).status_code == 200
    path = f"/api/v1/broadcasts/{radio['id']}"
    assert lead.patch(path, json={"channel": "web_portal"}, headers=_if_match(lead, path)).status_code == 200
    assert (
        lead.patch(
            path, json={"channel": "ward_radio", "duration_minutes": 14}, headers=_if_match(lead, path)
        ).status_code
        == 200
    )
    _check(world, lead, ward_api, ward["id"])

    # an import of forums (creates and updates), then writes around the API and a broadcast deleted with its airings
    rows = [{"unit_id": v, "external_ref": f"imp-{v}-{m}", "kind": "village_forum", "held_on": f"2022-{m:02d}-05",
             "title": "Diễn đàn nhập", "attendees": 20, "questions_answered": 2} for v in (*villages, late) for m in (4, 6, 7)]  # fmt: skip
    rows.append({"unit_id": villages[2], "external_ref": f"f-{villages[2]}-5", "held_on": "2022-08-01"})
    r = lead.post("/api/v1/imports/forums", json={"rows": rows})
    assert r.status_code == 200 and r.json()["status"] == "committed", r.text
    _sql("UPDATE forums SET held_on = :d WHERE unit_id = :u AND external_ref LIKE 'imp-%'", d=date(2023, 3, 3), u=late)
    _sql("DELETE FROM forums WHERE unit_id = :u AND held_on < :d", u=villages[1], d=date(2022, 3, 1))
    _sql("UPDATE airings SET aired_at = aired_at WHERE broadcast_id = :b", b=radio["id"])  # no change at all
    _sql("UPDATE broadcasts SET duration_minutes = 12 WHERE id = :b", b=too_long)  # June counts now
    factory.broadcast(ward["id"], airings=[f"2022-08-0{d}T01:00:00Z" for d in range(1, 4)])
    path = f"/api/v1/broadcasts/{radio['id']}"
    assert lead.delete(path, headers=_if_match(lead, path)).status_code == 204
    _check(world, lead, ward_api, ward["id"])


def test_training_kpis_from_tallies_equal_the_raw_aggregates_after_every_kind_of_write(world, lead, factory):
    ward = world.new_unit("ward", "UBND-TK", staff_count=20)
    ward_api = world.user("unit", ward["code"])
    village = world.new_unit("village", ward["code"], staff_count=6)["id"]
    schools = [world.new_unit("school", ward["code"])["id"] for _ in range(2)]
    other = world.new_unit("ward", "UBND-TK", staff_count=9)["id"]

    def training(unit: int, ref: str, held_on: str, audience: str, who: dict[int, int]) -> dict:
        body = {
            "unit_id": unit,
            "external_ref": ref,
            "audience": audience,
            "held_on": held_on,
            "title": "Tập huấn chuyển đổi số",
            "participants": [{"unit_id": u, "count": n} for u, n in who.items()],
        }
        r = lead.post("/api/v1/trainings", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    made = [
        training(ward["id"], "o-1", "2022-03-10", "officials", {ward["id"]: 3, village: 2, other: 4}),
        training(ward["id"], "o-2", "2022-06-15", "officials", {ward["id"]: 5}),
        training(other, "o-3", "2021-06-30", "officials", {ward["id"]: 7, other: 1}),  # before the plan began
        training(ward["id"], "o-4", "2023-06-10", "officials", {village: 3}),
        training(ward["id"], "o-5", "2023-06-20", "officials", {village: 1, other: 2}),  # after 15 June
        training(schools[0], "s-1", "2022-05-05", "students", {schools[0]: 120}),
        training(schools[1], "s-2", "2023-06-16", "students", {schools[1]: 80}),
        training(schools[1], "s-3", "2022-02-28", "students", {schools[1]: 60}),
    ]
    factory.training(schools[1], "2022-11-30", audience="students", participants={schools[1]: 40})  # around the API
    factory.training(other, "2021-07-01", participants={ward["id"]: 2})
    _check(world, lead, ward_api, ward["id"], tuple(PER_UNIT))

    # moved to another month and another year, another audience; participants replaced; one deleted
    for i, change in (
        (0, {"held_on": "2022-08-01"}),
        (1, {"held_on": "2023-01-05"}),
        (3, {"audience": "residents"}),
        (4, {"participants": [{"unit_id": village, "count": 4}, {"unit_id": ward["id"], "count": 6}]}),
        (5, {"unit_id": schools[1], "held_on": "2022-12-31"}),
        (6, {"title": "Chỉ đổi tên"}),
    ):
        path = f"/api/v1/trainings/{made[i]['id']}"
        r = lead.patch(path, json=change, headers=_if_match(lead, path))
        assert r.status_code == 200, f"PATCH {change}: {r.text}"
    path = f"/api/v1/trainings/{made[7]['id']}"
    assert lead.delete(path, headers=_if_match(lead, path)).status_code == 204
    _check(world, lead, ward_api, ward["id"], tuple(PER_UNIT))

    # an import (creates and an update), then writes around the API, and a cascade delete of a training
    rows = [
        {"unit_id": ward["id"], "external_ref": f"imp-{m}", "audience": "officials", "title": "Lớp nhập",
         "held_on": f"2022-{m:02d}-09", "participants": [{"unit_id": village, "count": m}]} for m in (4, 9)
    ]  # fmt: skip
    rows.append({"unit_id": ward["id"], "external_ref": "o-4", "held_on": "2022-10-10", "audience": "officials"})
    r = lead.post("/api/v1/imports/trainings", json={"rows": rows})
    assert r.status_code == 200 and r.json()["status"] == "committed", r.text
    _sql("UPDATE training_participants SET count = count + 2 WHERE unit_id = :u", u=village)
    _sql("UPDATE training_participants SET unit_id = :o WHERE training_id = :t", o=other, t=made[1]["id"])
    _sql("UPDATE trainings SET held_on = :d WHERE id = :t", d=date(2022, 7, 7), t=made[0]["id"])
    _sql("UPDATE trainings SET title = 'x' WHERE unit_id = :u", u=schools[1])  # no change at all
    _sql("DELETE FROM training_participants WHERE training_id = :t AND unit_id = :u", t=made[4]["id"], u=village)
    _sql("INSERT INTO training_participants (training_id, unit_id, count) VALUES (:t, :u, 5)", t=made[2]["id"],
         u=village)  # fmt: skip
    _sql("DELETE FROM trainings WHERE id = :t", t=made[0]["id"])  # its participants go by ON DELETE CASCADE
    _check(world, lead, ward_api, ward["id"], tuple(PER_UNIT))


def test_the_migration_puts_a_trigger_on_every_event(world):
    m = _migration()
    if BACKEND == "postgresql":
        rows = _sql("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dx_tally_%'")
    else:
        rows = _sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dx_tally_%'")
    events = ("ins", "upd", "del", "trunc") if BACKEND == "postgresql" else ("ins", "upd", "del")
    owners = {f"dx_tally_{owner}_upd" for owner, _ in m.OWNERS.values()}
    # a training's participants move with its day and audience, and leave with it
    owners |= {"dx_tally_trainings_upd_participants", "dx_tally_trainings_gone"}
    sources = (*m.SOURCES, *_migration("20261203_0011_training_tallies").SOURCES)
    assert {r[0] for r in rows} == {f"dx_tally_{t}_{e}" for t in sources for e in events} | owners


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks: PostgreSQL (SQLite has one writer at a time)")
def test_a_training_moved_while_another_is_written_with_its_participants_waits_instead_of_deadlocking(world, factory):
    """Every path takes a training's tally row before its participants' rows. A move used to take them the other
    way round: a concurrent create (the training, then its participants) and a move of another training of the
    same unit, audience and year deadlocked, and one of them was a 503."""
    import threading
    import time

    ward = world.new_unit("ward", "UBND-TK", staff_count=10)["id"]
    other = world.new_unit("ward", "UBND-TK", staff_count=10)["id"]
    moving = factory.training(ward, "2022-02-10", participants={other: 3})
    engine = create_engine(get_settings().sync_url)
    creating, mover = engine.connect(), engine.connect()
    outcome: dict[str, object] = {}
    try:
        made = creating.execute(
            text(
                "INSERT INTO trainings (created_at, updated_at, version, unit_id, audience, title, held_on) "
                "VALUES (now(), now(), 1, :u, 'officials', 'Tập huấn', '2022-03-05') RETURNING id"
            ),
            {"u": ward},
        ).scalar_one()  # holds the tally row of (ward, officials, 2022) until it commits
        pid = mover.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def move() -> None:
            try:
                mover.execute(text("UPDATE trainings SET held_on = '2022-03-20' WHERE id = :t"), {"t": moving})
                mover.commit()
                outcome["move"] = "committed"
            except Exception as exc:  # what the API would have answered for it
                outcome["move"] = repr(exc)
                mover.rollback()

        thread = threading.Thread(target=move)
        thread.start()
        waiting = False
        for _ in range(500):  # until the move waits for the create's lock: else the test proves nothing
            waiting = bool(
                _sql("SELECT count(*) FROM pg_stat_activity WHERE pid = :p AND wait_event_type = 'Lock'", p=pid)[0][0]
            )
            if waiting:
                break
            time.sleep(0.01)
        assert waiting, "the move never waited for the create: the race was not set up"
        creating.execute(
            text("INSERT INTO training_participants (training_id, unit_id, count) VALUES (:t, :u, 2)"),
            {"t": made, "u": other},
        )
        creating.commit()
        thread.join(30)
        assert outcome.get("move") == "committed", f"the move of a training failed: {outcome.get('move')}"
    finally:
        creating.close()
        mover.close()
        engine.dispose()
    assert _tallies() == _recount(), "month_tallies differ from a recount after the two concurrent writes"
