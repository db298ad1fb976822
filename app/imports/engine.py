"""The one import engine: any resource's rows, validated exactly as its create/update endpoints validate
them, matched on (unit, external_ref) (units: code) or id, and written all together or not at all."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.common import repository, writes
from app.common.spec import ResourceSpec
from app.common.types import Id
from app.common.writes import Ctx
from app.errors import AppError
from app.i18n import pydantic_message
from app.imports.parsers import Parsed

META = {"created_at", "updated_at", "version"}
YIELD_EVERY = 500  # rows validated between two chances for the event loop to serve other requests
PACE = 10_000  # rows of a cheaper pass (matching, keys) between two such chances


@dataclass
class ImportSpec:
    """How one resource imports: its record spec and the key rows match on."""

    spec: ResourceSpec
    match_on: tuple[str, ...] = ("unit_id", "external_ref")
    unit_code: bool = True  # rows may name their unit by `unit_code`
    # other unit columns a row may name by code (units: `parent_code` for `parent_id`)
    code_columns: dict[str, str] = field(default_factory=dict)

    def codes(self) -> dict[str, str]:
        """code column -> the id column it fills."""
        own = {"unit_code": self.spec.unit_column} if self.unit_code and self.spec.unit_column else {}
        return {**own, **self.code_columns}


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


_DONE: Mapping[str, Any] = MappingProxyType({})  # a validated row's cells: none (one shared empty mapping)


@dataclass(slots=True)
class _Row:
    number: int
    raw: dict[str, Any]
    existing: dict[str, Any] | None = None
    data: dict[str, Any] | None = None  # validated: full record values for create, merged for update
    changes: dict[str, Any] | None = None
    checked: bool = False  # its checks have run (whether it passed them or not)


def _loc_field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts)


def _key_types(ispec: ImportSpec) -> dict[str, tuple[TypeAdapter, TypeAdapter]]:
    """Validators (one cell, a list of cells) for `id` and each column rows match on, as the create schema
    types it."""
    return _key_adapters(ispec.spec.create, ispec.match_on)


@lru_cache(maxsize=64)
def _key_adapters(create: type[BaseModel], match_on: tuple[str, ...]) -> dict[str, tuple[TypeAdapter, TypeAdapter]]:
    fields = create.model_fields
    types: dict[str, Any] = {"id": Id}
    for column in match_on:
        if column not in fields or column.endswith("_id"):
            types[column] = Id
        else:  # the field's own constraints too (a code's length and pattern), not the bare annotation
            types[column] = Annotated[fields[column].annotation, fields[column]]
    return {c: (TypeAdapter(t), TypeAdapter(list[t])) for c, t in types.items()}


def _read_keys(rows: list[_Row], column: str, adapter: TypeAdapter, many: TypeAdapter, err) -> None:
    """The rows' cells of one key column in one validation; row by row only when a cell is wrong."""
    try:
        for r, value in zip(rows, many.validate_python([r.raw[column] for r in rows]), strict=True):
            r.raw[column] = value
    except ValidationError:
        for r in rows:
            try:
                r.raw[column] = adapter.validate_python(r.raw[column])
            except ValidationError as exc:
                err(RowError(r.number, column, pydantic_message(exc.errors()[0])))


def _key_of(columns: tuple[str, ...]):
    """A row's key: its values of `columns` as a tuple (None where a cell is missing)."""
    return lambda raw: tuple(map(raw.get, columns))


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def allowed_columns(ispec: ImportSpec) -> tuple[set[str], set[str]]:
    """(columns a row may set, read-only columns that are accepted and ignored)."""
    spec = ispec.spec
    writable = _fields(spec.create) | _fields(spec.update) | ({spec.parent[0]} if spec.parent else set())
    ignored = (_fields(spec.read) | META) - writable - {"id"}
    return writable | {"id"} | set(ispec.codes()), ignored


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
    writes.check_permission(spec, principal)
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
        if index % PACE == 0:
            await asyncio.sleep(0)  # each pass over the rows is CPU: the loop serves other requests meanwhile
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
                # ids from a spreadsheet cell arrive as text; match on them as numbers (ASCII digits only:
                # str.isdigit() also takes "²" and "٢٥")
                if (k == "id" or k.endswith("_id")) and isinstance(v, str):
                    text = v.strip()
                    if text.isascii() and text.isdigit() and len(text) < 19:
                        kept[k] = int(text)
        rows.append(_Row(number, kept))
    if parsed.columns is not None:
        for k in sorted(c for c in parsed.columns if c not in writable and c not in ignored):
            err(RowError(0, k, "unknown column"))

    # unit_code -> unit_id (and the resource's other code columns)
    for code_col, id_col in ispec.codes().items():
        await asyncio.sleep(0)
        codes = sorted({str(r.raw[code_col]) for r in rows if r.raw.get(code_col) not in (None, "")})
        found = await repository.units_by_code(conn, codes) if codes else {}
        for r in rows:
            code = r.raw.pop(code_col, None)
            if code in (None, ""):
                continue
            if str(code) not in found:
                err(RowError(r.number, code_col, f"no unit has code {code!r}"))
            elif r.raw.get(id_col) not in (None, found[str(code)]):
                err(RowError(r.number, code_col, f"{code_col} and {id_col} name different units"))
            else:
                r.raw[id_col] = found[str(code)]

    # the cells rows are matched on, read as the schema reads them: a wrong type is an error of that cell,
    # and no query ever sees it
    for column, (adapter, many) in _key_types(ispec).items():
        named = [r for r in rows if r.raw.get(column) is not None]
        for start in range(0, len(named), PACE):
            await asyncio.sleep(0)
            _read_keys(named[start : start + PACE], column, adapter, many, err)
    bad_keys = {e.row for e in out.errors}
    await asyncio.sleep(0)

    # match: by id, else by the resource's key
    by_id = sorted({(r.raw["id"],) for r in rows if r.number not in bad_keys and r.raw.get("id") is not None})
    # the matched records are locked (PostgreSQL) until this import commits: a PATCH meanwhile waits for it
    existing_by_id = await repository.load_many(conn, spec, principal, [k[0] for k in by_id], for_update=True)
    await asyncio.sleep(0)
    key_cols = ispec.match_on
    key_of = _key_of(key_cols)
    wanted = {
        key for r in rows if r.number not in bad_keys and "id" not in r.raw and None not in (key := key_of(r.raw))
    }
    # the records found are locked in id order (find_by_keys): two imports lock the records they share in the
    # same order, whatever order their rows come in
    keys = list(wanted)
    del wanted
    # the database looks the keys up while the rows are checked for repeated keys (which needs no record)
    lookup = asyncio.ensure_future(repository.find_by_keys(conn, spec, list(key_cols), keys, for_update=True))
    try:
        await asyncio.sleep(0)  # the lookup's query is sent before the check starts
        by_key = await _repeats(rows, bad_keys, existing_by_id, key_of, key_cols, err)
    finally:
        key_matched = await lookup  # the connection is free again before anything else asks it
    del keys  # 50,000 key tuples: not held while the rows are validated
    await repository.attach_children(conn, spec, key_matched)
    if key_matched:
        existing_by_key = {key_of(rec): rec for rec in key_matched}
        for r in by_key:
            r.existing = existing_by_key.get(key_of(r.raw))
        if by_id:  # one row may name a record by its id and another by its key: the second repeats the first
            _same_record(rows, {e.row for e in out.errors}, key_cols, err)
    del by_key
    await asyncio.sleep(0)

    # every unit the rows name, and whether it is in the caller's scope, in one query per 500 units
    ctx = Ctx(conn, principal, spec)
    if spec.unit_column:
        named = {r.raw[spec.unit_column] for r in rows if type(r.raw.get(spec.unit_column)) is int}
        named |= {r.existing[spec.unit_column] for r in rows if r.existing is not None}
        for child in spec.children:  # units child rows name (a training's participants)
            if child.unit_field is not None:
                named |= {
                    item.get(child.unit_field)
                    for r in rows
                    if isinstance(r.raw.get(child.field), list)
                    for item in r.raw[child.field]
                    if isinstance(item, dict) and type(item.get(child.unit_field)) is int
                }
        await ctx.preload_units(named)

    # rows that failed to match are not validated further; a row with a broken cell still is, so that
    # every error is reported (but not twice for the same cell)
    failed = {e.row for e in out.errors if (e.row, e.field) not in cell_errors}

    def row_err(e: RowError) -> None:
        if (e.row, e.field) not in cell_errors:
            err(e)

    parsed.rows.clear()  # each row's cells live on in its _Row only until it is validated
    todo = [r for r in rows if r.number not in failed]
    if not out.errors and _streams(conn, ispec, dry_run):
        # changes first, then the new records checked slice by slice as COPY writes them
        await _check(ctx, ispec, [r for r in todo if r.existing is not None], row_err)
        if not out.errors and await _stream(ctx, ispec, out, rows, [r for r in todo if r.existing is None], row_err):
            out.errors.sort(key=lambda e: (e.row, e.field))
            return out
    await _check(ctx, ispec, [r for r in todo if not r.checked], row_err)

    checked = [r for r in rows if r.data is not None]
    items = [(r.data, r.existing["id"] if r.existing else None) for r in checked]
    for index, nk, message in await writes.natural_key_clashes(ctx, items, skip=ispec.match_on):
        err(RowError(checked[index].number, nk.columns[-1], message.replace("item", "row")))
    if out.errors:
        out.errors.sort(key=lambda e: (e.row, e.field))
        return out
    creates = [r for r in rows if r.existing is None and r.data is not None]
    await _write(ctx, ispec, out, rows, [r.data for r in creates], dry_run=dry_run)
    return out


async def _repeats(
    rows: list[_Row], bad_keys: set[int], existing_by_id: dict[int, Any], key_of, key_cols: tuple[str, ...], err
) -> list[_Row]:
    """Rows that repeat an earlier row's id or key are errors; a row with an id gets its record. Returns the rows
    that name their key in full (each to be matched with the record found for it, if any)."""
    seen: dict[tuple, int] = {}
    by_key: list[_Row] = []
    for index, r in enumerate(rows, start=1):
        if index % PACE == 0:
            await asyncio.sleep(0)
        if r.number in bad_keys:
            continue
        named = "id" not in r.raw
        if named:
            key = key_of(r.raw)
            if None in key:
                continue
        else:
            rid = r.raw["id"]
            if not isinstance(rid, int) or rid not in existing_by_id:
                err(RowError(r.number, "id", f"no record with id {rid!r} that you may change"))
                continue
            r.existing = existing_by_id[rid]
            key = ("id", rid)
        if key in seen:
            err(RowError(r.number, key_cols[-1] if named else "id", f"repeats row {seen[key]} of this import"))
            continue
        seen[key] = r.number
        if named:
            by_key.append(r)
    return by_key


def _same_record(rows: list[_Row], errored: set[int], key_cols: tuple[str, ...], err) -> None:
    """A row that names the record an earlier row named (one by its id, the other by its key) is an error: two
    changes of one record would meet in the write as a 409 "changed meanwhile"."""
    first: dict[int, int] = {}
    for r in rows:
        if r.existing is None or r.number in errored:
            continue
        rid = r.existing["id"]
        if rid in first:
            field = "id" if "id" in r.raw else key_cols[-1]
            err(RowError(r.number, field, f"repeats row {first[rid]} of this import"))
        else:
            first[rid] = r.number


class _Invalid(Exception):
    """A row streaming into COPY failed its checks: the write stops and is undone."""


class _Busy(Exception):
    """A rule asked the database while rows were streaming into COPY."""


class _Copying:
    """The connection the rules see while new rows stream into COPY, which holds the real one: asking it anything
    stops the stream, and the import checks and writes the rows the plain way instead."""

    def __getattr__(self, name: str) -> Any:
        raise _Busy(name)


def _streams(conn: AsyncConnection, ispec: ImportSpec, dry_run: bool) -> bool:
    """Whether new records may be checked while they are written: on PostgreSQL (the database stores and checks
    the rows of one COPY statement while the next rows are checked), for a write, and where no natural key
    but the rows' own match key needs every row checked before any is written."""
    keys = {frozenset(nk.columns) for nk in ispec.spec.natural_keys} - {frozenset(ispec.match_on)}
    return conn.dialect.name == "postgresql" and not dry_run and not keys


async def _stream(ctx: Ctx, ispec: ImportSpec, out: Outcome, rows: list[_Row], new: list[_Row], err) -> bool:
    """Check the new records slice by slice as COPY writes them, within a savepoint: True when done (all
    written, or a row failed: the write undone and every row checked for its errors); False when a rule
    asked the database, which COPY holds: nothing written, and the rows not yet checked are left unchecked.
    50,000 forums: 10-20% faster than checking them all before the write (each COPY statement's foreign keys
    and triggers, a third of the write, run while the next rows are checked)."""
    copying = replace(ctx, conn=_Copying())  # the same cached units, no connection
    chunks = _slices(new)

    async def checked(chunk: list[_Row]) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        await _validate_rows(copying, ispec, chunk, err)
        if any(r.data is None for r in chunk):
            raise _Invalid
        return [r.data for r in chunk]  # type: ignore[misc]

    try:
        # the first slice before anything is written: rules that always ask the database (units) go the
        # plain way at once, with no write begun and undone
        first = await checked(next(chunks, []))
    except _Invalid:
        await _check(ctx, ispec, [r for r in new if not r.checked], err)
        return True
    except _Busy:
        return False

    async def lists() -> AsyncIterator[list[dict[str, Any]]]:
        yield first
        for chunk in chunks:
            yield await checked(chunk)

    try:
        async with ctx.conn.begin_nested():
            await _write(ctx, ispec, out, rows, repository.Incoming(len(new), lists()), dry_run=False)
    except _Invalid:  # nothing written: the rest are checked for their errors too
        out.created = out.updated = out.unchanged = 0
        await _check(ctx, ispec, [r for r in new if not r.checked], err)
        return True
    except _Busy:
        out.created = out.updated = out.unchanged = 0
        return False
    return True


def _slices(rows: list[_Row]) -> Iterator[list[_Row]]:
    return (rows[i : i + YIELD_EVERY] for i in range(0, len(rows), YIELD_EVERY))


async def _check(ctx: Ctx, ispec: ImportSpec, rows: list[_Row], err) -> None:
    for chunk in _slices(rows):
        # validation is CPU: let the loop serve other requests between slices of rows
        await asyncio.sleep(0)
        await _validate_rows(ctx, ispec, chunk, err)


async def _write(
    ctx: Ctx,
    ispec: ImportSpec,
    out: Outcome,
    rows: list[_Row],
    creates: list[dict[str, Any]] | repository.Incoming,
    *,
    dry_run: bool,
) -> None:
    """Count what the import does and (unless a dry run) write it: the new records and the changes."""
    spec = ispec.spec
    created = creates.count if isinstance(creates, repository.Incoming) else len(creates)
    updates = [r for r in rows if r.existing is not None and r.data is not None and _changed(spec, r)]
    out.created, out.updated = created, len(updates)
    out.unchanged = len(rows) - created - len(updates)
    if dry_run:
        return
    await writes.write_many(
        ctx.conn,
        spec,
        ctx.principal,
        creates,
        [(r.existing, r.data, r.changes) for r in updates],
        summary={"rows": len(rows), "created": out.created, "updated": out.updated, "unchanged": out.unchanged},
    )


def _body(ispec: ImportSpec, r: _Row, err) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A row's body for the create or update schema and its parent (nested records), or None after an error."""
    spec = ispec.spec
    raw = r.raw
    # the schema only reads the cells: a copy only where something is taken out (the id, a parent)
    taken = "id" in raw or spec.parent is not None
    body = {k: v for k, v in raw.items() if k != "id"} if taken else raw
    parent: dict[str, Any] = {}
    if spec.parent is not None:
        # nested records (contest entries) name their parent in the row
        key = spec.parent[0]
        value = body.pop(key, None)
        if value is None and r.existing is None:
            err(RowError(r.number, key, "Field required"))
            return None
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                err(RowError(r.number, key, "must be an integer id"))
                return None
            if r.existing is not None and value != r.existing[key]:
                err(RowError(r.number, key, "a record cannot move to another parent"))
                return None
            parent[key] = value
    return body, parent


@lru_cache(maxsize=64)
def _many(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


async def _validate_rows(ctx: Ctx, ispec: ImportSpec, rows: list[_Row], err) -> None:
    """Rows through the same schema and rules as the create/update endpoints (scope checked in bulk). The new
    records' bodies are validated and dumped in one pydantic call for the slice (row by row only when one of
    them is wrong, for its errors); changes row by row (a PATCH's unset fields must stay unset)."""
    spec = ispec.spec
    creates: list[tuple[_Row, dict[str, Any], dict[str, Any]]] = []
    for r in rows:
        found = _body(ispec, r, err)
        if found is None:
            r.checked = True
        elif r.existing is None:
            creates.append((r, *found))
        else:
            await _validate_row(ctx, ispec, r, spec.update, *found, err)
            r.checked = True
    if not creates:
        return
    try:
        many = _many(spec.create)
        values = many.dump_python(many.validate_python([body for _, body, _ in creates]))
    except ValidationError:
        for r, body, parent in creates:
            await _validate_row(ctx, ispec, r, spec.create, body, parent, err)
            r.checked = True
        return
    for (r, _, parent), data in zip(creates, values, strict=True):
        await _prepare(ctx, ispec, r, {**data, **parent} if parent else data, err)
        r.checked = True


async def _validate_row(
    ctx: Ctx, ispec: ImportSpec, r: _Row, schema: type[BaseModel], body: dict[str, Any], parent: dict[str, Any], err
) -> None:
    try:
        validated = schema.model_validate(body)
    except ValidationError as exc:
        for e in exc.errors():
            err(RowError(r.number, _loc_field(e["loc"]), pydantic_message(e)))
        return
    if r.existing is None:
        await _prepare(ctx, ispec, r, {**validated.model_dump(), **parent}, err)
    else:
        await _prepare(ctx, ispec, r, {**validated.model_dump(exclude_unset=True), **parent}, err)


async def _prepare(ctx: Ctx, ispec: ImportSpec, r: _Row, values: dict[str, Any], err) -> None:
    """The write path's checks (steps 2-4) for a validated row; its cells are dropped once it has its values."""
    spec = ispec.spec
    try:
        if r.existing is None:
            # a create keeps only its values: no copy of what was asked (an update needs it to tell a change)
            r.data = await writes.prepare_create(ctx, values, natural_keys=False)
        else:
            r.changes = values
            r.data = await writes.prepare_update(ctx, r.existing, values, natural_keys=False)
    except AppError as exc:
        r.data = None
        if exc.errors:
            for e in exc.errors:
                err(RowError(r.number, _loc_field(e["loc"]), pydantic_message(e)))
        else:
            err(RowError(r.number, spec.unit_column or "", exc.detail))
        return
    r.raw = _DONE  # the validated values replace the cells: half the rows' memory at the peak


def _changed(spec: ResourceSpec, r: _Row) -> bool:
    assert r.existing is not None and r.changes is not None
    return any(r.existing.get(k) != v for k, v in r.changes.items())
