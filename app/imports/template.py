"""`GET /imports/{resource}/template`: the workbook an office fills in (API.md section 7), built from the
resource's column declaration, so that what the template asks for is exactly what the import reads."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Principal
from app.auth.scope import scope_clause
from app.imports.columns import Column, ResourceColumns
from app.models import Unit

units = Unit.__table__
FILL_ROWS = 1000  # rows prepared (drop-downs, date format) below the header
TITLE_ROW, NOTE_ROW, HEADER_ROW = 1, 2, 3
FONT = "Times New Roman"
THIN = Side(style="thin", color="808080")


async def scope_units(conn: AsyncConnection, principal: Principal) -> list[tuple[str, str]]:
    """(code, name) of the active units in the caller's scope: the unit codes a row may name."""
    today = date.today()
    q = (
        select(units.c.code, units.c.name)
        .where(scope_clause(principal, units.c.id))
        .where(or_(units.c.dissolved_on.is_(None), units.c.dissolved_on > today))
        .order_by(units.c.code)
    )
    return [(r.code, r.name) for r in await conn.execute(q)]


def column_values(column: Column, unit_codes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if column.kind == "unit_code":
        return unit_codes
    return list(column.values)


def template_json(rc: ResourceColumns, unit_codes: list[tuple[str, str]]) -> dict[str, Any]:
    out = []
    for c in rc.columns:
        item: dict[str, Any] = {"field": c.field, "label": c.label, "required": c.required}
        values = column_values(c, unit_codes)
        if values:
            item["values"] = [{"value": v, "label": label} for v, label in values]
        out.append(item)
    return {"resource": rc.resource, "columns": out}


def template_xlsx(rc: ResourceColumns, unit_codes: list[tuple[str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Nhập liệu"
    lists = wb.create_sheet("Danh mục")
    guide = wb.create_sheet("Hướng dẫn")
    lists.sheet_state = "hidden"

    width = len(rc.columns) + 1
    ws.cell(TITLE_ROW, 1, rc.title).font = Font(name=FONT, size=14, bold=True)
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=width)
    ws.cell(TITLE_ROW, 1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[TITLE_ROW].height = 30
    note = f"Điền từ dòng {HEADER_ROW + 1}; không sửa dòng tiêu đề cột. Cách nhập từng cột: xem sheet “Hướng dẫn”."
    ws.cell(NOTE_ROW, 1, note).font = Font(name=FONT, italic=True, size=11)
    ws.merge_cells(start_row=NOTE_ROW, start_column=1, end_row=NOTE_ROW, end_column=width)

    header_font = Font(name=FONT, bold=True, size=12)
    required_fill = PatternFill("solid", fgColor="FCE4D6")
    optional_fill = PatternFill("solid", fgColor="DDEBF7")
    headers = ["STT", *(c.label for c in rc.columns)]
    for i, text in enumerate(headers, start=1):
        cell = ws.cell(HEADER_ROW, i, text)
        cell.font = header_font
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
        required = i > 1 and rc.columns[i - 2].required
        cell.fill = required_fill if required or i == 1 else optional_fill
    ws.row_dimensions[HEADER_ROW].height = 45
    ws.column_dimensions["A"].width = 6
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2)
    first, last = HEADER_ROW + 1, HEADER_ROW + FILL_ROWS

    list_col = 0
    for i, c in enumerate(rc.columns, start=2):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(14, min(40, len(c.label) + 4))
        values = column_values(c, unit_codes)
        if values:
            list_col += 1
            ll = get_column_letter(list_col)
            lists.cell(1, list_col, c.label)
            shown = [v if c.kind == "unit_code" else label for v, label in values]
            for n, text in enumerate(shown, start=2):
                lists.cell(n, list_col, text)
            dv = DataValidation(
                type="list",
                formula1=f"='Danh mục'!${ll}$2:${ll}${len(shown) + 1}",
                allow_blank=True,
                showErrorMessage=c.kind != "enum_list",  # several topics are typed, separated by ';'
                errorTitle="Giá trị không hợp lệ",
                error="Chọn một giá trị trong danh sách.",
            )
            dv.add(f"{letter}{first}:{letter}{last}")
            ws.add_data_validation(dv)
        if c.kind == "date":
            for row in range(first, last + 1):
                ws.cell(row, i).number_format = "dd/mm/yyyy"
            dv = DataValidation(
                type="date",
                operator="greaterThan",
                formula1="1",
                allow_blank=True,
                errorTitle="Ngày không hợp lệ",
                error="Nhập ngày dạng dd/mm/yyyy.",
            )
            dv.add(f"{letter}{first}:{letter}{last}")
            ws.add_data_validation(dv)
        elif c.kind in ("text", "unit_code", "month", "enum_list", "list"):
            for row in range(first, last + 1):
                ws.cell(row, i).number_format = "@"  # text: Excel must not turn a code or 03/2024 into a number

    _guide(guide, rc, unit_codes)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _guide(ws, rc: ResourceColumns, unit_codes: list[tuple[str, str]]) -> None:
    ws.cell(1, 1, f"HƯỚNG DẪN ĐIỀN MẪU: {rc.title}").font = Font(name=FONT, size=13, bold=True)
    heads = ["Cột", "Tiêu đề cột", "Tên trường (API)", "Bắt buộc", "Cách nhập", "Giá trị cho phép"]
    for i, text in enumerate(heads, start=1):
        ws.cell(3, i, text).font = Font(name=FONT, bold=True)
    rows = [("A", "STT", "", "Không", "Số thứ tự; hệ thống bỏ qua cột này.", "")]
    for i, c in enumerate(rc.columns, start=2):
        values = column_values(c, unit_codes)
        if c.kind == "unit_code":
            allowed = f"{len(values)} mã đơn vị trong phạm vi của bạn (chọn trong danh sách)"
        else:
            allowed = "; ".join(label for _, label in values)
        rows.append((get_column_letter(i), c.label, c.field, "Có" if c.required else "Không", c.note, allowed))
    for n, row in enumerate(rows, start=4):
        for i, text in enumerate(row, start=1):
            cell = ws.cell(n, i, text)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cell.font = Font(name=FONT)
    end = 4 + len(rows) + 1
    tips = [
        "Các dòng trống được bỏ qua; không thêm dòng “Tổng cộng” (hệ thống tự cộng).",
        "Có thể chọn giá trị theo nhãn tiếng Việt hoặc nhập mã giá trị (ví dụ village_forum).",
        "Ngày nhập dạng dd/mm/yyyy (ví dụ 05/03/2024) hoặc yyyy-mm-dd.",
        "Nhập lại cùng “Mã tham chiếu” sẽ cập nhật bản ghi đã có thay vì tạo bản ghi mới.",
    ]
    for k, tip in enumerate(tips):
        ws.cell(end + k, 1, f"• {tip}").font = Font(name=FONT, italic=True)
    for letter, width in zip("ABCDEF", (6, 30, 22, 10, 55, 60), strict=True):
        ws.column_dimensions[letter].width = width
