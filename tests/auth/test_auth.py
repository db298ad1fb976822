"""Tokens: both grants, and every way a token can be wrong is a 401."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from jose import jwt

from app.auth.tokens import key_id
from app.config import get_settings

ME = "/api/v1/auth/me"


def _token(world, username="admin", password="admin-password-1"):
    return world.client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


def _claims(**over):
    s = get_settings()
    now = int(time.time())
    base = {
        "sub": "user:1",
        "role": "lead_office",
        "unit_id": 2,
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(claims, key=None, alg="HS256", headers=None):
    s = get_settings()
    return jwt.encode(claims, key or s.secret_key, algorithm=alg, headers=headers or {"kid": key_id(s.secret_key)})


def _me(world, token):
    return world.client.get(ME, headers={"Authorization": f"Bearer {token}"})


def test_password_grant_answers_a_bearer_token_that_me_accepts(world):
    r = _token(world)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == get_settings().access_token_minutes * 60
    me = _me(world, body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json() == {
        "kind": "user",
        "id": me.json()["id"],
        "name": "admin",
        "role": "lead_office",
        "unit_id": world.unit_id("P-VHTT"),
    }


@pytest.mark.parametrize("username,password", [("admin", "wrong-password"), ("nobody-here", "whatever-pass")])
def test_bad_credentials_are_401_with_the_same_message(world, username, password):
    r = _token(world, username, password)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] == "Unknown username or wrong password."


def test_unknown_grant_type_is_400_and_missing_fields_422(world):
    assert world.client.post("/api/v1/auth/token", data={"grant_type": "implicit"}).status_code == 400
    r = world.client.post("/api/v1/auth/token", data={"grant_type": "password", "username": "admin"})
    assert r.status_code == 422, r.text
    assert world.client.post("/api/v1/auth/token", data={}).status_code == 422


def test_client_credentials_grant_and_revocation_take_effect_at_once(world, lead):
    r = lead.post(
        "/api/v1/api-clients",
        json={"name": "Hệ thống phường An Mỹ", "role": "unit", "unit_id": world.unit_id("PH-ANMY")},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["client_secret"] and created["client_id"].startswith("dxc_")
    listed = lead.get(f"/api/v1/api-clients/{created['id']}").json()
    assert "client_secret" not in listed and "secret_hash" not in listed
    tok = world.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert tok.status_code == 200, tok.text
    token = tok.json()["access_token"]
    me = _me(world, token).json()
    assert me["kind"] == "client" and me["role"] == "unit" and me["name"] == "Hệ thống phường An Mỹ"
    bad = world.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": "wrong"},
    )
    assert bad.status_code == 401
    assert lead.delete(f"/api/v1/api-clients/{created['id']}").status_code == 204
    assert _me(world, token).status_code == 401
    again = world.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert again.status_code == 401


def test_disabled_user_is_refused_at_once(world, lead):
    api = world.user("viewer", "UBND-TK")
    assert api.get(ME).status_code == 200
    r = lead.patch(f"/api/v1/users/{api.principal['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False, r.text
    assert api.get(ME).status_code == 401
    assert _token(world, api.principal["username"], "secret-pass-1").status_code == 401


def test_role_and_unit_come_from_the_database_not_the_token(world, lead):
    api = world.user("viewer", "UBND-TK")
    claims = jwt.get_unverified_claims(api.token)
    forged = _sign({**claims, "role": "lead_office", "unit_id": world.unit_id("P-VHTT")})
    r = world.client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 403, r.text  # still a viewer


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


BAD_TOKENS = {
    "alg none": lambda: _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
    "wrong key": lambda: _sign(_claims(), key="another-secret-key-entirely-123"),
    "HS384 instead of HS256": lambda: _sign(_claims(), alg="HS384"),
    "RS256 header on an HMAC signature": lambda: (
        _b64({"alg": "RS256", "typ": "JWT"}) + "." + _b64(_claims()) + "." + _sign(_claims()).split(".")[2]
    ),
    "expired": lambda: _sign(_claims(exp=int(time.time()) - 5, iat=int(time.time()) - 100)),
    "not yet valid": lambda: _sign(_claims(nbf=int(time.time()) + 600)),
    "wrong audience": lambda: _sign(_claims(aud="someone-else")),
    "wrong issuer": lambda: _sign(_claims(iss="someone-else")),
    "unknown kid": lambda: _sign(_claims(), headers={"kid": "nope"}),
    "kid is a list": lambda: _sign(_claims(), headers={"kid": ["a"]}),
    "kid is an object": lambda: _sign(_claims(), headers={"kid": {"a": 1}}),
    "exp is a list": lambda: _sign(_claims(exp=[1])),
    "garbage": lambda: "not.a.jwt",
    "edited payload": lambda: (lambda t: t.split(".")[0] + "." + _b64(_claims(role="viewer")) + "." + t.split(".")[2])(
        _sign(_claims())
    ),
    "unknown principal": lambda: _sign(_claims(sub="user:999999")),
    "malformed subject": lambda: _sign(_claims(sub="robot:1")),
}
for claim in ("exp", "iat", "iss", "aud", "sub", "jti", "role", "unit_id"):
    BAD_TOKENS[f"missing {claim}"] = (lambda c: lambda: _sign({k: v for k, v in _claims().items() if k != c}))(claim)


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_bad_token_is_401(world, case):
    r = _me(world, BAD_TOKENS[case]())
    assert r.status_code == 401, f"{case}: {r.status_code} {r.text}"
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_good_hand_made_token_is_accepted_so_the_bad_ones_fail_for_their_reason(world):
    assert _me(world, _sign(_claims())).status_code == 200


def test_no_token_is_401_before_anything_else(world):
    r = world.client.post("/api/v1/units", json={"garbage": True})
    assert r.status_code == 401, r.text
    r = world.client.get("/api/v1/units/999999999")
    assert r.status_code == 401, r.text


def test_keys_rotate_by_kid_without_logging_anyone_out(world, monkeypatch):
    old = _token(world).json()["access_token"]
    settings = (
        world.client.app.state.settings
    )  # the running app's own (a scratch database may have made another current)
    monkeypatch.setattr(settings, "previous_secret_keys", [settings.secret_key])
    monkeypatch.setattr(settings, "secret_key", "a-brand-new-signing-key-for-2026")
    assert _me(world, old).status_code == 200  # signed with the previous key, still valid
    new = _token(world).json()["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == key_id("a-brand-new-signing-key-for-2026")
    assert _me(world, new).status_code == 200
    monkeypatch.setattr(settings, "previous_secret_keys", [])
    assert _me(world, old).status_code == 401  # retired key
