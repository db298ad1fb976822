"""One error base class and the handlers that turn every failure into RFC 9457 problem details."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

import app.i18n as i18n

log = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class AppError(Exception):
    """Base of every error the API answers on purpose."""

    status = 400

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if status is not None:
            self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class Unauthorized(AppError):
    status = 401

    def __init__(self, detail: str = "A valid bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404

    def __init__(self, detail: str = "No such record.") -> None:
        super().__init__(detail)


class Conflict(AppError):
    status = 409


class PreconditionFailed(AppError):
    status = 412


class TooLarge(AppError):
    status = 413


class Invalid(AppError):
    """422 for a rule on the data; `loc` names the field as in FastAPI's own errors."""

    status = 422

    def __init__(self, detail: str, loc: list[str | int] | tuple | None = None, errors: list | None = None) -> None:
        if errors is None and loc is not None:
            errors = [{"loc": list(loc), "msg": detail}]
        super().__init__(detail, errors=errors)


class Unavailable(AppError):
    status = 503


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    title: str | None = None,
) -> Response:
    """A problem in the caller's language (app/i18n.py): title, detail and every `errors[].msg`."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": i18n.title(status, title or TITLES.get(status, "Error")),
        "status": status,
        "detail": i18n.say(detail),
    }
    if errors:
        body["errors"] = [{**e, "msg": i18n.say(e["msg"])} if "msg" in e else e for e in errors]
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**(headers or {}), **i18n.content_language()},
    )


def _clean_loc(loc: Any) -> list[Any]:
    return [part for part in loc if not (isinstance(part, str) and part.startswith("function-"))]


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": _clean_loc(err.get("loc", ())), "msg": i18n.pydantic_message(err)} for err in exc.errors()]


async def _app_error(_: Request, exc: AppError) -> Response:
    return problem(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)


RefusalBeforeBody = Callable[[Request], Awaitable[AppError | None]]


async def _no_refusal(_: Request) -> AppError | None:
    return None


async def _refusal_before_body(request: Request) -> Response | None:
    """The 401/403 that outranks a malformed body's 422 (API.md); how to find it is given by the app factory,
    since this module sits below the auth package."""
    find: RefusalBeforeBody = getattr(request.app.state, "refusal_before_body", _no_refusal)
    refusal = await find(request)
    return None if refusal is None else await _app_error(request, refusal)


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        refusal = await _refusal_before_body(request)
        if refusal is not None:
            return refusal
    errors = validation_errors(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    message = i18n.say(first["msg"])
    return problem(422, i18n.Said(f"{where}: {message}") if where else message, errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource."
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # undecodable bytes in a JSON or form body: malformed input is a 422 like any malformed JSON
        refusal = await _refusal_before_body(request)
        if refusal is not None:
            return refusal
        return problem(
            422,
            "The body could not be parsed (malformed JSON or not UTF-8).",
            errors=[{"loc": ["body"], "msg": "malformed body"}],
        )
    return problem(exc.status_code, detail, headers=headers)


def rolled_back(exc: BaseException) -> bool:
    """PostgreSQL undid the transaction for a concurrent one (SQLSTATE class 40: a deadlock, a serialization
    failure): the request may simply be sent again."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("40")


CONCURRENT = "The change ran into a concurrent one and was undone; send it again."


def is_unavailable(exc: BaseException) -> bool:
    """The database is down, restarting, unreachable, or cancelled a statement that ran too long."""
    if rolled_back(exc):
        return False
    if isinstance(exc, PoolTimeoutError | OSError | SAInterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)
    try:
        import psycopg

        # a connection kept outside the pool (the idempotency locks') sees a closed socket as InterfaceError
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    except ImportError:  # pragma: no cover
        return False


async def _db_error(_: Request, exc: DBAPIError) -> Response:
    if isinstance(exc, IntegrityError):
        return problem(409, "The change conflicts with an existing record.")
    if isinstance(exc, DataError):
        return problem(422, "A value is out of range or malformed for its field.")
    if rolled_back(exc):
        return _concurrent(exc)
    if is_unavailable(exc):
        return _unavailable(exc)
    log.exception("database error")
    return problem(500, "An unexpected error occurred.")


def _concurrent(exc: BaseException) -> Response:
    log.warning("transaction rolled back for a concurrent one: %s", exc.__class__.__name__)
    return problem(409, CONCURRENT, headers={"Retry-After": "1"})


def _unavailable(exc: BaseException) -> Response:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return problem(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "1"})


async def _pool_timeout(_: Request, exc: Exception) -> Response:
    return problem(503, "The service is busy; try again shortly.", headers={"Retry-After": "1"})


async def _unexpected(_: Request, exc: Exception) -> Response:
    if rolled_back(exc):  # the driver's own error (a COPY's), outside SQLAlchemy's wrapping
        return _concurrent(exc)
    if is_unavailable(exc):  # the driver's own error, or a socket's, seen outside SQLAlchemy's wrapping
        return _unavailable(exc)
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "An unexpected error occurred.")


def install(app: FastAPI, refusal_before_body: RefusalBeforeBody = _no_refusal) -> None:
    """The handlers; `refusal_before_body(request)` names the 401 or 403 a request with an unreadable body would
    have had, so that it is answered before the body's 422."""
    app.state.refusal_before_body = refusal_before_body
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DBAPIError, _db_error)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout)
    app.add_exception_handler(Exception, _unexpected)
