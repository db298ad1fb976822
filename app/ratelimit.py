"""Rate limits shared by every worker: fixed-window counters in the database, or in Redis when configured.

Every count is written on a connection of the counters' own pool (PostgreSQL: autocommit, no WAL-flush wait),
committed at once (so a failed login is counted although its request answers 401, and no request's own
transaction ever waits on it)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.errors import AppError, Unauthorized
from app.middleware import Subject, send_problem
from app.models import RateLimitCounter

counters = RateLimitCounter.__table__
LOGIN_WINDOW = 15 * 60
REQUEST_WINDOW = 60
T = TypeVar("T")


@dataclass(frozen=True)
class Hit:
    """One counted hit: the bucket's count after it, and the window it fell in (to take it back)."""

    bucket: str
    window: int
    index: int
    count: int
    retry_after: int


def _bucket(name: str) -> str:
    """A bucket's key, at most 200 characters: a long name is kept by its digest, so two names never share."""
    return name if len(name) <= 120 else name[:80] + ":" + hashlib.sha256(name.encode()).hexdigest()[:40]


class Store:
    """hit(bucket) and take_back(hit) on the current fixed window of `window` seconds; each is one atomic
    statement (an upsert returning the new count, or Redis INCR/DECR), so parallel requests cannot both pass."""

    def __init__(self, engine_getter: Any, redis_url: str | None, namespace: str = "dx") -> None:
        self.engine_getter = engine_getter
        self.namespace = namespace
        self.redis = None
        self._queued: dict[tuple[str, int], list[asyncio.Future[int]]] = {}
        self._flushing: set[tuple[str, int]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        if redis_url:
            import redis.asyncio as redis

            self.redis = redis.from_url(redis_url)

    @staticmethod
    def _window(window: int) -> tuple[int, int]:
        now = time.time()
        return int(now // window), max(1, math.ceil(window - now % window))

    def _key(self, bucket: str, index: int) -> str:
        return f"{self.namespace}:rl:{bucket}:{index}"

    async def hit(self, bucket: str, window: int) -> Hit:
        bucket = _bucket(bucket)
        index, retry_after = self._window(window)
        if self.redis is not None:
            key = self._key(bucket, index)
            async with self.redis.pipeline(transaction=True) as pipe:
                value, _ = await pipe.incr(key).expire(key, window * 2).execute()
            return Hit(bucket, window, index, int(value), retry_after)
        # hits of one bucket that arrive while its last statement is on the wire wait for the next one, which
        # adds them all at once (count + k) and hands each its own count: as exact as one statement a hit (the
        # database adds atomically, so workers still share one count), at one round trip per burst
        key = (bucket, index)
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append(waiter)
        if key not in self._flushing:
            self._flushing.add(key)
            task = asyncio.create_task(self._flush(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return Hit(bucket, window, index, await asyncio.shield(waiter), retry_after)

    async def _flush(self, key: tuple[str, int]) -> None:
        """Count the queued hits of one bucket, one statement per batch, until none are left. A failed
        statement fails its batch's hits (their requests answer as any database error does)."""
        waiters: list[asyncio.Future[int]] | None = None
        try:
            while waiters := self._queued.pop(key, None):
                try:
                    total = await self._add(key[0], key[1], len(waiters))
                except Exception as error:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(error)
                    continue
                first = total - len(waiters)
                for n, waiter in enumerate(waiters, start=1):
                    if not waiter.done():
                        waiter.set_result(first + n)
        finally:
            self._flushing.discard(key)
            for waiter in waiters or ():  # cancelled mid-statement (shutdown): no hit waits forever
                if not waiter.done():
                    waiter.cancel()

    async def _add(self, bucket: str, index: int, k: int) -> int:
        """Add k hits to a bucket's window in one statement; the new count. A connection found dropped is
        replaced once (a counter's statement is safe to repeat only when it never reached the database)."""
        engine = self.engine_getter()
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(counters).values(bucket=bucket, window=index, count=k)
        stmt = stmt.on_conflict_do_update(index_elements=["bucket", "window"], set_={"count": counters.c.count + k})
        stmt = stmt.returning(counters.c.count)
        for attempt in (1, 2):
            try:
                async with engine.begin() as conn:
                    value = await conn.scalar(stmt)
                    if random.random() < 0.01:  # forget old windows now and then
                        await conn.execute(
                            delete(counters).where(counters.c.window < index - 1, counters.c.bucket == bucket)
                        )
                return int(value)
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    async def take_back(self, hit: Hit) -> None:
        """Un-count a hit (a login that succeeded), in the window it was counted in."""
        if self.redis is not None:
            await self.redis.decr(self._key(hit.bucket, hit.index))
            return
        async with self.engine_getter().begin() as conn:
            await conn.execute(
                update(counters)
                .where(counters.c.bucket == hit.bucket, counters.c.window == hit.index, counters.c.count > 0)
                .values(count=counters.c.count - 1)
            )


async def _too_many(send: Send, retry_after: int, detail: str) -> None:
    await send_problem(send, 429, detail, [(b"retry-after", str(retry_after).encode())])


class LoginLimit:
    """Failed logins per principal name (a username, or a client_id) and per address (API.md section 1).

    Called by the token endpoint with the very name it checks, after the form has been read once. Each attempt
    is counted before the secret is checked (atomically, so 25 parallel guesses against a limit of 10 give 10
    checks and 15 refusals) and taken back when it succeeds or when nothing was checked."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def guard(self, kind: str, name: str, address: str, check: Callable[[], Awaitable[T]]) -> T:
        limits = []
        if self.settings.login_failures_per_username:
            limits.append((f"login-{kind}:{name}", self.settings.login_failures_per_username))
        if self.settings.login_failures_per_address:
            limits.append((f"login-addr:{address}", self.settings.login_failures_per_address))
        hits = []
        for bucket, limit in limits:
            hit = await self.store.hit(bucket, LOGIN_WINDOW)
            hits.append(hit)
            if hit.count > limit:
                raise AppError(
                    "Too many failed logins; try again later.",
                    status=429,
                    headers={"Retry-After": str(hit.retry_after)},
                )
        try:
            result = await check()
        except Unauthorized:
            raise  # a failed login: it stays counted
        except BaseException:
            await self._take_back(hits)
            raise
        await self._take_back(hits)
        return result

    async def _take_back(self, hits: list[Hit]) -> None:
        for hit in hits:
            await self.store.take_back(hit)


class RateLimit:
    """Requests per principal a minute (the API only; health checks and metrics never are)."""

    def __init__(self, app: ASGIApp, settings: Settings, store: Store, subject: Subject) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.subject = subject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.settings.rate_limit_per_minute
        if scope["type"] == "http" and limit and scope["path"].startswith("/api/"):
            sub = self.subject(scope)
            if sub is not None:
                hit = await self.store.hit(f"req:{sub}", REQUEST_WINDOW)
                if hit.count > limit:
                    await _too_many(send, hit.retry_after, f"More than {limit} requests a minute; slow down.")
                    return
        await self.app(scope, receive, send)
