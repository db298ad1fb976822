"""GET /reports/annual: the year's KPIs, monthly series and budget totals, as JSON or an Excel workbook."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.common.responses import problems
from app.db import DbConn
from app.reports import service
from app.reports.schemas import AnnualReportOut, AnnualReportQuery

router = APIRouter(prefix="/reports", tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/annual",
    response_model=AnnualReportOut,
    operation_id="get_annual_province_report",
    summary="The annual report (JSON, or `format=xlsx` for the workbook sent to the province)",
    responses={**problems(403, 422), 200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
    dependencies=[require(Perm.KPIS_READ)],
)
async def get_annual_report(conn: DbConn, principal: CurrentPrincipal, query: Annotated[AnnualReportQuery, Query()]):
    chosen = {"plan": query.plan, "year": query.year, "as_of": query.as_of}
    if query.format == "xlsx":
        book, year = await service.annual_workbook(conn, principal, **chosen)
        return Response(
            book,
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="bao-cao-nam-{year}.xlsx"'},
        )
    report = await service.annual(conn, principal, **chosen)
    return Response(orjson.dumps(report), media_type="application/json")
