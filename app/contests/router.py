"""Contests (the shared CRUD), their entries nested under /contests/{id}/entries, and the results."""

from typing import Annotated

from fastapi import Query, Response

from app.auth.principal import CurrentPrincipal, require
from app.common.responses import problems
from app.common.router import IfMatch, RecordId, crud_router, nested_router
from app.contests import service
from app.contests.schemas import ContestQuery, ContestResults, EntryQuery
from app.contests.service import entry_spec, spec
from app.db import DbConn

Top = Annotated[int | None, Query(ge=1, le=100_000, description="Only the first `top` places of the ranking")]

router = crud_router(spec, query_model=ContestQuery, ops=("list", "get", "create", "update"))


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


router.include_router(
    nested_router(
        spec,
        entry_spec,
        "entries",
        child_param="entry_id",
        plural="contest_entries",
        singular="contest_entry",
        query_model=EntryQuery,
    )
)


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
    dependencies=[require(entry_spec.read_perm)],
)
async def get_results(id: RecordId, conn: DbConn, principal: CurrentPrincipal, top: Top = None):
    return await service.results(conn, principal, id, top=top)
