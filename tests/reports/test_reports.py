"""City-wide KPIs and the annual report (JSON and XLSX) on a database of their own, so that every number of
the city is known: the seeded city (23 required units, 13 wards and communes, one media centre) plus a
small hand-made dataset for 2024."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook

from app.kpis.registry import BY_CODE
from tests.reports.city import AS_OF, YEAR

CITY = {  # code: (numerator, denominator, status)
    "unit_plan_coverage": (3, 23, "not_met"),
    "official_training_coverage": (4, 10, "not_met"),
    "school_dx_coverage": (1, 1, "tracking"),
    "satisfaction_rate": (150, 200, "not_met"),
    "broadcast_compliance": (3, 14 * 12, "not_met"),
    "forum_compliance": (13, 24, "not_met"),
    "annual_report_rate": (2, 23, "not_met"),
    "annual_report_timeliness": (1, 23, "not_met"),
}
TANTHANH = {
    "unit_plan_coverage": (1, 1, "met"),
    "official_training_coverage": (4, 10, "not_met"),
    "school_dx_coverage": (1, 1, "tracking"),
    "satisfaction_rate": (90, 100, "met"),
    "broadcast_compliance": (2, 12, "not_met"),
    "forum_compliance": (12, 12, "met"),
    "annual_report_rate": (1, 1, "met"),
    "annual_report_timeliness": (1, 1, "met"),
}
CITY_BUDGET = {
    "requested_total_vnd": 8_000_000,
    "appraised_total_vnd": 5_500_000,
    "approved_total_vnd": 3_500_000,
    "by_status": [  # workflow order: submitted, ..., approved, rejected
        {
            "status": "submitted",
            "count": 1,
            "requested_total_vnd": 1_000_000,
            "appraised_total_vnd": 0,
            "approved_total_vnd": 0,
        },
        {
            "status": "approved",
            "count": 1,
            "requested_total_vnd": 5_000_000,
            "appraised_total_vnd": 4_000_000,
            "approved_total_vnd": 3_500_000,
        },
        {
            "status": "rejected",
            "count": 1,
            "requested_total_vnd": 2_000_000,
            "appraised_total_vnd": 1_500_000,
            "approved_total_vnd": 0,
        },
    ],
}


def numbers(items: list[dict]) -> dict[str, tuple[int, int, str]]:
    return {k["code"]: (k["numerator"], k["denominator"], k["status"]) for k in items}


def test_lead_finance_and_viewer_see_the_same_city_numbers(city):
    for role, unit in (("lead_office", "P-VHTT"), ("finance_office", "P-TCKH"), ("viewer", "UBND-TK")):
        r = city.user(role, unit).get("/api/v1/kpis", params={"year": YEAR, "as_of": AS_OF})
        assert r.status_code == 200, r.text
        assert numbers(r.json()["items"]) == CITY, (role, r.text)


def test_a_unit_user_of_the_city_committee_gets_the_whole_city(city):
    r = city.user("unit", "UBND-TK").get("/api/v1/kpis", params={"year": YEAR, "as_of": AS_OF})
    assert r.status_code == 200, r.text
    assert numbers(r.json()["items"]) == CITY, r.text


def test_a_ward_caller_gets_its_own_scope_of_the_city(city):
    r = city.ward.get("/api/v1/kpis", params={"year": YEAR, "as_of": AS_OF})
    assert r.status_code == 200, r.text
    assert numbers(r.json()["items"]) == TANTHANH, r.text


def test_city_breakdowns_list_every_unit_of_the_denominator(city):
    ids = city.ids
    r = city.lead.get("/api/v1/kpis/forum_compliance", params={"year": YEAR, "as_of": AS_OF})
    assert [(b["unit_id"], b["numerator"], b["denominator"]) for b in r.json()["breakdown"]] == [
        (ids["v1"], 12, 12),
        (ids["v2"], 1, 12),
    ], r.text
    r = city.lead.get("/api/v1/kpis/broadcast_compliance", params={"year": YEAR, "as_of": AS_OF})
    breakdown = {b["unit_id"]: (b["numerator"], b["denominator"]) for b in r.json()["breakdown"]}
    assert len(breakdown) == 14 and breakdown[ids["tanthanh"]] == (2, 12) and breakdown[ids["center"]] == (1, 12)
    assert sum(n for n, _ in breakdown.values()) == 3


def test_annual_report_json_has_kpis_with_breakdowns_monthly_series_and_budget(city):
    r = city.lead.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["year"] == YEAR and report["as_of"] == AS_OF
    assert numbers(report["kpis"]) == CITY
    for kpi in report["kpis"]:
        detail = city.lead.get(f"/api/v1/kpis/{kpi['code']}", params={"year": YEAR, "as_of": AS_OF}).json()
        assert kpi["breakdown"] == detail["breakdown"], kpi["code"]
    forums = report["monthly"]["forum_compliance"]
    assert [(p["month"], p["numerator"], p["denominator"]) for p in forums] == [
        (f"2024-{m:02d}", 2 if m == 1 else 1, 2) for m in range(1, 13)
    ]
    broadcasts = report["monthly"]["broadcast_compliance"]
    assert [(p["numerator"], p["denominator"]) for p in broadcasts] == [(2, 14), (1, 14)] + [(0, 14)] * 10
    assert report["budget"] == CITY_BUDGET


def test_a_ward_gets_its_own_budget_lines_in_the_annual_report(city):
    r = city.ward.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF})
    assert r.status_code == 200, r.text
    budget = r.json()["budget"]
    assert (budget["requested_total_vnd"], budget["appraised_total_vnd"], budget["approved_total_vnd"]) == (
        6_000_000,
        4_000_000,
        3_500_000,
    ), r.text
    assert [s["status"] for s in budget["by_status"]] == ["submitted", "approved"]
    assert numbers(r.json()["kpis"]) == TANTHANH


def test_a_year_without_data_gives_no_data_and_an_empty_workbook_still_opens(city):
    # 2021 up to July: no month of the plan has ended, and nothing was recorded (2030: no plan covers it)
    r = city.lead.get("/api/v1/reports/annual", params={"year": 2030, "as_of": "2030-06-01"})
    assert r.status_code == 422 and "KH-TK-2021-2025" in r.json()["detail"], r.text
    r = city.lead.get("/api/v1/reports/annual", params={"year": 2021, "as_of": "2021-07-31"})
    assert r.status_code == 200, r.text
    statuses = {k["code"]: k["status"] for k in r.json()["kpis"]}
    assert statuses["broadcast_compliance"] == "no_data" and statuses["satisfaction_rate"] == "no_data"
    assert statuses["unit_plan_coverage"] == "not_met"  # required units exist, none has a plan
    assert r.json()["budget"] == {
        "requested_total_vnd": 0,
        "appraised_total_vnd": 0,
        "approved_total_vnd": 0,
        "by_status": [],
    }
    r = city.lead.get("/api/v1/reports/annual", params={"year": 2021, "as_of": "2021-07-31", "format": "xlsx"})
    assert r.status_code == 200
    summary = load_workbook(BytesIO(r.content))["Tổng hợp"]
    plans = next(row for row in summary.iter_rows(values_only=True) if row[1] == BY_CODE["unit_plan_coverage"].name)
    assert plans[-1] == "Chưa đạt", plans


def test_an_unknown_report_format_is_a_422(city):
    r = city.lead.get("/api/v1/reports/annual", params={"year": YEAR, "format": "pdf"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "format", r.text
