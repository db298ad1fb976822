from __future__ import annotations

from datetime import date

from sqlalchemy import Index
from sqlmodel import Field

from app.models.base import RecordBase, fk


class Unit(RecordBase, table=True):
    __tablename__ = "units"
    __table_args__ = (Index("ix_units_search_name", "search_name"),)

    code: str = Field(max_length=64, unique=True, nullable=False)
    name: str = Field(max_length=255, nullable=False)
    # name folded for search: lower case, no diacritics, đ -> d (same on SQLite and PostgreSQL)
    search_name: str = Field(max_length=255, nullable=False)
    kind: str = Field(max_length=32, nullable=False, index=True)
    parent_id: int | None = fk("units.id")
    is_pilot: bool = Field(default=False, nullable=False)
    staff_count: int = Field(default=0, nullable=False)
    established_on: date | None = None
    dissolved_on: date | None = None
    merged_into_id: int | None = fk("units.id", index=False)
