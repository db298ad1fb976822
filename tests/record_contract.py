"""What every operational record (API.md section 4) does, and the checks every record test shares.

One module for both: the small checks (answers, problems, ETags, CSV, audit, bad input) that any test of a
resource calls, and the contract. A test module describes its resource in a `RecordCase` and subclasses
`RecordContract` with it; pytest then runs every contract test below for that resource, beside the module's
own tests of its rules.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from tests.conftest import Api

PROBLEM_JSON = "application/problem+json"
VIETNAMESE = "Diễn đàn chuyển đổi số thôn Phú Thạnh — tháng 5"


# --- the checks every record test shares ---


def ok(r, status: int = 200) -> Any:
    """The JSON body of an answer that must have `status`."""
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def problem(r, status: int, loc: list | None = None) -> dict:
    """A problem+json answer with `status`; with `loc`, one of its errors names that place."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON), r.text
    body = r.json()
    if loc is not None:
        assert loc in [e["loc"] for e in body.get("errors", [])], r.text
    return body


def create(api: Api, path: str, body: dict) -> dict:
    """A 201 with the record, its `Location` and its `ETag`."""
    r = api.post(path, json=body)
    record = ok(r, 201)
    assert r.headers["Location"].endswith(f"{path}/{record['id']}"), r.headers
    assert r.headers["ETag"], r.headers
    return record


def item_ids(api: Api, path: str, **params: Any) -> list[int]:
    """The ids a list shows this caller (one page of up to 500)."""
    page = ok(api.get(path, params={"limit": 500, **params}))
    assert page["total"] == len(page["items"]), page
    return [item["id"] for item in page["items"]]


def csv_rows(api: Api, path: str, **params: Any) -> list[dict[str, str]]:
    """A CSV export read as a spreadsheet would: UTF-8 (a leading BOM dropped), one dict per row."""
    r = api.get(path, params=params, headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv"), r.headers
    assert r.content.startswith("\ufeff".encode()), "an export opens in Excel only with a BOM"
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def check_etag_round_trip(api: Api, url: str, change: dict) -> dict:
    """A PATCH with a stale ETag is a 412 and changes nothing; with the current one it applies."""
    first = api.get(url)
    etag = first.headers["ETag"]
    updated = ok(api.patch(url, json=change, headers={"If-Match": etag}))
    assert updated["version"] == first.json()["version"] + 1, updated
    for key, value in change.items():
        assert updated[key] == value, (key, updated)
    problem(api.patch(url, json=change, headers={"If-Match": etag}), 412)
    problem(api.delete(url, headers={"If-Match": etag}), 412)
    assert api.get(url).json()["version"] == updated["version"]
    return updated


def audit_actions(lead: Api, resource: str, resource_id: int) -> list[str]:
    page = ok(lead.get("/api/v1/audit-events", params={"resource": resource, "resource_id": resource_id}))
    return [e["action"] for e in page["items"]]


def check_bad_inputs_are_422(api: Api, path: str, body: dict, cases: dict[str, tuple[str, Any]]) -> None:
    """Each case replaces one field of a valid body with a bad value: every one a 422 naming that field."""
    for label, (name, value) in cases.items():
        r = api.post(path, json={**body, name: value})
        assert r.status_code == 422, (label, r.text)
        assert any(e["loc"][:2] == ["body", name] for e in r.json()["errors"]), (label, r.text)


def hostile_values(text_field: str, number_field: str, date_field: str) -> dict[str, tuple[str, Any]]:
    """The inputs that must never reach the database: NUL bytes, huge numbers, impossible dates, unknown fields."""
    return {
        "NUL byte": (text_field, "Tân\x00Thạnh"),
        "10**30": (number_field, 10**30),
        "negative": (number_field, -1),
        "impossible date": (date_field, "2022-02-30"),
        "not a date": (date_field, "tháng tư"),
        "unknown field": ("surprise", 1),
    }


def village(world, ward_code: str = "PH-TANTHANH") -> int:
    """A fresh village under a ward: records made there are this test's alone."""
    return world.new_unit("village", ward_code)["id"]


# --- the contract ---


@dataclass
class RecordCase:
    path: str  # "/api/v1/forums"
    resource: str  # the audit resource, "forums"
    # a valid create body for a unit; `n` makes it distinct from the unit's other records (a year for plans)
    body: Callable[[int, int], dict[str, Any]]
    # the body fields that put a record on a date (what `from` and `to` filter on); lead_office sends them
    dated: Callable[[date], dict[str, Any]]
    text_field: str  # a free-text field, to check that Vietnamese round-trips
    change: dict[str, Any]  # a valid PATCH
    required: tuple[str, ...]  # fields a PATCH may not set to null
    number_field: str  # a count or year, to send 10**30 in
    date_field: str | None = None  # a date field, to send 2022-02-30 in
    extra: dict[str, Any] = field(default_factory=dict)

    def create(self, api: Api, unit_id: int, n: int = 0, **over: Any) -> dict[str, Any]:
        """The `n`th record of this resource in a unit, with `over` replacing fields of the body."""
        return create(api, self.path, {**self.body(unit_id, n), **over})


class RecordContract:
    case: RecordCase

    # --- each role over HTTP ---

    @pytest.mark.parametrize("role", ["lead_office", "unit"])
    def test_writer_creates_reads_lists_updates_and_deletes(self, world, roles, role):
        api, case = roles[role], self.case
        unit = village(world)
        r = api.post(case.path, json=case.body(unit, 0))
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["unit_id"] == unit and created["version"] == 1, r.text
        assert r.headers["Location"] == f"{case.path}/{created['id']}"
        etag = r.headers["ETag"]
        url = f"{case.path}/{created['id']}"

        r = api.get(url)
        assert r.status_code == 200 and r.json() == created, r.text
        assert r.headers["ETag"] == etag
        assert item_ids(api, case.path, unit_id=unit) == [created["id"]]

        r = api.patch(url, json=case.change, headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        updated, new_etag = r.json(), r.headers["ETag"]
        assert updated["version"] == 2 and new_etag != etag, r.text
        assert {k: updated[k] for k in case.change} == case.change
        r = api.patch(url, json=case.change, headers={"If-Match": etag})
        assert r.status_code == 412, r.text

        r = api.delete(url, headers={"If-Match": etag})
        assert r.status_code == 412, r.text
        r = api.delete(url, headers={"If-Match": new_etag})
        assert r.status_code == 204, r.text
        assert api.get(url).status_code == 404

    @pytest.mark.parametrize("role", ["finance_office", "viewer"])
    def test_reader_sees_every_unit_but_may_not_write(self, world, roles, lead, role):
        api, case = roles[role], self.case
        unit = village(world, "PH-ANMY")
        record = case.create(lead, unit)
        url = f"{case.path}/{record['id']}"
        assert api.get(url).json() == record
        assert item_ids(api, case.path, unit_id=unit) == [record["id"]]
        for r in (
            api.post(case.path, json=case.body(unit, 1)),
            api.patch(url, json=case.change),
            api.delete(url),
        ):
            assert r.status_code == 403, r.text
        assert lead.get(url).json()["version"] == 1

    def test_without_a_token_is_401(self, anonymous):
        r = anonymous.get(self.case.path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", r.text

    # --- scope ---

    def test_ward_acts_for_its_villages_but_not_for_another_ward(self, world, ward, other_ward, lead):
        case = self.case
        own_village = village(world)
        other_unit = village(world, "PH-ANMY")
        mine = case.create(ward, own_village)
        theirs = case.create(other_ward, other_unit)
        r = ward.post(case.path, json=case.body(world.unit_id("PH-ANMY"), 5))
        assert r.status_code == 403, r.text
        r = ward.post(case.path, json=case.body(other_unit, 5))
        assert r.status_code == 403, r.text

        url = f"{case.path}/{theirs['id']}"
        for r in (ward.get(url), ward.patch(url, json=case.change), ward.delete(url)):
            assert r.status_code == 404, r.text
        assert item_ids(ward, case.path, unit_id=other_unit) == []
        assert item_ids(other_ward, case.path, unit_id=own_village) == []
        assert item_ids(lead, case.path, unit_id=other_unit) == [theirs["id"]]

        # moving a record out of the ward's scope is refused; within it, allowed
        url = f"{case.path}/{mine['id']}"
        r = ward.patch(url, json={"unit_id": other_unit})
        assert r.status_code == 403, r.text
        r = ward.patch(url, json={"unit_id": world.unit_id("PH-TANTHANH")})
        assert r.status_code == 200 and r.json()["unit_id"] == world.unit_id("PH-TANTHANH"), r.text
        assert ward.get(url).status_code == 200

    def test_a_unit_id_that_is_no_unit_is_422_for_lead(self, lead):
        r = lead.post(self.case.path, json=self.case.body(2**62, 0))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "unit_id"], r.text

    # --- lists ---

    def test_list_filters_on_unit_and_on_the_records_own_date(self, world, lead):
        case = self.case
        unit = village(world)
        may = case.create(lead, unit, 0, **case.dated(date(2023, 5, 1)))
        june = case.create(lead, unit, 1, **case.dated(date(2023, 6, 1)))

        def listed(**params):
            return item_ids(lead, case.path, unit_id=unit, **params)

        assert listed() == [may["id"], june["id"]]
        assert listed(**{"from": "2023-06-01"}) == [june["id"]]
        assert listed(to="2023-05-01") == [may["id"]]
        assert listed(**{"from": "2023-05-01", "to": "2023-06-01"}) == [may["id"], june["id"]]
        assert listed(**{"from": "2023-06-02"}) == []
        assert listed(**{"from": "0001-01-01", "to": "9999-12-31"}) == [may["id"], june["id"]]

    def test_list_pages_with_a_cursor_and_a_link_header(self, world, lead):
        case = self.case
        unit = village(world)
        made = [case.create(lead, unit, n)["id"] for n in range(3)]
        r = lead.get(case.path, params={"unit_id": unit, "limit": 2})
        page = r.json()
        assert [i["id"] for i in page["items"]] == made[:2] and page["total"] == 3, r.text
        assert 'rel="next"' in r.headers["Link"]
        r = lead.get(case.path, params={"unit_id": unit, "limit": 2, "cursor": page["next_cursor"]})
        last = ok(r)
        assert [i["id"] for i in last["items"]] == made[2:] and last["next_cursor"] is None, r.text
        assert "Link" not in r.headers

    def test_csv_export_has_a_header_row_and_vietnamese_intact(self, world, ward):
        case = self.case
        unit = village(world)
        record = case.create(ward, unit, 0, **{case.text_field: VIETNAMESE})
        assert record[case.text_field] == VIETNAMESE
        assert ward.get(f"{case.path}/{record['id']}").json()[case.text_field] == VIETNAMESE
        rows = csv_rows(ward, case.path, unit_id=unit)
        expected = [c for name in record for c in ([name, "unit_code"] if name == "unit_id" else [name])]
        assert len(rows) == 1 and list(rows[0]) == expected, rows
        assert rows[0][case.text_field] == VIETNAMESE and rows[0]["id"] == str(record["id"]), rows

    # --- conflicts and validation ---

    def test_a_second_record_with_the_same_external_ref_in_a_unit_is_409(self, world, ward):
        case = self.case
        unit, sibling = village(world), village(world)
        case.create(ward, unit, 0, external_ref="KH-01")
        r = ward.post(case.path, json={**case.body(unit, 1), "external_ref": "KH-01"})
        assert r.status_code == 409, r.text
        case.create(ward, sibling, 0, external_ref="KH-01")
        other = case.create(ward, unit, 2, external_ref="KH-02")
        r = ward.patch(f"{case.path}/{other['id']}", json={"external_ref": "KH-01"})
        assert r.status_code == 409, r.text

    def test_bad_input_is_422_naming_the_field_never_500(self, world, lead):
        case = self.case
        unit = village(world)
        good = case.body(unit, 0)
        bad_bodies = [
            ({**good, case.text_field: "nul\x00byte"}, case.text_field),
            ({**good, case.number_field: 10**30}, case.number_field),
            ({**good, "unit_id": 10**30}, "unit_id"),
            ({**good, "surprise": 1}, "surprise"),
            ({**good, "external_ref": "x" * 256}, "external_ref"),
            ({**good, "external_ref": "a\x00"}, "external_ref"),
        ]
        if case.date_field:
            bad_bodies.append(({**good, case.date_field: "2022-02-30"}, case.date_field))
        if "topics" in good:
            bad_bodies.append(({**good, "topics": ["gossip"]}, "topics"))
        for body, name in bad_bodies:
            r = lead.post(case.path, json=body)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert name in r.json()["errors"][0]["loc"], r.text
        r = lead.post(case.path, content=b'{"unit_id": ', headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text

        record = case.create(lead, unit)
        url = f"{case.path}/{record['id']}"
        for name in case.required:
            r = lead.patch(url, json={name: None})
            assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", name], r.text
        for body in ({case.number_field: 10**30}, {"version": 7}, {"id": 1}, {case.text_field: "\x00"}):
            r = lead.patch(url, json=body)
            assert r.status_code == 422, r.text
        assert lead.get(url).json() == record

        for params in (
            {"from": "2022-02-30"},
            {"to": "not-a-date"},
            {"unit_id": 10**30},
            {"limit": 501},
            {"cursor": "made-up"},
        ):
            r = lead.get(case.path, params=params)
            assert r.status_code == 422, (params, r.text)
        for bad_id in ("0", str(10**30), "abc"):
            assert lead.get(f"{case.path}/{bad_id}").status_code == 422

    # --- audit ---

    def test_every_write_is_in_the_audit_log(self, world, lead, ward):
        case = self.case
        record = case.create(ward, village(world))
        url = f"{case.path}/{record['id']}"
        assert ward.patch(url, json=case.change).status_code == 200
        assert ward.delete(url).status_code == 204
        r = lead.get("/api/v1/audit-events", params={"resource": case.resource, "resource_id": record["id"]})
        assert r.status_code == 200, r.text
        events = r.json()["items"]
        assert [e["action"] for e in events] == ["create", "update", "delete"], r.text
        assert {e["actor"]["id"] for e in events} == {ward.principal["id"]}
        assert events[0]["after"] == record
        assert events[2]["before"]["version"] == 2
        assert ward.get("/api/v1/audit-events").status_code == 403
