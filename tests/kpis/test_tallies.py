"""Broadcast and forum compliance read `month_tallies` (migration 0010), which triggers keep in the same
transaction as every write. Whatever is written, through the API or around it, their answers must equal the raw
aggregates over every airing and forum (`queries.raw_*`, what the KPIs computed before the tallies), for the
city and for a ward, for every year and as-of day, and the tallies must equal a recount from scratch."""

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

MIGRATION = Path(__file__).parents[2] / "migrations/versions/20261202_0010_month_tallies.py"
RAW = {"broadcast_compliance": queries.raw_broadcast_months, "forum_compliance": queries.raw_forum_months}


def _migration():
    spec = importlib.util.spec_from_file_location("m0010", MIGRATION)
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
            for code, raw in RAW.items():
                per_unit = queries.raw_per_unit(raw(ctx)).subquery()
                total = conn.execute(
                    select(
                        func.coalesce(func.sum(per_unit.c.numerator), 0),
                        func.coalesce(func.sum(per_unit.c.denominator), 0),
                    )
                ).one()
                months = {
                    r.month: (int(r.numerator), int(r.denominator))
                    for r in conn.execute(queries.raw_per_month(raw(ctx)))
                }
                out[code] = ((int(total[0]), int(total[1])), months)
    finally:
        engine.dispose()
    return out


def _answers(api, year: int, as_of: date) -> dict:
    params = {"year": year, "as_of": as_of.isoformat()}
    r = api.get("/api/v1/kpis", params=params)
    assert r.status_code == 200, r.text
    totals = {k["code"]: (k["numerator"], k["denominator"]) for k in r.json()["items"] if k["code"] in RAW}
    r = api.get("/api/v1/reports/annual", params=params)
    assert r.status_code == 200, r.text
    monthly = r.json()["monthly"]
    return {
        code: (totals[code], {p["month"]: (p["numerator"], p["denominator"]) for p in monthly[code]}) for code in RAW
    }


def _scope(ward_id: int) -> tuple[int, ...]:
    return tuple(sorted(r[0] for r in _sql("SELECT id FROM units WHERE id = :w OR parent_id = :w", w=ward_id)))


def _recount() -> set[tuple]:
    m = _migration()
    rows = set()
    for t in m.SOURCES:
        sql = m._pg_pivot(t, m._pg_rows(t, t, 1)) if BACKEND == "postgresql" else m._sqlite_backfill(t)
        rows |= {tuple(int(v) if isinstance(v, int) else v for v in r) for r in _sql(sql)}
    return rows


def _tallies() -> set[tuple]:
    months = ", ".join(f"m{i:02d}" for i in range(1, 13))
    rows = _sql(f"SELECT source, key_id, tag, year, {months}, unit_id, channel, duration_minutes FROM month_tallies")
    return {tuple(r) for r in rows if any(r[4:16])}  # a row whose records all left it keeps zeros


def _check(world, lead, ward_api, ward_id: int) -> None:
    assert _tallies() == _recount(), "month_tallies differ from a recount of the forums and airings"
    whole_year = _reference(2022, date(2023, 1, 1), _scope(ward_id))
    assert all(whole_year[code][0][0] > 0 for code in RAW), (
        f"nothing compliant: the comparison proves nothing {whole_year}"
    )
    for year, as_of in (
        (2022, date(2022, 7, 31)),
        (2022, date(2023, 1, 1)),
        (2023, date(2023, 6, 15)),
        (2021, date(2022, 1, 1)),
    ):
        assert _answers(lead, year, as_of) == _reference(year, as_of, None), (
            f"the city's compliance KPIs for {year} as of {as_of} differ from the raw aggregates"
        )
        assert _answers(ward_api, year, as_of) == _reference(year, as_of, _scope(ward_id)), (
            f"a ward's compliance KPIs for {year} as of {as_of} differ from the raw aggregates over its scope"
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


def test_the_migration_puts_a_trigger_on_every_event(world):
    m = _migration()
    if BACKEND == "postgresql":
        rows = _sql("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dx_tally_%'")
    else:
        rows = _sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dx_tally_%'")
    events = ("ins", "upd", "del", "trunc") if BACKEND == "postgresql" else ("ins", "upd", "del")
    owners = {f"dx_tally_{owner}_upd" for owner, _ in m.OWNERS.values()}
    assert {r[0] for r in rows} == {f"dx_tally_{t}_{e}" for t in m.SOURCES for e in events} | owners
