"""Builds the five endpoints of a resource from its spec (thin: parse, call the write service or the
repository, answer), top-level (`/<name>[/{id}]`) or nested under a parent (`/{id}/<segment>[/{child}]`).

No `from __future__ import annotations` here: the endpoint signatures use the spec's classes at run time.
"""

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from app.auth.deps import holding
from app.auth.principal import CurrentPrincipal, Principal
from app.common import repository, writes
from app.common.csv_export import csv_stream, wants_csv, with_unit_codes
from app.common.pagination import ListQuery, Page, next_link
from app.common.responses import problems, record_headers
from app.common.spec import ResourceSpec, etag_of, to_read
from app.common.types import MAX_INT64
from app.db import DbConn

RecordId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The record's id")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200)]
ALL_OPS = ("list", "get", "create", "update", "delete")


class RecordListQuery(ListQuery):
    """Filters every operational-record list takes."""

    unit_id: Annotated[int | None, Field(ge=1, le=MAX_INT64)] = None
    from_: Annotated[date | None, Field(alias="from")] = None
    to: date | None = None


def set_etag(response: Response, spec: ResourceSpec, record: dict[str, Any]) -> None:
    response.headers["ETag"] = etag_of(spec, record)


@cache
def _page_model(read: type[BaseModel]) -> type[BaseModel]:
    return Page[read]


def page_response(request: Request, response: Response, spec: ResourceSpec, rows, total, cursor) -> Response:
    """A list page, validated and serialised once, by pydantic-core, straight from the rows (FastAPI would
    validate each record a second time against the response model, then encode it in Python)."""
    if cursor:
        response.headers["Link"] = next_link(request, cursor)
    page = _page_model(spec.read).model_validate({"items": rows, "total": total, "next_cursor": cursor})
    return Response(
        page.model_dump_json(by_alias=True),
        media_type="application/json",
        headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"},
    )


def stream_csv(request: Request, spec: ResourceSpec, principal: Principal, query, parent_id: int | None = None):
    engine = request.app.state.engine

    async def records():
        read = (
            to_read(spec, r) async for r in repository.iterate_all(engine, spec, principal, query, parent_id=parent_id)
        )
        async for record in with_unit_codes(engine, read, list(spec.read.model_fields)):
            yield record

    return csv_stream(spec.read, records(), spec.name)


@dataclass(frozen=True)
class Nested:
    """Where a nested resource hangs: under `parent`'s records, at `/{id}/<segment>/{<child_param>}`."""

    parent: ResourceSpec
    segment: str
    child_param: str


@dataclass(frozen=True)
class Target:
    parent_id: int | None
    record_id: int


def resource_router(
    spec: ResourceSpec,
    *,
    query_model: type = RecordListQuery,
    ops: tuple[str, ...] = ALL_OPS,
    tag: str | None = None,
    plural: str | None = None,
    singular: str | None = None,
    nested: Nested | None = None,
    summaries: dict[str, str] | None = None,
) -> APIRouter:
    """The endpoints of `spec` named in `ops`. Nested ones are included in the parent's router; a parent the
    caller may not see is a 404, as is a record of another parent."""
    plural = plural or spec.name.replace("-", "_")
    one = singular or plural.rstrip("s")
    Reader, Writer = holding(spec.read_perm), holding(spec.write_perm)
    Read, Create, Update = spec.read, spec.create, spec.update

    if nested is None:
        router = APIRouter(prefix=f"/{spec.name}", tags=[tag or spec.name])
        base, item = "", "/{id}"
        where = {
            "list": f"List {spec.name}",
            "get": f"Get one of {spec.name}",
            "create": f"Create one of {spec.name}",
            "update": f"Update one of {spec.name}",
            "delete": f"Delete one of {spec.name}",
        }
        extra_404: tuple[int, ...] = ()

        async def parent_of() -> int | None:
            return None

        async def target(id: RecordId) -> Target:
            return Target(None, id)

    else:
        parent, segment = nested.parent, nested.segment
        router = APIRouter(tags=[tag or parent.name])
        base, item = f"/{{id}}/{segment}", f"/{{id}}/{segment}/{{{nested.child_param}}}"
        where = {
            "list": f"List a {parent.name} record's {segment}",
            "get": f"Get one of a {parent.name} record's {segment}",
            "create": f"Add one to a {parent.name} record's {segment}",
            "update": f"Update one of a {parent.name} record's {segment}",
            "delete": f"Delete one of a {parent.name} record's {segment}",
        }
        extra_404 = (404,)
        ChildId = Annotated[
            int, Path(alias=nested.child_param, ge=1, le=MAX_INT64, description="The nested record's id")
        ]

        async def parent_of(id: RecordId, conn: DbConn, principal: CurrentPrincipal) -> int | None:
            """The parent, seen as the caller sees it (404 otherwise); the endpoint checks the permission."""
            await repository.load(conn, parent, principal, id)
            return id

        async def target(id: RecordId, child_id: ChildId) -> Target:
            return Target(id, child_id)

    where.update(summaries or {})
    ParentId = Annotated[int | None, Depends(parent_of)]
    Located = Annotated[Target, Depends(target)]

    if "list" in ops:

        @router.get(
            base,
            response_model=Page[Read],
            operation_id=f"list_{plural}",
            summary=where["list"],
            responses={**problems(403, *extra_404), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
        )
        async def list_records(
            request: Request,
            response: Response,
            conn: DbConn,
            principal: Reader,
            parent_id: ParentId,
            query: Annotated[query_model, Query()],
        ):
            if wants_csv(request):
                return stream_csv(request, spec, principal, query, parent_id=parent_id)
            rows, total, cursor = await repository.fetch_page(conn, spec, principal, query, parent_id=parent_id)
            return page_response(request, response, spec, rows, total, cursor)

    if "get" in ops:

        @router.get(
            item,
            response_model=Read,
            operation_id=f"get_{one}",
            summary=where["get"],
            responses={**problems(403, 404), **record_headers()},
        )
        async def get_record(at: Located, response: Response, conn: DbConn, principal: Reader):
            record = await repository.load(conn, spec, principal, at.record_id, parent_id=at.parent_id)
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "create" in ops:

        @router.post(
            base,
            response_model=Read,
            status_code=201,
            operation_id=f"create_{one}",
            summary=where["create"],
            responses={**problems(403, 409, 413, *extra_404), **record_headers(201)},
        )
        async def create_record(
            body: Create, request: Request, response: Response, conn: DbConn, principal: Writer, parent_id: ParentId
        ):
            record = await writes.create(conn, spec, principal, body, parent_id=parent_id)
            set_etag(response, spec, record)
            response.headers["Location"] = f"{request.url.path}/{record['id']}"
            return to_read(spec, record)

    if "update" in ops:

        @router.patch(
            item,
            response_model=Read,
            operation_id=f"update_{one}",
            summary=where["update"],
            responses={**problems(403, 404, 409, 412, 413), **record_headers()},
        )
        async def update_record(
            at: Located, body: Update, response: Response, conn: DbConn, principal: Writer, if_match: IfMatch = None
        ):
            record = await writes.update(
                conn, spec, principal, at.record_id, body, if_match=if_match, parent_id=at.parent_id
            )
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "delete" in ops:

        @router.delete(
            item,
            status_code=204,
            operation_id=f"delete_{one}",
            summary=where["delete"],
            responses=problems(403, 404, 409, 412),
        )
        async def delete_record(at: Located, conn: DbConn, principal: Writer, if_match: IfMatch = None):
            await writes.delete(conn, spec, principal, at.record_id, if_match=if_match, parent_id=at.parent_id)
            return Response(status_code=204)

    return router


__all__ = [
    "IfMatch",
    "Nested",
    "RecordId",
    "RecordListQuery",
    "page_response",
    "resource_router",
    "set_etag",
    "stream_csv",
]
