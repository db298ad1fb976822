"""The one import engine: any resource's rows, validated exactly as its create/update endpoints validate
them, matched on (unit, external_ref) (units: code) or id, and written all together or not at all."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.common import audit
from app.common.bulk import allocate_ids, insert_rows, insert_values, select_by_keys
from app.common.resource import (
    Ctx,
    ResourceSpec,
    attach_children,
    refuse_nulled_required,
    split_body,
    validate,
    visible,
)
from app.db import utcnow
from app.errors import AppError, Forbidden
from app.imports.parsers import Parsed
from app.models import Unit

units = Unit.__table__
META = {"created_at", "updated_at", "version"}
CHUNK = 500


@dataclass
class ImportSpec:
    """How one resource imports: its record spec and the key rows match on."""

    spec: ResourceSpec
    match_on: tuple[str, ...] = ("unit_id", "external_ref")
    unit_code: bool = True  # rows may name their unit by `unit_code`


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class _Row:
    number: int
    raw: dict[str, Any]
    existing: dict[str, Any] | None = None
    data: dict[str, Any] | None = None  # validated: full record values for create, merged for update
    changes: dict[str, Any] | None = None


def _loc_field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts)


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def allowed_columns(ispec: ImportSpec) -> tuple[set[str], set[str]]:
    """(columns a row may set, read-only columns that are accepted and ignored)."""
    spec = ispec.spec
    writable = _fields(spec.create) | _fields(spec.update) | ({spec.parent[0]} if spec.parent else set())
    ignored = (_fields(spec.read) | META) - writable - {"id"}
    return writable | {"id"} | ({"unit_code"} if ispec.unit_code else set()), ignored


async def run_import(
    conn: AsyncConnection, ispec: ImportSpec, principal: Principal, parsed: Parsed, *, dry_run: bool
) -> Outcome:
    # tens of thousands of small dicts make the cyclic GC run over and over; none of them form cycles
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return await _run_import(conn, ispec, principal, parsed, dry_run=dry_run)
    finally:
        if was_enabled:
            gc.enable()


async def _run_import(
    conn: AsyncConnection, ispec: ImportSpec, principal: Principal, parsed: Parsed, *, dry_run: bool
) -> Outcome:
    spec = ispec.spec
    t = spec.table
    if not principal.can(spec.write_perm):
        raise Forbidden(f"The role '{principal.role}' may not write {spec.name}.")
    out = Outcome()
    err = out.errors.append
    for number, column, message in parsed.cell_errors:
        err(RowError(number, column, message))
    cell_errors = {(e.row, e.field) for e in out.errors}

    writable, ignored = allowed_columns(ispec)
    rows: list[_Row] = []
    tabular = parsed.columns is not None
    clean_keysets: set[frozenset[str]] = set()  # key sets seen to be all writable (rows mostly share one)
    for index, raw in enumerate(parsed.rows, start=1):
        number = raw.pop("__row__", index)
        keys = frozenset(raw)
        if keys in clean_keysets:
            kept = raw
        else:
            unknown = sorted(k for k in raw if k not in writable and k not in ignored)
            if unknown and not tabular:
                for k in unknown:
                    err(RowError(number, k, "unknown field"))
            kept = {k: v for k, v in raw.items() if k in writable}
            if len(kept) == len(raw):
                clean_keysets.add(keys)
        if tabular:
            for k, v in kept.items():
                # ids from a spreadsheet cell arrive as text; match on them as numbers
                if (
                    (k == "id" or k.endswith("_id"))
                    and isinstance(v, str)
                    and v.strip().isdigit()
                    and len(v.strip()) < 19
                ):
                    kept[k] = int(v.strip())
        rows.append(_Row(number, kept))
    if parsed.columns is not None:
        for k in sorted(c for c in parsed.columns if c not in writable and c not in ignored):
            err(RowError(0, k, "unknown column (row 0 is the header)"))

    # unit_code -> unit_id
    if ispec.unit_code and spec.unit_column:
        codes = sorted({str(r.raw["unit_code"]) for r in rows if r.raw.get("unit_code") not in (None, "")})
        found = {row["code"]: row["id"] for row in await select_by_keys(conn, units, ["code"], [(c,) for c in codes])}
        for r in rows:
            code = r.raw.pop("unit_code", None)
            if code in (None, ""):
                continue
            if str(code) not in found:
                err(RowError(r.number, "unit_code", f"no unit has code {code!r}"))
            elif r.raw.get(spec.unit_column) not in (None, found[str(code)]):
                err(RowError(r.number, "unit_code", "unit_code and unit_id name different units"))
            else:
                r.raw[spec.unit_column] = found[str(code)]

    # match: by id, else by the resource's key
    by_id = sorted({(r.raw["id"],) for r in rows if isinstance(r.raw.get("id"), int) and 0 < r.raw["id"] < 2**63})
    existing_by_id = {rec["id"]: rec for rec in await select_by_keys(conn, t, ["id"], by_id, visible(spec, principal))}
    key_cols = ispec.match_on
    keys = sorted(
        {
            tuple(r.raw.get(c) for c in key_cols)
            for r in rows
            if "id" not in r.raw and all(r.raw.get(c) is not None for c in key_cols)
        },
        key=repr,
    )
    existing_by_key: dict[tuple, dict[str, Any]] = {}
    for rec in await select_by_keys(conn, t, list(key_cols), keys):
        existing_by_key[tuple(rec[c] for c in key_cols)] = rec
    seen_keys: dict[tuple, int] = {}
    for r in rows:
        if "id" in r.raw:
            rid = r.raw["id"]
            if not isinstance(rid, int) or rid not in existing_by_id:
                err(RowError(r.number, "id", f"no record with id {rid!r} that you may change"))
                continue
            r.existing = existing_by_id[rid]
            key = ("id", rid)
        else:
            key = tuple(r.raw.get(c) for c in key_cols)
            if all(v is not None for v in key):
                r.existing = existing_by_key.get(key)
            else:
                key = None
        if key is not None:
            if key in seen_keys:
                err(
                    RowError(
                        r.number,
                        key_cols[-1] if key[0] != "id" else "id",
                        f"repeats row {seen_keys[key]} of this import",
                    )
                )
                continue
            seen_keys[key] = r.number

    if spec.children:
        await _load_children(conn, spec, [r.existing for r in rows if r.existing is not None])

    # every unit the rows name, and whether it is in the caller's scope, in one query per 500 units
    ctx = Ctx(conn, principal, spec)
    if spec.unit_column:
        named = {r.raw[spec.unit_column] for r in rows if isinstance(r.raw.get(spec.unit_column), int)}
        named |= {r.existing[spec.unit_column] for r in rows if r.existing is not None}
        await ctx.preload_units({u for u in named if 0 < u < 2**63})

    # rows that failed to match are not validated further; a row with a broken cell still is, so that
    # every error is reported (but not twice for the same cell)
    failed = {e.row for e in out.errors if (e.row, e.field) not in cell_errors}

    def row_err(e: RowError) -> None:
        if (e.row, e.field) not in cell_errors:
            err(e)

    for r in rows:
        if r.number not in failed:
            await _validate_row(ctx, ispec, r, row_err)

    await _check_natural_keys(conn, ispec, rows, err)
    if out.errors:
        out.errors.sort(key=lambda e: (e.row, e.field))
        return out

    creates = [r for r in rows if r.existing is None and r.data is not None]
    updates = [r for r in rows if r.existing is not None and r.data is not None and _changed(spec, r)]
    out.created, out.updated = len(creates), len(updates)
    out.unchanged = len(rows) - len(creates) - len(updates)
    if not dry_run:
        await _write(conn, spec, creates, updates)
        await audit.record(
            conn,
            principal,
            action="import",
            resource=spec.name,
            resource_id=None,
            after={"rows": len(rows), "created": out.created, "updated": out.updated, "unchanged": out.unchanged},
        )
    return out


async def _load_children(conn: AsyncConnection, spec: ResourceSpec, records: list[dict[str, Any]]) -> None:
    for i in range(0, len(records), CHUNK):
        await attach_children(conn, spec, records[i : i + CHUNK])


async def _validate_row(ctx: Ctx, ispec: ImportSpec, r: _Row, err) -> None:
    """One row through the same schema and rules as the create/update endpoints (scope checked in bulk)."""
    spec = ispec.spec
    raw = r.raw
    body = {k: v for k, v in raw.items() if k != "id"} if "id" in raw else dict(raw)
    parent: dict[str, Any] = {}
    if spec.parent is not None:
        # nested records (contest entries) name their parent in the row
        key = spec.parent[0]
        value = body.pop(key, None)
        if value is None and r.existing is None:
            err(RowError(r.number, key, "Field required"))
            return
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                err(RowError(r.number, key, "must be an integer id"))
                return
            if r.existing is not None and value != r.existing[key]:
                err(RowError(r.number, key, "a record cannot move to another parent"))
                return
            parent[key] = value
    existing = r.existing
    try:
        validated = (spec.create if existing is None else spec.update).model_validate(body)
    except ValidationError as exc:
        for e in exc.errors():
            err(RowError(r.number, _loc_field(e["loc"]), e["msg"]))
        return
    if existing is None:
        data = validated.model_dump()
        changes = data
    else:
        changes = validated.model_dump(exclude_unset=True)
        try:
            refuse_nulled_required(spec, changes)
        except AppError as exc:
            for e in exc.errors or []:
                err(RowError(r.number, _loc_field(e["loc"]), e["msg"]))
            return
        data = {**existing, **changes}
    if parent:
        data.update(parent)
    col = spec.unit_column
    unit_id = data.get(col) if col else None
    if unit_id is not None:
        if not ctx._scope.get(unit_id, False) and not await ctx.in_scope(unit_id):
            err(RowError(r.number, col, f"unit {unit_id} is outside your scope"))
            return
        if ctx._units.get(unit_id) is None and await ctx.unit(unit_id) is None:
            err(RowError(r.number, col, f"{unit_id} is not a unit"))
            return
    if spec.rules or spec.server_fields or spec.authorize_write:
        try:
            await validate(ctx, data, existing, natural_keys=False, scope_checked=True)
        except AppError as exc:
            field_name = _loc_field(exc.errors[0]["loc"]) if exc.errors else (col or "")
            err(RowError(r.number, field_name, exc.detail))
            return
    r.data, r.changes = data, changes


async def _check_natural_keys(conn: AsyncConnection, ispec: ImportSpec, rows: list[_Row], err) -> None:
    spec = ispec.spec
    t = spec.table
    for nk in spec.natural_keys:
        if set(nk.columns) == set(ispec.match_on):
            continue  # the key rows match on: a row that has it updates that record, repeats were refused above
        wanted: dict[tuple, _Row] = {}
        for r in rows:
            if r.data is None:
                continue
            key = tuple(r.data.get(c) for c in nk.columns)
            if any(v is None for v in key):
                continue
            if key in wanted:
                err(RowError(r.number, nk.columns[-1], f"{nk.message} (row {wanted[key].number} of this import)"))
                continue
            wanted[key] = r
        if not wanted:
            continue
        found = await select_by_keys(conn, t, list(nk.columns), list(wanted))
        for rec in found:
            r = wanted[tuple(rec[c] for c in nk.columns)]
            if r.existing is None or r.existing["id"] != rec["id"]:
                err(RowError(r.number, nk.columns[-1], nk.message))


def _changed(spec: ResourceSpec, r: _Row) -> bool:
    assert r.existing is not None and r.changes is not None
    return any(r.existing.get(k) != v for k, v in r.changes.items())


async def _write(conn: AsyncConnection, spec: ResourceSpec, creates: list[_Row], updates: list[_Row]) -> None:
    t = spec.table
    now = utcnow()
    if creates:
        columns = [c for c in t.c.keys() if c not in ("id", "created_at", "updated_at", "version")]  # noqa: SIM118
        # children need their parents' ids up front; otherwise the table's own sequence numbers the rows
        ids = await allocate_ids(conn, t, len(creates)) if spec.children else None
        derive = spec.derive
        values = []
        for r in creates:
            data = r.data if derive is None else {**r.data, **derive(r.data)}
            values.append((*[data.get(c) for c in columns], now, now, 1))
        columns += ["created_at", "updated_at", "version"]
        if ids is not None:
            columns.append("id")
            values = [(*v, rid) for v, rid in zip(values, ids, strict=True)]
        await insert_values(conn, t, columns, values)
        if ids is not None:
            await _write_children(
                conn, spec, [(rid, r.data) for rid, r in zip(ids, creates, strict=True)], replace=False
            )
    if updates:
        params = []
        for r in updates:
            data = dict(r.data)
            if spec.derive is not None:
                data.update(spec.derive(data))
            row, _ = split_body(spec, data)
            params.append(
                {
                    **{f"v_{k}": v for k, v in row.items()},
                    "b_id": r.existing["id"],
                    "b_version": r.existing["version"] + 1,
                }
            )
        columns = sorted({k[2:] for p in params for k in p if k.startswith("v_")})
        stmt = (
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values({**{c: bindparam(f"v_{c}") for c in columns}, "updated_at": now, "version": bindparam("b_version")})
        )
        params = [
            {**{f"v_{c}": p.get(f"v_{c}") for c in columns}, "b_id": p["b_id"], "b_version": p["b_version"]}
            for p in params
        ]
        for i in range(0, len(params), 5000):
            await conn.execute(stmt, params[i : i + 5000])
        await _write_children(conn, spec, [(r.existing["id"], r.changes) for r in updates], replace=True)


async def _write_children(
    conn: AsyncConnection, spec: ResourceSpec, items: list[tuple[int, dict[str, Any]]], *, replace: bool
) -> None:
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
