"""The README's commands for a newcomer's first hour, run as written (each must appear in README.md verbatim),
on a scratch database: the venv's command line, the bootstrap admin, the sample quarters, villages and
headcounts, and a village forum recorded under one of them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import httpx
import pytest

from app.config import ROOT
from tests.conftest import create_database
from tests.live import running

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text(encoding="utf-8")


def run(command: str, url: str) -> subprocess.CompletedProcess[str]:
    assert command in README, f"README.md no longer says {command!r}"
    argv = shlex.split(command)
    if argv[0] == ".venv/bin/python":  # the venv this suite runs in
        argv[0] = sys.executable
    done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "DX_DATABASE_URL": url}, capture_output=True, text=True)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


def test_the_first_hour_commands_work_as_written():
    database = create_database("readme")
    try:
        assert "serve" in run(".venv/bin/python -m app --help", database.url).stdout
        first = run(".venv/bin/python -m app seed --sample-units", database.url).stdout
        assert "sample units: {'units': 79, 'headcounts': 23}" in first, first
        again = run(".venv/bin/python -m app seed --sample-units", database.url).stdout
        assert "sample units: {'units': 0, 'headcounts': 0}" in again, again
        with running(database.url) as srv:
            token = srv.token()
            api = httpx.Client(base_url=srv.base, headers={"Authorization": f"Bearer {token}"})
            units = api.get("/api/v1/units", params={"limit": 500}).json()["items"]
            by_code = {u["code"]: u for u in units}
            quarter = by_code["KP-TANTHANH-MYTHACHBAC"]
            assert quarter["name"] == "Khối phố Mỹ Thạch Bắc" and quarter["kind"] == "quarter"
            assert quarter["parent_id"] == by_code["PH-TANTHANH"]["id"]
            assert by_code["P-VHTT"]["staff_count"] == 14 and by_code["PH-TANTHANH"]["staff_count"] == 26
            kinds = {u["kind"] for u in units}
            assert {"quarter", "village"} <= kinds
            forum = {
                "unit_id": by_code["TH-TAMTHANH-01"]["id"],
                "kind": "village_forum",
                "held_on": "2024-05-05",
                "title": "Diễn đàn chuyển đổi số thôn 1",
                "attendees": 40,
                "questions_answered": 9,
            }
            r = api.post("/api/v1/forums", json=forum)
            assert r.status_code == 201, r.text
            docs = httpx.get(f"{srv.base}/docs")
            assert docs.status_code == 200 and "/static-offline-docs/" in docs.text
    finally:
        database.drop()


def test_the_readme_names_the_lock_script_and_the_venv_command_line():
    for text in ("./scripts/lock.sh", "./scripts/serve.sh", "./scripts/test.sh", "docker build -t tamky-dx ."):
        assert text in README
    for line in README.splitlines():
        if "python -m app" in line and ".venv/bin/python -m app" not in line:
            assert "docker" in line or "container" in line, f"say .venv/bin/python -m app: {line}"
