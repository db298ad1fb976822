from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, Principal, require
from app.common.responses import problems
from app.db import DbConn
from app.errors import Forbidden
from app.i18n import content_language, say
from app.imports.columns import resource_columns
from app.imports.engine import Outcome, RowError, allowed_columns, run_import
from app.imports.parsers import MAX_ROWS, Parsed, parse
from app.imports.registry import ImportResource, import_spec
from app.imports.template import scope_units, template_json, template_xlsx

router = APIRouter(prefix="/imports", tags=["imports"])
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_BODY = {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}
ResourceParam = Annotated[ImportResource, Path(description="the collection to import into")]


def _parse_taking(held: list[bytes], *args: Any) -> Parsed:
    return parse(held.pop(), *args)


def _may_import(resource: ImportResource, principal: Principal) -> None:
    if resource is ImportResource.UNITS and not principal.can(Perm.IMPORT_UNITS):
        raise Forbidden("Only the lead office imports units.")


class ImportRowError(BaseModel):
    row: int = Field(description="1 = the first data row; 0 = the header")
    line: int | None = Field(
        None, description="CSV/XLSX: the row's number as a spreadsheet program shows it (null for JSON)"
    )
    field: str = Field(description="the field, or for CSV/XLSX the column's header as the file has it")
    message: str


class ImportResult(BaseModel):
    resource: str
    dry_run: bool
    status: Literal["committed", "validated", "rejected"]
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowError]


def _error(e: RowError, parsed: Parsed) -> dict[str, Any]:
    """An error as the client sees it: CSV/XLSX errors also name the file's line and its own column name."""
    line = parsed.line_of(e.row)
    if line is None:
        return {"row": e.row, "field": e.field, "message": say(e.message)}
    message = say(parsed.message(e.field.split(".")[0], e.message))
    return {"row": e.row, "line": line, "field": parsed.column_name(e.field), "message": message}


def _result(resource: str, dry_run: bool, outcome: Outcome, parsed: Parsed) -> dict[str, Any]:
    rejected = bool(outcome.errors)
    return {
        "resource": resource,
        "dry_run": dry_run,
        "status": "rejected" if rejected else ("validated" if dry_run else "committed"),
        "created": 0 if rejected else outcome.created,
        "updated": 0 if rejected else outcome.updated,
        "unchanged": 0 if rejected else outcome.unchanged,
        "errors": [_error(e, parsed) for e in outcome.errors],
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
        "`unit_code`. A CSV or XLSX file may be a filled-in template (title rows, an STT column, Vietnamese labels, "
        "DD/MM/YYYY dates). Errors name their 1-based row (0: the header), for CSV/XLSX the `line` as a "
        "spreadsheet shows it, and the field as the file's header names it. 200 when committed or validated "
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
                "allowed), a header row of field names or their labels, one row per record, list fields as JSON in "
                "their cell, e.g. for forums `unit_code,kind,held_on,title,attendees,questions_answered` then "
                "`PH-TANTHANH,village_forum,2024-03-12,Diễn đàn thôn,45,12`. "
                "`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`: an .xlsx workbook whose "
                "first sheet has the same header row and rows (a filled-in template works as it is)."
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
                **XLSX_BODY,
            },
        }
    },
    dependencies=[require(Perm.IMPORT)],
)
async def import_rows(
    resource: ResourceParam,
    request: Request,
    conn: DbConn,
    principal: CurrentPrincipal,
    dry_run: Annotated[bool, Query(description="validate everything, write nothing")] = False,
):
    _may_import(resource, principal)
    ispec = import_spec(resource)
    # read without Starlette's cache (request.body() keeps the bytes as long as the request): once parsed, the
    # body (13.7 MB for 50,000 forums as JSON) is let go before its rows are validated and written
    held = [b"".join([chunk async for chunk in request.stream()])]
    writable, ignored = allowed_columns(ispec)
    # parsing a large sheet takes seconds of CPU: off the event loop, so other requests go on. The body goes in
    # a list the parser empties: an idle worker thread keeps the arguments of the last call it ran
    parsed = await run_in_threadpool(
        _parse_taking, held, request.headers.get("content-type", ""), resource_columns(resource), writable | ignored
    )
    outcome = await run_import(conn, ispec, principal, parsed, dry_run=dry_run)
    result = _result(resource.value, dry_run, outcome, parsed)
    if outcome.errors:
        return JSONResponse(result, status_code=422, headers=content_language())
    return result


class TemplateValue(BaseModel):
    value: str
    label: str


class TemplateColumn(BaseModel):
    field: str
    label: str
    required: bool
    values: list[TemplateValue] | None = None


class ImportTemplate(BaseModel):
    resource: str
    columns: list[TemplateColumn]


@router.get(
    "/{resource}/template",
    response_model=ImportTemplate,
    response_model_exclude_none=True,
    operation_id="import_template",
    summary="The spreadsheet an office fills in to import a resource (or its columns as JSON)",
    description=(
        "An .xlsx: a title row, a header row of Vietnamese labels (one column per field a client may set, "
        "`unit_code` in place of `unit_id`), drop-down lists for every enumerated field and for the unit codes "
        "in your scope, `dd/mm/yyyy` date columns, and a sheet explaining each column. The import reads the "
        "filled-in file as it is. `format=json` answers the same columns as JSON."
    ),
    responses={
        **problems(403),
        200: {"content": XLSX_BODY},
    },
    dependencies=[require(Perm.IMPORT)],
)
async def import_template(
    resource: ResourceParam,
    conn: DbConn,
    principal: CurrentPrincipal,
    format: Annotated[Literal["xlsx", "json"], Query(description="xlsx (default) or json")] = "xlsx",
):
    _may_import(resource, principal)
    rc = resource_columns(resource)
    codes = await scope_units(conn, principal) if any(c.kind == "unit_code" for c in rc.columns) else []
    if format == "json":
        return template_json(rc, codes)
    body = await run_in_threadpool(template_xlsx, rc, codes)
    return Response(
        body,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="mau-nhap-{resource.value}.xlsx"'},
    )
