"""One fresh record of every collection, made through the API, for tests that walk the route table.

`Samples.params(path)` answers the path parameters of a route template (`/api/v1/contests/{id}/entries/{entry_id}`)
with records that the `owner` (a ward's unit user) made, or that the lead office made for catalogues; each call
makes new records, so that a test that deletes or moves one leaves the next test's intact.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable

from tests.conftest import Api, World
from tests.webhooks.receiver import Receiver

V1 = "/api/v1"


def _post(api: Api, path: str, body: dict) -> dict:
    r = api.post(f"{V1}{path}", json=body)
    assert r.status_code == 201, f"{path}: {r.text}"
    return r.json()


@functools.cache
def _receiver() -> Receiver:
    return Receiver().__enter__()  # a daemon thread, for the whole test session


def _tag() -> str:
    return uuid.uuid4().hex[:8]


class Samples:
    def __init__(self, world: World, owner: Api) -> None:
        self.world, self.owner, self.lead = world, owner, world.admin
        makers: dict[str, Callable[[], dict[str, int]]] = {
            "/units": lambda: {"id": self.village()},
            "/users": lambda: {"id": self.user()},
            "/api-clients": lambda: {"id": _post(self.lead, "/api-clients", self.client_body())["id"]},
            "/activities": lambda: {"id": self.activity()},
            "/plans": lambda: {"id": self.plan()},
            "/plans/{id}/targets": self.plan_target,
            "/budget-rounds": lambda: {"id": self.budget_round()},
            "/budget-submissions": lambda: {"id": self.budget_submission()},
            "/broadcasts": lambda: {"id": self.record("/broadcasts")},
            "/trainings": lambda: {"id": self.record("/trainings")},
            "/contests": lambda: {"id": self.record("/contests")},
            "/contests/{id}/entries": self.contest_entry,
            "/unit-plans": lambda: {"id": self.record("/unit-plans")},
            "/annual-reports": lambda: {"id": self.record("/annual-reports")},
            "/forums": lambda: {"id": self.record("/forums")},
            "/satisfaction-surveys": lambda: {"id": self.record("/satisfaction-surveys")},
            "/webhooks": lambda: {"id": self.webhook()},
            "/webhooks/{id}/deliveries": self.webhook_delivery,
            "/kpis": lambda: {"code": "forum_compliance"},  # not a record: every role reads it over its scope
        }
        self.makers = {f"{V1}{k}": v for k, v in makers.items()}

    def params(self, path: str) -> dict[str, int]:
        """Fresh records for every path parameter of `path` (the longest collection that `path` lies under)."""
        under = [c for c in self.makers if path.startswith(c + "/")]
        if not under:
            raise KeyError(f"no sample maker for {path}: add one to tests/samples.py")
        return self.makers[max(under, key=len)]()

    # --- what each maker posts ---

    def village(self) -> int:
        return self.world.new_unit("village", self.owner_unit_code)["id"]

    @property
    def owner_unit_code(self) -> str:
        return next(code for code, u in self.world.units.items() if u["id"] == self.owner.unit_id)

    def user(self) -> int:
        body = {
            "username": f"sample-{_tag()}",
            "password": "secret-pass-1",
            "role": "viewer",
            "unit_id": self.owner.unit_id,
        }
        return _post(self.lead, "/users", body)["id"]

    def client_body(self) -> dict:
        return {"name": f"Hệ thống thử {_tag()}", "role": "unit", "unit_id": self.owner.unit_id}

    def activity(self) -> int:
        body = {"code": f"T{_tag().upper()}", "title": "Hoạt động thử", "frequency": "yearly"}
        return _post(self.lead, "/activities", body)["id"]

    def plan(self) -> int:
        """A plan issued by a new village of the owner's: never the city's plan, and never overlapping another."""
        body = {"code": f"KH-{_tag()}", "title": "Kế hoạch truyền thông CĐS thử", "issued_by_unit_id": self.village(),
                "starts_on": "2091-01-01", "ends_on": "2095-12-31", "required_unit_kinds": ["ward", "commune"]}  # fmt: skip
        return _post(self.lead, "/plans", body)["id"]

    def plan_target(self) -> dict[str, int]:
        plan = self.plan()
        body = {"kpi_code": "forum_compliance", "year": 2092, "target": 0.6, "comparison": "gte"}
        return {"id": plan, "target_id": _post(self.lead, f"/plans/{plan}/targets", body)["id"]}

    def budget_round(self) -> int:
        body = {"title": "Kinh phí truyền thông CĐS", "period": "2099-H1", "deadline": "2099-06-30T23:59:59+07:00"}
        return _post(self.lead, "/budget-rounds", body)["id"]

    def budget_submission(self) -> int:
        """A submitted one: a draft is seen by its own unit alone, a submission by the offices as well."""
        body = {
            "round_id": self.budget_round(),
            "unit_id": self.owner.unit_id,
            "title": "Kinh phí tuyên truyền CĐS",
            "funding_source": "city_budget",
            "items": [{"description": "Tờ rơi", "quantity": 100, "unit_cost_vnd": 2_000}],
        }
        sub = _post(self.owner, "/budget-submissions", body)
        r = self.owner.post(f"{V1}/budget-submissions/{sub['id']}/submit")
        assert r.status_code == 200, r.text
        return sub["id"]

    def record(self, path: str) -> int:
        """An operational record of a new village in the owner's scope (so one-per-year keys never clash);
        a ward radio broadcast belongs to the ward itself."""
        unit = self.owner.unit_id if path == "/broadcasts" else self.village()
        bodies = {
            "/broadcasts": {"channel": "ward_radio", "title": "Bản tin CĐS", "duration_minutes": 12,
                            "produced_on": "2022-04-28", "airings": ["2022-04-29T19:00:00+07:00"]},
            "/trainings": {"audience": "officials", "title": "Tập huấn CĐS", "held_on": "2022-06-15",
                           "participants": [{"unit_id": unit, "count": 12}]},
            "/contests": {"title": "Tìm hiểu về chuyển đổi số", "audience": "students",
                          "starts_on": "2022-05-01", "ends_on": "2022-05-31"},
            "/unit-plans": {"year": 2023, "title": "Kế hoạch CĐS", "document_number": "45/KH-UBND",
                            "issued_on": "2022-02-15"},
            "/annual-reports": {"year": 2023, "summary": "Tổ chức 12 diễn đàn."},
            "/forums": {"kind": "village_forum", "held_on": "2023-05-10", "title": "Diễn đàn CĐS",
                        "attendees": 40, "questions_answered": 6},
            "/satisfaction-surveys": {"month": "2023-05", "source": "one_stop", "respondents": 120,
                                      "satisfied": 101},
        }  # fmt: skip
        return _post(self.owner, path, {"unit_id": unit, **bodies[path]})["id"]

    def webhook(self) -> int:
        """An endpoint of the owner's unit, on a receiver that answers 200 (so that nothing keeps retrying)."""
        body = {"url": _receiver().url, "events": ["budget_submission.submitted"], "unit_id": self.owner.unit_id}
        return _post(self.owner, "/webhooks", body)["id"]

    def webhook_delivery(self) -> dict[str, int]:
        """An endpoint with one finished delivery attempt (of a test event)."""
        endpoint = self.webhook()
        r = self.owner.post(f"{V1}/webhooks/{endpoint}/test")
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            items = self.owner.get(f"{V1}/webhooks/{endpoint}/deliveries").json()["items"]
            if items:
                return {"id": endpoint, "delivery_id": items[0]["id"]}
            time.sleep(0.05)
        raise AssertionError("the test event was not delivered within 15 s")

    def contest_entry(self) -> dict[str, int]:
        contest = self.record("/contests")
        body = {"unit_id": self.owner.unit_id, "participant_ref": f"HS-{_tag()}", "participant_name": "Nguyễn Thị Hồng",
                "score": 8, "submitted_at": "2022-05-10T09:00:00+07:00"}  # fmt: skip
        return {"id": contest, "entry_id": _post(self.owner, f"/contests/{contest}/entries", body)["id"]}
