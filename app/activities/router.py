from typing import Annotated

from fastapi import Query, Request, Response

from app.activities.schemas import ActivityQuery, ActivityReportCreate, ActivityReportQuery, ActivityReportRead
from app.activities.service import report_spec, spec
from app.auth.principal import CurrentPrincipal, require
from app.common import resource as svc
from app.common.csv_export import wants_csv
from app.common.pagination import Page
from app.common.responses import problems
from app.common.router import RecordId, crud_router, page_response, set_etag, stream_csv
from app.db import DbConn

router = crud_router(spec, query_model=ActivityQuery, ops=("list", "get", "create", "update"), singular="activity")


@router.get(
    "/{id}/reports",
    response_model=Page[ActivityReportRead],
    operation_id="list_activity_reports",
    summary="List an activity's reports",
    responses={**problems(403, 404), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    dependencies=[require(report_spec.read_perm)],
)
async def list_reports(
    id: RecordId,
    request: Request,
    response: Response,
    conn: DbConn,
    principal: CurrentPrincipal,
    query: Annotated[ActivityReportQuery, Query()],
):
    await svc.load(conn, spec, principal, id)
    if wants_csv(request):
        return stream_csv(request, report_spec, principal, query, parent_id=id)
    rows, total, cursor = await svc.fetch_page(conn, report_spec, principal, query, parent_id=id)
    return page_response(request, response, report_spec, rows, total, cursor)


@router.post(
    "/{id}/reports",
    response_model=ActivityReportRead,
    status_code=201,
    operation_id="create_activity_report",
    summary="Report an activity's outputs for a period",
    responses=problems(403, 404, 409, 413),
    dependencies=[require(report_spec.write_perm)],
)
async def create_report(
    id: RecordId, body: ActivityReportCreate, response: Response, conn: DbConn, principal: CurrentPrincipal
):
    await svc.load(conn, spec, principal, id)
    record = await svc.create(conn, report_spec, principal, body, parent_id=id)
    set_etag(response, report_spec, record)
    return svc.to_read(report_spec, record)
