"""Imports of operational records: JSON, CSV and XLSX; matched on (unit, external_ref); all or nothing."""

from __future__ import annotations

import csv
import io
import uuid

import orjson
import pytest
from openpyxl import Workbook

IMP = "/api/v1/imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _forum(unit_id, ref, **over):
    return {
        "unit_id": unit_id,
        "external_ref": ref,
        "kind": "village_forum",
        "held_on": "2024-05-12",
        "title": "Diễn đàn chuyển đổi số thôn — tháng 5",
        "attendees": 40,
        "questions_answered": 6,
        **over,
    }


def _xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def test_ward_imports_a_year_of_forums_then_reimports_with_changes(world, ward, village):
    tag = uuid.uuid4().hex[:6]
    rows = [_forum(village["id"], f"{tag}-{m}", held_on=f"2024-{m:02d}-10") for m in range(1, 13)]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["created"]) == ("committed", 12)
    rows[0]["attendees"] = 55
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 1, 11), r.text
    listed = ward.get("/api/v1/forums", params={"unit_id": village["id"], "limit": 500}).json()
    assert listed["total"] == 12
    assert {f["attendees"] for f in listed["items"]} == {40, 55}


def test_rows_may_name_their_unit_by_code(world, ward, village):
    row = {k: v for k, v in _forum(village["id"], "by-code-1").items() if k != "unit_id"}
    r = ward.post(f"{IMP}/forums", json={"rows": [{**row, "unit_code": village["code"]}]})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    r = ward.post(f"{IMP}/forums", json={"rows": [{**row, "unit_code": "NO-SUCH-UNIT"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unit_code", r.text


def test_a_code_or_key_longer_than_its_column_is_an_error_of_that_row(world, ward, lead, village):
    """A unit's name pasted into the code column, or an over-long key: that row's error, never the whole
    import's 'value out of range' (PostgreSQL compared the keys as the column's varchar(n) and failed)."""
    row = {k: v for k, v in _forum(village["id"], "long-code-1").items() if k != "unit_id"}
    long_code = "Thôn Tân Thạnh, phường Tân Thạnh, thành phố Tam Kỳ, tỉnh Quảng Nam (khối phố 1)"
    r = ward.post(
        f"{IMP}/forums", json={"rows": [{**row, "unit_code": village["code"]}, {**row, "unit_code": long_code}]}
    )
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "unit_code")], r.text
    r = lead.post(f"{IMP}/units", json={"rows": [{"code": "X" * 70, "name": "Thôn dài", "kind": "village"}]})
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "code")], r.text


def test_a_json_body_with_a_bom_imports_and_a_malformed_one_names_where_it_breaks(world, ward, village):
    """PowerShell and Notepad write a UTF-8 BOM before JSON: it is ignored, as a CSV's is."""
    body = orjson.dumps({"rows": [_forum(village["id"], "bom-1")]})
    r = ward.post(f"{IMP}/forums", content=b"\xef\xbb\xbf" + body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    for broken in (body[:-2], b'{"rows": [{"attendees": NaN}]}'):
        r = ward.post(f"{IMP}/forums", content=broken, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"].startswith("Malformed JSON: "), r.text
        assert "line 1 column" in r.json()["detail"], r.text


def test_out_of_scope_rows_are_errors_of_those_rows_and_nothing_is_written(world, ward, village):
    other = world.unit_id("PH-ANMY")
    rows = [
        _forum(village["id"], "scope-ok"),
        _forum(other, "scope-bad"),
        _forum(village["id"], "scope-bad-2", attendees=-1),
    ]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == "rejected" and body["created"] == 0
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "unit_id"), (3, "attendees")]
    assert ward.get("/api/v1/forums", params={"unit_id": village["id"]}).json()["total"] == 0


def test_a_key_repeated_in_one_import_is_an_error_of_the_later_row(world, ward, village):
    rows = [_forum(village["id"], "dup"), _forum(village["id"], "dup", attendees=3)]
    r = ward.post(f"{IMP}/forums", json={"rows": rows})
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2, r.text


def test_csv_export_imports_back_as_it_is(world, ward, village):
    rows = [_forum(village["id"], f"rt-{i}", topics=["concepts", "shared_apps"]) for i in range(3)]
    assert ward.post(f"{IMP}/forums", json={"rows": rows}).status_code == 200
    exported = ward.get("/api/v1/forums", params={"unit_id": village["id"]}, headers={"Accept": "text/csv"}).text
    r = ward.post(f"{IMP}/forums", content=exported.encode("utf-8"), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 3), r.text
    # edit one title in the spreadsheet, with a BOM as Excel writes it
    table = list(csv.DictReader(io.StringIO(exported)))
    table[1]["title"] = "Diễn đàn đã sửa"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(table[0]))
    w.writeheader()
    w.writerows(table)
    r = ward.post(
        f"{IMP}/forums", content=("\ufeff" + out.getvalue()).encode("utf-8"), headers={"Content-Type": "text/csv"}
    )
    assert (r.json()["updated"], r.json()["unchanged"]) == (1, 2), r.text
    titles = {f["title"] for f in ward.get("/api/v1/forums", params={"unit_id": village["id"]}).json()["items"]}
    assert "Diễn đàn đã sửa" in titles


def test_xlsx_import_and_formula_cells_are_refused(world, ward, village):
    header = ["unit_code", "external_ref", "kind", "held_on", "title", "attendees", "questions_answered"]
    good = _xlsx([header, [village["code"], "x-1", "village_forum", "2024-03-03", "Diễn đàn Excel", 20, 2]])
    r = ward.post(f"{IMP}/forums", content=good, headers={"Content-Type": XLSX})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    bad = _xlsx([header, [village["code"], "x-2", "village_forum", "2024-03-03", "Diễn đàn", "=1+1", 2]])
    r = ward.post(f"{IMP}/forums", content=bad, headers={"Content-Type": XLSX})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "attendees", r.text


def test_missing_and_broken_columns_are_row_errors(world, ward, village):
    text = (
        "unit_id,external_ref,kind,held_on,title,topics\n"
        f"{village['id']},mc-1,village_forum,2024-01-05,Tiêu đề,[concepts\n"
    )
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"topics", "attendees", "questions_answered"} <= fields, r.text


def test_trainings_with_participants_and_broadcasts_with_airings_import_from_csv(world, ward):
    school = world.new_unit("school", "PH-TANTHANH")
    text = (
        "unit_id,external_ref,audience,title,held_on,participants\n"
        f'{ward.unit_id},tr-1,students,Kỹ năng số cho học sinh,2024-04-02,"[{{""unit_id"": {school["id"]}, ""count"": 35}}]"\n'
    )
    r = ward.post(f"{IMP}/trainings", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    got = ward.get("/api/v1/trainings", params={"unit_id": ward.unit_id, "limit": 500}).json()["items"]
    assert [t["participants"] for t in got if t["external_ref"] == "tr-1"] == [[{"unit_id": school["id"], "count": 35}]]
    rows = [
        {
            "unit_id": ward.unit_id,
            "external_ref": "bc-imp-1",
            "channel": "ward_radio",
            "title": "Phóng sự CĐS tháng 4",
            "duration_minutes": 12,
            "produced_on": "2024-04-01",
            "airings": ["2024-04-02T18:00:00+07:00", "2024-04-09T18:00:00+07:00", "2024-04-16T18:00:00+07:00"],
        }
    ]
    r = ward.post(f"{IMP}/broadcasts", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    rows[0]["airings"].append("2024-04-23T18:00:00+07:00")
    r = ward.post(f"{IMP}/broadcasts", json={"rows": rows})
    assert r.json()["updated"] == 1, r.text
    b = [
        x
        for x in ward.get("/api/v1/broadcasts", params={"unit_id": ward.unit_id}).json()["items"]
        if x["external_ref"] == "bc-imp-1"
    ][0]
    assert len(b["airings"]) == 4 and b["airings"][0] == "2024-04-02T11:00:00Z"


def test_natural_key_clash_is_an_error_of_that_row(world, ward):
    r = ward.post(
        f"{IMP}/unit-plans",
        json={
            "rows": [
                {
                    "unit_id": ward.unit_id,
                    "year": 2023,
                    "title": "Kế hoạch CĐS 2023",
                    "document_number": "12/KH-UBND",
                    "issued_on": "2023-01-10",
                },
                {
                    "unit_id": ward.unit_id,
                    "year": 2023,
                    "title": "Trùng năm",
                    "document_number": "13/KH-UBND",
                    "issued_on": "2023-02-10",
                },
            ]
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2 and r.json()["errors"][0]["field"] == "year", (
        r.text
    )


def test_surveys_keep_satisfied_within_respondents(world, ward):
    rows = [
        {
            "unit_id": ward.unit_id,
            "external_ref": "s-1",
            "month": "2024-02",
            "source": "one_stop",
            "respondents": 100,
            "satisfied": 91,
        },
        {
            "unit_id": ward.unit_id,
            "external_ref": "s-2",
            "month": "2024-03",
            "source": "one_stop",
            "respondents": 10,
            "satisfied": 11,
        },
    ]
    r = ward.post(f"{IMP}/satisfaction-surveys", json={"rows": rows})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"row": 2, "field": "satisfied", "message": r.json()["errors"][0]["message"]}
    ], r.text


def test_contest_entries_import_for_the_organiser(world, lead, ward):
    contest = lead.post(
        "/api/v1/contests",
        json={
            "unit_id": world.unit_id("TD-TK"),
            "title": "Tìm hiểu chuyển đổi số 2024",
            "audience": "youth",
            "starts_on": "2024-03-01",
            "ends_on": "2024-03-31",
        },
    ).json()
    rows = [
        {
            "contest_id": contest["id"],
            "unit_id": ward.unit_id,
            "external_ref": f"e-{i}",
            "participant_ref": f"p-{i}",
            "participant_name": f"Thí sinh {i}",
            "score": 7 + i,
            "submitted_at": "2024-03-10T09:00:00+07:00",
        }
        for i in range(3)
    ]
    r = ward.post(f"{IMP}/contest-entries", json={"rows": rows})
    assert r.status_code == 422, r.text  # a ward does not hold the youth union's contest
    r = lead.post(f"{IMP}/contest-entries", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    results = lead.get(f"/api/v1/contests/{contest['id']}/results").json()
    assert [x["participant_ref"] for x in results["ranking"]] == ["p-2", "p-1", "p-0"]
    r = lead.post(f"{IMP}/contest-entries", json={"rows": [{k: v for k, v in rows[0].items() if k != "contest_id"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contest_id", r.text


@pytest.mark.parametrize("role,status", [("finance_office", 403), ("viewer", 403)])
def test_finance_and_viewer_cannot_import(world, roles, role, status):
    assert roles[role].post(f"{IMP}/forums", json={"rows": []}).status_code == status


def test_unknown_resource_is_422_and_no_token_401(world, lead, anonymous):
    assert lead.post(f"{IMP}/budget-submissions", json={"rows": []}).status_code == 422
    assert anonymous.post(f"{IMP}/forums", json={"rows": []}).status_code == 401


def test_an_import_leaves_one_audit_event_with_its_counts(world, lead, village):
    r = lead.post(f"{IMP}/forums", json={"rows": [_forum(village["id"], f"aud-{i}") for i in range(4)]})
    assert r.status_code == 200, r.text
    events = lead.get("/api/v1/audit-events", params={"resource": "forums", "limit": 500}).json()["items"]
    imports = [e for e in events if e["action"] == "import" and e["after"]["created"] == 4]
    assert imports and imports[-1]["after"] == {"rows": 4, "created": 4, "updated": 0, "unchanged": 0}


def test_idempotency_key_replays_an_import(world, ward, village):
    rows = [_forum(village["id"], "idem-imp")]
    key = {"Idempotency-Key": f"chunk-{uuid.uuid4()}"}
    first = ward.post(f"{IMP}/forums", json={"rows": rows}, headers=key)
    again = ward.post(f"{IMP}/forums", json={"rows": rows}, headers=key)
    assert first.json() == again.json() and first.json()["created"] == 1
    assert again.headers["idempotent-replayed"] == "true"


def test_an_unreadable_file_is_a_problem_and_a_rejected_row_a_result_as_the_document_says(
    world, ward, village, anonymous
):
    op = anonymous.get("/openapi.json").json()["paths"]["/api/v1/imports/{resource}"]["post"]
    documented = op["responses"]["422"]["content"]
    r = ward.post(f"{IMP}/forums", content=b"", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert documented["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    r = ward.post(f"{IMP}/forums", json={"rows": [_forum(village["id"], "doc-1", attendees=-1)]})
    assert r.status_code == 422 and r.headers["content-type"] == "application/json", r.text
    assert r.json()["status"] == "rejected"
    assert documented["application/json"]["schema"] == {"$ref": "#/components/schemas/ImportResult"}
