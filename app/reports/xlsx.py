"""The annual report as a workbook the lead office can send to the province as it is (titles in Vietnamese)."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.kpis.registry import BY_CODE

STATUS_VI = {"met": "Đạt", "not_met": "Chưa đạt", "no_data": "Chưa có số liệu", "tracking": "Theo dõi"}
COMPARISON_VI = {"gte": "≥", "gt": ">"}
BUDGET_STATUS_VI = {
    "submitted": "Đã gửi",
    "returned": "Trả lại để hoàn thiện",
    "forwarded": "Đã chuyển thẩm định",
    "appraised": "Đã thẩm định",
    "approved": "Đã phê duyệt",
    "rejected": "Không phê duyệt",
    "withdrawn": "Đã rút",
}
SUMMARY_SHEET = "Tổng hợp"
MONTHLY_SHEET = "Theo tháng"
BUDGET_SHEET = "Kinh phí"
PERCENT = "0.0%"
VND = "#,##0"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _header(ws: Worksheet, row: int, titles: list[str], widths: list[int] | None = None) -> None:
    for col, title in enumerate(titles, start=1):
        cell = ws.cell(row=row, column=col, value=title)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for col, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(col)].width = width


def _title(ws: Worksheet, text: str, report: dict[str, Any]) -> None:
    ws.cell(row=1, column=1, value=text).font = Font(bold=True, size=13)
    as_of = date.fromisoformat(report["as_of"])
    ws.cell(row=2, column=1, value=f"Năm {report['year']}; số liệu tính đến ngày {as_of:%d/%m/%Y}")


def _summary(ws: Worksheet, report: dict[str, Any]) -> None:
    _title(ws, "BÁO CÁO KẾT QUẢ THỰC HIỆN KẾ HOẠCH TRUYỀN THÔNG VỀ CHUYỂN ĐỔI SỐ", report)
    _header(
        ws,
        4,
        ["STT", "Mã chỉ tiêu", "Chỉ tiêu", "Tử số", "Mẫu số", "Kết quả", "Mục tiêu", "So sánh", "Đánh giá"],
        [6, 28, 70, 12, 12, 12, 12, 10, 18],
    )
    for i, kpi in enumerate(report["kpis"], start=1):
        row = 4 + i
        values = [
            i,
            kpi["code"],
            kpi["name"],
            kpi["numerator"],
            kpi["denominator"],
            kpi["value"],
            kpi["target"],
            COMPARISON_VI.get(kpi["comparison"] or "", ""),
            STATUS_VI[kpi["status"]],
        ]
        for col, value in enumerate(values, start=1):
            ws.cell(row=row, column=col, value=value)
        ws.cell(row=row, column=6).number_format = PERCENT
        ws.cell(row=row, column=7).number_format = PERCENT


def _kpi_sheet(ws: Worksheet, kpi: dict[str, Any], labels: dict[int, tuple[str, str]], report: dict[str, Any]) -> None:
    _title(ws, kpi["name"], report)
    _header(ws, 4, ["Mã đơn vị", "Tên đơn vị", "Tử số", "Mẫu số", "Tỷ lệ"], [20, 50, 12, 12, 12])
    row = 4
    for row, item in enumerate(kpi["breakdown"], start=5):
        code, name = labels.get(item["unit_id"], (str(item["unit_id"]), ""))
        for col, value in enumerate([code, name, item["numerator"], item["denominator"], item["value"]], start=1):
            ws.cell(row=row, column=col, value=value)
        ws.cell(row=row, column=5).number_format = PERCENT
    total = row + 1
    for col, value in enumerate(["Tổng cộng", "", kpi["numerator"], kpi["denominator"], kpi["value"]], start=1):
        ws.cell(row=total, column=col, value=value).font = BOLD
    ws.cell(row=total, column=5).number_format = PERCENT
    ws.freeze_panes = "A5"


def _monthly(ws: Worksheet, report: dict[str, Any]) -> None:
    _title(ws, "Kết quả theo tháng", report)
    codes = list(report["monthly"])
    titles = ["Tháng"]
    for code in codes:
        short = BY_CODE[code].sheet
        titles += [f"{short}: tử số", f"{short}: mẫu số", f"{short}: tỷ lệ"]
    _header(ws, 4, titles, [10] + [16] * (3 * len(codes)))
    months = sorted({p["month"] for series in report["monthly"].values() for p in series})
    by_code = {code: {p["month"]: p for p in series} for code, series in report["monthly"].items()}
    for row, month in enumerate(months, start=5):
        ws.cell(row=row, column=1, value=month)
        for i, code in enumerate(codes):
            point = by_code[code].get(month)
            if point is None:
                continue
            col = 2 + 3 * i
            ws.cell(row=row, column=col, value=point["numerator"])
            ws.cell(row=row, column=col + 1, value=point["denominator"])
            ws.cell(row=row, column=col + 2, value=point["value"]).number_format = PERCENT
    last = 4 + len(months)
    anchor_row = 4
    for i, code in enumerate(codes):
        chart = BarChart()
        chart.type = "col"
        chart.title = f"{BY_CODE[code].sheet} theo tháng (tỷ lệ)"
        chart.y_axis.title = "Tỷ lệ"
        chart.x_axis.title = "Tháng"
        chart.y_axis.number_format = "0%"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
        col = 4 + 3 * i
        chart.add_data(Reference(ws, min_col=col, min_row=4, max_row=max(last, 5)), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=5, max_row=max(last, 5)))
        chart.width, chart.height = 18, 8
        ws.add_chart(chart, f"{get_column_letter(3 + 3 * len(codes))}{anchor_row}")
        anchor_row += 18


def _budget(ws: Worksheet, report: dict[str, Any]) -> None:
    _title(ws, "Kinh phí tổ chức hoạt động truyền thông (các đợt của năm, trừ hồ sơ nháp)", report)
    _header(
        ws,
        4,
        ["Trạng thái", "Số hồ sơ", "Đề nghị (đồng)", "Thẩm định (đồng)", "Phê duyệt (đồng)"],
        [26, 12, 20, 20, 20],
    )
    budget = report["budget"]
    row = 4
    for row, item in enumerate(budget["by_status"], start=5):
        values = [
            BUDGET_STATUS_VI.get(item["status"], item["status"]),
            item["count"],
            item["requested_total_vnd"],
            item["appraised_total_vnd"],
            item["approved_total_vnd"],
        ]
        for col, value in enumerate(values, start=1):
            ws.cell(row=row, column=col, value=value)
    total = row + 1
    values = [
        "Tổng cộng",
        sum(s["count"] for s in budget["by_status"]),
        budget["requested_total_vnd"],
        budget["appraised_total_vnd"],
        budget["approved_total_vnd"],
    ]
    for col, value in enumerate(values, start=1):
        ws.cell(row=total, column=col, value=value).font = BOLD
    for r in range(5, total + 1):
        for col in (3, 4, 5):
            ws.cell(row=r, column=col).number_format = VND


def workbook(report: dict[str, Any], labels: dict[int, tuple[str, str]]) -> bytes:
    """Summary, one sheet per KPI (per-unit breakdown), the monthly series with charts, and the budget."""
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    _summary(summary, report)
    for kpi in report["kpis"]:
        _kpi_sheet(wb.create_sheet(BY_CODE[kpi["code"]].sheet), kpi, labels, report)
    _monthly(wb.create_sheet(MONTHLY_SHEET), report)
    _budget(wb.create_sheet(BUDGET_SHEET), report)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
