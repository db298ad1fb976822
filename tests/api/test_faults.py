"""Surviving database faults and process deaths, on PostgreSQL with real server processes."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import BACKEND, PG_ADMIN_URL, create_database
from tests.live import running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "postgresql", reason="fault injection needs PostgreSQL"),
]


@pytest.fixture()
def db():
    database = create_database("fault")
    yield database
    database.drop()


def _admin_sql(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _count(url: str, sql: str, **params) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql), params)
    engine.dispose()
    return int(value)


def _until_copying(url: str, seconds: float = 60) -> None:
    """Wait until the server's import is writing rows (a COPY into forums is running on its database)."""
    name = url.rsplit("/", 1)[1]
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + seconds
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND state = 'active' AND query LIKE 'COPY \"forums\"%'"
                if conn.scalar(text(sql), {"name": name}):
                    return
                time.sleep(0.005)
    finally:
        engine.dispose()
    raise AssertionError(f"the import wrote no rows within {seconds} s")


def _unit_id(client: httpx.Client, code: str) -> int:
    return client.get("/api/v1/units", params={"q": "", "limit": 500}).json()["items"][
        [u["code"] for u in client.get("/api/v1/units", params={"limit": 500}).json()["items"]].index(code)
    ]["id"]


def _forum(unit_id: int, ref: str) -> dict:
    return {
        "unit_id": unit_id,
        "external_ref": ref,
        "kind": "village_forum",
        "held_on": "2024-05-05",
        "title": "Diễn đàn",
        "attendees": 10,
        "questions_answered": 1,
    }


def test_database_outage_during_a_burst_fails_fast_and_recovers_without_a_restart(db):
    name = db.url.rsplit("/", 1)[1]
    with running(db.url) as srv:
        headers = {"Authorization": f"Bearer {srv.token()}"}
        with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
            unit = _unit_id(c, "PH-ANMY")
        results: list[tuple[str, int, float]] = []
        stop = time.monotonic() + 7

        def worker(n: int) -> None:
            with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
                for i in range(400):
                    if time.monotonic() > stop:
                        return
                    ref = f"burst-{n}-{i}"
                    began = time.monotonic()
                    r = c.post("/api/v1/forums", json=_forum(unit, ref))
                    results.append((ref, r.status_code, time.monotonic() - began))
                    time.sleep(0.01)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        _admin_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _admin_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        time.sleep(2.0)
        _admin_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        for t in threads:
            t.join()
        with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
            after = c.post("/api/v1/forums", json=_forum(unit, "after-outage"))
        server_log = srv.first_traceback()
    statuses = {s for _, s, _ in results}
    odd = sorted({(s, ref) for ref, s, _ in results if s not in (201, 503)})[:5]
    assert statuses <= {201, 503}, f"{odd}; the server logged:\n{server_log}"
    assert 503 in statuses and 201 in statuses
    assert max(d for _, s, d in results if s == 503) < 5.0, "a 503 must come fast, not after a long hang"
    assert after.status_code == 201, after.text
    created = [ref for ref, s, _ in results if s == 201]
    for ref in created:
        assert _count(db.url, "SELECT count(*) FROM forums WHERE external_ref = :r", r=ref) == 1, ref


def test_connections_the_database_dropped_while_idle_are_replaced_before_a_request_sees_them(db):
    """The pool checks a connection that sat idle (not one back from a request a moment ago): after a database
    restart or an idle timeout, the next requests are answered, not 503."""
    name = db.url.rsplit("/", 1)[1]
    with running(db.url, env={"DX_WEBHOOK_DELIVERY": "false"}) as srv:
        headers = {"Authorization": f"Bearer {srv.token()}"}
        with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
            assert c.get("/api/v1/forums").status_code == 200
            _admin_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            time.sleep(1.5)
            codes = [c.get("/api/v1/forums").status_code for _ in range(3)]
        server_log = srv.first_traceback()
    assert codes == [200, 200, 200], f"requests after the database dropped idle connections: {codes}\n{server_log}"


def test_a_query_past_the_statement_timeout_is_503_and_leaks_no_connection(db):
    with running(db.url, env={"DX_STATEMENT_TIMEOUT_MS": "300", "DX_DB_POOL_SIZE": "3"}) as srv:
        headers = {"Authorization": f"Bearer {srv.token()}"}
        locker = create_engine(db.url)
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE forums IN ACCESS EXCLUSIVE MODE"))  # held until this block ends
            answers: list[int] = []

            def call() -> None:
                with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
                    answers.append(c.get("/api/v1/forums").status_code)

            threads = [threading.Thread(target=call) for _ in range(12)]  # four times the pool
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            conn.rollback()
        locker.dispose()
        assert answers == [503] * 12, answers
        with httpx.Client(base_url=srv.base, headers=headers, timeout=30) as c:
            assert [c.get("/api/v1/forums").status_code for _ in range(20)] == [200] * 20


def _big_import(unit: int, tag: str, n: int = 50_000) -> bytes:
    return orjson.dumps({"rows": [_forum(unit, f"{tag}-{i}") for i in range(n)]})


def test_a_server_killed_during_an_import_writes_nothing_and_the_retry_writes_it_once(db):
    key = {"Idempotency-Key": f"import-{uuid.uuid4()}", "Content-Type": "application/json"}
    with running(db.url) as srv:
        token = srv.token()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=srv.base, headers=headers, timeout=120) as c:
            unit = _unit_id(c, "PH-ANMY")
        body = _big_import(unit, "killed")
        outcome: dict = {}

        def send() -> None:
            try:
                outcome["r"] = httpx.post(
                    f"{srv.base}/api/v1/imports/forums", content=body, headers={**headers, **key}, timeout=120
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        t = threading.Thread(target=send)
        t.start()
        _until_copying(db.url)  # a fixed sleep let a fast machine finish the import first
        srv.kill()
        t.join()
    assert "error" in outcome, f"the import finished before the kill: {outcome}"
    assert _count(db.url, "SELECT count(*) FROM forums WHERE external_ref LIKE 'killed-%'") == 0
    with running(db.url) as srv:
        retry = httpx.post(f"{srv.base}/api/v1/imports/forums", content=body, headers={**headers, **key}, timeout=120)
        assert retry.status_code == 200 and retry.json()["created"] == 50_000, retry.text[:300]
        again = httpx.post(f"{srv.base}/api/v1/imports/forums", content=body, headers={**headers, **key}, timeout=120)
        assert again.headers.get("idempotent-replayed") == "true" and again.json() == retry.json()
    assert _count(db.url, "SELECT count(*) FROM forums WHERE external_ref LIKE 'killed-%'") == 50_000


def test_sigterm_lets_requests_in_flight_finish_and_exits_within_its_grace_period(db):
    with running(db.url, args=["--grace", "20"]) as srv:
        headers = {"Authorization": f"Bearer {srv.token()}", "Content-Type": "application/json"}
        with httpx.Client(base_url=srv.base, headers=headers, timeout=120) as c:
            unit = _unit_id(c, "PH-ANMY")
        body = _big_import(unit, "sigterm", 30_000)
        outcome: dict = {}
        t = threading.Thread(
            target=lambda: outcome.setdefault(
                "r", httpx.post(f"{srv.base}/api/v1/imports/forums", content=body, headers=headers, timeout=120)
            )
        )
        t.start()
        _until_copying(db.url)  # the request is in flight when the signal comes
        began = time.monotonic()
        srv.terminate()
        t.join()
        code = srv.proc.wait(timeout=30)
        assert time.monotonic() - began < 25
    assert outcome["r"].status_code == 200 and outcome["r"].json()["created"] == 30_000, outcome["r"].text[:300]
    assert code in (0, -15)  # uvicorn re-raises the signal it handled once the requests are done
    assert _count(db.url, "SELECT count(*) FROM forums WHERE external_ref LIKE 'sigterm-%'") == 30_000


def test_two_workers_share_idempotency_rate_limits_and_audit(db):
    env = {"DX_RATE_LIMIT_PER_MINUTE": "40"}
    with running(db.url, env=env, args=["--workers", "2"]) as srv:
        admin = {"Authorization": f"Bearer {srv.token()}"}
        with httpx.Client(base_url=srv.base, headers=admin, timeout=30) as c:
            unit = _unit_id(c, "PH-ANMY")
            c.post(
                "/api/v1/users",
                json={"username": "w2-viewer", "password": "w2-password-1", "role": "viewer", "unit_id": unit},
            ).json()
        # the same key sent at once through both workers: one record, and the rest replay or wait (409)
        key = {"Idempotency-Key": "two-workers-1"}
        answers: list[httpx.Response] = []

        def post() -> None:
            with httpx.Client(base_url=srv.base, headers={**admin, **key}, timeout=30) as c:
                answers.append(c.post("/api/v1/forums", json=_forum(unit, "two-workers")))

        threads = [threading.Thread(target=post) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
        firsts = [a for a in answers if a.status_code == 201]
        assert firsts and len({a.json()["id"] for a in firsts}) == 1
        assert _count(db.url, "SELECT count(*) FROM forums WHERE external_ref = 'two-workers'") == 1
        assert _count(db.url, "SELECT count(*) FROM audit_events WHERE resource = 'forums' AND action = 'create'") == 1

        # one principal's requests counted across workers: 40 a minute in all (new connection each time)
        while 60 - time.time() % 60 < 20:  # keep the burst inside one minute window
            time.sleep(1)
        token = srv.token("w2-viewer", "w2-password-1")
        codes = [
            httpx.get(f"{srv.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
            for _ in range(50)
        ]
        assert codes.count(200) == 40 and codes.count(429) == 10, codes


def test_a_transaction_undone_for_a_concurrent_one_is_a_409_to_send_again_not_an_outage():
    """A deadlock or serialization failure (SQLSTATE class 40) is not the database being down: the client may
    send the request again at once (409 with Retry-After), where a 503 told it the database was unavailable."""
    import asyncio
    import json

    import psycopg
    from sqlalchemy.exc import OperationalError

    from app.errors import _db_error, is_unavailable

    for error in (psycopg.errors.DeadlockDetected("deadlock detected"), psycopg.errors.SerializationFailure("x")):
        exc = OperationalError("UPDATE month_tallies ...", {}, error)
        assert not is_unavailable(exc)
        answer = asyncio.run(_db_error(None, exc))
        body = json.loads(answer.body)
        assert (answer.status_code, answer.headers.get("retry-after")) == (409, "1"), body
        assert body["detail"] == "The change ran into a concurrent one and was undone; send it again."
    outage = OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection"))
    assert is_unavailable(outage) and asyncio.run(_db_error(None, outage)).status_code == 503
