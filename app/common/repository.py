"""Every query of the record machinery: which rows a caller sees, pages, CSV batches, one record, and the
writes of rows and child rows (one at a time, or many at once for imports and loads). No rule lives here:
the write service (`writes`) decides what may be written, this module only writes it."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, bindparam, delete, false, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.common import counts
from app.common.bulk import allocate_ids, in_batches, insert_batches, insert_rows, select_by_keys
from app.common.pagination import decode_cursor, encode_cursor, walk_key
from app.common.spec import NaturalKey, ResourceSpec
from app.db import dicts, reading
from app.errors import Conflict, NotFound
from app.models import Unit
from app.timeutil import LOCAL_TZ

units = Unit.__table__
CHUNK = 500
STALE = "The record was changed by another request; fetch it again and retry."


# --- reads ---------------------------------------------------------------------------------------


def _local_day_start(day: date) -> datetime | None:
    """Local midnight at the start of `day`, in UTC; None past the calendar's ends."""
    try:
        return datetime.combine(day, time.min, tzinfo=LOCAL_TZ).astimezone(UTC)
    except OverflowError:
        return None


def visible(spec: ResourceSpec, principal: Principal) -> ColumnElement[bool]:
    """The rows of `spec` the principal may read: its scope, and the resource's own visibility."""
    t = spec.table
    clause: ColumnElement[bool] = true()
    if spec.unit_column and spec.scoped_read:
        clause = scope_clause(principal, t.c[spec.unit_column])
    if spec.visibility is not None:
        clause = and_(clause, spec.visibility(principal, t))
    return clause


def _date_clauses(spec: ResourceSpec, lo: date | None, hi: date | None) -> list[ColumnElement[bool]]:
    col = spec.table.c[spec.date_column]  # type: ignore[index]
    out: list[ColumnElement[bool]] = []
    if spec.date_is_instant:
        # the calendar's first day starts before year 1 in UTC (no lower bound is needed); its last day
        # ends after year 9999 (no upper bound)
        start = _local_day_start(lo) if lo is not None else None
        end = _local_day_start(hi + timedelta(days=1)) if hi is not None and hi < date.max else None
        if start is not None:
            out.append(col >= start)
        if end is not None:
            out.append(col < end)
    elif spec.date_is_month:
        # a month's date is its first day: from=2023-05-15 leaves May out, to=2023-05-15 keeps it
        if lo is not None:
            year, month = lo.year, lo.month
            if lo.day > 1:  # the first month that starts on or after lo
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if year > 9999:  # "10000-01" sorts before "2023-05" as text: no month starts that late
                return [false()]
            out.append(col >= f"{year:04d}-{month:02d}")
        if hi is not None:
            out.append(col <= f"{hi.year:04d}-{hi.month:02d}")
    else:
        if lo is not None:
            out.append(col >= lo)
        if hi is not None:
            out.append(col <= hi)
    return out


def list_clauses(spec: ResourceSpec, principal: Principal, query: BaseModel, parent_id: int | None) -> list:
    t = spec.table
    clauses: list[ColumnElement[bool]] = [visible(spec, principal)]
    if spec.parent is not None and parent_id is not None:
        clauses.append(t.c[spec.parent[0]] == parent_id)
    values = query.model_dump()
    if values.get("unit_id") is not None and spec.unit_column:
        clauses.append(t.c[spec.unit_column] == values["unit_id"])
    if spec.date_column:
        clauses += _date_clauses(spec, values.get("from_"), values.get("to"))
    for name, make in spec.filters.items():
        value = values.get(name)
        if value is not None:
            clauses.append(make(value))
    return clauses


async def attach_children(conn: AsyncConnection, spec: ResourceSpec, rows: list[dict[str, Any]]) -> None:
    """Fill each record's child fields (airings, participants...), CHUNK parents per query."""
    if not spec.children or not rows:
        return
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        ids = [r["id"] for r in chunk]
        for child in spec.children:
            ct = child.table
            q = select(ct).where(ct.c[child.parent_fk].in_(ids))
            for k, v in child.fixed.items():
                q = q.where(ct.c[k] == v)
            q = q.order_by(ct.c[child.order_by] if child.order_by else ct.c[child.parent_fk])
            grouped: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            for crow in dicts(await conn.execute(q)):
                grouped[crow[child.parent_fk]].append(crow)
            for r in chunk:
                r[child.field] = child.from_rows(grouped[r["id"]])


def _add_per_caller(spec: ResourceSpec, principal: Principal, rows: list[dict[str, Any]]) -> None:
    if spec.per_caller is not None:
        for r in rows:
            r.update(spec.per_caller(principal, r))


async def fetch_page(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    query: BaseModel,
    *,
    parent_id: int | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One keyset page of what the principal sees, the total, and the next cursor.

    The total is counted on the first page of a walk and carried in the signed cursor to the next ones, so a
    page costs the same wherever it is; a first page without filters sums the trigger-kept record_counts of
    the caller's units (`count(*)` over everything a city-wide caller sees was most of a page's time at
    200,000 rows). A cursor counted for another query (filters, caller, parent) is counted again."""
    t = spec.table
    clauses = list_clauses(spec, principal, query, parent_id)
    cursor = decode_cursor(getattr(query, "cursor", None))
    limit = query.limit  # type: ignore[attr-defined]
    filters = query.model_dump(exclude={"cursor", "limit"})
    walk = walk_key(spec.name, principal.key, parent_id, filters)
    page_q = select(t).where(*clauses)
    if cursor is not None:
        page_q = page_q.where(t.c.id > cursor.after)
    rows = dicts(await conn.execute(page_q.order_by(t.c.id).limit(limit + 1)))
    if cursor is not None and cursor.total is not None and cursor.walk == walk:
        total = cursor.total
    elif cursor is None and len(rows) <= limit:
        # the whole list is on this page: its length is the total, as of the page's own snapshot (a count sent
        # after it could include a row committed in between: "total 3" over two items and no next page)
        total = len(rows)
    elif counts.countable(spec, filters, parent_id):
        total = await counts.scope_total(conn, spec, principal, filters.get("unit_id"))
    else:
        total = int(await conn.scalar(select(func.count()).select_from(t).where(*clauses)) or 0)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["id"], total, walk)
    await attach_children(conn, spec, rows)
    _add_per_caller(spec, principal, rows)
    return rows, total, next_cursor


@asynccontextmanager
async def _batch_connection(source: AsyncEngine | AsyncConnection) -> AsyncIterator[AsyncConnection]:
    if isinstance(source, AsyncConnection):
        yield source
        return
    async with reading(source) as conn:
        yield conn


async def iterate_all(
    source: AsyncEngine | AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    query: BaseModel,
    *,
    parent_id: int | None = None,
    batch: int = 1000,
) -> AsyncIterator[dict[str, Any]]:
    """Every matching record, in id order, a batch at a time (for CSV export).

    Given the engine (a CSV export), each batch is read on a connection of its own, given back before its rows
    are handed on: a client that reads the stream slowly (or never) holds no pool connection and, on SQLite, no
    lock. Given a connection (a write that must see its own transaction), every batch is read on it."""
    t = spec.table
    clauses = list_clauses(spec, principal, query, parent_id)
    after = 0
    while True:
        q = select(t).where(*clauses, t.c.id > after).order_by(t.c.id).limit(batch)
        async with _batch_connection(source) as conn:
            rows = dicts(await conn.execute(q))
            if rows:
                await attach_children(conn, spec, rows)
        if not rows:
            return
        _add_per_caller(spec, principal, rows)
        for r in rows:
            yield r
        after = rows[-1]["id"]
        if len(rows) < batch:
            return


async def load(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    record_id: int,
    *,
    parent_id: int | None = None,
    for_update: bool = False,
) -> dict[str, Any]:
    """One record the principal may see, or 404 (its existence is not revealed). `principal=None`: the
    system (seed, demo data), which sees everything."""
    t = spec.table
    q = select(t).where(t.c.id == record_id)
    if principal is not None:
        q = q.where(visible(spec, principal))
    if spec.parent is not None and parent_id is not None:
        q = q.where(t.c[spec.parent[0]] == parent_id)
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        raise NotFound(f"No {spec.name} record with id {record_id}.")
    record = dict(row)
    await attach_children(conn, spec, [record])
    if principal is not None:
        _add_per_caller(spec, principal, [record])
    return record


async def load_many(
    conn: AsyncConnection, spec: ResourceSpec, principal: Principal | None, ids: list[int], *, for_update: bool = False
) -> dict[int, dict[str, Any]]:
    """The records of `ids` the principal may see (with their children), by id; locked on PostgreSQL when
    `for_update`, so that nobody changes them before this transaction ends."""
    extra = [visible(spec, principal)] if principal is not None else []
    found = await select_by_keys(conn, spec.table, ["id"], [(i,) for i in ids], *extra, for_update=for_update)
    await attach_children(conn, spec, found)
    return {r["id"]: r for r in found}


async def find_by_keys(
    conn: AsyncConnection, spec: ResourceSpec, columns: list[str], keys: list[tuple], *, for_update: bool = False
) -> list[dict[str, Any]]:
    """Every row whose `columns` equal one of `keys` (whoever may see it: natural keys are global)."""
    return await select_by_keys(conn, spec.table, columns, keys, for_update=for_update)


async def key_taken(
    conn: AsyncConnection, spec: ResourceSpec, nk: NaturalKey, values: dict[str, Any], record_id: int | None
) -> bool:
    t = spec.table
    q = select(t.c.id).where(*[t.c[c] == values[c] for c in nk.columns])
    if record_id is not None:
        q = q.where(t.c.id != record_id)
    return await conn.scalar(q.limit(1)) is not None


async def units_by_id(conn: AsyncConnection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in dicts(await conn.execute(select(units).where(units.c.id.in_(ids))))}


async def units_by_code(conn: AsyncConnection, codes: list[str]) -> dict[str, int]:
    return {r["code"]: r["id"] for r in await select_by_keys(conn, units, ["code"], [(c,) for c in codes])}


# --- writes --------------------------------------------------------------------------------------


async def insert_record(conn: AsyncConnection, spec: ResourceSpec, row: dict[str, Any]) -> int:
    return (await conn.execute(insert(spec.table).values(**row).returning(spec.table.c.id))).scalar_one()


async def update_versioned(
    conn: AsyncConnection, spec: ResourceSpec, record_id: int, version: int, values: dict[str, Any]
) -> None:
    """Write `values` and bump the version, only if the record still has `version` (else 409)."""
    t = spec.table
    result = await conn.execute(
        update(t).where(t.c.id == record_id, t.c.version == version).values(**values, version=version + 1)
    )
    if result.rowcount != 1:
        raise Conflict(STALE)


async def delete_versioned(conn: AsyncConnection, spec: ResourceSpec, record_id: int, version: int) -> None:
    for child in spec.children:
        await conn.execute(delete(child.table).where(child.table.c[child.parent_fk] == record_id))
    t = spec.table
    result = await conn.execute(delete(t).where(t.c.id == record_id, t.c.version == version))
    if result.rowcount != 1:
        raise Conflict(STALE)


async def write_children(
    conn: AsyncConnection, spec: ResourceSpec, items: list[tuple[int, dict[str, Any]]], *, replace: bool
) -> None:
    """The child rows of each (record id, values) whose values name the child field; `replace` drops the
    record's current child rows first."""
    for child in spec.children:
        ct = child.table
        touched = [(rid, data[child.field]) for rid, data in items if child.field in data]
        if not touched:
            continue
        if replace:
            ids = [rid for rid, _ in touched]
            for i in range(0, len(ids), CHUNK):
                q = delete(ct).where(ct.c[child.parent_fk].in_(ids[i : i + CHUNK]))
                for k, v in child.fixed.items():
                    q = q.where(ct.c[k] == v)
                await conn.execute(q)
        rows = [
            {**row, **child.fixed, child.parent_fk: rid} for rid, value in touched for row in child.to_rows(value or [])
        ]
        if rows:
            columns = sorted({k for r in rows for k in r})
            await insert_rows(conn, ct, [{c: r.get(c) for c in columns} for r in rows])


@dataclass
class Incoming:
    """New records still being checked while they are written (an import): `count` of them, in lists from
    `lists`. An exception raised there aborts the write: nothing of it stays. `made` (the lists take work to
    make): written in several statements, the database checking each while the next lists are made."""

    count: int
    lists: AsyncIterable[list[dict[str, Any]]]
    made: bool = True

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> Incoming:
        return cls(len(records), in_batches(records), made=False)


async def insert_many(
    conn: AsyncConnection,
    spec: ResourceSpec,
    records: list[dict[str, Any]] | Incoming,
    now: datetime,
    *,
    ids: bool = False,
) -> list[int] | None:
    """Insert new records (full values, children included) in bulk: COPY on PostgreSQL, executemany on SQLite.
    Returns their ids when asked or when the resource has children (which need them), else None."""
    incoming = records if isinstance(records, Incoming) else Incoming.of(records)
    if not incoming.count:
        return []
    t = spec.table
    columns = [c for c in t.c.keys() if c not in ("id", "created_at", "updated_at", "version")]  # noqa: SIM118
    # children need their parents' ids up front; otherwise the table's own sequence numbers the rows
    new_ids = await allocate_ids(conn, t, incoming.count) if spec.children or ids else None
    data_columns = tuple(columns)
    columns += ["created_at", "updated_at", "version"] + (["id"] if new_ids is not None else [])
    written: list[dict[str, Any]] = []  # the records themselves (no copy), for their children

    async def values() -> AsyncIterator[list[tuple]]:
        # each list's tuples are made as it is written, never held as a second copy of the batch
        async for batch in incoming.lists:
            start = len(written)
            written.extend(batch)
            rows = [(*[data.get(c) for c in data_columns], now, now, 1) for data in batch]
            if new_ids is not None:
                rows = [(*v, rid) for v, rid in zip(rows, new_ids[start : len(written)], strict=True)]
            yield rows

    await insert_batches(conn, t, columns, values(), split=incoming.made)
    if len(written) != incoming.count:
        raise RuntimeError(f"{spec.name}: {len(written)} records written of {incoming.count} announced")
    if new_ids is not None:
        await write_children(conn, spec, list(zip(new_ids, written, strict=True)), replace=False)
    return new_ids


async def update_many_versioned(
    conn: AsyncConnection, spec: ResourceSpec, rows: list[tuple[int, int, dict[str, Any]]], now: datetime
) -> None:
    """(id, stored version, column values) each: one executemany, each row only if its version is still the
    stored one, bumped by one. Any row changed meanwhile makes the whole write a 409."""
    if not rows:
        return
    t = spec.table
    columns = sorted({k for _, _, values in rows for k in values})
    stmt = (
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.version == bindparam("b_version"))
        .values({**{c: bindparam(f"v_{c}") for c in columns}, "updated_at": now, "version": bindparam("b_next")})
    )
    params = [
        {**{f"v_{c}": values.get(c) for c in columns}, "b_id": rid, "b_version": version, "b_next": version + 1}
        for rid, version, values in rows
    ]
    changed = 0
    for i in range(0, len(params), 5000):
        result = await conn.execute(stmt, params[i : i + 5000])
        changed += result.rowcount
    if changed != len(params):
        raise Conflict(STALE)
