"""Every answer a test receives is checked against the OpenAPI document: a header that generated clients
read (ETag, Link, Location, Retry-After, Idempotent-Replayed) must be declared for that operation and status,
so the document cannot drift from what the service sends."""

from __future__ import annotations

import re
from typing import Any

import httpx

CHECKED = ("etag", "link", "location", "retry-after", "idempotent-replayed")
_documents: dict[int, list[tuple[re.Pattern[str], str, dict[str, Any]]]] = {}


def _operations(app: Any) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    if id(app) not in _documents:
        out = []
        for path, operations in app.openapi()["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, operation in operations.items():
                out.append((pattern, method.upper(), operation))
        # literal paths (/units/import) before templated ones (/units/{id})
        out.sort(key=lambda item: item[0].pattern.count("[^/]+"))
        _documents[id(app)] = out
    return _documents[id(app)]


def undocumented_headers(app: Any, response: httpx.Response) -> list[str]:
    """The checked headers of this answer that its operation does not declare for its status."""
    request = response.request
    for pattern, method, operation in _operations(app):
        if method == request.method and pattern.match(request.url.path):
            declared = operation["responses"].get(str(response.status_code))
            if declared is None:
                return []  # an undocumented status is another test's business
            names = {name.lower() for name in declared.get("headers", {})}
            return [h for h in CHECKED if h in response.headers and h not in names]
    return []
