"""A migrated database per test run (SQLite file or a fresh PostgreSQL database, dropped after), the app
over HTTP, and one authenticated client per role.

DX_TEST_DATABASE=sqlite (default) or postgresql; DX_TEST_PG_ADMIN_URL names the PostgreSQL server.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

os.environ.setdefault("DX_SECRET_KEY", "test-secret-key-that-is-long-enough")
os.environ.setdefault("DX_ENVIRONMENT", "test")
# the suite makes thousands of requests as a handful of principals from one address; the limits themselves
# are tested on an app of their own (tests/test_rate_limits.py)
os.environ.setdefault("DX_RATE_LIMIT_PER_MINUTE", "1000000")
os.environ.setdefault("DX_LOGIN_FAILURES_PER_USERNAME", "1000")
os.environ.setdefault("DX_LOGIN_FAILURES_PER_ADDRESS", "100000")
# webhook receivers in tests listen on 127.0.0.1 over http (API.md section 12); retries come quickly
os.environ.setdefault("DX_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
os.environ.setdefault("DX_WEBHOOK_RETRY_BASE_SECONDS", "0.1")
os.environ.setdefault("DX_WEBHOOK_RETRY_MAX_SECONDS", "1")
os.environ.setdefault("DX_WEBHOOK_POLL_SECONDS", "0.2")

from app import i18n  # noqa: E402
from app.config import get_settings  # noqa: E402
from tests.openapi_headers import undocumented_headers  # noqa: E402

i18n.untranslated = set()  # every problem a test meets must have its Vietnamese (Api.request checks)
PG_ADMIN_URL = os.environ.get("DX_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKEND = os.environ.get("DX_TEST_DATABASE", "sqlite")


def run_sql(sql: str, **params):
    """One statement on the served database around the API (a DBA's fix, a restore, a check), committed; its rows."""
    engine = create_engine(get_settings().sync_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


ADMIN = ("admin", "admin-password-1")


@dataclass
class Database:
    url: str
    drop: object


def create_database(label: str = "run") -> Database:
    """A new, empty database of the configured backend; `drop()` removes it."""
    if BACKEND == "postgresql":
        name = f"dx_test_{label}_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        return Database(f"{base}/{name}", drop)
    folder = tempfile.mkdtemp(prefix="dx-test-")
    path = Path(folder) / "dx.db"

    def drop_file() -> None:
        for p in Path(folder).glob("*"):
            p.unlink()
        os.rmdir(folder)

    return Database(f"sqlite:///{path}", drop_file)


def use_database(url: str, **extra: str) -> None:
    os.environ["DX_DATABASE_URL"] = url
    for key, value in extra.items():
        os.environ[key] = value
    get_settings.cache_clear()


def prepare(url: str) -> None:
    """Migrate and seed exactly as `python -m app serve` does."""
    from app import cli

    use_database(url, DX_BOOTSTRAP_ADMIN_USERNAME=ADMIN[0], DX_BOOTSTRAP_ADMIN_PASSWORD=ADMIN[1])
    settings = get_settings()
    cli.migrate(settings)
    cli.seed(settings)


def pytest_collection_modifyitems(config, items) -> None:
    """`@pytest.mark.postgres_only` (races that need row locks and real concurrency) is skipped on SQLite."""
    if BACKEND == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


class Api:
    """A TestClient that sends one principal's bearer token."""

    def __init__(self, client: TestClient, token: str | None, principal: dict | None = None) -> None:
        self.client = client
        self.token = token
        self.principal = principal or {}

    def _headers(self, headers: dict | None) -> dict:
        out = dict(headers or {})
        if self.token:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def request(self, method: str, url: str, **kw):
        kw["headers"] = self._headers(kw.get("headers"))
        i18n.untranslated.clear()
        response = self.client.request(method, url, **kw)
        untranslated = sorted(i18n.untranslated)
        assert not untranslated, f"{method} {url}: no Vietnamese in app/i18n.py for {untranslated}"
        missing = undocumented_headers(self.client.app, response)
        assert not missing, f"{method} {url} answered {response.status_code} with {missing}, which /openapi.json omits"
        return response

    def get(self, url: str, **kw):
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw):
        return self.request("POST", url, **kw)

    def patch(self, url: str, **kw):
        return self.request("PATCH", url, **kw)

    def put(self, url: str, **kw):
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw):
        return self.request("DELETE", url, **kw)

    @property
    def unit_id(self) -> int:
        return self.principal["unit_id"]


def token_for(client: TestClient, username: str, password: str) -> str:
    r = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


class World:
    """The app on one database, its seeded units by code, and helpers to make principals."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.admin = Api(client, token_for(client, *ADMIN))
        self.units: dict[str, dict] = {}
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.admin.get("/api/v1/units", params=params).json()
            self.units.update({u["code"]: u for u in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        self._n = 0

    def unit_id(self, code: str) -> int:
        return self.units[code]["id"]

    def user(self, role: str, unit_code: str) -> Api:
        """A new user of `role` in `unit_code`, logged in."""
        self._n += 1
        username = f"{role}-{unit_code.lower()}-{self._n}-{uuid.uuid4().hex[:6]}"
        body = {"username": username, "password": "secret-pass-1", "role": role, "unit_id": self.unit_id(unit_code)}
        r = self.admin.post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text
        return Api(self.client, token_for(self.client, username, "secret-pass-1"), r.json())

    def new_unit(self, kind: str, parent_code: str, **extra) -> dict:
        """A new unit under `parent_code` (a village under a ward, a school...)."""
        self._n += 1
        code = f"T-{kind[:3].upper()}-{self._n}-{uuid.uuid4().hex[:6]}"
        body = {
            "code": code,
            "name": f"Thôn thử {self._n}",
            "kind": kind,
            "parent_id": self.unit_id(parent_code),
            **extra,
        }
        r = self.admin.post("/api/v1/units", json=body)
        assert r.status_code == 201, r.text
        self.units[code] = r.json()
        return r.json()


@contextmanager
def scratch_database(label: str) -> Iterator[Database]:
    """A new database, migrated and seeded and made the current one (DX_DATABASE_URL) while in use; afterwards
    dropped, and the database that was current before is current again."""
    saved = {
        k: os.environ.get(k) for k in ("DX_DATABASE_URL", "DX_BOOTSTRAP_ADMIN_USERNAME", "DX_BOOTSTRAP_ADMIN_PASSWORD")
    }
    db = create_database(label)
    try:
        prepare(db.url)
        yield db
    finally:
        db.drop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@contextmanager
def world_on_new_database(label: str = "run") -> Iterator[World]:
    """The app served on a database of its own, migrated and seeded; dropped afterwards."""
    from app.main import create_app

    with scratch_database(label):
        app = create_app(get_settings())
        with TestClient(app, raise_server_exceptions=False) as client:
            yield World(client)


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    with world_on_new_database() as w:
        yield w


@pytest.fixture(scope="session")
def lead(world: World) -> Api:
    return world.user("lead_office", "P-VHTT")


@pytest.fixture(scope="session")
def finance(world: World) -> Api:
    return world.user("finance_office", "P-TCKH")


@pytest.fixture(scope="session")
def viewer(world: World) -> Api:
    return world.user("viewer", "UBND-TK")


@pytest.fixture(scope="session")
def ward(world: World) -> Api:
    """A unit user of Phường Tân Thạnh."""
    return world.user("unit", "PH-TANTHANH")


@pytest.fixture(scope="session")
def other_ward(world: World) -> Api:
    """A unit user of Phường An Mỹ (to check that wards cannot see each other)."""
    return world.user("unit", "PH-ANMY")


@pytest.fixture(scope="session")
def anonymous(world: World) -> Api:
    return Api(world.client, None)


@pytest.fixture(scope="session")
def roles(lead: Api, finance: Api, ward: Api, viewer: Api) -> dict[str, Api]:
    return {"lead_office": lead, "finance_office": finance, "unit": ward, "viewer": viewer}
