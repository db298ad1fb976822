"""/plans and /plans/{id}/targets (API.md section 10), on a database of their own: plans of the city change
which plan a KPI request means, so no other test module should see them."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import world_on_new_database
from tests.record_contract import (
    VIETNAMESE,
    audit_actions,
    check_etag_round_trip,
    create,
    csv_rows,
    item_ids,
    ok,
    problem,
)

PLANS = "/api/v1/plans"
SEEDED = "KH-TK-2021-2025"
KINDS = ["department", "media_center", "association", "ward", "commune"]


@pytest.fixture(scope="module")
def town():
    with world_on_new_database("plans") as w:
        yield w


@pytest.fixture(scope="module")
def office(town):
    return town.user("lead_office", "P-VHTT")


@pytest.fixture(scope="module")
def readers(town):
    return {
        "finance_office": town.user("finance_office", "P-TCKH"),
        "unit": town.user("unit", "PH-TANTHANH"),
        "viewer": town.user("viewer", "UBND-TK"),
    }


def issuer(town) -> int:
    """A new city of its own (another locality), so that its plans overlap nobody's."""
    return town.new_unit("city", "UBND-TK", name="Thành phố thử")["id"]


def plan_body(issued_by: int, **over) -> dict:
    return {
        "code": f"KH-{uuid.uuid4().hex[:8]}",
        "title": "Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số giai đoạn 2026-2030",
        "issued_by_unit_id": issued_by,
        "starts_on": "2026-01-01",
        "ends_on": "2030-12-31",
        "required_unit_kinds": KINDS,
        **over,
    }


def seeded_plan(api) -> dict:
    page = ok(api.get(PLANS, params={"code": SEEDED}))
    assert page["total"] == 1, page
    return page["items"][0]


# --- the seeded plan ---------------------------------------------------------------------------------


def test_the_seeded_plan_holds_what_sections_3_and_6_state(town, readers):
    for role, api in readers.items():
        plan = seeded_plan(api)
        assert plan["title"].startswith("Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số"), (role, plan)
        assert plan["issued_by_unit_id"] == town.unit_id("UBND-TK"), plan
        assert (plan["starts_on"], plan["ends_on"], plan["required_unit_kinds"]) == ("2021-07-01", "2025-12-31", KINDS)
        assert (plan["document_number"], plan["issued_on"]) == (None, None), plan
    api = readers["viewer"]
    targets = ok(api.get(f"{PLANS}/{plan['id']}/targets"))["items"]
    assert {(t["kpi_code"], t["year"], t["target"], t["comparison"]) for t in targets} == {
        ("unit_plan_coverage", None, 1.0, "gte"),
        ("official_training_coverage", None, 1.0, "gte"),
        ("satisfaction_rate", None, 0.8, "gt"),
        ("broadcast_compliance", None, 1.0, "gte"),
        ("forum_compliance", None, 1.0, "gte"),
        ("annual_report_rate", None, 1.0, "gte"),
        ("annual_report_timeliness", None, 1.0, "gte"),
    }, targets
    activities = ok(api.get("/api/v1/activities", params={"plan_id": plan["id"], "limit": 500}))["items"]
    assert [a["code"] for a in activities] == ["A", "B1", "B2", "B3", "C1", "C2", "C3", "C4", "D", "E", "F"]
    quotas = {a["code"]: a["quota"] for a in activities if a["quota"] is not None}
    assert quotas == {
        "B1": {"channel": "city_radio_tv", "airings_per_month": 4},
        "B3": {"channel": "ward_radio", "airings_per_month": 3, "min_minutes": 10, "max_minutes": 15},
        "C4": {"forum_kind": "village_forum", "forums_per_month": 1},
    }, quotas
    assert {a["plan_id"] for a in activities} == {plan["id"]}
    assert {(a["starts_on"], a["ends_on"]) for a in activities} == {("2021-07-01", "2025-12-31")}


# --- plans: the usual conventions ----------------------------------------------------------------------


def test_lead_office_creates_reads_updates_and_exports_a_plan(town, office):
    body = plan_body(issuer(town), title=VIETNAMESE, document_number="112/KH-UBND", issued_on="2025-12-20")
    plan = create(office, PLANS, body)
    url = f"{PLANS}/{plan['id']}"
    assert {k: plan[k] for k in body} == body, plan
    assert plan["version"] == 1 and plan["created_at"] and plan["updated_at"]
    r = office.get(url)
    assert ok(r) == plan and r.headers["ETag"], r.headers
    etag = r.headers["ETag"]
    updated = ok(
        office.patch(url, json={"title": "Kế hoạch đã sửa", "ends_on": "2029-12-31"}, headers={"If-Match": etag})
    )
    assert (updated["version"], updated["ends_on"], updated["starts_on"]) == (2, "2029-12-31", "2026-01-01"), updated
    problem(office.patch(url, json={"title": "Cũ"}, headers={"If-Match": etag}), 412)
    assert office.get(url).headers["ETag"] != etag and ok(office.get(url))["title"] == "Kế hoạch đã sửa"
    assert office.delete(url).status_code == 405  # plans are kept, like units
    assert plan["id"] in item_ids(office, PLANS, issued_by_unit_id=body["issued_by_unit_id"])
    rows = [r for r in csv_rows(office, PLANS) if r["id"] == str(plan["id"])]
    assert rows[0]["title"] == "Kế hoạch đã sửa" and rows[0]["code"] == body["code"], rows
    assert audit_actions(office, "plans", plan["id"]) == ["create", "update"]


def test_a_repeated_plan_create_with_its_idempotency_key_is_replayed(town, office):
    body, key = plan_body(issuer(town)), {"Idempotency-Key": f"plan-{uuid.uuid4()}"}
    first = office.post(PLANS, json=body, headers=key)
    again = office.post(PLANS, json=body, headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true", again.headers
    assert item_ids(office, PLANS, code=body["code"]) == [first.json()["id"]]


def test_a_list_of_plans_pages_with_a_cursor(town, office):
    city = issuer(town)
    made = [create(office, PLANS, plan_body(city, starts_on=f"20{40 + 2 * i}-01-01", ends_on=f"20{41 + 2 * i}-12-31"))
            for i in range(3)]  # fmt: skip
    r = office.get(PLANS, params={"issued_by_unit_id": city, "limit": 2})
    page = ok(r)
    assert page["total"] == 3 and [p["id"] for p in page["items"]] == [made[0]["id"], made[1]["id"]], page
    assert 'rel="next"' in r.headers["Link"]
    rest = ok(office.get(PLANS, params={"issued_by_unit_id": city, "limit": 2, "cursor": page["next_cursor"]}))
    assert [p["id"] for p in rest["items"]] == [made[2]["id"]] and rest["next_cursor"] is None, rest


def test_two_plans_of_one_issuing_unit_may_not_share_a_day(town, office):
    city = issuer(town)
    first = create(office, PLANS, plan_body(city))
    problem(office.post(PLANS, json=plan_body(city, starts_on="2030-12-31", ends_on="2035-12-31")), 409)
    problem(office.post(PLANS, json=plan_body(city, starts_on="2020-01-01", ends_on="2026-01-01")), 409)
    later = create(office, PLANS, plan_body(city, starts_on="2031-01-01", ends_on="2035-12-31"))  # the day after
    create(office, PLANS, plan_body(issuer(town)))  # another issuing unit: no clash
    r = office.patch(f"{PLANS}/{later['id']}", json={"starts_on": "2030-06-01"})
    assert first["code"] in problem(r, 409)["detail"], r.text
    problem(office.post(PLANS, json=plan_body(city, code=first["code"], starts_on="2040-01-01",
                                               ends_on="2040-12-31")), 409)  # fmt: skip


@pytest.mark.parametrize(
    "field, value",
    [
        ("starts_on", "1999-12-31"),
        ("ends_on", "2101-01-01"),
        ("starts_on", "2026-02-30"),
        ("issued_by_unit_id", 999_999_999),
        ("issued_by_unit_id", 0),
        ("required_unit_kinds", []),
        ("required_unit_kinds", ["ward", "hamlet"]),
        ("code", "bad code!"),
        ("title", ""),
        ("title", "Kế\x00hoạch"),
        ("surprise", 1),
    ],
)
def test_a_bad_plan_is_a_422_naming_the_field(town, office, field, value):
    r = office.post(PLANS, json=plan_body(issuer(town), **{field: value}))
    assert field in [e["loc"][1] for e in problem(r, 422)["errors"]], r.text


def test_a_plan_ending_before_it_starts_is_a_422_naming_ends_on(town, office):
    body = plan_body(issuer(town), starts_on="2026-01-01", ends_on="2025-12-31")
    problem(office.post(PLANS, json=body), 422, ["body", "ends_on"])
    plan = create(office, PLANS, plan_body(issuer(town)))
    problem(office.patch(f"{PLANS}/{plan['id']}", json={"starts_on": "2031-01-01"}), 422, ["body", "ends_on"])
    problem(office.patch(f"{PLANS}/{plan['id']}", json={"starts_on": None}), 422, ["body", "starts_on"])


def test_only_the_lead_office_writes_plans_and_targets_everyone_reads(town, office, readers, anonymous_town):
    plan = create(office, PLANS, plan_body(issuer(town)))
    target = create(office, f"{PLANS}/{plan['id']}/targets", {"kpi_code": "forum_compliance", "target": 0.9,
                                                               "comparison": "gte"})  # fmt: skip
    for role, api in readers.items():
        assert ok(api.get(f"{PLANS}/{plan['id']}"))["code"] == plan["code"], role
        assert ok(api.get(f"{PLANS}/{plan['id']}/targets/{target['id']}"))["target"] == 0.9, role
        problem(api.post(PLANS, json=plan_body(issuer(town))), 403)
        problem(api.patch(f"{PLANS}/{plan['id']}", json={"title": "Không được"}), 403)
        problem(api.post(f"{PLANS}/{plan['id']}/targets", json={"kpi_code": "satisfaction_rate", "target": 0.5,
                                                                  "comparison": "gt"}), 403)  # fmt: skip
        problem(api.delete(f"{PLANS}/{plan['id']}/targets/{target['id']}"), 403)
        body = {"code": f"KH-{uuid.uuid4().hex[:6]}", "title": "Bản sao", "starts_on": "2031-01-01",
                "ends_on": "2035-12-31"}  # fmt: skip
        problem(api.post(f"{PLANS}/{plan['id']}/copy", json=body), 403)
    assert ok(office.get(f"{PLANS}/{plan['id']}"))["version"] == 1
    for url in (PLANS, f"{PLANS}/{plan['id']}", f"{PLANS}/{plan['id']}/targets"):
        problem(anonymous_town.get(url), 401)


@pytest.fixture(scope="module")
def anonymous_town(town):
    from tests.conftest import Api

    return Api(town.client, None)


# --- targets ------------------------------------------------------------------------------------------------


def test_targets_one_per_kpi_and_year_edited_and_deleted(town, office):
    plan = create(office, PLANS, plan_body(issuer(town)))
    targets = f"{PLANS}/{plan['id']}/targets"
    wide = create(office, targets, {"kpi_code": "forum_compliance", "target": 1, "comparison": "gte"})
    milestone = create(office, targets, {"kpi_code": "forum_compliance", "year": 2027, "target": 0.6,
                                         "comparison": "gte"})  # fmt: skip
    assert (wide["year"], wide["target"], milestone["year"], milestone["target"]) == (None, 1.0, 2027, 0.6)
    problem(office.post(targets, json={"kpi_code": "forum_compliance", "target": 0.5, "comparison": "gte"}), 409)
    problem(office.post(targets, json={"kpi_code": "forum_compliance", "year": 2027, "target": 0.7,
                                       "comparison": "gt"}), 409)  # fmt: skip
    problem(office.patch(f"{targets}/{milestone['id']}", json={"year": None}), 409)  # the plan-wide row exists
    url = f"{targets}/{milestone['id']}"
    updated = check_etag_round_trip(office, url, {"target": 0.65})
    assert updated["kpi_code"] == "forum_compliance" and updated["year"] == 2027
    assert [t["id"] for t in ok(office.get(targets, params={"year": 2027}))["items"]] == [milestone["id"]]
    r = office.delete(url, headers={"If-Match": office.get(url).headers["ETag"]})
    assert r.status_code == 204, r.text
    problem(office.get(url), 404)
    assert audit_actions(office, "plan-targets", milestone["id"]) == ["create", "update", "delete"]
    other = create(office, PLANS, plan_body(issuer(town)))
    problem(office.get(f"{PLANS}/{other['id']}/targets/{wide['id']}"), 404)  # another plan's target
    problem(office.get(f"{PLANS}/999999999/targets"), 404)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"target": 1.01}, "target"),
        ({"target": -0.1}, "target"),
        ({"target": "most"}, "target"),
        ({"comparison": "lte"}, "comparison"),
        ({"kpi_code": "happiness"}, "kpi_code"),
        ({"year": 2025}, "year"),  # before the plan's window
        ({"year": 2031}, "year"),
        ({"year": 10**12}, "year"),
    ],
)
def test_a_bad_target_is_a_422_naming_the_field(town, office, change, field):
    plan = create(office, PLANS, plan_body(issuer(town)))
    body = {"kpi_code": "satisfaction_rate", "target": 0.8, "comparison": "gt", **change}
    r = office.post(f"{PLANS}/{plan['id']}/targets", json=body)
    assert ["body", field] in [e["loc"][:2] for e in problem(r, 422)["errors"]], r.text


# --- activities belong to a plan and carry a quota -------------------------------------------------------


def test_activity_codes_are_unique_within_a_plan_and_quota_is_replaced_whole(town, office):
    plan = create(office, PLANS, plan_body(issuer(town)))
    body = {"plan_id": plan["id"], "code": "B3", "title": "Phóng sự phường", "frequency": "monthly",
            "quota": {"channel": "ward_radio", "airings_per_month": 4, "min_minutes": 10, "max_minutes": 15}}  # fmt: skip
    activity = create(office, "/api/v1/activities", body)
    assert activity["quota"] == body["quota"] and activity["plan_id"] == plan["id"], activity
    problem(office.post("/api/v1/activities", json=body), 409)  # B3 twice in one plan
    url = f"/api/v1/activities/{activity['id']}"
    changed = ok(office.patch(url, json={"quota": {"channel": "ward_radio", "airings_per_month": 2}}))
    assert changed["quota"] == {"channel": "ward_radio", "airings_per_month": 2}, changed  # whole, not merged
    assert ok(office.patch(url, json={"quota": None}))["quota"] is None
    problem(office.patch(url, json={"plan_id": None}), 422, ["body", "plan_id"])
    problem(office.post("/api/v1/activities", json={**body, "plan_id": 999_999_999}), 422, ["body", "plan_id"])


@pytest.mark.parametrize(
    "code, quota, loc",
    [
        ("B3", {"channel": "ward_radio", "airings_per_month": 0}, ["body", "quota", "airings_per_month"]),
        ("B3", {"channel": "ward_radio", "airings_per_month": "three"}, ["body", "quota", "airings_per_month"]),
        ("B3", {"channel": "ward_radio", "airings_per_month": 10**9}, ["body", "quota", "airings_per_month"]),
        ("B3", {"channel": "fax", "airings_per_month": 3}, ["body", "quota", "channel"]),
        ("B3", {"airings_per_month": 3}, ["body", "quota", "channel"]),
        ("B3", {"channel": "ward_radio"}, ["body", "quota", "airings_per_month"]),
        ("B3", {"channel": "ward_radio", "airings_per_month": 3, "min_minutes": 15, "max_minutes": 10},
         ["body", "quota", "max_minutes"]),
        ("B3", {"channel": "ward_radio", "airings_per_month": 3, "min_minutes": -1}, ["body", "quota", "min_minutes"]),
        ("B3", {"forum_kind": "village_forum", "forums_per_month": 1}, ["body", "quota", "forum_kind"]),
        ("C4", {"forum_kind": "village_forum"}, ["body", "quota", "forums_per_month"]),
        ("C4", {"forum_kind": "party", "forums_per_month": 1}, ["body", "quota", "forum_kind"]),
        ("C4", {"channel": "ward_radio", "airings_per_month": 3}, ["body", "quota", "channel"]),
        ("X1", {"channel": "ward_radio", "airings_per_month": 3, "forums_per_month": 1},
         ["body", "quota", "forums_per_month"]),
        ("X1", {}, ["body", "quota", "channel"]),
        ("X1", {"colour": "red"}, ["body", "quota", "colour"]),
        ("X1", [3], ["body", "quota"]),
    ],
)  # fmt: skip
def test_a_bad_quota_is_a_422_naming_the_field(town, office, code, quota, loc):
    plan = create(office, PLANS, plan_body(issuer(town)))
    body = {"plan_id": plan["id"], "code": code, "title": "Hoạt động", "frequency": "monthly", "quota": quota}
    r = office.post("/api/v1/activities", json=body)
    assert loc in [e["loc"][: len(loc)] for e in problem(r, 422)["errors"]], r.text
