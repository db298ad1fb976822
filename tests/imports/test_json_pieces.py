"""A JSON body's rows are parsed a piece at a time (the event loop is not held for the whole body): tiny pieces
here, so that every row boundary is a cut point and strings and nested objects that look like boundaries fall
inside pieces. The rows must be exactly those of the whole document, and a broken body the same 422."""

from __future__ import annotations

import json

import pytest

from app.imports import parsers
from tests.imports.test_imports_records import _forum

IMP = "/api/v1/imports"


@pytest.fixture()
def pieces(monkeypatch):
    monkeypatch.setattr(parsers, "PIECE", 8)


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def _dry(api, body: bytes, resource: str = "forums"):
    return api.post(
        f"{IMP}/{resource}", params={"dry_run": "true"}, content=body, headers={"Content-Type": "application/json"}
    )


def test_rows_that_look_like_boundaries_are_read_whole(pieces, ward, village):
    titles = ['Hỏi đáp "},{" trực tuyến', "Ngoặc }, và {", "x}", "}]}", "Thôn 5 — kỳ 2"]
    rows = [_forum(village["id"], f"cut-{i}", title=t) for i, t in enumerate(titles)]
    body = json.dumps({"rows": rows}, ensure_ascii=False, indent=1).encode()
    r = _dry(ward, body)
    assert r.status_code == 200 and r.json()["created"] == len(rows), r.text
    # each title reached validation as sent: a bad one among them is reported at its own row
    rows[3]["title"] = ""
    r = _dry(ward, json.dumps({"rows": rows}).encode())
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(4, "title")], r.text


def test_nested_objects_cross_pieces(pieces, lead, world):
    villages = [world.new_unit("village", "PH-TANTHANH")["id"] for _ in range(3)]
    rows = [
        {"unit_id": world.unit_id("PH-TANTHANH"), "external_ref": f"nest-{i}", "audience": "officials",
         "title": "Lớp {bồi dưỡng}, khóa 1", "held_on": "2024-04-02",
         "participants": [{"unit_id": v, "count": 3 + i} for v in villages]}
        for i in range(4)
    ]  # fmt: skip
    r = _dry(lead, json.dumps({"rows": rows}).encode(), "trainings")
    assert r.status_code == 200 and r.json()["created"] == 4, r.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"rows": [{"a": 1},]}',
        b'{"rows": [{"a": 1}, , {"b": 2}]}',
        b'{"rows": [{"a": 1}]} trailing',
        b'{"rows": [{"a": NaN}]}',
        b'{"rows": [{"a": "unterminated}, {"b": 2}]}',
    ],
)
def test_a_broken_body_is_the_same_422_in_pieces(pieces, ward, body):
    r = _dry(ward, body)
    assert r.status_code == 422 and "Malformed JSON" in r.text, f"a broken body was not refused: {r.text}"


def test_other_top_level_fields_are_still_refused(pieces, ward, village):
    body = json.dumps({"rows": [_forum(village["id"], "top-1")], "dry": True}).encode()
    r = _dry(ward, body)
    assert r.status_code == 422 and "Unknown top-level field 'dry'" in r.text, r.text
