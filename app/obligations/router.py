"""GET /obligations and /obligations/summary: who owes what, and who is late (API.md section 11)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.common.csv_export import csv_stream, wants_csv, with_unit_codes
from app.common.pagination import next_link
from app.common.responses import problems
from app.db import DbConn
from app.obligations import service
from app.obligations.schemas import Obligation, ObligationPage, ObligationQuery, ObligationSummary, SummaryQuery

router = APIRouter(prefix="/obligations", tags=["obligations"])


async def _rows(items: list[dict]):
    for item in items:
        yield item


@router.get(
    "",
    response_model=ObligationPage,
    operation_id="list_obligations",
    summary="Every duty the plan puts on a unit, with its status as of a day (over the caller's scope for a unit)",
    responses={**problems(403, 422), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    dependencies=[require(Perm.KPIS_READ)],
)
async def list_obligations(
    request: Request,
    response: Response,
    conn: DbConn,
    principal: CurrentPrincipal,
    query: Annotated[ObligationQuery, Query()],
):
    if wants_csv(request):
        # read whole inside the request's transaction, so that no connection waits on a slow reader
        items = await service.every(conn, principal, query)
        return csv_stream(
            Obligation, with_unit_codes(request.app.state.engine, _rows(items), ["unit_id"]), "obligations"
        )
    items, total, cursor = await service.page(conn, principal, query)
    if cursor:
        response.headers["Link"] = next_link(request, cursor)
    return {"items": items, "total": total, "next_cursor": cursor}


@router.get(
    "/summary",
    response_model=ObligationSummary,
    operation_id="summarize_obligations",
    summary="Duties counted by unit and by duty for a year, most overdue first",
    responses=problems(403, 422),
    dependencies=[require(Perm.KPIS_READ)],
)
async def summarize_obligations(conn: DbConn, principal: CurrentPrincipal, query: Annotated[SummaryQuery, Query()]):
    return await service.summary(conn, principal, query)
