"""Users and API clients: the lead office alone manages them; secrets never come back."""

from __future__ import annotations

import time

import pytest

from tests.conftest import token_for, world_on_new_database


def test_only_the_lead_office_manages_users_and_clients(world, roles):
    unit_id = world.unit_id("PH-ANMY")
    for role, api in roles.items():
        allowed = role == "lead_office"
        expected = {True: (201, 200), False: (403, 403)}[allowed]
        r = api.post(
            "/api/v1/users",
            json={"username": f"u-{role}-x", "password": "long-enough-1", "role": "viewer", "unit_id": unit_id},
        )
        assert r.status_code == expected[0], f"{role}: {r.text}"
        assert api.get("/api/v1/users").status_code == expected[1], role
        assert api.get("/api/v1/api-clients").status_code == expected[1], role
        r = api.post("/api/v1/api-clients", json={"name": f"c-{role}", "role": "unit", "unit_id": unit_id})
        assert r.status_code == expected[0], f"{role}: {r.text}"
    first_user = roles["lead_office"].get("/api/v1/users").json()["items"][0]
    for role, api in roles.items():
        if role != "lead_office":
            assert api.patch(f"/api/v1/users/{first_user['id']}", json={"active": False}).status_code == 403
            assert api.get(f"/api/v1/users/{first_user['id']}").status_code == 403
            assert api.delete("/api/v1/api-clients/1").status_code == 403


def test_user_answers_never_carry_the_password_or_its_hash(world, lead):
    r = lead.post(
        "/api/v1/users",
        json={
            "username": "cb.tanthanh",
            "password": "mật-khẩu-dài-1",
            "role": "unit",
            "unit_id": world.unit_id("PH-TANTHANH"),
            "full_name": "Nguyễn Thị Hồng",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert "password" not in body and "password_hash" not in body
    assert body["full_name"] == "Nguyễn Thị Hồng" and body["active"] is True
    tok = world.client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "cb.tanthanh", "password": "mật-khẩu-dài-1"}
    )
    assert tok.status_code == 200, tok.text
    audit = lead.get("/api/v1/audit-events", params={"resource": "users", "resource_id": body["id"]}).json()["items"]
    assert audit and "mật-khẩu" not in str(audit) and "argon2" not in str(audit)


def test_password_change_takes_effect(world, lead):
    api = world.user("viewer", "UBND-TK")
    r = lead.patch(f"/api/v1/users/{api.principal['id']}", json={"password": "a-new-password-2"})
    assert r.status_code == 200, r.text

    def login(pw):
        return world.client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": api.principal["username"], "password": pw}
        )

    assert login("secret-pass-1").status_code == 401
    assert login("a-new-password-2").status_code == 200


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"username": "ab", "password": "long-enough-1", "role": "viewer", "unit_id": 1}, 422, "username"),
        ({"username": "short-pw", "password": "short", "role": "viewer", "unit_id": 1}, 422, "password"),
        ({"username": "bad-role", "password": "long-enough-1", "role": "superuser", "unit_id": 1}, 422, "role"),
        ({"username": "no-unit", "password": "long-enough-1", "role": "viewer", "unit_id": 987654321}, 422, "unit_id"),
        ({"username": "admin", "password": "long-enough-1", "role": "viewer", "unit_id": 1}, 409, None),
        (
            {
                "username": "extra",
                "password": "long-enough-1",
                "role": "viewer",
                "unit_id": 1,
                "active": False,
                "id": 5,
            },
            422,
            "id",
        ),
    ],
)
def test_bad_user_bodies(world, lead, body, status, field):
    r = lead.post("/api/v1/users", json=body)
    assert r.status_code == status, r.text
    if field:
        assert field in [e["loc"][-1] for e in r.json()["errors"]], r.text


def test_revoking_an_unknown_client_is_404_and_lists_show_revoked(world, lead):
    assert lead.delete("/api/v1/api-clients/987654321").status_code == 404
    c = lead.post(
        "/api/v1/api-clients", json={"name": "Cổng dịch vụ công", "role": "viewer", "unit_id": world.unit_id("VP-UBND")}
    ).json()
    lead.delete(f"/api/v1/api-clients/{c['id']}")
    revoked = lead.get("/api/v1/api-clients", params={"active": "false", "limit": 500}).json()["items"]
    assert c["id"] in [x["id"] for x in revoked]
    events = lead.get("/api/v1/audit-events", params={"resource": "api-clients", "resource_id": c["id"]}).json()[
        "items"
    ]
    assert [e["action"] for e in events] == ["create", "revoke"]
    assert "secret" not in str(events[0]["after"]).lower() or "client_secret" not in events[0]["after"]


def test_a_new_password_ends_the_tokens_issued_before_it(world, lead):
    body = {"username": f"pw-{world.unit_id('PH-ANMY')}-{time.time_ns()}", "password": "first-pass-1"}
    r = lead.post("/api/v1/users", json={**body, "role": "unit", "unit_id": world.unit_id("PH-ANMY")})
    assert r.status_code == 201, r.text
    old = token_for(world.client, body["username"], "first-pass-1")
    me = {"Authorization": f"Bearer {old}"}
    assert world.client.get("/api/v1/auth/me", headers=me).status_code == 200
    time.sleep(1.1)  # a token's iat counts whole seconds
    changed = lead.patch(f"/api/v1/users/{r.json()['id']}", json={"password": "second-pass-2"})
    assert changed.status_code == 200, changed.text
    after = world.client.get("/api/v1/auth/me", headers=me)
    assert after.status_code == 401, f"a token from before the password change still works: {after.text}"
    new = token_for(world.client, body["username"], "second-pass-2")
    assert world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    # other changes (the name) leave the tokens alone
    assert lead.patch(f"/api/v1/users/{r.json()['id']}", json={"full_name": "Trần Văn B"}).status_code == 200
    assert world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_the_last_active_lead_office_user_cannot_be_disabled_or_demoted():
    with world_on_new_database("last-lead") as world:
        admin = world.admin
        me = admin.get("/api/v1/auth/me").json()
        for change in ({"active": False}, {"role": "viewer"}, {"role": "unit", "active": False}):
            r = admin.patch(f"/api/v1/users/{me['id']}", json=change)
            assert r.status_code == 409, f"{change}: the city's last lead office user was changed: {r.text}"
        second = world.user("lead_office", "P-VHTT")
        assert admin.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"}).status_code == 200
        second_id = second.get("/api/v1/auth/me").json()["id"]
        r = second.patch(f"/api/v1/users/{second_id}", json={"active": False})
        assert r.status_code == 409, r.text
        assert second.patch(f"/api/v1/users/{second_id}", json={"full_name": "Lãnh đạo"}).status_code == 200
