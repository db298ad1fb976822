import orjson
import pytest

from tests.record_contract import (
    audit_actions,
    check_bad_inputs_are_422,
    check_etag_round_trip,
    create,
    csv_rows,
    hostile_values,
    item_ids,
    ok,
    problem,
)

PATH = "/api/v1/broadcasts"


def body(unit_id: int, **extra) -> dict:
    return {
        "unit_id": unit_id,
        "channel": "ward_radio",
        "title": "Chuyển đổi số ở Phường Tân Thạnh — bản tin tháng 4",
        "duration_minutes": 12,
        "produced_on": "2022-04-28",
        "airings": [],
        **extra,
    }


@pytest.fixture(scope="module")
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def test_ward_creates_reads_updates_and_deletes_its_ward_radio_report(world, ward, lead):
    sent = body(
        ward.unit_id, topics=["concepts", "commune_dx"], external_ref="tt-2022-04", url="https://tanthanh.vn/dx"
    )
    record = create(ward, PATH, sent)
    url = f"{PATH}/{record['id']}"
    for key, value in sent.items():
        assert record[key] == value, (key, record)
    assert record["version"] == 1
    assert ok(ward.get(url)) == record
    updated = check_etag_round_trip(ward, url, {"title": "Bản tin đã sửa: Đề án 06", "duration_minutes": 15})
    r = ward.delete(url, headers={"If-Match": ward.get(url).headers["ETag"]})
    assert r.status_code == 204, r.text
    problem(ward.get(url), 404)
    assert audit_actions(lead, "broadcasts", record["id"]) == ["create", "update", "delete"]
    assert updated["title"] == "Bản tin đã sửa: Đề án 06"


def test_airings_sent_with_any_offset_come_back_sorted_in_utc(ward):
    instants = ["2022-04-30T17:30:00-05:00", "2022-04-01T08:00:00+07:00", "2022-04-15T00:00:00Z"]
    record = create(ward, PATH, body(ward.unit_id, airings=instants))
    expected = ["2022-04-01T01:00:00Z", "2022-04-15T00:00:00Z", "2022-04-30T22:30:00Z"]
    assert record["airings"] == expected
    assert ok(ward.get(f"{PATH}/{record['id']}"))["airings"] == expected
    replaced = ok(ward.patch(f"{PATH}/{record['id']}", json={"airings": ["2022-05-02T06:00:00+07:00"]}))
    assert replaced["airings"] == ["2022-05-01T23:00:00Z"]


def test_airings_without_offset_repeated_or_too_many_are_422(ward):
    problem(ward.post(PATH, json=body(ward.unit_id, airings=["2022-04-30T17:30:00"])), 422, ["body", "airings", 0])
    same = ["2022-04-30T17:30:00-05:00", "2022-04-30T22:30:00Z"]
    problem(ward.post(PATH, json=body(ward.unit_id, airings=same)), 422, ["body", "airings", 1])
    many = [f"2022-04-01T00:{m:02d}:{s:02d}Z" for m in range(17) for s in range(60)][:1001]
    problem(ward.post(PATH, json=body(ward.unit_id, airings=many)), 422, ["body", "airings"])
    beyond = ["9999-12-31T23:00:00-05:00"]
    problem(ward.post(PATH, json=body(ward.unit_id, airings=beyond)), 422, ["body", "airings", 0])


def test_each_channel_belongs_to_its_kind_of_station(world, lead, ward):
    media_center, department = world.unit_id("TT-VHTTTT"), world.unit_id("P-VHTT")
    problem(lead.post(PATH, json=body(media_center)), 422, ["body", "channel"])
    problem(ward.post(PATH, json=body(ward.unit_id, channel="city_radio_tv")), 422, ["body", "channel"])
    create(lead, PATH, body(media_center, channel="city_radio_tv", duration_minutes=30))
    create(lead, PATH, body(world.unit_id("XA-TAMTHANH")))
    create(lead, PATH, body(department, channel="web_portal", duration_minutes=0))
    record = create(lead, PATH, body(world.unit_id("PH-ANMY")))
    problem(lead.patch(f"{PATH}/{record['id']}", json={"unit_id": department}), 422, ["body", "unit_id"])
    problem(lead.patch(f"{PATH}/{record['id']}", json={"channel": "city_radio_tv"}), 422, ["body", "channel"])


def test_a_ward_works_for_its_villages_but_not_for_other_wards(world, ward, other_ward, village):
    own = create(ward, PATH, body(village["id"], channel="web_portal"))
    problem(other_ward.get(f"{PATH}/{own['id']}"), 404)
    problem(other_ward.patch(f"{PATH}/{own['id']}", json={"title": "x"}), 404)
    problem(other_ward.delete(f"{PATH}/{own['id']}"), 404)
    assert own["id"] not in item_ids(other_ward, PATH)
    assert item_ids(other_ward, PATH, unit_id=village["id"]) == []
    problem(other_ward.post(PATH, json=body(ward.unit_id)), 403)
    problem(ward.post(PATH, json=body(other_ward.unit_id)), 403)
    problem(ward.patch(f"{PATH}/{own['id']}", json={"unit_id": other_ward.unit_id}), 403)
    assert own["id"] in item_ids(ward, PATH, unit_id=village["id"])


def test_finance_and_viewer_read_every_broadcast_and_write_none(world, ward, finance, viewer, anonymous):
    record = create(ward, PATH, body(ward.unit_id))
    for reader in (finance, viewer):
        assert ok(reader.get(f"{PATH}/{record['id']}"))["id"] == record["id"]
        assert record["id"] in item_ids(reader, PATH, unit_id=ward.unit_id)
        problem(reader.post(PATH, json=body(ward.unit_id)), 403)
        problem(reader.patch(f"{PATH}/{record['id']}", json={"title": "x"}), 403)
        problem(reader.delete(f"{PATH}/{record['id']}"), 403)
    problem(anonymous.get(PATH), 401)


def test_lists_filter_by_channel_unit_and_inclusive_production_dates(world, lead):
    unit = world.new_unit("ward", "UBND-TK")
    made = {
        day: create(lead, PATH, body(unit["id"], produced_on=day, channel=channel))["id"]
        for day, channel in [("2023-01-31", "ward_radio"), ("2023-02-01", "web_portal"), ("2023-02-28", "ward_radio")]
    }
    assert item_ids(lead, PATH, unit_id=unit["id"]) == list(made.values())
    assert item_ids(lead, PATH, unit_id=unit["id"], channel="ward_radio") == [made["2023-01-31"], made["2023-02-28"]]
    feb = item_ids(lead, PATH, unit_id=unit["id"], **{"from": "2023-02-01", "to": "2023-02-28"})
    assert feb == [made["2023-02-01"], made["2023-02-28"]]
    assert item_ids(lead, PATH, unit_id=unit["id"], to="2023-01-31") == [made["2023-01-31"]]
    problem(lead.get(PATH, params={"channel": "tv"}), 422)
    assert item_ids(lead, PATH, unit_id=unit["id"], **{"from": "0001-01-01", "to": "9999-12-31"}) == list(made.values())


def test_csv_export_holds_airings_as_json_in_their_cell(world, lead):
    unit = world.new_unit("commune", "UBND-TK")
    create(lead, PATH, body(unit["id"], airings=["2022-04-30T17:30:00-05:00", "2022-04-29T07:00:00+07:00"]))
    rows = csv_rows(lead, PATH, unit_id=unit["id"])
    assert len(rows) == 1
    assert orjson.loads(rows[0]["airings"]) == ["2022-04-29T07:00:00+07:00", "2022-05-01T05:30:00+07:00"]  # local time
    assert rows[0]["title"] == body(0)["title"]


def test_external_ref_is_unique_per_unit(world, lead):
    a, b = world.new_unit("ward", "UBND-TK"), world.new_unit("ward", "UBND-TK")
    create(lead, PATH, body(a["id"], external_ref="radio-1"))
    problem(lead.post(PATH, json=body(a["id"], external_ref="radio-1")), 409)
    create(lead, PATH, body(b["id"], external_ref="radio-1"))


def test_bad_input_is_always_422(ward):
    cases = hostile_values("title", "duration_minutes", "produced_on")
    cases |= {"unknown channel": ("channel", "tv"), "10**30 unit": ("unit_id", 10**30), "empty title": ("title", "")}
    check_bad_inputs_are_422(ward, PATH, body(ward.unit_id), cases)
    created = create(ward, PATH, body(ward.unit_id))
    problem(ward.patch(f"{PATH}/{created['id']}", json={"title": None}), 422, ["body", "title"])
    problem(ward.patch(f"{PATH}/{created['id']}", json={"airings": None}), 422, ["body", "airings"])
    problem(ward.get(f"{PATH}/{10**30}"), 422)
