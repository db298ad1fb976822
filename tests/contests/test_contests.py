import pytest

from tests.record_contract import (
    audit_actions,
    check_bad_inputs_are_422,
    check_etag_round_trip,
    create,
    csv_rows,
    hostile_values,
    item_ids,
    ok,
    problem,
)

PATH = "/api/v1/contests"


def contest_body(unit_id: int, **extra) -> dict:
    return {
        "unit_id": unit_id,
        "title": "Cuộc thi trực tuyến “Tìm hiểu về chuyển đổi số” năm 2022",
        "audience": "students",
        "starts_on": "2022-05-01",
        "ends_on": "2022-05-31",
        **extra,
    }


def entry_body(unit_id: int, ref: str, score: float = 8, at: str = "2022-05-10T09:00:00+07:00", **extra) -> dict:
    return {
        "unit_id": unit_id,
        "participant_ref": ref,
        "participant_name": f"Nguyễn Thị Hồng Nhung {ref}",
        "score": score,
        "submitted_at": at,
        **extra,
    }


@pytest.fixture(scope="module")
def schools(world):
    """A school under the organising ward (Tân Thạnh), one under An Mỹ, one under An Phú."""
    return {code: world.new_unit("school", code) for code in ("PH-TANTHANH", "PH-ANMY", "PH-ANPHU")}


@pytest.fixture(scope="module")
def third_ward(world):
    return world.user("unit", "PH-ANPHU")


@pytest.fixture
def contest(ward):
    return create(ward, PATH, contest_body(ward.unit_id))


def entries_path(contest: dict) -> str:
    return f"{PATH}/{contest['id']}/entries"


def add_entries(api, contest: dict, rows: list[tuple[int, str, float, str]]) -> list[dict]:
    return [create(api, entries_path(contest), entry_body(u, ref, score, at)) for u, ref, score, at in rows]


def test_every_principal_reads_contests_and_only_the_organisers_side_writes_them(
    world, ward, other_ward, lead, finance, viewer, anonymous, contest
):
    url = f"{PATH}/{contest['id']}"
    for reader in (ward, other_ward, lead, finance, viewer):
        assert ok(reader.get(url)) == contest
        assert contest["id"] in item_ids(reader, PATH, unit_id=ward.unit_id)
    problem(anonymous.get(url), 401)
    for outsider in (other_ward, finance, viewer):
        problem(outsider.patch(url, json={"title": "x"}), 403)
        problem(outsider.delete(url), 403)
    problem(other_ward.post(PATH, json=contest_body(ward.unit_id)), 403)
    problem(ward.patch(url, json={"unit_id": other_ward.unit_id}), 403)
    problem(finance.post(PATH, json=contest_body(finance.unit_id)), 403)
    check_etag_round_trip(ward, url, {"title": "Cuộc thi “Tuổi trẻ với chuyển đổi số”", "ends_on": "2022-06-30"})
    moved = ok(lead.patch(url, json={"unit_id": world.unit_id("TD-TK"), "audience": "youth"}))
    assert moved["unit_id"] == world.unit_id("TD-TK")
    problem(ward.patch(url, json={"title": "y"}), 403)
    assert ok(ward.get(url))["unit_id"] == world.unit_id("TD-TK")
    r = lead.delete(url)
    assert r.status_code == 204, r.text
    problem(ward.get(url), 404)
    assert audit_actions(lead, "contests", contest["id"]) == ["create", "update", "update", "delete"]


def test_contest_dates_and_fields_are_checked(ward, contest):
    problem(ward.post(PATH, json=contest_body(ward.unit_id, ends_on="2022-04-30")), 422, ["body", "ends_on"])
    problem(ward.patch(f"{PATH}/{contest['id']}", json={"starts_on": "2022-06-01"}), 422, ["body", "ends_on"])
    cases = hostile_values("title", "unit_id", "starts_on") | {"unknown audience": ("audience", "adults")}
    check_bad_inputs_are_422(ward, PATH, contest_body(ward.unit_id), cases)


def test_contests_filter_by_organiser_audience_and_start_date(world, lead):
    unit = world.new_unit("association", "UBND-TK")
    a = create(lead, PATH, contest_body(unit["id"], starts_on="2023-03-01", ends_on="2023-03-31"))["id"]
    b = create(lead, PATH, contest_body(unit["id"], audience="youth", starts_on="2023-04-01", ends_on="2023-04-30"))[
        "id"
    ]
    assert item_ids(lead, PATH, unit_id=unit["id"]) == [a, b]
    assert item_ids(lead, PATH, unit_id=unit["id"], audience="youth") == [b]
    assert item_ids(lead, PATH, unit_id=unit["id"], to="2023-03-01") == [a]
    assert item_ids(lead, PATH, unit_id=unit["id"], **{"from": "2023-04-01"}) == [b]


def test_organiser_records_entries_from_schools_of_any_ward(ward, lead, contest, schools):
    path = entries_path(contest)
    sent = entry_body(schools["PH-ANMY"]["id"], "HS-001", 9.25, "2022-05-10T08:15:00+07:00", external_ref="x-1")
    entry = create(ward, path, sent)
    url = f"{path}/{entry['id']}"
    assert entry["contest_id"] == contest["id"]
    assert entry["submitted_at"] == "2022-05-10T01:15:00Z"
    assert entry["participant_name"] == sent["participant_name"] and entry["score"] == 9.25
    assert ok(ward.get(url)) == entry
    check_etag_round_trip(ward, url, {"score": 9.5, "participant_name": "Trần Văn Đức"})
    by_lead = create(lead, path, entry_body(schools["PH-TANTHANH"]["id"], "HS-002"))
    r = ward.delete(f"{path}/{by_lead['id']}")
    assert r.status_code == 204, r.text
    problem(ward.get(f"{path}/{by_lead['id']}"), 404)
    assert audit_actions(lead, "contest-entries", entry["id"]) == ["create", "update"]
    assert audit_actions(lead, "contest-entries", by_lead["id"]) == ["create", "delete"]


def test_entries_are_read_by_the_organisers_side_the_city_and_the_entrants_own_ward(
    ward, other_ward, third_ward, lead, finance, viewer, contest, schools
):
    path = entries_path(contest)
    mine, theirs = add_entries(
        ward,
        contest,
        [
            (schools["PH-TANTHANH"]["id"], "A-1", 7, "2022-05-10T09:00:00+07:00"),
            (schools["PH-ANMY"]["id"], "B-1", 8, "2022-05-10T09:00:00+07:00"),
        ],
    )
    both = [mine["id"], theirs["id"]]
    for reader in (ward, lead, finance, viewer):
        assert item_ids(reader, path) == both
    assert item_ids(other_ward, path) == [theirs["id"]]
    assert ok(other_ward.get(f"{path}/{theirs['id']}"))["participant_ref"] == "B-1"
    problem(other_ward.get(f"{path}/{mine['id']}"), 404)
    assert item_ids(third_ward, path) == []
    # reading is not writing: the entrant's ward may not change the organiser's records
    problem(other_ward.patch(f"{path}/{theirs['id']}", json={"score": 10}), 403)
    problem(other_ward.delete(f"{path}/{theirs['id']}"), 403)
    problem(other_ward.patch(f"{path}/{mine['id']}", json={"score": 10}), 404)
    problem(other_ward.post(path, json=entry_body(schools["PH-ANMY"]["id"], "B-2")), 403)
    for reader in (finance, viewer):
        problem(reader.post(path, json=entry_body(schools["PH-ANMY"]["id"], "F-1")), 403)
        problem(reader.patch(f"{path}/{mine['id']}", json={"score": 10}), 403)
    assert ok(ward.get(f"{path}/{theirs['id']}"))["score"] == 8


def test_entry_rules_unit_active_reference_unique_per_contest(world, ward, contest, schools):
    path = entries_path(contest)
    school = schools["PH-TANTHANH"]["id"]
    create(ward, path, entry_body(school, "DUP"))
    problem(ward.post(path, json=entry_body(school, "DUP", 5)), 409)
    other = create(ward, PATH, contest_body(ward.unit_id))
    create(ward, entries_path(other), entry_body(school, "DUP"))
    closed = world.new_unit("school", "P-GDDT", dissolved_on="2021-06-30")
    problem(ward.post(path, json=entry_body(closed["id"], "OLD")), 422, ["body", "unit_id"])
    problem(ward.post(path, json=entry_body(10**12, "NONE")), 422, ["body", "unit_id"])
    problem(ward.post(path, json=entry_body(school, "NAIVE", at="2022-05-10T09:00:00")), 422, ["body", "submitted_at"])
    raw = (
        b'{"unit_id": %d, "participant_ref": "N", "participant_name": "N", "score": NaN, '
        b'"submitted_at": "2022-05-10T09:00:00Z"}' % school
    )
    problem(ward.post(path, content=raw, headers={"Content-Type": "application/json"}), 422)
    cases = hostile_values("participant_name", "score", "submitted_at") | {"contest_id": ("contest_id", 1)}
    check_bad_inputs_are_422(ward, path, entry_body(school, "BAD"), cases)


def test_entries_of_another_or_missing_contest_are_404(ward, contest, schools):
    entry = create(ward, entries_path(contest), entry_body(schools["PH-TANTHANH"]["id"], "E-1"))
    other = create(ward, PATH, contest_body(ward.unit_id))
    problem(ward.get(f"{entries_path(other)}/{entry['id']}"), 404)
    problem(ward.patch(f"{entries_path(other)}/{entry['id']}", json={"score": 1}), 404)
    missing = {"id": 10**12}
    problem(ward.get(entries_path(missing)), 404)
    problem(ward.post(entries_path(missing), json=entry_body(ward.unit_id, "M")), 404)
    problem(ward.get(f"{PATH}/{10**12}/results"), 404)


def test_a_contest_with_entries_cannot_be_deleted(ward, contest, schools):
    path = entries_path(contest)
    entry = create(ward, path, entry_body(schools["PH-TANTHANH"]["id"], "K-1"))
    problem(ward.delete(f"{PATH}/{contest['id']}"), 409)
    assert ward.delete(f"{path}/{entry['id']}").status_code == 204
    assert ward.delete(f"{PATH}/{contest['id']}").status_code == 204


def test_entries_filter_on_the_local_date_of_submission_and_export_as_csv(ward, contest, schools):
    path = entries_path(contest)
    late, early = add_entries(
        ward,
        contest,
        [
            (schools["PH-TANTHANH"]["id"], "L-1", 6, "2022-05-01T20:00:00+00:00"),  # 2 May, 03:00 in Tam Kỳ
            (schools["PH-ANMY"]["id"], "L-2", 6, "2022-05-01T16:00:00+00:00"),  # 1 May, 23:00 in Tam Kỳ
        ],
    )
    assert item_ids(ward, path, **{"from": "2022-05-02"}) == [late["id"]]
    assert item_ids(ward, path, to="2022-05-01") == [early["id"]]
    assert item_ids(ward, path, unit_id=schools["PH-ANMY"]["id"]) == [early["id"]]
    rows = csv_rows(ward, path)
    assert [(r["participant_ref"], r["submitted_at"]) for r in rows] == [
        ("L-1", "2022-05-02T03:00:00+07:00"),  # instants in local time, with their offset
        ("L-2", "2022-05-01T23:00:00+07:00"),
    ]


def test_results_rank_higher_scores_first_then_earlier_submissions(
    ward, other_ward, third_ward, finance, contest, schools
):
    a, b = schools["PH-TANTHANH"]["id"], schools["PH-ANMY"]["id"]
    add_entries(
        ward,
        contest,
        [
            (a, "A-late", 9.5, "2022-05-20T10:00:00+07:00"),
            (b, "B-early", 9.5, "2022-05-20T09:59:59+07:00"),
            (a, "A-low", 8, "2022-05-02T08:00:00+07:00"),
            (b, "B-low", 7.25, "2022-05-03T08:00:00+07:00"),
            (a, "A-tie", 8, "2022-05-02T01:00:00Z"),  # the same instant as A-low: the earlier record wins
            (b, "B-mid", 7.5, "2022-05-04T08:00:00+07:00"),
        ],
    )
    results = ok(ward.get(f"{PATH}/{contest['id']}/results"))
    assert results["entries"] == 6
    assert results["by_unit"] == [
        {"unit_id": a, "entries": 3, "mean_score": 8.5},
        {"unit_id": b, "entries": 3, "mean_score": 8.083333},
    ]
    assert [(r["rank"], r["participant_ref"], r["score"]) for r in results["ranking"]] == [
        (1, "B-early", 9.5),
        (2, "A-late", 9.5),
        (3, "A-low", 8),
        (4, "A-tie", 8),
        (5, "B-mid", 7.5),
        (6, "B-low", 7.25),
    ]
    assert results["ranking"][0] == {
        "rank": 1,
        "participant_ref": "B-early",
        "participant_name": "Nguyễn Thị Hồng Nhung B-early",
        "unit_id": b,
        "score": 9.5,
    }
    assert ok(finance.get(f"{PATH}/{contest['id']}/results")) == results
    top = ok(ward.get(f"{PATH}/{contest['id']}/results", params={"top": 2}))
    assert [r["participant_ref"] for r in top["ranking"]] == ["B-early", "A-late"] and top["entries"] == 6
    # a unit sees the results over the entries it may read: those of its own schools
    theirs = ok(other_ward.get(f"{PATH}/{contest['id']}/results"))
    assert theirs["entries"] == 3
    assert theirs["by_unit"] == [{"unit_id": b, "entries": 3, "mean_score": 8.083333}]
    assert [r["participant_ref"] for r in theirs["ranking"]] == ["B-early", "B-mid", "B-low"]
    assert ok(third_ward.get(f"{PATH}/{contest['id']}/results")) == {"entries": 0, "by_unit": [], "ranking": []}
    problem(ward.get(f"{PATH}/{contest['id']}/results", params={"top": 0}), 422)


def test_results_schema_is_documented(world):
    spec = world.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/contests/{id}/results"]["get"]
    assert op["operationId"] == "get_contest_results"
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][ref]["properties"]) == {"entries", "by_unit", "ranking"}
    assert {"404", "403", "401"} <= set(op["responses"])
    assert "{entry_id}" in "".join(spec["paths"])
