"""An .xlsx is read to its real extent, within bounds, off the event loop; a CSV cell too large is a row error."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import date

import pytest

from app.imports import router as import_router
from app.office import xlsx as reader
from tests.office_files import (
    edit_parts,
    inline_row,
    sheet_with_rows,
    with_blank_bordered_rows,
    with_dimension,
    workbook,
)

IMP = "/api/v1/imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["unit_code", "external_ref", "kind", "held_on", "title", "attendees", "questions_answered"]


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


def _rows(village, tag, count):
    return [
        [village["code"], f"{tag}-{i}", "village_forum", date(2024, 3, i % 28 + 1), f"Diễn đàn {i}", 20 + i, i]
        for i in range(1, count + 1)
    ]


def _post(api, data: bytes, **params):
    return api.post(f"{IMP}/forums", content=data, headers={"Content-Type": XLSX}, params=params)


def _refs(api, village) -> list[str]:
    items = api.get("/api/v1/forums", params={"unit_id": village["id"], "limit": 500}).json()["items"]
    return sorted(f["external_ref"] for f in items)


@pytest.mark.parametrize("ref", ["A1:G2", "A1", "A1:C11"])
def test_a_sheet_declaring_a_smaller_size_than_it_holds_imports_every_row_and_every_column(ward, village, ref):
    data = with_dimension(workbook([HEADER, *_rows(village, f"dim{ref}", 10)]), ref)
    r = _post(ward, data)
    assert r.status_code == 200 and r.json()["created"] == 10, r.text
    forums = ward.get("/api/v1/forums", params={"unit_id": village["id"], "limit": 500}).json()["items"]
    # the columns beyond a declared width C are read too (attendees is column F)
    assert sorted(f["attendees"] for f in forums) == list(range(21, 31)), forums


def test_a_small_sheet_with_60000_pre_bordered_rows_is_no_413(ward, village):
    data = with_blank_bordered_rows(workbook([HEADER, *_rows(village, "border", 3)]), 5, 60_004)
    r = _post(ward, data)
    assert r.status_code == 200 and r.json()["created"] == 3, r.text


def test_a_sheet_declaring_a_million_rows_but_holding_one_is_read_as_one_row(ward, village):
    data = with_dimension(workbook([HEADER, *_rows(village, "million", 1)]), "A1:XFD1048576")
    r = _post(ward, data)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


def test_a_sheet_declaring_xfd8001_is_read_as_the_cells_it_holds(ward, village):
    data = with_dimension(workbook([HEADER, *_rows(village, "xfd", 3)]), "A1:XFD8001")
    assert _post(ward, data, dry_run="true").json()["created"] == 3


def test_50001_real_rows_are_413_whatever_the_sheet_declares(ward, village):
    rows = [inline_row(1, HEADER)] + [
        inline_row(n, [village["code"], f"big-{n}", "village_forum", "2024-03-03", "T", 1, 0]) for n in range(2, 50_003)
    ]
    data = with_dimension(sheet_with_rows(workbook([HEADER]), "".join(rows)), "A1:G2")
    r = _post(ward, data, dry_run="true")
    assert r.status_code == 413 and "50000" in r.json()["detail"], r.text


def test_a_shared_strings_bomb_is_413_before_it_is_inflated(ward, village, monkeypatch):
    base = workbook([HEADER, *_rows(village, "bomb", 1)])
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        # 60 MB of one repeated text: a few hundred kilobytes compressed
        dst.writestr("xl/sharedStrings.xml", b"<sst>" + b"<si><t>aaaaaaaaaaaaaaaa</t></si>" * 2_200_000 + b"</sst>")
    assert len(out.getvalue()) < 1_000_000
    inflated = []
    monkeypatch.setattr(reader._Book, "stream", _spy(reader._Book.stream, inflated))
    r = _post(ward, out.getvalue())
    assert r.status_code == 413 and "shared strings" in r.json()["detail"], r.text
    assert "xl/sharedStrings.xml" not in inflated


def _spy(stream, seen):
    def spying(self, name, limit, what):
        for block in stream(self, name, limit, what):
            seen.append(name)
            yield block

    return spying


def test_a_workbook_inflating_past_the_total_bound_is_413(ward, village, monkeypatch):
    monkeypatch.setattr(reader, "MAX_UNCOMPRESSED", 200_000)
    data = workbook([HEADER, *_rows(village, "total", 1)])
    data = edit_parts(data, {}, extra={"xl/media/image1.bin": b"\0" * 300_000})
    r = _post(ward, data)
    assert r.status_code == 413 and "inflate" in r.json()["detail"], r.text


def test_too_many_distinct_texts_or_cells_are_413(ward, village, monkeypatch):
    data = workbook([HEADER, *_rows(village, "cells", 30)])
    sst = b"<sst>" + b"".join(b"<si><t>t%d</t></si>" % i for i in range(30)) + b"</sst>"
    monkeypatch.setattr(reader, "MAX_SHARED_STRINGS", 20)
    r = _post(ward, edit_parts(data, {}, extra={"xl/sharedStrings.xml": sst}))
    assert r.status_code == 413 and "distinct texts" in r.json()["detail"], r.text
    monkeypatch.setattr(reader, "MAX_CELLS", 100)
    r = _post(ward, data)
    assert r.status_code == 413 and "cells" in r.json()["detail"], r.text


def test_a_damaged_or_lying_zip_is_422_not_500(ward, village):
    data = workbook([HEADER, *_rows(village, "dmg", 1)])
    assert _post(ward, data[: len(data) // 2]).status_code == 422
    broken = with_dimension(data, "A1:G2").replace(b"PK\x01\x02", b"PK\x01\x03", 1)
    assert _post(ward, broken).status_code == 422


def test_parsing_runs_off_the_event_loop(ward, village, monkeypatch):
    where = []
    real = import_router.parse

    def parse(*args):
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real(*args)

    monkeypatch.setattr(import_router, "parse", parse)
    assert _post(ward, workbook([HEADER, *_rows(village, "thread", 1)])).status_code == 200
    assert where == ["worker thread"]


def test_a_header_of_40000_column_names_is_answered_with_every_unknown_column(ward, village):
    names = [f"cot_{i}" for i in range(40_000)]
    text = ",".join(["unit_code", "title", *names]) + "\n" + f"{village['code']},x\n"
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text[:500]
    unknown = [e for e in r.json()["errors"] if e["message"] == "unknown column"]
    assert len(unknown) == 40_000 and unknown[0]["line"] == 1


def test_a_csv_cell_over_131072_characters_is_a_422_naming_its_row_and_column(ward, village):
    text = "unit_code,external_ref,kind,held_on,title,attendees,questions_answered\n"
    text += f"{village['code']},ok,village_forum,2024-03-03,Ngắn,1,0\n"
    text += f"{village['code']},long,village_forum,2024-03-03,{'x' * 131_073},1,0\n"
    r = ward.post(f"{IMP}/forums", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text[:500]
    assert r.json()["errors"] == [
        {"row": 2, "line": 3, "field": "title", "message": "the cell holds 131,073 characters; at most 131,072"}
    ]
