"""The resource declaration: what a resource is (table, schemas, filters, children, keys) and the typed hooks
its writes call. Queries live in `repository`, the one write path in `writes`, the endpoints in `router`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.errors import Invalid

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from app.common.writes import Ctx


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
    unit_field: str | None = None  # the field of a child row that names a unit (an import looks them up first)


@dataclass
class NaturalKey:
    columns: tuple[str, ...]
    message: str
    # skip the check when any of these columns is null (an optional external_ref)
    nullable: bool = False


# A rule of the record, whatever the operation: (ctx, the record as it will be, the stored one or None).
Rule = Callable[["Ctx", dict[str, Any], dict[str, Any] | None], Awaitable[None]]
# Who may write a record in this state (called with the new record on create, with the stored and the new
# one on update, with the stored one on delete). Raises Forbidden or Invalid.
MayWrite = Callable[["Ctx", dict[str, Any]], Awaitable[None]]
OnCreate = Callable[["Ctx", dict[str, Any]], Awaitable[None]]
OnUpdate = Callable[["Ctx", dict[str, Any], dict[str, Any]], Awaitable[None]]  # (ctx, new, stored)
OnDelete = Callable[["Ctx", dict[str, Any]], Awaitable[None]]  # (ctx, stored)


@dataclass(frozen=True)
class Event:
    """A change that happened, as the write path hands it to `after` hooks (the outbox), in the writing
    transaction: `record` is the record as its GET shows it (None after a delete), `before` as it was."""

    conn: AsyncConnection
    principal: Principal | None
    resource: str
    action: str  # create, update, delete, import, or a state change (submit, approve, revoke...)
    record_id: int | None
    record: dict[str, Any] | None
    before: dict[str, Any] | None = None


EventHook = Callable[[Event], Awaitable[None]]


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
    server_fields: Rule | None = None
    # replaces the default write scope (the record's unit in the caller's scope); the permission comes first
    may_write: MayWrite | None = None
    on_create: OnCreate | None = None
    on_update: OnUpdate | None = None
    on_delete: OnDelete | None = None
    # called after every change of this resource, in its transaction (the outbox's place)
    after: list[EventHook] = field(default_factory=list)
    parent: tuple[str, Table] | None = None  # nested resources: (fk column, parent table)
    # fields that depend on who reads (a submission's allowed_actions): record -> extra read values
    per_caller: Callable[[Principal, dict[str, Any]], dict[str, Any]] | None = None


def etag_of(spec: ResourceSpec, record: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"{spec.name}:{record['id']}:{record['version']}".encode()).hexdigest()[:20]
    return f'"{record["version"]}-{digest}"'


def to_read(spec: ResourceSpec, record: dict[str, Any]) -> dict[str, Any]:
    """The record as its GET shows it (JSON values)."""
    return spec.read.model_validate(record).model_dump(mode="json")


def split_body(spec: ResourceSpec, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the table's own columns, the child fields) of a record's values."""
    columns = set(spec.table.c.keys())
    child_fields = {c.field for c in spec.children}
    row = {k: v for k, v in data.items() if k in columns and k not in ("id", "version", "created_at", "updated_at")}
    kids = {k: v for k, v in data.items() if k in child_fields}
    return row, kids


def require_fields(data: dict[str, Any], names: Sequence[str]) -> None:
    """422 naming each of `names` that is missing or null (a rule's first line)."""
    missing = [n for n in names if data.get(n) is None]
    if missing:
        raise Invalid(
            f"{missing[0]} is required.", errors=[{"loc": ["body", n], "msg": "Field required"} for n in missing]
        )
