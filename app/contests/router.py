"""Contests (the shared CRUD), their entries nested under /contests/{id}/entries, and the results."""

from typing import Annotated

from fastapi import Path, Query, Request, Response

from app.auth.principal import CurrentPrincipal, require
from app.common import resource as svc
from app.common.csv_export import wants_csv
from app.common.pagination import Page
from app.common.responses import problems
from app.common.router import IfMatch, RecordId, crud_router, page_response, set_etag, stream_csv
from app.common.types import MAX_INT64
from app.contests import service
from app.contests.schemas import ContestQuery, ContestResults, EntryCreate, EntryQuery, EntryRead, EntryUpdate
from app.contests.service import entry_spec, spec
from app.db import DbConn

EntryId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The entry's id")]
Top = Annotated[int | None, Query(ge=1, le=100_000, description="Only the first `top` places of the ranking")]
CSV_OK = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}

router = crud_router(spec, query_model=ContestQuery, ops=("list", "get", "create", "update"))
read_entries = require(entry_spec.read_perm)
write_entries = require(entry_spec.write_perm)


@router.delete(
    "/{id}",
    status_code=204,
    operation_id="delete_contest",
    summary="Delete a contest that has no entries",
    responses=problems(403, 404, 409, 412),
    dependencies=[require(spec.write_perm)],
)
async def delete_contest(id: RecordId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None):
    await service.delete_contest(conn, principal, id, if_match=if_match)
    return Response(status_code=204)


@router.get(
    "/{id}/entries",
    response_model=Page[EntryRead],
    operation_id="list_contest_entries",
    summary="List a contest's entries",
    responses={**problems(403, 404), **CSV_OK},
    dependencies=[read_entries],
)
async def list_entries(
    id: RecordId,
    request: Request,
    response: Response,
    conn: DbConn,
    principal: CurrentPrincipal,
    query: Annotated[EntryQuery, Query()],
):
    await svc.load(conn, spec, principal, id)
    if wants_csv(request):
        return stream_csv(request, entry_spec, principal, query, parent_id=id)
    rows, total, cursor = await svc.fetch_page(conn, entry_spec, principal, query, parent_id=id)
    return page_response(request, response, entry_spec, rows, total, cursor)


@router.post(
    "/{id}/entries",
    response_model=EntryRead,
    status_code=201,
    operation_id="create_contest_entry",
    summary="Add an entry to a contest",
    responses=problems(403, 404, 409, 413),
    dependencies=[write_entries],
)
async def create_entry(
    id: RecordId, body: EntryCreate, request: Request, response: Response, conn: DbConn, principal: CurrentPrincipal
):
    await svc.load(conn, spec, principal, id)
    record = await svc.create(conn, entry_spec, principal, body, parent_id=id)
    set_etag(response, entry_spec, record)
    response.headers["Location"] = f"{request.url.path}/{record['id']}"
    return svc.to_read(entry_spec, record)


@router.get(
    "/{id}/entries/{entry_id}",
    response_model=EntryRead,
    operation_id="get_contest_entry",
    summary="Get one entry of a contest",
    responses=problems(403, 404),
    dependencies=[read_entries],
)
async def get_entry(id: RecordId, entry_id: EntryId, response: Response, conn: DbConn, principal: CurrentPrincipal):
    record = await svc.load(conn, entry_spec, principal, entry_id, parent_id=id)
    set_etag(response, entry_spec, record)
    return svc.to_read(entry_spec, record)


@router.patch(
    "/{id}/entries/{entry_id}",
    response_model=EntryRead,
    operation_id="update_contest_entry",
    summary="Update one entry of a contest",
    responses=problems(403, 404, 409, 412, 413),
    dependencies=[write_entries],
)
async def update_entry(
    id: RecordId,
    entry_id: EntryId,
    body: EntryUpdate,
    response: Response,
    conn: DbConn,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
):
    record = await svc.update_record(conn, entry_spec, principal, entry_id, body, if_match=if_match, parent_id=id)
    set_etag(response, entry_spec, record)
    return svc.to_read(entry_spec, record)


@router.delete(
    "/{id}/entries/{entry_id}",
    status_code=204,
    operation_id="delete_contest_entry",
    summary="Delete one entry of a contest",
    responses=problems(403, 404, 409, 412),
    dependencies=[write_entries],
)
async def delete_entry(id: RecordId, entry_id: EntryId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None):
    await svc.delete_record(conn, entry_spec, principal, entry_id, if_match=if_match, parent_id=id)
    return Response(status_code=204)


@router.get(
    "/{id}/results",
    response_model=ContestResults,
    operation_id="get_contest_results",
    summary="A contest's results: entries by unit with mean scores, and the ranking",
    description=(
        "Computed over the entries the caller may read. The ranking puts the higher score first, then the "
        "earlier `submitted_at`, then the lower entry id; `rank` is the place, 1 for the best."
    ),
    responses=problems(403, 404),
    dependencies=[read_entries],
)
async def get_results(id: RecordId, conn: DbConn, principal: CurrentPrincipal, top: Top = None):
    return await service.results(conn, principal, id, top=top)
