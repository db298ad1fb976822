"""Units: the seeded city, search without diacritics, retire instead of delete, who may write."""

from __future__ import annotations

import pytest

from app.seed import DEPARTMENTS, WARDS

U = "/api/v1/units"


def test_every_seeded_code_is_there_with_its_kind_and_parent(world, viewer):
    codes = {c for c, *_ in DEPARTMENTS} | {c for c, *_ in WARDS} | {"UBND-TK"}
    got = {}
    cursor = None
    while True:
        page = viewer.get(U, params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        got.update({u["code"]: u for u in page["items"]})
        if not (cursor := page["next_cursor"]):
            break
    assert codes <= set(got)
    city = got["UBND-TK"]
    assert city["kind"] == "city" and city["parent_id"] is None
    assert got["PH-TANTHANH"]["is_pilot"] and got["XA-TAMTHANH"]["is_pilot"] and not got["PH-ANMY"]["is_pilot"]
    assert got["PH-ANMY"]["name"] == "Phường An Mỹ" and got["XA-TAMTHANG"]["name"] == "Xã Tam Thăng"
    assert got["TT-VHTTTT"]["kind"] == "media_center" and got["TD-TK"]["kind"] == "association"
    assert all(got[c]["parent_id"] == city["id"] for c in codes - {"UBND-TK"})


@pytest.mark.parametrize(
    "q,code",
    [
        ("tan thanh", "PH-TANTHANH"),
        ("TÂN THẠNH", "PH-TANTHANH"),
        ("thanh doan", "TD-TK"),
        ("Thành Đoàn", "TD-TK"),
        ("tam thang", "XA-TAMTHANG"),
        ("hoa huong", "PH-HOAHUONG"),
    ],
)
def test_search_ignores_diacritics_and_case(world, ward, q, code):
    r = ward.get(U, params={"q": q})
    assert r.status_code == 200, r.text
    assert code in [u["code"] for u in r.json()["items"]], r.text


def test_search_treats_percent_and_underscore_literally(world, viewer):
    assert viewer.get(U, params={"q": "%"}).json()["total"] == 0
    assert viewer.get(U, params={"q": "_"}).json()["total"] == 0


def test_filters_kind_parent_and_active(world, lead, viewer):
    wards = viewer.get(U, params={"kind": "ward", "limit": 500}).json()
    assert wards["total"] >= 9 and all(u["kind"] == "ward" for u in wards["items"])
    village = world.new_unit("village", "PH-ANSON")
    children = viewer.get(U, params={"parent_id": world.unit_id("PH-ANSON")}).json()["items"]
    assert [u["id"] for u in children] == [village["id"]]
    r = lead.patch(f"{U}/{village['id']}", json={"dissolved_on": "2023-01-01"})
    assert r.status_code == 200 and r.json()["active"] is False, r.text
    retired = viewer.get(U, params={"parent_id": world.unit_id("PH-ANSON"), "active": "false"}).json()["items"]
    assert [u["id"] for u in retired] == [village["id"]]
    assert viewer.get(U, params={"parent_id": world.unit_id("PH-ANSON"), "active": "true"}).json()["total"] == 0


def test_merging_a_ward_retires_it_and_keeps_its_record(world, lead):
    ward = world.new_unit("ward", "UBND-TK")
    target = world.new_unit("ward", "UBND-TK")
    r = lead.patch(f"{U}/{ward['id']}", json={"dissolved_on": "2024-01-01", "merged_into_id": target["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["merged_into_id"] == target["id"] and r.json()["active"] is False
    assert lead.get(f"{U}/{ward['id']}").status_code == 200


def test_units_are_never_deleted(world, lead):
    r = lead.delete(f"{U}/{world.unit_id('PH-ANMY')}")
    assert r.status_code == 405, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_only_the_lead_office_writes_units(world, roles):
    for role, api in roles.items():
        r = api.post(
            U, json={"code": f"X-{role}", "name": "Thôn Mới", "kind": "village", "parent_id": world.unit_id("PH-ANMY")}
        )
        assert r.status_code == (201 if role == "lead_office" else 403), f"{role}: {r.text}"
        r = api.patch(f"{U}/{world.unit_id('PH-ANMY')}", json={"staff_count": 40})
        assert r.status_code == (200 if role == "lead_office" else 403), f"{role}: {r.text}"
        assert api.get(U).status_code == 200
        assert api.get(f"{U}/{world.unit_id('P-VHTT')}").status_code == 200


@pytest.mark.parametrize(
    "body,field",
    [
        ({"code": "X-NOPARENT", "name": "Thôn", "kind": "village"}, "parent_id"),
        ({"code": "X-BADPARENT", "name": "Thôn", "kind": "village", "parent_id": 987654321}, "parent_id"),
        ({"code": "X-BADKIND", "name": "Thôn", "kind": "hamlet", "parent_id": 1}, "kind"),
        ({"code": "X-NEG", "name": "Thôn", "kind": "village", "parent_id": 1, "staff_count": -1}, "staff_count"),
        ({"code": "X-HUGE", "name": "Thôn", "kind": "village", "parent_id": 1, "staff_count": 10**30}, "staff_count"),
        (
            {"code": "X-DATE", "name": "Thôn", "kind": "village", "parent_id": 1, "established_on": "2022-02-30"},
            "established_on",
        ),
        ({"code": "X-NUL", "name": "Thôn\u0000", "kind": "village", "parent_id": 1}, "name"),
        ({"code": "X-EXTRA", "name": "Thôn", "kind": "village", "parent_id": 1, "active": False}, "active"),
        (
            {
                "code": "X-ORDER",
                "name": "Thôn",
                "kind": "village",
                "parent_id": 1,
                "established_on": "2022-01-01",
                "dissolved_on": "2021-01-01",
            },
            "dissolved_on",
        ),
        ({"code": "bad code!", "name": "Thôn", "kind": "village", "parent_id": 1}, "code"),
    ],
)
def test_invalid_unit_is_422_naming_the_field(world, lead, body, field):
    r = lead.post(U, json=body)
    assert r.status_code == 422, r.text
    assert field in [e["loc"][-1] for e in r.json()["errors"]], r.text


@pytest.mark.parametrize("field", ["kind", "code", "name"])
def test_a_patch_that_empties_a_required_field_is_422_naming_it(world, lead, field):
    unit = world.new_unit("village", "PH-ANPHU")
    r = lead.patch(f"{U}/{unit['id']}", json={field: None, "staff_count": 3})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": ["body", field], "msg": "may not be null"}], r.text
    assert lead.get(f"{U}/{unit['id']}").json()["staff_count"] == 0


def test_a_unit_cannot_become_its_own_ancestor(world, lead):
    village = world.new_unit("village", "PH-ANPHU")
    r = lead.patch(f"{U}/{world.unit_id('PH-ANPHU')}", json={"parent_id": village["id"]})
    assert r.status_code == 422, r.text


def test_duplicate_code_is_409(world, lead):
    r = lead.post(
        U, json={"code": "PH-ANMY", "name": "Phường An Mỹ", "kind": "ward", "parent_id": world.unit_id("UBND-TK")}
    )
    assert r.status_code == 409, r.text


def test_vietnamese_names_round_trip_exactly(world, lead):
    name = "Thôn Phú Thạnh Đông — khối phố Ngọc Nam (Ơ ư ữ ỹ)"
    r = lead.post(
        U, json={"code": "X-VN-1", "name": name, "kind": "quarter", "parent_id": world.unit_id("PH-HOATHUAN")}
    )
    assert r.status_code == 201, r.text
    assert lead.get(f"{U}/{r.json()['id']}").json()["name"] == name
    assert [u["name"] for u in lead.get(U, params={"q": "phu thanh dong"}).json()["items"]] == [name]


def test_etag_and_if_match(world, lead):
    unit = world.new_unit("school", "P-GDDT")
    r = lead.get(f"{U}/{unit['id']}")
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    stale = lead.patch(f"{U}/{unit['id']}", json={"staff_count": 12}, headers={"If-Match": etag})
    assert stale.status_code == 200, stale.text
    assert stale.headers["etag"] != etag
    r = lead.patch(f"{U}/{unit['id']}", json={"staff_count": 13}, headers={"If-Match": etag})
    assert r.status_code == 412, r.text
    assert lead.get(f"{U}/{unit['id']}").json()["staff_count"] == 12


def test_every_unit_write_is_audited(world, lead):
    unit = world.new_unit("village", "XA-TAMPHU")
    lead.patch(f"{U}/{unit['id']}", json={"name": "Thôn Đổi Tên"})
    events = lead.get("/api/v1/audit-events", params={"resource": "units", "resource_id": unit["id"]}).json()["items"]
    assert [e["action"] for e in events] == ["create", "update"]
    assert events[1]["before"]["name"] != "Thôn Đổi Tên" and events[1]["after"]["name"] == "Thôn Đổi Tên"
    assert events[0]["actor"]["kind"] == "user" and events[0]["actor"]["role"] == "lead_office"
    assert events[0]["request_id"]
