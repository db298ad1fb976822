"""A workbook printed as the province prints it: LibreOffice headless to PDF, then each page's text."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

SOFFICE = shutil.which("soffice")
PDFTOTEXT = shutil.which("pdftotext")


def to_pdf(xlsx: Path, out_dir: Path) -> Path:
    """The PDF LibreOffice prints of the workbook (every sheet, its own page setup), in `out_dir`."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                SOFFICE or "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(xlsx),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    return out_dir / f"{xlsx.stem}.pdf"


def page_texts(pdf: Path) -> list[str]:
    """The text of each page, laid out as printed."""
    text = subprocess.run(
        [PDFTOTEXT or "pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def footer(page: str) -> str:
    lines = [line.strip() for line in page.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def pages_per_sheet(pdf: Path, sheets: list[str] | None = None) -> dict[str, list[int]]:
    """Sheet name -> the (1-based) PDF pages whose footer names it (the footer begins with the sheet name)."""
    out: dict[str, list[int]] = {}
    for number, page in enumerate(page_texts(pdf), start=1):
        foot = footer(page)
        name = next((s for s in sorted(sheets or [], key=len, reverse=True) if foot.startswith(s)), foot)
        out.setdefault(name, []).append(number)
    return out
