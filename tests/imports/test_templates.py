"""Import templates, and imports of a template filled in as an office does it (title rows, STT, Vietnamese
labels, DD/MM/YYYY, blank formatted rows), through a real LibreOffice too."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

IMP = "/api/v1/imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORUM_LABELS = [
    "STT",
    "Mã đơn vị",
    "Loại diễn đàn",
    "Ngày tổ chức",
    "Tên diễn đàn",
    "Số người dự",
    "Số câu hỏi được giải đáp",
    "Mã tham chiếu",
    "Nội dung truyền thông",
]


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def _template(api, resource: str = "forums"):
    r = api.get(f"{IMP}/{resource}/template")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    return load_workbook(io.BytesIO(r.content))


def _save(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _filled(ward, village, tag: str, *, total_row: bool = False) -> bytes:
    """The forums template as a ward clerk fills it: STT, labels from the drop-downs, a date cell and a typed
    DD/MM/YYYY date, topics by label, then blank formatted rows (and perhaps a total row)."""
    wb = _template(ward)
    ws = wb["Nhập liệu"]
    rows = [
        [
            1,
            village["code"],
            "Diễn đàn thôn, khối phố",
            date(2024, 3, 5),
            "Diễn đàn tháng 3",
            41,
            7,
            f"{tag}-1",
            "Khái niệm chuyển đổi số",
        ],
        [
            2,
            village["code"],
            "Diễn đàn thôn, khối phố",
            "12/04/2024",
            "Diễn đàn tháng 4",
            38,
            5,
            f"{tag}-2",
            "Khái niệm chuyển đổi số; Ứng dụng dùng chung",
        ],
        [3, village["code"], "village_forum", "2024-05-10", "Diễn đàn tháng 5", 40, 6, f"{tag}-3", None],
    ]
    for n, row in enumerate(rows, start=4):
        for col, value in enumerate(row, start=1):
            ws.cell(n, col, value)
    if total_row:
        ws.cell(8, 1, "Tổng cộng")
        ws.cell(8, 6, "=SUM(F4:F6)")
    return _save(wb)


def _forums(api, village) -> list[dict]:
    return api.get("/api/v1/forums", params={"unit_id": village["id"], "limit": 500}).json()["items"]


def test_the_template_has_a_title_labels_drop_downs_date_columns_and_instructions(world, ward, village):
    wb = _template(ward)
    assert wb.sheetnames[0] == "Nhập liệu" and "Hướng dẫn" in wb.sheetnames
    ws = wb["Nhập liệu"]
    assert ws["A1"].value == "DIỄN ĐÀN, ĐỐI THOẠI VỀ CHUYỂN ĐỔI SỐ"
    assert [c.value for c in ws[3]] == FORUM_LABELS
    assert ws["D4"].number_format == "dd/mm/yyyy" and ws["D500"].number_format == "dd/mm/yyyy"
    lists = wb["Danh mục"]
    assert lists.sheet_state == "hidden"
    by_range = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    column = {lists.cell(1, i).value: i for i in range(1, lists.max_column + 1)}
    kind_values = [lists.cell(r, column["Loại diễn đàn"]).value for r in range(2, 4)]
    assert kind_values == ["Diễn đàn thôn, khối phố", "Đối thoại với doanh nghiệp"]
    codes = {lists.cell(r, column["Mã đơn vị"]).value for r in range(2, lists.max_row + 1)} - {None}
    assert {"PH-TANTHANH", village["code"]} <= codes and "PH-ANMY" not in codes  # the ward's scope only
    assert "B4:B1003" in by_range and "C4:C1003" in by_range
    guide = wb["Hướng dẫn"]
    fields = [guide.cell(r, 3).value for r in range(5, 5 + len(FORUM_LABELS) - 1)]
    assert fields == [
        "unit_code",
        "kind",
        "held_on",
        "title",
        "attendees",
        "questions_answered",
        "external_ref",
        "topics",
    ]


def test_the_template_as_json_names_fields_labels_and_values(world, ward, village):
    r = ward.get(f"{IMP}/forums/template", params={"format": "json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resource"] == "forums"
    columns = {c["field"]: c for c in body["columns"]}
    assert [c["label"] for c in body["columns"]] == FORUM_LABELS[1:]
    assert columns["kind"] == {
        "field": "kind",
        "label": "Loại diễn đàn",
        "required": True,
        "values": [
            {"value": "village_forum", "label": "Diễn đàn thôn, khối phố"},
            {"value": "business_dialogue", "label": "Đối thoại với doanh nghiệp"},
        ],
    }
    assert columns["title"] == {"field": "title", "label": "Tên diễn đàn", "required": True}
    assert columns["external_ref"]["required"] is False
    codes = [v["value"] for v in columns["unit_code"]["values"]]
    assert village["code"] in codes and "PH-ANMY" not in codes


@pytest.mark.parametrize(
    ("role", "resource", "status"),
    [
        ("lead_office", "units", 200),
        ("lead_office", "trainings", 200),
        ("unit", "trainings", 200),
        ("unit", "units", 403),
        ("finance_office", "forums", 403),
        ("viewer", "forums", 403),
        ("anonymous", "forums", 401),
    ],
)
def test_templates_follow_the_import_permissions(roles, anonymous, role, resource, status):
    api = anonymous if role == "anonymous" else roles[role]
    r = api.get(f"{IMP}/{resource}/template", params={"format": "json"})
    assert r.status_code == status, r.text
    assert api.get(f"{IMP}/{resource}/template").status_code == status


def test_every_importable_resource_has_a_template_that_imports_back_empty(lead):
    for resource in [
        "units",
        "unit-plans",
        "broadcasts",
        "forums",
        "trainings",
        "satisfaction-surveys",
        "contest-entries",
    ]:
        r = lead.get(f"{IMP}/{resource}/template")
        assert r.status_code == 200, (resource, r.text)
        # an untouched template holds no row: nothing to import, no error about its title or formatting
        r = lead.post(
            f"{IMP}/{resource}", content=r.content, headers={"Content-Type": XLSX}, params={"dry_run": "true"}
        )
        assert r.status_code == 200 and r.json()["created"] == 0, (resource, r.text)


def test_a_template_filled_in_as_an_office_does_imports_every_row(world, ward, village):
    r = ward.post(f"{IMP}/forums", content=_filled(ward, village, "office"), headers={"Content-Type": XLSX})
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    got = {f["external_ref"]: f for f in _forums(ward, village)}
    assert got["office-1"]["held_on"] == "2024-03-05" and got["office-2"]["held_on"] == "2024-04-12"
    assert got["office-1"]["kind"] == "village_forum"
    assert got["office-2"]["topics"] == ["concepts", "shared_apps"]
    assert got["office-3"]["topics"] is None


def test_a_total_row_is_an_error_of_its_line_never_silently_dropped(world, ward, village):
    r = ward.post(
        f"{IMP}/forums", content=_filled(ward, village, "total", total_row=True), headers={"Content-Type": XLSX}
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert (error["row"], error["line"], error["field"]) == (4, 8, "STT"), error
    assert "total row" in error["message"] and "Tổng cộng" in error["message"]
    assert _forums(ward, village) == []


def test_errors_name_the_spreadsheet_line_and_the_column_as_the_file_names_it(world, ward, village):
    wb = _template(ward)
    ws = wb["Nhập liệu"]
    for col, value in enumerate([1, village["code"], "Họp chợ", "31/02/2024", "Diễn đàn", -3, 1], start=1):
        ws.cell(6, col, value)  # two blank formatted rows above it
    r = ward.post(f"{IMP}/forums", content=_save(wb), headers={"Content-Type": XLSX})
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"Loại diễn đàn", "Ngày tổ chức", "Số người dự"}, errors
    assert {(e["row"], e["line"]) for e in errors.values()} == {(1, 6)}
    assert errors["Ngày tổ chức"]["message"] == "'31/02/2024' is not a date (dd/mm/yyyy)"
    assert errors["Loại diễn đàn"]["message"] == (
        "choose one of: Diễn đàn thôn, khối phố (village_forum); Đối thoại với doanh nghiệp (business_dialogue)"
    )


def test_a_csv_with_title_rows_stt_labels_and_dd_mm_yyyy_dates_imports(world, ward, village):
    text = (
        "UBND PHƯỜNG TÂN THẠNH,,,,,,\n"
        "DANH SÁCH DIỄN ĐÀN THÁNG 3,,,,,,\n"
        ",,,,,,\n"
        "TT, mã đơn vị ,LOẠI DIỄN ĐÀN,Ngày tổ chức,Tên diễn đàn,Số người dự,Số câu hỏi được giải đáp,Mã tham chiếu\n"
        f"1,{village['code']},Diễn đàn thôn, khối phố,05/03/2024,Diễn đàn A,30,2,csv-1\n"
    ).replace("Diễn đàn thôn, khối phố", '"Diễn đàn thôn, khối phố"')
    text += f",,,,,,,\n2,{village['code']},Đối thoại với doanh nghiệp,6/3/2024,Đối thoại B,12,4,csv-2\n"
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    got = {f["external_ref"]: (f["kind"], f["held_on"]) for f in _forums(ward, village)}
    assert got == {"csv-1": ("village_forum", "2024-03-05"), "csv-2": ("business_dialogue", "2024-03-06")}
    bad = text.replace("csv-2\n", "csv-2\n") + f"3,{village['code']},Diễn đàn,xx,Tổng cộng,42,6,csv-3\n"
    r = ward.post(f"{IMP}/forums", content=bad.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert [(e["row"], e["line"], e["field"]) for e in r.json()["errors"]] == [(3, 8, "Tên diễn đàn")], r.text


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _convert(source: Path, target: str, outdir: Path) -> Path:
    outdir.mkdir(exist_ok=True)
    run = subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation=file://{outdir}/profile",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = outdir / (source.stem + "." + target.split(":")[0])
    assert out.exists(), run.stdout + run.stderr
    return out


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_a_filled_template_round_trips_through_libreoffice_to_ods_xlsx_and_csv(world, ward, village, tmp_path):
    filled = tmp_path / "dien-dan.xlsx"
    filled.write_bytes(_filled(ward, village, "lo"))
    ods = _convert(filled, "ods", tmp_path / "ods")
    back = _convert(ods, "xlsx", tmp_path / "back")
    r = ward.post(f"{IMP}/forums", content=back.read_bytes(), headers={"Content-Type": XLSX})
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    before = _forums(ward, village)
    # CSV as LibreOffice writes it (UTF-8, comma): the same rows, unchanged
    csv_file = _convert(filled, "csv:Text - txt - csv (StarCalc):44,34,76,1", tmp_path / "csv")
    r = ward.post(f"{IMP}/forums", content=csv_file.read_bytes(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and (r.json()["created"], r.json()["unchanged"]) == (0, 3), r.text
    assert _forums(ward, village) == before
    assert {f["held_on"] for f in before} == {"2024-03-05", "2024-04-12", "2024-05-10"}


def test_a_csv_saved_with_semicolons_as_excel_does_under_a_vietnamese_locale_imports(world, ward, village):
    text = (
        "STT;Mã đơn vị;Loại diễn đàn;Ngày tổ chức;Tên diễn đàn;Số người dự;Số câu hỏi được giải đáp;Mã tham chiếu\n"
        f"1;{village['code']};Diễn đàn thôn, khối phố;05/03/2024;Diễn đàn, tháng 3;30;2;semi-1\n"
    )
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    assert [f["title"] for f in _forums(ward, village)] == ["Diễn đàn, tháng 3"]


def test_an_ods_file_is_told_to_be_saved_as_xlsx(ward, tmp_path):
    if SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    wb = _template(ward)
    path = tmp_path / "mau.xlsx"
    wb.save(path)
    ods = _convert(path, "ods", tmp_path / "ods")
    r = ward.post(f"{IMP}/forums", content=ods.read_bytes(), headers={"Content-Type": XLSX})
    assert r.status_code == 422 and "OpenDocument" in r.json()["detail"] and ".xlsx" in r.json()["detail"], r.text


def test_the_lead_office_loads_villages_from_the_units_template_by_parent_code(world, lead):
    columns = lead.get(f"{IMP}/units/template", params={"format": "json"}).json()["columns"]
    assert [c["field"] for c in columns][:4] == ["code", "name", "kind", "parent_code"]
    assert "PH-TANTHANH" in [v["value"] for v in columns[3]["values"]]
    wb = _template(lead, "units")
    ws = wb["Nhập liệu"]
    header = [c.value for c in ws[3]]
    assert header[:5] == ["STT", "Mã đơn vị", "Tên đơn vị", "Loại đơn vị", "Mã đơn vị cấp trên"], header
    for n, (code, name, parent) in enumerate(
        [
            ("TT-THON-1", "Thôn Phú Thạnh", "PH-TANTHANH"),
            ("TT-KP-2", "Khối phố 2", "PH-TANTHANH"),
            ("TT-X", "Thôn X", "KHONG-CO"),
        ],
        start=4,
    ):
        for col, value in enumerate(
            [n - 3, code, name, "Thôn" if "THON" in code or code == "TT-X" else "Khối phố", parent], start=1
        ):
            ws.cell(n, col, value)
    r = lead.post(f"{IMP}/units", content=_save(wb), headers={"Content-Type": XLSX})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"row": 3, "line": 6, "field": "Mã đơn vị cấp trên", "message": "no unit has code 'KHONG-CO'"}
    ]
    ws.delete_rows(6)
    r = lead.post(f"{IMP}/units", content=_save(wb), headers={"Content-Type": XLSX})
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    got = {
        u["code"]: (u["kind"], u["parent_id"])
        for u in lead.get("/api/v1/units", params={"parent_id": world.unit_id("PH-TANTHANH"), "limit": 500}).json()[
            "items"
        ]
    }
    assert got["TT-THON-1"] == ("village", world.unit_id("PH-TANTHANH")) and got["TT-KP-2"][0] == "quarter"
