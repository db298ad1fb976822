import pytest

from tests.record_contract import RecordCase, RecordContract, item_ids, village

SURVEYS = RecordCase(
    path="/api/v1/satisfaction-surveys",
    resource="satisfaction-surveys",
    body=lambda unit_id, n: {
        "unit_id": unit_id,
        "month": f"2023-{5 + n:02d}",
        "source": "one_stop",
        "respondents": 120,
        "satisfied": 101,
    },
    dated=lambda day: {"month": day.strftime("%Y-%m")},
    text_field="external_ref",  # the only free text a survey has
    change={"respondents": 150, "satisfied": 150, "source": "hotline"},
    required=("unit_id", "month", "source", "respondents", "satisfied"),
    number_field="respondents",
)


class TestSatisfactionSurveyContract(RecordContract):
    case = SURVEYS


def test_more_satisfied_than_respondents_is_422_naming_satisfied(world, ward):
    unit = village(world)
    r = ward.post(SURVEYS.path, json={**SURVEYS.body(unit, 0), "respondents": 10, "satisfied": 11})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": ["body", "satisfied"], "msg": "satisfied (11) exceeds respondents (10)."}]
    survey = SURVEYS.create(ward, unit, respondents=10, satisfied=10)
    url = f"{SURVEYS.path}/{survey['id']}"
    for change in ({"respondents": 9}, {"satisfied": 11}):
        r = ward.patch(url, json=change)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "satisfied"], r.text
    r = ward.patch(url, json={"respondents": 0, "satisfied": 0})
    assert r.status_code == 200 and r.json()["respondents"] == 0, r.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("month", "2023-13"),
        ("month", "2023-5"),
        ("month", "2023-05-01"),
        ("month", "٢٠٢٣-05"),
        ("source", "facebook"),
        ("respondents", -1),
        ("satisfied", -1),
        ("satisfied", 10**30),
        ("respondents", 1.5),
    ],
)
def test_survey_with_a_bad_value_is_422_naming_it(world, ward, field, value):
    r = ward.post(SURVEYS.path, json={**SURVEYS.body(village(world), 0), field: value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:2] == ["body", field], r.text


def test_surveys_filter_by_month_and_year(world, lead):
    unit = village(world)
    dec = SURVEYS.create(lead, unit, month="2022-12")
    jan = SURVEYS.create(lead, unit, month="2023-01", source="hotline")
    dec23 = SURVEYS.create(lead, unit, month="2023-12", source="survey")

    def listed(**params):
        return item_ids(lead, SURVEYS.path, unit_id=unit, **params)

    assert listed(year=2023) == [jan["id"], dec23["id"]]
    assert listed(year=2022) == [dec["id"]]
    assert listed(month="2023-01") == [jan["id"]]
    assert listed(month="2023-02") == []
    assert lead.get(SURVEYS.path, params={"month": "2023-1"}).status_code == 422


def test_a_survey_is_dated_on_its_months_first_day(world, lead):
    unit = village(world)
    may = SURVEYS.create(lead, unit, month="2023-05")

    def listed(**params):
        return item_ids(lead, SURVEYS.path, unit_id=unit, **params)

    assert listed(**{"from": "2023-05-01"}) == [may["id"]]
    assert listed(**{"from": "2023-05-02"}) == []
    assert listed(to="2023-05-01") == [may["id"]]
    assert listed(to="2023-04-30") == []
    assert listed(**{"from": "2023-04-15", "to": "2023-05-15"}) == [may["id"]]


def test_a_from_past_the_last_month_the_calendar_holds_lists_no_survey(world, lead):
    """`from=9999-12-31` asks for months starting in year 10000: none (it used to list every survey)."""
    unit = village(world)
    SURVEYS.create(lead, unit, month="2023-05")
    assert item_ids(lead, SURVEYS.path, unit_id=unit, **{"from": "9999-12-31"}) == []
    assert item_ids(lead, SURVEYS.path, unit_id=unit, **{"from": "9999-12-01"}) == []
