"""The time-driven webhook events come from the duties GET /obligations shows: on a database of its own, with the
plan copied to cover today, a ward's endpoint that has existed for 40 days hears of its village's overdue forums
since then, once, however often the check runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from app.models import WebhookEndpoint
from app.timeutil import local_today
from app.webhooks import outbox
from tests.conftest import world_on_new_database
from tests.webhooks.receiver import Receiver, verified


@pytest.fixture(scope="module")
def own_world():
    with world_on_new_database("duties") as w:
        yield w


def month_ends(first: date, today: date) -> list[tuple[str, date]]:
    """(YYYY-MM, last day) of the months from `first`'s month whose last day has passed by today."""
    out, d = [], first.replace(day=1)
    while True:
        following = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        last = following - timedelta(days=1)
        if last >= today:
            return out
        out.append((f"{d:%Y-%m}", last))
        d = following


def test_a_ward_endpoint_hears_of_its_villages_overdue_forums_once(own_world):
    world, today = own_world, local_today()
    if today.year < 2026:
        pytest.skip("the seeded plan still covers today")
    lead = world.user("lead_office", "P-VHTT")
    seeded = lead.get("/api/v1/plans", params={"limit": 500}).json()["items"][0]
    r = lead.post(
        f"/api/v1/plans/{seeded['id']}/copy",
        json={"code": "KH-NOW", "title": "Kế hoạch hiện hành", "starts_on": f"{today.year}-01-01",
              "ends_on": f"{today.year + 4}-12-31"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    village = world.new_unit("village", "PH-TANTHANH")["id"]
    ward = world.user("unit", "PH-TANTHANH")
    created = datetime.now(UTC) - timedelta(days=40)
    with Receiver() as receiver:
        r = ward.post(
            "/api/v1/webhooks",
            json={"url": receiver.url + "/ward", "events": ["obligation.overdue"], "unit_id": ward.unit_id},
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        engine = world.client.app.state.engine

        async def age_and_produce() -> int:
            async with engine.begin() as conn:
                t = WebhookEndpoint.__table__
                await conn.execute(update(t).where(t.c.id == hook["id"]).values(created_at=created))
                duties = await outbox.duty_source()(conn, today)
                return await outbox.produce_obligation_events(conn, duties, today=today)

        assert world.client.portal.call(age_and_produce) > 0
        assert world.client.portal.call(age_and_produce) == 0, "a second check adds nothing"
        expected = [(m, last) for m, last in month_ends(date(today.year, 1, 1), today) if last >= created.date()]
        receiver.wait_for(len(expected))
        got = [verified(hook["secret"], d) for d in receiver.quiet()]
    forums = sorted(
        (e["data"]["period"], e["data"]["due_on"])
        for e in got
        if e["data"]["unit_id"] == village and e["data"]["duty"] == "forum"
    )
    assert forums == [(m, last.isoformat()) for m, last in expected], got
    assert all(e["type"] == "obligation.overdue" and e["data"]["plan_id"] == plan_id for e in got)
    assert all(e["data"]["status"] == "overdue" for e in got)
