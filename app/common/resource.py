"""The shared record machinery: one spec per resource, one set of service functions for all.

A resource declares its table, schemas, filters, child tables and rules; list (keyset pages, total,
CSV), get, create, update and delete, scope, ETag, natural-key conflicts and audit come from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.auth.scope import scope_clause, units_in_scope
from app.common import audit
from app.common.pagination import decode_cursor, encode_cursor
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from app.models import Unit
from app.timeutil import LOCAL_TZ

units = Unit.__table__


@dataclass
class Child:
    """A list field stored in its own table (airings, participants, line items)."""

    field: str
    table: Table
    parent_fk: str
    # body value -> rows (without the parent key); stored rows -> the read value
    to_rows: Callable[[Any], list[dict[str, Any]]]
    from_rows: Callable[[list[dict[str, Any]]], Any]
    fixed: dict[str, Any] = field(default_factory=dict)  # discriminator columns (e.g. role)
    order_by: str | None = None


@dataclass
class Ctx:
    """What a rule may look at. Unit look-ups are cached, so that an import of 50,000 rows asks once per unit."""

    conn: AsyncConnection
    principal: Principal
    spec: ResourceSpec
    _units: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    _scope: dict[int, bool] = field(default_factory=dict)

    async def preload_units(self, unit_ids: set[int]) -> None:
        wanted = [u for u in unit_ids if u not in self._units]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = {
                r["id"]: dict(r)
                for r in (await self.conn.execute(select(units).where(units.c.id.in_(chunk)))).mappings()
            }
            for u in chunk:
                self._units[u] = rows.get(u)
            allowed = await units_in_scope(self.conn, self.principal, set(chunk))
            for u in chunk:
                self._scope[u] = u in allowed

    async def unit(self, unit_id: int) -> dict[str, Any] | None:
        """The unit's row (code, kind, parent_id, dates...), or None when there is no such unit."""
        if unit_id not in self._units:
            await self.preload_units({unit_id})
        return self._units[unit_id]

    async def in_scope(self, unit_id: int) -> bool:
        if unit_id not in self._scope:
            await self.preload_units({unit_id})
        return self._scope[unit_id]


Rule = Callable[[Ctx, dict[str, Any], dict[str, Any] | None], Awaitable[None]]


@dataclass
class NaturalKey:
    columns: tuple[str, ...]
    message: str
    # skip the check when any of these columns is null (an optional external_ref)
    nullable: bool = False


@dataclass
class ResourceSpec:
    name: str  # URL segment and audit resource, e.g. "broadcasts"
    table: Table
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    read_perm: Perm = Perm.RECORDS_READ
    write_perm: Perm = Perm.RECORDS_WRITE
    unit_column: str | None = "unit_id"  # scope column for reads and writes; None: city-wide catalogue
    scoped_read: bool = True
    date_column: str | None = None  # what `from` and `to` filter on
    date_is_instant: bool = False  # filter on the local date of an instant
    date_is_month: bool = False  # a "YYYY-MM" column, filtered on its first day
    filters: dict[str, Callable[[Any], ColumnElement[bool]]] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    natural_keys: list[NaturalKey] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    # columns computed by the server from the body (e.g. a search key); called on create and update
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # extra visibility beyond scope (e.g. drafts seen by their own unit only)
    visibility: Callable[[Principal, Table], ColumnElement[bool]] | None = None
    # fields of the body that only some callers may set, else dropped (annual report's submitted_at)
    server_fields: Callable[[Ctx, dict[str, Any], dict[str, Any] | None], Awaitable[None]] | None = None
    # overrides the default write check (permission + unit in scope)
    authorize_write: Callable[[Ctx, dict[str, Any], dict[str, Any] | None], Awaitable[None]] | None = None
    parent: tuple[str, Table] | None = None  # nested resources: (fk column, parent table)
    # fields that depend on who reads (a submission's allowed_actions): record -> extra read values
    per_caller: Callable[[Principal, dict[str, Any]], dict[str, Any]] | None = None


def etag_of(spec: ResourceSpec, record: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"{spec.name}:{record['id']}:{record['version']}".encode()).hexdigest()[:20]
    return f'"{record["version"]}-{digest}"'


def check_if_match(spec: ResourceSpec, record: dict[str, Any], if_match: str | None) -> None:
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags or etag_of(spec, record) in tags:
        return
    raise PreconditionFailed(
        f"The record has changed (now version {record['version']}); fetch it again and retry with its ETag."
    )


def _local_day_start(day: date) -> datetime | None:
    """Local midnight at the start of `day`, in UTC; None (no bound) past the calendar's ends."""
    try:
        return datetime.combine(day, time.min, tzinfo=LOCAL_TZ).astimezone(UTC)
    except OverflowError:
        return None


def visible(spec: ResourceSpec, principal: Principal) -> ColumnElement[bool]:
    t = spec.table
    clause: ColumnElement[bool] = true()
    if spec.unit_column and spec.scoped_read:
        clause = scope_clause(principal, t.c[spec.unit_column])
    if spec.visibility is not None:
        clause = and_(clause, spec.visibility(principal, t))
    return clause


def list_clauses(spec: ResourceSpec, principal: Principal, query: BaseModel, parent_id: int | None) -> list:
    t = spec.table
    clauses: list[ColumnElement[bool]] = [visible(spec, principal)]
    if spec.parent is not None and parent_id is not None:
        clauses.append(t.c[spec.parent[0]] == parent_id)
    values = query.model_dump()
    if values.get("unit_id") is not None and spec.unit_column:
        clauses.append(t.c[spec.unit_column] == values["unit_id"])
    if spec.date_column:
        col = t.c[spec.date_column]
        lo, hi = values.get("from_"), values.get("to")
        if spec.date_is_instant:
            start = _local_day_start(lo) if lo is not None else None
            end = _local_day_start(hi + timedelta(days=1)) if hi is not None and hi < date.max else None
            if start is not None:
                clauses.append(col >= start)
            if end is not None:
                clauses.append(col < end)
        elif spec.date_is_month:
            # a month's date is its first day: from=2023-05-15 leaves May out, to=2023-05-15 keeps it
            if lo is not None:
                year, month = lo.year, lo.month
                if lo.day > 1:  # the first month that starts on or after lo
                    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                clauses.append(col >= f"{year:04d}-{month:02d}")
            if hi is not None:
                clauses.append(col <= f"{hi.year:04d}-{hi.month:02d}")
        else:
            if lo is not None:
                clauses.append(col >= lo)
            if hi is not None:
                clauses.append(col <= hi)
    for name, make in spec.filters.items():
        value = values.get(name)
        if value is not None:
            clauses.append(make(value))
    return clauses


async def attach_children(conn: AsyncConnection, spec: ResourceSpec, rows: list[dict[str, Any]]) -> None:
    if not spec.children or not rows:
        return
    ids = [r["id"] for r in rows]
    for child in spec.children:
        ct = child.table
        q = select(ct).where(ct.c[child.parent_fk].in_(ids))
        for k, v in child.fixed.items():
            q = q.where(ct.c[k] == v)
        q = q.order_by(ct.c[child.order_by] if child.order_by else ct.c[child.parent_fk])
        grouped: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for crow in (await conn.execute(q)).mappings():
            grouped[crow[child.parent_fk]].append(dict(crow))
        for r in rows:
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
    t = spec.table
    clauses = list_clauses(spec, principal, query, parent_id)
    after = decode_cursor(getattr(query, "cursor", None))
    limit = query.limit  # type: ignore[attr-defined]
    page_q = select(t).where(*clauses)
    if after is not None:
        page_q = page_q.where(t.c.id > after)
    rows = [dict(r) for r in (await conn.execute(page_q.order_by(t.c.id).limit(limit + 1))).mappings()]
    total = await conn.scalar(select(func.count()).select_from(t).where(*clauses))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["id"])
    await attach_children(conn, spec, rows)
    _add_per_caller(spec, principal, rows)
    return rows, int(total or 0), next_cursor


async def iterate_all(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    query: BaseModel,
    *,
    parent_id: int | None = None,
    batch: int = 1000,
):
    """Every matching record, in id order, a batch at a time (for CSV export)."""
    t = spec.table
    clauses = list_clauses(spec, principal, query, parent_id)
    after = 0
    while True:
        q = select(t).where(*clauses, t.c.id > after).order_by(t.c.id).limit(batch)
        rows = [dict(r) for r in (await conn.execute(q)).mappings()]
        if not rows:
            return
        await attach_children(conn, spec, rows)
        _add_per_caller(spec, principal, rows)
        for r in rows:
            yield r
        after = rows[-1]["id"]
        if len(rows) < batch:
            return


async def load(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    record_id: int,
    *,
    parent_id: int | None = None,
    for_update: bool = False,
) -> dict[str, Any]:
    """One record the principal may see, or 404 (its existence is not revealed)."""
    t = spec.table
    q = select(t).where(t.c.id == record_id, visible(spec, principal))
    if spec.parent is not None and parent_id is not None:
        q = q.where(t.c[spec.parent[0]] == parent_id)
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        raise NotFound(f"No {spec.name} record with id {record_id}.")
    record = dict(row)
    await attach_children(conn, spec, [record])
    _add_per_caller(spec, principal, [record])
    return record


def to_read(spec: ResourceSpec, record: dict[str, Any]) -> dict[str, Any]:
    return spec.read.model_validate(record).model_dump(mode="json")


async def _check_write_scope(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    if not ctx.principal.can(ctx.spec.write_perm):
        raise Forbidden(f"The role '{ctx.principal.role}' may not write {ctx.spec.name}.")
    col = ctx.spec.unit_column
    if col and data.get(col) is not None and (existing is None or data[col] != existing.get(col)):
        if not await ctx.in_scope(data[col]):
            raise Forbidden(f"{col} {data[col]} is outside your unit's scope.")
        if await ctx.unit(data[col]) is None:
            raise Invalid(f"{col} {data[col]} is not a unit.", loc=["body", col])


async def ensure_unit_exists(conn: AsyncConnection, unit_id: int, field: str = "unit_id") -> None:
    if await conn.scalar(select(units.c.id).where(units.c.id == unit_id)) is None:
        raise Invalid(f"{field} {unit_id} is not a unit.", loc=["body", field])


async def _check_natural_keys(ctx: Ctx, data: dict[str, Any], record_id: int | None) -> None:
    t = ctx.spec.table
    for nk in ctx.spec.natural_keys:
        values = {c: data.get(c) for c in nk.columns}
        if any(v is None for v in values.values()):
            continue
        q = select(t.c.id).where(*[t.c[c] == v for c, v in values.items()])
        if record_id is not None:
            q = q.where(t.c.id != record_id)
        if await ctx.conn.scalar(q.limit(1)) is not None:
            raise Conflict(nk.message)


def _admits_none(annotation: Any) -> bool:
    return annotation is None or annotation is type(None) or any(_admits_none(a) for a in get_args(annotation))


def refuse_nulled_required(spec: ResourceSpec, changes: dict[str, Any]) -> None:
    """A PATCH may leave out a field that a create requires, but not set it to null (422 naming each)."""
    fields = spec.create.model_fields
    nulled = [
        name
        for name, value in changes.items()
        if value is None and name in fields and fields[name].is_required() and not _admits_none(fields[name].annotation)
    ]
    if nulled:
        raise Invalid(
            f"{nulled[0]} may not be null.", errors=[{"loc": ["body", n], "msg": "may not be null"} for n in nulled]
        )


async def validate(
    ctx: Ctx,
    data: dict[str, Any],
    existing: dict[str, Any] | None,
    *,
    natural_keys: bool = True,
    changes: dict[str, Any] | None = None,
    scope_checked: bool = False,
) -> None:
    """Every check a write passes: who may write, server-owned fields, the resource's rules, natural keys.
    The import engine calls it per row too (it checks permission, scope and natural keys for the whole file).
    `changes` (a PATCH's fields) may not null a field that a create requires."""
    if ctx.spec.authorize_write is not None:
        await ctx.spec.authorize_write(ctx, data, existing)
    elif not scope_checked:
        await _check_write_scope(ctx, data, existing)
    if changes is not None:
        refuse_nulled_required(ctx.spec, changes)
    if ctx.spec.server_fields is not None:
        await ctx.spec.server_fields(ctx, data, existing)
    for rule in ctx.spec.rules:
        await rule(ctx, data, existing)
    if natural_keys:
        await _check_natural_keys(ctx, data, existing["id"] if existing else None)


def split_body(spec: ResourceSpec, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    columns = set(spec.table.c.keys())
    child_fields = {c.field for c in spec.children}
    row = {k: v for k, v in data.items() if k in columns and k not in ("id", "version", "created_at", "updated_at")}
    kids = {k: v for k, v in data.items() if k in child_fields}
    return row, kids


async def _write_children(conn: AsyncConnection, spec: ResourceSpec, record_id: int, kids: dict[str, Any]) -> None:
    for child in spec.children:
        if child.field not in kids:
            continue
        ct = child.table
        q = delete(ct).where(ct.c[child.parent_fk] == record_id)
        for k, v in child.fixed.items():
            q = q.where(ct.c[k] == v)
        await conn.execute(q)
        rows = [{**r, **child.fixed, child.parent_fk: record_id} for r in child.to_rows(kids[child.field] or [])]
        if rows:
            await conn.execute(insert(ct), rows)


async def create(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    body: BaseModel | dict[str, Any],
    *,
    parent_id: int | None = None,
    audit_action: str = "create",
) -> dict[str, Any]:
    data = body.model_dump() if isinstance(body, BaseModel) else dict(body)
    if spec.parent is not None and parent_id is not None:
        data[spec.parent[0]] = parent_id
    ctx = Ctx(conn, principal, spec)
    await validate(ctx, data, None)
    if spec.derive is not None:
        data.update(spec.derive(data))
    row, kids = split_body(spec, data)
    now = utcnow()
    row.update(created_at=now, updated_at=now, version=1)
    record_id = (await conn.execute(insert(spec.table).values(**row).returning(spec.table.c.id))).scalar_one()
    await _write_children(conn, spec, record_id, kids)
    record = await load(conn, spec, principal, record_id, parent_id=parent_id)
    out = to_read(spec, record)
    await audit.record(conn, principal, action=audit_action, resource=spec.name, resource_id=record_id, after=out)
    return record


async def update_record(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    record_id: int,
    body: BaseModel | dict[str, Any],
    *,
    if_match: str | None = None,
    parent_id: int | None = None,
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if existing is None:
        existing = await load(conn, spec, principal, record_id, parent_id=parent_id, for_update=True)
    check_if_match(spec, existing, if_match)
    changes = body.model_dump(exclude_unset=True) if isinstance(body, BaseModel) else dict(body)
    merged = {**existing, **changes}
    ctx = Ctx(conn, principal, spec)
    await validate(ctx, merged, existing, changes=changes)
    if spec.derive is not None:
        merged.update(spec.derive(merged))
    row, _ = split_body(spec, merged)
    _, kids = split_body(spec, changes)
    row = {k: v for k, v in row.items() if existing.get(k) != v}
    before = to_read(spec, existing)
    result = await conn.execute(
        update(spec.table)
        .where(spec.table.c.id == record_id, spec.table.c.version == existing["version"])
        .values(**row, updated_at=utcnow(), version=existing["version"] + 1)
    )
    if result.rowcount != 1:
        raise Conflict("The record was changed by another request; fetch it again and retry.")
    await _write_children(conn, spec, record_id, kids)
    record = await load(conn, spec, principal, record_id, parent_id=parent_id)
    await audit.record(
        conn,
        principal,
        action="update",
        resource=spec.name,
        resource_id=record_id,
        before=before,
        after=to_read(spec, record),
    )
    return record


async def delete_record(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal,
    record_id: int,
    *,
    if_match: str | None = None,
    parent_id: int | None = None,
    existing: dict[str, Any] | None = None,
) -> None:
    if existing is None:
        existing = await load(conn, spec, principal, record_id, parent_id=parent_id, for_update=True)
    check_if_match(spec, existing, if_match)
    ctx = Ctx(conn, principal, spec)
    await (spec.authorize_write or _check_write_scope)(ctx, existing, None)
    for child in spec.children:
        await conn.execute(delete(child.table).where(child.table.c[child.parent_fk] == record_id))
    result = await conn.execute(
        delete(spec.table).where(spec.table.c.id == record_id, spec.table.c.version == existing["version"])
    )
    if result.rowcount != 1:
        raise Conflict("The record was changed by another request; fetch it again and retry.")
    await audit.record(
        conn, principal, action="delete", resource=spec.name, resource_id=record_id, before=to_read(spec, existing)
    )


def require_fields(data: dict[str, Any], names: Sequence[str]) -> None:
    missing = [n for n in names if data.get(n) is None]
    if missing:
        raise Invalid(
            f"{missing[0]} is required.", errors=[{"loc": ["body", n], "msg": "Field required"} for n in missing]
        )
