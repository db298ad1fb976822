"""Rate limits shared by every worker: fixed-window counters in the database, or in Redis when configured.

Checked in middleware, before the request's own transaction begins (so a failed login is counted although its
request rolls back, and SQLite's single writer is never waited on by the request itself)."""

from __future__ import annotations

import math
import random
import time
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.middleware import Subject, read_body, replaying, send_problem
from app.models import RateLimitCounter

counters = RateLimitCounter.__table__
LOGIN_WINDOW = 15 * 60
REQUEST_WINDOW = 60
TOKEN_PATH = "/api/v1/auth/token"


class Store:
    """count(bucket) and hit(bucket) for the current fixed window of `window` seconds."""

    def __init__(self, engine_getter: Any, redis_url: str | None, namespace: str = "dx") -> None:
        self.engine_getter = engine_getter
        self.namespace = namespace
        self.redis = None
        if redis_url:
            import redis.asyncio as redis

            self.redis = redis.from_url(redis_url)

    @staticmethod
    def _window(window: int) -> tuple[int, int]:
        now = time.time()
        return int(now // window), max(1, math.ceil(window - now % window))

    async def count(self, bucket: str, window: int) -> tuple[int, int]:
        index, retry_after = self._window(window)
        if self.redis is not None:
            value = await self.redis.get(f"{self.namespace}:rl:{bucket}:{index}")
            return int(value or 0), retry_after
        async with self.engine_getter().connect() as conn:
            value = await conn.scalar(
                select(counters.c.count).where(counters.c.bucket == bucket, counters.c.window == index)
            )
        return int(value or 0), retry_after

    async def hit(self, bucket: str, window: int) -> tuple[int, int]:
        index, retry_after = self._window(window)
        if self.redis is not None:
            key = f"{self.namespace}:rl:{bucket}:{index}"
            async with self.redis.pipeline(transaction=True) as pipe:
                value, _ = await pipe.incr(key).expire(key, window * 2).execute()
            return int(value), retry_after
        engine = self.engine_getter()
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(counters).values(bucket=bucket[:200], window=index, count=1)
        stmt = stmt.on_conflict_do_update(index_elements=["bucket", "window"], set_={"count": counters.c.count + 1})
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # a counter need not survive a crash: do not wait for the WAL flush on every request
                await conn.execute(text("SET LOCAL synchronous_commit = off"))
            value = await conn.scalar(stmt.returning(counters.c.count))
            if random.random() < 0.01:  # forget old windows now and then
                await conn.execute(delete(counters).where(counters.c.window < index - 1, counters.c.bucket == bucket))
        return int(value), retry_after


async def _too_many(send: Send, retry_after: int, detail: str) -> None:
    await send_problem(send, 429, detail, [(b"retry-after", str(retry_after).encode())])


class RateLimit:
    def __init__(self, app: ASGIApp, settings: Settings, engine_getter: Any, subject: Subject) -> None:
        self.app = app
        self.settings = settings
        self.subject = subject
        self.store = Store(engine_getter, settings.redis_url, settings.redis_namespace)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TOKEN_PATH and scope["method"] == "POST":
            await self._login(scope, receive, send)
            return
        limit = self.settings.rate_limit_per_minute
        # the API is limited; health checks and metrics never are
        sub = self.subject(scope) if limit and scope["path"].startswith("/api/") else None
        if sub is not None:
            count, retry_after = await self.store.hit(f"req:{sub}", REQUEST_WINDOW)
            if count > limit:
                await _too_many(send, retry_after, f"More than {limit} requests a minute; slow down.")
                return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Failed logins are limited per username and per address; successful ones are not counted."""
        body = await read_body(receive)  # small: BodyLimit, outside this middleware, caps it
        if body is None:
            return
        try:
            form = parse_qs(body.decode("utf-8"))
        except UnicodeDecodeError:
            form = {}
        username = (form.get("username") or form.get("client_id") or [""])[0][:150]
        address = (scope.get("client") or ("unknown", 0))[0]
        buckets = []
        if username and self.settings.login_failures_per_username:
            buckets.append((f"login-user:{username.lower()}", self.settings.login_failures_per_username))
        if self.settings.login_failures_per_address:
            buckets.append((f"login-addr:{address}", self.settings.login_failures_per_address))
        for bucket, limit in buckets:
            count, retry_after = await self.store.count(bucket, LOGIN_WINDOW)
            if count >= limit:
                await _too_many(send, retry_after, "Too many failed logins; try again later.")
                return

        replay = replaying(body, receive)
        status = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, replay, capture)
        if status["code"] == 401:
            for bucket, _ in buckets:
                await self.store.hit(bucket, LOGIN_WINDOW)
