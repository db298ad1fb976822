"""The 2026-2030 plan made in one call from the seeded one, adjusted by the lead office, and the 2026 KPIs that
follow it, with Phước Hòa merged into An Xuân in 2025. On a database of its own: every number is by hand."""

from __future__ import annotations

from datetime import date

import pytest

from app.timeutil import local_today
from tests.conftest import world_on_new_database
from tests.factories import Factory
from tests.record_contract import create, ok, problem

PLANS = "/api/v1/plans"
OLD, NEW = "KH-TK-2021-2025", "KH-TK-2026-2030"
Q1_2026 = {"year": 2026, "as_of": "2026-04-01"}  # January to March have ended


@pytest.fixture(scope="module")
def city():
    with world_on_new_database("next-plan") as w:
        f = Factory.for_world(w)
        yield w, f
        f.close()


def breakdown(kpi: dict) -> dict[int, tuple[int, int]]:
    return {b["unit_id"]: (b["numerator"], b["denominator"]) for b in kpi["breakdown"]}


def test_the_next_plan_is_copied_adjusted_and_its_2026_kpis_follow(city):
    world, f = city
    lead = world.user("lead_office", "P-VHTT")
    u = world.unit_id
    anxuan, phuochoa, tanthanh, media = u("PH-ANXUAN"), u("PH-PHUOCHOA"), u("PH-TANTHANH"), u("TT-VHTTTT")

    # 2025: Phước Hòa ward is merged into An Xuân; a village of Phước Hòa goes with it.
    ok(lead.patch(f"/api/v1/units/{phuochoa}", json={"dissolved_on": "2025-07-01", "merged_into_id": anxuan}))
    ok(lead.patch(f"/api/v1/units/{anxuan}", json={"staff_count": 10}))
    v1, v2 = f.unit("village", anxuan), f.unit("village", anxuan)
    gone = f.unit("village", phuochoa, dissolved_on="2025-07-01")

    old = ok(lead.get(PLANS, params={"code": OLD}))["items"][0]
    # a milestone of the old plan: it stays behind when the plan is copied
    create(lead, f"{PLANS}/{old['id']}/targets", {"kpi_code": "forum_compliance", "year": 2024, "target": 0.6,
                                                  "comparison": "gte"})  # fmt: skip

    # One call makes the 2026-2030 plan.
    body = {"code": NEW, "title": "Kế hoạch truyền thông về chuyển đổi số giai đoạn 2026-2030",
            "starts_on": "2026-01-01", "ends_on": "2030-12-31"}  # fmt: skip
    r = lead.post(f"{PLANS}/{old['id']}/copy", json=body)
    new = ok(r, 201)
    assert r.headers["Location"].endswith(f"{PLANS}/{new['id']}") and r.headers["ETag"], r.headers
    assert {k: new[k] for k in body} == body, new
    assert (new["issued_by_unit_id"], new["required_unit_kinds"]) == (
        old["issued_by_unit_id"],
        old["required_unit_kinds"],
    )
    assert (new["document_number"], new["issued_on"]) == (None, None), new

    def activities(plan_id: int) -> dict[str, dict]:
        items = ok(lead.get("/api/v1/activities", params={"plan_id": plan_id, "limit": 500}))["items"]
        return {a["code"]: a for a in items}

    before, after = activities(old["id"]), activities(new["id"])
    assert list(after) == list(before) == ["A", "B1", "B2", "B3", "C1", "C2", "C3", "C4", "D", "E", "F"]
    for code, a in after.items():
        assert (a["starts_on"], a["ends_on"]) == ("2026-01-01", "2030-12-31"), a
        assert (a["title"], a["frequency"], a["quota"]) == (before[code]["title"], before[code]["frequency"],
                                                            before[code]["quota"]), code  # fmt: skip
        # the lead and coordinating units that still exist on 1 January 2026
        for role in ("lead_unit_ids", "coordinating_unit_ids"):
            assert a[role] == [i for i in before[code][role] if i != phuochoa], (code, role)
    assert phuochoa in before["B3"]["lead_unit_ids"] and anxuan in after["B3"]["lead_unit_ids"]
    assert before["B3"]["starts_on"] == "2021-07-01"  # the old plan's activities are untouched
    targets = ok(lead.get(f"{PLANS}/{new['id']}/targets"))["items"]
    assert {(t["kpi_code"], t["year"], t["target"]) for t in targets} == {
        (t["kpi_code"], None, t["target"])
        for t in ok(lead.get(f"{PLANS}/{old['id']}/targets"))["items"]
        if t["year"] is None
    } and len(targets) == 7, targets
    problem(lead.post(f"{PLANS}/{old['id']}/copy", json={**body, "code": "KH-KHAC"}), 409)  # overlaps NEW

    # What the units did in early 2026 (and late 2025).
    f.broadcast(anxuan, airings=[f"2026-01-0{d}T02:00:00Z" for d in (5, 6, 7, 8)])  # 4 airings
    f.broadcast(anxuan, airings=[f"2026-02-0{d}T02:00:00Z" for d in (5, 6, 7)])  # 3 airings
    f.broadcast(tanthanh, duration_minutes=16, airings=[f"2026-01-0{d}T02:00:00Z" for d in (5, 6, 7, 8)])
    f.broadcast(phuochoa, airings=[f"2026-01-0{d}T02:00:00Z" for d in (5, 6, 7, 8)])  # no longer a ward
    f.broadcast(media, channel="city_radio_tv", duration_minutes=30,
                airings=[f"2026-01-1{d}T12:00:00Z" for d in (1, 2, 3, 4)])  # fmt: skip
    for day in ("2026-01-10", "2026-02-10", "2026-03-10"):
        f.forum(v1, day)
    f.forum(v2, "2026-01-12")
    f.forum(gone, "2026-01-12")
    f.unit_plan(anxuan, 2026, issued_on="2026-01-15")
    f.unit_plan(phuochoa, 2026, issued_on="2026-01-15")
    f.survey(anxuan, "2026-01", 100, 85)
    f.training(u("P-VHTT"), "2025-11-10", participants={anxuan: 6})  # under the old plan
    f.training(u("P-VHTT"), "2026-02-10", participants={anxuan: 3})

    def kpi(code: str, **params) -> dict:
        body = ok(lead.get(f"/api/v1/kpis/{code}", params=params))
        assert body["plan"] == {"id": new["id"], "code": NEW} or params.get("plan") == OLD, body
        return body

    # 12 wards and communes (13 less Phước Hòa) and one media centre, January to March: 39 station-months.
    # Under the copied quota (3 airings): An Xuân in January and February, the media centre in January.
    k = kpi("broadcast_compliance", **Q1_2026)
    assert (k["numerator"], k["denominator"], k["status"]) == (3, 39, "not_met"), k
    k = kpi("forum_compliance", **Q1_2026)
    assert (k["numerator"], k["denominator"], k["target"], k["status"]) == (4, 6, 1.0, "not_met"), k

    # The lead office makes B3 stricter (4 airings) and sets a 2026 milestone for forums.
    b3 = f"/api/v1/activities/{after['B3']['id']}"
    quota = {"channel": "ward_radio", "airings_per_month": 4, "min_minutes": 10, "max_minutes": 15}
    ok(lead.patch(b3, json={"quota": quota}, headers={"If-Match": lead.get(b3).headers["ETag"]}))
    create(lead, f"{PLANS}/{new['id']}/targets", {"kpi_code": "forum_compliance", "year": 2026, "target": 0.5,
                                                  "comparison": "gte"})  # fmt: skip

    k = kpi("broadcast_compliance", **Q1_2026)
    assert (k["numerator"], k["denominator"], k["target"], k["status"]) == (2, 39, 1.0, "not_met"), k
    rows = breakdown(k)
    assert rows[anxuan] == (1, 3) and rows[media] == (1, 3) and rows[tanthanh] == (0, 3), rows  # Feb: 3 < 4
    assert phuochoa not in rows and len(rows) == 13, rows
    k = kpi("forum_compliance", **Q1_2026)
    assert (k["numerator"], k["denominator"], k["value"]) == (4, 6, 4 / 6), k
    assert (k["target"], k["comparison"], k["status"]) == (0.5, "gte", "met"), k
    assert breakdown(k) == {v1: (3, 3), v2: (1, 3)}, k  # the merged village no longer owes
    k = kpi("forum_compliance", year=2027, as_of="2027-02-01")  # the milestone is 2026's alone
    assert (k["numerator"], k["denominator"], k["target"], k["status"]) == (0, 2, 1.0, "not_met"), k

    # Required units in 2026: 6 departments, 1 media centre, 3 associations, 12 wards and communes.
    k = kpi("unit_plan_coverage", **Q1_2026)
    assert (k["numerator"], k["denominator"]) == (1, 22) and phuochoa not in breakdown(k), k
    k = kpi("official_training_coverage", **Q1_2026)  # counted from the new plan's start
    assert (k["numerator"], k["denominator"]) == (3, 10), k
    k = kpi("official_training_coverage", plan=OLD, year=2025, as_of="2026-04-01")
    assert (k["numerator"], k["denominator"], k["plan"]["code"]) == (6, 10, OLD), k
    k = kpi("satisfaction_rate", **Q1_2026)
    assert (k["numerator"], k["denominator"], k["status"]) == (85, 100, "met"), k

    listing = ok(lead.get("/api/v1/kpis", params={"plan": NEW, **Q1_2026}))
    assert listing["plan"] == {"id": new["id"], "code": NEW} and listing["year"] == 2026, listing
    items = {i["code"]: i for i in listing["items"]}
    assert (items["broadcast_compliance"]["numerator"], items["forum_compliance"]["status"]) == (2, "met"), items

    report = ok(lead.get("/api/v1/reports/annual", params={"plan": NEW, **Q1_2026}))
    assert report["plan"] == {"id": new["id"], "code": NEW, "title": body["title"]}, report["plan"]
    series = {p["month"]: (p["numerator"], p["denominator"]) for p in report["monthly"]["broadcast_compliance"]}
    assert series == {"2026-01": (2, 13), "2026-02": (0, 13), "2026-03": (0, 13)}, series

    # A year no plan covers, or not the named plan's: a 422 naming the plans.
    r = lead.get("/api/v1/kpis", params={"year": 2031})
    assert OLD in problem(r, 422, ["query", "year"])["detail"] and NEW in r.json()["detail"], r.text
    r = lead.get("/api/v1/kpis/forum_compliance", params={"plan": OLD, "year": 2026})
    assert "2025-12-31" in problem(r, 422, ["query", "year"])["detail"], r.text
    r = lead.get("/api/v1/reports/annual", params={"plan": "KH-KHONG-CO", "year": 2026})
    assert NEW in problem(r, 422, ["query", "plan"])["detail"], r.text

    # Without a year: this year if a plan covers it, else the last year of the latest plan.
    today = local_today()
    year = today.year if 2021 <= today.year <= 2030 else 2030
    listing = ok(lead.get("/api/v1/kpis"))
    assert listing["year"] == year and listing["plan"]["code"] == (NEW if year >= 2026 else OLD), listing

    # An activity created without plan_id belongs to the plan covering today, else the latest.
    expected = old["id"] if date(2021, 7, 1) <= today <= date(2025, 12, 31) else new["id"]
    made = create(lead, "/api/v1/activities", {"code": "G", "title": "Hoạt động mới", "frequency": "yearly"})
    assert made["plan_id"] == expected, made
