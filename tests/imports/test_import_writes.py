"""Imports write through the one write path: versions, races, scope and bad cells as the endpoints have them."""

from __future__ import annotations

import uuid

import pytest

from tests.concurrency import together
from tests.conftest import world_on_new_database
from tests.imports.test_imports_records import _forum

IMP = "/api/v1/imports"
FORUMS = "/api/v1/forums"


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def test_an_import_that_updates_a_record_bumps_its_version_and_retires_its_etag(ward, village):
    created = ward.post(FORUMS, json=_forum(village["id"], "ver-1"))
    assert created.status_code == 201, created.text
    first_etag = created.headers["ETag"]
    r = ward.post(f"{IMP}/forums", json={"rows": [_forum(village["id"], "ver-1", attendees=41)]})
    assert r.status_code == 200 and r.json()["updated"] == 1, r.text
    got = ward.get(f"{FORUMS}/{created.json()['id']}")
    assert (got.json()["version"], got.json()["attendees"]) == (2, 41), got.text
    assert got.headers["ETag"] != first_etag, "the import left the record's ETag as it was"
    stale = ward.patch(f"{FORUMS}/{created.json()['id']}", json={"title": "Sửa"}, headers={"If-Match": first_etag})
    assert stale.status_code == 412, f"a PATCH with the pre-import ETag was accepted: {stale.text}"


@pytest.mark.postgres_only
def test_a_patch_racing_an_import_gets_412_or_wins_and_is_never_lost(ward, village):
    for attempt in range(6):
        created = ward.post(FORUMS, json=_forum(village["id"], f"race-{attempt}")).json()
        etag = ward.get(f"{FORUMS}/{created['id']}").headers["ETag"]
        rows = [_forum(village["id"], f"race-{attempt}", attendees=99)]
        patch, imp = together(
            [
                lambda c=created, e=etag: ward.patch(
                    f"{FORUMS}/{c['id']}", json={"questions_answered": 11}, headers={"If-Match": e}
                ),
                lambda rows=rows: ward.post(f"{IMP}/forums", json={"rows": rows}),
            ]
        )
        assert patch.status_code in (200, 412), patch.text
        assert imp.status_code == 200, imp.text
        final = ward.get(f"{FORUMS}/{created['id']}").json()
        assert final["attendees"] == 99, final
        if patch.status_code == 200:
            # both wrote: two versions on top of the first, and the PATCH's change was not overwritten
            assert final["version"] == 3, f"the PATCH or the import was silently lost: {final}"
            assert patch.headers["ETag"] != ward.get(f"{FORUMS}/{created['id']}").headers["ETag"]
        else:
            assert final["version"] == 2, final


def test_parallel_imports_of_one_key_answer_200_or_409_and_keep_one_record(ward, village):
    ref = f"par-{uuid.uuid4().hex[:6]}"
    rows = [_forum(village["id"], ref)]
    answers = together([lambda: ward.post(f"{IMP}/forums", json={"rows": rows}) for _ in range(6)])
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers if a.status_code not in (200, 409)]
    assert 200 in {a.status_code for a in answers}
    listed = ward.get(FORUMS, params={"unit_id": village["id"], "limit": 500}).json()["items"]
    assert [f["external_ref"] for f in listed].count(ref) == 1


def test_an_organisers_entry_import_accepts_what_its_endpoint_accepts(world, lead, ward, other_ward):
    """A ward organises a contest for schools of every ward: its entry for another ward's school is a 201 by
    the endpoint, so the import takes it too."""
    contest = ward.post(
        "/api/v1/contests",
        json={
            "unit_id": ward.unit_id,
            "title": "Học sinh với chuyển đổi số",
            "audience": "students",
            "starts_on": "2024-04-01",
            "ends_on": "2024-04-30",
        },
    )
    assert contest.status_code == 201, contest.text
    school = world.new_unit("school", "PH-ANMY")
    entry = {
        "unit_id": school["id"],
        "participant_ref": "hs-1",
        "participant_name": "Nguyễn Văn An",
        "score": 8.5,
        "submitted_at": "2024-04-10T09:00:00+07:00",
    }
    by_endpoint = ward.post(f"/api/v1/contests/{contest.json()['id']}/entries", json=entry)
    assert by_endpoint.status_code == 201, by_endpoint.text
    row = {**entry, "contest_id": contest.json()["id"], "participant_ref": "hs-2", "external_ref": "hs-2"}
    by_import = ward.post(f"{IMP}/contest-entries", json={"rows": [row]})
    assert by_import.status_code == 200 and by_import.json()["created"] == 1, by_import.text
    # and what the endpoint refuses, the import refuses: another ward does not hold this contest
    refused = other_ward.post(f"{IMP}/contest-entries", json={"rows": [{**row, "participant_ref": "hs-3"}]})
    assert refused.status_code == 422, refused.text
    assert other_ward.post(f"/api/v1/contests/{contest.json()['id']}/entries", json=entry).status_code in (403, 404)


def test_a_rejected_row_does_not_break_later_imports_of_that_resource():
    """The first import of a fresh server names its unit `true`; the imports after it still work (SQLite
    answered 500 to every later import until a restart: a statement cached with the wrong types)."""
    with world_on_new_database("poison") as world:
        ward = world.user("unit", "PH-TANTHANH")
        bad = ward.post(f"{IMP}/forums", json={"rows": [_forum(True, "poison-1")]})
        assert bad.status_code == 422, bad.text
        for i in range(2):
            good = ward.post(f"{IMP}/forums", json={"rows": [_forum(ward.unit_id, f"after-poison-{i}")]})
            assert good.status_code == 200, f"import {i + 1} after a rejected row: {good.status_code} {good.text}"


@pytest.mark.parametrize(
    "over",
    [
        {"unit_id": [12]},
        {"unit_id": {"id": 12}},
        {"unit_id": "12"},
        {"unit_id": True},
        {"id": True},
        {"id": [1]},
        {"id": "١٢"},
        {"external_ref": ["a"]},
        {"external_ref": {"a": 1}},
        {"external_ref": 123},
        {"external_ref": True},
        {"attendees": True},
        {"questions_answered": False},
        {"attendees": -1},
        {"attendees": 2**31},
        {"attendees": 12.5},
    ],
    ids=repr,
)
def test_json_rows_with_cells_of_the_wrong_type_are_row_errors(ward, village, over):
    row = {**_forum(village["id"], f"bad-{uuid.uuid4().hex[:6]}"), **over}
    r = ward.post(f"{IMP}/forums", json={"rows": [row]})
    assert r.status_code == 422, f"{over}: {r.status_code} {r.text}"
    assert r.json()["status"] == "rejected" and r.json()["errors"][0]["row"] == 1, r.text
    assert r.json()["errors"][0]["field"] in over, r.text


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"attendees": True}, "Value error, must be a number, not true or false"),
        ({"attendees": -1}, "Input should be greater than or equal to 0"),
        ({"questions_answered": 2**31}, "Input should be less than or equal to 2147483647"),
    ],
    ids=repr,
)
def test_a_count_is_a_number_within_its_bounds_in_a_post_and_an_import(ward, village, over, message):
    row = {**_forum(village["id"], f"count-{uuid.uuid4().hex[:6]}"), **over}
    posted = ward.post(FORUMS, json=row)
    assert posted.status_code == 422, f"{over}: {posted.status_code} {posted.text}"
    imported = ward.post(f"{IMP}/forums", json={"rows": [_forum(village["id"], "count-ok"), row]})
    assert imported.status_code == 422, f"{over}: {imported.status_code} {imported.text}"
    field = next(iter(over))
    assert [(e["row"], e["field"], e["message"]) for e in imported.json()["errors"]] == [(2, field, message)]


@pytest.mark.parametrize("cell", ["²", "٢٥", "１２", " 12 x"], ids=repr)
def test_a_csv_id_cell_that_is_not_ascii_digits_is_a_row_error(ward, village, cell):
    text = f"id,unit_id,external_ref,kind,held_on,title,attendees,questions_answered\n{cell},{village['id']},c-1,village_forum,2024-01-05,T,1,1\n"
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, f"{cell!r}: {r.status_code} {r.text}"
    assert r.json()["errors"][0]["field"] == "id", r.text


@pytest.mark.parametrize("cell", ["٢٥", "²"], ids=repr)
def test_a_csv_unit_id_in_other_digits_is_refused(ward, village, cell):
    text = f"unit_id,external_ref,kind,held_on,title,attendees,questions_answered\n{cell},u-1,village_forum,2024-01-05,T,1,1\n"
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, f"{cell!r}: {r.status_code} {r.text}"
    assert r.json()["errors"][0]["field"] == "unit_id", r.text


def test_a_row_that_names_the_record_of_an_earlier_row_is_its_error(ward, village):
    """By the same key, by the same id, or one row by id and another by the record's key: the second row is a
    repeat (two changes of one record in one import used to meet as a 409 "changed meanwhile")."""
    tag = uuid.uuid4().hex[:6]
    stored = ward.post(FORUMS, json=_forum(village["id"], f"{tag}-stored")).json()
    rows = [
        _forum(village["id"], f"{tag}-a"),
        _forum(village["id"], f"{tag}-b"),
        _forum(village["id"], f"{tag}-a", attendees=3),
        {"id": stored["id"], "attendees": 5},
        {"id": stored["id"], "attendees": 6},
        _forum(village["id"], f"{tag}-stored", attendees=7),
    ]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"], e["message"]) for e in r.json()["errors"]] == [
        (3, "external_ref", "repeats row 1 of this import"),
        (5, "id", "repeats row 4 of this import"),
        (6, "external_ref", "repeats row 4 of this import"),
    ], r.json()["errors"]
    fixed = ward.post(f"{IMP}/forums", json={"rows": [rows[0], rows[1], rows[3]]})
    assert fixed.status_code == 200 and (fixed.json()["created"], fixed.json()["updated"]) == (2, 1), fixed.text
