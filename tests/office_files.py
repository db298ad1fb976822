"""Workbooks as real writers leave them: made by openpyxl, then their XML edited with zipfile the way other
spreadsheet programs and generators write it (a wrong `<dimension>`, pre-drawn borders, huge parts)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from openpyxl import Workbook

SHEET = "xl/worksheets/sheet1.xml"


def workbook(rows: Iterable[Iterable[Any]], *, date_format: str | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    if date_format:
        for line in ws.iter_rows():
            for c in line:
                if c.is_date:
                    c.number_format = date_format
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def edit_parts(data: bytes, edits: dict[str, Callable[[bytes], bytes]], extra: dict[str, bytes] | None = None) -> bytes:
    """The workbook with some parts rewritten (or added), every other part copied as it is."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename in edits:
                body = edits[info.filename](body)
            dst.writestr(info.filename, body)
        for name, body in (extra or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def with_dimension(data: bytes, ref: str) -> bytes:
    """The sheet declaring `ref` as its size, whatever it holds."""

    def edit(xml: bytes) -> bytes:
        if b"<dimension" in xml:
            return re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), xml)
        return xml.replace(b"<sheetViews>", f'<dimension ref="{ref}"/><sheetViews>'.encode(), 1)

    return edit_parts(data, {SHEET: edit})


def with_blank_bordered_rows(data: bytes, first: int, last: int, columns: str = "ABCDEFG") -> bytes:
    """Rows first..last holding only styled empty cells (borders drawn ahead for rows to come)."""

    def edit(xml: bytes) -> bytes:
        rows = "".join(
            f'<row r="{n}">' + "".join(f'<c r="{col}{n}" s="1"/>' for col in columns) + "</row>"
            for n in range(first, last + 1)
        )
        xml = xml.replace(b"</sheetData>", rows.encode() + b"</sheetData>")
        return re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:{columns[-1]}{last}"/>'.encode(), xml)

    return edit_parts(data, {SHEET: edit})


def sheet_with_rows(data: bytes, rows_xml: str) -> bytes:
    """The sheet's rows replaced by `rows_xml` (inline strings and numbers, as generators write them)."""

    def edit(xml: bytes) -> bytes:
        return re.sub(
            rb"<sheetData>.*</sheetData>|<sheetData\s*/>",
            b"<sheetData>" + rows_xml.encode() + b"</sheetData>",
            xml,
            flags=re.S,
        )

    return edit_parts(data, {SHEET: edit})


def inline_row(n: int, values: Iterable[Any]) -> str:
    cells = []
    for i, v in enumerate(values):
        ref = f"{chr(65 + i)}{n}"
        if isinstance(v, int | float):
            cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        else:
            text = str(v).replace("&", "&amp;").replace("<", "&lt;")
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    return f'<row r="{n}">' + "".join(cells) + "</row>"
