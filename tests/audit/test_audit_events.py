"""The audit trail: every write, import and transition, listed like every list (JSON pages or CSV)."""

from __future__ import annotations

import csv
import io


def test_audit_events_stream_as_csv_like_every_list(world, lead):
    unit = world.new_unit("village", "PH-TANTHANH")
    r = lead.get(
        "/api/v1/audit-events",
        params={"resource": "units", "resource_id": unit["id"]},
        headers={"Accept": "text/csv"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), (
        f"Accept: text/csv answered {r.headers['content-type']}"
    )
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(row["action"], row["resource"], row["resource_id"]) for row in rows] == [
        ("create", "units", str(unit["id"]))
    ], r.text
    assert '"kind":"user"' in rows[0]["actor"], rows[0]


def test_a_unit_user_may_not_read_the_audit_trail_in_any_form(ward):
    assert ward.get("/api/v1/audit-events", headers={"Accept": "text/csv"}).status_code == 403
