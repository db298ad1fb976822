"""/docs and /redoc work on an office network without internet: a real headless Chromium that can resolve
no host but 127.0.0.1 opens them on a real server and finds every operation on the page. (With the CDN
assets FastAPI uses by default, both pages stay blank there.) .ci/run installs Debian's chromium."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import httpx
import pytest

from tests.live import running_on_new_database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]


def rendered_dom(url: str) -> str:
    """The page's DOM after its scripts ran, in a browser that reaches nothing but 127.0.0.1."""
    with tempfile.TemporaryDirectory(prefix="dx-chromium-") as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def server():
    with running_on_new_database("docs") as srv:
        yield srv


@pytest.fixture(scope="module")
def operation_ids(server) -> list[str]:
    spec = httpx.get(f"{server.base}/openapi.json").json()
    return [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]


def test_docs_pages_load_their_assets_from_the_service(server):
    for page in ("/docs", "/redoc"):
        html = httpx.get(server.base + page).text
        assert "cdn." not in html and "https://" not in html, f"{page} still loads something from the internet"
    assert httpx.get(f"{server.base}/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(f"{server.base}/static-offline-docs/redoc.standalone.js").status_code == 200


def test_swagger_ui_lists_every_operation_offline(server, operation_ids):
    dom = rendered_dom(f"{server.base}/docs")
    missing = [op for op in operation_ids if f'-{op}"' not in dom]
    assert missing == [], f"/docs shows no {missing[:5]} ({len(missing)} of {len(operation_ids)} missing)"


def test_redoc_lists_every_operation_offline(server, operation_ids):
    dom = rendered_dom(f"{server.base}/redoc")
    missing = [op for op in operation_ids if f'/operation/{op}"' not in dom]
    assert missing == [], f"/redoc shows no {missing[:5]} ({len(missing)} of {len(operation_ids)} missing)"
