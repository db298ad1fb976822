"""Failed logins per username and per address, and requests per principal: 429 with Retry-After, counted
where every worker sees them (the database, or Redis)."""

from __future__ import annotations

import itertools
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.main import create_app
from tests.conftest import ADMIN, create_database, world_on_new_database
from tests.live import running


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


# each test logs in from an address of its own: a random one could be shared, and its failures added up
ADDRESSES = itertools.count(1)


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
        create_app(settings), raise_server_exceptions=False, client=(f"10.9.{next(ADDRESSES)}.1", 5000)
    ) as client:
        yield client, base_world


def _login(client, username, password, **kw):
    return client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}, **kw
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
    _inside_one_minute_window()
    a, b = world.user("viewer", "UBND-TK"), world.user("viewer", "UBND-TK")
    codes = [
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {a.token}"}).status_code for _ in range(17)
    ]
    assert codes[:15] == [200] * 15 and codes[15:] == [429, 429], codes
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {a.token}"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 60
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {b.token}"}).status_code == 200


def _inside_one_minute_window() -> None:
    """Wait out the end of a minute: a burst counted across two windows would pass more than the limit."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_parallel_requests_of_one_principal_pass_exactly_the_limit(limited):
    """Hits arriving together are added in one statement; each must still get its own count."""
    client, world = limited
    api = world.user("viewer", "UBND-TK")
    headers = {"Authorization": f"Bearer {api.token}"}
    _inside_one_minute_window()
    with ThreadPoolExecutor(20) as pool:
        codes = sorted(pool.map(lambda _: client.get("/api/v1/auth/me", headers=headers).status_code, range(40)))
    assert codes == [200] * 15 + [429] * 25, f"40 parallel requests against a limit of 15 a minute: {codes}"


def _form(client, fields: list[tuple[str, str]], **kw):
    """A token request with exactly these fields, in order (repeats kept), form-encoded."""
    return client.post(
        "/api/v1/auth/token",
        content=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **kw.pop("headers", {})},
        **kw,
    )


def test_a_repeated_token_parameter_is_a_400_and_checks_no_password(limited):
    client, world = limited
    victim = world.user("viewer", "UBND-TK").principal["username"]
    for field in ("username", "password", "grant_type"):
        fields = [("grant_type", "password"), ("username", "decoy"), ("username", victim), ("password", "guess-1")]
        if field != "username":
            fields.append((field, fields[0][1] if field == "grant_type" else "guess-2"))
            fields = [f for f in fields if f != ("username", "decoy")]
        r = _form(client, fields)
        assert r.status_code == 400, f"repeated {field}: {r.status_code} {r.text}"
        assert field in r.json()["detail"]
    for _ in range(3):  # none of those was counted against the victim: three failures still fit
        assert _login(client, victim, "wrong-password").status_code == 401
    assert _login(client, victim, "secret-pass-1").status_code == 429


def test_multipart_logins_are_counted_like_form_encoded_ones(limited):
    client, world = limited
    name = world.user("viewer", "UBND-TK").principal["username"]
    multipart = {"grant_type": (None, "password"), "username": (None, name), "password": (None, "wrong-password")}
    for _ in range(3):
        assert client.post("/api/v1/auth/token", files=multipart).status_code == 401
    r = _login(client, name, "secret-pass-1")
    assert r.status_code == 429, f"three failed multipart logins were not counted: {r.status_code}"


def test_client_credentials_are_limited_per_client_id(limited):
    client, world = limited
    made = world.admin.post("/api/v1/api-clients", json={"name": "ward sync", "role": "unit", "unit_id": 2}).json()
    other = world.admin.post("/api/v1/api-clients", json={"name": "other", "role": "unit", "unit_id": 2}).json()

    def grant(who, secret):
        data = {"grant_type": "client_credentials", "client_id": who["client_id"], "client_secret": secret}
        return client.post("/api/v1/auth/token", data=data)

    assert [grant(made, "wrong-secret").status_code for _ in range(3)] == [401] * 3
    r = grant(made, made["client_secret"])
    assert r.status_code == 429, f"the client's failures were not counted against its client_id: {r.text}"
    assert grant(other, other["client_secret"]).status_code == 200  # another client is not locked with it


def test_parallel_wrong_passwords_pass_no_more_than_the_limit(limited):
    client, world = limited
    name = world.user("viewer", "UBND-TK").principal["username"]
    with ThreadPoolExecutor(25) as pool:
        codes = sorted(pool.map(lambda _: _login(client, name, "wrong-password").status_code, range(25)))
    assert codes == [401] * 3 + [429] * 22, f"25 parallel guesses against a limit of 3: {codes}"


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(limited):
    client, _ = limited
    codes = [
        _login(client, f"nobody-{i}", "x-password", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(8)
    ]
    assert codes == [401] * 6 + [429] * 2, f"a client chose the address its failures count against: {codes}"


def test_a_trusted_proxy_names_the_client_address(base_world):
    settings = get_settings().model_copy(
        update={"login_failures_per_username": 0, "login_failures_per_address": 2, "trusted_proxies": ["10.8.0.0/16"]}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False, client=("10.8.3.4", 5000)) as proxy:
        for client_address in ("198.51.100.7", "198.51.100.8"):
            # the hop to the left is the client's own claim; the rightmost untrusted hop is who called the proxy
            forwarded = {"X-Forwarded-For": f"1.2.3.4, {client_address}"}
            codes = [_login(proxy, "nobody", "x-password", headers=forwarded).status_code for _ in range(3)]
            assert codes == [401, 401, 429], f"{client_address}: {codes}"


@pytest.mark.slow
def test_the_real_server_trusts_no_x_forwarded_for_by_default():
    """uvicorn, left to itself, believes X-Forwarded-For from 127.0.0.1: a local client could pick its address."""
    db = create_database("xff")
    try:
        with running(db.url, env={"DX_LOGIN_FAILURES_PER_ADDRESS": "3", "DX_LOGIN_FAILURES_PER_USERNAME": "0"}) as srv:
            codes = [
                httpx.post(
                    f"{srv.base}/api/v1/auth/token",
                    data={"grant_type": "password", "username": f"nobody-{i}", "password": "x-password"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                ).status_code
                for i in range(5)
            ]
        assert codes == [401] * 3 + [429] * 2, f"failures counted against forged addresses: {codes}"
    finally:
        db.drop()
