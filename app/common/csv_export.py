"""`Accept: text/csv` on a list: every matching row streamed as CSV, header first, as a Vietnamese office opens
it by double-click (API.md section 1): a UTF-8 byte-order mark, a `unit_code` column after every `unit_id`,
instants in local time with their offset, and a leading `'` on text a spreadsheet would run as a formula
(the import takes it away again, so an export still imports back unchanged)."""

from __future__ import annotations

import csv
import io
import types
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

import orjson
from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.office.tables import protect

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
BOM = "\ufeff"
CODE_BATCH = 500


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def code_column(column: str) -> str | None:
    """The code column that follows a unit-id column (`unit_id` -> `unit_code`), or None."""
    if column == "unit_id":
        return "unit_code"
    if column.endswith("_unit_id"):
        return column[: -len("_id")] + "_code"
    return None


def export_columns(read: type[BaseModel]) -> list[str]:
    columns = []
    for name in read.model_fields:
        columns.append(name)
        if (code := code_column(name)) is not None:
            columns.append(code)
    return columns


def _instant_converter(annotation: Any, depth: int = 0) -> Callable[[Any], Any] | None:
    """A function that writes the instants in a value of this type in local time (None: none in it)."""
    origin = get_origin(annotation)
    if depth > 5:
        return None
    if origin in (Annotated, Union, types.UnionType):
        found = [c for a in get_args(annotation) if (c := _instant_converter(a, depth + 1)) is not None]
        return found[0] if found else None
    if origin is list:
        inner = _instant_converter(get_args(annotation)[0], depth + 1)
        return None if inner is None else (lambda v: [inner(x) for x in v] if isinstance(v, list) else v)
    if isinstance(annotation, type) and issubclass(annotation, datetime):
        return _local_instant
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {
            n: c for n, f in annotation.model_fields.items() if (c := _instant_converter(f.annotation, depth + 1))
        }
        if not fields:
            return None
        return lambda v: {k: fields[k](x) if k in fields else x for k, x in v.items()} if isinstance(v, dict) else v
    return None


def _local_instant(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(LOCAL).isoformat() if moment.tzinfo is not None else value


def cell(value: Any) -> str:
    """One value as its CSV cell: numbers as numbers (a negative number is no formula), text protected."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict):
        return protect(orjson.dumps(value).decode())
    return protect(str(value))


def row_formatter(read: type[BaseModel]) -> Callable[[dict[str, Any]], list[str]]:
    columns = export_columns(read)
    convert = {n: c for n, f in read.model_fields.items() if (c := _instant_converter(f.annotation)) is not None}

    def format_row(record: dict[str, Any]) -> list[str]:
        return [cell(convert[c](record.get(c)) if c in convert else record.get(c)) for c in columns]

    return format_row


async def with_unit_codes(
    engine: AsyncEngine, records: AsyncIterator[dict[str, Any]], columns: list[str]
) -> AsyncIterator[dict[str, Any]]:
    """The records with their unit codes added, looked up in one query per batch of records, each on a
    connection held only for that query (never while the client reads)."""
    from app.db import reading
    from app.models import Unit

    units = Unit.__table__
    id_columns = [c for c in columns if code_column(c) is not None]
    if not id_columns:
        async for record in records:
            yield record
        return
    codes: dict[int, str] = {}
    batch: list[dict[str, Any]] = []

    async def flush() -> list[dict[str, Any]]:
        missing = {r[c] for r in batch for c in id_columns if isinstance(r.get(c), int)} - codes.keys()
        if missing:
            async with reading(engine) as conn:  # on SQLite: no write lock, so never behind an import
                rows = await conn.execute(select(units.c.id, units.c.code).where(units.c.id.in_(sorted(missing))))
                codes.update({row.id: row.code for row in rows})
        done = [{**r, **{code_column(c): codes.get(r.get(c)) for c in id_columns}} for r in batch]
        batch.clear()
        return done

    async for record in records:
        batch.append(record)
        if len(batch) >= CODE_BATCH:
            for done in await flush():
                yield done
    for done in await flush():
        yield done


def csv_stream(
    read: type[BaseModel] | list[str], records: AsyncIterator[dict[str, Any]], filename: str
) -> StreamingResponse:
    """`read`: the read schema (unit codes and local instants follow from its types), or bare column names."""
    if isinstance(read, list):
        columns = read

        def format_row(record: dict[str, Any]) -> list[str]:
            return [cell(record.get(c)) for c in columns]
    else:
        columns = export_columns(read)
        format_row = row_formatter(read)

    async def body() -> AsyncIterator[bytes]:
        buf = io.StringIO()
        buf.write(BOM)
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        count = 0
        async for record in records:
            writer.writerow(format_row(record))
            count += 1
            if count % 500 == 0:
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode("utf-8")

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
