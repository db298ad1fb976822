"""A CSV export waits on its client holding no pool connection and no lock (issue 12): while 20 clients hold
exports they never read, everyone else is served."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import httpx
import orjson
import pytest

from tests.conftest import create_database
from tests.live import running

pytestmark = pytest.mark.slow

ROWS = 40_000  # about 10 MB of CSV: far more than the sockets between server and client can buffer


def _forum(unit_id: int, i: int) -> dict:
    return {
        "unit_id": unit_id,
        "external_ref": f"slow-csv-{i}",
        "kind": "village_forum",
        "held_on": "2024-05-05",
        "title": f"Diễn đàn chuyển đổi số thôn {i} — hỏi đáp về dịch vụ công trực tuyến và thanh toán không dùng tiền mặt",
        "attendees": 10,
        "questions_answered": 1,
    }


def _stalled_export(port: int, token: str) -> socket.socket:
    """A client that asks for the forums as CSV and then never reads a byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET /api/v1/forums HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/csv\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


def test_twenty_stalled_csv_exports_leave_the_service_answering():
    db = create_database("slowcsv")
    try:
        with running(db.url) as srv, ExitStack() as stack:
            token = srv.token()
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=srv.base, headers=auth, timeout=300) as c:
                unit = next(u["id"] for u in c.get("/api/v1/units", params={"limit": 500}).json()["items"])
                rows = [_forum(unit, i) for i in range(ROWS)]
                r = c.post("/api/v1/imports/forums", content=orjson.dumps({"rows": rows}))
                assert r.status_code == 200, r.text[:300]
            for _ in range(20):
                stack.callback(_stalled_export(srv.port, token).close)
            time.sleep(3)  # every export has started, filled its socket and is waiting on its client
            with httpx.Client(base_url=srv.base, headers=auth, timeout=20) as other:
                for what, call in (
                    ("a list", lambda: other.get("/api/v1/units", params={"limit": 5})),
                    ("/readyz", lambda: other.get("/readyz")),
                    ("a write", lambda: other.post("/api/v1/forums", json=_forum(unit, ROWS + 1))),
                ):
                    try:
                        answer = call()
                    except httpx.TimeoutException:
                        pytest.fail(f"{what} got no answer within 20 s while 20 CSV exports were stalled")
                    assert answer.status_code in (200, 201), f"{what}: {answer.status_code} {answer.text[:200]}"
    finally:
        db.drop()
