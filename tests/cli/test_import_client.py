"""`python -m app import`: a file sent in chunks to a real server on 127.0.0.1, retried, replayed, and its
bad rows reported at the file's own line numbers."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from openpyxl import Workbook

from app.cli import imports as client
from app.config import ROOT, get_settings

HEADER = ["unit_code", "external_ref", "kind", "held_on", "title", "attendees", "questions_answered", "topics"]


@pytest.fixture(scope="module")
def server(world):
    """The app served by uvicorn on a free loopback port, on the test database."""
    from app.main import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(get_settings()), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(15)
    sock.close()


def _api_client(world, role: str, unit_code: str) -> tuple[str, str]:
    body = {"name": f"import script {uuid.uuid4().hex[:6]}", "role": role, "unit_id": world.unit_id(unit_code)}
    r = world.admin.post("/api/v1/api-clients", json=body)
    assert r.status_code == 201, r.text
    return r.json()["client_id"], r.json()["client_secret"]


@pytest.fixture(scope="module")
def creds(world):
    """A ward's import script (unit role, Phường Tân Thạnh)."""
    return _api_client(world, "unit", "PH-TANTHANH")


@pytest.fixture()
def village(world):
    return world.new_unit("village", "PH-TANTHANH")


class Run:
    def __init__(self, code: int, out: str, err: str, sleeps: list[float]) -> None:
        self.code, self.out, self.err, self.sleeps = code, out, err, sleeps

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def run_import(server, creds, resource, path, *extra, transport=None) -> Run:
    parser = argparse.ArgumentParser()
    client.add_arguments(parser)
    args = parser.parse_args(
        ["--url", server, "--client-id", creds[0], f"--client-secret={creds[1]}", *extra, resource, str(path)]
    )
    out, err, sleeps = io.StringIO(), io.StringIO(), []
    code = client.run(args, transport=transport, out=out, err=err, sleep=sleeps.append, backoff=0.01)
    return Run(code, out.getvalue(), err.getvalue(), sleeps)


class Recording(httpx.BaseTransport):
    """The real network, with a hook that may answer (or fail) a request instead of the server."""

    def __init__(self, hook=None) -> None:
        self.real = httpx.HTTPTransport()
        self.hook = hook
        self.seen: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def imports(self) -> list[httpx.Request]:
        """The chunks sent (the template's columns, asked for once, are not a chunk)."""
        return [r for r in self.seen if "/imports/" in r.url.path and r.method == "POST"]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        fake = self.hook(request, self) if self.hook else None
        if isinstance(fake, Exception):
            raise fake
        response = fake if fake is not None else self.real.handle_request(request)
        response.read()
        self.answers.append(response)
        return response


def _rows(village, tag, count, over=None):
    over = over or {}
    return [
        {
            "unit_code": village["code"],
            "external_ref": f"{tag}-{i}",
            "kind": "village_forum",
            "held_on": f"2024-{i % 12 + 1:02d}-15",
            "title": f"Diễn đàn chuyển đổi số thôn — kỳ {i}",
            "attendees": 30 + i,
            "questions_answered": i % 5,
            "topics": ["concepts", "shared_apps"],
            **over.get(i, {}),
        }
        for i in range(1, count + 1)
    ]


def _csv(path: Path, rows, *, bom=True, header=HEADER) -> Path:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow(
            [json.dumps(row[h], ensure_ascii=False) if isinstance(row.get(h), list) else row.get(h, "") for h in header]
        )
    path.write_bytes((("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8"))
    return path


def _xlsx(path: Path, rows) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        cells = [row[h] for h in HEADER]
        cells[3] = date.fromisoformat(row["held_on"])  # a real date cell, as Excel keeps it
        cells[7] = json.dumps(row["topics"])
        ws.append(cells)
    wb.save(path)
    return path


def _forums(world, village) -> list[dict]:
    r = world.admin.get("/api/v1/forums", params={"unit_id": village["id"], "limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _summary(run: Run) -> list[list[str]]:
    return [line.split() for line in run.out.splitlines() if line.split() and line.split()[0].isdigit()]


def test_a_csv_file_goes_in_three_chunks_and_every_row_lands_once(world, server, creds, village, tmp_path):
    rows = _rows(village, "csv", 7, {2: {"title": "Diễn đàn\nhai dòng"}})
    path = _csv(tmp_path / "forums.csv", rows)
    run = run_import(server, creds, "forums", path, "--chunk-size", "3")
    assert run.code == 0, run
    assert [r[:6] for r in _summary(run)] == [
        ["1", "2-5", "committed", "3", "0", "0"],  # row 2's title spans lines 3-4
        ["2", "6-8", "committed", "3", "0", "0"],
        ["3", "9-9", "committed", "1", "0", "0"],
    ], run
    assert "total" in run.out and "7 rows" in run.out, run
    stored = _forums(world, village)
    assert len(stored) == 7
    assert {f["external_ref"] for f in stored} == {f"csv-{i}" for i in range(1, 8)}
    assert {f["title"] for f in stored} >= {"Diễn đàn\nhai dòng"}
    assert all(f["topics"] == ["concepts", "shared_apps"] for f in stored)


def test_an_xlsx_file_with_date_and_number_cells_goes_in_three_chunks(world, server, creds, village, tmp_path):
    rows = _rows(village, "x", 8)
    for row in rows:
        row["external_ref"] = 9000 + int(row["external_ref"].split("-")[1])  # a number cell in Excel
    run = run_import(server, creds, "forums", _xlsx(tmp_path / "forums.xlsx", rows), "--chunk-size", "3")
    assert run.code == 0, run
    assert [r[:4] for r in _summary(run)] == [
        ["1", "2-4", "committed", "3"],
        ["2", "5-7", "committed", "3"],
        ["3", "8-9", "committed", "2"],
    ], run
    stored = _forums(world, village)
    assert sorted(f["external_ref"] for f in stored) == [str(9000 + i) for i in range(1, 9)]
    assert {f["held_on"] for f in stored} == {f"2024-{i % 12 + 1:02d}-15" for i in range(1, 9)}


def test_a_json_list_goes_in_three_chunks(world, server, creds, village, tmp_path):
    rows = _rows(village, "json", 9)
    path = tmp_path / "forums.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    run = run_import(server, creds, "forums", path, "--chunk-size", "4")
    assert run.code == 0, run
    assert [r[:4] for r in _summary(run)] == [
        ["1", "1-4", "committed", "4"],
        ["2", "5-8", "committed", "4"],
        ["3", "9-9", "committed", "1"],
    ], run
    assert len(_forums(world, village)) == 9


def test_running_the_same_command_again_replays_every_chunk_and_duplicates_nothing(
    world, server, creds, village, tmp_path
):
    path = _csv(tmp_path / "f.csv", _rows(village, "again", 7))
    first = run_import(server, creds, "forums", path, "--chunk-size", "3")
    assert first.code == 0, first
    transport = Recording()
    second = run_import(server, creds, "forums", path, "--chunk-size", "3", transport=transport)
    assert second.code == 0, second
    assert [r[-1] for r in _summary(second)] == ["yes", "yes", "yes"], second
    answers = [a for q, a in zip(transport.seen, transport.answers, strict=True) if q in transport.imports()]
    assert [a.headers.get("idempotent-replayed") for a in answers] == ["true"] * 3
    keys = [r.headers["idempotency-key"] for r in transport.imports()]
    assert len(set(keys)) == 3 and all(k.startswith("dx-import-") for k in keys)
    assert len(_forums(world, village)) == 7


def test_after_a_crash_in_chunk_three_the_rerun_replays_one_and_two_and_sends_three(
    world, server, creds, village, tmp_path
):
    path = _csv(tmp_path / "f.csv", _rows(village, "crash", 7))

    def network_down_at_chunk_3(request, t):
        if request.headers.get("idempotency-key", "").endswith("-3"):
            return httpx.ConnectError("connection refused")
        return None

    crashed = run_import(
        server,
        creds,
        "forums",
        path,
        "--chunk-size",
        "3",
        "--retries",
        "2",
        transport=Recording(network_down_at_chunk_3),
    )
    assert crashed.code == client.EXIT_GAVE_UP, crashed
    assert "chunk 3/3: gave up after 3 attempts" in crashed.err, crashed
    assert len(_forums(world, village)) == 6
    rerun = run_import(server, creds, "forums", path, "--chunk-size", "3")
    assert rerun.code == 0, rerun
    assert [(r[2], r[3], r[-1]) for r in _summary(rerun)] == [
        ("committed", "3", "yes"),
        ("committed", "3", "yes"),
        ("committed", "1", "no"),
    ], rerun
    assert len(_forums(world, village)) == 7


def test_a_bad_row_in_chunk_two_stops_the_run_at_its_csv_line(world, server, creds, village, tmp_path):
    rows = _rows(village, "bad", 9, {1: {"title": "Tiêu đề\nhai dòng"}, 5: {"attendees": -1, "kind": "tea_party"}})
    path = _csv(tmp_path / "f.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join([*lines[:3], b"", *lines[3:]]))  # a blank line 4
    transport = Recording()
    run = run_import(server, creds, "forums", path, "--chunk-size", "3", transport=transport)
    assert run.code == client.EXIT_REJECTED, run
    # header line 1, row 1 on lines 2-3, a blank line 4, so rows 4-6 start on lines 7-9
    assert "chunk 2/3 (lines 7-9 of f.csv) was rejected" in run.err, run
    assert "line 8, attendees: Input should be greater than or equal to 0" in run.err, run
    assert "line 8, kind:" in run.err, run
    assert "Chunk 1 (3 rows) was committed and stays committed" in run.err, run
    assert len(transport.imports()) == 2  # chunk 3 was never sent
    assert sorted(f["external_ref"] for f in _forums(world, village)) == ["bad-1", "bad-2", "bad-3"]


def test_a_bad_row_is_reported_at_its_sheet_row_and_json_item(world, server, creds, village, tmp_path):
    rows = _rows(village, "badx", 7, {5: {"title": ""}})
    rows[4]["questions_answered"] = "nhiều"
    run = run_import(server, creds, "forums", _xlsx(tmp_path / "f.xlsx", rows), "--chunk-size", "3")
    assert run.code == client.EXIT_REJECTED, run
    assert "line 6, questions_answered: Input should be a valid integer" in run.err, run
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"rows": _rows(village, "badj", 7, {6: {"held_on": "2024-02-30"}})}), encoding="utf-8")
    run = run_import(server, creds, "forums", path, "--chunk-size", "4")
    assert run.code == client.EXIT_REJECTED, run
    assert "item 6, held_on:" in run.err, run
    committed = sorted(f["external_ref"] for f in _forums(world, village))
    assert committed == ["badj-1", "badj-2", "badj-3", "badj-4", "badx-1", "badx-2", "badx-3"]


def test_an_unknown_column_is_reported_on_the_header_line(world, server, creds, village, tmp_path):
    path = _csv(tmp_path / "f.csv", _rows(village, "hdr", 2), header=[*HEADER, "ghi_chu"])
    run = run_import(server, creds, "forums", path)
    assert run.code == client.EXIT_REJECTED, run
    assert "line 1, ghi_chu: unknown column" in run.err and "(the header)" not in run.err, run
    assert "Nothing was written." in run.err, run


def test_a_server_answering_503_twice_then_429_is_retried_with_backoff_and_retry_after(
    world, server, creds, village, tmp_path
):
    def flaky(request, t):
        n = len(t.imports())
        if "/imports/" in request.url.path and n <= 2:
            return httpx.Response(503, json={"title": "Service Unavailable", "status": 503, "detail": "database busy"})
        if "/imports/" in request.url.path and n == 3:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow down"})
        return None

    transport = Recording(flaky)
    run = run_import(
        server,
        creds,
        "forums",
        _csv(tmp_path / "f.csv", _rows(village, "retry", 5)),
        "--chunk-size",
        "3",
        transport=transport,
    )
    assert run.code == 0, run
    assert len(transport.imports()) == 2 + 3  # chunk 1 sent four times, chunk 2 once
    assert run.err.count("retrying in") == 3, run
    assert "503 database busy" in run.err, run
    assert 0.01 <= run.sleeps[0] < run.sleeps[1] <= 0.025 and run.sleeps[2] == 7.0, run.sleeps
    keys = {r.headers["idempotency-key"] for r in transport.imports()[:4]}
    assert len(keys) == 1, "every retry of a chunk carries the same key"
    assert len(_forums(world, village)) == 5


def test_a_server_that_stays_down_ends_the_run_after_bounded_attempts(world, server, creds, village, tmp_path):
    transport = Recording(
        lambda request, t: httpx.Response(502, text="Bad Gateway") if "/imports/" in request.url.path else None
    )
    run = run_import(
        server,
        creds,
        "forums",
        _csv(tmp_path / "f.csv", _rows(village, "down", 2)),
        "--retries",
        "3",
        transport=transport,
    )
    assert run.code == client.EXIT_GAVE_UP, run
    assert len(transport.imports()) == 4 and "gave up after 4 attempts; last: 502 Bad Gateway" in run.err, run


def test_an_expired_token_is_fetched_again_once(world, server, creds, village, tmp_path):
    def expire_first(request, t):
        if "/imports/" in request.url.path and len(t.imports()) == 1:
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}, json={"detail": "token expired"})
        return None

    transport = Recording(expire_first)
    run = run_import(server, creds, "forums", _csv(tmp_path / "f.csv", _rows(village, "exp", 2)), transport=transport)
    assert run.code == 0, run
    assert [r.url.path for r in transport.seen].count("/api/v1/auth/token") == 2
    assert len(_forums(world, village)) == 2


def test_a_formula_in_the_sheet_stops_before_anything_is_sent(world, server, creds, village, tmp_path):
    rows = _rows(village, "fx", 4)
    rows[2]["attendees"] = "=SUM(A1:A3)"
    transport = Recording()
    run = run_import(server, creds, "forums", _xlsx(tmp_path / "f.xlsx", rows), transport=transport)
    assert run.code == client.EXIT_REJECTED, run
    assert "line 4, attendees: formulas are not accepted" in run.err and "nothing was sent" in run.err, run
    assert transport.seen == []


def test_a_dry_run_checks_every_chunk_and_writes_nothing(world, server, creds, village, tmp_path):
    rows = _rows(village, "dry", 7, {2: {"attendees": -5}, 7: {"attendees": -7}})
    path = _csv(tmp_path / "f.csv", rows, bom=False)
    run = run_import(server, creds, "forums", path, "--chunk-size", "3", "--dry-run")
    assert run.code == client.EXIT_REJECTED, run
    assert "line 3, attendees" in run.err and "line 8, attendees" in run.err, run
    assert [r[:4] for r in _summary(run)] == [["2", "5-7", "validated", "3"]], run
    assert _forums(world, village) == []
    good = _csv(tmp_path / "g.csv", _rows(village, "dry", 4), bom=False)
    run = run_import(server, creds, "forums", good, "--dry-run", "--chunk-size", "2")
    assert run.code == 0 and "dry run: nothing was written" in run.out, run
    assert _forums(world, village) == []


def test_a_viewer_client_is_told_it_may_not_import(world, server, village, tmp_path):
    run = run_import(
        server, _api_client(world, "viewer", "UBND-TK"), "forums", _csv(tmp_path / "f.csv", _rows(village, "v", 1))
    )
    assert run.code == client.EXIT_AUTH and "not allowed (403" in run.err, run


def _cli(args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DX_IMPORT_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "app", "import", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_takes_its_credentials_from_the_environment(world, server, creds, village, tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"rows": _rows(village, "cli", 3)}, ensure_ascii=False), encoding="utf-8")
    r = _cli(
        ["--url", server, "forums", str(path)], {"DX_IMPORT_CLIENT_ID": creds[0], "DX_IMPORT_CLIENT_SECRET": creds[1]}
    )
    assert r.returncode == 0, r.stderr
    assert "total" in r.stdout and "3 rows" in r.stdout, r.stdout
    assert len(_forums(world, village)) == 3


def test_a_wrong_secret_exits_non_zero_with_a_clear_message(world, server, creds, village, tmp_path):
    path = _csv(tmp_path / "f.csv", _rows(village, "ws", 1))
    r = _cli(
        ["--url", server, "forums", str(path)],
        {"DX_IMPORT_CLIENT_ID": creds[0], "DX_IMPORT_CLIENT_SECRET": "wrong-secret"},
    )
    assert r.returncode == client.EXIT_AUTH, r.stderr
    assert "the server refused the client credentials (401" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = _cli(["--url", server, "forums", str(path)], {})
    assert r.returncode == client.EXIT_INPUT and "--client-id" in r.stderr, r.stderr
    r = _cli(["--url", server, "--token", "not-a-token", "forums", str(path)], {})
    assert r.returncode == client.EXIT_AUTH and "refused the token (401" in r.stderr, r.stderr
    r = _cli(["--url", server, "--chunk-size", "50001", "forums", str(path)], {})
    assert r.returncode == 2 and "at most" not in r.stdout and "50000" in r.stderr, r.stderr
    assert _forums(world, village) == []


def test_an_unknown_resource_or_an_empty_file_is_a_clear_error(world, server, creds, village, tmp_path):
    run = run_import(server, creds, "forum", _csv(tmp_path / "f.csv", _rows(village, "u", 1)))
    assert (
        run.code == client.EXIT_REJECTED and "chunk 1/1: the server answered 422" in run.err and "resource" in run.err
    ), run
    (tmp_path / "empty.csv").write_bytes(b"\xef\xbb\xbf")
    run = run_import(server, creds, "forums", tmp_path / "empty.csv")
    assert run.code == client.EXIT_INPUT and "no header row" in run.err, run
    (tmp_path / "header.csv").write_text(",".join(HEADER) + "\n\n", encoding="utf-8")
    run = run_import(server, creds, "forums", tmp_path / "header.csv")
    assert run.code == client.EXIT_INPUT and "holds no rows" in run.err, run
    assert _forums(world, village) == []


def test_an_xlsx_declaring_a_smaller_size_than_it_holds_is_sent_whole(world, server, creds, village, tmp_path):
    from tests.office_files import with_dimension

    path = _xlsx(tmp_path / "f.xlsx", _rows(village, "dim", 10))
    path.write_bytes(with_dimension(path.read_bytes(), "A1:C2"))  # two rows, three columns, it says
    run = run_import(server, creds, "forums", path, "--chunk-size", "4")
    assert run.code == 0, run
    assert [r[:4] for r in _summary(run)] == [
        ["1", "2-5", "committed", "4"],
        ["2", "6-9", "committed", "4"],
        ["3", "10-11", "committed", "2"],
    ], run
    assert sorted(f["questions_answered"] for f in _forums(world, village)) == sorted(i % 5 for i in range(1, 11))


def test_a_filled_in_template_is_sent_from_its_header_and_errors_name_the_sheet_lines(
    world, server, creds, village, tmp_path
):
    from openpyxl import load_workbook

    ward = world.user("unit", "PH-TANTHANH")
    wb = load_workbook(io.BytesIO(ward.get("/api/v1/imports/forums/template").content))
    ws = wb.worksheets[0]
    rows = [
        [1, village["code"], "Diễn đàn thôn, khối phố", date(2024, 3, 5), "Diễn đàn tháng 3", 41, 7, "tpl-1"],
        [2, village["code"], "Diễn đàn thôn, khối phố", "12/04/2024", "Diễn đàn tháng 4", 38, 5, "tpl-2"],
        [3, village["code"], "Họp chợ", "2024-05-10", "Diễn đàn tháng 5", -1, 6, "tpl-3"],
    ]
    for n, row in enumerate(rows, start=5):  # a blank formatted row 4 under the header
        for col, value in enumerate(row, start=1):
            ws.cell(n, col, value)
    path = tmp_path / "mau.xlsx"
    wb.save(path)
    run = run_import(server, creds, "forums", path)
    assert run.code == client.EXIT_REJECTED, run
    assert "(header on line 3)" in run.err, run
    assert "line 7, Loại diễn đàn:" in run.err and "line 7, Số người dự:" in run.err, run
    assert "row 1 (the header)" not in run.err and "row 0" not in run.err, run
    ws.cell(7, 3, "Diễn đàn thôn, khối phố")
    ws.cell(7, 6, 12)
    wb.save(path)
    run = run_import(server, creds, "forums", path)
    assert run.code == 0, run
    got = {f["external_ref"]: f["held_on"] for f in _forums(world, village)}
    assert got == {"tpl-1": "2024-03-05", "tpl-2": "2024-04-12", "tpl-3": "2024-05-10"}
