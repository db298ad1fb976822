"""KPIs over a scoped ward: each test builds its own ward (and the units below it), so the numbers are exact
whatever else the shared database holds."""

from __future__ import annotations

import pytest

from tests.factories import Factory

CODES = [
    "unit_plan_coverage",
    "official_training_coverage",
    "school_dx_coverage",
    "satisfaction_rate",
    "broadcast_compliance",
    "forum_compliance",
    "annual_report_rate",
    "annual_report_timeliness",
]


@pytest.fixture(scope="module")
def factory(world):
    f = Factory.for_world(world)
    yield f
    f.close()


class Place:
    """A new ward under the city, a unit user of it, and the factory to fill it."""

    def __init__(self, world, factory, kind: str = "ward", **extra) -> None:
        self.unit = world.new_unit(kind, "UBND-TK", **extra)
        self.id = self.unit["id"]
        self.api = world.user("unit", self.unit["code"])
        self.f = factory

    def kpi(self, code: str, **params) -> dict:
        r = self.api.get(f"/api/v1/kpis/{code}", params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def place(world, factory):
    return Place(world, factory)


def rows(kpi: dict) -> dict[int, tuple[int, int]]:
    return {b["unit_id"]: (b["numerator"], b["denominator"]) for b in kpi["breakdown"]}


# --- broadcast_compliance ---------------------------------------------------------------------------


def test_ward_broadcast_months_are_judged_in_local_time(place):
    f, w = place.f, place.id
    # 2022-04-30T17:30Z is 1 May 00:30 local: with two more airings, May is compliant (in UTC it would not be).
    f.broadcast(
        w, duration_minutes=12, airings=["2022-04-30T17:30:00Z", "2022-05-10T01:00:00Z", "2022-05-20T01:00:00Z"]
    )
    # 15 minutes is within 10-15: February compliant.
    f.broadcast(
        w, duration_minutes=15, airings=["2022-02-01T01:00:00Z", "2022-02-02T01:00:00Z", "2022-02-03T01:00:00Z"]
    )
    # 16 minutes is not: March is not compliant from this one.
    f.broadcast(
        w, duration_minutes=16, airings=["2022-03-01T01:00:00Z", "2022-03-02T01:00:00Z", "2022-03-03T01:00:00Z"]
    )
    # 2022-03-31T17:00Z is 1 April 00:00 local: March keeps only two airings of this one.
    f.broadcast(
        w, duration_minutes=10, airings=["2022-03-05T01:00:00Z", "2022-03-06T01:00:00Z", "2022-03-31T17:00:00Z"]
    )
    # Two broadcasts with two airings each in April: no single broadcast reaches three.
    f.broadcast(w, airings=["2022-04-05T01:00:00Z", "2022-04-06T01:00:00Z"])
    f.broadcast(w, airings=["2022-04-07T01:00:00Z", "2022-04-08T01:00:00Z"])
    # The last second of 30 June local is still June.
    f.broadcast(w, airings=["2022-06-01T01:00:00Z", "2022-06-02T01:00:00Z", "2022-06-30T16:59:59Z"])
    # A web-portal item or a city radio-TV programme does not make a ward compliant.
    f.broadcast(w, channel="web_portal", airings=[f"2022-01-0{d}T01:00:00Z" for d in range(1, 6)])
    f.broadcast(w, channel="city_radio_tv", airings=[f"2022-01-1{d}T01:00:00Z" for d in range(1, 6)])
    # July has not ended by as_of: not a counted month.
    f.broadcast(w, airings=["2022-07-01T01:00:00Z", "2022-07-02T01:00:00Z", "2022-07-03T01:00:00Z"])

    kpi = place.kpi("broadcast_compliance", year=2022, as_of="2022-07-31")
    assert (kpi["numerator"], kpi["denominator"]) == (3, 6), kpi  # Feb, May, June of Jan-June
    assert rows(kpi) == {w: (3, 6)}
    assert kpi["value"] == 0.5 and kpi["status"] == "not_met" and kpi["target"] == 1.0 and kpi["comparison"] == "gte"
    r = place.api.get("/api/v1/reports/annual", params={"year": 2022, "as_of": "2022-07-31"})
    assert r.status_code == 200, r.text
    months = {p["month"]: p["numerator"] for p in r.json()["monthly"]["broadcast_compliance"]}
    assert months == {"2022-01": 0, "2022-02": 1, "2022-03": 0, "2022-04": 0, "2022-05": 1, "2022-06": 1}, r.text

    # On 1 August, July has ended: it counts and is compliant.
    kpi = place.kpi("broadcast_compliance", year=2022, as_of="2022-08-01")
    assert (kpi["numerator"], kpi["denominator"]) == (4, 7), kpi


def test_media_center_needs_four_city_radio_tv_airings(world, factory):
    center = Place(world, factory, kind="media_center")
    f, c = factory, center.id
    f.broadcast(
        c, channel="city_radio_tv", duration_minutes=30, airings=[f"2023-01-0{d}T12:00:00Z" for d in (2, 3, 4, 5)]
    )  # 4: January compliant
    f.broadcast(
        c, channel="city_radio_tv", duration_minutes=30, airings=[f"2023-02-0{d}T12:00:00Z" for d in (2, 3, 4)]
    )  # 3: February not
    f.broadcast(
        c, channel="ward_radio", duration_minutes=12, airings=[f"2023-03-0{d}T12:00:00Z" for d in (2, 3, 4, 5)]
    )  # wrong channel: March not
    kpi = center.kpi("broadcast_compliance", year=2023, as_of="2023-04-01")
    assert (kpi["numerator"], kpi["denominator"]) == (1, 3), kpi
    assert rows(kpi) == {c: (1, 3)}


def test_ward_established_mid_year_counts_from_its_first_month(world, factory):
    late = Place(world, factory, established_on="2022-03-15")
    factory.broadcast(late.id, airings=["2022-02-01T01:00:00Z", "2022-02-02T01:00:00Z", "2022-02-03T01:00:00Z"])
    factory.broadcast(late.id, airings=["2022-03-20T01:00:00Z", "2022-03-21T01:00:00Z", "2022-03-22T01:00:00Z"])
    kpi = late.kpi("broadcast_compliance", year=2022, as_of="2022-07-01")
    assert (kpi["numerator"], kpi["denominator"]) == (1, 4), kpi  # March to June; February did not exist


def test_months_before_the_plan_and_not_yet_ended_give_no_data(place):
    place.f.broadcast(place.id, airings=["2021-06-01T01:00:00Z", "2021-06-02T01:00:00Z", "2021-06-03T01:00:00Z"])
    for code in ("broadcast_compliance", "forum_compliance"):
        kpi = place.kpi(code, year=2021, as_of="2021-07-31")  # June is before the plan; July not ended
        assert (kpi["numerator"], kpi["denominator"], kpi["value"], kpi["status"]) == (0, 0, None, "no_data"), kpi
        assert kpi["breakdown"] == []
    kpi = place.kpi("broadcast_compliance", year=2021, as_of="2021-08-01")
    assert (kpi["numerator"], kpi["denominator"]) == (0, 1), kpi


# --- forum_compliance --------------------------------------------------------------------------------


def test_villages_and_quarters_holding_monthly_forums(place):
    f, w = place.f, place.id
    v1 = f.unit("village", w)
    v2 = f.unit("village", w)
    q = f.unit("quarter", w, dissolved_on="2023-02-01")  # exists in January only
    v3 = f.unit("village", w, established_on="2023-03-10")  # exists from March
    gone = f.unit("village", w, dissolved_on="2022-12-31")  # retired before the year: drops out
    for day in ("2023-01-05", "2023-02-28", "2023-03-31"):
        f.forum(v1, day)
    f.forum(v2, "2023-01-10", kind="business_dialogue")  # not a village forum
    f.forum(v2, "2023-02-01")
    f.forum(v2, "2023-02-15")  # a second forum in the same month counts once
    f.forum(v2, "2023-04-02")  # April has not ended by as_of
    f.forum(q, "2023-01-15")
    f.forum(gone, "2023-01-15")
    f.forum(w, "2023-01-15")  # the ward itself is not a village or quarter

    kpi = place.kpi("forum_compliance", year=2023, as_of="2023-04-15")
    assert rows(kpi) == {v1: (3, 3), v2: (1, 3), q: (1, 1), v3: (0, 1)}, kpi
    assert (kpi["numerator"], kpi["denominator"]) == (5, 8), kpi
    assert kpi["value"] == 0.625 and kpi["status"] == "not_met"


# --- unit plans and annual reports ---------------------------------------------------------------------


def test_unit_plans_and_annual_reports_of_required_units(place):
    f, w = place.f, place.id
    youth = f.unit("association", w)
    retired = f.unit("association", w, dissolved_on="2023-06-01")
    village = f.unit("village", w)  # not a required unit
    f.unit_plan(w, 2024, issued_on="2024-02-01")
    f.unit_plan(youth, 2024, issued_on="2025-01-20")  # issued after as_of
    f.unit_plan(retired, 2024, issued_on="2024-02-01")
    f.unit_plan(village, 2024, issued_on="2024-02-01")
    f.unit_plan(youth, 2023, issued_on="2023-02-01")  # another year
    f.annual_report(w, 2024, submitted_at="2024-11-30T16:59:59Z")  # 23:59:59 local on 30 Nov: on time
    f.annual_report(youth, 2024, submitted_at="2024-11-30T17:00:00Z")  # 00:00 local on 1 Dec: late
    f.annual_report(retired, 2024, submitted_at="2024-03-01T00:00:00Z")

    kpi = place.kpi("unit_plan_coverage", year=2024, as_of="2025-01-15")
    assert rows(kpi) == {w: (1, 1), youth: (0, 1)}, kpi
    assert (kpi["numerator"], kpi["denominator"], kpi["value"], kpi["status"]) == (1, 2, 0.5, "not_met")

    kpi = place.kpi("annual_report_rate", year=2024, as_of="2025-01-15")
    assert rows(kpi) == {w: (1, 1), youth: (1, 1)}, kpi
    assert (kpi["numerator"], kpi["denominator"], kpi["value"], kpi["status"]) == (2, 2, 1.0, "met")

    kpi = place.kpi("annual_report_timeliness", year=2024, as_of="2025-01-15")
    assert rows(kpi) == {w: (1, 1), youth: (0, 1)}, kpi

    # As of 30 November, the late report (1 December local) does not exist yet.
    kpi = place.kpi("annual_report_rate", year=2024, as_of="2024-11-30")
    assert (kpi["numerator"], kpi["denominator"]) == (1, 2), kpi

    # In 2023 the retired association still existed.
    kpi = place.kpi("unit_plan_coverage", year=2023, as_of="2024-01-01")
    assert rows(kpi) == {w: (0, 1), youth: (1, 1), retired: (0, 1)}, kpi


# --- official_training_coverage -------------------------------------------------------------------


def test_officials_trained_since_the_plan_began_capped_at_staff(world, factory):
    place = Place(world, factory, staff_count=10)
    f, w = factory, place.id
    youth = f.unit("association", w, staff_count=4)
    school = f.unit("school", w, staff_count=20)
    f.unit("village", w)  # no staff: not counted
    gone = f.unit("department", w, staff_count=5, dissolved_on="2021-12-31")
    city_office = world.unit_id("P-VHTT")  # the organiser may be outside the ward's scope
    f.training(city_office, "2021-06-30", participants={w: 5})  # before the plan: not counted
    f.training(city_office, "2021-07-01", participants={w: 6, youth: 2, gone: 5})
    f.training(w, "2022-06-30", participants={w: 7, school: 3})  # on as_of: counted
    f.training(w, "2022-07-01", participants={school: 10})  # after as_of
    f.training(w, "2022-03-01", audience="residents", participants={school: 50})  # not officials

    kpi = place.kpi("official_training_coverage", year=2022, as_of="2022-06-30")
    assert rows(kpi) == {w: (10, 10), youth: (2, 4), school: (3, 20)}, kpi  # min(staff, trained)
    assert (kpi["numerator"], kpi["denominator"]) == (15, 34), kpi

    # For 2021 the window ends on 31 December 2021 (gone existed in 2021 until its last day).
    kpi = place.kpi("official_training_coverage", year=2021, as_of="2022-06-30")
    assert rows(kpi) == {w: (6, 10), youth: (2, 4), school: (0, 20), gone: (5, 5)}, kpi


# --- school_dx_coverage ---------------------------------------------------------------------------


def test_schools_with_a_student_training_in_the_year_are_tracked_without_target(place):
    f, w = place.f, place.id
    s1 = f.unit("school", w)
    s2 = f.unit("school", w)
    f.unit("school", w, established_on="2025-01-01")  # does not exist in 2024
    f.training(s1, "2024-03-01", audience="students")
    f.training(s1, "2024-04-01", audience="students")
    f.training(s2, "2023-12-31", audience="students")  # the year before
    f.training(s2, "2024-05-01", audience="officials")  # not students
    f.training(w, "2024-05-01", audience="students")  # organised by the ward, not a school
    kpi = place.kpi("school_dx_coverage", year=2024, as_of="2024-12-31")
    assert rows(kpi) == {s1: (1, 1), s2: (0, 1)}, kpi
    assert (kpi["numerator"], kpi["denominator"], kpi["value"]) == (1, 2, 0.5)
    assert (kpi["target"], kpi["comparison"], kpi["status"]) == (None, None, "tracking")


# --- satisfaction_rate --------------------------------------------------------------------------------


def test_satisfaction_of_the_year_up_to_as_of_by_surveyed_unit(place):
    f, w = place.f, place.id
    v = f.unit("village", w)
    f.survey(w, "2024-01", 100, 85)
    f.survey(w, "2024-03", 50, 40, source="hotline")
    f.survey(w, "2024-04", 100, 0)  # its first day is after as_of
    f.survey(w, "2023-12", 100, 0)  # another year
    f.survey(v, "2024-02", 10, 8)
    kpi = place.kpi("satisfaction_rate", year=2024, as_of="2024-03-15")
    assert rows(kpi) == {w: (125, 150), v: (8, 10)}, kpi
    assert (kpi["numerator"], kpi["denominator"], kpi["status"]) == (133, 160, "met"), kpi
    assert kpi["value"] == 133 / 160 and kpi["target"] == 0.8 and kpi["comparison"] == "gt"


def test_satisfaction_of_exactly_eighty_percent_is_not_met(place):
    place.f.survey(place.id, "2024-01", 100, 80)
    kpi = place.kpi("satisfaction_rate", year=2024, as_of="2024-12-31")
    assert (kpi["numerator"], kpi["denominator"], kpi["value"], kpi["status"]) == (80, 100, 0.8, "not_met"), kpi


# --- scope, list, validation, roles -------------------------------------------------------------------


def test_a_ward_sees_its_own_scope_and_not_its_neighbours(world, factory):
    mine, theirs = Place(world, factory), Place(world, factory)
    v_mine, v_theirs = factory.unit("village", mine.id), factory.unit("village", theirs.id)
    factory.forum(v_mine, "2024-01-10")
    factory.forum(v_theirs, "2024-01-10")
    factory.survey(theirs.id, "2024-01", 10, 1)
    kpi = mine.kpi("forum_compliance", year=2024, as_of="2024-02-01")
    assert rows(kpi) == {v_mine: (1, 1)}, kpi
    kpi = mine.kpi("satisfaction_rate", year=2024, as_of="2024-02-01")
    assert kpi["breakdown"] == [] and kpi["status"] == "no_data" and kpi["value"] is None, kpi


def test_kpi_list_gives_the_eight_kpis_in_order_with_the_detail_totals(place):
    f, w = place.f, place.id
    v = f.unit("village", w)
    f.forum(v, "2024-01-10")
    f.unit_plan(w, 2024, issued_on="2024-01-05")
    r = place.api.get("/api/v1/kpis", params={"year": 2024, "as_of": "2024-03-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["year"] == 2024 and body["as_of"] == "2024-03-01"
    assert [k["code"] for k in body["items"]] == CODES
    items = {k["code"]: k for k in body["items"]}
    assert (items["forum_compliance"]["numerator"], items["forum_compliance"]["denominator"]) == (1, 2)
    assert (items["unit_plan_coverage"]["numerator"], items["unit_plan_coverage"]["denominator"]) == (1, 1)
    assert items["unit_plan_coverage"]["status"] == "met"
    for code in CODES:
        detail = place.kpi(code, year=2024, as_of="2024-03-01")
        assert {k: detail[k] for k in items[code]} == items[code], (code, detail)
        assert "breakdown" not in items[code]
        assert items[code]["name"] and items[code]["name_en"]


def test_as_of_defaults_to_local_today_and_year_to_the_plans(place):
    """API.md section 10: without a year, the current local year if a plan covers it, else the last year of the
    latest plan (this database holds only the seeded plan, 2021-07 to 2025-12)."""
    from app.timeutil import local_today

    r = place.api.get("/api/v1/kpis")
    assert r.status_code == 200, r.text
    today = local_today()
    year = today.year if 2021 <= today.year <= 2025 else 2025
    assert r.json()["as_of"] == today.isoformat() and r.json()["year"] == year, r.text
    assert r.json()["plan"]["code"] == "KH-TK-2021-2025", r.text


@pytest.mark.parametrize(
    "params",
    [
        {"year": 1999},
        {"year": 2101},
        {"year": "abc"},
        {"as_of": "2024-02-30"},
        {"as_of": "9999-12-31"},
        {"year": 2024, "as_of": "yesterday"},
    ],
)
def test_bad_year_or_as_of_is_a_422_naming_the_field(lead, params):
    for url in ("/api/v1/kpis", "/api/v1/kpis/forum_compliance", "/api/v1/reports/annual"):
        r = lead.get(url, params=params)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["loc"][-1] in params, r.text


def test_unknown_kpi_code_is_a_404(lead):
    r = lead.get("/api/v1/kpis/happiness", params={"year": 2024})
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_every_role_reads_kpis_and_anonymous_gets_401(roles, anonymous):
    for role, api in roles.items():
        r = api.get("/api/v1/kpis", params={"year": 2024})
        assert r.status_code == 200, (role, r.text)
        r = api.get("/api/v1/kpis/annual_report_rate", params={"year": 2024})
        assert r.status_code == 200, (role, r.text)
    r = anonymous.get("/api/v1/kpis", params={"year": 2024})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", r.text
    r = anonymous.get("/api/v1/reports/annual", params={"year": 2024})
    assert r.status_code == 401, r.text


def test_openapi_documents_the_kpi_and_report_answers(world):
    doc = world.client.get("/openapi.json").json()
    kpis = doc["paths"]["/api/v1/kpis"]["get"]
    assert kpis["operationId"] == "list_kpis"
    assert {"200", "401", "403", "422"} <= set(kpis["responses"])
    detail = doc["paths"]["/api/v1/kpis/{code}"]["get"]
    assert detail["operationId"] == "get_kpi" and "404" in detail["responses"]
    report = doc["paths"]["/api/v1/reports/annual"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"application/json", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    schema = doc["components"]["schemas"]["KpiDetail"]["properties"]
    assert {"breakdown", "numerator", "denominator", "value", "target", "comparison", "status"} <= set(schema)


def test_a_percent_sign_in_a_kpi_statement_reaches_the_database_as_written(world):
    """KPI statements go to PostgreSQL as text with their values written in and no parameters: the compiler's
    `%%` (the driver's escape) must arrive as one `%`, or a value like '50%' would read '50%%'."""
    import asyncio

    from sqlalchemy import literal, select

    from app.config import get_settings
    from app.db import make_engine
    from app.kpis import service

    async def run() -> list:
        engine = make_engine(get_settings())
        try:
            async with engine.connect() as conn:
                return await service._rows(conn, select(literal("50%").label("a"), (literal(7) % 4).label("b")))
        finally:
            await engine.dispose()

    assert [tuple(r) for r in asyncio.run(run())] == [("50%", 3)]
