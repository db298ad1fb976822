"""Large imports are checked while they are written (PostgreSQL: several COPY statements, the database checking
one while the next rows are checked). Small slices and statements here, so that a few rows cross every seam:
what the client sees must be what a single statement would have given, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, SmallInteger, Table, event, select
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import create_async_engine

from app.common import bulk
from app.imports import engine
from tests.conftest import create_database, world_on_new_database
from tests.imports.test_imports_records import _forum
from tests.kpis.test_tallies import _recount, _tallies

IMP = "/api/v1/imports"
HOME = "XA-TAMTHANG"  # a commune no other test writes under: these tests add many records to it


@pytest.fixture()
def seams(monkeypatch):
    """Two rows a slice, three a COPY statement."""
    monkeypatch.setattr(engine, "YIELD_EVERY", 2)
    monkeypatch.setattr(bulk, "PER_COPY", 3)


@pytest.fixture()
def village(world):
    return world.new_unit("village", HOME)


@pytest.fixture(scope="module")
def ward(world):
    """The commune's own system (a unit role), which writes its villages' forums."""
    return world.user("unit", HOME)


def _listed(api, path: str, unit_id: int) -> tuple[int, list]:
    page = api.get(path, params={"unit_id": unit_id, "limit": 100}).json()
    return page["total"], sorted(page["items"], key=lambda r: r["external_ref"])


def _import_events(lead, summary: dict) -> int:
    events = lead.get("/api/v1/audit-events", params={"resource": "forums", "limit": 500}).json()["items"]
    return sum(1 for e in events if e["action"] == "import" and e["after"] == summary)


def test_an_import_written_in_several_statements_is_whole(seams, lead, ward, village):
    tag = uuid.uuid4().hex[:6]
    rows = [
        _forum(village["id"], f"{tag}-{i:02d}", attendees=30 + i, held_on=f"2024-{1 + i % 12:02d}-05")
        for i in range(11)
    ]
    summary = {"rows": 11, "created": 11, "updated": 0, "unchanged": 0}
    before = _import_events(lead, summary)
    sent = datetime.now(UTC)
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    answered = datetime.now(UTC)
    assert r.status_code == 200 and r.json()["created"] == 11, r.text
    total, items = _listed(ward, "/api/v1/forums", village["id"])
    assert total == 11, f"the list's total read {total} after 11 rows were imported"
    stamps = {(f["created_at"], f["updated_at"]) for f in items}
    assert len(stamps) == 1, f"the rows of one import should share one created_at and updated_at: {stamps}"
    created, updated = (datetime.fromisoformat(v) for v in stamps.pop())
    assert created == updated and sent <= created <= answered, (
        f"the imported forums read created_at {created}, not the moment of the import ({sent} to {answered})"
    )
    assert [(f["external_ref"], f["attendees"], f["held_on"]) for f in items] == [
        (row["external_ref"], row["attendees"], row["held_on"]) for row in rows
    ], "the imported forums differ from the rows sent"
    assert _tallies() == _recount(), "month_tallies differ from a recount after an import in several statements"
    assert _import_events(lead, summary) == before + 1, "an import in several statements should leave one audit event"


def test_a_bad_row_after_rows_already_written_leaves_nothing(seams, ward, village):
    tag = uuid.uuid4().hex[:6]
    rows = [_forum(village["id"], f"{tag}-{i:02d}") for i in range(9)]
    rows += [_forum(village["id"], f"{tag}-09", attendees=-1), _forum(village["id"], f"{tag}-10", title="")]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["status"], body["created"]) == ("rejected", 0), body
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(10, "attendees"), (11, "title")], (
        f"every bad row, and only those, should be reported: {body['errors']}"
    )
    assert _listed(ward, "/api/v1/forums", village["id"]) == (0, []), "a rejected import left forums behind"
    assert _tallies() == _recount(), "a rejected import left its counts in month_tallies"
    # nothing half-written: the same rows, mended, import whole
    rows[9]["attendees"], rows[10]["title"] = 12, "Diễn đàn tháng 6"
    again = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert again.status_code == 200 and again.json()["created"] == 11, again.text


def test_creates_and_changes_in_one_import_across_statements(seams, ward, village):
    tag = uuid.uuid4().hex[:6]
    first = [_forum(village["id"], f"{tag}-{i}") for i in range(4)]
    assert ward.post(f"{IMP}/forums", json={"rows": first}).json()["created"] == 4
    rows = [_forum(village["id"], f"{tag}-{i}", attendees=70 + i) for i in range(2)]  # two changes
    rows += first[2:]  # two unchanged
    rows += [_forum(village["id"], f"{tag}-new-{i}") for i in range(5)]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("created", "updated", "unchanged")} == {"created": 5, "updated": 2, "unchanged": 2}
    total, items = _listed(ward, "/api/v1/forums", village["id"])
    assert total == 9 and {f["external_ref"]: f["attendees"] for f in items}[f"{tag}-1"] == 71, items


def test_rules_that_read_the_database_still_import_exactly(seams, world, lead):
    """Trainings look up their participants' units, broadcasts their station's kind: the rows are written
    whole whether or not those look-ups can run while rows stream. A participant's unit written as 12.0 is not
    looked up with the rest, so its rule asks the database after rows were already copied: the import then
    undoes the copy and writes the rows the plain way."""
    ward_id = world.unit_id(HOME)
    villages = [world.new_unit("village", HOME) for _ in range(3)]
    tag = uuid.uuid4().hex[:6]
    rows = [
        {"unit_id": ward_id, "external_ref": f"{tag}-{i}", "audience": "officials", "title": f"Lớp {i}",
         "held_on": f"2024-0{1 + i % 9}-10", "participants": [{"unit_id": villages[i % 3]["id"], "count": 5 + i}]}
        for i in range(7)
    ]  # fmt: skip
    lone = world.new_unit("village", HOME)["id"]  # named by no other row
    rows[6]["participants"] = [{"unit_id": float(lone), "count": 2}]
    r = lead.post(f"{IMP}/trainings", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 7, r.text
    rows[6]["participants"][0]["unit_id"] = lone
    page = lead.get("/api/v1/trainings", params={"unit_id": ward_id, "limit": 500}).json()["items"]
    got = {t["external_ref"]: t["participants"] for t in page if t["external_ref"].startswith(tag)}
    assert got == {row["external_ref"]: row["participants"] for row in rows}, "participants differ from the rows"
    assert _tallies() == _recount(), "month_tallies differ from a recount after a trainings import"

    airing = "2024-03-0{d}T19:00:00+07:00"
    rows = [
        {"unit_id": ward_id, "external_ref": f"{tag}-b{i}", "channel": "ward_radio", "title": f"Bản tin {i}",
         "duration_minutes": 15, "produced_on": "2024-03-01", "airings": [airing.format(d=1 + i)]}
        for i in range(7)
    ]  # fmt: skip
    r = lead.post(f"{IMP}/broadcasts", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 7, r.text
    rows[3]["unit_id"] = villages[0]["id"]  # a village has no ward radio
    rows = [{**row, "external_ref": f"{row['external_ref']}-x"} for row in rows]
    r = lead.post(f"{IMP}/broadcasts", json={"rows": rows})
    assert r.status_code == 422 and [(e["row"], e["field"]) for e in r.json()["errors"]] == [(4, "channel")], r.text
    assert _tallies() == _recount(), "a rejected broadcasts import left its airings in month_tallies"


@contextmanager
def _statements(world):
    """The SQL statements the app sends meanwhile."""
    sent: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    engine = world.client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_rules_ask_the_database_once_per_import_not_once_per_row():
    """Broadcasts check their station's kind, trainings their participants' units, contest entries their
    contest and entrant, units their parent: 60 rows must not be 60 queries of each. On a database of its own:
    it adds 60 units, more than other tests' pages of units expect."""
    with world_on_new_database("statements") as world:
        _rules_ask_once(world, world.user("lead_office", "P-VHTT"))


def _rules_ask_once(world, lead) -> None:
    ward_id = world.unit_id(HOME)
    villages = [world.new_unit("village", HOME)["id"] for _ in range(3)]
    tag = uuid.uuid4().hex[:6]
    contest = lead.post(
        "/api/v1/contests",
        json={"unit_id": world.unit_id("TD-TK"), "title": "Thi trực tuyến", "audience": "youth",
              "starts_on": "2024-03-01", "ends_on": "2024-03-31"},
    ).json()  # fmt: skip
    imports = {
        "broadcasts": [
            {"unit_id": ward_id, "external_ref": f"{tag}-b{i}", "channel": "ward_radio", "title": f"Bản tin {i}",
             "produced_on": "2024-03-01", "airings": [f"2024-03-01T{i % 24:02d}:{i % 60:02d}:00+07:00"]}
            for i in range(60)
        ],
        "trainings": [
            {"unit_id": ward_id, "external_ref": f"{tag}-t{i}", "audience": "officials", "title": f"Lớp {i}",
             "held_on": "2024-04-02", "participants": [{"unit_id": villages[i % 3], "count": 4}]}
            for i in range(60)
        ],
        "contest-entries": [
            {"contest_id": contest["id"], "unit_id": villages[i % 3], "external_ref": f"{tag}-e{i}",
             "participant_ref": f"p-{i}", "participant_name": f"Thí sinh {i}", "score": 5,
             "submitted_at": "2024-03-10T09:00:00+07:00"}
            for i in range(60)
        ],
        "units": [
            {"code": f"{tag}-V{i}", "name": f"Thôn {i}", "kind": "village", "parent_id": ward_id} for i in range(60)
        ],
    }  # fmt: skip
    for resource, rows in imports.items():
        with _statements(world) as sent:
            r = lead.post(f"{IMP}/{resource}", json={"rows": rows})
        assert r.status_code == 200 and r.json()["created"] == 60, r.text
        assert len(sent) < 30, f"importing 60 {resource} sent {len(sent)} statements: {sent[:40]}"


@pytest.mark.parametrize("binary", [True, False], ids=["binary COPY", "text COPY"])
def test_every_kind_of_cell_reads_back_as_sent(seams, monkeypatch, ward, village, binary):
    """COPY goes in binary for the column types bulk.BINARY_TYPES names, in text for any other: both give
    the same records (numbers, text, dates, JSON, instants)."""
    if not binary:
        monkeypatch.setattr(bulk, "BINARY_TYPES", {})
    tag = uuid.uuid4().hex[:6]
    rows = [
        _forum(village["id"], f"{tag}-{i}", title=f"Diễn đàn “số” {i}\t\\N", topics=["concepts", "roles"][: i % 3])
        for i in range(5)
    ]
    sent = datetime.now(UTC)
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 5, r.text
    _, items = _listed(ward, "/api/v1/forums", village["id"])
    got = [(f["external_ref"], f["title"], f["topics"], f["held_on"], f["attendees"]) for f in items]
    assert got == [(x["external_ref"], x["title"], x["topics"], x["held_on"], x["attendees"]) for x in rows], got
    assert all(datetime.fromisoformat(f["created_at"]) >= sent for f in items), items[0]["created_at"]


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("column", "value"),
    [("small", 2**15), ("count", 2**31), ("count", -(2**31) - 1), ("flag", "false"), ("flag", 0)],
    ids=repr,
)
def test_binary_copy_refuses_what_it_would_store_wrongly(column, value):
    """psycopg's binary int2/int4 dumpers wrap a number out of range (2**31 arrives as -2**31) and its bool
    dumper takes any value's truth ("false" is true); text COPY and INSERT refuse both. The schemas keep such
    values out; this is the net under them: a DataError (answered 422), and nothing stored."""
    meta = MetaData()
    table = Table(
        "copy_guard",
        meta,
        Column("id", BigInteger, primary_key=True),
        Column("small", SmallInteger),
        Column("count", Integer),
        Column("flag", Boolean),
    )
    db = create_database("copyguard")
    try:

        async def run() -> list:
            engine_ = create_async_engine(db.url)
            try:
                async with engine_.begin() as conn:
                    await conn.run_sync(meta.create_all)
                good = {"id": 1, "small": 2**15 - 1, "count": 2**31 - 1, "flag": False}
                with pytest.raises(DataError):
                    async with engine_.begin() as conn:
                        await bulk.insert_rows(conn, table, [good, {**good, "id": 2, column: value}])
                async with engine_.begin() as conn:
                    await bulk.insert_rows(conn, table, [good])
                    return [tuple(r) for r in await conn.execute(select(table))]
            finally:
                await engine_.dispose()

        assert asyncio.run(run()) == [(1, 2**15 - 1, 2**31 - 1, False)]
    finally:
        db.drop()
