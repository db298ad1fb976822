"""The one write path. Every create, update, delete and state change (endpoints, import rows, budget
transitions, users and clients, seed and demo data) passes the same checks in the same order:

1. scope: the record is loaded through the caller's visibility (404) and, for PATCH/DELETE, `If-Match` (412);
2. permission (the spec's write permission, 403) and write scope (`may_write`, or the record's unit in the
   caller's scope, 403; a unit that does not exist, 422);
3. rules: no required field nulled, server-owned fields, the resource's rules, its typed hook (422/409);
4. natural keys (409);
5. the write, with the `version` precondition and bump (a record changed meanwhile: 409), children;
6. the audit row, then the `after` event hooks (the outbox), in the same transaction.

Bulk callers (imports, demo data) run steps 1-4 per row through `prepare_create`/`prepare_update`, check
natural keys for the whole batch with `natural_key_clashes`, and write with `write_many`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import units_in_scope
from app.common import audit, repository
from app.common.spec import Event, NaturalKey, ResourceSpec, etag_of, split_body, to_read
from app.common.types import MAX_INT64
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, PreconditionFailed


@dataclass
class Ctx:
    """What a rule may look at: the connection, who writes (None: the system), the resource. Unit look-ups
    are cached, so that an import of 50,000 rows asks once per unit."""

    conn: AsyncConnection
    principal: Principal | None
    spec: ResourceSpec
    _units: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    _scope: dict[int, bool] = field(default_factory=dict)
    _memo: dict[Hashable, Any] = field(default_factory=dict)

    async def remember(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """What `load` answers, asked once per `key` for this write (an import's rows share their contest)."""
        if key not in self._memo:
            self._memo[key] = await load()
        return self._memo[key]

    async def preload_units(self, unit_ids: set[int]) -> None:
        """Look up these units and whether they are in scope, 500 per query (only ids a column can hold:
        a `true` or an out-of-range number never reaches the database)."""
        wanted = [u for u in unit_ids if type(u) is int and 0 < u <= MAX_INT64 and u not in self._units]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = await repository.units_by_id(self.conn, chunk)
            allowed = (
                set(chunk) if self.principal is None else await units_in_scope(self.conn, self.principal, set(chunk))
            )
            for u in chunk:
                self._units[u] = rows.get(u)
                self._scope[u] = u in allowed

    async def unit(self, unit_id: int) -> dict[str, Any] | None:
        """The unit's row (code, kind, parent_id, dates...), or None when there is no such unit."""
        if unit_id not in self._units:
            await self.preload_units({unit_id})
        return self._units.get(unit_id)

    async def in_scope(self, unit_id: int) -> bool:
        if unit_id not in self._scope:
            await self.preload_units({unit_id})
        return self._scope.get(unit_id, False)


# --- checks --------------------------------------------------------------------------------------


def check_if_match(spec: ResourceSpec, record: dict[str, Any], if_match: str | None) -> None:
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags or etag_of(spec, record) in tags:
        return
    raise PreconditionFailed(
        f"The record has changed (now version {record['version']}); fetch it again and retry with its ETag."
    )


async def unit_in_scope(ctx: Ctx, column: str, unit_id: int) -> None:
    """403 for a unit outside the caller's scope, then 422 for one that does not exist."""
    if not await ctx.in_scope(unit_id):
        raise Forbidden(f"{column} {unit_id} is outside your unit's scope.")
    if await ctx.unit(unit_id) is None:
        raise Invalid(f"{column} {unit_id} is not a unit.", loc=["body", column])


def check_permission(spec: ResourceSpec, principal: Principal | None) -> None:
    """403 unless the caller's role may write this resource at all (the system always may)."""
    if principal is not None and not principal.can(spec.write_perm):
        raise Forbidden(f"The role '{principal.role}' may not write {spec.name}.")


async def authorize(ctx: Ctx, record: dict[str, Any]) -> None:
    """May the caller write a record in this state: the permission, then the write scope."""
    spec, principal = ctx.spec, ctx.principal
    if principal is None:
        return  # the system (seed, demo data)
    check_permission(spec, principal)
    if spec.may_write is not None:
        await spec.may_write(ctx, record)
    elif spec.unit_column and record.get(spec.unit_column) is not None:
        await unit_in_scope(ctx, spec.unit_column, record[spec.unit_column])


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


async def _natural_keys(ctx: Ctx, data: dict[str, Any], record_id: int | None) -> None:
    for nk in ctx.spec.natural_keys:
        values = {c: data.get(c) for c in nk.columns}
        if any(v is None for v in values.values()):
            continue
        if await repository.key_taken(ctx.conn, ctx.spec, nk, values, record_id):
            raise Conflict(nk.message)


async def prepare_create(ctx: Ctx, data: dict[str, Any], *, natural_keys: bool = True) -> dict[str, Any]:
    """Steps 2-4 for a new record; returns its values with the derived columns."""
    spec = ctx.spec
    await authorize(ctx, data)
    if spec.server_fields is not None:
        await spec.server_fields(ctx, data, None)
    for rule in spec.rules:
        await rule(ctx, data, None)
    if spec.on_create is not None:
        await spec.on_create(ctx, data)
    if natural_keys:
        await _natural_keys(ctx, data, None)
    if spec.derive is not None:
        data.update(spec.derive(data))
    return data


async def prepare_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any], *, natural_keys: bool = True
) -> dict[str, Any]:
    """Steps 2-4 for a change of a stored record; returns the merged values with the derived columns."""
    spec = ctx.spec
    merged = {**existing, **changes}
    await authorize(ctx, existing)
    await authorize(ctx, merged)
    refuse_nulled_required(spec, changes)
    if spec.server_fields is not None:
        await spec.server_fields(ctx, merged, existing)
    for rule in spec.rules:
        await rule(ctx, merged, existing)
    if spec.on_update is not None:
        await spec.on_update(ctx, merged, existing)
    if natural_keys:
        await _natural_keys(ctx, merged, existing["id"])
    if spec.derive is not None:
        merged.update(spec.derive(merged))
    return merged


async def natural_key_clashes(
    ctx: Ctx, items: list[tuple[dict[str, Any], int | None]], *, skip: tuple[str, ...] = ()
) -> list[tuple[int, NaturalKey, str]]:
    """Step 4 for a batch: (index, key, message) of every item whose natural key is taken by another stored
    record or by an earlier item. `items` are (values, stored id or None); `skip` names a key the caller
    matched its rows on (a row with that key updates that record instead of clashing with it)."""
    out: list[tuple[int, NaturalKey, str]] = []
    for nk in ctx.spec.natural_keys:
        if set(nk.columns) == set(skip):
            continue
        wanted: dict[tuple, int] = {}
        for index, (data, _) in enumerate(items):
            key = tuple(data.get(c) for c in nk.columns)
            if any(v is None for v in key):
                continue
            if key in wanted:
                out.append((index, nk, f"{nk.message} (item {wanted[key]} of this batch)"))
                continue
            wanted[key] = index
        if not wanted:
            continue
        for rec in await repository.find_by_keys(ctx.conn, ctx.spec, list(nk.columns), list(wanted)):
            index = wanted[tuple(rec[c] for c in nk.columns)]
            if items[index][1] != rec["id"]:
                out.append((index, nk, nk.message))
    return out


# --- writes --------------------------------------------------------------------------------------


async def _emit(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    action: str,
    record_id: int | None,
    after: dict[str, Any] | None,
    before: dict[str, Any] | None,
) -> None:
    """Step 6: the audit row, then the resource's event hooks."""
    await audit.record(
        conn, principal, action=action, resource=spec.name, resource_id=record_id, before=before, after=after
    )
    if spec.after:
        event = Event(conn, principal, spec.name, action, record_id, after, before)
        for hook in spec.after:
            await hook(event)


def _values(body: BaseModel | dict[str, Any], *, partial: bool) -> dict[str, Any]:
    if isinstance(body, BaseModel):
        return body.model_dump(exclude_unset=partial)
    return dict(body)


async def create(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    body: BaseModel | dict[str, Any],
    *,
    parent_id: int | None = None,
    action: str = "create",
) -> dict[str, Any]:
    """A new record (a body of the create schema, or values the server computed)."""
    data = _values(body, partial=False)
    if spec.parent is not None and parent_id is not None:
        data[spec.parent[0]] = parent_id
    data = await prepare_create(Ctx(conn, principal, spec), data)
    row, kids = split_body(spec, data)
    now = utcnow()
    record_id = await repository.insert_record(conn, spec, {**row, "created_at": now, "updated_at": now, "version": 1})
    await repository.write_children(conn, spec, [(record_id, kids)], replace=False)
    record = await repository.load(conn, spec, principal, record_id, parent_id=parent_id)
    await _emit(conn, spec, principal, action, record_id, to_read(spec, record), None)
    return record


async def update(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    record_id: int,
    body: BaseModel | dict[str, Any],
    *,
    if_match: str | None = None,
    parent_id: int | None = None,
) -> dict[str, Any]:
    """Change the fields a PATCH body names (left-out fields keep their values)."""
    existing = await repository.load(conn, spec, principal, record_id, parent_id=parent_id, for_update=True)
    check_if_match(spec, existing, if_match)
    changes = _values(body, partial=True)
    merged = await prepare_update(Ctx(conn, principal, spec), existing, changes)
    row, _ = split_body(spec, merged)
    _, kids = split_body(spec, changes)
    row = {k: v for k, v in row.items() if existing.get(k) != v}
    await repository.update_versioned(conn, spec, record_id, existing["version"], {**row, "updated_at": utcnow()})
    await repository.write_children(conn, spec, [(record_id, kids)], replace=True)
    record = await repository.load(conn, spec, principal, record_id, parent_id=parent_id)
    await _emit(conn, spec, principal, "update", record_id, to_read(spec, record), to_read(spec, existing))
    return record


async def delete(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    record_id: int,
    *,
    if_match: str | None = None,
    parent_id: int | None = None,
) -> None:
    existing = await repository.load(conn, spec, principal, record_id, parent_id=parent_id, for_update=True)
    check_if_match(spec, existing, if_match)
    ctx = Ctx(conn, principal, spec)
    await authorize(ctx, existing)
    if spec.on_delete is not None:
        await spec.on_delete(ctx, existing)
    await repository.delete_versioned(conn, spec, record_id, existing["version"])
    await _emit(conn, spec, principal, "delete", record_id, None, to_read(spec, existing))


async def change_state(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    existing: dict[str, Any],
    values: dict[str, Any],
    *,
    action: str,
    append: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A state change the caller has already checked (a budget transition, a client's revocation): the
    columns in `values`, child rows appended (`append`: child field -> rows, e.g. a history entry), the
    version bumped only if the record still has the loaded version, audited as `action`."""
    record_id = existing["id"]
    await repository.update_versioned(conn, spec, record_id, existing["version"], {**values, "updated_at": utcnow()})
    for child in spec.children:
        rows = (append or {}).get(child.field)
        if rows:
            await conn.execute(insert(child.table), [{**r, **child.fixed, child.parent_fk: record_id} for r in rows])
    record = await repository.load(conn, spec, principal, record_id)
    await _emit(conn, spec, principal, action, record_id, to_read(spec, record), to_read(spec, existing))
    return record


async def write_many(
    conn: AsyncConnection,
    spec: ResourceSpec,
    principal: Principal | None,
    creates: list[dict[str, Any]] | repository.Incoming,
    updates: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]],
    *,
    action: str = "import",
    summary: dict[str, Any] | None = None,
) -> None:
    """Step 5-6 for a batch already prepared: new records' values (or records still being checked as they are
    written: `Incoming`), and (stored, merged, changes) of each change. Each change keeps the version precondition (a record changed since it was read: 409 for the
    whole batch) and bumps the version; one audit row for the batch."""
    now = utcnow()
    created = await repository.insert_many(conn, spec, creates, now, ids=bool(spec.after))
    rows = []
    for existing, merged, _ in updates:
        row, _kids = split_body(spec, merged)
        rows.append((existing["id"], existing["version"], row))
    await repository.update_many_versioned(conn, spec, rows, now)
    await repository.write_children(conn, spec, [(e["id"], c) for e, _, c in updates], replace=True)
    await audit.record(conn, principal, action=action, resource=spec.name, resource_id=None, after=summary)
    if spec.after:  # the outbox hears of every record, as for single writes
        stored = {e["id"]: e for e, _, _ in updates}
        changed = await repository.load_many(conn, spec, None, [*(created or []), *stored])
        for record_id, record in changed.items():
            before = to_read(spec, stored[record_id]) if record_id in stored else None
            event = Event(
                conn, principal, spec.name, "update" if before else "create", record_id, to_read(spec, record), before
            )
            for hook in spec.after:
                await hook(event)


async def record_load(conn: AsyncConnection, resource: str, summary: dict[str, Any], *, action: str) -> None:
    """The audit row of rows the system generated and wrote in bulk (demo data): one per table."""
    await audit.record(conn, None, action=action, resource=resource, resource_id=None, after=summary)
