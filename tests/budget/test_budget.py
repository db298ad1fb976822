"""Budget rounds and submissions (API.md section 5), spoken over HTTP by every role."""

from __future__ import annotations

import csv
import io
import threading

import pytest

from tests.conftest import BACKEND

ROUNDS = "/api/v1/budget-rounds"
SUBS = "/api/v1/budget-submissions"
MAX = 2**53 - 1
H2_2021_DEADLINE = "2021-09-15T23:59:59+07:00"

# The ward's first request: 3,000,000 + 25,000,000 + 15,750,000 = 43,750,000 VND.
FIRST_ITEMS = [
    {"description": "In tờ rơi tuyên truyền chuyển đổi số", "quantity": 2000, "unit_cost_vnd": 1_500},
    {"description": "Pano điện tử tại trụ sở phường", "quantity": 2, "unit_cost_vnd": 12_500_000},
    {"description": "Tổ chức diễn đàn CĐS tại khối phố", "quantity": 9, "unit_cost_vnd": 1_750_000},
]
# After the lead office returns it: 3,000,000 + 15,750,000 + 5,400,000 = 24,150,000 VND.
EDITED_ITEMS = [
    FIRST_ITEMS[0],
    FIRST_ITEMS[2],
    {"description": "Băng rôn, khẩu hiệu", "quantity": 12, "unit_cost_vnd": 450_000},
]


def new_round(lead, deadline: str = H2_2021_DEADLINE, period: str = "2021-H2") -> dict:
    body = {"title": f"Kinh phí truyền thông CĐS {period}", "period": period, "deadline": deadline}
    r = lead.post(ROUNDS, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def new_draft(api, round_id: int, items=None, **extra) -> dict:
    body = {
        "round_id": round_id,
        "unit_id": api.unit_id,
        "title": "Kinh phí tuyên truyền CĐS",
        "funding_source": "city_budget",
        "items": items or [{"description": "Tờ rơi", "quantity": 100, "unit_cost_vnd": 2_000}],
        **extra,
    }
    r = api.post(SUBS, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def act(api, sub_id: int, action: str, body: dict | None = None, expect: int = 200, **kw) -> dict:
    r = (
        api.post(f"{SUBS}/{sub_id}/{action}", json=body, **kw)
        if body is not None
        else api.post(f"{SUBS}/{sub_id}/{action}", **kw)
    )
    assert r.status_code == expect, f"{action}: {r.text}"
    return r.json()


def allowed(api, sub_id: int) -> list[str] | int:
    r = api.get(f"{SUBS}/{sub_id}")
    return r.json()["allowed_actions"] if r.status_code == 200 else r.status_code


# Bodies that are valid for each action (so that only the status or the actor can be wrong).
GOOD_BODY = {
    "submit": None,
    "withdraw": None,
    "return": {"note": "Bổ sung dự toán chi tiết"},
    "forward": {"note": "Đề nghị thẩm định"},
    "appraise": {"appraised_total_vnd": 150_000},
    "approve": {"approved_total_vnd": 100_000, "decision_number": "99/QĐ-UBND", "decision_date": "2021-10-01"},
    "reject": {"note": "Không phù hợp kế hoạch"},
}
ACTOR = {
    "submit": "ward",
    "withdraw": "ward",
    "return": "lead",
    "forward": "lead",
    "appraise": "finance",
    "approve": "finance",
    "reject": "finance",
}
SOURCES = {
    "submit": {"draft", "returned"},
    "withdraw": {"draft", "submitted", "returned"},
    "return": {"submitted"},
    "forward": {"submitted"},
    "appraise": {"forwarded"},
    "approve": {"appraised"},
    "reject": {"forwarded", "appraised"},
}
# How to bring a new draft to each status.
PATHS = {
    "draft": [],
    "submitted": ["submit"],
    "returned": ["submit", "return"],
    "forwarded": ["submit", "forward"],
    "appraised": ["submit", "forward", "appraise"],
    "approved": ["submit", "forward", "appraise", "approve"],
    "rejected": ["submit", "forward", "reject"],
    "withdrawn": ["withdraw"],
}


@pytest.fixture(scope="module")
def actors(lead, finance, ward, viewer, other_ward):
    return {"lead": lead, "finance": finance, "ward": ward, "viewer": viewer, "other_ward": other_ward}


@pytest.fixture(scope="module")
def by_status(actors) -> dict[str, dict]:
    """One of the ward's submissions in every status."""
    rnd = new_round(actors["lead"], deadline="2099-12-31T23:59:59+07:00", period="2099-H2")
    out = {}
    for status, path in PATHS.items():
        sub = new_draft(actors["ward"], rnd["id"])
        for action in path:
            sub = act(actors[ACTOR[action]], sub["id"], action, GOOD_BODY[action])
        assert sub["status"] == status
        out[status] = sub
    return out


# --- the H2-2021 round, end to end --------------------------------------------------------------


def test_h2_2021_round_end_to_end(world, lead, finance, viewer, ward, other_ward):
    everyone = {
        "lead_office": lead,
        "finance_office": finance,
        "viewer": viewer,
        "unit": ward,
        "other_ward": other_ward,
    }

    def allowed_by_role(sub_id):
        return {name: allowed(api, sub_id) for name, api in everyone.items()}

    rnd = new_round(lead)
    assert rnd["deadline"] in ("2021-09-15T16:59:59Z", "2021-09-15T16:59:59+00:00"), rnd
    for api in everyone.values():
        assert api.get(f"{ROUNDS}/{rnd['id']}").status_code == 200

    sub = new_draft(ward, rnd["id"], items=FIRST_ITEMS, title="Tuyên truyền CĐS phường Tân Thạnh 6 tháng cuối năm 2021")
    sid = sub["id"]
    assert [i["amount_vnd"] for i in sub["items"]] == [3_000_000, 25_000_000, 15_750_000]
    assert sub["requested_total_vnd"] == 43_750_000
    assert (sub["status"], sub["submitted_at"], sub["late"], sub["history"]) == ("draft", None, False, [])
    # the draft is the ward's alone
    assert allowed_by_role(sid) == {
        "lead_office": 404, "finance_office": 404, "viewer": 404, "unit": ["submit", "withdraw"], "other_ward": 404,
    }  # fmt: skip
    assert lead.get(SUBS, params={"round_id": rnd["id"]}).json()["total"] == 0

    # the ward submits after the deadline: late
    sub = act(ward, sid, "submit")
    assert sub["status"] == "submitted" and sub["late"] is True and sub["submitted_at"] is not None, sub
    assert allowed_by_role(sid) == {
        "lead_office": ["return", "forward"], "finance_office": [], "viewer": [], "unit": ["withdraw"], "other_ward": 404,
    }  # fmt: skip
    assert ward.patch(f"{SUBS}/{sid}", json={"title": "Sửa"}).status_code == 409

    # the lead office returns it with a note
    note = "Đề nghị bỏ hạng mục pano điện tử, bổ sung băng rôn"
    sub = act(lead, sid, "return", {"note": note})
    assert sub["status"] == "returned"
    assert allowed_by_role(sid) == {
        "lead_office": [], "finance_office": [], "viewer": [], "unit": ["submit", "withdraw"], "other_ward": 404,
    }  # fmt: skip

    # the ward edits and resubmits
    r = ward.patch(
        f"{SUBS}/{sid}", json={"items": EDITED_ITEMS}, headers={"If-Match": ward.get(f"{SUBS}/{sid}").headers["ETag"]}
    )
    assert r.status_code == 200, r.text
    assert [i["amount_vnd"] for i in r.json()["items"]] == [3_000_000, 15_750_000, 5_400_000]
    assert r.json()["requested_total_vnd"] == 24_150_000
    first_submitted_at = sub["submitted_at"]
    sub = act(ward, sid, "submit")
    assert sub["status"] == "submitted" and sub["late"] is True
    assert sub["submitted_at"] > first_submitted_at

    # the lead office forwards (no body: the note is optional)
    sub = act(lead, sid, "forward")
    assert sub["status"] == "forwarded"
    assert allowed_by_role(sid) == {
        "lead_office": [], "finance_office": ["appraise", "reject"], "viewer": [], "unit": [], "other_ward": 404,
    }  # fmt: skip

    # finance appraises lower than requested, then approves with a decision
    sub = act(finance, sid, "appraise", {"appraised_total_vnd": 21_000_000, "note": "Giảm đơn giá tờ rơi"})
    assert (sub["status"], sub["appraised_total_vnd"], sub["requested_total_vnd"]) == (
        "appraised",
        21_000_000,
        24_150_000,
    )
    assert allowed_by_role(sid)["finance_office"] == ["approve", "reject"]
    r = finance.post(
        f"{SUBS}/{sid}/approve",
        json={"approved_total_vnd": 21_000_001, "decision_number": "1", "decision_date": "2021-10-20"},
    )
    assert r.status_code == 422 and "approved_total_vnd" in r.text, r.text
    sub = act(
        finance,
        sid,
        "approve",
        {"approved_total_vnd": 20_500_000, "decision_number": "1234/QĐ-UBND", "decision_date": "2021-10-20"},
    )
    assert sub["status"] == "approved"
    assert (sub["appraised_total_vnd"], sub["approved_total_vnd"]) == (21_000_000, 20_500_000)
    assert (sub["decision_number"], sub["decision_date"]) == ("1234/QĐ-UBND", "2021-10-20")
    assert allowed_by_role(sid) == {
        "lead_office": [],
        "finance_office": [],
        "viewer": [],
        "unit": [],
        "other_ward": 404,
    }

    # history: every transition, oldest first, with its actor and note
    history = viewer.get(f"{SUBS}/{sid}").json()["history"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("submit", "draft", "submitted"),
        ("return", "submitted", "returned"),
        ("submit", "returned", "submitted"),
        ("forward", "submitted", "forwarded"),
        ("appraise", "forwarded", "appraised"),
        ("approve", "appraised", "approved"),
    ]
    assert [h["actor"]["role"] for h in history] == [
        "unit",
        "lead_office",
        "unit",
        "lead_office",
        "finance_office",
        "finance_office",
    ]
    assert [h["actor"]["unit_id"] for h in history] == [
        ward.unit_id,
        lead.unit_id,
        ward.unit_id,
        lead.unit_id,
        finance.unit_id,
        finance.unit_id,
    ]
    assert history[1]["actor"] == {
        "kind": "user",
        "id": lead.principal["id"],
        "role": "lead_office",
        "unit_id": lead.unit_id,
    }
    assert [h["note"] for h in history] == [None, note, None, None, "Giảm đơn giá tờ rơi", None]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)

    # another ward's draft does not count; the lead office's own submission (P-VHTT) does
    new_draft(other_ward, rnd["id"], items=[{"description": "Tờ rơi", "quantity": 1, "unit_cost_vnd": 999_999}])
    own = new_draft(
        lead, rnd["id"], items=[{"description": "Hội nghị tổng kết", "quantity": 1, "unit_cost_vnd": 7_000_000}]
    )
    act(lead, own["id"], "submit")

    expected = {
        "round_id": rnd["id"],
        "by_status": [
            {
                "status": "approved",
                "count": 1,
                "requested_total_vnd": 24_150_000,
                "appraised_total_vnd": 21_000_000,
                "approved_total_vnd": 20_500_000,
            },
            {
                "status": "submitted",
                "count": 1,
                "requested_total_vnd": 7_000_000,
                "appraised_total_vnd": 0,
                "approved_total_vnd": 0,
            },
        ],
        "by_unit": sorted(
            [
                {
                    "unit_id": ward.unit_id,
                    "count": 1,
                    "requested_total_vnd": 24_150_000,
                    "appraised_total_vnd": 21_000_000,
                    "approved_total_vnd": 20_500_000,
                },
                {
                    "unit_id": lead.unit_id,
                    "count": 1,
                    "requested_total_vnd": 7_000_000,
                    "appraised_total_vnd": 0,
                    "approved_total_vnd": 0,
                },
            ],
            key=lambda u: u["unit_id"],
        ),
        "on_time": 0,
        "late": 2,
    }
    for api in (lead, finance, viewer):
        r = api.get(f"{ROUNDS}/{rnd['id']}/summary")
        assert r.status_code == 200, r.text
        assert r.json() == expected
    assert ward.get(f"{ROUNDS}/{rnd['id']}/summary").status_code == 403

    # every change is in the audit log
    r = lead.get("/api/v1/audit-events", params={"resource": "budget-submissions", "resource_id": sid, "limit": 100})
    assert r.status_code == 200, r.text
    events = r.json()["items"]
    assert [e["action"] for e in events] == [
        "create",
        "submit",
        "return",
        "update",
        "submit",
        "forward",
        "appraise",
        "approve",
    ]
    assert events[-1]["before"]["status"] == "appraised" and events[-1]["after"]["status"] == "approved"
    assert events[-1]["actor"]["role"] == "finance_office"
    assert (
        events[3]["before"]["requested_total_vnd"] == 43_750_000
        and events[3]["after"]["requested_total_vnd"] == 24_150_000
    )


def test_summary_counts_on_time_and_sums_null_amounts_as_zero(lead, ward, other_ward, finance):
    rnd = new_round(lead, deadline="2099-06-30T23:59:59+07:00", period="2099-H1")
    a = new_draft(ward, rnd["id"], items=[{"description": "A", "quantity": 3, "unit_cost_vnd": 1_000_000}])
    b = new_draft(other_ward, rnd["id"], items=[{"description": "B", "quantity": 1, "unit_cost_vnd": 500_000}])
    c = new_draft(other_ward, rnd["id"], items=[{"description": "C", "quantity": 2, "unit_cost_vnd": 250_000}])
    act(ward, a["id"], "submit")
    act(lead, a["id"], "forward")
    act(finance, a["id"], "appraise", {"appraised_total_vnd": 2_500_000})
    act(other_ward, b["id"], "submit")
    act(other_ward, c["id"], "withdraw")  # withdrawn before it was ever submitted: neither on time nor late
    r = finance.get(f"{ROUNDS}/{rnd['id']}/summary")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["by_status"] == [
        {
            "status": "appraised",
            "count": 1,
            "requested_total_vnd": 3_000_000,
            "appraised_total_vnd": 2_500_000,
            "approved_total_vnd": 0,
        },
        {
            "status": "submitted",
            "count": 1,
            "requested_total_vnd": 500_000,
            "appraised_total_vnd": 0,
            "approved_total_vnd": 0,
        },
        {
            "status": "withdrawn",
            "count": 1,
            "requested_total_vnd": 500_000,
            "appraised_total_vnd": 0,
            "approved_total_vnd": 0,
        },
    ]
    assert {u["unit_id"]: (u["count"], u["requested_total_vnd"]) for u in s["by_unit"]} == {
        ward.unit_id: (1, 3_000_000),
        other_ward.unit_id: (2, 1_000_000),
    }
    assert (s["on_time"], s["late"]) == (2, 0)


def test_summary_of_an_empty_round_and_of_no_round(lead, viewer):
    rnd = new_round(lead, period="2022-H1")
    r = viewer.get(f"{ROUNDS}/{rnd['id']}/summary")
    assert r.json() == {"round_id": rnd["id"], "by_status": [], "by_unit": [], "on_time": 0, "late": 0}, r.text
    assert viewer.get(f"{ROUNDS}/999999999/summary").status_code == 404


# --- the state machine: every refused move, every wrong actor -----------------------------------


@pytest.mark.parametrize("action", list(SOURCES))
def test_a_move_from_the_wrong_status_is_409_naming_the_status(action, actors, by_status):
    actor = actors[ACTOR[action]]
    for status, sub in by_status.items():
        if status in SOURCES[action] or (status == "draft" and ACTOR[action] != "ward"):
            continue  # allowed, or a draft the actor cannot see (404, below)
        r = actor.post(f"{SUBS}/{sub['id']}/{action}", json=GOOD_BODY[action])
        assert r.status_code == 409, f"{action} from {status}: {r.text}"
        assert f"'{status}'" in r.json()["detail"], r.text
        # a 409 comes before a 422 on the body
        if GOOD_BODY[action] is not None and action != "forward":
            r = actor.post(f"{SUBS}/{sub['id']}/{action}", json={})
            assert r.status_code == 409, f"{action} from {status} with a bad body: {r.text}"


@pytest.mark.parametrize("action", list(SOURCES))
def test_a_role_that_may_never_make_the_move_gets_403(action, actors, by_status):
    allowed_roles = {"submit": {"ward"}, "withdraw": {"ward"}, "return": {"lead"}, "forward": {"lead"}}.get(
        action, {"finance"}
    )
    for status in sorted(SOURCES[action] - {"draft"}):
        sub = by_status[status]
        for name in ("lead", "finance", "viewer"):
            if name in allowed_roles:
                continue
            r = actors[name].post(f"{SUBS}/{sub['id']}/{action}", json=GOOD_BODY[action])
            assert r.status_code == 403, f"{name} {action} from {status}: {r.text}"
            # a 403 comes before a 422 on the body
            r = actors[name].post(f"{SUBS}/{sub['id']}/{action}", json={"bogus": 1})
            assert r.status_code == 403, f"{name} {action} from {status} with a bad body: {r.text}"
        if action not in ("submit", "withdraw"):
            # the ward can see its own submission but may never review or decide it
            r = actors["ward"].post(f"{SUBS}/{sub['id']}/{action}", json=GOOD_BODY[action])
            assert r.status_code == 403, f"ward {action} from {status}: {r.text}"
        # another unit cannot see the record at all
        r = actors["other_ward"].post(f"{SUBS}/{sub['id']}/{action}", json=GOOD_BODY[action])
        assert r.status_code == 404, f"other ward {action} from {status}: {r.text}"


def test_lead_office_submits_only_for_its_own_unit(lead, ward):
    rnd = new_round(lead, period="2023-H1")
    theirs = new_draft(ward, rnd["id"])
    act(ward, theirs["id"], "submit")
    r = lead.post(f"{SUBS}/{theirs['id']}/withdraw")
    assert r.status_code == 403 and "own unit" in r.json()["detail"], r.text
    assert allowed(lead, theirs["id"]) == ["return", "forward"]
    mine = new_draft(lead, rnd["id"])
    assert allowed(lead, mine["id"]) == ["submit", "withdraw"]
    mine = act(lead, mine["id"], "submit")
    assert mine["allowed_actions"] == ["withdraw", "return", "forward"]


def test_transitions_on_a_draft_seen_by_its_own_unit_alone_are_404(actors, by_status):
    sub = by_status["draft"]
    for name, action in (
        ("lead", "return"),
        ("lead", "forward"),
        ("finance", "appraise"),
        ("viewer", "submit"),
        ("other_ward", "submit"),
    ):
        r = actors[name].post(f"{SUBS}/{sub['id']}/{action}", json=GOOD_BODY[action])
        assert r.status_code == 404, f"{name} {action}: {r.text}"
    assert actors["ward"].post(f"{SUBS}/999999999/submit").status_code == 404


def test_transition_without_a_token_is_401(anonymous, by_status):
    r = anonymous.post(f"{SUBS}/{by_status['submitted']['id']}/forward")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", r.text


@pytest.mark.parametrize(
    "action, status, body, field",
    [
        ("return", "submitted", {}, "note"),
        ("return", "submitted", {"note": "   "}, "note"),
        ("return", "submitted", None, None),
        ("reject", "forwarded", {}, "note"),
        ("reject", "appraised", {"note": ""}, "note"),
        ("appraise", "forwarded", {"note": "x"}, "appraised_total_vnd"),
        ("appraise", "forwarded", {"appraised_total_vnd": 1.5}, "appraised_total_vnd"),
        ("appraise", "forwarded", {"appraised_total_vnd": 100.0}, "appraised_total_vnd"),
        ("appraise", "forwarded", {"appraised_total_vnd": -1}, "appraised_total_vnd"),
        ("appraise", "forwarded", {"appraised_total_vnd": MAX + 1}, "appraised_total_vnd"),
        ("approve", "appraised", {"approved_total_vnd": 1, "decision_date": "2021-10-01"}, "decision_number"),
        ("approve", "appraised", {"approved_total_vnd": 1, "decision_number": "5/QĐ"}, "decision_date"),
        ("approve", "appraised", {"decision_number": "5/QĐ", "decision_date": "2021-10-01"}, "approved_total_vnd"),
        ("approve", "appraised", {**GOOD_BODY["approve"], "approved_total_vnd": 150_001}, "approved_total_vnd"),
        ("approve", "appraised", {**GOOD_BODY["approve"], "status": "approved"}, "status"),
        ("forward", "submitted", {"note": "ok", "status": "approved"}, "status"),
    ],
)
def test_a_bad_transition_body_is_422_naming_the_field(action, status, body, field, actors, by_status):
    sub = by_status[status]
    r = actors[ACTOR[action]].post(f"{SUBS}/{sub['id']}/{action}", **({"json": body} if body is not None else {}))
    assert r.status_code == 422, r.text
    if field:
        assert field in {str(p) for e in r.json()["errors"] for p in e["loc"]}, r.text
    assert actors["ward"].get(f"{SUBS}/{sub['id']}").json()["status"] == status


def test_approve_may_equal_the_appraised_total(lead, ward, finance):
    rnd = new_round(lead, period="2023-H2")
    sub = new_draft(ward, rnd["id"])
    for action, body in (("submit", None), ("forward", None), ("appraise", {"appraised_total_vnd": 150_000})):
        act({"submit": ward, "forward": lead, "appraise": finance}[action], sub["id"], action, body)
    sub = act(
        finance,
        sub["id"],
        "approve",
        {"approved_total_vnd": 150_000, "decision_number": "7/QĐ", "decision_date": "2023-07-01"},
    )
    assert sub["approved_total_vnd"] == 150_000


def test_a_transition_with_a_stale_if_match_is_412(lead, ward):
    rnd = new_round(lead, period="2024-H1")
    sub = new_draft(ward, rnd["id"])
    stale = ward.get(f"{SUBS}/{sub['id']}").headers["ETag"]
    r = ward.post(f"{SUBS}/{sub['id']}/submit", headers={"If-Match": stale})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] != stale
    r = lead.post(f"{SUBS}/{sub['id']}/forward", headers={"If-Match": stale})
    assert r.status_code == 412, r.text
    r = lead.post(f"{SUBS}/{sub['id']}/forward", headers={"If-Match": lead.get(f"{SUBS}/{sub['id']}").headers["ETag"]})
    assert r.status_code == 200 and r.json()["status"] == "forwarded", r.text


def test_a_late_resubmit_after_an_on_time_submit_is_late(lead, ward):
    rnd = new_round(lead, deadline="2099-01-01T00:00:00+07:00", period="2098-H2")
    sub = new_draft(ward, rnd["id"])
    assert act(ward, sub["id"], "submit")["late"] is False
    act(lead, sub["id"], "return", {"note": "Bổ sung"})
    r = lead.patch(f"{ROUNDS}/{rnd['id']}", json={"deadline": "2020-01-01T00:00:00+07:00"})
    assert r.status_code == 200, r.text
    assert act(ward, sub["id"], "submit")["late"] is True


# --- reading and editing ------------------------------------------------------------------------


def test_drafts_are_seen_by_their_own_unit_alone(world, lead, finance, viewer, ward, other_ward):
    rnd = new_round(lead, period="2024-H2")
    draft = new_draft(ward, rnd["id"])
    for api in (lead, finance, viewer, other_ward):
        assert api.get(f"{SUBS}/{draft['id']}").status_code == 404
        assert api.get(SUBS, params={"round_id": rnd["id"]}).json()["total"] == 0
        assert api.patch(f"{SUBS}/{draft['id']}", json={"title": "x"}).status_code in (403, 404)
    assert ward.get(SUBS, params={"round_id": rnd["id"]}).json()["total"] == 1
    act(ward, draft["id"], "submit")
    for api in (lead, finance, viewer):
        r = api.get(SUBS, params={"round_id": rnd["id"]})
        assert [s["id"] for s in r.json()["items"]] == [draft["id"]], r.text
    assert other_ward.get(f"{SUBS}/{draft['id']}").status_code == 404


def test_own_unit_means_exactly_the_unit_not_its_villages(world, lead, ward):
    village = world.new_unit("village", "PH-TANTHANH")
    village_user = world.user("unit", village["code"])
    rnd = new_round(lead, period="2025-H1")
    wards = new_draft(ward, rnd["id"])
    act(ward, wards["id"], "submit")
    villages = new_draft(village_user, rnd["id"])
    act(village_user, villages["id"], "submit")
    assert village_user.get(f"{SUBS}/{wards['id']}").status_code == 404
    assert ward.get(f"{SUBS}/{villages['id']}").status_code == 404
    assert ward.get(SUBS, params={"round_id": rnd["id"]}).json()["total"] == 1
    r = ward.post(
        SUBS,
        json={
            "round_id": rnd["id"],
            "unit_id": village["id"],
            "title": "t",
            "funding_source": "other",
            "items": [{"description": "d", "quantity": 1, "unit_cost_vnd": 1}],
        },
    )
    assert r.status_code == 403, r.text


def test_only_the_own_unit_creates_and_edits_in_draft_or_returned(lead, finance, viewer, ward, other_ward, by_status):
    body = {
        "round_id": by_status["draft"]["round_id"],
        "unit_id": ward.unit_id,
        "title": "t",
        "funding_source": "ward_budget",
        "items": [{"description": "d", "quantity": 1, "unit_cost_vnd": 1}],
    }
    for api in (finance, viewer, other_ward, lead):
        assert api.post(SUBS, json=body).status_code == 403, api.principal
    for status, sub in by_status.items():
        r = ward.patch(f"{SUBS}/{sub['id']}", json={"title": sub["title"]})
        assert r.status_code == (200 if status in ("draft", "returned") else 409), f"{status}: {r.text}"
        if r.status_code == 409:
            assert f"'{status}'" in r.json()["detail"]
            assert ward.delete(f"{SUBS}/{sub['id']}").status_code == 409
    returned = by_status["returned"]["id"]
    assert lead.patch(f"{SUBS}/{returned}", json={"title": "x"}).status_code == 403
    assert lead.delete(f"{SUBS}/{returned}").status_code == 403
    assert finance.patch(f"{SUBS}/{returned}", json={"title": "x"}).status_code == 403
    assert other_ward.delete(f"{SUBS}/{returned}").status_code == 404
    fresh = new_draft(ward, body["round_id"])
    assert ward.delete(f"{SUBS}/{fresh['id']}").status_code == 204
    assert ward.get(f"{SUBS}/{fresh['id']}").status_code == 404


def test_a_patch_cannot_null_a_required_field_or_change_the_unit(ward, by_status):
    sid = by_status["draft"]["id"]
    for body in (
        {"title": None},
        {"items": None},
        {"round_id": None},
        {"funding_source": None},
        {"unit_id": 5},
        {"items": []},
    ):
        r = ward.patch(f"{SUBS}/{sid}", json=body)
        assert r.status_code == 422, f"{body}: {r.text}"


def test_money_beyond_2_pow_53_minus_1_is_422_naming_the_item_or_total(lead, ward):
    rnd = new_round(lead, period="2025-H2")

    def post(items):
        return ward.post(
            SUBS,
            json={
                "round_id": rnd["id"],
                "unit_id": ward.unit_id,
                "title": "t",
                "funding_source": "other",
                "items": items,
            },
        )

    r = post([{"description": "ok", "quantity": 1, "unit_cost_vnd": MAX}])
    assert r.status_code == 201 and r.json()["requested_total_vnd"] == MAX, r.text
    r = post(
        [
            {"description": "ok", "quantity": 1, "unit_cost_vnd": 1},
            {"description": "big", "quantity": 2, "unit_cost_vnd": 2**52},
        ]
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "items", 1, "unit_cost_vnd"], r.text
    r = post(
        [
            {"description": "a", "quantity": 1, "unit_cost_vnd": MAX},
            {"description": "b", "quantity": 1, "unit_cost_vnd": 1},
        ]
    )
    assert (
        r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "items"] and "total" in r.json()["detail"]
    ), r.text
    r = post([{"description": "a", "quantity": 1, "unit_cost_vnd": MAX + 1}])
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "unit_cost_vnd", r.text
    r = post([{"description": "a", "quantity": 2**31, "unit_cost_vnd": 1}])
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "quantity", r.text
    r = post([{"description": "a", "quantity": 1, "unit_cost_vnd": 10**30}])
    assert r.status_code == 422, r.text
    sub = new_draft(ward, rnd["id"])
    r = ward.patch(f"{SUBS}/{sub['id']}", json={"items": [{"description": "x", "quantity": 3, "unit_cost_vnd": 2**52}]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "items", 0, "unit_cost_vnd"], r.text


@pytest.mark.parametrize(
    "item, field",
    [
        ({"description": "a", "quantity": 1.5, "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": 2.0, "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": "3", "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": 0, "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": -2, "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": True, "unit_cost_vnd": 1000}, "quantity"),
        ({"description": "a", "quantity": 1, "unit_cost_vnd": 1000.5}, "unit_cost_vnd"),
        ({"description": "a", "quantity": 1, "unit_cost_vnd": 1000.0}, "unit_cost_vnd"),
        ({"description": "a", "quantity": 1, "unit_cost_vnd": -1}, "unit_cost_vnd"),
        ({"description": "", "quantity": 1, "unit_cost_vnd": 1}, "description"),
        ({"description": "a\x00b", "quantity": 1, "unit_cost_vnd": 1}, "description"),
        ({"description": "a", "quantity": 1, "unit_cost_vnd": 1, "amount_vnd": 1}, "amount_vnd"),
    ],
)
def test_float_or_bad_item_numbers_are_422(item, field, lead, ward, by_status):
    body = {
        "round_id": by_status["draft"]["round_id"],
        "unit_id": ward.unit_id,
        "title": "t",
        "funding_source": "other",
        "items": [item],
    }
    r = ward.post(SUBS, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:3] == ["body", "items", 0] and field in r.json()["errors"][0]["loc"], r.text


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "approved"},
        {"requested_total_vnd": 1},
        {"appraised_total_vnd": 1},
        {"approved_total_vnd": 1},
        {"submitted_at": "2021-09-01T00:00:00+07:00"},
        {"late": False},
        {"decision_number": "1"},
        {"history": []},
        {"allowed_actions": ["approve"]},
        {"id": 1},
        {"version": 9},
    ],
)
def test_server_owned_fields_in_a_body_are_422(extra, ward, by_status):
    body = {
        "round_id": by_status["draft"]["round_id"],
        "unit_id": ward.unit_id,
        "title": "t",
        "funding_source": "other",
        "items": [{"description": "d", "quantity": 1, "unit_cost_vnd": 1}],
    }
    r = ward.post(SUBS, json={**body, **extra})
    assert r.status_code == 422, r.text
    r = ward.patch(f"{SUBS}/{by_status['draft']['id']}", json=extra)
    assert r.status_code == 422, r.text


def test_round_and_activity_must_exist(lead, ward, by_status):
    base = {
        "unit_id": ward.unit_id,
        "title": "t",
        "funding_source": "other",
        "items": [{"description": "d", "quantity": 1, "unit_cost_vnd": 1}],
    }
    r = ward.post(SUBS, json={**base, "round_id": 999999999})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "round_id"], r.text
    r = ward.post(SUBS, json={**base, "round_id": by_status["draft"]["round_id"], "activity_id": 999999999})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "activity_id"], r.text
    c4 = lead.get("/api/v1/activities", params={"limit": 500}).json()["items"]
    c4_id = next(a["id"] for a in c4 if a["code"] == "C4")
    r = ward.post(
        SUBS, json={**base, "round_id": by_status["draft"]["round_id"], "activity_id": c4_id, "funding_source": "cash"}
    )
    assert r.status_code == 422, r.text
    r = ward.post(SUBS, json={**base, "round_id": by_status["draft"]["round_id"], "activity_id": c4_id})
    assert r.status_code == 201 and r.json()["activity_id"] == c4_id, r.text


def test_submission_lists_filter_and_export_csv(lead, ward, by_status):
    round_id = by_status["draft"]["round_id"]
    r = ward.get(SUBS, params={"round_id": round_id, "status": "approved"})
    assert [s["id"] for s in r.json()["items"]] == [by_status["approved"]["id"]], r.text
    r = lead.get(SUBS, params={"round_id": round_id, "limit": 500})
    assert by_status["draft"]["id"] not in [s["id"] for s in r.json()["items"]]
    assert all(
        s["allowed_actions"] == (["return", "forward"] if s["status"] == "submitted" else []) for s in r.json()["items"]
    ), r.text
    r = ward.get(SUBS, params={"round_id": round_id}, headers={"Accept": "text/csv"})
    text = r.content.decode("utf-8-sig")
    assert r.status_code == 200 and text.splitlines()[0].startswith("id,"), r.text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == ward.get(SUBS, params={"round_id": round_id}).json()["total"], r.text
    approved = next(row for row in rows if row["id"] == str(by_status["approved"]["id"]))
    assert (approved["status"], approved["approved_total_vnd"], approved["allowed_actions"]) == (
        "approved",
        "100000",
        "[]",
    )
    r = ward.get(SUBS, params={"round_id": round_id, "from": "2000-01-01", "to": "2000-12-31"})
    assert r.json()["total"] == 0, r.text  # `from`/`to` filter on the local date of submitted_at
    r = ward.get(SUBS, params={"round_id": round_id, "from": "2000-01-01"})
    submitted = {s["id"] for s in r.json()["items"]}
    assert {by_status[k]["id"] for k in PATHS if k not in ("draft", "withdrawn")} <= submitted, r.text
    assert not {by_status["draft"]["id"], by_status["withdrawn"]["id"]} & submitted, r.text


# --- rounds -------------------------------------------------------------------------------------


def test_rounds_are_written_by_the_lead_office_and_read_by_every_role(lead, finance, viewer, ward):
    body = {"title": "Đợt 2026", "period": "2026-H1", "deadline": "2026-03-31T23:59:59+07:00"}
    for api in (finance, viewer, ward):
        assert api.post(ROUNDS, json=body).status_code == 403
    rnd = new_round(lead, deadline=body["deadline"], period="2026-H1")
    for api in (finance, viewer, ward):
        r = api.get(ROUNDS, params={"period": "2026-H1"})
        assert rnd["id"] in [x["id"] for x in r.json()["items"]], r.text
    for bad in (
        {**body, "period": "2026-H3"},
        {**body, "deadline": "2026-03-31T23:59:59"},
        {**body, "title": ""},
        {k: v for k, v in body.items() if k != "deadline"},
    ):
        assert lead.post(ROUNDS, json=bad).status_code == 422, bad
    assert lead.patch(f"{ROUNDS}/{rnd['id']}", json={"deadline": None}).status_code == 422
    sub = new_draft(ward, rnd["id"])
    r = lead.delete(f"{ROUNDS}/{rnd['id']}")
    assert r.status_code == 409, r.text
    ward.delete(f"{SUBS}/{sub['id']}")
    assert lead.delete(f"{ROUNDS}/{rnd['id']}").status_code == 204


# --- concurrency ----------------------------------------------------------------------------------


def race(calls) -> list:
    """Send the requests from threads released together; the answers in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        api, url, body = calls[i]
        barrier.wait()
        results[i] = api.post(url, json=body)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.parametrize("pair", [("forward", "return"), ("approve", "approve"), ("withdraw", "forward")])
def test_two_concurrent_transitions_cannot_both_succeed(pair, lead, ward, finance):
    who = {"withdraw": ward, "forward": lead, "return": lead, "approve": finance}
    for _attempt in range(5):
        rnd = new_round(lead, period="2027-H1")
        sub = new_draft(ward, rnd["id"])
        act(ward, sub["id"], "submit")
        if pair[0] == "approve":
            act(lead, sub["id"], "forward")
            act(finance, sub["id"], "appraise", {"appraised_total_vnd": 200_000})
        results = race([(who[a], f"{SUBS}/{sub['id']}/{a}", GOOD_BODY[a]) for a in pair])
        codes = sorted(r.status_code for r in results)
        assert codes in ([200, 409], [200, 412]), [r.text for r in results]
        history = ward.get(f"{SUBS}/{sub['id']}").json()["history"]
        assert len([h for h in history if h["action"] in pair]) == 1, history


def test_openapi_documents_each_transition_with_its_own_body_and_answers(world):
    spec = world.client.get("/openapi.json").json()
    for action in SOURCES:
        op = spec["paths"][f"/api/v1/budget-submissions/{{id}}/{action}"]["post"]
        assert op["operationId"] == f"{action}_budget_submission"
        assert {"200", "401", "403", "404", "409", "412", "422"} <= set(op["responses"]), (action, op["responses"])
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/BudgetSubmissionRead")
        assert ("requestBody" in op) == (GOOD_BODY[action] is not None), action
    assert spec["components"]["schemas"]["ReturnBody"]["required"] == ["note"]
    assert set(spec["components"]["schemas"]["ApproveBody"]["required"]) == {
        "approved_total_vnd",
        "decision_number",
        "decision_date",
    }
    history = spec["components"]["schemas"]["HistoryEntry"]["properties"]
    assert {"action", "from", "to", "actor", "at", "note"} <= set(history)
    assert "get_budget_round_summary" in {o["operationId"] for p in spec["paths"].values() for o in p.values()}


def test_a_retried_transition_with_the_same_idempotency_key_is_replayed(lead, ward):
    rnd = new_round(lead, period="2027-H2")
    sub = new_draft(ward, rnd["id"])
    act(ward, sub["id"], "submit")
    headers = {"Idempotency-Key": f"forward-{sub['id']}"}
    first = lead.post(f"{SUBS}/{sub['id']}/forward", json={"note": "Chuyển"}, headers=headers)
    again = lead.post(f"{SUBS}/{sub['id']}/forward", json={"note": "Chuyển"}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    assert len(ward.get(f"{SUBS}/{sub['id']}").json()["history"]) == 2
