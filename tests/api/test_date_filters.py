"""`from` and `to` at the calendar's edges, on every list that takes them (dates, months and instants)."""

from __future__ import annotations

import pytest

from tests.samples import Samples

LISTS = [
    "/api/v1/broadcasts",
    "/api/v1/trainings",
    "/api/v1/forums",
    "/api/v1/unit-plans",
    "/api/v1/annual-reports",
    "/api/v1/satisfaction-surveys",
    "/api/v1/contests",
    "/api/v1/budget-submissions",
]


@pytest.mark.parametrize("path", [*LISTS, "/api/v1/audit-events"])
def test_bounds_at_the_calendars_ends_keep_or_leave_everything(world, ward, lead, path):
    reader = lead if path.endswith("audit-events") else ward
    if path in LISTS:
        Samples(world, ward).params(f"{path}/{{id}}")  # one record the ward made (a budget draft only it sees)
    everything = reader.get(path).json()["total"]
    assert everything > 0, f"{path}: nothing to filter"
    wide = reader.get(path, params={"from": "0001-01-01", "to": "9999-12-31"})
    assert wide.status_code == 200, wide.text
    for params in ({"from": "9999-12-31"}, {"from": "9999-12-30"}, {"to": "0001-01-01"}):
        r = reader.get(path, params=params)
        assert r.status_code == 200 and r.json()["total"] == 0, f"{path} {params}: {r.json()['total']} listed"
