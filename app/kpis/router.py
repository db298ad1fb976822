"""GET /kpis and /kpis/{code}: answered as plain JSON bytes (KPIs are the hot read); schemas document them."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.common.responses import problems
from app.db import DbConn
from app.errors import NotFound
from app.kpis import service
from app.kpis.registry import BY_CODE
from app.kpis.schemas import KpiDetail, KpiList, KpiQuery

router = APIRouter(prefix="/kpis", tags=["kpis"])


def json_response(body: dict) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "",
    response_model=KpiList,
    operation_id="list_kpis",
    summary="The eight KPIs of the plan for a year (over the caller's scope for a unit)",
    responses=problems(403, 422),
    dependencies=[require(Perm.KPIS_READ)],
)
async def list_kpis(conn: DbConn, principal: CurrentPrincipal, query: Annotated[KpiQuery, Query()]):
    run = await service.context(conn, principal, plan=query.plan, year=query.year, as_of=query.as_of)
    items = await service.summary(conn, run)
    return json_response({**run.header(), "items": items})


@router.get(
    "/{code}",
    response_model=KpiDetail,
    operation_id="get_kpi",
    summary="One KPI with its per-unit breakdown",
    responses=problems(403, 404, 422),
    dependencies=[require(Perm.KPIS_READ)],
)
async def get_kpi(
    code: Annotated[str, Path(max_length=64, description="A KPI code, e.g. forum_compliance")],
    conn: DbConn,
    principal: CurrentPrincipal,
    query: Annotated[KpiQuery, Query()],
):
    kpi = BY_CODE.get(code)
    if kpi is None:
        raise NotFound(f"No KPI with code {code!r}; the codes are: {', '.join(BY_CODE)}.")
    run = await service.context(conn, principal, plan=query.plan, year=query.year, as_of=query.as_of)
    body = await service.detail(conn, kpi, run)
    return json_response({**run.header(), **body})
