"""Webhook delivery by real server processes (tests/live.py): across a restart with the receiver down, and
with two workers on PostgreSQL claiming from one outbox."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.conftest import BACKEND, create_database
from tests.live import free_port, running
from tests.webhooks.receiver import Receiver, verified

pytestmark = pytest.mark.slow
HOOKS = "/api/v1/webhooks"


@pytest.fixture()
def db():
    database = create_database("webhooks")
    yield database
    database.drop()


def _client(srv) -> httpx.Client:
    return httpx.Client(base_url=srv.base, headers={"Authorization": f"Bearer {srv.token()}"}, timeout=30)


def _city_endpoint(c: httpx.Client, url: str) -> dict:
    city = next(u for u in c.get("/api/v1/units", params={"limit": 500}).json()["items"] if u["code"] == "UBND-TK")
    events = ["budget_submission.submitted", "budget_submission.returned", "budget_submission.forwarded",
              "budget_submission.withdrawn"]  # fmt: skip
    r = c.post(HOOKS, json={"url": url, "events": events, "unit_id": city["id"]})
    assert r.status_code == 201, r.text
    return r.json()


def _walk(c: httpx.Client, *actions: tuple[str, dict | None]) -> None:
    me = c.get("/api/v1/auth/me").json()
    rnd = c.post(
        "/api/v1/budget-rounds", json={"title": "Đợt 1", "period": "2099-H1", "deadline": "2099-06-30T00:00:00Z"}
    )
    body = {"round_id": rnd.json()["id"], "unit_id": me["unit_id"], "title": "Kinh phí tuyên truyền",
            "funding_source": "city_budget", "items": [{"description": "Tờ rơi", "quantity": 10, "unit_cost_vnd": 1000}]}  # fmt: skip
    sub = c.post("/api/v1/budget-submissions", json=body).json()
    for action, payload in actions:
        r = c.post(f"/api/v1/budget-submissions/{sub['id']}/{action}", json=payload)
        assert r.status_code == 200, f"{action}: {r.text}"


def test_a_receiver_down_while_the_service_restarts_gets_every_event_once_it_is_back(db):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with running(db.url) as srv, _client(srv) as c:
        endpoint = _city_endpoint(c, url)
        _walk(c, ("submit", None), ("forward", {"note": "Chuyển Phòng TC-KH"}))
        _walk(c, ("submit", None), ("return", {"note": "Bổ sung"}), ("withdraw", None))
        log = []
        for _ in range(200):  # every event has been tried (and refused: nobody listens) at least once
            log = c.get(f"{HOOKS}/{endpoint['id']}/deliveries", params={"limit": 500}).json()["items"]
            if len({d["event_id"] for d in log}) == 5:
                break
            threading.Event().wait(0.05)
        assert len({d["event_id"] for d in log}) == 5 and all(d["status_code"] is None for d in log), log
    with running(db.url) as srv, Receiver(port) as receiver:
        got = receiver.wait_for(5, timeout=120)
        got = receiver.quiet(1.0)
        with _client(srv) as c:
            log = c.get(f"{HOOKS}/{endpoint['id']}/deliveries", params={"limit": 500}).json()["items"]
    assert len(got) == 5 and len({d.webhook_id for d in got}) == 5, [d.type for d in got]
    types = sorted(verified(endpoint["secret"], d)["type"] for d in got)
    assert types == sorted(
        ["budget_submission.submitted"] * 2
        + ["budget_submission.forwarded", "budget_submission.returned", "budget_submission.withdrawn"]
    )
    assert sum(1 for d in log if d["status_code"] == 200) == 5


@pytest.mark.skipif(BACKEND != "postgresql", reason="several workers on one outbox: PostgreSQL")
def test_two_workers_deliver_each_event_once(db):
    with running(db.url, args=["--workers", "2"]) as srv, Receiver() as receiver, _client(srv) as c:
        endpoint = _city_endpoint(c, receiver.url)
        sent: list[str] = []

        def fire(n: int) -> None:
            with _client(srv) as mine:
                for _ in range(n):
                    r = mine.post(f"{HOOKS}/{endpoint['id']}/test")
                    assert r.status_code == 202, r.text
                    sent.append(r.json()["event_id"])

        threads = [threading.Thread(target=fire, args=(75,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        receiver.wait_for(300, timeout=180)  # a loaded machine (2 shared cores) is slow, not wrong
        got = receiver.quiet(1.5)
    counts = Counter(d.webhook_id for d in got)
    assert sorted(counts) == sorted(sent) and set(counts.values()) == {1}, counts.most_common(3)
