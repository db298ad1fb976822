"""Delivery of the outbox, inside the service: one background task per worker.

Safe with several workers and hosts. On PostgreSQL a worker claims due events with `FOR UPDATE SKIP LOCKED`
and leases them (pushes `next_attempt_at` past the delivery timeout) in one short transaction, then delivers
without holding a lock; a worker that dies mid-delivery leaves a lease that runs out, and another worker
tries again (at least once). On SQLite (one host) one process delivers: the one holding a lock file next to
the database; the others stand by and take over when it exits.

Each attempt is signed per Standard Webhooks (the `standardwebhooks` library), re-checks the URL against the
SSRF rules, connects to the address it checked, reads at most a short excerpt of the answer, and is logged.
Failures are retried with exponential backoff until `retry_until` (24 h); a 410 Gone disables the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from app.common import audit
from app.config import Settings
from app.db import dicts, utcnow
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.timeutil import LOCAL_TZ
from app.webhooks import outbox, ssrf

log = logging.getLogger("app.webhooks")
endpoints = WebhookEndpoint.__table__
events = WebhookEvent.__table__
deliveries = WebhookDelivery.__table__

EXCERPT_BYTES = 200
USER_AGENT = "tamky-dx-webhooks/1"
BATCH = 100


@dataclass
class Outcome:
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def backoff(settings: Settings, attempt: int) -> timedelta:
    """Exponential: base, 2 base, 4 base... capped, with a little jitter so that retries do not march in step."""
    seconds = min(settings.webhook_retry_base_seconds * 2 ** (attempt - 1), settings.webhook_retry_max_seconds)
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def sign(secret: str, msg_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (the timestamp is the attempt's)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
    }


async def post(client: httpx.AsyncClient, settings: Settings, row: dict[str, Any]) -> Outcome:
    """One attempt: vet the URL, POST the signed payload to the vetted address, keep an excerpt of a failure."""
    try:
        target = await ssrf.resolve(row["url"], settings.webhook_allow_hosts)
    except ssrf.UnsafeUrl as exc:
        return Outcome(error=f"refused: {exc}")
    headers = {
        **sign(row["secret"], row["msg_id"], utcnow(), row["payload"]),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            async with client.stream(
                "POST", target.connect_url, content=row["payload"].encode(), headers=headers, extensions=extensions
            ) as response:
                outcome = Outcome(status_code=response.status_code)
                if not outcome.ok:
                    excerpt = b""
                    async for chunk in response.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT_BYTES:
                            break
                    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace").strip()
                    outcome.error = f"HTTP {response.status_code}" + (f": {text}" if text else "")
                return outcome
    except TimeoutError:
        return Outcome(error=f"timed out after {settings.webhook_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return Outcome(error=f"{exc.__class__.__name__}: {exc}"[:500] or exc.__class__.__name__)


class SqliteLeader:
    """The one delivering process on SQLite: whoever holds an exclusive lock on a file next to the database."""

    def __init__(self, settings: Settings) -> None:
        path = settings.sync_url.split("///", 1)[-1]
        self.path = None if not path or path == ":memory:" else f"{path}.webhooks.lock"
        self.fd: int | None = None

    def held(self) -> bool:
        if self.path is None or self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file releases the lock
            self.fd = None


class Deliverer:
    """The background task of one worker (started and stopped by the app's lifespan)."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.leader = SqliteLeader(settings) if settings.is_sqlite else None
        self.wakeup = asyncio.Event()
        self.stopping = False
        self.task: asyncio.Task | None = None
        self.client: httpx.AsyncClient | None = None
        self.next_duty_check = 0.0
        self.lease = timedelta(seconds=settings.webhook_timeout_seconds + 30)

    async def start(self) -> None:
        # trust_env=False: no proxy from the environment may stand between the check and the connection
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=self.settings.webhook_timeout_seconds,
            limits=httpx.Limits(max_connections=self.settings.webhook_concurrency * 2),
        )
        outbox.add_waker(self.wakeup.set)
        self.task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        """Let the batch in flight finish (bounded by the delivery timeout), then stop."""
        self.stopping = True
        self.wakeup.set()
        outbox.remove_waker(self.wakeup.set)
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, timeout=self.settings.webhook_timeout_seconds + 2)
            except (TimeoutError, asyncio.CancelledError):
                self.task.cancel()
                with contextlib.suppress(BaseException):
                    await self.task
        if self.client is not None:
            await self.client.aclose()
        if self.leader is not None:
            self.leader.release()

    async def _run(self) -> None:
        while not self.stopping:
            busy = False
            try:
                if self.leader is None or self.leader.held():
                    await self._produce_duty_events()
                    busy = await self.deliver_due() > 0
            except Exception:  # the database may be down for a while: log, wait, go on
                log.exception("webhook delivery round failed")
            if not busy and not self.stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=self.settings.webhook_poll_seconds)
                self.wakeup.clear()

    async def _produce_duty_events(self) -> None:
        source = outbox.duty_source()
        loop = asyncio.get_running_loop()
        if source is None or loop.time() < self.next_duty_check:
            return
        self.next_duty_check = loop.time() + self.settings.webhook_duty_check_minutes * 60
        today: date = utcnow().astimezone(LOCAL_TZ).date()
        async with self.engine.begin() as conn:
            await outbox.produce_obligation_events(conn, await source(conn, today), today=today)

    async def claim(self) -> list[dict[str, Any]]:
        """Due events of active endpoints, leased to this worker (skipping those another worker holds)."""
        now = utcnow()
        q = (
            select(
                events.c.id,
                events.c.msg_id,
                events.c.type,
                events.c.payload,
                events.c.attempts,
                events.c.retry_until,
                events.c.endpoint_id,
                endpoints.c.url,
                endpoints.c.secret,
            )
            .join(endpoints, endpoints.c.id == events.c.endpoint_id)
            .where(events.c.state == "pending", events.c.next_attempt_at <= now, endpoints.c.active.is_(True))
            .order_by(events.c.next_attempt_at, events.c.id)
            .limit(BATCH)
        )
        if self.engine.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=events)
        async with self.engine.begin() as conn:
            rows = dicts(await conn.execute(q))
            if rows:
                await conn.execute(
                    update(events)
                    .where(events.c.id.in_([r["id"] for r in rows]))
                    .values(next_attempt_at=now + self.lease)
                )
        return rows

    async def deliver_due(self) -> int:
        """One round: claim, deliver concurrently, log every attempt. Returns how many were attempted."""
        rows = await self.claim()
        if not rows:
            return 0
        assert self.client is not None
        limit = asyncio.Semaphore(self.settings.webhook_concurrency)

        async def one(row: dict[str, Any]) -> Outcome:
            async with limit:
                return await post(self.client, self.settings, row)

        outcomes = await asyncio.gather(*(one(r) for r in rows))
        await self.record(rows, outcomes)
        return len(rows)

    async def record(self, rows: list[dict[str, Any]], outcomes: list[Outcome]) -> None:
        """Every outcome of a round in one transaction: the events' new states (one executemany) and the log."""
        now = utcnow()
        changes, log_rows = [], []
        async with self.engine.begin() as conn:
            for row, outcome in zip(rows, outcomes, strict=True):
                attempt = row["attempts"] + 1
                state, next_at, delivered_at = "failed", None, None
                if outcome.ok:
                    state, delivered_at = "delivered", now
                elif outcome.gone:
                    await self._disable(conn, row["endpoint_id"], now)
                else:
                    retry_at = now + backoff(self.settings, attempt)
                    if retry_at <= row["retry_until"]:
                        state, next_at = "pending", retry_at
                changes.append(
                    {"row_id": row["id"], "n": attempt, "st": state, "next": next_at, "done_at": delivered_at}
                )
                log_rows.append(
                    {
                        "endpoint_id": row["endpoint_id"],
                        "event_row_id": row["id"],
                        "event_id": row["msg_id"],
                        "type": row["type"],
                        "attempt": attempt,
                        "at": now,
                        "status_code": outcome.status_code,
                        "error": outcome.error[:1000] if outcome.error else None,
                        "next_attempt_at": next_at,
                    }
                )
            await conn.execute(
                update(events)
                .where(events.c.id == bindparam("row_id"))
                .values(
                    attempts=bindparam("n"),
                    state=bindparam("st"),
                    next_attempt_at=bindparam("next"),
                    delivered_at=bindparam("done_at"),
                ),
                changes,
            )
            await conn.execute(insert(deliveries), log_rows)

    async def _disable(self, conn, endpoint_id: int, now: datetime) -> None:
        """410 Gone: the receiver says the endpoint is no more; stop sending (an audit row says why)."""
        before = (await conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id))).mappings().first()
        if before is None or not before["active"]:
            return
        reason = "The receiver answered 410 Gone."
        await conn.execute(
            update(endpoints)
            .where(endpoints.c.id == endpoint_id)
            .values(active=False, disabled_reason=reason, updated_at=now, version=before["version"] + 1)
        )
        await audit.record(
            conn,
            None,
            action="disable",
            resource="webhooks",
            resource_id=endpoint_id,
            before={"active": True},
            after={"active": False, "disabled_reason": reason},
        )
