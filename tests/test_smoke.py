def test_units_list_shows_seeded_city(world, lead):
    r = lead.get("/api/v1/units", params={"q": "tan thanh"})
    assert r.status_code == 200, r.text
    assert [u["code"] for u in r.json()["items"]] == ["PH-TANTHANH"]
