"""Reading the file: a table of rows with their own line numbers, then the request bodies.

CSV and XLSX rows are sent as CSV text under the file's own header row, so the server reads every cell as its
CSV path does (empty cell: absent; list columns: JSON in the cell) and names columns as the file does. Title
rows above the header are not sent; every chunk repeats the header. JSON rows are sent as JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import orjson

from app.office.tables import OfficeFileError, csv_records, find_header, is_empty
from app.office.xlsx import Formula, SheetError, column_letters, read_rows

MAX_CHUNK = 50_000  # the server's limit per request
EXIT_OK, EXIT_REJECTED, EXIT_INPUT, EXIT_AUTH, EXIT_GAVE_UP = 0, 1, 2, 3, 4


class Stop(Exception):
    """Ends the run with a message and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Chunk:
    number: int  # 1-based
    body: bytes
    content_type: str
    places: list[int]  # where each row of the chunk is in the file (CSV line, sheet row, JSON index)


@dataclass
class Table:
    """A CSV or XLSX file as rows that hold a value, each with its line as a spreadsheet shows it."""

    kind: str  # "csv" | "xlsx"
    records: list[tuple[int, list[str]]]


@dataclass
class Source:
    path: Path
    kind: str  # "csv" | "xlsx" | "json"
    digest: str
    rows: int
    chunks: list[Chunk]
    header_line: int = 1

    @property
    def unit(self) -> str:
        return "item" if self.kind == "json" else "line"


def file_kind(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".json":
        return "json"
    if data[:2] == b"PK":
        return "xlsx"
    return "json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else "csv"


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export of the sheet would hold (a date-time without offset as the clerk
    typed it, dd/mm/yyyy hh:mm:ss, which the server reads as local time)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if value.time() == time.min:
                return value.date().isoformat()
            return value.strftime("%d/%m/%Y %H:%M:%S")
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def read_table(path: Path, data: bytes, kind: str) -> Table:
    """Every row of a CSV or of an .xlsx's first sheet (to its real extent) that holds a value; a formula
    anywhere stops the run before anything is sent."""
    if kind == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Stop(f"the file is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'", EXIT_INPUT) from None
        if "\x00" in text:
            raise Stop("the file contains NUL bytes: it is not a CSV text file", EXIT_INPUT)
        try:
            return Table("csv", list(csv_records(text)))
        except OfficeFileError as exc:
            raise Stop(str(exc), EXIT_INPUT) from None
    try:
        rows = list(read_rows(data))
    except SheetError as exc:
        raise Stop(f"{path.name}: {exc}", EXIT_INPUT) from None
    first = [cell_text(v).strip() for v in rows[0][1]] if rows else []  # the header, most often

    def column(position: int) -> str:
        return (first[position] if position < len(first) else "") or f"column {column_letters(position + 1)}"

    formulas = [
        f"  line {line}, {column(position)}: formulas are not accepted; paste the values"
        for line, cells in rows
        for position, cell in enumerate(cells)
        if isinstance(cell, Formula)
    ]
    if formulas:
        raise Stop("the sheet holds formulas; nothing was sent:\n" + "\n".join(formulas), EXIT_REJECTED)
    return Table("xlsx", [(line, [cell_text(v) for v in cells]) for line, cells in rows])


def table_source(path: Path, data: bytes, table: Table, known: Iterable[str], size: int) -> Source:
    """The table cut into chunks under its header (found below title rows by the names the server takes)."""
    if not table.records:
        raise Stop(f"the file has no header row ({path.name} is empty)", EXIT_INPUT)
    at = find_header(table.records, known)
    header_line, header = table.records[at]
    if not any(not is_empty(h) for h in header):
        raise Stop("the file has no header row (a row that names the columns)", EXIT_INPUT)
    records = table.records[at + 1 :]
    return Source(path, table.kind, _digest(data), len(records), _csv_chunks(header, records, size), header_line)


def json_source(path: Path, data: bytes, size: int) -> Source:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Stop(f"the file is not valid JSON: {exc}", EXIT_INPUT) from None
    if isinstance(doc, dict) and set(doc) == {"rows"} and isinstance(doc["rows"], list):
        rows = doc["rows"]
    elif isinstance(doc, list):
        rows = doc
    else:
        raise Stop('the JSON file must hold {"rows": [...]} or a list of rows', EXIT_INPUT)
    not_objects = [i for i, row in enumerate(rows, start=1) if not isinstance(row, dict)]
    if not_objects:
        raise Stop(f"item {not_objects[0]} of the rows is not an object", EXIT_INPUT)
    chunks = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        places = list(range(start + 1, start + len(part) + 1))
        chunks.append(Chunk(len(chunks) + 1, orjson.dumps({"rows": part}), "application/json", places))
    return Source(path, "json", _digest(data), len(rows), chunks)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Stop(f"cannot read {path}: {exc.strerror}", EXIT_INPUT) from None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _csv_chunks(header: list[str], records: list[tuple[int, list[str]]], size: int) -> list[Chunk]:
    chunks = []
    for start in range(0, len(records), size):
        part = records[start : start + size]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(values for _, values in part)
        chunks.append(
            Chunk(len(chunks) + 1, buf.getvalue().encode("utf-8"), "text/csv; charset=utf-8", [p for p, _ in part])
        )
    return chunks
