"""CSV exports open safely in a spreadsheet (BOM, unit codes, local time, no live formula) and still import
back unchanged, for every importable resource."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from app.common.csv_export import cell
from app.office.tables import protect, unprotect

IMP = "/api/v1/imports"
DANGEROUS = [
    '=HYPERLINK("http://x","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3 người",
    "\tđầu dòng tab",
    "'=đã có dấu nháy",
]


def _export(api, path, **params) -> tuple[bytes, list[dict[str, str]]]:
    r = api.get(path, params={**params}, headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    return r.content, list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def _cases(world, ward, lead):
    village = world.new_unit("village", "PH-TANTHANH")
    school = world.new_unit("school", "PH-TANTHANH")
    v = village["id"]
    contest = ward.post(
        "/api/v1/contests",
        json={
            "unit_id": ward.unit_id,
            "title": "Thi",
            "audience": "students",
            "starts_on": "2022-05-01",
            "ends_on": "2022-05-31",
        },
    ).json()
    tag = uuid.uuid4().hex[:6]
    return {
        "units": (
            lead,
            "/api/v1/units",
            {"parent_id": v},
            "name",
            [{"code": f"RT-{tag}-{i}", "name": t, "kind": "quarter", "parent_id": v} for i, t in enumerate(DANGEROUS)],
        ),
        "unit-plans": (
            ward,
            "/api/v1/unit-plans",
            {"unit_id": v},
            "title",
            [
                {"unit_id": v, "year": 2021 + i, "title": t, "document_number": f"{i}/KH", "issued_on": "2022-01-05"}
                for i, t in enumerate(DANGEROUS)
            ],
        ),
        "broadcasts": (
            ward,
            "/api/v1/broadcasts",
            {"unit_id": v},
            "title",
            [
                {
                    "unit_id": v,
                    "external_ref": f"b{i}",
                    "channel": "web_portal",
                    "title": t,
                    "duration_minutes": 12,
                    "produced_on": "2024-03-01",
                    "airings": ["2024-03-12T10:30:00Z", "2024-03-13T17:30:00+07:00"],
                }
                for i, t in enumerate(DANGEROUS)
            ],
        ),
        "forums": (
            ward,
            "/api/v1/forums",
            {"unit_id": v},
            "title",
            [
                {
                    "unit_id": v,
                    "external_ref": f"f{i}",
                    "kind": "village_forum",
                    "held_on": "2024-03-03",
                    "title": t,
                    "attendees": 3,
                    "questions_answered": 1,
                    "topics": ["concepts"],
                }
                for i, t in enumerate(DANGEROUS)
            ],
        ),
        "trainings": (
            ward,
            "/api/v1/trainings",
            {"unit_id": v},
            "title",
            [
                {
                    "unit_id": v,
                    "external_ref": f"t{i}",
                    "audience": "residents",
                    "title": t,
                    "held_on": "2024-03-03",
                    "participants": [{"unit_id": v, "count": 5 + i}],
                }
                for i, t in enumerate(DANGEROUS)
            ],
        ),
        "satisfaction-surveys": (
            ward,
            "/api/v1/satisfaction-surveys",
            {"unit_id": v},
            "external_ref",
            [
                {
                    "unit_id": v,
                    "external_ref": t,
                    "month": f"2024-{i + 1:02d}",
                    "source": "survey",
                    "respondents": 9,
                    "satisfied": 8,
                }
                for i, t in enumerate(DANGEROUS)
            ],
        ),
        "contest-entries": (
            ward,
            f"/api/v1/contests/{contest['id']}/entries",
            {},
            "participant_name",
            [
                {
                    "contest_id": contest["id"],
                    "unit_id": school["id"],
                    "participant_ref": f"p{i}",
                    "participant_name": t,
                    "score": 7.5,
                    "submitted_at": "2022-05-10T09:00:00+07:00",
                }
                for i, t in enumerate(DANGEROUS)
            ],
        ),
    }


RESOURCES = ["units", "unit-plans", "broadcasts", "forums", "trainings", "satisfaction-surveys", "contest-entries"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_an_export_opens_safely_in_a_spreadsheet_and_imports_back_unchanged(world, ward, lead, resource):
    api, path, params, text_field, rows = _cases(world, ward, lead)[resource]
    r = api.post(f"{IMP}/{resource}", json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == len(rows), r.text
    before = api.get(path, params={**params, "limit": 500}).json()["items"]
    raw, table = _export(api, path, **params)
    assert raw.startswith("\ufeff".encode()), "Excel on Windows shows mojibake without the BOM"
    header = list(table[0])
    if "unit_id" in header:
        assert header[header.index("unit_id") + 1] == "unit_code", header
        assert all(row["unit_code"] for row in table), table
    # no cell a spreadsheet would run: one leading apostrophe, exactly as OWASP advises
    cells = sorted(row[text_field] for row in table)
    assert cells == sorted("'" + t for t in DANGEROUS), cells
    assert all("+07:00" in row["created_at"] for row in table), table[0]["created_at"]
    r = api.post(f"{IMP}/{resource}", content=raw, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, len(rows)), r.text
    after = api.get(path, params={**params, "limit": 500}).json()["items"]
    assert after == before  # not even a version bumped
    assert sorted(item[text_field] for item in after) == sorted(DANGEROUS)


def test_airings_and_instants_are_written_in_local_time(world, ward):
    village = world.new_unit("village", "PH-TANTHANH")
    body = {
        "unit_id": village["id"],
        "channel": "web_portal",
        "title": "Bản tin",
        "duration_minutes": 12,
        "produced_on": "2024-03-01",
        "airings": ["2024-03-12T10:30:00Z"],
    }
    assert ward.post("/api/v1/broadcasts", json=body).status_code == 201
    _, table = _export(ward, "/api/v1/broadcasts", unit_id=village["id"])
    assert table[0]["airings"] == '["2024-03-12T17:30:00+07:00"]'
    assert table[0]["unit_code"] == village["code"]


def test_numbers_stay_numbers_and_every_dangerous_text_gets_one_apostrophe():
    assert [cell(-5), cell(-0.5), cell(0)] == ["-5", "-0.5", "0"]
    assert [cell("-5"), cell("=1"), cell("a=1"), cell("'x")] == ["'-5", "'=1", "a=1", "'x"]
    for text in [*DANGEROUS, "''+x", "'", "", "bình thường", "\rCR"]:
        assert unprotect(protect(text)) == text, text
