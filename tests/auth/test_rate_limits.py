"""Failed logins per username and per address, and requests per principal: 429 with Retry-After, counted
where every worker sees them (the database, or Redis)."""

from __future__ import annotations

import socket
import uuid

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.main import create_app
from tests.conftest import ADMIN, world_on_new_database


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


STORES = [
    "database",
    pytest.param("redis", marks=pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")),
]


@pytest.fixture(scope="module")
def base_world():
    with world_on_new_database("rl") as w:
        yield w


@pytest.fixture(params=STORES)
def limited(request, base_world):
    settings = get_settings().model_copy(
        update={
            "login_failures_per_username": 3,
            "login_failures_per_address": 6,
            "rate_limit_per_minute": 15,
            "redis_url": "redis://127.0.0.1:6379/0" if request.param == "redis" else None,
            "redis_namespace": f"dx-test-{uuid.uuid4().hex}",
        }
    )
    with TestClient(
        create_app(settings), raise_server_exceptions=False, client=(f"10.9.{uuid.uuid4().int % 250}.1", 5000)
    ) as client:
        yield client, base_world


def _login(client, username, password):
    return client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


def test_failed_logins_lock_that_username_with_429_and_retry_after(limited):
    client, world = limited
    api = world.user("viewer", "UBND-TK")
    name = api.principal["username"]
    for _ in range(3):
        assert _login(client, name, "wrong-password").status_code == 401
    r = _login(client, name, "secret-pass-1")
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
    assert r.headers["content-type"] == "application/problem+json"


def test_successful_logins_are_not_counted(limited):
    client, world = limited
    for _ in range(8):
        assert _login(client, *ADMIN).status_code == 200


def test_failed_logins_are_limited_per_address_across_usernames(limited):
    client, _ = limited
    codes = [_login(client, f"nobody-{i}", "x-password").status_code for i in range(8)]
    assert codes[:6] == [401] * 6 and codes[6:] == [429, 429], codes


def test_requests_per_principal_are_limited_and_others_are_not(limited):
    client, world = limited
    a, b = world.user("viewer", "UBND-TK"), world.user("viewer", "UBND-TK")
    codes = [
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {a.token}"}).status_code for _ in range(17)
    ]
    assert codes[:15] == [200] * 15 and codes[15:] == [429, 429], codes
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {a.token}"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 60
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {b.token}"}).status_code == 200
