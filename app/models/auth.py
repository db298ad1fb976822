from __future__ import annotations

from sqlmodel import Field

from app.models.base import RecordBase, fk


class User(RecordBase, table=True):
    __tablename__ = "users"

    username: str = Field(max_length=64, unique=True, nullable=False)
    password_hash: str = Field(max_length=255, nullable=False)
    role: str = Field(max_length=32, nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    full_name: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True, nullable=False)


class ApiClient(RecordBase, table=True):
    __tablename__ = "api_clients"

    name: str = Field(max_length=255, nullable=False)
    client_id: str = Field(max_length=64, unique=True, nullable=False)
    secret_hash: str = Field(max_length=255, nullable=False)
    role: str = Field(max_length=32, nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    active: bool = Field(default=True, nullable=False)
