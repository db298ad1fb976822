"""Columns every record has: id, created_at, updated_at, version; and column helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey
from sqlmodel import Field, SQLModel

from app.db import IdType, UTCDateTime


class RecordBase(SQLModel):
    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)


def fk(target: str, *, nullable: bool = True, index: bool = True, ondelete: str | None = None) -> Any:
    """A 64-bit foreign key column (a new Column per use, as SQLAlchemy requires)."""
    return Field(
        default=None,
        sa_column=Column(IdType, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


def instant(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))
