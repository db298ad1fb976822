def test_units_list_shows_seeded_city(world, lead):
    r = lead.get("/api/v1/units", params={"q": "tan thanh"})
    assert r.status_code == 200, r.text
    assert [u["code"] for u in r.json()["items"]] == ["PH-TANTHANH"]


def test_activity_create_update_and_report(world, lead, ward):
    ids = [world.unit_id("PH-ANMY"), world.unit_id("PH-ANPHU")]
    r = lead.post(
        "/api/v1/activities", json={"code": "ZZ1", "title": "Thử", "frequency": "yearly", "lead_unit_ids": ids}
    )
    assert r.status_code == 201, r.text
    act = r.json()
    assert act["lead_unit_ids"] == sorted(ids)
    r = lead.patch(
        f"/api/v1/activities/{act['id']}",
        json={"coordinating_unit_ids": [ids[0]]},
        headers={"If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["coordinating_unit_ids"] == [ids[0]]
    r = ward.post(
        f"/api/v1/activities/{act['id']}/reports", json={"unit_id": ward.unit_id, "period": "2022", "output_count": 3}
    )
    assert r.status_code == 201, r.text
    r = ward.post(f"/api/v1/activities/{act['id']}/reports", json={"unit_id": ids[0], "period": "2022"})
    assert r.status_code == 403, r.text
    r = ward.get(f"/api/v1/activities/{act['id']}/reports")
    assert r.json()["total"] == 1
    r = ward.get(f"/api/v1/activities/{act['id']}/reports", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.content.decode("utf-8-sig").startswith("id,"), r.text
