"""Obligations (API.md section 11) over a new ward each test builds, so that the numbers are exact whatever else
the shared database holds; the KPIs of the same ward are the cross-check."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories import Factory

THREE = ("T01:00:00Z", "T02:00:00Z", "T03:00:00Z")


@pytest.fixture(scope="module")
def factory(world):
    f = Factory.for_world(world)
    yield f
    f.close()


class Ward:
    def __init__(self, world, factory, **extra) -> None:
        self.unit = world.new_unit("ward", "UBND-TK", **extra)
        self.id = self.unit["id"]
        self.code = self.unit["code"]
        self.api = world.user("unit", self.code)
        self.f = factory
        self.world = world

    def village(self, **extra) -> int:
        return self.world.new_unit("village", self.code, **extra)["id"]

    def obligations(self, **params) -> list[dict]:
        params.setdefault("limit", 500)
        r = self.api.get("/api/v1/obligations", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"]), body
        return body["items"]

    def kpi(self, code: str, **params) -> dict:
        r = self.api.get(f"/api/v1/kpis/{code}", params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def ward(world, factory):
    return Ward(world, factory)


def by_key(items: list[dict]) -> dict[tuple, dict]:
    return {(o["duty"], o["activity_code"], o["unit_id"], o["period"]): o for o in items}


def test_an_airing_late_on_30_april_utc_meets_the_may_duty_and_the_month_in_progress_is_due(ward):
    w = ward.id
    ward.f.broadcast(
        w, duration_minutes=12, airings=["2022-04-30T17:30:00Z", "2022-05-10T01:00:00Z", "2022-05-20T01:00:00Z"]
    )
    ward.f.broadcast(w, duration_minutes=12, airings=["2022-06-01T01:00:00Z", "2022-06-02T01:00:00Z"])
    items = by_key(ward.obligations(duty="broadcast", year=2022, as_of="2022-06-10"))
    may = items[("broadcast", "B3", w, "2022-05")]
    assert may["status"] == "met", may
    assert may["met_on"] == "2022-05-20" and may["due_on"] == "2022-05-31" and may["days_overdue"] == 0
    assert [e["resource"] for e in may["evidence"]] == ["broadcasts"]
    april = items[("broadcast", "B3", w, "2022-04")]
    assert april["status"] == "overdue" and april["days_overdue"] == 41, april  # 10 June - 30 April: 31 + 10 days
    assert april["met_on"] is None and april["evidence"] == []
    june = items[("broadcast", "B3", w, "2022-06")]
    assert june["status"] == "due" and june["due_on"] == "2022-06-30", june
    # July has not begun: no duty yet; nothing before the plan's start (2021-07) either
    assert {o["period"] for o in items.values()} == {f"2022-{m:02d}" for m in range(1, 7)}


def test_met_duties_equal_the_kpi_numerators_and_all_duties_their_denominators(ward):
    w, f = ward.id, ward.f
    v1, v2 = ward.village(), ward.village(established_on="2023-03-10")
    f.broadcast(w, duration_minutes=10, airings=[f"2023-01-0{d}T01:00:00Z" for d in (2, 3, 4)])
    f.broadcast(w, duration_minutes=16, airings=[f"2023-02-0{d}T01:00:00Z" for d in (2, 3, 4)])  # too long
    f.broadcast(w, duration_minutes=15, airings=[f"2023-03-0{d}T01:00:00Z" for d in (2, 3, 4)])
    f.forum(v1, "2023-01-15")
    f.forum(v1, "2023-02-15", kind="business_dialogue")  # not a village forum
    f.forum(v1, "2023-03-01")
    f.forum(v2, "2023-03-20")
    f.forum(v2, "2023-04-02")
    as_of = "2023-05-01"  # January to April count
    duties = ward.obligations(year=2023, as_of=as_of)
    for code, duty in (("broadcast_compliance", "broadcast"), ("forum_compliance", "forum")):
        kpi = ward.kpi(code, year=2023, as_of=as_of)
        months = {f"2023-{m:02d}" for m in range(1, 5)}
        counted = [o for o in duties if o["duty"] == duty and o["period"] in months]
        met = sum(o["status"] in ("met", "met_late") for o in counted)
        assert (met, len(counted)) == (kpi["numerator"], kpi["denominator"]), (code, kpi, counted)
    forum = by_key(duties)
    assert ("forum", "C4", v2, "2023-02") not in forum  # v2 did not exist in February
    assert forum[("forum", "C4", v1, "2023-02")]["status"] == "overdue"
    assert forum[("forum", "C4", v1, "2023-03")]["met_on"] == "2023-03-01"
    assert forum[("forum", "C4", v2, "2023-05")]["status"] == "due"  # May has begun by 1 May


def test_a_unit_plan_issued_after_31_december_is_met_late_and_a_report_at_17_00_utc_on_30_november_is_late(ward):
    w, f = ward.id, ward.f
    f.unit_plan(w, 2023, issued_on="2024-01-05")
    f.unit_plan(w, 2024, issued_on="2024-02-01")
    f.annual_report(w, 2023, submitted_at="2023-11-30T16:59:59Z")  # 23:59:59 on 30 November local: on time
    f.annual_report(w, 2024, submitted_at="2024-11-30T17:00:00Z")  # 00:00 on 1 December local: late
    items = by_key(ward.obligations(unit_id=w, as_of="2024-12-10", duty="unit_plan"))
    assert items[("unit_plan", "A", w, "2023")]["status"] == "met_late"
    assert items[("unit_plan", "A", w, "2023")]["met_on"] == "2024-01-05"
    assert items[("unit_plan", "A", w, "2024")]["status"] == "met"
    assert items[("unit_plan", "A", w, "2022")]["status"] == "overdue"
    reports = by_key(ward.obligations(unit_id=w, as_of="2024-12-10", duty="annual_report"))
    on_time = reports[("annual_report", None, w, "2023")]
    assert on_time["status"] == "met" and on_time["met_on"] == "2023-11-30" and on_time["due_on"] == "2023-11-30"
    late = reports[("annual_report", None, w, "2024")]
    assert late["status"] == "met_late" and late["met_on"] == "2024-12-01", late
    assert late["evidence"][0]["resource"] == "annual-reports"
    # as of 30 November 2024 the 2024 report is not there yet: due, not overdue
    before = by_key(ward.obligations(unit_id=w, as_of="2024-11-30", duty="annual_report"))
    assert before[("annual_report", None, w, "2024")]["status"] == "due"
    # the KPIs agree: the 2024 report counts for the rate but not for timeliness
    assert ward.kpi("annual_report_rate", year=2024, as_of="2024-12-10")["numerator"] == 1
    assert ward.kpi("annual_report_timeliness", year=2024, as_of="2024-12-10")["numerator"] == 0


def test_a_unit_owes_only_for_periods_in_which_it_exists(world, factory):
    gone = Ward(world, factory, dissolved_on="2022-03-01")
    items = gone.obligations(duty="broadcast", as_of="2022-12-31", year=2022)
    assert [o["period"] for o in items] == ["2022-01", "2022-02"], items
    yearly = gone.obligations(duty="unit_plan", as_of="2023-06-01")
    assert [o["period"] for o in yearly] == ["2021", "2022"], yearly


def test_filters_pages_csv_and_summary(ward):
    w = ward.id
    v = ward.village()
    ward.f.forum(v, "2022-01-10")
    params = {"as_of": "2022-04-15", "year": 2022}
    every = ward.obligations(**params)
    assert every == sorted(every, key=lambda o: (o["period"], o["unit_id"], o["duty"], o["activity_code"] or ""))
    # pages of 2 walk the same list, with the same total on every page and a Link header
    seen, cursor = [], None
    while True:
        r = ward.api.get("/api/v1/obligations", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(every)
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert 'rel="next"' in r.headers["link"]
    assert seen == every
    overdue = ward.obligations(**params, status="overdue", activity_code="C4")
    assert {o["period"] for o in overdue} == {"2022-02", "2022-03"} and all(o["unit_id"] == v for o in overdue)
    assert ward.obligations(**params, period="2022-01", duty="forum")[0]["status"] == "met"
    r = ward.api.get("/api/v1/obligations", params=params, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(table) == len(every) and table[0]["duty"] == every[0]["duty"]
    codes, cursor = {}, None
    while True:  # every unit: other tests add units to the shared database
        page = ward.api.get("/api/v1/units", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        codes |= {u["id"]: u["code"] for u in page["items"]}
        if not (cursor := page["next_cursor"]):
            break
    assert list(table[0])[:6] == ["plan_id", "duty", "activity_code", "unit_id", "unit_code", "period"], list(table[0])
    assert all(row["unit_code"] == codes[int(row["unit_id"])] for row in table), "an office cannot tell the units apart"
    r = ward.api.get("/api/v1/obligations/summary", params=params)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["year"] == 2022 and summary["plan"]["code"] == "KH-TK-2021-2025"
    units = {u["unit_id"]: u for u in summary["by_unit"]}
    assert units[v] == {"unit_id": v, "met": 1, "met_late": 0, "due": 1, "overdue": 2}, units
    assert units[w]["overdue"] == 3 and units[w]["due"] == 3  # three months of radio; two yearly duties and April
    assert summary["by_unit"][0]["overdue"] >= summary["by_unit"][-1]["overdue"]
    duties = {(d["duty"], d["activity_code"]): d for d in summary["by_duty"]}
    assert duties[("forum", "C4")]["met"] == 1


def test_roles_see_the_city_a_ward_its_own_and_another_ward_nothing(world, factory, ward):
    other = Ward(world, factory)
    params = {"as_of": "2022-02-15", "year": 2022, "duty": "unit_plan"}
    assert {o["unit_id"] for o in ward.obligations(**params)} == {ward.id}
    # another ward naming this ward's id learns nothing about it
    assert other.obligations(**params, unit_id=ward.id) == []
    for role, code in (("lead_office", "P-VHTT"), ("finance_office", "P-TCKH"), ("viewer", "UBND-TK")):
        api = world.user(role, code)
        r = api.get("/api/v1/obligations", params={**params, "unit_id": ward.id})
        assert r.status_code == 200, (role, r.text)
        assert [o["unit_id"] for o in r.json()["items"]] == [ward.id], role
    r = world.client.get("/api/v1/obligations")
    assert r.status_code == 401


def test_bad_queries_are_422_and_a_year_no_plan_covers_names_the_plans(ward):
    for params in ({"status": "late"}, {"period": "2022-13"}, {"duty": "x"}, {"limit": 501}, {"cursor": "abc"}):
        r = ward.api.get("/api/v1/obligations", params=params)
        assert r.status_code == 422, (params, r.text)
    r = ward.api.get("/api/v1/obligations", params={"year": 2040})
    assert r.status_code == 422 and "KH-TK-2021-2025" in r.text, r.text
    r = ward.api.get("/api/v1/obligations/summary", params={"as_of": "2023-05-02"})
    assert r.status_code == 200 and r.json()["year"] == 2023, r.text  # without a year: the as-of year
