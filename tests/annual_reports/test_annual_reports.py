from datetime import UTC, datetime, timedelta

import pytest

from tests.record_contract import RecordCase, RecordContract, item_ids, village

REPORTS = RecordCase(
    path="/api/v1/annual-reports",
    resource="annual-reports",
    body=lambda unit_id, n: {
        "unit_id": unit_id,
        "year": 2021 + n,
        "summary": "Tổ chức 12 diễn đàn, 3 lớp tập huấn; 85% người dân hài lòng.",
        "url": "https://tamky.gov.vn/bao-cao",
        "topics": ["success_stories"],
    },
    dated=lambda day: {"submitted_at": f"{day.isoformat()}T09:00:00+07:00"},
    text_field="summary",
    change={"summary": "Bổ sung số liệu tháng 11.", "year": 2030},
    required=("unit_id", "year", "summary"),
    number_field="year",
)


class TestAnnualReportContract(RecordContract):
    case = REPORTS


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_submitted_at_is_stamped_by_the_server_and_a_units_own_value_ignored(world, ward):
    before = datetime.now(UTC)
    report = REPORTS.create(ward, village(world), submitted_at="2021-11-30T08:00:00+07:00")
    stamped = instant(report["submitted_at"])
    assert before - timedelta(seconds=1) <= stamped <= datetime.now(UTC) + timedelta(seconds=1), report

    r = ward.patch(
        f"{REPORTS.path}/{report['id']}", json={"submitted_at": "2021-11-30T08:00:00+07:00", "summary": "Sửa"}
    )
    assert r.status_code == 200, r.text
    assert instant(r.json()["submitted_at"]) == stamped and r.json()["summary"] == "Sửa"


def test_lead_office_backfills_a_paper_reports_submitted_at(world, lead, ward):
    report = REPORTS.create(lead, village(world), submitted_at="2021-11-30T08:00:00+07:00")
    assert instant(report["submitted_at"]) == datetime(2021, 11, 30, 1, 0, tzinfo=UTC)
    url = f"{REPORTS.path}/{report['id']}"
    r = lead.patch(url, json={"submitted_at": "2021-11-29T23:30:00Z"})
    assert r.status_code == 200 and instant(r.json()["submitted_at"]) == datetime(2021, 11, 29, 23, 30, tzinfo=UTC), (
        r.text
    )
    r = ward.patch(url, json={"summary": "Cập nhật"})
    assert r.status_code == 200 and instant(r.json()["submitted_at"]) == datetime(2021, 11, 29, 23, 30, tzinfo=UTC), (
        r.text
    )
    # without a value, lead_office's report is stamped now, like anyone's
    fresh = REPORTS.create(lead, village(world))
    assert datetime.now(UTC) - instant(fresh["submitted_at"]) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "value",
    [
        "2999-01-01T00:00:00Z",
        "0001-01-01T00:00:00+07:00",
        "9999-12-31T23:00:00-07:00",
        "2021-11-30T08:00:00",
        "2021-02-30T08:00:00Z",
    ],
)
def test_a_future_naive_or_impossible_submitted_at_is_422(world, lead, value):
    r = lead.post(REPORTS.path, json={**REPORTS.body(village(world), 0), "submitted_at": value})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "submitted_at"], r.text


def test_list_dates_an_annual_report_by_the_local_day_of_submitted_at(world, lead):
    unit = village(world)
    # 18:00 UTC on 30 November is already 1 December in Tam Kỳ: on time it is not
    report = REPORTS.create(lead, unit, submitted_at="2023-11-30T18:00:00Z")

    def listed(**params):
        return item_ids(lead, REPORTS.path, unit_id=unit, **params)

    assert listed(**{"from": "2023-12-01", "to": "2023-12-01"}) == [report["id"]]
    assert listed(to="2023-11-30") == []


def test_a_second_annual_report_for_the_same_unit_and_year_is_409(world, ward, lead):
    unit = village(world)
    first = REPORTS.create(ward, unit, 0)
    r = lead.post(REPORTS.path, json=REPORTS.body(unit, 0))
    assert r.status_code == 409, r.text
    second = REPORTS.create(ward, unit, 1)
    r = ward.patch(f"{REPORTS.path}/{second['id']}", json={"year": first["year"]})
    assert r.status_code == 409, r.text


def test_annual_reports_filter_by_year(world, ward):
    unit = village(world)
    reports = [REPORTS.create(ward, unit, n) for n in range(2)]
    assert item_ids(ward, REPORTS.path, unit_id=unit, year=2022) == [reports[1]["id"]]


@pytest.mark.parametrize(
    ("field", "value"), [("year", 1999), ("year", 2101), ("summary", "s" * 20_001), ("summary", None)]
)
def test_annual_report_with_a_bad_value_is_422_naming_it(world, ward, field, value):
    r = ward.post(REPORTS.path, json={**REPORTS.body(village(world), 0), field: value})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][:2] == ["body", field], r.text


def test_openapi_says_who_may_set_submitted_at(world, anonymous):
    schemas = anonymous.get("/openapi.json").json()["components"]["schemas"]
    for name in ("AnnualReportCreate", "AnnualReportUpdate"):
        assert "only lead_office may set it" in schemas[name]["properties"]["submitted_at"]["description"]
