"""Per-request context that code deep in a service may need (the request id for audit rows)."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
