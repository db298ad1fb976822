"""Keyset pagination with opaque, signed cursors, the list envelope and its Link header."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Generic, TypeVar

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


def encode_cursor(last_id: int) -> str:
    payload = str(last_id).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(payload)


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the page starts; a cursor this server did not issue is a 422."""
    if cursor is None:
        return None
    try:
        raw, sig = cursor.split(".", 1)
        payload = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        if not hmac.compare_digest(sig, _sign(payload)):
            raise ValueError
        value = int(payload.decode("ascii"))
        if value < 0:
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The cursor is not one this server issued.", loc=["query", "cursor"]) from None


def next_link(request: Request, cursor: str) -> str:
    url = request.url.include_query_params(cursor=cursor)
    return f'<{url}>; rel="next"'
