"""A list's total without filters is read from record_counts, which triggers keep in the same transaction as
every write (migration 0009): it must equal count(*) over what the caller sees, after creates, imports,
moves between units, deletes and writes that bypass the API, for every role."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.common.counts import COUNTED
from tests.conftest import BACKEND
from tests.conftest import run_sql as _sql
from tests.imports.test_imports_records import _forum
from tests.record_contract import village

MIGRATION = Path(__file__).parents[2] / "migrations/versions/20261202_0009_record_counts.py"


def _count(where: str = "", **params) -> int:
    return int(_sql(f"SELECT count(*) FROM forums {where}", **params)[0][0])


def _in_ward(world, code: str) -> str:
    """count(*)'s WHERE for a ward's scope: the ward and its villages (two levels are all the seed has)."""
    ward = world.unit_id(code)
    return f"WHERE unit_id = {ward} OR unit_id IN (SELECT id FROM units WHERE parent_id = {ward})"


def _total(api, **params) -> int:
    r = api.get("/api/v1/forums", params={"limit": 1, **params})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def _if_match(api, record: dict) -> dict:
    return {"If-Match": api.get(f"/api/v1/forums/{record['id']}").headers["etag"]}


def _check(world, lead, ward, viewer, unit: int) -> None:
    assert _total(lead) == _count(), "the city-wide total differs from the number of forums"
    assert _total(viewer) == _count(), "the viewer's total differs from the number of forums"
    assert _total(ward) == _count(_in_ward(world, "PH-TANTHANH")), "the ward's total counts other wards' forums"
    assert _total(lead, unit_id=unit) == _count("WHERE unit_id = :u", u=unit)
    assert _total(ward, unit_id=unit) == _count("WHERE unit_id = :u", u=unit)


def test_the_migration_counts_the_same_tables_with_a_trigger_per_event(world):
    spec = importlib.util.spec_from_file_location("m0009", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.COUNTED == COUNTED, "app/common/counts.py and migration 0009 count different tables"
    if BACKEND == "postgresql":
        rows = _sql("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dx_count_%'")
    else:
        rows = _sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dx_count_%'")
    events = ("ins", "upd", "del", "trunc") if BACKEND == "postgresql" else ("ins", "upd", "del")
    assert {r[0] for r in rows} == {f"dx_count_{t}_{e}" for t in COUNTED for e in events}


def test_totals_equal_count_after_creates_imports_moves_deletes_and_raw_sql(world, lead, ward, viewer, other_ward):
    a, b = village(world), village(world)
    made = [lead.post("/api/v1/forums", json=_forum(a, f"tot-{i}")).json() for i in range(3)]
    assert all("id" in m for m in made), made
    _check(world, lead, ward, viewer, a)

    r = ward.post("/api/v1/imports/forums", json={"rows": [_forum(b, f"tot-imp-{i}") for i in range(25)]})
    assert r.status_code in (200, 201), r.text
    _check(world, lead, ward, viewer, b)

    # a record moved to another unit counts there, not where it was
    moved = lead.patch(f"/api/v1/forums/{made[0]['id']}", json={"unit_id": b}, headers=_if_match(lead, made[0]))
    assert moved.status_code == 200, moved.text
    assert (_total(lead, unit_id=a), _total(lead, unit_id=b)) == (2, 26), "a moved forum still counts where it was"
    _check(world, lead, ward, viewer, a)

    assert lead.delete(f"/api/v1/forums/{made[1]['id']}", headers=_if_match(lead, made[1])).status_code == 204
    _check(world, lead, ward, viewer, a)

    # writes outside the API (a DBA's fix, a restore) are counted by the database itself
    _sql("DELETE FROM forums WHERE unit_id = :u AND external_ref LIKE 'tot-imp-1%'", u=b)
    _sql("UPDATE forums SET unit_id = :a WHERE unit_id = :b AND external_ref = 'tot-imp-2'", a=a, b=b)
    _check(world, lead, ward, viewer, b)
    _check(world, lead, ward, viewer, a)

    # another ward sees none of these
    assert (
        _total(other_ward, unit_id=a) == 0 or other_ward.get("/api/v1/forums", params={"unit_id": a}).status_code == 403
    )
    assert _total(other_ward) == _count(_in_ward(world, "PH-ANMY"))


def test_a_filtered_total_is_counted_in_the_table(world, lead):
    unit = village(world)
    for i, day in enumerate(("2024-01-10", "2024-02-10", "2024-03-10")):
        assert lead.post("/api/v1/forums", json=_forum(unit, f"flt-{i}", held_on=day)).status_code == 201
    assert _total(lead, unit_id=unit, **{"from": "2024-02-01"}) == 2
    assert _total(lead, unit_id=unit, kind="business_dialogue") == 0


@pytest.mark.parametrize("path", ["/api/v1/units", "/api/v1/audit-events"])
def test_lists_of_uncounted_tables_still_total_exactly(lead, path):
    first = lead.get(path, params={"limit": 2}).json()
    table = "units" if path.endswith("units") else "audit_events"
    assert first["total"] >= int(_sql(f"SELECT count(*) FROM {table}")[0][0]) - 5  # audit grows as we read
    if table == "units":
        assert first["total"] == int(_sql("SELECT count(*) FROM units")[0][0])


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite has no TRUNCATE")
def test_a_truncated_table_counts_nothing(world, lead):
    """TRUNCATE (a restore, a bench) bypasses row triggers: the statement trigger clears the table's counts."""
    body = {"unit_id": village(world), "month": "2023-05", "source": "one_stop", "respondents": 12, "satisfied": 10}
    assert lead.post("/api/v1/satisfaction-surveys", json=body).status_code == 201
    _sql("CREATE TABLE dx_keep AS SELECT * FROM satisfaction_surveys")
    try:
        _sql("TRUNCATE satisfaction_surveys")
        r = lead.get("/api/v1/satisfaction-surveys", params={"limit": 1})
        assert r.status_code == 200 and r.json()["total"] == 0, f"a truncated table still totals: {r.text}"
    finally:
        _sql("INSERT INTO satisfaction_surveys SELECT * FROM dx_keep")
        _sql("DROP TABLE dx_keep")
    r = lead.get("/api/v1/satisfaction-surveys", params={"limit": 1})
    assert r.json()["total"] == int(_sql("SELECT count(*) FROM satisfaction_surveys")[0][0])
