"""Writing many rows at once: COPY on PostgreSQL, executemany on SQLite (PERFORMANCE.md: the ORM unit of work
is 30x slower than COPY, and multi-row INSERT ... RETURNING spends its time re-parsing huge statements)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from contextlib import suppress
from datetime import date, datetime
from itertools import islice
from typing import Any

import orjson
import psycopg
import psycopg.errors
from psycopg.types.json import set_json_dumps
from sqlalchemy import (
    JSON,
    String,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import dicts

BATCH = 5000
PER_COPY = 10_000  # rows per COPY statement of rows made as they are written


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


# what COPY sends in binary, by the column's type as PostgreSQL names it: psycopg's binary dumpers (chosen by
# these types, not by the values') cost a third of its text ones, and the database reads binary with no parsing
BINARY_TYPES = {
    "BIGINT": "int8",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "BOOLEAN": "bool",
    "FLOAT": "float8",
    "DOUBLE PRECISION": "float8",
    "VARCHAR": "varchar",
    "TEXT": "text",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "json",
    "BYTEA": "bytea",
}


def _binary_types(table: Table, columns: list[str], dialect: Any) -> list[str] | None:
    """The columns' types for a binary COPY, or None when one has a type binary is not used for (a length is
    dropped from VARCHAR(n) alone: FLOAT(24) is another type than FLOAT)."""
    compiled = [table.c[c].type.compile(dialect=dialect) for c in columns]
    names = [BINARY_TYPES.get("VARCHAR" if t.startswith("VARCHAR(") else t) for t in compiled]
    return None if None in names else names  # type: ignore[return-value]


_INT_BITS = {"int2": 16, "int4": 32}


def _binary_guard(types: list[str]) -> Callable[[list[Sequence[Any]]], None] | None:
    """A check of each batch for what binary COPY would store wrongly instead of refusing: psycopg's int2 and
    int4 dumpers wrap a number out of range (2**31 arrives as -2**31) and its bool dumper takes any value's
    truth ("false" is true). The database refuses both in text. Checked a column at a time (a few ms for
    50,000 rows); the schemas' bounds already keep the values in range, this keeps a slip from corrupting."""
    bounds = [(i, -(2 ** (b - 1)), 2 ** (b - 1) - 1) for i, t in enumerate(types) if (b := _INT_BITS.get(t))]
    flags = [i for i, t in enumerate(types) if t == "bool"]
    if not bounds and not flags:
        return None

    def check(rows: list[Sequence[Any]]) -> None:
        for i, low, high in bounds:
            values = [r[i] for r in rows if r[i] is not None]
            if values and (min(values) < low or max(values) > high):
                raise psycopg.errors.NumericValueOutOfRange(f"integer out of range for {types[i]}")
        for i in flags:
            if any(r[i] is not None and r[i].__class__ is not bool for r in rows):
                raise psycopg.errors.InvalidTextRepresentation("a boolean column was given neither true nor false")

    return check


def _copy_text(table: Table, columns: list[str]) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """A row for a text COPY (a table with a type binary is not used for): JSON columns as orjson's text. None
    when there are none."""
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    if not json_at:
        return None

    def convert(row: Sequence[Any]) -> Sequence[Any]:
        out = list(row)
        for i in json_at:
            out[i] = _json_text(out[i])
        return out

    return convert


async def insert_rows(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (every row with the same keys) as fast as the database allows."""
    if rows:
        columns = list(rows[0])
        await insert_values(conn, table, columns, [tuple(r[c] for c in columns) for r in rows])


async def insert_values(conn: AsyncConnection, table: Table, columns: list[str], values: Iterable[tuple]) -> None:
    """Insert rows given as tuples in `columns` order (a generator is read once, as the rows are written: a
    large batch need not be held as tuples besides the records they come from)."""
    await insert_batches(conn, table, columns, in_batches(values))


async def in_batches(values: Iterable[Any]) -> AsyncIterator[list[Any]]:
    """`values` in lists of BATCH, as an async iterable (what insert_batches reads)."""
    rows = iter(values)
    while batch := list(islice(rows, BATCH)):
        yield batch


async def insert_batches(
    conn: AsyncConnection, table: Table, columns: list[str], batches: AsyncIterable[list[tuple]], *, split: bool = False
) -> None:
    """Insert rows that arrive in lists of tuples in `columns` order, as they are ready. On PostgreSQL COPY
    stores the first lists while the caller is still making the next ones; `split` (lists that take work to
    make) writes them in statements of PER_COPY rows, so that the database also checks one statement's rows
    while the next are made. An exception from `batches` aborts the write and reaches the caller."""
    if conn.dialect.name == "postgresql":
        try:
            await _copy(conn, table, columns, batches, PER_COPY if split else None)
        except psycopg.Error as exc:
            # COPY runs on the driver's own cursor: its errors reach the one handler as SQLAlchemy's, so that
            # a unique violation is a 409 there as it is for any other statement
            raise DBAPIError.instance(f"COPY {table.name}", None, exc, psycopg.Error) from exc
        return
    async for rows in batches:
        for i in range(0, len(rows), BATCH):
            await conn.execute(insert(table), [dict(zip(columns, v, strict=True)) for v in rows[i : i + BATCH]])


async def _copy(
    conn: AsyncConnection, table: Table, columns: list[str], batches: AsyncIterable[list[tuple]], per_copy: int | None
) -> None:
    """The rows in COPY statements of about `per_copy` rows each (None: one statement). The database checks a
    statement's rows (foreign keys, statement triggers) only once its data has all arrived; meanwhile the next
    batches are made (for an import: checked), and the next statement starts as soon as the database is done."""
    limit = per_copy or float("inf")
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    cols = ", ".join(f'"{c}"' for c in columns)
    types = _binary_types(table, columns, conn.dialect)
    statement = f'COPY "{table.name}" ({cols}) FROM STDIN' + (" (FORMAT BINARY)" if types else "")
    convert = None if types else _copy_text(table, columns)
    guard = _binary_guard(types) if types else None
    lists = aiter(batches)
    ahead: list[list[tuple]] = []  # batches made while the last statement was being finished
    finishing: asyncio.Future | None = None
    more = True

    async def take() -> None:
        nonlocal more
        batch = await anext(lists, None)
        if batch is None:
            more = False
        elif batch:
            ahead.append(batch)

    async with driver.cursor() as cur:
        set_json_dumps(orjson.dumps, context=cur)  # JSON columns, binary: orjson, not the json module
        try:
            while True:
                # while the database finishes the last statement, make the next statement's batches
                while finishing is not None and not finishing.done() and more and sum(map(len, ahead)) < limit:
                    await take()
                if finishing is not None:
                    await finishing
                    finishing = None
                while more and not ahead:
                    await take()
                if not ahead:
                    return
                opening = cur.copy(statement)
                copy = await opening.__aenter__()
                if types:
                    copy.set_types(types)
                try:
                    written = 0
                    while written < limit and (ahead or more):
                        if not ahead:
                            await take()
                            continue
                        rows = ahead.pop(0)
                        written += len(rows)
                        if guard is not None:
                            guard(rows)
                        for row in rows:
                            await copy.write_row(convert(row) if convert is not None else row)
                        await asyncio.sleep(0)  # writing rows is CPU too: other requests go on between batches
                except BaseException as exc:
                    await opening.__aexit__(type(exc), exc, exc.__traceback__)
                    raise
                finishing = asyncio.ensure_future(opening.__aexit__(None, None, None))
                await asyncio.sleep(0)  # the statement's end is sent: the database starts on its checks
        finally:
            if finishing is not None:  # an exception from the batches: the last statement ends first
                with suppress(Exception):
                    await finishing


def _is_text(col) -> bool:
    """A string column (SQLModel's are TypeDecorators over String)."""
    return isinstance(getattr(col.type, "impl", col.type), String)


async def select_by_keys(
    conn: AsyncConnection, table: Table, columns: list[str], keys: list[tuple], *extra: Any, for_update: bool = False
) -> list[dict[str, Any]]:
    """Rows of `table` whose `columns` equal one of `keys` (plus `extra` WHERE clauses). On PostgreSQL one query
    joins against the keys sent as one JSON array per column, zipped by `ROWS FROM`: a parameter per column
    whatever the count, serialised by orjson (arrays of 50,000 keys cost the driver's Python dumpers a tenth
    of an import; an object per key, a tenth of a second). The rows found are locked when `for_update`, in
    id order whatever the plan: two writers then lock the records they share in the same order. Elsewhere IN
    lists in chunks (SQLite's writer already holds the database)."""
    if not keys:
        return []
    cols = [table.c[c] for c in columns]
    if conn.dialect.name == "postgresql":
        names = [f"k{i}" for i in range(len(cols))]
        arrays = ", ".join(f"json_array_elements_text(CAST(:{n} AS json))" for n in names)
        wanted = (
            text(f"SELECT * FROM ROWS FROM ({arrays}) AS w({', '.join(names)})")
            .bindparams(
                *[
                    bindparam(n, orjson.dumps([k[i] for k in keys], default=str).decode(), type_=Text)
                    for i, n in enumerate(names)
                ]
            )
            .columns(*[column(n, Text) for n in names])
            .subquery("wanted")
        )
        # compared as text for a string column, not as the column's varchar(n): a key longer than the column
        # matches nothing instead of failing the whole statement
        on = [
            col == (wanted.c[n] if _is_text(col) else cast(wanted.c[n], col.type))
            for n, col in zip(names, cols, strict=True)
        ]
        q = select(table).join(wanted, and_(*on)).where(*extra)
        if for_update:
            q = q.order_by(table.c.id).with_for_update(of=table)
        return dicts(await conn.execute(q))
    out: list[dict[str, Any]] = []
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        clause = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        out += dicts(await conn.execute(select(table).where(clause, *extra)))
    return out


__all__ = ["allocate_ids", "in_batches", "insert_batches", "insert_rows", "select_by_keys", "date", "datetime"]
