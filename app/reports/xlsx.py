"""The annual report as a workbook the lead office sends to the province as it is.

It prints like an official Vietnamese report (Nghị định 30/2020/NĐ-CP habits): the issuing authority and the
national motto above the title, place and date, a signature block, and every other sheet an appendix
("Phụ lục") that says which report it belongs to. Every sheet is A4 landscape, fitted to the page width, with
its header rows repeated on each page, Times New Roman (a font Vietnamese offices use, with every Vietnamese
glyph) and row heights tall enough for stacked diacritics. Numbers stay numbers, shown with thousands
separators; an amount nothing carries yet is blank, not 0. Stored text (unit codes and names) is written as
string cells, never as a formula, whatever it begins with.
"""

from __future__ import annotations

import math
from copy import copy
from datetime import date
from functools import cache
from io import BytesIO
from typing import Any
from weakref import WeakKeyDictionary

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, OneCellAnchor
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.drawing.text import Font as DrawingFont
from openpyxl.drawing.xdr import XDRPositiveSize2D
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.utils.units import cm_to_EMU
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from app.budget.schemas import BudgetStatus
from app.kpis.registry import BY_CODE

AUTHORITY = "UBND THÀNH PHỐ TAM KỲ"
ISSUER = "PHÒNG VĂN HÓA VÀ THÔNG TIN"
ISSUER_NAME = "Phòng Văn hóa và Thông tin thành phố Tam Kỳ"
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
PLACE = "Tam Kỳ"
SIGNER = "TRƯỞNG PHÒNG"
RECIPIENTS = (
    "Nơi nhận:",
    "- Sở Thông tin và Truyền thông tỉnh Quảng Nam;",
    "- UBND thành phố (báo cáo);",
    "- Lưu: VT.",
)

STATUS_VI = {"met": "Đạt", "not_met": "Chưa đạt", "no_data": "Chưa có số liệu", "tracking": "Theo dõi"}
COMPARISON_VI = {"gte": "≥", "gt": ">"}
BUDGET_STATUS_VI = {
    BudgetStatus.DRAFT: "Đang soạn thảo",
    BudgetStatus.SUBMITTED: "Đã gửi, chờ xem xét",
    BudgetStatus.RETURNED: "Trả lại để hoàn thiện",
    BudgetStatus.FORWARDED: "Đã chuyển thẩm định",
    BudgetStatus.APPRAISED: "Đã thẩm định",
    BudgetStatus.APPROVED: "Đã phê duyệt",
    BudgetStatus.REJECTED: "Không phê duyệt",
    BudgetStatus.WITHDRAWN: "Đơn vị đã rút",
}
REPORTED_STATUSES = [
    s for s in BudgetStatus if s != BudgetStatus.DRAFT
]  # workflow order, as the budget service reports them
AMOUNTS = ("requested_total_vnd", "appraised_total_vnd", "approved_total_vnd")

SUMMARY_SHEET = "Tổng hợp"
MONTHLY_SHEET = "Theo tháng"
BUDGET_SHEET = "Kinh phí"

COUNT = "#,##0_)"  # _) keeps the digits off the right grid line
PERCENT = "0.0%_)"
FONT = "Times New Roman"
SIZE = 12
UNIT_CM = 0.22  # one unit of column width in Times New Roman 12, printed (measured on LibreOffice's PDF)
LINE_PT = 15.5  # one line of 12 pt Times New Roman with room above for stacked diacritics (Ấ, Ỗ)
THIN = Side(style="thin", color="000000")
GRID = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="E7EEF7")
_STYLES: WeakKeyDictionary[Workbook, dict[tuple, Any]] = WeakKeyDictionary()
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@cache
def font(size: int = SIZE, *, bold: bool = False, italic: bool = False, underline: str | None = None) -> Font:
    return Font(name=FONT, size=size, bold=bold, italic=italic, underline=underline)


class Sheet:
    """One printed sheet: fixed column widths, cells written through `put`, row heights that fit their text."""

    def __init__(self, ws: Worksheet, widths: list[float]) -> None:
        self.ws, self.widths = ws, widths
        self.heights: dict[int, float] = {}
        self.styles = _STYLES.setdefault(ws.parent, {})  # one cache per workbook: style ids are the workbook's
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width

    @property
    def last_col(self) -> int:
        return len(self.widths)

    def put(
        self,
        row: int,
        col: int,
        value: Any,
        *,
        style: Font | None = None,
        fmt: str | None = None,
        align: str = "left",
        wrap: bool = True,
        border: bool = False,
        fill: bool = False,
        span: int = 1,
    ) -> Cell:
        """Write one cell (merged over `span` columns). Text is a string cell even when it begins with '=':
        openpyxl would otherwise store it as a formula, and a unit named =HYPERLINK(...) would run."""
        cell = self.ws.cell(row=row, column=col)
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
        style = style or font()
        key = (style.sz, style.b, style.i, style.u, align, wrap, fmt, border, fill)
        known = self.styles.get(key)
        if known is not None:
            cell._style = copy(known)  # openpyxl hashes every style object it is given: 1 ms a cell otherwise
        else:
            cell.font = style
            indent = 1 if align in ("left", "right") and border else 0  # text off the grid lines
            cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=wrap, indent=indent)
            if fmt:
                cell.number_format = fmt
            if border:
                cell.border = GRID
            if fill:
                cell.fill = HEADER_FILL
            self.styles[key] = copy(cell._style)
        if span > 1:
            self.ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + span - 1)
        if border:
            for c in range(col + 1, col + span):
                self.ws.cell(row=row, column=c).border = GRID
        if isinstance(value, str) and wrap:
            width = sum(self.widths[col - 1 : col - 1 + span])
            self.fit(row, _lines(value, width, cell.font, cell.alignment.indent), cell.font.sz)
        else:
            self.fit(row, 1, cell.font.sz)
        return cell

    def fit(self, row: int, lines: int, size: float) -> None:
        """Make the row tall enough for `lines` lines of text of that size (the tallest cell wins)."""
        height = lines * LINE_PT * size / SIZE + 3
        if height > self.heights.get(row, 0):
            self.heights[row] = height
            self.ws.row_dimensions[row].height = round(height, 1)

    def band(self, row: int, text: str, style: Font, align: str = "center") -> None:
        """A line of text across the whole table (titles), wrapped inside it instead of spilling."""
        self.put(row, 1, text, style=style, align=align, span=self.last_col)

    def header(self, row: int, titles: list[str]) -> None:
        for col, title in enumerate(titles, start=1):
            self.put(row, col, title, style=font(bold=True), align="center", border=True, fill=True)

    def line(self, row: int, values: list[Any], fmts: list[str | None], *, bold: bool = False) -> None:
        """A table row: numbers right-aligned in their format, text left, every cell in the grid."""
        for col, (value, fmt) in enumerate(zip(values, fmts, strict=True), start=1):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            align = "center" if col == 1 or value in STATUS_VI.values() else "right" if number or fmt else "left"
            self.put(row, col, value, style=font(bold=bold), fmt=fmt, align=align, border=True)

    def page_setup(self, header_rows: tuple[int, int], *, one_page: bool = False) -> None:
        """A4 landscape, fitted to the page width (to one page when asked), header rows on every page, the
        margins of an official document, and a footer naming the sheet and the page."""
        ws = self.ws
        ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1 if one_page else 0
        ws.page_margins = PageMargins(left=0.79, right=0.59, top=0.59, bottom=0.71, header=0.3, footer=0.3)
        ws.print_options.horizontalCentered = True
        ws.print_title_rows = f"{header_rows[0]}:{header_rows[1]}"
        ws.print_area = f"A1:{get_column_letter(self.last_col)}{ws.max_row}"
        for part, text in ((ws.oddFooter.left, "&A"), (ws.oddFooter.right, "Trang &P/&N")):
            part.text, part.font, part.size = text, f"{FONT},Regular", 10
        ws.freeze_panes = f"A{header_rows[1] + 1}"


def _measure(text: str) -> float:
    """The width of `text` in lowercase characters of Times New Roman: capitals and digits are wider (measured
    on LibreOffice's print: a capital takes 1.6 times a lowercase letter, a digit 1.2)."""
    return sum(1.65 if c.isupper() else 1.2 if c.isdigit() else 1.0 for c in text)


def _lines(text: str, width: float, style: Font, indent: int = 0) -> int:
    """How many lines `text` takes in a column `width` characters wide (Times New Roman, a little wider bold
    and larger; a margin so that a word break never adds an unexpected line)."""
    per_line = max(1.0, width * 1.15 * SIZE / (style.sz or SIZE) * (0.9 if style.b else 1.0) - 1 - 2 * indent)
    return sum(max(1, math.ceil(_measure(part) / per_line)) for part in text.split("\n"))


def _fitting_width(texts: list[str], least: float) -> float:
    """A column width that holds the longest of `texts` on one line (with the grid's indent)."""
    return max([least, *(math.ceil(_measure(t) / 1.15) + 4 for t in texts)])


def _vi_count(n: int) -> str:
    """A count written in running text as Vietnamese write it (1.234.567)."""
    return f"{n:,}".replace(",", ".")


def _vi_percent(value: float, digits: int) -> str:
    return f"{value * 100:.{digits}f}".replace(".", ",") + "%"


def _long_date(day: date) -> str:
    return f"{PLACE}, ngày {day:%d} tháng {day:%m} năm {day.year}"


def _percent_target(kpi: dict[str, Any]) -> tuple[float | None, str | None]:
    """The target as a number, shown with its comparison (≥ 100%); None where the plan sets none."""
    if kpi["target"] is None:
        return None, None
    sign = COMPARISON_VI.get(kpi["comparison"] or "", "")
    return float(kpi["target"]), f'"{sign} "0%_)'


def _official_heading(sheet: Sheet, report: dict[str, Any], today: date, left: int) -> int:
    """Authority and motto side by side, place and date, then the title: the rows 1-7 of the first page."""
    right = sheet.last_col - left
    sheet.put(1, 1, AUTHORITY, style=font(), align="center", span=left)
    sheet.put(1, left + 1, NATION, style=font(bold=True), align="center", span=right)
    sheet.put(2, 1, ISSUER, style=font(bold=True, underline="single"), align="center", span=left)
    sheet.put(2, left + 1, MOTTO, style=font(13, bold=True, underline="single"), align="center", span=right)
    sheet.put(3, 1, "Số:        /BC-VHTT", style=font(), align="center", span=left)
    sheet.put(3, left + 1, _long_date(today), style=font(italic=True), align="center", span=right)
    sheet.band(5, "BÁO CÁO", font(14, bold=True))
    plan = report["plan"]
    sheet.band(6, f"Kết quả thực hiện {plan['title']} năm {report['year']}", font(13, bold=True))
    as_of = date.fromisoformat(report["as_of"])
    sheet.band(7, f"(Mã kế hoạch {plan['code']}; số liệu tính đến ngày {as_of:%d/%m/%Y})", font(italic=True))
    return 9


def _appendix_heading(sheet: Sheet, number: int, title: str, report: dict[str, Any], today: date) -> int:
    """An appendix's heading: its number, its title, and the report it is attached to."""
    sheet.band(1, f"Phụ lục {ROMAN[number - 1]}", font(13, bold=True))
    sheet.band(2, title, font(13, bold=True))
    sheet.band(
        3,
        f"(Kèm theo Báo cáo ngày {today:%d/%m/%Y} của {ISSUER_NAME}; kế hoạch {report['plan']['code']}, năm {report['year']})",
        font(italic=True),
    )
    return 5


def _signature(sheet: Sheet, row: int, left: int) -> None:
    """Recipients on the left, the signer's title on the right, room to sign and stamp below it."""
    for i, text in enumerate(RECIPIENTS):
        style = font(11, bold=True, italic=True) if i == 0 else font(11)
        sheet.put(row + i, 1, text, style=style, span=left, wrap=False)
    sheet.put(row, left + 1, SIGNER, style=font(bold=True), align="center", span=sheet.last_col - left)
    sheet.put(row + 1, left + 1, "(Ký, ghi rõ họ tên và đóng dấu)", style=font(italic=True), align="center",
              span=sheet.last_col - left)  # fmt: skip


def _summary(ws: Worksheet, report: dict[str, Any], today: date) -> None:
    sheet = Sheet(ws, [6, 62, 13, 13, 12, 13, 17])
    top = _official_heading(sheet, report, today, left=2)
    sheet.header(top, ["STT", "Chỉ tiêu", "Tử số", "Mẫu số", "Kết quả", "Mục tiêu", "Đánh giá"])
    row = top
    for row, kpi in enumerate(report["kpis"], start=top + 1):
        target, target_fmt = _percent_target(kpi)
        values = [
            row - top,
            kpi["name"],
            kpi["numerator"],
            kpi["denominator"],
            kpi["value"],
            target,
            STATUS_VI[kpi["status"]],
        ]
        sheet.line(row, values, [None, None, COUNT, COUNT, PERCENT, target_fmt, None])
    _signature(sheet, row + 2, left=2)
    sheet.page_setup((top, top))


def _kpi_sheet(
    ws: Worksheet, number: int, kpi: dict[str, Any], labels: dict[int, tuple[str, str]], report, today
) -> None:
    codes = [labels.get(item["unit_id"], (str(item["unit_id"]), ""))[0] for item in kpi["breakdown"]]
    sheet = Sheet(ws, [6, min(_fitting_width(codes, 14), 30), 52, 13, 13, 12])
    top = _appendix_heading(sheet, number, kpi["name"], report, today)
    target, target_fmt = _percent_target(kpi)
    result = "chưa có số liệu" if kpi["value"] is None else _vi_percent(kpi["value"], 1)
    goal = f"mục tiêu {COMPARISON_VI[kpi['comparison']]} {_vi_percent(target, 0)}" if target is not None else ""
    verdict = f"Kết quả chung: {result} ({_vi_count(kpi['numerator'])}/{_vi_count(kpi['denominator'])})"
    sheet.band(top - 1, "; ".join(p for p in (verdict, goal, STATUS_VI[kpi["status"]].lower()) if p) + ".",
               font(italic=True), align="left")  # fmt: skip
    top += 1
    sheet.header(top, ["STT", "Mã đơn vị", "Tên đơn vị", "Tử số", "Mẫu số", "Tỷ lệ"])
    fmts = [None, None, None, COUNT, COUNT, PERCENT]
    row = top
    for row, item in enumerate(kpi["breakdown"], start=top + 1):
        code, name = labels.get(item["unit_id"], (str(item["unit_id"]), ""))
        sheet.line(row, [row - top, code, name, item["numerator"], item["denominator"], item["value"]], fmts)
    sheet.line(row + 1, ["", "", "Tổng cộng", kpi["numerator"], kpi["denominator"], kpi["value"]], fmts, bold=True)
    sheet.page_setup((top, top))


def _month_label(month: str) -> int:
    """The month's number: the appendix is of one year, and the chart's axis reads 1 to 12 without turning."""
    return int(month.split("-")[1])


def _monthly(ws: Worksheet, number: int, report: dict[str, Any], today: date) -> None:
    codes = list(report["monthly"])
    sheet = Sheet(ws, [11] + [11.5] * (4 * len(codes)))
    top = _appendix_heading(sheet, number, f"Kết quả thực hiện hằng tháng năm {report['year']}", report, today)
    bold = font(bold=True)
    sheet.put(top, 1, "Tháng", style=bold, align="center", border=True, fill=True)
    sheet.put(top + 1, 1, "", border=True)
    ws.merge_cells(start_row=top, start_column=1, end_row=top + 1, end_column=1)
    for i, code in enumerate(codes):
        col = 2 + 4 * i
        sheet.put(top, col, BY_CODE[code].sheet, style=bold, align="center", border=True, fill=True, span=4)
        for j, title in enumerate(("Tử số", "Mẫu số", "Tỷ lệ", "Mục tiêu")):
            sheet.put(top + 1, col + j, title, style=bold, align="center", border=True, fill=True)
    targets = {k["code"]: _percent_target(k) for k in report["kpis"]}
    months = sorted({p["month"] for series in report["monthly"].values() for p in series})
    by_code = {code: {p["month"]: p for p in series} for code, series in report["monthly"].items()}
    first = top + 2
    for row, month in enumerate(months, start=first):
        values: list[Any] = [_month_label(month)]
        fmts: list[str | None] = [None]
        for code in codes:
            point = by_code[code].get(month) or {"numerator": None, "denominator": None, "value": None}
            target, target_fmt = targets.get(code, (None, None))
            values += [point["numerator"], point["denominator"], point["value"], target]
            fmts += [COUNT, COUNT, PERCENT, target_fmt]
        sheet.line(row, values, fmts)
    last = max(first + len(months) - 1, first)
    share = sum(sheet.widths) / max(len(codes), 1)  # each chart as wide as its share of the table
    for i, code in enumerate(codes):
        chart = _month_chart(ws, code, 2 + 4 * i, first, last)
        chart.width, chart.height = share * UNIT_CM - 0.2, 7.2
        chart.anchor = _anchor(sheet.widths, i * share, last + 1, chart)
        ws.add_chart(chart)
    sheet.page_setup((top, top + 1), one_page=True)
    ws.print_area = f"A1:{get_column_letter(sheet.last_col)}{last + 2 + 16}"


def _anchor(widths: list[float], left: float, row: int, chart: BarChart) -> OneCellAnchor:
    """Anchor at `left` units of width from the sheet's edge (inside a column if need be), 0-based `row`."""
    col, before = 0, 0.0
    while col < len(widths) - 1 and before + widths[col] <= left:
        before += widths[col]
        col += 1
    start = AnchorMarker(col=col, colOff=cm_to_EMU((left - before) * UNIT_CM), row=row, rowOff=0)
    return OneCellAnchor(_from=start, ext=XDRPositiveSize2D(cm_to_EMU(chart.width), cm_to_EMU(chart.height)))


def _chart_text(size: int, *, bold: bool = False, text: str | None = None) -> RichText:
    """Chart text in the report's font (charts otherwise fall back to the spreadsheet's default sans)."""
    props = CharacterProperties(latin=DrawingFont(typeface=FONT), sz=size * 100, b=bold)
    runs = [RegularTextRun(rPr=props, t=text)] if text is not None else []
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), r=runs, endParaRPr=props)])


def _chart_title(text: str, size: int) -> Title:
    return Title(tx=Text(rich=_chart_text(size, bold=True, text=text)), overlay=False)


def _month_chart(ws: Worksheet, code: str, col: int, first: int, last: int) -> BarChart:
    """The month's rate as columns and the target as a line, both on one 0-100% axis that Excel shows."""
    bars = BarChart()
    bars.type = "col"
    bars.title = _chart_title(f"{BY_CODE[code].sheet}: tỷ lệ theo tháng", 11)
    bars.add_data(Reference(ws, min_col=col + 2, min_row=first - 1, max_row=last), titles_from_data=True)
    months = Reference(ws, min_col=1, min_row=first, max_row=last)
    bars.set_categories(months)
    bars.series[0].graphicalProperties.solidFill = "2F5597"
    bars.gapWidth = 60
    target = LineChart()
    target.add_data(Reference(ws, min_col=col + 3, min_row=first - 1, max_row=last), titles_from_data=True)
    target.set_categories(months)
    line = target.series[0]
    line.marker.symbol = "none"
    line.smooth = False
    line.graphicalProperties.line.solidFill = "C00000"
    line.graphicalProperties.line.width = 28575  # 2.25 pt
    bars.x_axis.title = _chart_title("Tháng", 10)
    bars.y_axis.title = _chart_title("Tỷ lệ", 10)
    bars.y_axis.number_format = "0%"
    bars.y_axis.scaling.min = 0
    bars.y_axis.scaling.max = 1.1  # room above 100%, so that a 100% target line is not the plot's top edge
    bars.y_axis.majorUnit = 0.2
    for axis in (bars.x_axis, bars.y_axis):
        axis.delete = False  # openpyxl leaves both axes deleted otherwise: Excel then draws none
        axis.txPr = _chart_text(9)
    bars.legend.position = "b"
    bars.legend.txPr = _chart_text(9)
    bars += target
    return bars


def _budget(ws: Worksheet, number: int, lines: list[dict[str, Any]], report: dict[str, Any], today: date) -> None:
    sheet = Sheet(ws, [6, 30, 12, 20, 20, 20])
    top = _appendix_heading(
        sheet, number, "Kinh phí tổ chức các hoạt động truyền thông về chuyển đổi số", report, today
    )
    sheet.band(top - 1, "(Các đợt kinh phí của năm, không tính hồ sơ đang soạn thảo; đơn vị tính: đồng)",
               font(italic=True), align="left")  # fmt: skip
    top += 1
    sheet.header(
        top, ["STT", "Trạng thái hồ sơ", "Số hồ sơ", "Kinh phí đề nghị", "Kinh phí thẩm định", "Kinh phí phê duyệt"]
    )
    by_status = {line["status"]: line for line in lines}
    fmts = [None, None, COUNT, COUNT, COUNT, COUNT]
    for i, status in enumerate(REPORTED_STATUSES, start=1):
        line = by_status.get(status, {"count": 0})
        sheet.line(top + i, [i, BUDGET_STATUS_VI[status], line["count"], *(line.get(a) for a in AMOUNTS)], fmts)
    totals = [_sum(line[a] for line in lines) for a in AMOUNTS]
    row = top + len(REPORTED_STATUSES) + 1
    sheet.line(row, ["", "Tổng cộng", sum(line["count"] for line in lines), *totals], fmts, bold=True)
    sheet.page_setup((top, top))


def _sum(values) -> int | None:
    """The sum of the amounts that exist; None (a blank cell) where none does."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def workbook(
    report: dict[str, Any], lines: list[dict[str, Any]], labels: dict[int, tuple[str, str]], today: date
) -> bytes:
    """The report (summary, signed), then appendices: one per KPI with its units, the months with their charts,
    and the budget by status. `lines` are the budget's rows with None where no amount exists yet."""
    wb = Workbook()
    # The Normal style in the report's font: empty cells print in it, and column widths count its characters
    # (openpyxl offers no public setter for the default font).
    wb._fonts = IndexedList([font()])
    wb._named_styles[0].font = font()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    _summary(summary, report, today)
    number = 0
    for number, kpi in enumerate(report["kpis"], start=1):
        _kpi_sheet(wb.create_sheet(BY_CODE[kpi["code"]].sheet), number, kpi, labels, report, today)
    _monthly(wb.create_sheet(MONTHLY_SHEET), number + 1, report, today)
    _budget(wb.create_sheet(BUDGET_SHEET), number + 2, lines, report, today)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
