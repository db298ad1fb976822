#!/usr/bin/env python
"""The list benchmark's baseline: a raw ASGI app, asyncpg and orjson, running the same two statements.

GET /forums answers what GET /api/v1/forums?limit=50 answers for a city-wide caller (the first 50 forums by
id, the total, a next cursor) from `SELECT ... ORDER BY id LIMIT 51` and `SELECT count(*)`, with no framework,
token, scope or transaction. Served by uvicorn with the options `python -m app serve` uses.

  .venv/bin/python scripts/bench_raw.py PORT POSTGRES_DSN
"""

from __future__ import annotations

import sys

import asyncpg
import orjson
import uvicorn

COLUMNS = (
    "id, unit_id, external_ref, kind, held_on, title, attendees, questions_answered, topics, created_at, "
    "updated_at, version"
)


def make_app(dsn: str, pool_size: int = 10):
    state: dict = {}

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size, init=_codecs)
                    state["pool"] = pool
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["pool"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/readyz":
            return await _send(send, 200, b'{"status":"ready"}')
        async with state["pool"].acquire() as conn:
            rows = await conn.fetch(f"SELECT {COLUMNS} FROM forums ORDER BY id LIMIT 51")
            total = await conn.fetchval("SELECT count(*) FROM forums")
        items = [dict(r) for r in rows[:50]]
        body = orjson.dumps(
            {"items": items, "total": total, "next_cursor": str(items[-1]["id"]) if len(rows) > 50 else None}
        )
        await _send(send, 200, body)

    return app


async def _codecs(conn) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )
    await conn.set_type_codec(
        "json", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


async def _send(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    port, dsn = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(make_app(dsn), host="127.0.0.1", port=port, proxy_headers=True, log_level="info")
