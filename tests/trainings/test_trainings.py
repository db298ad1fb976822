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

PATH = "/api/v1/trainings"


def body(unit_id: int, participants: list | None = None, **extra) -> dict:
    return {
        "unit_id": unit_id,
        "audience": "officials",
        "title": "Tập huấn kiến thức cơ bản về chuyển đổi số cho cán bộ, công chức",
        "held_on": "2022-06-15",
        "participants": participants or [],
        **extra,
    }


@pytest.fixture(scope="module")
def school(world):
    return world.new_unit("school", "PH-TANTHANH")


def test_ward_records_a_training_with_officials_from_other_agencies(world, ward, lead):
    guests = [
        {"unit_id": world.unit_id("P-NV"), "count": 3},
        {"unit_id": ward.unit_id, "count": 25},
        {"unit_id": world.unit_id("PH-ANMY"), "count": 0},
    ]
    sent = body(ward.unit_id, guests, topics=["roles", "shared_apps"], external_ref="th-06")
    record = create(ward, PATH, sent)
    url = f"{PATH}/{record['id']}"
    for key, value in sent.items():
        assert record[key] == value, (key, record)
    assert ok(ward.get(url)) == record
    check_etag_round_trip(ward, url, {"participants": [{"unit_id": ward.unit_id, "count": 30}]})
    r = ward.delete(url)
    assert r.status_code == 204, r.text
    problem(ward.get(url), 404)
    assert audit_actions(lead, "trainings", record["id"]) == ["create", "update", "delete"]


def test_participants_name_real_units_once_each_with_counts_of_zero_or_more(world, ward):
    real = {"unit_id": ward.unit_id, "count": 1}
    problem(
        ward.post(PATH, json=body(ward.unit_id, [real, {"unit_id": 10**12, "count": 1}])),
        422,
        ["body", "participants", 1, "unit_id"],
    )
    problem(
        ward.post(PATH, json=body(ward.unit_id, [real, {**real, "count": 2}])),
        422,
        ["body", "participants", 1, "unit_id"],
    )
    problem(
        ward.post(PATH, json=body(ward.unit_id, [{**real, "count": -1}])), 422, ["body", "participants", 0, "count"]
    )
    problem(
        ward.post(PATH, json=body(ward.unit_id, [{**real, "count": 10**30}])), 422, ["body", "participants", 0, "count"]
    )
    problem(ward.post(PATH, json=body(ward.unit_id, [{**real, "extra": 1}])), 422, ["body", "participants", 0, "extra"])
    too_many = [{"unit_id": ward.unit_id, "count": 1}] * 1001
    problem(ward.post(PATH, json=body(ward.unit_id, too_many)), 422, ["body", "participants"])


def test_a_ward_organises_for_its_schools_but_not_for_other_wards(world, ward, other_ward, school):
    own = create(ward, PATH, body(school["id"], [{"unit_id": school["id"], "count": 40}], audience="students"))
    problem(other_ward.get(f"{PATH}/{own['id']}"), 404)
    problem(other_ward.patch(f"{PATH}/{own['id']}", json={"title": "x"}), 404)
    problem(other_ward.delete(f"{PATH}/{own['id']}"), 404)
    assert own["id"] not in item_ids(other_ward, PATH)
    problem(other_ward.post(PATH, json=body(school["id"])), 403)
    problem(ward.post(PATH, json=body(other_ward.unit_id)), 403)
    problem(ward.patch(f"{PATH}/{own['id']}", json={"unit_id": other_ward.unit_id}), 403)
    assert item_ids(ward, PATH, unit_id=school["id"]) == [own["id"]]


def test_finance_and_viewer_read_every_training_and_write_none(ward, finance, viewer, anonymous):
    record = create(ward, PATH, body(ward.unit_id))
    for reader in (finance, viewer):
        assert ok(reader.get(f"{PATH}/{record['id']}"))["id"] == record["id"]
        assert record["id"] in item_ids(reader, PATH, unit_id=ward.unit_id)
        problem(reader.post(PATH, json=body(ward.unit_id)), 403)
        problem(reader.patch(f"{PATH}/{record['id']}", json={"title": "x"}), 403)
        problem(reader.delete(f"{PATH}/{record['id']}"), 403)
    problem(anonymous.post(PATH, json=body(ward.unit_id)), 401)


def test_lists_filter_by_audience_unit_and_inclusive_dates(world, lead):
    unit = world.new_unit("department", "UBND-TK")
    made = {
        (day, audience): create(lead, PATH, body(unit["id"], held_on=day, audience=audience))["id"]
        for day, audience in [("2021-07-01", "officials"), ("2021-07-31", "residents"), ("2021-08-01", "businesses")]
    }
    ids = list(made.values())
    assert item_ids(lead, PATH, unit_id=unit["id"]) == ids
    assert item_ids(lead, PATH, unit_id=unit["id"], audience="residents") == [ids[1]]
    assert item_ids(lead, PATH, unit_id=unit["id"], **{"from": "2021-07-01", "to": "2021-07-31"}) == ids[:2]
    assert item_ids(lead, PATH, unit_id=unit["id"], **{"from": "2021-07-31"}) == ids[1:]
    problem(lead.get(PATH, params={"audience": "everyone"}), 422)


def test_csv_export_holds_participants_as_json_in_their_cell(world, lead):
    unit = world.new_unit("department", "UBND-TK")
    guests = [{"unit_id": unit["id"], "count": 7}, {"unit_id": world.unit_id("P-KT"), "count": 2}]
    create(lead, PATH, body(unit["id"], guests))
    rows = csv_rows(lead, PATH, unit_id=unit["id"])
    assert [orjson.loads(r["participants"]) for r in rows] == [guests]
    assert rows[0]["topics"] == "" and rows[0]["audience"] == "officials"


def test_bad_input_is_always_422(ward):
    cases = hostile_values("title", "unit_id", "held_on") | {"unknown audience": ("audience", "everyone")}
    check_bad_inputs_are_422(ward, PATH, body(ward.unit_id), cases)
    record = create(ward, PATH, body(ward.unit_id))
    problem(ward.patch(f"{PATH}/{record['id']}", json={"held_on": None}), 422, ["body", "held_on"])
    problem(ward.patch(f"{PATH}/{record['id']}", json={"topics": ["gossip"]}), 422, ["body", "topics", 0])
