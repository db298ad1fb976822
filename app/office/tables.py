"""Table habits of office files, shared by the server's import and the import client."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

HEADER_SEARCH_ROWS = 20  # the header is looked for among the first rows of the sheet
ROW_NUMBER_HEADERS = frozenset({"stt", "tt"})  # "số thứ tự": the row number offices put in column A
_FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")
_QUOTED_FORMULA_START = re.compile(r"^'+[=+\-@\t\r]")

# a cell may be as large as the body; a cell too large is an error of its row, not a csv.Error
csv.field_size_limit(64 * 2**20 + 1)


class OfficeFileError(Exception):
    """The file cannot be read as it is (its message says why, for the person who made it)."""


def csv_delimiter(text: str) -> str:
    """`;` when the file's first line has more semicolons than commas (Excel saves CSV so under a locale whose
    decimal sign is a comma, Vietnamese included), else `,`."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) of every CSV record that holds a value."""
    reader = csv.reader(io.StringIO(text), delimiter=csv_delimiter(text))
    try:
        while True:
            first_line = reader.line_num + 1  # a quoted cell may span several physical lines
            values = next(reader, None)
            if values is None:
                return
            if any(v.strip() for v in values):
                yield first_line, values
    except csv.Error as exc:
        raise OfficeFileError(f"The CSV is malformed at line {reader.line_num}: {exc}") from None


def protect(text: str) -> str:
    """A text cell as a CSV export writes it: one leading `'` where a spreadsheet would read a formula
    (OWASP's defence), and also before text that already starts with apostrophes and then such a sign, so
    that `unprotect` gives every text back exactly."""
    return "'" + text if _FORMULA_START.match(text) else text


def unprotect(text: str) -> str:
    """The one `'` that `protect` added, taken away again."""
    return text[1:] if _QUOTED_FORMULA_START.match(text) else text


def label_key(text: Any) -> str:
    """How header names and enum labels are compared: NFC, case-insensitive, inner spaces collapsed."""
    if text is None:
        return ""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def plain_key(text: Any) -> str:
    """label_key without Vietnamese diacritics (`Tổng cộng` -> `tong cong`)."""
    key = label_key(text).replace("đ", "d")
    return "".join(ch for ch in unicodedata.normalize("NFD", key) if not unicodedata.combining(ch))


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def find_header(rows: Sequence[tuple[int, Sequence[Any]]], known: Iterable[str]) -> int:
    """Index in `rows` ((line, cells), in order) of the header: the first row within the first
    HEADER_SEARCH_ROWS lines with at least two non-empty cells that are all known names (field names or
    labels, compared by label_key) or STT/TT. When no row qualifies, the row there with the most known names
    (so that an unknown column is reported on the header line), else the first row."""
    names = {label_key(k) for k in known} | ROW_NUMBER_HEADERS
    best, best_known = 0, 1
    for index, (line, cells) in enumerate(rows):
        if line > HEADER_SEARCH_ROWS and index > 0:
            break
        filled = [label_key(c) for c in cells if not is_empty(c)]
        hits = sum(1 for c in filled if c in names)
        if len(filled) >= 2 and hits == len(filled):
            return index
        if hits > best_known:
            best, best_known = index, hits
    return best
