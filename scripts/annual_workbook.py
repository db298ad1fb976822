"""`scripts/annual_workbook.py OUT_DIR`: the annual workbook as the province would see it, printed.

Builds a synthetic city on a scratch SQLite file (the seeded Tam Kỳ units plus `demo-data`), asks the API for
`/reports/annual?format=xlsx` as the lead office, converts it to PDF with LibreOffice headless and each page to
a PNG with pdftoppm, and prints the pages of each sheet. For looking at the report by eye, not a test (the test
of the same conversion is tests/reports/test_annual_workbook_print.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DX_SECRET_KEY", "preview-secret-key-that-is-long-enough")

USER, PASSWORD = "preview-lead", "preview-password-1"


def build(db_path: Path, args: argparse.Namespace) -> None:
    from app import cli
    from app.cli import demo_data
    from app.config import get_settings

    os.environ["DX_DATABASE_URL"] = f"sqlite+aiosqlite:///{db_path}"
    get_settings.cache_clear()
    settings = get_settings()
    cli.migrate(settings)
    cli.seed(settings)
    demo_data.run(
        settings,
        demo_data.Options(wards=args.wards, villages=args.villages, news_per_month=1, replays=2, years=(2024, 2025)),
    )
    cli.create_user(
        settings,
        argparse.Namespace(username=USER, password=PASSWORD, role="lead_office", unit_code="P-VHTT", full_name=None),
    )


def fetch(year: int, as_of: str) -> bytes:
    from fastapi.testclient import TestClient

    from app.config import get_settings
    from app.main import create_app

    with TestClient(create_app(get_settings())) as client:
        form = {"grant_type": "password", "username": USER, "password": PASSWORD}
        token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
        r = client.get(
            "/api/v1/reports/annual",
            params={"year": year, "as_of": as_of, "format": "xlsx"},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        return r.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--as-of", default="2025-01-10")
    parser.add_argument("--wards", type=int, default=13)
    parser.add_argument("--villages", type=int, default=120)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from tests.reports.printing import pages_per_sheet, to_pdf

    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp) / "preview.db", args)
        xlsx = args.out / f"bao-cao-nam-{args.year}.xlsx"
        xlsx.write_bytes(fetch(args.year, args.as_of))
    pdf = to_pdf(xlsx, args.out)
    for old in args.out.glob("page-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(args.out / "page")], check=True)
    from openpyxl import load_workbook

    for sheet, pages in pages_per_sheet(pdf, load_workbook(xlsx).sheetnames).items():
        print(f"{sheet}: pages {pages}")


if __name__ == "__main__":
    main()
