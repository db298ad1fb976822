"""Checks that every operational-record test repeats: answers, problems, ETags, CSV, audit, bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import Api

PROBLEM_JSON = "application/problem+json"


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
    r = api.get(path, params=params, headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv"), r.headers
    return list(csv.DictReader(io.StringIO(r.text)))


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
    for label, (field, value) in cases.items():
        r = api.post(path, json={**body, field: value})
        assert r.status_code == 422, (label, r.text)
        assert any(e["loc"][:2] == ["body", field] for e in r.json()["errors"]), (label, r.text)


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
