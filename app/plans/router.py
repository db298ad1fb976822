"""/plans, /plans/{id}/targets and /plans/{id}/copy: the shared endpoints plus the copy."""

from fastapi import Request, Response

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.common.resource import to_read
from app.common.responses import problems
from app.common.router import RecordId, crud_router, nested_router, set_etag
from app.db import DbConn
from app.plans.schemas import PlanCopy, PlanQuery, PlanRead, TargetQuery
from app.plans.service import copy_plan, spec, target_spec

router = crud_router(spec, query_model=PlanQuery, ops=("list", "get", "create", "update"), singular="plan")
router.include_router(
    nested_router(
        spec,
        target_spec,
        "targets",
        child_param="target_id",
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
    responses=problems(403, 404, 409, 413),
    dependencies=[require(Perm.CATALOGUE_WRITE)],
)
async def copy(
    id: RecordId, body: PlanCopy, request: Request, response: Response, conn: DbConn, principal: CurrentPrincipal
):
    plan = await copy_plan(conn, principal, id, body)
    set_etag(response, spec, plan)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{plan['id']}"
    return to_read(spec, plan)
