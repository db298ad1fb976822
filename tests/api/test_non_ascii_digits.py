"""Digits of other scripts ("٢٥", "²") are text, never numbers: not as ids or periods."""

from __future__ import annotations


def test_a_budget_round_period_in_other_digits_is_422(lead):
    r = lead.post(
        "/api/v1/budget-rounds",
        json={"title": "Đợt kinh phí", "period": "٢٠٢١-H2", "deadline": "2021-09-30T23:59:59+07:00"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "period"], r.text


def test_a_record_id_in_other_digits_is_422(lead):
    assert lead.get("/api/v1/forums/٢٥").status_code == 422
