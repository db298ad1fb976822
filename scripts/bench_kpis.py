#!/usr/bin/env python
"""All KPIs for a year (GET /api/v1/kpis?year=Y) against the same aggregates as raw SQL, run alternately.

  kpis      PostgreSQL, a province from demo-data (250 wards, 2,000 villages, few replays) plus --api-rows
            forums of the measured year loaded through POST /api/v1/imports/forums; city and ward callers.
  national  PostgreSQL, `python -m app demo-data --national` (about 100,000 villages and quarters, 10,000
            wards, 5 years, about 6 million forums; several minutes to load); city and ward callers.
  province  the embedded SQLite, `python -m app demo-data` with its defaults; city and ward callers.

The server is started as `scripts/serve.sh` starts it. The raw side runs the statement GET /kpis runs for
that caller (compiled by SQLAlchemy, sent through psycopg or sqlite3 directly) and must give the same
numerators and denominators.

Both sides are measured as a server in service answers, after --warmup requests of each caller (10): psycopg
prepares a statement on a connection at its fifth execution, and until then the server plans every statement
(the principal's and the plan's lookups, the KPIs) as the raw side always does; after two warm-up requests a
ward's KPIs read 1.64x, after ten 1.41x, after sixty 1.29x (the same database).

  .venv/bin/python scripts/bench_kpis.py kpis|national|province [--year 2024] [--runs 30] [--keep] [--reuse URL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

import benchlib as b
import httpx

USER, PASSWORD = "bench-lead", "bench-password-1"
WARD_USER, WARD_CODE = "bench-ward", "DM-W-0007"  # a unit caller: its KPIs over one ward and its villages


def cli(env: dict[str, str], *args: str) -> None:
    """`python -m app ...` as an operator runs it (output shown)."""
    subprocess.run([b.python(), "-m", "app", *args], cwd=b.ROOT, env=env, check=True)


def load(env: dict[str, str], demo_args: list[str]) -> None:
    started = time.perf_counter()
    cli(env, "demo-data", *demo_args)
    for user, role, unit in ((USER, "lead_office", "P-VHTT"), (WARD_USER, "unit", WARD_CODE)):
        cli(env, "create-user", "--username", user, "--password", PASSWORD, "--role", role, "--unit-code", unit)
    print(f"database ready in {time.perf_counter() - started:.0f} s", flush=True)


def import_forums(server: b.Process, count: int, year: int, chunk: int = 20_000) -> None:
    """`count` forums of `year` over the demo villages, through the import endpoint in chunks (lead office)."""
    auth = {"Authorization": f"Bearer {b.token(server.url, USER, PASSWORD)}"}
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=900, headers=auth) as http:
        villages, cursor = [], None
        while True:
            params = {"limit": 500, "kind": "village", **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v1/units", params=params).json()
            villages += [u["id"] for u in page["items"] if u["code"].startswith("DM-") and not u.get("dissolved_on")]
            cursor = page["next_cursor"]
            if not cursor:
                break
        first = date(year, 1, 1)
        for start in range(0, count, chunk):
            rows = [
                {
                    "unit_id": villages[i % len(villages)],
                    "external_ref": f"api-{year}-{i:07d}",
                    "kind": "village_forum",
                    "held_on": (first + timedelta(days=(i * 7) % 365)).isoformat(),
                    "title": f"Diễn đàn chuyển đổi số — kỳ {i}",
                    "attendees": 20 + i % 60,
                    "questions_answered": i % 9,
                }
                for i in range(start, min(count, start + chunk))
            ]
            r = http.post("/api/v1/imports/forums", json={"rows": rows}, headers={"Idempotency-Key": f"kpi-{start}"})
            assert r.status_code == 200 and r.json()["status"] == "committed", r.text[:1000]
    print(f"{count:,} forums of {year} imported through the API in {time.perf_counter() - started:.0f} s", flush=True)


def plan_rules(year: int):
    """The rules of the plan GET /kpis?year=Y means for the lead office, read as the server reads them."""
    import asyncio

    from sqlalchemy import text

    from app.config import get_settings
    from app.db import make_engine
    from app.plans import lookup
    from app.timeutil import local_today

    async def read():
        engine = make_engine(get_settings())
        try:
            async with engine.connect() as conn:
                office = await conn.scalar(text("SELECT id FROM units WHERE code = 'P-VHTT'"))
                found = await lookup.asked(conn, office, code=None, scoped=False)
                return found.rules(lookup.choose_from(found.plans, year=year, as_of=local_today())[0])
        finally:
            await engine.dispose()

    return asyncio.run(read())


def statement(url: str, year: int, scope: tuple[int, ...] | None, literal: bool):
    """The statement GET /kpis runs for a caller with that scope, compiled for the raw driver."""
    from sqlalchemy import create_engine

    from app.kpis import service
    from app.timeutil import local_today

    engine = create_engine(url)
    stmt = service.totals_statement(service.scoped_context(year, local_today(), plan_rules(year), scope))
    kwargs = {"render_postcompile": True, **({"literal_binds": True} if literal else {})}
    compiled = stmt.compile(dialect=engine.dialect, compile_kwargs=kwargs)
    engine.dispose()
    return compiled.string, (None if literal else compiled.params)


class Raw:
    """The same SQL, straight through the driver (never prepared: planned for its parameters every time)."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn = sqlite3.connect(url.split("///", 1)[1])
        else:
            import psycopg

            self.conn = psycopg.connect(b.pg_dsn(url), options="-c timezone=UTC", autocommit=True)
            self.conn.prepare_threshold = None

    def all(self, sql: str, params=None) -> list:
        if self.sqlite:
            return self.conn.execute(sql).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scope(self, code: str) -> tuple[int, ...]:
        (ward_id,) = self.all(f"SELECT id FROM units WHERE code = '{code}'")[0]
        rows = self.all(
            f"WITH RECURSIVE s(id) AS (SELECT id FROM units WHERE id = {int(ward_id)} UNION "
            "SELECT u.id FROM units u JOIN s ON u.parent_id = s.id) SELECT id FROM s"
        )
        return tuple(sorted(r[0] for r in rows))


def compare(client: httpx.Client, raw: Raw, args, label: str, user: str, sql_params) -> dict[str, float]:
    """Median of GET /kpis against the same statement through the driver, alternately, after a warm-up."""
    sql, params = sql_params
    headers = {"Authorization": f"Bearer {b.token(str(client.base_url).rstrip('/'), user, PASSWORD)}"}

    def api() -> tuple[float, list]:
        t = time.perf_counter()
        r = client.get("/api/v1/kpis", params={"year": args.year}, headers=headers)
        elapsed = time.perf_counter() - t
        r.raise_for_status()
        return elapsed, [(k["numerator"], k["denominator"]) for k in r.json()["items"]]

    def direct() -> tuple[float, list]:
        t = time.perf_counter()
        rows = raw.all(sql, params)
        return time.perf_counter() - t, [(int(n), int(d)) for _, n, d in sorted(rows)]

    for _ in range(args.warmup):
        _, from_api = api()
        _, from_sql = direct()
    assert from_api == from_sql, (from_api, from_sql)
    api_times, sql_times = [], []
    deadline = time.monotonic() + args.max_seconds
    for _ in range(args.runs):  # alternated, so that both see the same machine
        api_times.append(api()[0])
        sql_times.append(direct()[0])
        if time.monotonic() > deadline:
            break
    a, s = 1000 * statistics.median(api_times), 1000 * statistics.median(sql_times)
    print(
        f"  {label}: API median {a:.1f} ms (p90 {1000 * b.percentile(api_times, 90):.1f}), SQL median {s:.1f} ms, "
        f"{len(api_times)} runs; (numerator, denominator) {from_api}",
        flush=True,
    )
    return {"api": a, "sql": s}


def bench(args: argparse.Namespace) -> int:
    tmp = None
    if args.reuse:
        url, drop = args.reuse, (lambda: None)
    elif args.target == "province":
        tmp = tempfile.TemporaryDirectory(prefix="dx-bench-province-")
        url, drop = f"sqlite:///{tmp.name}/dx.db", tmp.cleanup
    else:
        url, drop = b.scratch_database(f"dx_bench_{args.target}")
    env = b.server_env(url, DX_STATEMENT_TIMEOUT_MS=str(args.statement_timeout_ms))
    try:
        if not args.reuse:
            cli(env, "migrate")
            cli(env, "seed")
            if args.target == "national":
                load(env, ["--national"])
            elif args.target == "province":
                load(env, [])
            else:
                load(env, ["--replays", "5"])
        with b.serve_sh(env) as server:
            if args.target == "kpis" and not args.reuse and args.api_rows:
                import_forums(server, args.api_rows, args.year)
            raw = Raw(url)
            if args.target == "kpis" and not args.reuse and not raw.sqlite:
                raw.all("VACUUM ANALYZE")
            counts = raw.all(
                "SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM forums), "
                "(SELECT count(*) FROM broadcasts), (SELECT count(*) FROM airings)"
            )[0]
            print(
                f"dataset: {counts[0]:,} units, {counts[1]:,} forums, {counts[2]:,} broadcasts, {counts[3]:,} airings"
            )
            b.use_env(env)
            results = {}
            with httpx.Client(base_url=server.url, timeout=600) as client:
                for who, user, scope in (
                    ("city", USER, None),
                    (f"ward {WARD_CODE}", WARD_USER, raw.scope(WARD_CODE)),
                ):
                    results[who] = compare(
                        client, raw, args, who, user, statement(url, args.year, scope, literal=raw.sqlite)
                    )
        city, ward = results["city"], results[f"ward {WARD_CODE}"]
        print()
        print("| what | measured | goal |")
        print("|---|---|---|")
        if args.target == "kpis":
            b.row(
                f"all KPIs for {args.year}, {args.api_rows:,} rows loaded through the API, vs the same SQL",
                f"{city['api'] / city['sql']:.2f}x ({city['api']:.0f} vs {city['sql']:.0f} ms)",
                "≤ 1.25x",
            )
            b.row(
                "the same for a ward caller",
                f"{ward['api'] / ward['sql']:.2f}x ({ward['api']:.1f} vs {ward['sql']:.1f} ms)",
                "≤ 1.5x",
            )
        else:
            where = "national scale on PostgreSQL" if args.target == "national" else "province scale on SQLite"
            b.row(
                f"all KPIs at {where}",
                f"{city['api']:,.0f} ms (raw SQL {city['sql']:,.0f} ms); ward {ward['api']:,.0f} ms",
                "< 1 s",
            )
        return 0
    finally:
        if args.keep and not args.reuse:
            print(f"kept database: {url}")
        else:
            drop()


def main() -> None:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("target", choices=["kpis", "national", "province"])
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--runs", type=int)
    p.add_argument("--warmup", type=int, default=10, help="requests of each caller before the measured ones")
    p.add_argument("--max-seconds", type=float, default=300, help="stop the runs of one caller after this")
    p.add_argument("--api-rows", type=int, default=320_000, help="kpis: forums of --year loaded through the API")
    p.add_argument(
        "--statement-timeout-ms",
        type=int,
        default=30_000,
        help="the server's DX_STATEMENT_TIMEOUT_MS (a KPI statement past it is a 503, as in production)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    p.add_argument("--reuse", metavar="URL", help="a database kept by --keep: skip loading, keep it")
    args = p.parse_args()
    if args.runs is None:
        args.runs = 30 if args.target == "kpis" else 5
    os.environ.setdefault("DX_SECRET_KEY", b.SECRET)
    sys.exit(bench(args))


if __name__ == "__main__":
    main()
