"""Idempotency-Key (issue 12): no secret is ever written to the idempotency table, a replay authenticates its
caller first, replays keep ETag and Location, and keys' locks cost the pool nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from app.config import get_settings
from tests.conftest import ADMIN

FORUMS = "/api/v1/forums"


def _stored_bodies() -> list[bytes]:
    engine = create_engine(get_settings().sync_url)
    with engine.connect() as conn:
        bodies = [bytes(r[0]) for r in conn.execute(text("SELECT body FROM idempotency_keys")) if r[0] is not None]
    engine.dispose()
    return bodies


def _forum(world, ref: str) -> dict:
    return {
        "unit_id": world.unit_id("PH-TANTHANH"),
        "external_ref": ref,
        "kind": "village_forum",
        "held_on": "2024-05-05",
        "title": "Diễn đàn thôn",
        "attendees": 12,
        "questions_answered": 3,
    }


def test_a_client_secret_is_never_stored_and_a_retry_makes_no_second_client(world, lead):
    key = {"Idempotency-Key": f"client-{uuid.uuid4()}"}
    name = f"Hệ thống phường {uuid.uuid4().hex[:6]}"
    body = {"name": name, "role": "unit", "unit_id": world.unit_id("PH-TANTHANH")}
    first = lead.post("/api/v1/api-clients", json=body, headers=key)
    assert first.status_code == 201, first.text
    secret = first.json()["client_secret"]
    assert not [b for b in _stored_bodies() if secret.encode() in b], "the client secret was kept in the database"
    assert first.headers.get("cache-control") == "no-store"
    retry = lead.post("/api/v1/api-clients", json=body, headers=key)
    assert retry.status_code == 409, f"a retry of a secret-bearing answer: {retry.status_code} {retry.text}"
    assert secret not in retry.text
    made = lead.get("/api/v1/api-clients", params={"limit": 500}).json()["items"]
    assert [c["name"] for c in made].count(name) == 1


def test_a_token_answer_is_never_stored(world, lead):
    key = {"Idempotency-Key": f"token-{uuid.uuid4()}"}
    data = {"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
    r = lead.post("/api/v1/auth/token", data=data, headers=key)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert not [b for b in _stored_bodies() if token.encode() in b], "a bearer token was kept in the database"
    assert r.headers.get("cache-control") == "no-store"


def test_a_replay_authenticates_its_caller_first(world):
    clerk = world.user("unit", "PH-TANTHANH")
    key = {"Idempotency-Key": f"disabled-{uuid.uuid4()}"}
    body = _forum(world, f"disabled-{uuid.uuid4().hex[:8]}")
    assert clerk.post(FORUMS, json=body, headers=key).status_code == 201
    assert world.admin.patch(f"/api/v1/users/{clerk.principal['id']}", json={"active": False}).status_code == 200
    replay = clerk.post(FORUMS, json=body, headers=key)
    assert replay.status_code == 401, f"a disabled caller was served a replay: {replay.status_code} {replay.text}"
    assert "idempotent-replayed" not in replay.headers


def test_a_replay_keeps_the_first_answers_etag_and_location(world, lead):
    key = {"Idempotency-Key": f"etag-{uuid.uuid4()}"}
    body = _forum(world, f"etag-{uuid.uuid4().hex[:8]}")
    first = lead.post(FORUMS, json=body, headers=key)
    assert first.status_code == 201, first.text
    replay = lead.post(FORUMS, json=body, headers=key)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers.get("etag") == first.headers["etag"], "the replay lost its ETag"
    assert replay.headers.get("location") == first.headers["location"], "the replay lost its Location"


def test_thirty_concurrent_keyed_imports_on_the_default_pool_all_succeed(world, lead):
    """Each key's lock once took a pooled connection of its own for the whole request: 30 at once drained the
    pool (then 10 + 10 overflow, now 20 kept) and answered 503."""
    assert get_settings().db_pool_size == 20
    run = uuid.uuid4().hex[:8]

    def keyed_import(i: int):
        rows = {"rows": [_forum(world, f"pool-{run}-{i}")]}
        return lead.post("/api/v1/imports/forums", json=rows, headers={"Idempotency-Key": f"pool-{run}-{i}"})

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(keyed_import, range(30)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 30, (
        f"30 keyed imports at once: {codes} {[a.text[:120] for a in answers if a.status_code != 200][:2]}"
    )


def test_a_key_binds_the_same_hash_whether_the_body_came_in_one_piece_or_many():
    """The body is hashed as it arrives: the hash must stay the one stored keys were made with (path, query,
    content type and body, each closed by a NUL), or a retry across an upgrade reads as another request."""
    import hashlib

    from app.middleware import _request_digest

    scope = {
        "path": "/api/v1/imports/forums",
        "query_string": b"dry_run=false",
        "headers": [(b"content-type", b"text/csv")],
    }
    body = "unit_code,title\nPH-ANMY,Diễn đàn\n".encode() * 1000
    digest = _request_digest(scope)
    for i in range(0, len(body), 4096):
        digest.update(body[i : i + 4096])
    digest.update(b"\x00")
    whole = hashlib.sha256(b"/api/v1/imports/forums\x00dry_run=false\x00text/csv\x00" + body + b"\x00")
    assert digest.hexdigest() == whole.hexdigest()
