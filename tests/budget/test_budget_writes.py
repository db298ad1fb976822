"""Budget submissions through the one write path: their natural key under concurrency, and totals that stay
readable by JavaScript clients."""

from __future__ import annotations

from tests.budget.test_budget import MAX, ROUNDS, SUBS, act, new_draft, new_round
from tests.concurrency import together
from tests.conftest import world_on_new_database


def _body(api, round_id: int, ref: str) -> dict:
    return {
        "round_id": round_id,
        "unit_id": api.unit_id,
        "title": "Kinh phí tuyên truyền",
        "funding_source": "city_budget",
        "items": [{"description": "Tờ rơi", "quantity": 10, "unit_cost_vnd": 2_000}],
        "external_ref": ref,
    }


def test_eight_parallel_identical_creates_make_one_submission(lead, ward):
    rnd = new_round(lead, period="2088-H1")
    body = _body(ward, rnd["id"], "ward-sys-88")
    answers = together([lambda: ward.post(SUBS, json=body) for _ in range(8)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, [a.text for a in answers if a.status_code != 201]
    listed = ward.get(SUBS, params={"round_id": rnd["id"]}).json()
    assert listed["total"] == 1, listed


def test_a_second_submission_with_the_units_external_ref_is_409(lead, ward):
    rnd = new_round(lead, period="2088-H2")
    new_draft(ward, rnd["id"], external_ref="ward-sys-88b")
    other_round = new_round(lead, period="2089-H1")
    r = ward.post(SUBS, json=_body(ward, other_round["id"], "ward-sys-88b"))
    assert r.status_code == 409, r.text


def test_a_submit_that_would_take_the_years_requested_total_past_2_pow_53_is_422():
    """On a database of its own: a year's totals reach the limit here, and the annual report needs a plan."""
    with world_on_new_database("money-limit") as world:
        lead, ward = world.user("lead_office", "P-VHTT"), world.user("unit", "PH-TANTHANH")
        plan = {
            "code": "KH-2091",
            "title": "Kế hoạch 2091",
            "issued_by_unit_id": world.unit_id("UBND-TK"),
            "starts_on": "2091-01-01",
            "ends_on": "2091-12-31",
            "required_unit_kinds": ["ward"],
        }
        assert lead.post("/api/v1/plans", json=plan).status_code == 201
        rnd = new_round(lead, period="2091-H1", deadline="2091-06-30T23:59:59+07:00")
        big = new_draft(ward, rnd["id"], items=[{"description": "lớn", "quantity": 1, "unit_cost_vnd": MAX - 5}])
        act(ward, big["id"], "submit")
        other = new_draft(ward, new_round(lead, period="2091-H2")["id"])  # drafts count in no total
        r = ward.post(f"{SUBS}/{other['id']}/submit")
        assert r.status_code == 422 and "requested total of 2091" in r.json()["detail"], r.text
        summary = lead.get(f"{ROUNDS}/{rnd['id']}/summary").json()
        assert summary["by_status"][0]["requested_total_vnd"] == MAX - 5
        report = lead.get("/api/v1/reports/annual", params={"year": 2091, "as_of": "2091-12-31"})
        assert report.status_code == 200 and report.json()["budget"]["requested_total_vnd"] == MAX - 5, report.text


def test_an_appraisal_that_would_take_the_years_appraised_total_past_2_pow_53_is_422(lead, ward, finance):
    rnd = new_round(lead, period="2092-H1", deadline="2092-06-30T23:59:59+07:00")
    subs = [new_draft(ward, rnd["id"]) for _ in range(2)]
    for sub in subs:
        act(ward, sub["id"], "submit")
        act(lead, sub["id"], "forward", {"note": "Thẩm định"})
    act(finance, subs[0]["id"], "appraise", {"appraised_total_vnd": MAX - 5})
    r = finance.post(f"{SUBS}/{subs[1]['id']}/appraise", json={"appraised_total_vnd": 10})
    assert r.status_code == 422 and "appraised total of 2092" in r.json()["detail"], r.text
    assert r.json()["errors"][0]["loc"] == ["body", "appraised_total_vnd"], r.text
    act(finance, subs[1]["id"], "appraise", {"appraised_total_vnd": 5})
