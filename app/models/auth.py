from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field

from app.db import UTCDateTime
from app.models.base import RecordBase, fk


class User(RecordBase, table=True):
    __tablename__ = "users"

    username: str = Field(max_length=64, unique=True, nullable=False)
    password_hash: str = Field(max_length=255, nullable=False)
    role: str = Field(max_length=32, nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    full_name: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True, nullable=False)
    # tokens issued before this second stop working (set when the password changes)
    credentials_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ApiClient(RecordBase, table=True):
    __tablename__ = "api_clients"

    name: str = Field(max_length=255, nullable=False)
    client_id: str = Field(max_length=64, unique=True, nullable=False)
    secret_hash: str = Field(max_length=255, nullable=False)
    role: str = Field(max_length=32, nullable=False)
    unit_id: int = fk("units.id", nullable=False)
    active: bool = Field(default=True, nullable=False)
