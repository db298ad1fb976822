"""Keyset pagination with opaque, signed cursors, the list envelope and its Link header."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from app.common.types import Text
from app.config import get_settings
from app.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        """`ForumPage` for `Page[ForumRead]`: the schema name generated clients give the class."""
        return params[0].__name__.removesuffix("Read") + "Page"


class ListQuery(BaseModel):
    """Query parameters every list takes."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[Text | None, Field(max_length=200)] = None


def _sign(payload: bytes) -> str:
    key = get_settings().secret_key.encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, b"cursor:" + payload, hashlib.sha256).digest()[:12]).decode().rstrip("=")
    )


class Cursor(NamedTuple):
    """Where the next page starts, and the total counted on the walk's first page (for the same query)."""

    after: int
    total: int | None = None
    walk: str = ""


def walk_key(*parts: object) -> str:
    """A short digest of what a total was counted for (resource, caller, filters): a cursor replayed with other
    filters or by another caller still says where to start, but its total is counted again."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_cursor(last_id: int, total: int | None = None, walk: str = "") -> str:
    """`<id>` (old form, still read) or `<id>:<total>:<walk>`, base64url, then an HMAC of it."""
    text = str(last_id) if total is None else f"{last_id}:{total}:{walk}"
    payload = text.encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(payload)


def decode_cursor(cursor: str | None) -> Cursor | None:
    """Where the page starts (and the carried total); a cursor this server did not issue is a 422."""
    if cursor is None:
        return None
    try:
        raw, sig = cursor.split(".", 1)
        payload = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        if not hmac.compare_digest(sig, _sign(payload)):
            raise ValueError
        after, *rest = payload.decode("ascii").split(":")
        value = int(after)
        total = int(rest[0]) if rest else None
        if value < 0 or (total is not None and total < 0) or len(rest) not in (0, 2):
            raise ValueError
        return Cursor(value, total, rest[1] if rest else "")
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The cursor is not one this server issued.", loc=["query", "cursor"]) from None


def next_link(request: Request, cursor: str) -> str:
    url = request.url.include_query_params(cursor=cursor)
    return f'<{url}>; rel="next"'
