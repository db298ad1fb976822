"""Contests (the shared CRUD), their entries nested under /contests/{id}/entries, and the results."""

from typing import Annotated

from fastapi import Query

from app.auth.deps import holding
from app.common.responses import problems
from app.common.router import Nested, RecordId, resource_router
from app.contests import service
from app.contests.schemas import ContestQuery, ContestResults, EntryQuery
from app.contests.service import entry_spec, spec
from app.db import DbConn

Top = Annotated[int | None, Query(ge=1, le=100_000, description="Only the first `top` places of the ranking")]

router = resource_router(spec, query_model=ContestQuery, summaries={"delete": "Delete a contest that has no entries"})


router.include_router(
    resource_router(
        entry_spec,
        nested=Nested(spec, "entries", "entry_id"),
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
)
async def get_results(id: RecordId, conn: DbConn, principal: holding(entry_spec.read_perm), top: Top = None):
    return await service.results(conn, principal, id, top=top)
