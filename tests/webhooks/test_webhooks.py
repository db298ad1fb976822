"""Webhooks (API.md section 12) over HTTP, delivered by the app's own background task to real receivers on
127.0.0.1, every delivery verified with the standardwebhooks library as a ward system would."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from app.budget import service as budget_service
from app.config import get_settings
from app.models import IdempotencyKey, WebhookEndpoint, WebhookEvent
from app.timeutil import local_today
from app.webhooks import delivery, outbox
from tests.budget.test_budget import act, new_draft, new_round
from tests.webhooks.receiver import Receiver, verified

HOOKS = "/api/v1/webhooks"
BUDGET_EVENTS = [
    "budget_submission.submitted",
    "budget_submission.withdrawn",
    "budget_submission.returned",
    "budget_submission.forwarded",
    "budget_submission.appraised",
    "budget_submission.approved",
    "budget_submission.rejected",
]
OBLIGATION_EVENTS = ["obligation.due_soon", "obligation.overdue"]


@pytest.fixture()
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def db(world):
    engine = create_engine(world.client.app.state.settings.sync_url)
    yield engine
    engine.dispose()


def hook(api, url: str, events=None, unit_id: int | None = None, expect: int = 201, **extra) -> dict:
    body = {"url": url, "events": events or BUDGET_EVENTS, "unit_id": unit_id or api.unit_id, **extra}
    r = api.post(HOOKS, json=body)
    assert r.status_code == expect, r.text
    return r.json()


def walk(lead, finance, ward, round_id: int, path: list[str]) -> dict:
    from tests.budget.test_budget import ACTOR, GOOD_BODY

    apis = {"ward": ward, "lead": lead, "finance": finance}
    sub = new_draft(ward, round_id)
    for action in path:
        act(apis[ACTOR[action]], sub["id"], action, GOOD_BODY[action])
    return sub


def delivery_log(api, endpoint_id: int, count: int, **params) -> dict:
    """The endpoint's delivery log once it holds `count` attempts (an attempt is logged just after it ends)."""
    for _ in range(300):
        page = api.get(f"{HOOKS}/{endpoint_id}/deliveries", params=params)
        assert page.status_code == 200, page.text
        if page.json()["total"] >= count and len(page.json()["items"]) >= min(count, int(params.get("limit", 50))):
            return page.json() | {"headers": page.headers}
        time.sleep(0.05)
    raise AssertionError(f"the log holds {page.json()['total']} attempts, expected {count}")


def by_time(deliveries) -> list:
    return sorted(deliveries, key=lambda d: d.json["timestamp"])


# --- the resource ---------------------------------------------------------------------------------


def test_the_secret_is_shown_once_in_the_post_answer_and_never_again(world, lead, db):
    r = lead.post(
        HOOKS,
        json={"url": "https://93.184.216.34/hooks/dx", "events": ["annual_report.created"], "unit_id": lead.unit_id},
        headers={"Idempotency-Key": "webhook-secret-once"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and len(base64.b64decode(created["secret"][6:])) == 32
    assert created["active"] is True and created["events"] == ["annual_report.created"]
    assert r.headers["ETag"] and r.headers["Location"].endswith(f"/webhooks/{created['id']}")
    shown = lead.get(f"{HOOKS}/{created['id']}").json()
    assert "secret" not in shown and shown == {k: v for k, v in created.items() if k != "secret"}
    listed = lead.get(HOOKS, params={"limit": 500}).json()["items"]
    assert all("secret" not in w for w in listed) and created["id"] in [w["id"] for w in listed]
    csv_text = lead.get(HOOKS, headers={"Accept": "text/csv"}).text
    audit = lead.get("/api/v1/audit-events", params={"resource": "webhooks", "resource_id": created["id"]}).text
    assert created["secret"][6:] not in csv_text + audit, "the secret leaked into CSV or the audit log"
    with db.connect() as conn:
        stored = conn.execute(select(IdempotencyKey.__table__.c.body)).scalars().all()
    assert not any(created["secret"][6:].encode() in (b or b"") for b in stored), "secret kept in the replay store"


def test_every_role_gets_what_section_12_says(world, lead, finance, viewer, ward, other_ward):
    mine = hook(ward, "http://127.0.0.1:9/ward")
    city = hook(lead, "http://127.0.0.1:9/city", unit_id=world.unit_id("UBND-TK"))
    for api in (finance, viewer):
        assert api.get(HOOKS).status_code == 403
        assert api.get(f"{HOOKS}/{mine['id']}").status_code == 403
        assert (
            api.post(
                HOOKS, json={"url": "http://127.0.0.1:9/x", "events": BUDGET_EVENTS, "unit_id": api.unit_id}
            ).status_code
            == 403
        )
        assert api.post(f"{HOOKS}/{mine['id']}/test").status_code == 403
        assert api.get(f"{HOOKS}/{mine['id']}/deliveries").status_code == 403
    # a unit manages the endpoints of its own unit exactly: not the city's, not another ward's, not its villages'
    assert ward.get(f"{HOOKS}/{city['id']}").status_code == 404
    listed = [w["id"] for w in ward.get(HOOKS, params={"limit": 500}).json()["items"]]
    assert mine["id"] in listed and city["id"] not in listed
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/deliveries")):
        r = other_ward.request(method, f"{HOOKS}/{mine['id']}{path}", **({"json": {}} if method == "PATCH" else {}))
        assert r.status_code == 404, f"another ward's {method} {path}: {r.status_code} {r.text}"
    village = world.new_unit("village", "PH-TANTHANH")
    r = ward.post(HOOKS, json={"url": "http://127.0.0.1:9/v", "events": BUDGET_EVENTS, "unit_id": village["id"]})
    assert r.status_code == 403, r.text
    r = ward.patch(f"{HOOKS}/{mine['id']}", json={"unit_id": world.unit_id("PH-ANMY")})
    assert r.status_code == 403, r.text
    # the lead office manages every endpoint, of any unit
    r = lead.patch(f"{HOOKS}/{mine['id']}", json={"description": "Hệ thống một cửa phường Tân Thạnh"})
    assert r.status_code == 200 and r.json()["description"] == "Hệ thống một cửa phường Tân Thạnh", r.text
    assert lead.get(HOOKS, params={"unit_id": ward.unit_id, "limit": 500}).json()["total"] >= 1
    assert (
        lead.post(HOOKS, json={"url": "http://127.0.0.1:9/x", "events": BUDGET_EVENTS, "unit_id": 10**9}).status_code
        == 422
    )
    r = ward.delete(f"{HOOKS}/{mine['id']}", headers={"If-Match": '"99-x"'})
    assert r.status_code == 412, r.text
    assert ward.delete(f"{HOOKS}/{mine['id']}").status_code == 204
    assert ward.get(f"{HOOKS}/{mine['id']}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x",
        "file:///etc/passwd",
        "http://93.184.216.34/plain-http",  # http only for listed hosts
        "https://127.0.0.2/loopback",
        "https://10.1.2.3/private",
        "https://192.168.1.10/private",
        "https://172.16.0.5/private",
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://[::1]/loopback6",
        "https://[fe80::1]/link-local6",
        "https://[::ffff:10.0.0.1]/mapped",
        "https://0.0.0.0/unspecified",
        "https://user:pw@93.184.216.34/credentials",
        "https://no-such-host.invalid/x",
        "not a url",
        "https://93.184.216.34:99999/port",
    ],
)
def test_a_url_outside_the_ssrf_rules_is_a_422_at_create_and_update(lead, url):
    r = lead.post(HOOKS, json={"url": url, "events": BUDGET_EVENTS, "unit_id": lead.unit_id})
    assert r.status_code == 422, f"{url}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json")
    ok = hook(lead, "https://93.184.216.34/fine")
    r = lead.patch(f"{HOOKS}/{ok['id']}", json={"url": url})
    assert r.status_code == 422, f"PATCH {url}: {r.status_code} {r.text}"


def test_a_bad_body_is_a_422_naming_the_field(lead):
    cases = [
        ({"events": ["budget_submission.eaten"]}, "events"),
        ({"events": []}, "events"),
        ({"events": ["webhook.test"]}, "events"),  # sent to every endpoint; not subscribed to
        ({"secret": "whsec_bWluZQ=="}, "secret"),  # the server makes the secret
        ({"url": None}, "url"),
    ]
    for extra, field in cases:
        body = {"url": "https://93.184.216.34/x", "events": BUDGET_EVENTS, "unit_id": lead.unit_id, **extra}
        r = lead.post(HOOKS, json=body)
        assert r.status_code == 422, f"{extra}: {r.text}"
        assert field in str(r.json()["errors"]), r.text
    made = hook(lead, "https://93.184.216.34/x", events=["annual_report.created", "annual_report.created"])
    assert made["events"] == ["annual_report.created"]
    assert lead.patch(f"{HOOKS}/{made['id']}", json={"events": None}).status_code == 422


# --- what is sent -----------------------------------------------------------------------------------


def test_a_submission_walked_through_its_states_sends_exactly_its_events_in_order(
    world, lead, finance, ward, other_ward, receiver
):
    mine = hook(ward, receiver.url + "/ward")
    city = hook(lead, receiver.url + "/city", unit_id=world.unit_id("UBND-TK"))
    hook(other_ward, receiver.url + "/other")  # another ward's system hears nothing of this ward
    hook(lead, receiver.url + "/vhtt")  # the lead office's own unit: not this ward's parent
    rnd = new_round(lead, deadline="2099-12-31T23:59:59+07:00", period="2099-H2")
    path = ["submit", "return", "submit", "forward", "appraise", "approve"]
    sub = walk(lead, finance, ward, rnd["id"], path)
    walk(lead, finance, ward, rnd["id"], ["submit", "withdraw"])
    walk(lead, finance, ward, rnd["id"], ["submit", "forward", "reject"])
    expected = [
        "submitted", "returned", "submitted", "forwarded", "appraised", "approved",
        "submitted", "withdrawn", "submitted", "forwarded", "rejected",
    ]  # fmt: skip
    receiver.wait_for(2 * len(expected))
    got = receiver.quiet()
    for endpoint, name in ((mine, "/ward"), (city, "/city")):
        mine_got = by_time(d for d in got if d.path == name)
        payloads = [verified(endpoint["secret"], d) for d in mine_got]
        assert [p["type"] for p in payloads] == [f"budget_submission.{s}" for s in expected], name
        first = [p for p in payloads if p["data"]["id"] == sub["id"]]
        assert [p["data"]["status"] for p in first] == [
            "submitted", "returned", "submitted", "forwarded", "appraised", "approved"
        ]  # fmt: skip
        assert len({d.webhook_id for d in mine_got}) == len(mine_got)
    assert {d.path for d in got} == {"/ward", "/city"}
    # data is the record as its GET shows it to the endpoint: the ward's own view, allowed_actions included
    final = [verified(mine["secret"], d) for d in got if d.path == "/ward"]
    approved = next(p for p in final if p["type"] == "budget_submission.approved")
    assert approved["data"] == ward.get(f"/api/v1/budget-submissions/{sub['id']}").json()
    returned = next(p for p in final if p["type"] == "budget_submission.returned")
    assert returned["data"]["allowed_actions"] == ["submit", "withdraw"]
    city_view = next(verified(city["secret"], d) for d in got if d.path == "/city" and d.type.endswith("returned"))
    assert city_view["data"]["allowed_actions"] == []
    assert datetime.fromisoformat(approved["timestamp"]) <= datetime.now(UTC)


def test_an_annual_report_sends_annual_report_created_to_the_endpoints_whose_scope_holds_it(
    world, lead, ward, receiver
):
    village = world.new_unit("village", "PH-TANTHANH")
    mine = hook(ward, receiver.url + "/ward", events=["annual_report.created"])
    hook(ward, receiver.url + "/budget-only")  # subscribed to budget events only
    r = ward.post("/api/v1/annual-reports", json={"unit_id": village["id"], "year": 2024, "summary": "Báo cáo năm"})
    assert r.status_code == 201, r.text
    got = receiver.wait_for(1)
    assert [d.path for d in receiver.quiet()] == ["/ward"]
    payload = verified(mine["secret"], got[0])
    assert payload["type"] == "annual_report.created"
    assert payload["data"] == ward.get(f"/api/v1/annual-reports/{r.json()['id']}").json()
    assert payload["data"]["summary"] == "Báo cáo năm"


def test_nothing_is_sent_when_an_endpoint_is_created_and_a_test_is_sent_whatever_its_events(ward, receiver):
    mine = hook(ward, receiver.url + "/t", events=["annual_report.created"])
    assert receiver.quiet() == []
    r = ward.post(f"{HOOKS}/{mine['id']}/test")
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["type"] == "webhook.test" and accepted["event_id"].startswith("msg_")
    got = receiver.wait_for(1)
    payload = verified(mine["secret"], got[0])
    assert payload["type"] == "webhook.test" and payload["data"]["id"] == mine["id"]
    assert "secret" not in payload["data"]
    assert got[0].webhook_id == accepted["event_id"]
    assert got[0].headers["content-type"] == "application/json"


def test_a_rolled_back_transition_sends_nothing(world, lead, ward, receiver, db):
    mine = hook(ward, receiver.url + "/rb")
    rnd = new_round(lead, deadline="2099-12-31T23:59:59+07:00", period="2099-H1")
    sub = new_draft(ward, rnd["id"])
    engine = world.client.app.state.engine

    async def submit_then_roll_back() -> int:
        from app.auth.principal import load_principal

        async with engine.connect() as conn:
            tx = await conn.begin()
            principal = await load_principal(conn, f"user:{ward.principal['id']}")
            record = await budget_service.begin_transition(conn, principal, sub["id"], "submit", if_match=None)
            await budget_service.transition(conn, principal, record, "submit", None)
            written = await conn.scalar(
                text("SELECT count(*) FROM webhook_events WHERE endpoint_id = :e"), {"e": mine["id"]}
            )
            await tx.rollback()
            return written

    assert world.client.portal.call(submit_then_roll_back) == 1, "the event is written inside the transaction"
    assert ward.post(f"{HOOKS}/{mine['id']}/test").status_code == 202
    receiver.wait_for(1)
    assert [d.type for d in receiver.quiet()] == ["webhook.test"]
    assert ward.get(f"/api/v1/budget-submissions/{sub['id']}").json()["status"] == "draft"


# --- delivery: retries, log, 410, SSRF at delivery ------------------------------------------------


def test_a_receiver_that_answers_500_twice_gets_the_event_on_the_third_attempt(ward, receiver):
    mine = hook(ward, receiver.url + "/flaky")
    receiver.answers = [500, 500]
    event_id = ward.post(f"{HOOKS}/{mine['id']}/test").json()["event_id"]
    got = receiver.wait_for(1)
    assert [t.webhook_id for t in receiver.tries] == [event_id] * 3, "the same webhook-id on every attempt"
    assert verified(mine["secret"], got[0])["type"] == "webhook.test"
    log = delivery_log(ward, mine["id"], 3)
    assert log["total"] == 3
    rows = log["items"]
    assert [(d["attempt"], d["status_code"]) for d in rows] == [(1, 500), (2, 500), (3, 200)]
    assert all(d["event_id"] == event_id and d["type"] == "webhook.test" for d in rows)
    assert rows[0]["next_attempt_at"] and rows[1]["next_attempt_at"] and rows[2]["next_attempt_at"] is None
    assert rows[0]["error"].startswith("HTTP 500: xxx") and len(rows[0]["error"]) < 220, "only a short excerpt"
    assert rows[2]["error"] is None
    # the waits grow: the second retry waited about twice as long as the first
    at = [datetime.fromisoformat(d["at"]) for d in rows]
    assert at[0] < at[1] < at[2]


def test_retry_resends_that_event_now_with_the_same_webhook_id(ward, other_ward, receiver):
    mine = hook(ward, receiver.url + "/again")
    event_id = ward.post(f"{HOOKS}/{mine['id']}/test").json()["event_id"]
    delivery_id = delivery_log(ward, mine["id"], 1)["items"][0]["id"]
    assert other_ward.post(f"{HOOKS}/{mine['id']}/deliveries/{delivery_id}/retry").status_code == 404
    other = hook(other_ward, receiver.url + "/x")
    assert ward.post(f"{HOOKS}/{mine['id']}/deliveries/{10**9}/retry").status_code == 404
    assert other_ward.post(f"{HOOKS}/{other['id']}/deliveries/{delivery_id}/retry").status_code == 404
    r = ward.post(f"{HOOKS}/{mine['id']}/deliveries/{delivery_id}/retry")
    assert r.status_code == 202, r.text
    assert r.json()["event_id"] == event_id and r.json()["state"] == "pending"
    got = receiver.wait_for(2)
    assert [d.webhook_id for d in got] == [event_id, event_id]
    assert verified(mine["secret"], got[1])["type"] == "webhook.test"
    log = delivery_log(ward, mine["id"], 2)["items"]
    assert [d["attempt"] for d in log] == [1, 2]


def test_a_410_gone_disables_the_endpoint_until_its_owner_switches_it_on(ward, receiver):
    mine = hook(ward, receiver.url + "/gone")
    receiver.answers = [410]
    ward.post(f"{HOOKS}/{mine['id']}/test")
    for _ in range(100):
        shown = ward.get(f"{HOOKS}/{mine['id']}").json()
        if not shown["active"]:
            break
        time.sleep(0.05)
    assert shown["active"] is False and "410" in shown["disabled_reason"], shown
    log = ward.get(f"{HOOKS}/{mine['id']}/deliveries").json()["items"]
    assert [(d["status_code"], d["next_attempt_at"]) for d in log] == [(410, None)]
    r = ward.post(f"{HOOKS}/{mine['id']}/test")
    assert r.status_code == 409, r.text
    r = ward.patch(f"{HOOKS}/{mine['id']}", json={"active": True})
    assert r.status_code == 200 and r.json()["disabled_reason"] is None, r.text
    assert ward.post(f"{HOOKS}/{mine['id']}/test").status_code == 202
    assert receiver.wait_for(1)[0].type == "webhook.test"


def test_the_url_is_checked_again_at_delivery(ward, receiver, db):
    """As if the host's DNS answer had changed to a private address after the endpoint was created."""
    mine = hook(ward, receiver.url + "/moved")
    with db.begin() as conn:
        conn.execute(
            update(WebhookEndpoint.__table__)
            .where(WebhookEndpoint.__table__.c.id == mine["id"])
            .values(url="https://10.20.30.40/hook")
        )
    ward.post(f"{HOOKS}/{mine['id']}/test")
    log = delivery_log(ward, mine["id"], 1)["items"]
    assert log[0]["status_code"] is None and "private" in log[0]["error"], log
    assert receiver.tries == []


def test_a_delivery_that_takes_longer_than_the_timeout_fails_and_is_retried(receiver):
    settings = get_settings().model_copy(update={"webhook_timeout_seconds": 0.3})
    receiver.delay = 1.0
    row = {
        "url": receiver.url,
        "secret": "whsec_" + base64.b64encode(b"k" * 32).decode(),
        "msg_id": "msg_t",
        "payload": "{}",
    }

    async def attempt():
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            return await delivery.post(client, settings, row)

    outcome = asyncio.run(attempt())
    assert outcome.status_code is None and "timed out" in outcome.error
    assert delivery.backoff(settings, 1) < delivery.backoff(settings, 3)


def test_the_delivery_log_is_a_paginated_list_with_csv(ward, receiver):
    mine = hook(ward, receiver.url + "/log")
    for _ in range(3):
        ward.post(f"{HOOKS}/{mine['id']}/test")
    page = delivery_log(ward, mine["id"], 3, limit=2)
    assert page["total"] == 3 and page["next_cursor"], page
    assert 'rel="next"' in page["headers"]["Link"]
    rest = ward.get(f"{HOOKS}/{mine['id']}/deliveries", params={"limit": 2, "cursor": page["next_cursor"]})
    assert len(rest.json()["items"]) == 1
    assert set(page["items"][0]) == {
        "id",
        "event_id",
        "type",
        "attempt",
        "at",
        "status_code",
        "error",
        "next_attempt_at",
    }
    csv_text = ward.get(f"{HOOKS}/{mine['id']}/deliveries", headers={"Accept": "text/csv"}).text
    assert csv_text.splitlines()[0].lstrip("\ufeff").startswith("id,event_id,type,attempt")
    assert len(csv_text.strip().splitlines()) == 4


# --- time-driven events -------------------------------------------------------------------------------


def _duty(unit_id: int, due_on: date, status: str, period: str, duty: str = "forum") -> dict:
    return {
        "plan_id": 1, "duty": duty, "activity_code": "C4" if duty == "forum" else None, "unit_id": unit_id,
        "period": period, "due_on": due_on.isoformat(), "status": status, "days_overdue": 0, "met_on": None,
        "evidence": [],
    }  # fmt: skip


def test_obligation_events_are_produced_once_per_duty_and_endpoint(world, lead, ward, receiver, db):
    today = local_today()
    village = world.new_unit("village", "PH-TANTHANH")["id"]
    elsewhere = world.new_unit("village", "PH-ANMY")["id"]
    mine = hook(ward, receiver.url + "/ward", events=OBLIGATION_EVENTS)
    city = hook(lead, receiver.url + "/city", events=OBLIGATION_EVENTS, unit_id=world.unit_id("UBND-TK"))
    late = hook(ward, receiver.url + "/new", events=["obligation.overdue"])
    with db.begin() as conn:  # the ward's and the city's endpoints have existed for a month
        t = WebhookEndpoint.__table__
        month_ago = datetime.now(UTC) - timedelta(days=30)
        conn.execute(update(t).where(t.c.id.in_([mine["id"], city["id"]])).values(created_at=month_ago))
    duties = [
        _duty(village, today + timedelta(days=3), "due", "2099-01"),  # due soon
        _duty(village, today - timedelta(days=1), "overdue", "2099-02"),  # overdue
        _duty(village, today + timedelta(days=4), "due", "2099-03"),  # not yet close
        _duty(village, today - timedelta(days=2), "met", "2099-04"),  # met: nothing
        _duty(elsewhere, today - timedelta(days=5), "overdue", "2099-05"),  # another ward's: the city only
    ]
    engine = world.client.app.state.engine

    async def produce() -> int:
        async with engine.begin() as conn:
            return await outbox.produce_obligation_events(conn, duties, today=today)

    assert world.client.portal.call(produce) == 5
    assert world.client.portal.call(produce) == 0, "a second run (another worker) adds nothing"
    receiver.wait_for(5)
    got = receiver.quiet()
    seen = sorted((d.path, d.type, d.json["data"]["period"]) for d in got)
    assert seen == [
        ("/city", "obligation.due_soon", "2099-01"),
        ("/city", "obligation.overdue", "2099-02"),
        ("/city", "obligation.overdue", "2099-05"),
        ("/ward", "obligation.due_soon", "2099-01"),
        ("/ward", "obligation.overdue", "2099-02"),
    ], "the endpoint created today hears of no duty that fell due before it existed"
    data = verified(mine["secret"], next(d for d in got if d.path == "/ward" and d.type.endswith("overdue")))["data"]
    assert data == duties[1]
    assert late["id"]


def test_one_process_delivers_on_sqlite(tmp_path):
    settings = get_settings().model_copy(update={"database_url": f"sqlite:///{tmp_path / 'x.db'}"})
    first, second = delivery.SqliteLeader(settings), delivery.SqliteLeader(settings)
    assert first.held() and not second.held()
    first.release()
    assert second.held()
    second.release()


def test_events_are_rows_of_the_outbox_with_their_state(world, ward, receiver, db):
    mine = hook(ward, receiver.url + "/state")
    ward.post(f"{HOOKS}/{mine['id']}/test")
    receiver.wait_for(1)
    t = WebhookEvent.__table__
    for _ in range(50):
        with db.connect() as conn:
            row = conn.execute(select(t).where(t.c.endpoint_id == mine["id"])).mappings().one()
        if row["state"] == "delivered":
            break
        time.sleep(0.05)
    assert row["state"] == "delivered" and row["attempts"] == 1 and row["next_attempt_at"] is None
