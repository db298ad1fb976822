"""Builds the five endpoints of a resource from its spec (thin: parse, call the service, answer).

No `from __future__ import annotations` here: the endpoint signatures use the spec's classes at run time.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import Field

from app.auth.principal import CurrentPrincipal, Principal, require
from app.common import resource as svc
from app.common.csv_export import csv_stream, wants_csv
from app.common.pagination import ListQuery, Page, next_link
from app.common.resource import ResourceSpec, etag_of, to_read
from app.common.responses import problems
from app.common.types import MAX_INT64
from app.db import DbConn
from app.errors import Forbidden

RecordId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The record's id")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200)]


class RecordListQuery(ListQuery):
    """Filters every operational-record list takes."""

    unit_id: Annotated[int | None, Field(ge=1, le=MAX_INT64)] = None
    from_: Annotated[date | None, Field(alias="from")] = None
    to: date | None = None


def set_etag(response: Response, spec: ResourceSpec, record: dict[str, Any]) -> None:
    response.headers["ETag"] = etag_of(spec, record)


def page_response(request: Request, response: Response, spec: ResourceSpec, rows, total, cursor) -> dict:
    if cursor:
        response.headers["Link"] = next_link(request, cursor)
    return {"items": [to_read(spec, r) for r in rows], "total": total, "next_cursor": cursor}


def stream_csv(request: Request, spec: ResourceSpec, principal: Principal, query, parent_id: int | None = None):
    engine = request.app.state.engine

    async def records():
        async with engine.connect() as conn:
            async for record in svc.iterate_all(conn, spec, principal, query, parent_id=parent_id):
                yield to_read(spec, record)

    return csv_stream(list(spec.read.model_fields), records(), spec.name)


def crud_router(
    spec: ResourceSpec,
    *,
    query_model: type = RecordListQuery,
    ops: tuple[str, ...] = ("list", "get", "create", "update", "delete"),
    tag: str | None = None,
    singular: str | None = None,
) -> APIRouter:
    router = APIRouter(prefix=f"/{spec.name}", tags=[tag or spec.name])
    plural = spec.name.replace("-", "_")
    one = singular or plural.rstrip("s")
    read_dep = require(spec.read_perm)
    write_dep = require(spec.write_perm)
    Read, Create, Update = spec.read, spec.create, spec.update

    if "list" in ops:

        @router.get(
            "",
            response_model=Page[Read],
            operation_id=f"list_{plural}",
            summary=f"List {spec.name}",
            responses={**problems(403), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
            dependencies=[read_dep],
        )
        async def list_records(
            request: Request,
            response: Response,
            conn: DbConn,
            principal: CurrentPrincipal,
            query: Annotated[query_model, Query()],
        ):
            if wants_csv(request):
                return stream_csv(request, spec, principal, query)
            rows, total, cursor = await svc.fetch_page(conn, spec, principal, query)
            return page_response(request, response, spec, rows, total, cursor)

    if "get" in ops:

        @router.get(
            "/{id}",
            response_model=Read,
            operation_id=f"get_{one}",
            summary=f"Get one of {spec.name}",
            responses=problems(403, 404),
            dependencies=[read_dep],
        )
        async def get_record(id: RecordId, response: Response, conn: DbConn, principal: CurrentPrincipal):
            record = await svc.load(conn, spec, principal, id)
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "create" in ops:

        @router.post(
            "",
            response_model=Read,
            status_code=201,
            operation_id=f"create_{one}",
            summary=f"Create one of {spec.name}",
            responses=problems(403, 409, 413),
            dependencies=[write_dep],
        )
        async def create_record(
            body: Create, request: Request, response: Response, conn: DbConn, principal: CurrentPrincipal
        ):
            record = await svc.create(conn, spec, principal, body)
            set_etag(response, spec, record)
            response.headers["Location"] = f"{request.url.path}/{record['id']}"
            return to_read(spec, record)

    if "update" in ops:

        @router.patch(
            "/{id}",
            response_model=Read,
            operation_id=f"update_{one}",
            summary=f"Update one of {spec.name}",
            responses=problems(403, 404, 409, 412, 413),
            dependencies=[write_dep],
        )
        async def update_record(
            id: RecordId,
            body: Update,
            response: Response,
            conn: DbConn,
            principal: CurrentPrincipal,
            if_match: IfMatch = None,
        ):
            record = await svc.update_record(conn, spec, principal, id, body, if_match=if_match)
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "delete" in ops:

        @router.delete(
            "/{id}",
            status_code=204,
            operation_id=f"delete_{one}",
            summary=f"Delete one of {spec.name}",
            responses=problems(403, 404, 409, 412),
            dependencies=[write_dep],
        )
        async def delete_record(id: RecordId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None):
            await svc.delete_record(conn, spec, principal, id, if_match=if_match)
            return Response(status_code=204)

    return router


def nested_router(
    parent: ResourceSpec,
    spec: ResourceSpec,
    segment: str,
    *,
    child_param: str,
    plural: str,
    singular: str,
    query_model: type = RecordListQuery,
    ops: tuple[str, ...] = ("list", "get", "create", "update", "delete"),
) -> APIRouter:
    """The five endpoints of records nested under a parent (`/{id}/<segment>[/{<child_param>}]`), to include
    in the parent's router. A parent the caller may not see is a 404, as is a record of another parent."""
    router = APIRouter(tags=[parent.name])
    base, one_path = f"/{{id}}/{segment}", f"/{{id}}/{segment}/{{{child_param}}}"
    ChildId = Annotated[int, Path(alias=child_param, ge=1, le=MAX_INT64, description="The nested record's id")]
    read_dep, write_dep = require(spec.read_perm), require(spec.write_perm)
    Read, Create, Update = spec.read, spec.create, spec.update

    if "list" in ops:

        @router.get(
            base,
            response_model=Page[Read],
            operation_id=f"list_{plural}",
            summary=f"List a {parent.name} record's {segment}",
            responses={**problems(403, 404), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
            dependencies=[read_dep],
        )
        async def list_nested(
            id: RecordId,
            request: Request,
            response: Response,
            conn: DbConn,
            principal: CurrentPrincipal,
            query: Annotated[query_model, Query()],
        ):
            await svc.load(conn, parent, principal, id)
            if wants_csv(request):
                return stream_csv(request, spec, principal, query, parent_id=id)
            rows, total, cursor = await svc.fetch_page(conn, spec, principal, query, parent_id=id)
            return page_response(request, response, spec, rows, total, cursor)

    if "get" in ops:

        @router.get(
            one_path,
            response_model=Read,
            operation_id=f"get_{singular}",
            summary=f"Get one of a {parent.name} record's {segment}",
            responses=problems(403, 404),
            dependencies=[read_dep],
        )
        async def get_nested(
            id: RecordId, child_id: ChildId, response: Response, conn: DbConn, principal: CurrentPrincipal
        ):
            record = await svc.load(conn, spec, principal, child_id, parent_id=id)
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "create" in ops:

        @router.post(
            base,
            response_model=Read,
            status_code=201,
            operation_id=f"create_{singular}",
            summary=f"Add one to a {parent.name} record's {segment}",
            responses=problems(403, 404, 409, 413),
            dependencies=[write_dep],
        )
        async def create_nested(
            id: RecordId, body: Create, request: Request, response: Response, conn: DbConn, principal: CurrentPrincipal
        ):
            await svc.load(conn, parent, principal, id)
            record = await svc.create(conn, spec, principal, body, parent_id=id)
            set_etag(response, spec, record)
            response.headers["Location"] = f"{request.url.path}/{record['id']}"
            return to_read(spec, record)

    if "update" in ops:

        @router.patch(
            one_path,
            response_model=Read,
            operation_id=f"update_{singular}",
            summary=f"Update one of a {parent.name} record's {segment}",
            responses=problems(403, 404, 409, 412, 413),
            dependencies=[write_dep],
        )
        async def update_nested(
            id: RecordId,
            child_id: ChildId,
            body: Update,
            response: Response,
            conn: DbConn,
            principal: CurrentPrincipal,
            if_match: IfMatch = None,
        ):
            record = await svc.update_record(conn, spec, principal, child_id, body, if_match=if_match, parent_id=id)
            set_etag(response, spec, record)
            return to_read(spec, record)

    if "delete" in ops:

        @router.delete(
            one_path,
            status_code=204,
            operation_id=f"delete_{singular}",
            summary=f"Delete one of a {parent.name} record's {segment}",
            responses=problems(403, 404, 409, 412),
            dependencies=[write_dep],
        )
        async def delete_nested(
            id: RecordId, child_id: ChildId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None
        ):
            await svc.delete_record(conn, spec, principal, child_id, if_match=if_match, parent_id=id)
            return Response(status_code=204)

    return router


__all__ = [
    "Forbidden",
    "IfMatch",
    "RecordId",
    "RecordListQuery",
    "crud_router",
    "nested_router",
    "page_response",
    "set_etag",
    "stream_csv",
]
