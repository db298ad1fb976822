from datetime import date

import pytest

from tests.record_contract import VIETNAMESE, RecordCase, RecordContract, item_ids, village

FORUMS = RecordCase(
    path="/api/v1/forums",
    resource="forums",
    body=lambda unit_id, n: {
        "unit_id": unit_id,
        "kind": "village_forum",
        "held_on": f"2023-05-{10 + n:02d}",
        "title": "Diễn đàn chuyển đổi số thôn",
        "attendees": 40 + n,
        "questions_answered": 6,
        "topics": ["concepts", "shared_apps"],
    },
    dated=lambda day: {"held_on": day.isoformat()},
    text_field="title",
    change={"attendees": 55, "questions_answered": 9, "kind": "business_dialogue"},
    required=("unit_id", "kind", "held_on", "title", "attendees", "questions_answered"),
    number_field="attendees",
    date_field="held_on",
)


class TestForumContract(RecordContract):
    case = FORUMS


def test_forum_keeps_every_field_as_sent(world, ward):
    unit = village(world)
    body = {**FORUMS.body(unit, 0), "title": VIETNAMESE, "external_ref": "DD-05/2023"}
    r = ward.post("/api/v1/forums", json=body)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in body} == body


def test_forums_filter_by_kind(world, lead):
    unit = village(world)
    village_forum = FORUMS.create(lead, unit)
    dialogue = FORUMS.create(lead, unit, 1, kind="business_dialogue")
    assert item_ids(lead, "/api/v1/forums", unit_id=unit, kind="village_forum") == [village_forum["id"]]
    assert item_ids(lead, "/api/v1/forums", unit_id=unit, kind="business_dialogue") == [dialogue["id"]]
    r = lead.get("/api/v1/forums", params={"kind": "party"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "party"),
        ("attendees", -1),
        ("questions_answered", -3),
        ("attendees", 2**31),
        ("title", ""),
        ("title", "t" * 501),
        ("held_on", "10/05/2023"),
        ("topics", ["concepts"] * 9),
    ],
)
def test_forum_with_a_bad_value_is_422_naming_it(world, ward, field, value):
    r = ward.post("/api/v1/forums", json={**FORUMS.body(village(world), 0), field: value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:2] == ["body", field], r.text


def test_forum_missing_its_counts_is_422(world, ward):
    body = FORUMS.body(village(world), 0)
    del body["attendees"], body["questions_answered"]
    r = ward.post("/api/v1/forums", json=body)
    assert r.status_code == 422, r.text
    assert {e["loc"][-1] for e in r.json()["errors"]} == {"attendees", "questions_answered"}


def test_forum_held_on_a_day_counts_on_that_day(world, lead):
    unit = village(world)
    forum = FORUMS.create(lead, unit, **FORUMS.dated(date(2024, 2, 29)))
    found = item_ids(lead, "/api/v1/forums", unit_id=unit, **{"from": "2024-02-29", "to": "2024-02-29"})
    assert found == [forum["id"]]
