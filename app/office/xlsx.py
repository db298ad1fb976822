"""Read the first sheet of an .xlsx to its real last row and column, within bounds checked before inflating.

openpyxl's reader trusts the sheet's `<dimension>`: a workbook declaring `A1:G2` over ten rows gives two, and
one declaring `A1:XFD8001` is padded to 131 million cells. This reader walks the sheet's XML as it is, keeps
only the cells that are there (sparse), and refuses, from the zip's directory and while streaming, a workbook
that would inflate past the bounds below (a decompression bomb), so that memory and time stay proportional to
what the file really holds.
"""

from __future__ import annotations

import io
import posixpath
import pyexpat
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.etree.ElementTree import ParseError, XMLPullParser

from app.office.tables import OfficeFileError

MAX_UNCOMPRESSED = 256 * 2**20  # every part of the workbook together
MAX_SHEET_BYTES = 192 * 2**20  # the sheet's XML
MAX_SHARED_STRINGS_BYTES = 48 * 2**20  # the shared-strings part's XML
MAX_SHARED_STRINGS = 1_000_000  # strings in it
MAX_CELLS = 4_000_000  # cells the sheet's rows span, empty ones between values included
MAX_COLUMN = 16_384  # XFD, the last column a spreadsheet program has
READ_BLOCK = 1 << 20

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DATE_FORMAT_IDS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}
TIME_ONLY_IDS = {18, 19, 20, 21, 45, 46, 47}
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]+)$")


class SheetError(OfficeFileError):
    """The workbook cannot be read as it is (its message says why, for the person who made it)."""


class SheetTooLarge(SheetError):
    """The workbook would inflate past a bound: refused before it is inflated."""


@dataclass(frozen=True)
class Formula:
    """A formula cell: imports take values, not formulas."""

    text: str


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Book:
    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise SheetError("The file is not a readable .xlsx workbook.") from None
        self.sizes = {i.filename: i.file_size for i in infos}
        total = sum(self.sizes.values())
        if total > MAX_UNCOMPRESSED:
            raise SheetTooLarge(
                f"The workbook would inflate to {total // 2**20} MiB; at most {MAX_UNCOMPRESSED // 2**20} MiB is read. "
                "Save it again without unused sheets, images or formatted empty rows, or send it as CSV."
            )

    def stream(self, name: str, limit: int, what: str) -> Iterator[bytes]:
        """The part's bytes in blocks; the zip's declared size bounds what is read (CRC checked at the end)."""
        size = self.sizes.get(name)
        if size is None:
            raise SheetError(f"The workbook has no {what} ({name}).")
        if size > limit:
            raise SheetTooLarge(
                f"The workbook's {what} would inflate to {size // 2**20} MiB; at most {limit // 2**20} MiB is read."
            )
        try:
            with self.zip.open(name) as part:
                while block := part.read(READ_BLOCK):
                    yield block
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError):
            raise SheetError(f"The workbook's {what} is damaged.") from None

    def elements(self, name: str, limit: int, what: str) -> Iterator[tuple[str, Any]]:
        parser = XMLPullParser(events=("start", "end"))
        try:
            for block in self.stream(name, limit, what):
                parser.feed(block)
                yield from parser.read_events()
            parser.close()
            yield from parser.read_events()
        except ParseError:
            raise SheetError(f"The workbook's {what} is not well-formed XML.") from None

    def small(self, name: str, what: str) -> Any | None:
        """A small part (workbook, relations, styles) as one tree, or None when absent."""
        if name not in self.sizes:
            return None
        root = None
        for event, elem in self.elements(name, 16 * 2**20, what):
            if event == "start" and root is None:
                root = elem
        return root


def _first_sheet_path(book: _Book) -> str:
    small_mimetype = "mimetype" in book.sizes and book.sizes["mimetype"] < 200
    if small_mimetype and b"opendocument" in book.zip.read("mimetype"):
        raise SheetError(
            "The file is an OpenDocument spreadsheet (.ods), not an .xlsx: save it as Excel 2007-365 (.xlsx) "
            "or as CSV (UTF-8) and send that."
        )
    workbook = book.small("xl/workbook.xml", "workbook part")
    rels = book.small("xl/_rels/workbook.xml.rels", "relations")
    if workbook is not None and rels is not None:
        sheet = workbook.find(f"{NS_MAIN}sheets/{NS_MAIN}sheet")
        rid = sheet.get(f"{NS_REL}id") if sheet is not None else None
        for rel in rels.iter(f"{NS_PKG_REL}Relationship"):
            if rel.get("Id") == rid and rel.get("Target"):
                target = rel.get("Target")
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
                if path in book.sizes:
                    return path
    if "xl/worksheets/sheet1.xml" in book.sizes:
        return "xl/worksheets/sheet1.xml"
    raise SheetError("The workbook has no sheet.")


def _date1904(book: _Book) -> bool:
    workbook = book.small("xl/workbook.xml", "workbook part")
    pr = workbook.find(f"{NS_MAIN}workbookPr") if workbook is not None else None
    return pr is not None and pr.get("date1904", "").lower() in ("1", "true")


def _is_date_code(code: str) -> bool:
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.', "", code)  # quoted text, colours, escapes, padding
    return bool(re.search(r"[dmyhs]", code, re.IGNORECASE)) and "General" not in code


def _style_kinds(book: _Book) -> list[str]:
    """Per cell style index: "date", "time" or "" (a number)."""
    styles = book.small("xl/styles.xml", "styles")
    if styles is None:
        return []
    custom: dict[int, str] = {}
    for fmt in styles.iter(f"{NS_MAIN}numFmt"):
        try:
            custom[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
        except ValueError:
            continue
    kinds = []
    xfs = styles.find(f"{NS_MAIN}cellXfs")
    for xf in xfs.iter(f"{NS_MAIN}xf") if xfs is not None else ():
        try:
            fid = int(xf.get("numFmtId", "0"))
        except ValueError:
            fid = 0
        if fid in custom:
            code = custom[fid]
            is_date = _is_date_code(code)
            time_only = is_date and not re.search(r"[dy]", re.sub(r'"[^"]*"|\[[^\]]*\]', "", code), re.I)
            kinds.append(("time" if time_only else "date") if is_date else "")
        else:
            kinds.append(("time" if fid in TIME_ONLY_IDS else "date") if fid in DATE_FORMAT_IDS else "")
    return kinds


def _expat(book: _Book, name: str, limit: int, what: str, start, end, text) -> Iterator[None]:
    """Feed the part through expat block by block (no element objects: the sheet may hold millions of
    cells); yields after each block so that the caller can hand on what the handlers collected."""
    parser = pyexpat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        for block in book.stream(name, limit, what):
            parser.Parse(block, False)
            yield
        parser.Parse(b"", True)
        yield
    except pyexpat.ExpatError:
        raise SheetError(f"The workbook's {what} is not well-formed XML.") from None


def _tag(name: str) -> str:
    return name.rpartition(":")[2]


def _shared_strings(book: _Book) -> list[str]:
    name = "xl/sharedStrings.xml"
    if name not in book.sizes:
        return []
    strings: list[str] = []
    parts: list[str] = []
    state = {"t": False, "rph": 0}

    def start(tag, attrs):
        tag = _tag(tag)
        if tag == "t":
            state["t"] = True
        elif tag == "rPh":
            state["rph"] += 1

    def end(tag):
        tag = _tag(tag)
        if tag == "t":
            state["t"] = False
        elif tag == "rPh":
            state["rph"] -= 1
        elif tag == "si":
            strings.append("".join(parts))
            parts.clear()

    def text(data):
        if state["t"] and not state["rph"]:
            parts.append(data)

    for _ in _expat(book, name, MAX_SHARED_STRINGS_BYTES, "shared strings", start, end, text):
        if len(strings) > MAX_SHARED_STRINGS:
            raise SheetTooLarge(f"The workbook holds more than {MAX_SHARED_STRINGS:,} distinct texts.")
    return strings


def _excel_time(serial: float, epoch: datetime, kind: str) -> date | datetime | time:
    if kind == "time" and 0 <= serial < 1:
        return (datetime.min + timedelta(days=serial)).time().replace(microsecond=0)
    if epoch.year == 1899 and serial < 60:
        serial += 1  # the 1900 calendar's phantom 29 February
    moment = epoch + timedelta(days=serial)
    moment = moment.replace(microsecond=0) if moment.microsecond < 500_000 else moment
    return moment.date() if moment.time() == time.min else moment


def read_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """Every row that holds a cell with a value, as (row number, [value, ...]); cells are None, str, int,
    float, bool, date, datetime, time or Formula. Raises SheetError / SheetTooLarge."""
    book = _Book(data)
    sheet = _first_sheet_path(book)
    strings = _shared_strings(book)
    kinds = _style_kinds(book)
    epoch = datetime(1904, 1, 1) if _date1904(book) else datetime(1899, 12, 30)
    return _rows(book, sheet, strings, kinds, epoch)


def _rows(book: _Book, sheet: str, strings: list[str], kinds: list[str], epoch: datetime):
    done: list[tuple[int, list[Any]]] = []
    st: dict[str, Any] = {"row": 0, "col": 0, "cells": {}, "spanned": 0, "text": None}
    cell: dict[str, Any] = {}

    def start(tag, attrs):
        tag = _tag(tag)
        if tag == "c":
            ref = _CELL_REF.match(attrs.get("r") or "")
            st["col"] = col = column_number(ref.group(1)) if ref else st["col"] + 1
            if col > MAX_COLUMN:
                raise SheetError(f"Cell {attrs.get('r')} lies beyond the last column a sheet may have.")
            cell.clear()
            cell["t"], cell["s"] = attrs.get("t", "n"), attrs.get("s")
        elif tag == "row":
            r = attrs.get("r")
            st["row"] = int(r) if r and r.isdigit() else st["row"] + 1
            st["cells"] = {}
            st["col"] = 0
        elif tag in ("v", "f") or tag == "t" and "is" in cell:
            st["text"] = []
        elif tag == "is":
            cell["is"] = []
        elif tag == "rPh":
            cell["rph"] = True

    def end(tag):
        tag = _tag(tag)
        if tag == "c":
            value = _value(st["row"], st["col"], cell, strings, kinds, epoch)
            if value is not None:
                st["cells"][st["col"]] = value
        elif tag == "row":
            cells = st["cells"]
            if cells:
                width = max(cells)
                st["spanned"] += width
                if st["spanned"] > MAX_CELLS:
                    raise SheetTooLarge(
                        f"The sheet spans more than {MAX_CELLS:,} cells; an import reads at most that many."
                    )
                done.append((st["row"], [cells.get(c) for c in range(1, width + 1)]))
        elif tag in ("v", "f") and st["text"] is not None:
            cell[tag] = "".join(st["text"])
            st["text"] = None
        elif tag == "t" and st["text"] is not None:
            if not cell.get("rph"):
                cell["is"].append("".join(st["text"]))
            st["text"] = None
        elif tag == "rPh":
            cell["rph"] = False

    def text(data):
        if st["text"] is not None:
            st["text"].append(data)

    for _ in _expat(book, sheet, MAX_SHEET_BYTES, "sheet", start, end, text):
        yield from done
        done.clear()


def _value(row: int, col: int, cell: dict[str, Any], strings, kinds, epoch) -> Any:
    ctype, style, text = cell["t"], cell["s"], cell.get("v")
    if "f" in cell:
        return Formula(cell["f"])
    if ctype == "inlineStr":
        joined = "".join(cell.get("is", ()))
        return joined if joined != "" else None
    if text is None:
        return None
    if ctype == "s":
        try:
            value = strings[int(text)]
        except (ValueError, IndexError):
            raise SheetError(f"Cell {column_letters(col)}{row} points to a text the workbook does not hold.") from None
        return value if value != "" else None
    if ctype in ("str", "e"):
        return text if text != "" else None
    if ctype == "b":
        return text.strip() in ("1", "true")
    if ctype == "d":
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            return text
        return moment.date() if moment.time() == time.min and moment.tzinfo is None else moment
    try:
        number = float(text)
    except ValueError:
        raise SheetError(f"Cell {column_letters(col)}{row} holds {text[:40]!r}, which is not a number.") from None
    kind = ""
    if style is not None and style.isdigit() and int(style) < len(kinds):
        kind = kinds[int(style)]
    if kind and 0 <= number < 2_958_466:  # up to 9999-12-31
        return _excel_time(number, epoch, kind)
    if number.is_integer() and abs(number) < 2**63:
        return int(number)
    return number
