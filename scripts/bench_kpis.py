"""`scripts/bench kpis`: the KPI endpoint against its own SQL, on a province-sized PostgreSQL database."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DX_SECRET_KEY", "bench-secret-key-that-is-long-enough")

import httpx  # noqa: E402
import psycopg  # noqa: E402
from benchlib import free_port, scratch_database  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

USER, PASSWORD = "bench-lead", "bench-password-1"
WARD_USER, WARD_CODE = "bench-ward", "DM-W-0007"  # a unit caller: its KPIs over one ward and its villages


def load(url: str, args: argparse.Namespace) -> None:
    from app import cli
    from app.cli import demo_data
    from app.config import get_settings

    os.environ["DX_DATABASE_URL"] = url
    get_settings.cache_clear()
    settings = get_settings()
    cli.migrate(settings)
    cli.seed(settings)
    demo_data.run(
        settings,
        demo_data.Options(
            wards=args.wards,
            villages=args.villages,
            replays=args.replays,
            news_per_month=args.news_per_month,
            years=(2021, 2025),
        ),
    )
    cli.create_user(
        settings,
        argparse.Namespace(username=USER, password=PASSWORD, role="lead_office", unit_code="P-VHTT", full_name=None),
    )
    cli.create_user(
        settings,
        argparse.Namespace(username=WARD_USER, password=PASSWORD, role="unit", unit_code=WARD_CODE, full_name=None),
    )


def raw_statement(url: str, year: int, scope: tuple[int, ...] | None = None):
    """The statement GET /kpis runs for a caller with that scope, compiled for psycopg (same SQL, parameters)."""
    from app.kpis import service
    from app.timeutil import local_today

    engine = create_engine(url)
    compiled = service.totals_statement(service.scoped_context(year, local_today(), scope)).compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    engine.dispose()
    return compiled.string, compiled.params


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def compare(client: httpx.Client, raw, args: argparse.Namespace, label: str, user: str, statement) -> None:
    """Median of GET /kpis against the same statement through psycopg, run alternately after a warm-up."""
    sql, params = statement
    token = client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": user, "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def api() -> tuple[float, list]:
        t = time.perf_counter()
        r = client.get("/api/v1/kpis", params={"year": args.year}, headers=headers)
        elapsed = time.perf_counter() - t
        r.raise_for_status()
        return elapsed, [(k["numerator"], k["denominator"]) for k in r.json()["items"]]

    def direct() -> tuple[float, list]:
        t = time.perf_counter()
        with raw.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        elapsed = time.perf_counter() - t
        return elapsed, [(int(n), int(d)) for _, n, d in sorted(rows)]

    for _ in range(args.warmup):
        _, from_api = api()
        _, from_sql = direct()
    assert from_api == from_sql, (from_api, from_sql)
    api_times, sql_times = [], []
    for _ in range(args.runs):  # alternated, so that both see the same machine
        api_times.append(api()[0])
        sql_times.append(direct()[0])
    a, s = median_ms(api_times), median_ms(sql_times)
    print(f"{label}: GET /api/v1/kpis?year={args.year}")
    print(
        f"  API  median {a:7.1f} ms (min {min(api_times) * 1000:.1f}, max {max(api_times) * 1000:.1f}) over {args.runs}"
    )
    print(f"  SQL  median {s:7.1f} ms (min {min(sql_times) * 1000:.1f}, max {max(sql_times) * 1000:.1f})")
    print(f"  ratio API / SQL: {a / s:.2f}x")
    print(f"  (numerator, denominator): {from_api}")


def bench_kpis(args: argparse.Namespace) -> None:
    if args.reuse:
        url, drop = args.reuse, (lambda: None)
    else:
        url, drop = scratch_database()
    server = None
    try:
        if not args.reuse:
            started = time.perf_counter()
            load(url, args)
            print(f"database ready in {time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        env = {**os.environ, "DX_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, timeout=60)
        for _ in range(100):
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raw = psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), options="-c timezone=UTC", autocommit=True
        )
        raw.prepare_threshold = None  # never prepared: PostgreSQL plans it for its parameters every time
        ward_id = raw.execute("SELECT id FROM units WHERE code = %s", (WARD_CODE,)).fetchone()[0]
        scope = tuple(
            sorted(
                r[0]
                for r in raw.execute(
                    "WITH RECURSIVE s(id) AS (SELECT %s::bigint UNION SELECT u.id FROM units u JOIN s ON u.parent_id = s.id)"
                    " SELECT id FROM s",
                    (ward_id,),
                )
            )
        )
        counts = raw.execute(
            "SELECT (SELECT count(*) FROM airings), (SELECT count(*) FROM broadcasts), (SELECT count(*) FROM forums),"
            " (SELECT count(*) FROM units)"
        ).fetchone()
        print(f"dataset: {counts[3]:,} units, {counts[2]:,} forums, {counts[1]:,} broadcasts, {counts[0]:,} airings")
        for label, user, unit_scope in (
            ("city (lead_office)", USER, None),
            (f"ward {WARD_CODE} (unit)", WARD_USER, scope),
        ):
            compare(client, raw, args, label, user, raw_statement(url, args.year, unit_scope))
        raw.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if args.keep or args.reuse:
            print(f"kept database: {url}")
        else:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument("target", choices=["kpis"])
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--wards", type=int, default=250)
    parser.add_argument("--villages", type=int, default=2000)
    parser.add_argument("--replays", type=int, default=40)
    parser.add_argument("--news-per-month", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    parser.add_argument("--reuse", metavar="URL", help="a database kept by --keep: skip loading, keep it")
    args = parser.parse_args()
    bench_kpis(args)


if __name__ == "__main__":
    main()
