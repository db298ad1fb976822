import pytest

from tests.record_contract import RecordCase, RecordContract, item_ids, village

PLANS = RecordCase(
    path="/api/v1/unit-plans",
    resource="unit-plans",
    body=lambda unit_id, n: {
        "unit_id": unit_id,
        "year": 2021 + n,
        "title": f"Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số năm {2021 + n}",
        "document_number": f"{45 + n}/KH-UBND",
        "issued_on": f"{2021 + n}-02-15",
        "url": "https://tamky.quangnam.gov.vn/ke-hoach",
        "topics": ["concepts", "legal_documents"],
    },
    dated=lambda day: {"issued_on": day.isoformat()},
    text_field="title",
    change={"title": "Kế hoạch (sửa đổi)", "document_number": "46/KH-UBND", "issued_on": "2021-03-01"},
    required=("unit_id", "year", "title", "document_number", "issued_on"),
    number_field="year",
    date_field="issued_on",
)


class TestUnitPlanContract(RecordContract):
    case = PLANS


def test_a_second_plan_for_the_same_unit_and_year_is_409(world, ward, lead):
    unit = village(world)
    first = PLANS.create(ward, unit, 0)
    r = lead.post(PLANS.path, json={**PLANS.body(unit, 0), "document_number": "99/KH-UBND"})
    assert r.status_code == 409 and "year" in r.json()["detail"], r.text
    second = PLANS.create(ward, unit, 1)
    r = ward.patch(f"{PLANS.path}/{second['id']}", json={"year": first["year"]})
    assert r.status_code == 409, r.text
    PLANS.create(ward, village(world), 0)  # another unit, same year: fine


def test_unit_plans_filter_by_year(world, lead):
    unit = village(world)
    plans = [PLANS.create(lead, unit, n) for n in range(3)]
    assert item_ids(lead, PLANS.path, unit_id=unit, year=2022) == [plans[1]["id"]]
    assert lead.get(PLANS.path, params={"year": 1999}).status_code == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("year", 1999),
        ("year", 2101),
        ("year", "2021a"),
        ("issued_on", "2021-13-01"),
        ("issued_on", "2021-02-30"),
        ("document_number", ""),
        ("document_number", "x" * 101),
        ("document_number", "45\x00"),
        ("title", ""),
        ("url", "u" * 2001),
    ],
)
def test_unit_plan_with_a_bad_value_is_422_naming_it(world, ward, field, value):
    r = ward.post(PLANS.path, json={**PLANS.body(village(world), 0), field: value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:2] == ["body", field], r.text


@pytest.mark.parametrize("field", ["year", "title", "document_number", "issued_on"])
def test_unit_plan_without_a_required_field_is_422(world, ward, field):
    body = PLANS.body(village(world), 0)
    del body[field]
    r = ward.post(PLANS.path, json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field], r.text


def test_unit_plan_may_leave_out_url_topics_and_external_ref(world, ward):
    body = PLANS.body(village(world), 0)
    del body["url"], body["topics"]
    r = ward.post(PLANS.path, json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["url"], r.json()["topics"], r.json()["external_ref"]) == (None, None, None)
