from typing import Annotated, Any, Literal, get_args, get_origin

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.common.responses import problems
from app.db import DbConn
from app.errors import Forbidden
from app.i18n import content_language, say
from app.imports.engine import Outcome, run_import
from app.imports.parsers import MAX_ROWS, parse
from app.imports.registry import ImportResource, import_spec

router = APIRouter(prefix="/imports", tags=["imports"])


class ImportRowError(BaseModel):
    row: int
    field: str
    message: str


class ImportResult(BaseModel):
    resource: str
    dry_run: bool
    status: Literal["committed", "validated", "rejected"]
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowError]


def _is_list(annotation: Any) -> bool:
    if annotation is list or get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


def _list_fields(model: type[BaseModel]) -> set[str]:
    """Fields whose CSV/XLSX cell holds JSON (airings, participants, topics)."""
    return {name for name, f in model.model_fields.items() if _is_list(f.annotation)}


def _result(resource: str, dry_run: bool, outcome: Outcome) -> dict[str, Any]:
    rejected = bool(outcome.errors)
    return {
        "resource": resource,
        "dry_run": dry_run,
        "status": "rejected" if rejected else ("validated" if dry_run else "committed"),
        "created": 0 if rejected else outcome.created,
        "updated": 0 if rejected else outcome.updated,
        "unchanged": 0 if rejected else outcome.unchanged,
        "errors": [{"row": e.row, "field": e.field, "message": say(e.message)} for e in outcome.errors],
    }


@router.post(
    "/{resource}",
    response_model=ImportResult,
    operation_id="import_rows",
    summary="Import rows of a resource (JSON, CSV or XLSX): all written or none",
    description=(
        f'At most {MAX_ROWS} rows. JSON `{{"rows": [...]}}` (each row shaped like the resource\'s create body), '
        "`text/csv` (UTF-8, header row; list fields as JSON in their cell) or an `.xlsx` workbook (first sheet). "
        "Rows match on `id`, else on (`unit_id`, `external_ref`) (units: `code`); a row may name its unit by "
        "`unit_code`. Errors name their 1-based row (0: the header) and field. 200 when committed or validated "
        "(`dry_run=true`), 422 with every error when rejected (nothing written)."
    ),
    responses={
        **problems(403, 409, 413, 415),
        422: {
            "model": ImportResult,
            "description": "Rejected: every row error (nothing was written); or a body that could not be read at all",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                'One of three forms. `application/json`: `{"rows": [...]}`. `text/csv`: UTF-8 text (a BOM is '
                "allowed), a header row of field names, one row per record, list fields as JSON in their cell, "
                "e.g. for forums `unit_code,kind,held_on,title,attendees,questions_answered` then "
                "`PH-TANTHANH,village_forum,2024-03-12,Diễn đàn thôn,45,12`. "
                "`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`: an .xlsx workbook whose "
                "first sheet has the same header row and rows."
            ),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"rows": {"type": "array", "items": {"type": "object"}}},
                        "required": ["rows"],
                    }
                },
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
    dependencies=[require(Perm.IMPORT)],
)
async def import_rows(
    resource: Annotated[ImportResource, Path(description="the collection to import into")],
    request: Request,
    conn: DbConn,
    principal: CurrentPrincipal,
    dry_run: Annotated[bool, Query(description="validate everything, write nothing")] = False,
):
    if resource is ImportResource.UNITS and not principal.can(Perm.IMPORT_UNITS):
        raise Forbidden("Only the lead office imports units.")
    ispec = import_spec(resource)
    body = await request.body()
    # parsing megabytes of JSON, CSV or XLSX is CPU: in a worker thread, so that the event loop (every other
    # request of this process) gets the interpreter back every switch interval instead of waiting seconds
    parsed = await run_in_threadpool(
        parse, body, request.headers.get("content-type", ""), _list_fields(ispec.spec.create)
    )
    outcome = await run_import(conn, ispec, principal, parsed, dry_run=dry_run)
    result = _result(resource.value, dry_run, outcome)
    if outcome.errors:
        return JSONResponse(result, status_code=422, headers=content_language())
    return result
