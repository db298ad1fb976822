#!/usr/bin/env python
"""Webhook delivery: 10,000 events to a local receiver, deliveries per second and commit-to-delivery time.

On a scratch PostgreSQL database (created here, dropped at the end) a real server process (`python -m app
serve`, --workers N) delivers to a small asyncio HTTP receiver in this process (keep-alive, answers 200 at
once, records when each webhook-id arrived). Two phases:
  (a) burst: --events outbox rows committed by this process in transactions of --batch through the app's own
      outbox function (app.webhooks.outbox.write), as a busy day's transitions would; the server's workers
      are not woken by another process's commit, so they find them by polling (DX_WEBHOOK_POLL_SECONDS).
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
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import free_port, scratch_database  # noqa: E402

ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"
SECRET = "bench-secret-key-that-is-long-enough"


class Receiver:
    """HTTP/1.1 with keep-alive on 127.0.0.1, in a thread of its own: arrival time of each webhook-id."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.stamps: dict[str, str] = {}
        self.duplicates = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=512))
        self.ready.set()
        self.loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line)
                headers = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                now = time.time()
                msg = headers["webhook-id"]
                if msg in self.arrived:
                    self.duplicates += 1
                else:
                    self.arrived[msg] = now
                    self.stamps[msg] = orjson.loads(body)["timestamp"]
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrived) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(self.arrived)} of {count} events arrived within {timeout:.0f} s")
            time.sleep(0.01)


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
    for start in range(0, events, batch):
        async with engine.begin() as conn:
            rows = []
            for n in range(start, min(events, start + batch)):
                rows += await outbox.write(conn, "webhook.test", [endpoint], lambda _v, n=n: {"n": n, "pad": "x" * 400})
        now = time.time()
        committed.update({r["msg_id"]: now for r in rows})
    await engine.dispose()
    return committed, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import subprocess

    url, drop = scratch_database("dx_bench_webhooks")
    receiver = Receiver()
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
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        drop()


if __name__ == "__main__":
    main()
