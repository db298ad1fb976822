"""Turn an import body (JSON, CSV or XLSX) into rows of plain values, refusing oversized files early."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import orjson

from app.errors import AppError, Invalid, TooLarge

MAX_ROWS = 50_000
XLSX_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12",
}


@dataclass
class Parsed:
    rows: list[dict[str, Any]]
    columns: list[str] | None = None  # CSV/XLSX header (None for JSON)
    # errors found while reading a cell (formula, broken JSON): (row, column, message)
    cell_errors: list[tuple[int, str, str]] = field(default_factory=list)


def too_many(count: int | str) -> TooLarge:
    return TooLarge(f"An import takes at most {MAX_ROWS} rows; this one has {count}. Split it into chunks.")


def parse_json(body: bytes) -> Parsed:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"Malformed JSON: {exc}", loc=["body"]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise Invalid('The body must be {"rows": [...]}.', loc=["body", "rows"])
    rows = doc["rows"]
    if len(rows) > MAX_ROWS:
        raise too_many(len(rows))
    extra = set(doc) - {"rows"}
    if extra:
        raise Invalid(f"Unknown top-level field {sorted(extra)[0]!r}.", loc=["body", sorted(extra)[0]])
    bad = [i for i, r in enumerate(rows) if not isinstance(r, dict)]
    if bad:
        raise Invalid(f"Row {bad[0] + 1} is not an object.", loc=["body", "rows", bad[0]])
    return Parsed(rows=rows)


def _count_csv_rows_upto(text: str, limit: int) -> int:
    count = -1  # the header
    for _ in csv.reader(io.StringIO(text)):
        count += 1
        if count > limit:
            break
    return count


def parse_csv(body: bytes, list_fields: set[str]) -> Parsed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"The CSV is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'.", loc=["body"]) from None
    if "\x00" in text:
        raise Invalid("The CSV contains NUL bytes.", loc=["body"])
    if _count_csv_rows_upto(text, MAX_ROWS) > MAX_ROWS:
        raise too_many(f"more than {MAX_ROWS}")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid("The file is empty: a header row is required.", loc=["body"]) from None
    except csv.Error as exc:
        raise Invalid(f"The CSV is malformed: {exc}", loc=["body"]) from None
    columns = [h.strip() for h in header]
    return _table_rows(columns, reader, list_fields, is_csv=True)


def _table_rows(columns: list[str], source: Any, list_fields: set[str], *, is_csv: bool) -> Parsed:
    if not any(columns):
        raise Invalid("The header row is empty.", loc=["body"])
    dupes = sorted({c for c in columns if c and columns.count(c) > 1})
    if dupes:
        raise Invalid(f"Column {dupes[0]!r} appears twice in the header.", loc=["body", dupes[0]])
    parsed = Parsed(rows=[], columns=[c for c in columns if c])
    try:
        for number, values in enumerate(source, start=1):
            if not any(v not in (None, "") for v in values):
                continue  # blank line
            row: dict[str, Any] = {}
            for name, value in zip(columns, values, strict=False):
                if not name or value is None or value == "":
                    continue  # an empty cell keeps the record's value
                if isinstance(value, str) and not is_csv and value.startswith("="):
                    parsed.cell_errors.append((number, name, "formulas are not accepted; paste the values"))
                    continue
                if name in list_fields and isinstance(value, str):
                    try:
                        value = orjson.loads(value)
                    except orjson.JSONDecodeError:
                        parsed.cell_errors.append((number, name, "the cell must hold a JSON list, e.g. [1, 2]"))
                        continue
                row[name] = _plain(value)
            if len(values) > len(columns) and any(v not in (None, "") for v in values[len(columns) :]):
                parsed.cell_errors.append((number, "", "the row has more cells than the header has columns"))
            row["__row__"] = number
            parsed.rows.append(row)
    except csv.Error as exc:
        raise Invalid(f"The CSV is malformed: {exc}", loc=["body"]) from None
    return parsed


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date() if value.time() == time.min and value.tzinfo is None else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_xlsx(body: bytes, list_fields: set[str]) -> Parsed:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(body), read_only=True, data_only=False)
    except Exception:
        raise Invalid("The file is not a readable .xlsx workbook.", loc=["body"]) from None
    try:
        ws = wb.worksheets[0]
        declared = ws.max_row  # from the sheet's dimension, before reading any row
        if declared is not None and declared - 1 > MAX_ROWS:
            raise too_many(declared - 1)
        rows = ws.iter_rows(values_only=True)
        try:
            header = next(rows)
        except StopIteration:
            raise Invalid("The sheet is empty: a header row is required.", loc=["body"]) from None
        columns = [str(h).strip() if h is not None else "" for h in header]

        def limited():
            for n, r in enumerate(rows, start=1):
                if n > MAX_ROWS:
                    raise too_many(f"more than {MAX_ROWS}")
                yield list(r)

        return _table_rows(columns, limited(), list_fields, is_csv=False)
    finally:
        wb.close()


def parse(body: bytes, content_type: str, list_fields: set[str]) -> Parsed:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in ("application/json", ""):
        if not body.strip():
            raise Invalid("The body is empty.", loc=["body"])
        return parse_json(body)
    if ctype in ("text/csv", "application/csv"):
        return parse_csv(body, list_fields)
    if ctype in XLSX_TYPES or body[:2] == b"PK":
        return parse_xlsx(body, list_fields)
    raise AppError(
        "Send application/json, text/csv or an .xlsx workbook "
        "(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).",
        status=415,
    )


__all__ = ["MAX_ROWS", "Parsed", "date", "parse"]
