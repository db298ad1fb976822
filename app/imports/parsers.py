"""Turn an import body (JSON, CSV or XLSX) into rows of plain values, refusing oversized files early.

A CSV or XLSX file is read as an office leaves it (API.md section 7): the header is found below title rows,
an STT column is ignored, labels stand for field names and enum values, dates may be DD/MM/YYYY or date
cells, empty rows are skipped, and a total row or an unreadable row is an error of that row. The rows that
reach the engine are keyed by field name and carry plain values, so the engine validates them like JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from pydantic_core import from_json

from app.errors import AppError, Invalid, TooLarge
from app.office.tables import (
    ROW_NUMBER_HEADERS,
    OfficeFileError,
    csv_records,
    find_header,
    is_empty,
    label_key,
    plain_key,
    unprotect,
)
from app.office.xlsx import Formula, SheetError, SheetTooLarge, read_rows

if TYPE_CHECKING:
    from app.imports.columns import Column, ResourceColumns

MAX_ROWS = 50_000
MAX_CELL_CHARS = 131_072
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
XLSX_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12",
}
TOTAL_WORDS = {"tong cong", "tong", "cong", "tong so", "total"}
_DMY = re.compile(r"^\s*([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})\s*$")
_DMY_TIME = re.compile(r"^\s*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\s*$")
_MY = re.compile(r"^\s*([0-9]{1,2})[/.-]([0-9]{4})\s*$")


@dataclass
class Parsed:
    rows: list[dict[str, Any]]
    columns: list[str] | None = None  # CSV/XLSX: the header's field names (None for JSON)
    # errors found while reading a cell (formula, broken JSON, total row): (row, field, message)
    cell_errors: list[tuple[int, str, str]] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # row -> line as a spreadsheet program shows it
    header_line: int = 1
    header_names: dict[str, str] = field(default_factory=dict)  # field -> the column's name in the file
    choices: dict[str, str] = field(default_factory=dict)  # enumerated field -> what a clerk may write in it

    def message(self, name: str, message: str) -> str:
        """A validation message as a clerk reads it: an enumerated column lists its labels."""
        if name in self.choices and message.startswith("Input should be"):
            return self.choices[name]
        return message

    def line_of(self, row: int) -> int | None:
        if self.columns is None:
            return None
        return self.header_line if row == 0 else self.lines.get(row)

    def column_name(self, name: str) -> str:
        """A field as the file's header names it (`participants.0.count` -> `Số người ....0.count`)."""
        head, dot, rest = name.partition(".")
        if head in self.header_names:
            return self.header_names[head] + dot + rest
        code = head.removesuffix("_id") + "_code"
        if head.endswith("_id") and code in self.header_names:
            return self.header_names[code]  # the row named its unit by code
        return name


def too_many(count: int | str) -> TooLarge:
    return TooLarge(f"An import takes at most {MAX_ROWS} rows; this one has {count}. Split it into chunks.")


_ROWS_HEAD = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"rows"[ \t\r\n]*:[ \t\r\n]*\[')
_SPACE = b" \t\r\n"
PIECE = 1 << 18  # bytes of rows parsed by one call


def _json(data: bytes) -> Any:
    # jiter (pydantic-core) builds the Python objects as it reads; orjson first builds a whole document of its
    # own (yyjson), which at 50,000 rows was 40 MB more at the peak than the rows themselves
    return from_json(data, allow_inf_nan=False)


def _piece(data: bytes) -> list:
    """Rows parsed at the depth they have in the whole body (its nesting limit is the same)."""
    return _json(b'{"rows":[' + data + b"]}")["rows"]


def _skip_space(body: bytes, at: int, step: int = 1) -> int:
    while 0 <= at < len(body) and body[at] in _SPACE:
        at += step
    return at


def _rows_in_pieces(body: bytes) -> list | None:
    """The rows of a body `{"rows": [...]}`, parsed a piece of about PIECE bytes at a time: each call holds the
    GIL, and one call over 13.7 MB held the event loop's thread for 190 ms. A piece ends at a `}` followed by a
    comma. None for a body of another shape, or at the first cut that does not parse (a `},` inside a string or
    a nested object, as trainings' participants have: trying the next `}` would parse pieces again and again):
    the caller parses the body whole, for the same rows or the error."""
    head = _ROWS_HEAD.match(body)
    end = _skip_space(body, len(body) - 1, -1)
    if head is None or body[end : end + 1] != b"}":
        return None
    end = _skip_space(body, end - 1, -1)
    if body[end : end + 1] != b"]":
        return None
    rows: list = []
    start = head.end()
    try:
        while True:
            cut = start + PIECE
            while cut < end:
                cut = body.find(b"}", cut, end)
                if cut < 0:
                    break
                after = _skip_space(body, cut + 1)
                if body[after : after + 1] == b",":
                    rows += _piece(body[start : cut + 1])
                    start = after + 1
                    break
                cut += 1
            else:
                cut = -1
            if cut < 0:  # the last piece: up to the closing bracket, and not empty after a comma
                last = _piece(body[start:end])
                if not last and rows:
                    return None
                return rows + last if rows else last
    except ValueError:
        return None


def parse_json(body: bytes) -> Parsed:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]  # Windows tools write a UTF-8 BOM; RFC 8259 lets a parser ignore it (a CSV's is ignored too)
    rows = _rows_in_pieces(body)
    extra: list[str] = []
    if rows is None:
        try:
            doc = _json(body)
        except ValueError as exc:
            raise Invalid(f"Malformed JSON: {exc}", loc=["body"]) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            raise Invalid('The body must be {"rows": [...]}.', loc=["body", "rows"])
        rows, extra = doc["rows"], sorted(set(doc) - {"rows"})
    if len(rows) > MAX_ROWS:
        raise too_many(len(rows))
    if extra:
        raise Invalid(f"Unknown top-level field {extra[0]!r}.", loc=["body", extra[0]])
    bad = [i for i, r in enumerate(rows) if not isinstance(r, dict)]
    if bad:
        raise Invalid(f"Row {bad[0] + 1} is not an object.", loc=["body", "rows", bad[0]])
    return Parsed(rows=rows)


def parse_csv(body: bytes, columns: ResourceColumns, known: set[str]) -> Parsed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"The CSV is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'.", loc=["body"]) from None
    if "\x00" in text:
        raise Invalid("The CSV contains NUL bytes.", loc=["body"])
    try:
        return _table(csv_records(text), columns, known)
    except OfficeFileError as exc:
        raise Invalid(str(exc), loc=["body"]) from None


def parse_xlsx(body: bytes, columns: ResourceColumns, known: set[str]) -> Parsed:
    try:
        return _table(read_rows(body), columns, known)
    except SheetTooLarge as exc:
        raise TooLarge(str(exc)) from None
    except SheetError as exc:
        raise Invalid(str(exc), loc=["body"]) from None


def _table(records: Iterable[tuple[int, list[Any]]], rc: ResourceColumns, known: set[str]) -> Parsed:
    records = iter(records)
    names = rc.header_names()
    for k in known:
        names.setdefault(label_key(k), k)
    head: list[tuple[int, list[Any]]] = []
    for record in records:
        head.append(record)
        if record[0] >= 20:
            break
    if not head:
        raise Invalid("The file is empty: a header row is required.", loc=["body"])
    at = find_header(head, names)
    header_line, header = head[at]
    parsed = Parsed(rows=[], header_line=header_line)
    parsed.choices = {
        c.field: "choose one of: " + "; ".join(f"{label} ({value})" for value, label in c.values)
        for c in rc.columns
        if c.kind in ("enum", "enum_list")
    }

    fields: list[str | None] = []  # per position: the field, None for STT, "" for no header
    texts: list[str] = []  # per position: the header as the file has it
    seen: dict[str, int] = {}
    for position, cell in enumerate(header):
        text = "" if cell is None else str(cell).strip().lstrip("\ufeff").strip()
        key = label_key(text)
        texts.append(text)
        if not text or key in ROW_NUMBER_HEADERS:
            fields.append(None if key in ROW_NUMBER_HEADERS else "")
            continue
        name = names.get(key, text)
        if name in seen:
            raise Invalid(f"Column {text!r} appears twice in the header (line {header_line}).", loc=["body", text])
        seen[name] = position
        parsed.header_names[name] = text
        fields.append(name)
    if not seen:
        raise Invalid("The header row is empty.", loc=["body"])
    parsed.columns = list(seen)
    by_field = rc.by_field
    number = 0

    def rest() -> Iterator[tuple[int, list[Any]]]:
        yield from head[at + 1 :]
        yield from records

    for line, values in rest():
        if all(is_empty(v) for v in values):
            continue  # a blank (perhaps formatted) row
        number += 1
        if number > MAX_ROWS:
            raise too_many(f"more than {MAX_ROWS}")
        parsed.lines[number] = line
        row = _row(parsed, number, fields, texts, values, by_field)
        if row is not None:
            row["__row__"] = number
            parsed.rows.append(row)
    return parsed


def _row(
    parsed: Parsed,
    number: int,
    fields: list[str | None],
    texts: list[str],
    values: list[Any],
    by_field: dict[str, Column],
) -> dict[str, Any] | None:
    errors = parsed.cell_errors
    for position, value in enumerate(values):
        if isinstance(value, str) and plain_key(value).rstrip(":") in TOTAL_WORDS:
            name = (fields[position] or texts[position]) if position < len(fields) else ""
            name = name or f"column {position + 1}"
            errors.append(
                (
                    number,
                    name,
                    f"this is a total row ({value.strip()!r}), not a record: delete it; "
                    "the system adds up the records itself",
                )
            )
            return None
    row: dict[str, Any] = {}
    for position, value in enumerate(values):
        if is_empty(value):
            continue  # an empty cell keeps the record's value
        if position >= len(fields):
            errors.append((number, "", "the row has more cells than the header has columns"))
            break
        name = fields[position]
        if name is None:
            continue  # the STT column
        if name == "":
            errors.append((number, f"column {position + 1}", "this cell has a value but its column has no header"))
            continue
        if isinstance(value, Formula):
            errors.append((number, name, "formulas are not accepted; paste the values"))
            continue
        if isinstance(value, str):
            if len(value) > MAX_CELL_CHARS:
                errors.append((number, name, f"the cell holds {len(value):,} characters; at most {MAX_CELL_CHARS:,}"))
                continue
            value = unprotect(value)
        column = by_field.get(name)
        try:
            row[name] = _normalise(value, column) if column is not None else _plain(value)
        except ValueError as exc:
            errors.append((number, name, str(exc)))
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date() if value.time() == time.min and value.tzinfo is None else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _normalise(value: Any, column: Column) -> Any:
    """A cell as the create body takes it: labels to values, office dates to ISO, numbers kept numbers."""
    kind = column.kind
    if kind in ("text", "unit_code"):
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return str(_plain(value))
        if isinstance(value, date | time):
            return value.isoformat()
        return value
    if kind == "enum":
        return _enum_value(value, column)
    if kind == "enum_list":
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [_enum_value(part.strip(), column) for part in re.split(r"[;\n]", value) if part.strip()]
        return _json_list(value)
    if kind == "list":
        return _json_list(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date() if value.time() == time.min else value
        if isinstance(value, str) and (m := _DMY.match(value)):
            return _date(int(m[3]), int(m[2]), int(m[1]), value)
        return value
    if kind == "month":
        if isinstance(value, date):
            return f"{value.year:04d}-{value.month:02d}"
        if isinstance(value, str) and (m := _MY.match(value)):
            return f"{int(m[2]):04d}-{int(m[1]):02d}"
        return value
    if kind == "instant":
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=LOCAL)  # a date-time cell: local time, as the clerk typed it
        if isinstance(value, str) and (m := _DMY_TIME.match(value)):
            _date(int(m[3]), int(m[2]), int(m[1]), value)
            return datetime(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=LOCAL)
        return value
    if kind == "bool" and isinstance(value, str):
        key = plain_key(value)
        return {"co": True, "x": True, "khong": False}.get(key, value)
    return _plain(value)


def _enum_value(value: Any, column: Column) -> Any:
    if not isinstance(value, str):
        return value
    key = label_key(value)
    for v, label in column.values:
        if key in (label_key(v), label_key(label)):
            return v
    return value


def _json_list(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise ValueError("the cell must hold a JSON list, e.g. [1, 2]") from None


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date (dd/mm/yyyy)") from None


def parse(body: bytes, content_type: str, columns: ResourceColumns, known: set[str]) -> Parsed:
    """The body as rows; `columns` is the resource's declaration, `known` every other column name it takes
    (id, read-only columns of an export). CPU-bound: run it in a worker thread."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in ("application/json", ""):
        if not body.strip():
            raise Invalid("The body is empty.", loc=["body"])
        return parse_json(body)
    if ctype in ("text/csv", "application/csv"):
        return parse_csv(body, columns, known)
    if ctype in XLSX_TYPES or body[:2] == b"PK":
        return parse_xlsx(body, columns, known)
    raise AppError(
        "Send application/json, text/csv or an .xlsx workbook "
        "(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).",
        status=415,
    )


__all__ = ["MAX_ROWS", "Parsed", "date", "parse"]
