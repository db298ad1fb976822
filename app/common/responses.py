"""OpenAPI descriptions of the problem answers, so generated clients know every status code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired token",
    403: "The caller's role may not do this, or the body names a unit outside its scope",
    404: "No such record in the caller's scope",
    406: "The requested media type is not offered",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Validation error",
    429: "Rate limited",
    503: "Database unavailable",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({401, 422, 429, 503, *codes}):
        out[code] = {
            "model": Problem,
            "description": _DESCRIPTIONS.get(code, "Error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def record_headers(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The answer of a route that sends one record with its ETag (`set_etag`): declared beside it, since the
    kind of route does not tell (app/common/openapi.py declares the headers that it does)."""
    return {status: {"headers": {"ETag": {"$ref": "#/components/headers/ETag"}}}}


def problems_as_problem_json_only(openapi: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files a response `model` under application/json too; a problem is only ever served as
    application/problem+json, so a generated client must not expect it as JSON."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if (
                    "application/problem+json" in content
                    and content.get("application/json", {}).get("schema") == _PROBLEM_REF
                ):
                    del content["application/json"]
    return openapi
