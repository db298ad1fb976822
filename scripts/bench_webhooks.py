#!/usr/bin/env python
"""Webhook delivery: 10,000 events to a local receiver, deliveries per second and commit-to-delivery time.

On a scratch PostgreSQL database (created here, dropped at the end) a real server process (`python -m app
serve`, --workers N) delivers to a small asyncio HTTP receiver in this process (keep-alive, answers 200 at
once, records when each webhook-id arrived). Two phases:
  (a) burst: --events outbox rows committed by this process in transactions of --batch through the app's own
      outbox function (app.webhooks.outbox.write): a backlog, as after a receiver's outage; the server's
      workers are not woken by another process's commit, so they find them by polling (DX_WEBHOOK_POLL_SECONDS).
      Deliveries/s = events / (last arrival - first commit); commit-to-delivery per event, median and p99.
  (b) one at a time: --requests `POST /api/v1/webhooks/{id}/test` from 4 client threads; each event wakes the
      worker that committed it. Commit-to-delivery = arrival - the event's `timestamp` (written just before
      the commit), median and p99.

  .venv/bin/python scripts/bench_webhooks.py [--events 10000] [--batch 100] [--requests 1000] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import free_port, scratch_database  # noqa: E402

ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"
SECRET = "bench-secret-key-that-is-long-enough"


RECEIVER_APP = """
import time, orjson
out = open(__import__("os").environ["BENCH_RECEIVER_LOG"], "a", buffering=1)

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    at = time.time()
    msg = dict(scope["headers"]).get(b"webhook-id", b"").decode()
    out.write(f"{msg} {at} {orjson.loads(body)['timestamp']}\\n")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
"""


class Receiver:
    """A uvicorn process (httptools, keep-alive) on 127.0.0.1 that logs each webhook-id's arrival time to a file."""

    def __init__(self, workdir: Path) -> None:
        import subprocess

        self.port = free_port()
        self.log = workdir / "arrivals.txt"
        (workdir / "bench_receiver_app.py").write_text(RECEIVER_APP)
        env = {**os.environ, "BENCH_RECEIVER_LOG": str(self.log), "PYTHONPATH": str(workdir)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench_receiver_app:app", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.arrived: dict[str, float] = {}
        self.stamps: dict[str, str] = {}
        self.duplicates = 0
        self._offset = 0

    def _read(self) -> None:
        if not self.log.exists():
            return
        with self.log.open() as f:
            f.seek(self._offset)
            for line in f:
                if not line.endswith("\n"):
                    break
                self._offset += len(line.encode())
                msg, at, stamp = line.split()
                if not msg:
                    continue
                if msg in self.arrived:
                    self.duplicates += 1
                else:
                    self.arrived[msg], self.stamps[msg] = float(at), stamp

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            if len(self.arrived) >= count:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(self.arrived)} of {count} events arrived within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"median {statistics.median(values) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def _burst(url: str, endpoint_id: int, events: int, batch: int) -> tuple[dict[str, float], float]:
    """Commit `events` outbox rows through the app's outbox, `batch` per transaction: webhook-id -> commit time."""
    from sqlalchemy import select

    from app.config import get_settings
    from app.db import make_engine
    from app.models import WebhookEndpoint
    from app.webhooks import outbox

    engine = make_engine(get_settings())
    committed: dict[str, float] = {}
    t = WebhookEndpoint.__table__
    async with engine.connect() as conn:
        endpoint = dict((await conn.execute(select(t).where(t.c.id == endpoint_id))).mappings().one())
    first = time.time()
    data = {"pad": "x" * 400}
    for start in range(0, events, batch):
        async with engine.begin() as conn:  # `batch` events for the endpoint, one executemany
            rows = await outbox.write(conn, "webhook.test", [endpoint] * min(batch, events - start), lambda _v: data)
        now = time.time()
        committed.update({r["msg_id"]: now for r in rows})
    await engine.dispose()
    return committed, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import subprocess
    import tempfile

    url, drop = scratch_database("dx_bench_webhooks")
    receiver = Receiver(Path(tempfile.mkdtemp(prefix="dx-bench-webhooks-")))
    port = free_port()
    env = {
        **os.environ,
        "DX_DATABASE_URL": url,
        "DX_SECRET_KEY": SECRET,
        "DX_ENVIRONMENT": "bench",
        "DX_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "DX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DX_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "DX_RATE_LIMIT_PER_MINUTE": "0",
    }
    os.environ.update(
        {k: env[k] for k in ("DX_DATABASE_URL", "DX_SECRET_KEY", "DX_ENVIRONMENT", "DX_WEBHOOK_ALLOW_HOSTS")}
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        me = httpx.get(f"{base}/api/v1/auth/me", headers=headers).json()
        body = {
            "url": f"http://127.0.0.1:{receiver.port}/hook",
            "events": ["annual_report.created"],
            "unit_id": me["unit_id"],
        }
        endpoint = httpx.post(f"{base}/api/v1/webhooks", json=body, headers=headers).json()

        # (a) burst
        committed, first = asyncio.run(_burst(url, endpoint["id"], args.events, args.batch))
        receiver.wait_for(args.events, timeout=600)
        last = max(receiver.arrived[m] for m in committed)
        latency = [receiver.arrived[m] - committed[m] for m in committed]
        print(f"burst: {args.events} events committed in {max(committed.values()) - first:.2f} s "
              f"({args.batch} per transaction), workers={args.workers}")  # fmt: skip
        print(f"  deliveries/s {args.events / (last - first):.0f}; commit-to-delivery {_ms(latency)}")

        # (b) one at a time, through the API
        before = set(receiver.arrived)
        ids: list[str] = []

        def fire(n: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                for _ in range(n):
                    ids.append(c.post(f"/api/v1/webhooks/{endpoint['id']}/test").json()["event_id"])

        threads = [threading.Thread(target=fire, args=(args.requests // 4,)) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        receiver.wait_for(len(before) + len(ids), timeout=300)
        latency = [receiver.arrived[m] - _epoch(receiver.stamps[m]) for m in ids]
        print(f"api: {len(ids)} POST /webhooks/{{id}}/test from 4 threads; commit-to-delivery {_ms(latency)}")
        print(f"duplicates received: {receiver.duplicates}")
    finally:
        receiver.stop()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        drop()


if __name__ == "__main__":
    main()
