from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from app.auth.deps import AuditReader
from app.auth.permissions import Perm
from app.common import repository
from app.common.csv_export import wants_csv
from app.common.pagination import ListQuery, Page
from app.common.responses import problems
from app.common.router import page_response, stream_csv
from app.common.spec import ResourceSpec
from app.common.types import Id, Schema
from app.db import DbConn
from app.models import AuditEvent
from app.timeutil import LOCAL_TZ

audit_events = AuditEvent.__table__


class AuditActor(BaseModel):
    kind: str
    id: int | None
    role: str | None
    unit_id: int | None


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor: AuditActor
    action: str
    resource: str
    resource_id: int | None
    before: Any
    after: Any
    request_id: str | None

    @model_validator(mode="before")
    @classmethod
    def _actor(cls, obj: Any) -> Any:
        """A row's actor_* columns make its `actor` (wherever the model validates one: a record or a page)."""
        if isinstance(obj, dict) and "actor" not in obj:
            return {
                **obj,
                "actor": {
                    "kind": obj["actor_kind"],
                    "id": obj["actor_id"],
                    "role": obj["actor_role"],
                    "unit_id": obj["actor_unit_id"],
                },
            }
        return obj


class AuditQuery(ListQuery):
    resource: Annotated[str | None, Field(max_length=64)] = None
    resource_id: Id | None = None
    actor_kind: Literal["user", "client", "system"] | None = None
    actor_id: Id | None = None
    from_: Annotated[date | None, Field(alias="from")] = None
    to: date | None = None


def _day_start(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), tzinfo=LOCAL_TZ)


spec = ResourceSpec(
    name="audit-events",
    table=audit_events,
    create=Schema,
    update=Schema,
    read=AuditEventRead,
    read_perm=Perm.AUDIT_READ,
    unit_column=None,
    date_column="at",
    date_is_instant=True,
    filters={
        "resource": lambda v: audit_events.c.resource == v,
        "resource_id": lambda v: audit_events.c.resource_id == v,
        "actor_kind": lambda v: audit_events.c.actor_kind == v,
        "actor_id": lambda v: audit_events.c.actor_id == v,
    },
)

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEventRead],
    operation_id="list_audit_events",
    summary="Every write, import and transition",
    responses={**problems(403), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_audit_events(
    request: Request,
    response: Response,
    conn: DbConn,
    principal: AuditReader,
    query: Annotated[AuditQuery, Query()],
):
    if wants_csv(request):
        return stream_csv(request, spec, principal, query)
    rows, total, cursor = await repository.fetch_page(conn, spec, principal, query)
    return page_response(request, response, spec, rows, total, cursor)
