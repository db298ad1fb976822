"""The annual workbook as the province receives it: its numbers match the JSON, and it prints and reads like an
official Vietnamese report (checked cell by cell here, and printed by LibreOffice in the last tests)."""

from __future__ import annotations

import math
import re
import subprocess
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from pytest import approx

from app.kpis.registry import KPIS
from app.timeutil import local_today
from tests.conftest import world_on_new_database
from tests.factories import Factory
from tests.reports.city import AS_OF, XLSX, YEAR
from tests.reports.printing import PDFTOTEXT, SOFFICE, page_texts, pages_per_sheet, to_pdf

SHEETS = [
    "Tổng hợp",
    "Kế hoạch của đơn vị",
    "Tập huấn CBCCVC",
    "Trường học",
    "Mức độ hài lòng",
    "Phát thanh - truyền hình",
    "Diễn đàn thôn, khối phố",
    "Báo cáo năm",
    "Báo cáo đúng hạn",
    "Theo tháng",
    "Kinh phí",
]
HEADERS = {  # the last header row of each kind of sheet
    "Tổng hợp": ["STT", "Chỉ tiêu", "Tử số", "Mẫu số", "Kết quả", "Mục tiêu", "Đánh giá"],
    "kpi": ["STT", "Mã đơn vị", "Tên đơn vị", "Tử số", "Mẫu số", "Tỷ lệ"],
    "Theo tháng": [None] + ["Tử số", "Mẫu số", "Tỷ lệ", "Mục tiêu"] * 2,
    "Kinh phí": ["STT", "Trạng thái hồ sơ", "Số hồ sơ", "Kinh phí đề nghị", "Kinh phí thẩm định", "Kinh phí phê duyệt"],
}
REQUIRED_UNIT_SHEETS = ["Kế hoạch của đơn vị", "Báo cáo năm", "Báo cáo đúng hạn"]
STATUS_VI = {"met": "Đạt", "not_met": "Chưa đạt", "no_data": "Chưa có số liệu", "tracking": "Theo dõi"}
PLAN_TITLE = (
    "Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số trên địa bàn thành phố Tam Kỳ giai đoạn 2021-2025"
)
HOSTILE = ['=HYPERLINK("http://x","click")', "=1+2", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


def _workbook(api, **params) -> bytes:
    r = api.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF, "format": "xlsx", **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == f'attachment; filename="bao-cao-nam-{YEAR}.xlsx"'
    return r.content


@pytest.fixture(scope="module")
def content(city) -> bytes:
    return _workbook(city.lead)


@pytest.fixture(scope="module")
def wb(content):
    return load_workbook(BytesIO(content))


@pytest.fixture(scope="module")
def report(city) -> dict:
    return city.lead.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF}).json()


def header_row(ws) -> int:
    """The last header row: the sheet's table begins below it (its print title rows end there)."""
    return int(ws.print_title_rows.replace("$", "").split(":")[-1])


def body(ws) -> list[list]:
    """The table's rows below the header, up to the first empty row."""
    rows = []
    for row in ws.iter_rows(min_row=header_row(ws) + 1, max_col=ws.max_column, values_only=True):
        if all(v is None for v in row):
            break
        rows.append(list(row))
    return rows


def headers(ws) -> list:
    return [c.value for c in ws[header_row(ws)]][: len(body(ws)[0])]


def test_the_workbook_has_a_summary_then_one_appendix_per_kpi_the_months_and_the_budget(wb):
    assert wb.sheetnames == SHEETS
    appendices = [wb[name]["A1"].value for name in SHEETS[1:]]
    assert appendices == [f"Phụ lục {n}" for n in ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")], (
        appendices
    )
    for name in SHEETS[1:]:
        note = wb[name]["A3"].value
        assert note.startswith("(Kèm theo Báo cáo ngày ") and note.endswith(f"kế hoạch KH-TK-2021-2025, năm {YEAR})"), (
            note
        )


def test_the_summary_carries_the_official_heading_place_date_and_a_signature_block(wb, report):
    assert report["plan"]["title"] == PLAN_TITLE  # the title below names the report's plan
    ws = wb["Tổng hợp"]
    cells = [[c.value for c in row] for row in ws.iter_rows(max_row=7)]
    assert cells[0][0] == "UBND THÀNH PHỐ TAM KỲ" and cells[1][0] == "PHÒNG VĂN HÓA VÀ THÔNG TIN"
    assert cells[0][2] == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" and cells[1][2] == "Độc lập - Tự do - Hạnh phúc"
    days = {local_today() + timedelta(days=d) for d in (-1, 0)}  # the test may straddle midnight
    assert cells[2][2] in {f"Tam Kỳ, ngày {d:%d} tháng {d:%m} năm {d.year}" for d in days}, cells[2]
    assert [cells[4][0], cells[5][0]] == [
        "BÁO CÁO",
        f"Kết quả thực hiện {PLAN_TITLE} năm {YEAR}",
    ]
    assert cells[6][0] == "(Mã kế hoạch KH-TK-2021-2025; số liệu tính đến ngày 10/01/2025)"
    below = [[c.value for c in row] for row in ws.iter_rows(min_row=header_row(ws) + len(KPIS) + 1)]
    texts = [v for row in below for v in row if v]
    assert "Nơi nhận:" in texts and "TRƯỞNG PHÒNG" in texts, texts


def test_the_summary_names_each_kpi_in_vietnamese_and_matches_the_json(wb, report):
    ws = wb["Tổng hợp"]
    assert headers(ws) == HEADERS["Tổng hợp"]
    rows = body(ws)[: len(KPIS)]
    for i, (row, kpi) in enumerate(zip(rows, report["kpis"], strict=True), start=1):
        # integers exactly; ratios as Excel keeps them (openpyxl writes 16 significant digits)
        target = None if kpi["target"] is None else float(kpi["target"])
        assert row == [
            i,
            kpi["name"],
            kpi["numerator"],
            kpi["denominator"],
            approx(kpi["value"], rel=1e-15),
            target,
            STATUS_VI[kpi["status"]],
        ], row
    codes = {k.code for k in KPIS}
    for name in SHEETS:
        for row in wb[name].iter_rows(values_only=True):
            assert not codes & set(row), (name, row)  # no `unit_plan_coverage` where a reader looks
    targets = {ws.cell(row=header_row(ws) + 1 + i, column=6).number_format for i in range(len(KPIS))}
    assert targets == {'"≥ "0%_)', '"> "0%_)', "General"}, targets  # the comparison shown, the value a number


def test_each_kpi_appendix_lists_its_units_and_a_total(wb, report):
    forum = next(k for k in report["kpis"] if k["code"] == "forum_compliance")
    ws = wb["Diễn đàn thôn, khối phố"]
    assert headers(ws) == HEADERS["kpi"]
    assert ws["A2"].value == forum["name"]
    rows = body(ws)
    assert [r[3:] for r in rows] == [
        [b["numerator"], b["denominator"], approx(b["value"])] for b in forum["breakdown"]
    ] + [[forum["numerator"], forum["denominator"], approx(forum["value"])]]
    assert [r[0] for r in rows[:-1]] == list(range(1, len(forum["breakdown"]) + 1))
    assert rows[-1][2] == "Tổng cộng" and rows[0][2].startswith("Đơn vị thử"), rows


def test_budget_lines_follow_the_workflow_with_blanks_where_nothing_is_appraised_or_approved(wb):
    ws = wb["Kinh phí"]
    assert headers(ws) == HEADERS["Kinh phí"]
    assert body(ws) == [
        [1, "Đã gửi, chờ xem xét", 1, 1_000_000, None, None],
        [2, "Trả lại để hoàn thiện", 0, None, None, None],
        [3, "Đã chuyển thẩm định", 0, None, None, None],
        [4, "Đã thẩm định", 0, None, None, None],
        [5, "Đã phê duyệt", 1, 5_000_000, 4_000_000, 3_500_000],
        [6, "Không phê duyệt", 1, 2_000_000, 1_500_000, None],
        [7, "Đơn vị đã rút", 0, None, None, None],
        [None, "Tổng cộng", 3, 8_000_000, 5_500_000, 3_500_000],
    ]


def test_the_monthly_sheet_holds_both_series_with_their_targets(wb):
    ws = wb["Theo tháng"]
    assert headers(ws) == HEADERS["Theo tháng"]
    assert [ws.cell(row=header_row(ws) - 1, column=c).value for c in (1, 2, 6)] == [
        "Tháng",
        "Phát thanh - truyền hình",
        "Diễn đàn thôn, khối phố",
    ]
    assert ws["A2"].value == f"Kết quả thực hiện hằng tháng năm {YEAR}"
    rows = body(ws)
    assert [r[0] for r in rows] == list(range(1, 13))
    assert rows[0][1:] == [2, 14, approx(2 / 14), 1.0, 2, 2, 1.0, 1.0], rows[0]


def test_every_count_and_amount_shows_thousands_separators_and_stays_a_number(wb):
    for name in SHEETS:
        ws = wb[name]
        for row in ws.iter_rows(min_row=header_row(ws) + 1):
            for cell in row:
                if isinstance(cell.value, int) and cell.column > 1:  # column A is STT or the month
                    # a count or an amount; or a 100% target, which reads back as the integer 1
                    assert cell.number_format == "#,##0_)" or cell.number_format.endswith("%_)"), (
                        name,
                        cell.coordinate,
                        cell.number_format,
                    )
                if isinstance(cell.value, float):
                    assert cell.number_format.endswith("%_)"), (name, cell.coordinate, cell.number_format)
                if cell.data_type == "s" and cell.value:
                    assert not re.fullmatch(r"[\d.,%\s]+", cell.value), (name, cell.coordinate, cell.value)


def test_every_sheet_prints_a4_landscape_fitted_to_width_with_its_header_rows_repeated(wb):
    for name in SHEETS:
        ws = wb[name]
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize) == ("landscape", 9), name  # 9: A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth == 1, name
        assert setup.fitToHeight == (1 if name == "Theo tháng" else 0), name  # long tables run down, not across
        first, last = (int(n) for n in ws.print_title_rows.replace("$", "").split(":"))
        assert ws.cell(row=last, column=2).value is not None and first <= last, name
        m = ws.page_margins
        assert (m.left, m.right, m.top, m.bottom) == (0.79, 0.59, 0.59, 0.71), name  # 2 cm, 1.5 cm, ...
        assert ws.oddFooter.left.text == "&A" and "&P" in ws.oddFooter.right.text, name
        assert ws.freeze_panes == f"A{last + 1}", name


def test_text_is_in_times_new_roman_in_rows_tall_enough_for_vietnamese_diacritics(wb):
    for name in SHEETS:
        ws = wb[name]
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.font.name == "Times New Roman", (name, cell.coordinate, cell.font.name)
                height = ws.row_dimensions[cell.row].height
                # a stacked accent (Ấ, Ộ) needs about 1.35 times the font size above the baseline and below
                assert height is not None and height >= 1.35 * cell.font.sz, (name, cell.coordinate, height)
                if cell.alignment.wrap_text and isinstance(cell.value, str):
                    # even at 1.3 characters per unit of width, longer text takes more lines
                    lines = math.ceil(len(cell.value) / (1.3 * width(ws, cell)))
                    assert height >= lines * 1.3 * cell.font.sz, (name, cell.coordinate, cell.value, height)
    title = wb["Tổng hợp"]["A5"]
    assert title.value == "BÁO CÁO" and title.font.b and title.font.sz == 14
    assert wb["Tổng hợp"].row_dimensions[5].height >= 20


def width(ws, cell) -> float:
    """The width of the cell, or of the merged range it begins."""
    for r in ws.merged_cells.ranges:
        if (r.min_row, r.min_col) == (cell.row, cell.column):
            return sum(ws.column_dimensions[get_column_letter(c)].width for c in range(r.min_col, r.max_col + 1))
    return ws.column_dimensions[get_column_letter(cell.column)].width


def test_headers_wrap_inside_their_cells_and_titles_span_the_whole_table(wb):
    for name in SHEETS:
        ws = wb[name]
        for cell in ws[header_row(ws)]:
            if cell.value is not None:
                assert cell.alignment.wrap_text and cell.font.b, (name, cell.coordinate)
        width = len(headers(ws))
        merged = {(r.min_row, r.min_col, r.max_col) for r in ws.merged_cells.ranges}
        title_row = 5 if name == "Tổng hợp" else 2
        assert (title_row, 1, width) in merged, (name, merged)


def test_charts_sit_below_the_table_with_visible_axes_and_a_target_line(wb, content):
    ws = wb["Theo tháng"]
    last_row = header_row(ws) + len(body(ws))
    charts = ws._charts
    assert len(charts) == 2
    for chart in charts:
        assert chart.anchor._from.row + 1 > last_row, chart.anchor._from.row  # 0-based anchor row
    archive = zipfile.ZipFile(BytesIO(content))
    xmls = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/charts/chart")]
    assert len(xmls) == 2
    first = header_row(ws) + 1
    for xml, rate_col, target_col in zip(xmls, "DH", "EI", strict=True):
        assert "<barChart>" in xml and "<lineChart>" in xml, xml
        assert re.findall(r'<delete val="(\w+)"', xml) == ["0", "0"], xml  # both axes drawn
        assert f"'Theo tháng'!${rate_col}${first}:${rate_col}${first + 11}" in xml, xml
        assert f"'Theo tháng'!${target_col}${first}:${target_col}${first + 11}" in xml, xml  # the target line
        assert "tỷ lệ theo tháng" in xml and 'typeface="Times New Roman"' in xml


def test_a_ward_workbook_lists_only_its_units(city):
    wb = load_workbook(BytesIO(_workbook(city.ward)))
    rows = body(wb["Diễn đàn thôn, khối phố"])
    assert len(rows) == 2 and rows[0][3:5] == [12, 12] and rows[1][2] == "Tổng cộng", rows
    assert body(wb["Phát thanh - truyền hình"])[0][1:5] == ["PH-TANTHANH", "Phường Tân Thạnh", 2, 12]
    assert body(wb["Kinh phí"])[-1] == [None, "Tổng cộng", 2, 6_000_000, 4_000_000, 3_500_000]


def test_unit_names_that_look_like_formulas_stay_text_on_every_sheet():
    """A unit named =HYPERLINK(...) is text in the workbook, never a live formula (issue 12). On a database of
    its own: the hostile units would change other tests' city numbers."""
    with world_on_new_database("formulas") as world:
        f = Factory.for_world(world)
        try:
            ward = world.unit_id("PH-TANTHANH")
            made = [f.unit(kind, ward, name=name) for kind in ("village", "school") for name in HOSTILE]
            for village in made[: len(HOSTILE)]:
                f.forum(village, f"{YEAR}-03-15")
        finally:
            f.close()
        lead = world.user("lead_office", "P-VHTT")
        r = lead.get("/api/v1/reports/annual", params={"year": YEAR, "as_of": AS_OF, "format": "xlsx"})
    assert r.status_code == 200, r.text
    wb = load_workbook(BytesIO(r.content))
    found: dict[str, set[str]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if cell.value in HOSTILE:
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    found.setdefault(cell.value, set()).add(ws.title)
    assert set(found) == set(HOSTILE), found  # every name intact, character for character
    assert {"Diễn đàn thôn, khối phố", "Trường học"} <= set().union(*found.values()), found
    xml = zipfile.ZipFile(BytesIO(r.content)).read("xl/worksheets/sheet7.xml").decode()
    assert "<f>" not in xml, "a formula element in the forum sheet"


needs_office = pytest.mark.skipif(not (SOFFICE and PDFTOTEXT), reason="LibreOffice (soffice) and pdftotext needed")


@pytest.fixture(scope="module")
def printed(content, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("printed")
    xlsx = folder / "bao-cao.xlsx"
    xlsx.write_bytes(content)
    return to_pdf(xlsx, folder)


@pytest.mark.slow
@needs_office
def test_libreoffice_prints_each_sheet_on_few_landscape_pages_never_split_sideways(printed, wb):
    pages = pages_per_sheet(printed, SHEETS)
    assert list(pages) == SHEETS, pages  # every page's footer names its sheet, in order
    counts = {name: len(p) for name, p in pages.items()}
    # the small city: 23 required units run onto a second page, every other table fits on one
    assert counts == {**dict.fromkeys(SHEETS, 1), **dict.fromkeys(REQUIRED_UNIT_SHEETS, 2)}, counts
    texts = page_texts(printed)
    for name, numbers in pages.items():
        last_header = [h for h in (HEADERS.get(name) or HEADERS["kpi"]) if h][-1]
        for n in numbers:  # a table split sideways leaves a page without its last column's header
            assert last_header in texts[n - 1], (name, n, texts[n - 1][:500])
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", str(len(texts)), str(printed)], check=True, capture_output=True, text=True
    ).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert len(sizes) == len(texts) and all(float(w) > float(h) for w, h in sizes), sizes  # landscape


@pytest.mark.slow
@needs_office
def test_libreoffice_prints_vietnamese_text_intact_and_unit_codes_unbroken(printed, wb):
    texts = page_texts(printed)
    for text in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO", "TRƯỞNG PHÒNG"):
        assert text in texts[0], (text, texts[0][:800])
    stations = pages_per_sheet(printed, SHEETS)["Phát thanh - truyền hình"]
    printed_lines = "\n".join(texts[n - 1] for n in stations)
    for code in [row[1] for row in body(wb["Phát thanh - truyền hình"])[:-1]]:  # PH-TRUONGXUAN is the longest
        assert re.search(rf"\b{re.escape(code)}\b", printed_lines), (code, "split over two lines or cut")
