"""Bodies and answers of users and API clients (API.md section 2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.auth.permissions import Role
from app.common.pagination import ListQuery
from app.common.types import Id, Name, ReadSchema, Schema, Text

Username = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[Text, Field(min_length=8, max_length=256)]


class UserCreate(Schema):
    username: Username
    password: Password
    role: Role
    unit_id: Id
    full_name: Name | None = None


class UserUpdate(Schema):
    password: Password | None = None
    role: Role | None = None
    unit_id: Id | None = None
    full_name: Name | None = None
    active: bool | None = None


class UserRead(ReadSchema):
    username: str
    role: Role
    unit_id: int
    full_name: str | None
    active: bool


class UserQuery(ListQuery):
    role: Role | None = None
    unit_id: Id | None = None
    active: bool | None = None


class ApiClientCreate(Schema):
    name: Name
    role: Role
    unit_id: Id


class ApiClientUpdate(Schema):
    name: Name | None = None


class ApiClientRead(ReadSchema):
    name: str
    client_id: str
    role: Role
    unit_id: int
    active: bool


class ApiClientCreated(ApiClientRead):
    client_secret: str = Field(description="Shown once, in this answer only.")


class ApiClientQuery(ListQuery):
    role: Role | None = None
    unit_id: Id | None = None
    active: bool | None = None
