"""Budget rounds and submissions over HTTP: CRUD from the shared machinery, one endpoint per transition.

No `from __future__ import annotations`: the transition endpoints are built with their body types at run time.
"""

from typing import Annotated, Any

from fastapi import Depends, Response

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.budget import service
from app.budget.schemas import BudgetRoundQuery, BudgetRoundSummary, BudgetSubmissionQuery, BudgetSubmissionRead
from app.budget.workflow import TRANSITIONS, Transition
from app.common.responses import problems, record_headers
from app.common.router import IfMatch, RecordId, resource_router, set_etag
from app.common.spec import to_read
from app.db import DbConn

rounds_router = resource_router(service.round_spec, query_model=BudgetRoundQuery, singular="budget_round")


@rounds_router.get(
    "/{id}/summary",
    response_model=BudgetRoundSummary,
    operation_id="get_budget_round_summary",
    summary="Requested, appraised and approved totals of a round, by status and by unit",
    responses=problems(403, 404),
    dependencies=[require(Perm.BUDGET_READ)],
)
async def round_summary(id: RecordId, conn: DbConn) -> dict[str, Any]:
    return await service.round_summary(conn, id)


router = resource_router(service.spec, query_model=BudgetSubmissionQuery, singular="budget_submission")


def _add_transition(t: Transition) -> None:
    # The guard is a dependency, so it runs before FastAPI validates the body: a record out of scope is
    # a 404, a wrong actor a 403, a wrong status a 409 and a stale If-Match a 412 before any 422 on the body.
    async def guard(id: RecordId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None) -> dict:
        return await service.begin_transition(conn, principal, id, t.action, if_match=if_match)

    # The guard enforces the action's permission (after the scope's 404, see above); declared like
    # require(Perm.X) does, so that the route table says who may call every route.
    guard.required_permission = t.perm  # type: ignore[attr-defined]
    Guarded = Annotated[dict, Depends(guard)]

    async def finish(record: dict, body: Any, response: Response, conn, principal) -> dict:
        after = await service.transition(conn, principal, record, t.action, body)
        set_etag(response, service.spec, after)
        return to_read(service.spec, after)

    if t.body is None:

        async def endpoint(
            id: RecordId, record: Guarded, response: Response, conn: DbConn, principal: CurrentPrincipal
        ):
            return await finish(record, None, response, conn, principal)

    elif any(f.is_required() for f in t.body.model_fields.values()):
        Body = t.body

        async def endpoint(
            id: RecordId, record: Guarded, body: Body, response: Response, conn: DbConn, principal: CurrentPrincipal
        ):
            return await finish(record, body, response, conn, principal)

    else:  # every field optional: the body itself may be left out
        OptionalBody = t.body

        async def endpoint(
            id: RecordId,
            record: Guarded,
            response: Response,
            conn: DbConn,
            principal: CurrentPrincipal,
            body: OptionalBody | None = None,
        ):
            return await finish(record, body or OptionalBody(), response, conn, principal)

    sources = ", ".join(sorted(t.sources))
    router.add_api_route(
        f"/{{id}}/{t.action}",
        endpoint,
        methods=["POST"],
        response_model=BudgetSubmissionRead,
        operation_id=f"{t.action}_budget_submission",
        summary=t.summary,
        description=(
            f"From {sources} to {t.target}. Honours If-Match. A move that would take the year's requested, "
            "appraised or approved total (over its non-draft submissions) past 2^53 - 1 VND is a 422 naming it."
        ),
        responses={**problems(403, 404, 409, 412, 413), **record_headers()},
    )


for _t in TRANSITIONS.values():
    _add_transition(_t)
