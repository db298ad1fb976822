"""Writing many rows at once: COPY on PostgreSQL, executemany on SQLite (PERFORMANCE.md: the ORM unit of work
is 30x slower than COPY, and multi-row INSERT ... RETURNING spends its time re-parsing huge statements)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, String, Table, Text, and_, bindparam, cast, column, func, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSON as PG_JSON
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

BATCH = 5000


async def allocate_ids(conn: AsyncConnection, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`, taken in the caller's transaction."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        )
        return sorted(r[0] for r in rows)
    # SQLite: the transaction began IMMEDIATE, so nobody else writes until it commits
    start = (await conn.scalar(select(func.max(table.c.id)))) or 0
    return list(range(start + 1, start + 1 + count))


def _json_text(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


async def insert_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (every row with the same keys) as fast as the database allows."""
    if rows:
        columns = list(rows[0])
        await insert_values(conn, table, columns, [tuple(r[c] for c in columns) for r in rows])


async def insert_values(conn: AsyncConnection, table: Table, columns: list[str], values: Iterable[tuple]) -> None:
    """Insert rows given as tuples in `columns` order (a generator is read once, as the rows are written: a
    large batch need not be held as tuples besides the records they come from)."""
    if conn.dialect.name == "postgresql":
        try:
            await _copy(conn, table, columns, values)
        except psycopg.Error as exc:
            # COPY runs on the driver's own cursor: its errors reach the one handler as SQLAlchemy's, so that
            # a unique violation is a 409 there as it is for any other statement
            raise DBAPIError.instance(f"COPY {table.name}", None, exc, psycopg.Error) from exc
        return
    rows = iter(values)
    while batch := [dict(zip(columns, v, strict=True)) for v in islice(rows, BATCH)]:
        await conn.execute(insert(table), batch)


async def _copy(conn: AsyncConnection, table: Table, columns: list[str], values: Iterable[tuple]) -> None:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    cols = ", ".join(f'"{c}"' for c in columns)
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    rows = iter(values)
    first = next(rows, None)
    if first is None:
        return
    async with driver.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
        write = copy.write_row
        for row in chain((first,), rows):
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = _json_text(row[i])
            await write(row)


def _key_type(col) -> Any:
    """How the keys' recordset declares a column: text for any string column (SQLModel's are TypeDecorators)."""
    return Text() if isinstance(getattr(col.type, "impl", col.type), String) else col.type


async def select_by_keys(
    conn: AsyncConnection, table: Table, columns: list[str], keys: list[tuple], *extra: Any, for_update: bool = False
) -> list[dict[str, Any]]:
    """Rows of `table` whose `columns` equal one of `keys` (plus `extra` WHERE clauses). On PostgreSQL one query
    joins against the keys sent as one JSON text (`json_to_recordset`, typed as the columns): one parameter
    whatever the count, serialised by orjson, where arrays of 50,000 keys cost the driver's Python dumpers a
    tenth of an import; the rows found are locked when `for_update`. Elsewhere IN lists in chunks (SQLite's
    writer already holds the database)."""
    if not keys:
        return []
    cols = [table.c[c] for c in columns]
    if conn.dialect.name == "postgresql":
        payload = orjson.dumps([dict(zip(columns, k, strict=True)) for k in keys], default=str).decode()
        wanted = (
            func.json_to_recordset(cast(bindparam("keys", payload, type_=Text), PG_JSON))
            # text, not the column's varchar(n): a key longer than the column matches nothing instead of
            # failing the whole statement
            .table_valued(*[column(c, _key_type(col)) for c, col in zip(columns, cols, strict=True)])
            .render_derived(name="wanted", with_types=True)
        )
        q = select(table).join(wanted, and_(*[col == wanted.c[col.name] for col in cols])).where(*extra)
        if for_update:
            q = q.with_for_update(of=table)
        return [dict(r) for r in (await conn.execute(q)).mappings()]
    out: list[dict[str, Any]] = []
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        clause = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        out += [dict(r) for r in (await conn.execute(select(table).where(clause, *extra))).mappings()]
    return out


__all__ = ["allocate_ids", "insert_rows", "select_by_keys", "date", "datetime"]
