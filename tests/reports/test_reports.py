"""City-wide KPIs and the annual report (JSON and XLSX) on a database of their own, so that every number of
the city is known: the seeded city (23 required units, 13 wards and communes, one media centre) plus a
small hand-made dataset for 2024."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from openpyxl import load_workbook
from pytest import approx

from tests.conftest import world_on_new_database
from tests.factories import Factory

YEAR, AS_OF = 2024, "2025-01-10"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
    "by_status": [
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
        {
            "status": "submitted",
            "count": 1,
            "requested_total_vnd": 1_000_000,
            "appraised_total_vnd": 0,
            "approved_total_vnd": 0,
        },
    ],
}


@pytest.fixture(scope="module")
def city():
    with world_on_new_database("reports") as world:
        f = Factory.for_world(world)
        u = world.unit_id
        tanthanh, anmy, center = u("PH-TANTHANH"), u("PH-ANMY"), u("TT-VHTTTT")
        for code, day in (("P-VHTT", "2024-01-10"), ("PH-TANTHANH", "2024-02-01"), ("PH-ANMY", "2024-03-01")):
            f.unit_plan(u(code), YEAR, issued_on=day)
        f.annual_report(tanthanh, YEAR, submitted_at="2024-11-20T03:00:00Z")
        f.annual_report(anmy, YEAR, submitted_at="2024-12-05T03:00:00Z")
        v1, v2 = f.unit("village", tanthanh), f.unit("village", anmy)
        for month in range(1, 13):
            f.forum(v1, f"2024-{month:02d}-15")
        f.forum(v2, "2024-01-15")
        for month in ("01", "02"):
            f.broadcast(tanthanh, airings=[f"2024-{month}-0{d}T02:00:00Z" for d in (3, 4, 5)])
        f.broadcast(
            center,
            channel="city_radio_tv",
            duration_minutes=30,
            airings=[f"2024-01-0{d}T12:00:00Z" for d in (3, 4, 5, 6)],
        )
        school = f.unit("school", tanthanh, staff_count=10)
        f.training(u("P-VHTT"), "2024-04-02", participants={school: 4})
        f.training(school, "2024-09-10", audience="students", participants={school: 300})
        f.survey(tanthanh, "2024-05", 100, 90)
        f.survey(anmy, "2024-05", 100, 60)
        h1, h2, old = f.budget_round("2024-H1"), f.budget_round("2024-H2"), f.budget_round("2023-H2")
        f.budget_submission(h1, tanthanh, "submitted", 1_000_000)
        f.budget_submission(h2, tanthanh, "approved", 5_000_000, appraised=4_000_000, approved=3_500_000)
        f.budget_submission(h1, anmy, "rejected", 2_000_000, appraised=1_500_000)
        f.budget_submission(h1, anmy, "draft", 9_000_000)
        f.budget_submission(old, tanthanh, "approved", 7_000_000, appraised=7_000_000, approved=7_000_000)
        world.ids = {"tanthanh": tanthanh, "anmy": anmy, "center": center, "v1": v1, "v2": v2, "school": school}
        world.lead = world.user("lead_office", "P-VHTT")
        world.ward = world.user("unit", "PH-TANTHANH")
        yield world
        f.close()


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
    assert [s["status"] for s in budget["by_status"]] == ["approved", "submitted"]
    assert numbers(r.json()["kpis"]) == TANTHANH


def _workbook(api, **params):
    r = api.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF, "format": "xlsx", **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == f'attachment; filename="bao-cao-nam-{YEAR}.xlsx"'
    return r.content


def test_annual_report_workbook_matches_the_json_and_has_native_charts(city):
    report = city.lead.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF}).json()
    content = _workbook(city.lead)
    wb = load_workbook(BytesIO(content))
    assert wb.sheetnames == [
        "Tổng hợp",
        "Kế hoạch của đơn vị",
        "Tập huấn CBCCVC",
        "Trường học",
        "Mức độ hài lòng",
        "Phát thanh - truyền hình",
        "Diễn đàn thôn, khối phố",
        "Báo cáo năm",
        "Báo cáo đúng hạn",
        "Theo tháng",
        "Kinh phí",
    ]
    summary = wb["Tổng hợp"]
    assert [c.value for c in summary[4]] == [
        "STT",
        "Mã chỉ tiêu",
        "Chỉ tiêu",
        "Tử số",
        "Mẫu số",
        "Kết quả",
        "Mục tiêu",
        "So sánh",
        "Đánh giá",
    ]
    status_vi = {"met": "Đạt", "not_met": "Chưa đạt", "no_data": "Chưa có số liệu", "tracking": "Theo dõi"}
    for i, kpi in enumerate(report["kpis"]):
        row = [c.value for c in summary[5 + i]]
        # integers exactly; ratios as Excel keeps them (openpyxl writes 16 significant digits)
        assert row[1:7] == [
            kpi["code"],
            kpi["name"],
            kpi["numerator"],
            kpi["denominator"],
            approx(kpi["value"], rel=1e-15),
            kpi["target"],
        ], row
        assert row[8] == status_vi[kpi["status"]]

    forum = next(k for k in report["kpis"] if k["code"] == "forum_compliance")
    sheet = wb["Diễn đàn thôn, khối phố"]
    assert [c.value for c in sheet[4]] == ["Mã đơn vị", "Tên đơn vị", "Tử số", "Mẫu số", "Tỷ lệ"]
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=5)]
    assert [r[2:] for r in body] == [
        [b["numerator"], b["denominator"], approx(b["value"])] for b in forum["breakdown"]
    ] + [[forum["numerator"], forum["denominator"], approx(forum["value"])]]
    assert body[-1][0] == "Tổng cộng" and body[0][1].startswith("Đơn vị thử")

    budget = wb["Kinh phí"]
    lines = [[c.value for c in row] for row in budget.iter_rows(min_row=5)]
    assert lines == [
        ["Đã phê duyệt", 1, 5_000_000, 4_000_000, 3_500_000],
        ["Không phê duyệt", 1, 2_000_000, 1_500_000, 0],
        ["Đã gửi", 1, 1_000_000, 0, 0],
        ["Tổng cộng", 3, 8_000_000, 5_500_000, 3_500_000],
    ]
    monthly = [[c.value for c in row] for row in wb["Theo tháng"].iter_rows(min_row=5, max_col=7)]
    assert [r[0] for r in monthly] == [f"2024-{m:02d}" for m in range(1, 13)]
    assert monthly[0][1:4] == [2, 14, approx(2 / 14)] and monthly[0][4:7] == [2, 2, 1.0]

    names = zipfile.ZipFile(BytesIO(content)).namelist()
    charts = [n for n in names if n.startswith("xl/charts/chart")]
    assert len(charts) == 2, names  # broadcast and forum compliance by month
    xml = zipfile.ZipFile(BytesIO(content)).read(charts[0]).decode()
    assert "barChart" in xml and "theo tháng" in xml and "'Theo tháng'!$D$5:$D$16" in xml, xml


def test_a_ward_workbook_lists_only_its_units(city):
    wb = load_workbook(BytesIO(_workbook(city.ward)))
    rows = [[c.value for c in row] for row in wb["Diễn đàn thôn, khối phố"].iter_rows(min_row=5)]
    assert len(rows) == 2 and rows[0][2:4] == [12, 12] and rows[1][0] == "Tổng cộng", rows
    assert [[c.value for c in row] for row in wb["Phát thanh - truyền hình"].iter_rows(min_row=5)][0][:4] == [
        "PH-TANTHANH",
        "Phường Tân Thạnh",
        2,
        12,
    ]


def test_a_year_without_data_gives_no_data_and_an_empty_workbook_still_opens(city):
    r = city.lead.get("/api/v1/reports/annual", params={"year": 2030, "as_of": "2030-06-01"})
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
    r = city.lead.get("/api/v1/reports/annual", params={"year": 2030, "as_of": "2030-06-01", "format": "xlsx"})
    assert r.status_code == 200
    assert load_workbook(BytesIO(r.content))["Tổng hợp"]["I5"].value == "Chưa đạt"


def test_an_unknown_report_format_is_a_422(city):
    r = city.lead.get("/api/v1/reports/annual", params={"year": YEAR, "format": "pdf"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "format", r.text
