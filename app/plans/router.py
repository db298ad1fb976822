"""/plans, /plans/{id}/targets and /plans/{id}/copy: the shared endpoints plus the copy."""

from fastapi import Request, Response

from app.auth.deps import CatalogueWriter
from app.common.responses import problems, record_headers
from app.common.router import Nested, RecordId, resource_router, set_etag
from app.common.spec import to_read
from app.db import DbConn
from app.plans.schemas import PlanCopy, PlanQuery, PlanRead, TargetQuery
from app.plans.service import copy_plan, spec, target_spec

router = resource_router(spec, query_model=PlanQuery, ops=("list", "get", "create", "update"), singular="plan")
router.include_router(
    resource_router(
        target_spec,
        nested=Nested(spec, "targets", "target_id"),
        plural="plan_targets",
        singular="plan_target",
        query_model=TargetQuery,
    )
)


@router.post(
    "/{id}/copy",
    response_model=PlanRead,
    status_code=201,
    operation_id="copy_plan",
    summary="Start the next plan from this one: activities, quotas and plan-wide targets, in a new window",
    responses={**problems(403, 404, 409, 413), **record_headers(201)},
)
async def copy(
    id: RecordId, body: PlanCopy, request: Request, response: Response, conn: DbConn, principal: CatalogueWriter
):
    plan = await copy_plan(conn, principal, id, body)
    set_etag(response, spec, plan)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{plan['id']}"
    return to_read(spec, plan)
