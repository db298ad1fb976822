"""Pure ASGI middleware: request id and security headers, body size limit, idempotency, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from ipaddress import ip_address, ip_network
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.context import request_id_var
from app.config import Settings
from app.db import utcnow
from app.errors import is_unavailable, problem
from app.i18n import language_var, negotiate
from app.models import IdempotencyKey

REQUESTS = Counter("dx_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("dx_http_request_seconds", "HTTP request latency", ["method", "route"])
idempotency_keys = IdempotencyKey.__table__
log = logging.getLogger("app")

# Who a request is, for keying counters and stored answers: the token's `sub`, or None without a valid token.
# Given by the app factory (the auth package's one decoder), since this module sits below auth.
Subject = Callable[[Scope], str | None]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _request_digest(scope: Scope) -> Any:
    """What an idempotency key is bound to: the path, the query, the content type, then the body (fed to the
    digest as it arrives, by read_body, and closed by a last NUL)."""
    digest = hashlib.sha256()
    for part in (
        scope["path"].encode(),
        scope.get("query_string", b""),
        (_header(scope, b"content-type") or "").encode(),
    ):
        digest.update(part)
        digest.update(b"\x00")
    return digest


async def read_body(receive: Receive, digest: Any = None) -> bytes | None:
    """The whole request body, or None when the client went away first. A `digest` is fed each chunk as it
    arrives, while the loop would otherwise wait for the next (13.7 MB hashed at once held it 12 ms)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if digest is not None:
            digest.update(chunk)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def replaying(body: list[bytes], receive: Receive) -> Receive:
    """A receive that hands the app a body a middleware has already read (in a list, which it empties: the
    app alone keeps the bytes then, and may let them go), then defers to the real one."""

    async def replay() -> Message:
        if body:
            return {"type": "http.request", "body": body.pop(), "more_body": False}
        return await receive()

    return replay


async def send_problem(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    response = problem(status, detail)
    headers = [(k.encode(), v.encode()) for k, v in response.headers.items()] + (extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class RequestContext:
    """X-Request-ID in and out, nosniff, metrics by route template, NUL bytes in the URL refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        rid = incoming if incoming and len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        language = language_var.set(negotiate(_header(scope, b"accept-language")))
        began = time.perf_counter()
        status_holder = {"status": 500}
        started = {"value": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["value"] = True
                status_holder["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        try:
            raw = scope.get("raw_path") or scope["path"].encode()
            if b"%00" in raw or b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
                await send_problem(send_wrapper, 422, "NUL bytes are not allowed in the URL.")
                return
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # answered here rather than by Starlette's outermost handler, so the 500 carries our headers too;
            # a database that is down or busy (seen by a middleware, outside the handlers) is a 503
            unavailable = is_unavailable(exc)
            if unavailable:
                log.warning("database unavailable: %s", exc.__class__.__name__)
            else:
                log.exception("unhandled error")
            status = 503 if unavailable else 500
            status_holder["status"] = status
            if not started["value"]:
                detail = (
                    "The database is unavailable; try again shortly."
                    if unavailable
                    else "An unexpected error occurred."
                )
                extra = [(b"retry-after", b"1")] if unavailable else None
                await send_problem(send_wrapper, status, detail, extra)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], template, str(status_holder["status"])).inc()
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - began)
            request_id_var.reset(token)
            language_var.reset(language)


class TrustedProxies:
    """The client's address (and scheme) as a listed proxy forwarded them; from anyone else, the peer's own.

    The address is the rightmost X-Forwarded-For hop that is not itself a trusted proxy: hops to its left were
    written by the client and prove nothing. With no proxies configured (the default) the header is ignored."""

    def __init__(self, app: ASGIApp, proxies: list[str]) -> None:
        self.app = app
        self.networks = [ip_network(p, strict=False) for p in proxies]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and self.networks and client and self._trusted(client[0]):
            forwarded = ",".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            address = client[0]
            for hop in reversed(hops):
                address = hop
                if not self._trusted(hop):
                    break
            scope = dict(scope, client=(address, 0))
            proto = (_header(scope, b"x-forwarded-proto") or "").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over the limit: by Content-Length up front, or while reading a chunked body."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.max_body_bytes
        self.imports = settings.max_import_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.imports if scope["path"].startswith("/api/v1/imports/") else self.default
        length = _header(scope, b"content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                await send_problem(send, 400, "Content-Length is not a number.")
                return
            if int(length) > limit:
                await send_problem(send, 413, f"The body is larger than {limit} bytes.")
                return
        seen = 0
        started = False
        rejected = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 has been sent; whatever the app answers is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started:
                        await send_problem(send, 413, f"The body is larger than {limit} bytes.")
                    rejected = True
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except Exception:
            if not rejected:
                raise


OWNER = f"{socket.gethostname()[:100]}:{os.getpid()}"


class AdvisoryLocks:
    """PostgreSQL session advisory locks for the idempotency keys this worker is running, all held on ONE
    connection of the worker's own, outside the pool: a key costs the pool nothing, and if the worker dies its
    locks go with that connection, so a retry can tell the key was abandoned. Should the connection drop while
    the worker lives, the next call reconnects and takes the locks still held again."""

    def __init__(self, engine: Any) -> None:
        self.url = engine.url
        self.engine: Any = None
        self.conn: Any = None
        self.held: set[int] = set()
        self.mutex = asyncio.Lock()

    async def _connection(self) -> Any:
        if self.conn is not None and not self.conn.closed and not self.conn.invalidated:
            return self.conn
        if self.engine is None:
            self.engine = create_async_engine(self.url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
        conn = await self.engine.connect()
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for number in self.held:  # the locks the lost connection took with it
            await conn.scalar(text("SELECT pg_try_advisory_lock(:n)"), {"n": number})
        self.conn = conn
        return conn

    async def try_lock(self, number: int) -> bool:
        async with self.mutex:
            try:
                conn = await self._connection()
                held = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}))
            except BaseException:
                self.conn = None if self.conn is None or self.conn.invalidated else self.conn
                raise
            if held:
                self.held.add(number)
            return held

    async def unlock(self, number: int) -> None:
        async with self.mutex:
            self.held.discard(number)
            with contextlib.suppress(Exception):  # a lost connection has let go of the lock already
                conn = await self._connection()
                await conn.scalar(text("SELECT pg_advisory_unlock(:n)"), {"n": number})

    async def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
        if self.engine is not None:
            await self.engine.dispose()


class _KeyLock:
    """Who is running an idempotency key. On PostgreSQL an advisory lock (see AdvisoryLocks); on SQLite (one
    host) the owner's process id tells whether the worker that took the key still lives."""

    def __init__(self, locks: AdvisoryLocks | None, held: bool, number: int) -> None:
        self.locks = locks
        self.held = held
        self.number = number

    @classmethod
    async def take(cls, locks: AdvisoryLocks | None, principal: str, key: str) -> _KeyLock:
        number = int.from_bytes(hashlib.sha256(f"{principal}\x00{key}".encode()).digest()[:8], "big", signed=True)
        if locks is None:
            return cls(None, True, number)
        return cls(locks, await locks.try_lock(number), number)

    def owner_is_gone(self, owner: str | None) -> bool:
        if self.locks is not None:
            return self.held  # we hold the lock, so whoever recorded the key as running no longer does
        host, _, pid = (owner or "").rpartition(":")
        if host != socket.gethostname()[:100] or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    async def release(self) -> None:
        if self.locks is not None and self.held:
            await self.locks.unlock(self.number)


# Headers a replay repeats, as the first answer sent them.
REPLAYED_HEADERS = (b"content-type", b"etag", b"location", b"content-language", b"content-disposition")


def _no_store(headers: list[tuple[bytes, bytes]]) -> bool:
    """An answer marked `Cache-Control: no-store` carries a secret (a token, a client secret)."""
    return any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in headers)


class Idempotency:
    """`Idempotency-Key` on POST: the first answer is stored in the database (shared by all workers)
    and replayed for the same key and body; another body is a 422, a retry while running a 409.

    The caller is authenticated before anything is replayed (a caller disabled since is a 401, from the app).
    An answer marked `Cache-Control: no-store` carries a secret shown once (a client secret, a token): its body
    is never stored, and a retry of its key is a 409 instead of making a second one. A replay repeats the first answer's status, body, `ETag` and `Location`."""

    RUNNING_STALE_AFTER = timedelta(minutes=15)

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        engine_getter: Any,
        locks_getter: Callable[[], AdvisoryLocks | None],
        authenticate: Callable[[Scope], Awaitable[str | None]],
    ) -> None:
        self.app = app
        self.settings = settings
        self.engine_getter = engine_getter
        self.locks_getter = locks_getter
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        principal = await self.authenticate(scope) if key else None
        if not key or principal is None:
            await self.app(scope, receive, send)  # without an active caller the app answers (401 first)
            return
        principal = principal[:64]
        if len(key) > 255 or not key.isprintable():
            await send_problem(send, 422, "Idempotency-Key must be at most 255 printable characters.")
            return
        digest = _request_digest(scope)
        body = await read_body(receive, digest)
        if body is None:
            return
        digest.update(b"\x00")
        request_hash = digest.hexdigest()
        engine = self.engine_getter()
        lock = await _KeyLock.take(self.locks_getter(), principal, key)
        held = [body]  # handed to the app, which alone keeps it then
        del body
        try:
            await self._handle(scope, receive, send, engine, lock, principal, key, held, request_hash)
        finally:
            await lock.release()

    async def _replay(self, send: Send, row: Any) -> None:
        stored = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (row["headers"] or [])]
        if row["body"] is None:  # the first answer carried a secret, which was not kept
            await send_problem(
                send,
                409,
                "The first answer to this Idempotency-Key carried a secret, which is shown once and not kept;"
                " the record it made stands.",
            )
            return
        if not any(k == b"content-type" for k, _ in stored):
            stored.append((b"content-type", (row["content_type"] or "application/json").encode("latin-1")))
        headers = [*stored, (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": row["status_code"], "headers": headers})
        await send({"type": "http.response.body", "body": row["body"]})

    async def _handle(self, scope, receive, send, engine, lock, principal, key, held, request_hash) -> None:  # noqa: C901
        now = utcnow()
        t = idempotency_keys
        async with engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.expires_at < now))
            row = (await conn.execute(select(t).where(t.c.principal == principal, t.c.key == key))).mappings().first()
            if (
                row is not None
                and row["state"] == "running"
                and (lock.owner_is_gone(row["owner"]) or row["created_at"] < now - self.RUNNING_STALE_AFTER)
            ):
                # the worker that took this key died (killed mid-request); this retry runs it again
                await conn.execute(delete(t).where(t.c.id == row["id"]))
                row = None
            if row is None and not lock.held:
                # another worker holds the key's lock and is about to record it as running
                row = {"request_hash": request_hash, "state": "running"}
            if row is None:
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            insert(t).values(
                                principal=principal,
                                key=key,
                                request_hash=request_hash,
                                state="running",
                                owner=OWNER,
                                created_at=now,
                                expires_at=now + timedelta(hours=self.settings.idempotency_hours),
                            )
                        )
                except IntegrityError:
                    row = (
                        (await conn.execute(select(t).where(t.c.principal == principal, t.c.key == key)))
                        .mappings()
                        .first()
                    )
        if row is not None:
            if row["request_hash"] != request_hash:
                await send_problem(send, 422, "This Idempotency-Key was used with a different request.")
            elif row["state"] == "running":
                await send_problem(send, 409, "A request with this Idempotency-Key is still being processed.")
            else:
                await self._replay(send, row)
            return

        replay_receive = replaying(held, receive)
        captured: dict[str, Any] = {"status": 500, "content_type": None, "headers": [], "secret": False, "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                sent = list(message.get("headers", []))
                captured["secret"] = _no_store(sent)
                captured["headers"] = [
                    [k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in sent if k.lower() in REPLAYED_HEADERS
                ]
                for k, v in sent:
                    if k.lower() == b"content-type":
                        captured["content_type"] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        done = False
        try:
            await self.app(scope, replay_receive, capture_send)
            done = True
        finally:
            async with engine.begin() as conn:
                keep = done and captured["status"] < 500 and captured["status"] not in (401, 409, 429)
                if keep:
                    await conn.execute(
                        update(t)
                        .where(t.c.principal == principal, t.c.key == key)
                        .values(
                            state="done",
                            status_code=captured["status"],
                            content_type=captured["content_type"],
                            headers=captured["headers"],
                            # a secret is never written down: the key is kept (a retry makes nothing twice)
                            body=None if captured["secret"] else b"".join(captured["body"]),
                        )
                    )
                else:
                    await conn.execute(delete(t).where(t.c.principal == principal, t.c.key == key))
