"""What the token endpoint and /auth/me answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from app.auth.permissions import Role


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(BaseModel):
    kind: Literal["user", "client"]
    id: int
    name: str
    role: Role
    unit_id: int
