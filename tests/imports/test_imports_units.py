"""Importing units (lead office only): create, update on code, unchanged, dry run, all-or-nothing."""

from __future__ import annotations

URL = "/api/v1/imports/units"


def test_units_import_creates_updates_and_counts_unchanged(world, lead):
    parent = world.unit_id("PH-ANMY")
    rows = [{"code": f"IMP-V{i}", "name": f"Thôn Nhập {i}", "kind": "village", "parent_id": parent} for i in range(3)]
    r = lead.post(URL, json={"rows": rows})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "resource": "units",
        "dry_run": False,
        "status": "committed",
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    rows[1]["name"] = "Thôn Nhập Một (đổi tên)"
    r = lead.post(URL, json={"rows": rows})
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 1, 2), r.text
    got = lead.get("/api/v1/units", params={"q": "nhap mot"}).json()["items"]
    assert [u["name"] for u in got] == ["Thôn Nhập Một (đổi tên)"] and got[0]["version"] == 2


def test_dry_run_writes_nothing(world, lead):
    rows = [{"code": "IMP-DRY", "name": "Thôn Khô", "kind": "village", "parent_id": world.unit_id("PH-ANMY")}]
    r = lead.post(URL, params={"dry_run": "true"}, json={"rows": rows})
    assert r.status_code == 200 and r.json()["status"] == "validated" and r.json()["created"] == 1, r.text
    assert lead.get("/api/v1/units", params={"q": "thon kho"}).json()["total"] == 0


def test_one_bad_row_rejects_the_whole_import_with_every_error(world, lead):
    parent = world.unit_id("PH-ANMY")
    rows = [
        {"code": "IMP-OK-1", "name": "Thôn Tốt", "kind": "village", "parent_id": parent},
        {"code": "IMP-BAD-1", "name": "Thôn Xấu", "kind": "hamlet", "parent_id": parent},
        {"code": "IMP-BAD-2", "name": "", "kind": "village", "parent_id": parent, "staff_count": -4},
        {"code": "IMP-OK-1", "name": "Thôn Trùng", "kind": "village", "parent_id": parent},
    ]
    r = lead.post(URL, json={"rows": rows})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == "rejected" and body["created"] == 0
    got = {(e["row"], e["field"]) for e in body["errors"]}
    assert {(2, "kind"), (3, "name"), (3, "staff_count"), (4, "code")} <= got, body["errors"]
    assert lead.get("/api/v1/units", params={"q": "thon tot"}).json()["total"] == 0


def test_csv_export_of_units_imports_back_unchanged(world, lead):
    world.new_unit("village", "XA-TAMPHU")
    csv_text = lead.get(
        "/api/v1/units", params={"parent_id": world.unit_id("XA-TAMPHU")}, headers={"Accept": "text/csv"}
    ).text
    r = lead.post(URL, content=csv_text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["unchanged"] >= 1 and r.json()["created"] == 0 and r.json()["updated"] == 0, r.text


def test_only_the_lead_office_imports_units(world, roles):
    for role, api in roles.items():
        r = api.post(URL, json={"rows": []})
        assert r.status_code == (200 if role == "lead_office" else 403), f"{role}: {r.text}"


def test_bad_bodies_are_clear_4xx(world, lead):
    assert lead.post(URL, content=b"", headers={"Content-Type": "application/json"}).status_code == 422
    assert lead.post(URL, content=b"{", headers={"Content-Type": "application/json"}).status_code == 422
    assert lead.post(URL, json={"rows": {}}).status_code == 422
    assert lead.post(URL, content=b"\xff\xfecode\n", headers={"Content-Type": "text/csv"}).status_code == 422
    assert lead.post(URL, content=b"", headers={"Content-Type": "text/csv"}).status_code == 422
    assert lead.post(URL, content=b"abc", headers={"Content-Type": "application/pdf"}).status_code == 415
    assert (
        lead.post(
            URL,
            content=b"PK\x03\x04garbage",
            headers={"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        ).status_code
        == 422
    )
    r = lead.post(URL, json={"rows": [{}] * 50_001})
    assert r.status_code == 413, r.text[:300]
    r = lead.post(URL, content=("code,name,colour\nX1,Thôn,red\n").encode(), headers={"Content-Type": "text/csv"})
    assert (
        r.status_code == 422
        and {"row": 0, "line": 1, "field": "colour", "message": "unknown column"} in r.json()["errors"]
    ), r.text
