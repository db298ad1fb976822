"""The OpenAPI document as generated clients need it: one meaningful name per schema, and the headers the
service reads and sends declared where they apply.

FastAPI names a schema after its class, and two classes of one name become `app__pkg__module__Name` while
both keep the title `Name`, which generators (openapi-python-client, openapi-typescript) use as the type's
name: they then merge or drop the types. Rather than each resource working around that, every schema is
renamed here by one rule, so a new resource needs nothing; tests/api/test_openapi.py checks the result.
"""

from __future__ import annotations

import re
from typing import Any

from app.common.responses import problems_as_problem_json_only

_QUALIFIED = re.compile(r"^(?:[a-z0-9_]+__)+(?P<name>[A-Za-z0-9]+)$")
_BODY = re.compile(r"^Body_(?P<op>[a-z0-9_]+)$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

# Response headers, declared once and referenced by every response that carries them.
HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "The record's strong entity tag; send it back in If-Match to update or delete it",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page, as `<url>; rel="next"` (absent on the last page)',
        "schema": {"type": "string"},
    },
    "Location": {"description": "The new record's path", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: within 24 h the same key and body replay the first answer (with "
        "`Idempotent-Replayed: true`); the same key with another body is a 422, while the first still runs a 409"
    ),
    "schema": {"type": "string", "maxLength": 255},
}


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _singular(package: str) -> str:
    return _camel(package.removesuffix("s") if package.endswith("s") and not package.endswith("ss") else package)


def schema_names(document: dict[str, Any]) -> dict[str, str]:
    """Old component name -> new one, for the names generators mangle.

    `app__trainings__schemas__Audience` -> `TrainingAudience` (the package says whose it is);
    `Body_issue_token` (FastAPI's name for a form body) -> `IssueTokenRequest`; `Page_ForumRead_` -> its
    class's own name, `ForumPage` (app/common/pagination.py names the parametrized classes)."""
    schemas = document.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for key in schemas:
        if m := _QUALIFIED.match(key):
            package = key.split("__")[1] if key.startswith("app__") else key.split("__")[0]
            renames[key] = _singular(package) + m["name"]
        elif m := _BODY.match(key):
            renames[key] = _camel(m["op"]) + "Request"
        elif (title := schemas[key].get("title", key)) != key and _IDENTIFIER.match(title):
            renames[key] = title
    return renames


def _rewrite_refs(node: Any, refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and node["$ref"] in refs:
            return {**node, "$ref": refs[node["$ref"]]}
        return {k: _rewrite_refs(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, refs) for v in node]
    return node


def rename_schemas(document: dict[str, Any]) -> dict[str, Any]:
    renames = schema_names(document)
    if not renames:
        return document
    schemas = document["components"]["schemas"]
    document["components"]["schemas"] = {
        renames.get(key, key): ({**value, "title": renames[key]} if key in renames else value)
        for key, value in schemas.items()
    }
    prefix = "#/components/schemas/"
    return _rewrite_refs(document, {prefix + old: prefix + new for old, new in renames.items()})


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _json_schema_name(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


def declare_headers(document: dict[str, Any]) -> dict[str, Any]:
    """Headers that follow from the kind of operation, so no route has to repeat them:
    `Retry-After` on 429 and 503; `Location` on 201; `Link` on a page; on an authenticated POST the
    `Idempotency-Key` parameter (the middleware honours it there) and `Idempotent-Replayed` on its answers.
    `ETag` on a 200/201 that answers one record (a schema with `id` and `version`: every record read carries
    its ETag, app/common/router.py `set_etag`)."""
    document.setdefault("components", {})["headers"] = HEADERS
    schemas = document.get("components", {}).get("schemas", {})
    records = {name for name, schema in schemas.items() if {"id", "version"} <= set(schema.get("properties", {}))}
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            idempotent = method == "post" and bool(operation.get("security"))
            if idempotent and not any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                if status in ("429", "503"):
                    headers["Retry-After"] = _header_ref("Retry-After")
                if status == "201":
                    headers["Location"] = _header_ref("Location")
                if status == "200" and (_json_schema_name(response) or "").endswith("Page"):
                    headers["Link"] = _header_ref("Link")
                if status in ("200", "201") and _json_schema_name(response) in records:
                    headers["ETag"] = _header_ref("ETag")
                if idempotent and status < "500":
                    headers["Idempotent-Replayed"] = _header_ref("Idempotent-Replayed")
                if not headers:
                    del response["headers"]
    return document


def optional_bodies_without_null(document: dict[str, Any]) -> dict[str, Any]:
    """A body that may be left out is documented by FastAPI as `anyOf: [Body, null]`; `required: false`
    already says it may be absent, and openapi-python-client then sends its UNSET marker as JSON."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if not body or body.get("required"):
                continue
            for media in body.get("content", {}).values():
                variants = media.get("schema", {}).get("anyOf", [])
                kept = [v for v in variants if v != {"type": "null"}]
                if len(variants) == 2 and len(kept) == 1:
                    media["schema"] = kept[0]
    return document


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """The document FastAPI generated, named and annotated for generated clients."""
    document = rename_schemas(problems_as_problem_json_only(document))
    return declare_headers(optional_bodies_without_null(document))


def in_order(document: dict[str, Any], order: dict[str, int]) -> dict[str, Any]:
    """The document's paths ranked by `order` (path -> rank; unranked paths last), each rank keeping the order
    it was generated in: the routes are matched in another order than the one they are documented in."""
    paths = document.get("paths", {})
    ranked = sorted(enumerate(paths), key=lambda item: (order.get(item[1], len(order)), item[0]))
    return {**document, "paths": {p: paths[p] for _, p in ranked}}


def install(app: Any, order: dict[str, int] | None = None) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "openapi_document", None) is None:
            document = finish(generate())
            app.state.openapi_document = in_order(document, order) if order else document
        return app.state.openapi_document

    app.openapi = openapi
