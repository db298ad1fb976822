"""`python -m app serve|migrate|seed|create-user|create-client|demo-data|import`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from app.config import ROOT, Settings, get_settings
from app.db import ensure_sqlite_dir


def migrate(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    ensure_sqlite_dir(settings)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = settings.sync_url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def _run_async(settings: Settings, work):
    """Run `work(conn)` in one transaction of the async engine (the write service is async)."""
    import asyncio

    from app.db import make_engine

    async def main():
        engine = make_engine(settings)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def seed(settings: Settings) -> dict[str, int]:
    from pydantic import ValidationError

    from app.seed import bootstrap_admin
    from app.seed import seed as load

    async def work(conn):
        added = await load(conn)
        username, password = settings.bootstrap_admin_username, settings.bootstrap_admin_password
        if await bootstrap_admin(conn, username, password):
            added["users"] = 1
        return added

    try:
        return _run_async(settings, work)
    except ValidationError as exc:
        sys.exit(f"error: DX_BOOTSTRAP_ADMIN_USERNAME/PASSWORD: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")


def seed_sample_units(settings: Settings) -> dict[str, int]:
    """Tam Kỳ's quarters and villages and the units' headcounts (data/tamky-units.csv), for trying the API:
    the plan's seed has none, so no village forum could be recorded and no training coverage computed."""
    from app.seed import load_units_file

    return _run_async(settings, load_units_file)


def _create(settings: Settings, make) -> Any:
    """Create a user or client through the write service as the system; a refused body is a message."""
    from app.errors import AppError

    try:
        return _run_async(settings, make)
    except ValidationError as exc:
        first = exc.errors()[0]
        sys.exit(f"error: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except AppError as exc:
        sys.exit(f"error: {exc.detail}")


async def _unit_named(conn, code: str) -> int:
    from app.models import Unit

    unit_id = await conn.scalar(select(Unit.__table__.c.id).where(Unit.__table__.c.code == code))
    if unit_id is None:
        sys.exit(f"error: no unit with code {code!r}")
    return unit_id


def create_user(settings: Settings, args: argparse.Namespace) -> None:
    from app.common import writes
    from app.users.service import user_spec

    async def make(conn):
        body = user_spec.create(
            username=args.username,
            password=args.password,
            role=args.role,
            unit_id=await _unit_named(conn, args.unit_code),
            full_name=args.full_name,
        )
        return await writes.create(conn, user_spec, None, body)

    _create(settings, make)
    print(f"created user {args.username} ({args.role}, {args.unit_code})")


def create_client(settings: Settings, args: argparse.Namespace) -> None:
    from app.users.service import client_spec, create_client

    async def make(conn):
        body = client_spec.create(name=args.name, role=args.role, unit_id=await _unit_named(conn, args.unit_code))
        return await create_client(conn, None, body)

    record, secret = _create(settings, make)
    print(f"client_id={record['client_id']}\nclient_secret={secret}")


def _database_named() -> str:
    """The configured database's URL, password hidden (for --help)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(get_settings().sync_url).render_as_string(hide_password=True)
    except Exception:  # a refused configuration is reported when the command runs
        return "(not configured)"


def load_demo_data(settings: Settings, args: argparse.Namespace) -> dict[str, int]:
    import app.cli.demo_data as demo

    try:
        years = demo.parse_years(args.years)
    except ValueError as exc:
        sys.exit(f"error: --years: {exc}")
    migrate(settings)
    seed(settings)
    opts = demo.Options(
        wards=args.wards,
        villages=args.villages,
        schools=args.schools,
        years=years,
        news_per_month=args.news_per_month,
        replays=args.replays,
        seed=args.seed,
        force=args.force,
    )
    if args.national:
        # the whole country: about 6 million forums; fewer news items and replays per ward than a province
        # keeps the radio tables near the forums' size (a ward's 40 replays would be 144 million airings)
        opts.wards, opts.villages, opts.years = 10_000, 100_000, (2021, 2025)
        opts.news_per_month, opts.replays = 1, 3
    return demo.run(settings, opts)


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    migrate(settings)
    added = seed(settings)
    print(f"database ready ({settings.sync_url.split('://')[0]}); seeded: {added}", flush=True)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # X-Forwarded-For is read by the app, from DX_TRUSTED_PROXIES alone
        timeout_graceful_shutdown=args.grace,
        log_level="info",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Tam Kỳ DX plan API")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="migrate, seed, bootstrap and serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--grace", type=int, default=20, help="seconds in-flight requests get on SIGTERM")
    sub.add_parser("migrate", help="apply Alembic migrations")
    p = sub.add_parser("seed", help="load the plan's units and activities (idempotent) and bootstrap the admin")
    p.add_argument(
        "--sample-units",
        action="store_true",
        help="also load Tam Kỳ's quarters and villages and the units' headcounts (data/tamky-units.csv)",
    )
    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", required=True, choices=["lead_office", "finance_office", "unit", "viewer"])
    p.add_argument("--unit-code", required=True)
    p.add_argument("--full-name")
    p = sub.add_parser("create-client", help="create a machine client; prints its id and secret")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=["lead_office", "finance_office", "unit", "viewer"])
    p.add_argument("--unit-code", required=True)
    p = sub.add_parser(
        "demo-data",
        help="load a synthetic province (deterministic) for trying and benchmarking",
        description=(
            "Load a synthetic province (units DM-..., five years of records) into the configured database, "
            f"now {_database_named()} (set DX_DATABASE_URL to choose another). Refused when the demo is "
            "already loaded, and when the database holds real records unless --force."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--wards", type=int, default=250, help="wards and communes")
    p.add_argument("--villages", type=int, default=2000, help="villages and residential quarters")
    p.add_argument("--schools", type=int, help="3 for every 5 wards when left out")
    p.add_argument("--years", default="2021-2025", help="YYYY-YYYY")
    p.add_argument("--news-per-month", type=int, default=6, help="other items per ward and month")
    p.add_argument("--replays", type=int, default=40, help="mean airings of a ward-radio news item")
    p.add_argument("--seed", type=int, default=20211)
    p.add_argument(
        "--national",
        action="store_true",
        help="national scale for benchmarks: 10,000 wards, 100,000 villages, 2021-2025, 1 news item a month, "
        "3 replays (overrides those options; several minutes on PostgreSQL)",
    )
    p.add_argument("--force", action="store_true", help="load even into a database that holds real records")
    from app.cli import imports as client

    client.add_arguments(
        sub.add_parser("import", help="send a CSV, XLSX or JSON file to a server's import endpoint in chunks")
    )
    args = parser.parse_args(argv)
    if args.command == "import":  # a client of a remote server: no local settings or database
        sys.exit(client.run(args))
    try:
        settings = get_settings()
    except Exception as exc:  # a refused configuration is a message, not a traceback
        sys.exit(f"configuration error: {exc}")
    if args.command == "serve":
        serve(settings, args)
    elif args.command == "migrate":
        migrate(settings)
        print("migrated to head")
    elif args.command == "seed":
        migrate(settings)
        print(f"seeded: {seed(settings)}")
        if args.sample_units:
            print(f"sample units: {seed_sample_units(settings)}")
    elif args.command == "create-user":
        migrate(settings)
        create_user(settings, args)
    elif args.command == "create-client":
        migrate(settings)
        create_client(settings, args)
    elif args.command == "demo-data":
        load_demo_data(settings, args)
