#!/usr/bin/env python
"""The import endpoint against PostgreSQL COPY, on 50,000 forum rows.

On a scratch PostgreSQL database (created, migrated and seeded here, dropped at the end) with a ward and 200
villages, it alternates, round after round in the same run:
  (a) one POST /api/v1/imports/forums of every row (JSON) to a fresh uvicorn server process, timed end to end,
      with that process's peak RSS (VmHWM; the process is new each round, so the peak is this import's);
  (b) psycopg `COPY forums (...) FROM STDIN` of the same rows into the same table, committed.
The table is emptied after each. Then two extra runs (not counted) say where the server's time goes: one with
wall-clock timers on the engine's phases, one under cProfile (CPU by package and the top functions).

  .venv/bin/python scripts/bench_imports.py [--rows 50000] [--rounds 3] [--villages 200] [--no-profile]

Targets: import rows/s >= 0.35 x COPY rows/s; server peak RSS < 300 MB. Exit 1 when a target is missed.
PostgreSQL: DX_BENCH_PG_ADMIN_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import free_port, scratch_database  # noqa: E402

ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"
SECRET = "bench-secret-key-that-is-long-enough"
WARD = "PH-TANTHANH"
RATIO_TARGET, RSS_TARGET_MB = 0.35, 300
COPY_COLUMNS = (
    "unit_id",
    "external_ref",
    "kind",
    "held_on",
    "title",
    "attendees",
    "questions_answered",
    "topics",
    "created_at",
    "updated_at",
    "version",
)


# -- the server process (this same file, started with --serve) ---------------------------------------------


class Phases:
    """Exclusive wall time per call path (parent > child), for one request at a time."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.stats: dict[str, list[float]] = {}

    def reset(self) -> None:
        self.stack, self.stats = [], {}

    def _enter(self, name: str) -> None:
        path = f"{self.stack[-1][0]} > {name}" if self.stack else name
        self.stack.append([path, 0.0, time.perf_counter()])

    def _leave(self) -> None:
        path, child, t0 = self.stack.pop()
        elapsed = time.perf_counter() - t0
        s = self.stats.setdefault(path, [0, 0.0, 0.0])
        s[0] += 1
        s[1] += elapsed
        s[2] += elapsed - child
        if self.stack:
            self.stack[-1][1] += elapsed

    def wrap_async(self, name: str, fn):
        async def timed(*args, **kw):
            self._enter(name)
            try:
                return await fn(*args, **kw)
            finally:
                self._leave()

        return timed

    def wrap_sync(self, name: str, fn):
        def timed(*args, **kw):
            self._enter(name)
            try:
                return fn(*args, **kw)
            finally:
                self._leave()

        return timed


def _install_phase_timers(phases: Phases) -> None:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from app.common import repository, writes
    from app.imports import engine, router

    router.parse = phases.wrap_sync("parse body", router.parse)
    router.run_import = phases.wrap_async("run_import", engine.run_import)
    engine._validate_row = phases.wrap_async("validate row (pydantic + merge)", engine._validate_row)
    for name, label in (
        ("prepare_create", "checks of a new record (writes.prepare_create)"),
        ("prepare_update", "checks of a change (writes.prepare_update)"),
        ("natural_key_clashes", "natural keys"),
        ("write_many", "write"),
    ):
        setattr(writes, name, phases.wrap_async(label, getattr(writes, name)))
    for name, label in (
        ("load_many", "match by id"),
        ("find_by_keys", "match by key, natural keys"),
        ("attach_children", "load children"),
    ):
        setattr(repository, name, phases.wrap_async(label, getattr(repository, name)))
    writes.Ctx.preload_units = phases.wrap_async("preload units (scope)", writes.Ctx.preload_units)
    AsyncConnection.execute = phases.wrap_async("SQL", AsyncConnection.execute)


def _measured(scope: dict) -> bool:
    return (
        scope["type"] == "http"
        and scope["path"].startswith("/api/v1/imports/")
        and b"dry_run" not in scope.get("query_string", b"")
    )


class TimedApp:
    """Times one import request from its first byte read to its last byte sent, with phases or cProfile."""

    def __init__(self, app, out: Path, phases: Phases | None, profile: bool) -> None:
        self.app, self.out, self.phases, self.profile = app, out, phases, profile

    async def __call__(self, scope, receive, send):
        if not _measured(scope):
            return await self.app(scope, receive, send)
        import cProfile

        profiler = cProfile.Profile() if self.profile else None
        if self.phases:
            self.phases.reset()
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            await self.app(scope, receive, send)
        finally:
            if profiler:
                profiler.disable()
            total = time.perf_counter() - t0
            if profiler:
                profiler.dump_stats(str(self.out))
            else:
                self.out.write_text(json.dumps({"total": total, "phases": self.phases.stats if self.phases else {}}))


def serve(port: int, out: str | None, mode: str) -> None:
    import uvicorn

    from app.main import create_app

    phases = Phases() if mode == "phases" else None
    if phases:
        _install_phase_timers(phases)
    app = create_app()
    if out:
        app = TimedApp(app, Path(out), phases, profile=mode == "cprofile")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


# -- the bench ---------------------------------------------------------------------------------------------


class Server:
    """A uvicorn process serving the app on the scratch database."""

    def __init__(self, env: dict[str, str], mode: str = "plain", out: Path | None = None) -> None:
        import httpx

        self.port = free_port()
        args = [sys.executable, str(Path(__file__).resolve()), "--serve", str(self.port), "--mode", mode]
        if out:
            args += ["--out", str(out)]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the server did not start in 60 s")
            time.sleep(0.1)

    def memory_mb(self) -> dict[str, float]:
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
        return fields

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def prepare(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DX_DATABASE_URL": url,
        "DX_SECRET_KEY": SECRET,
        "DX_ENVIRONMENT": "development",
        "DX_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "DX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DX_DATABASE_URL",
                "DX_SECRET_KEY",
                "DX_ENVIRONMENT",
                "DX_BOOTSTRAP_ADMIN_USERNAME",
                "DX_BOOTSTRAP_ADMIN_PASSWORD",
            )
        }
    )
    from app import cli
    from app.config import get_settings

    get_settings.cache_clear()
    cli.migrate(get_settings())
    cli.seed(get_settings())
    return env


def setup_city(server: Server, villages: int) -> tuple[str, list[int]]:
    """200 villages under the ward, through the units import; a ward import client and its token."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=120) as http:
        form = {"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        admin = {"Authorization": f"Bearer {http.post('/api/v1/auth/token', data=form).json()['access_token']}"}
        units = http.get("/api/v1/units", params={"limit": 500}, headers=admin).json()["items"]
        ward_id = next(u["id"] for u in units if u["code"] == WARD)
        rows = [
            {"code": f"BV-{i:04d}", "name": f"Thôn {i}", "kind": "village", "parent_id": ward_id}
            for i in range(villages)
        ]
        r = http.post("/api/v1/imports/units", json={"rows": rows}, headers=admin)
        assert r.status_code == 200 and r.json()["created"] == villages, r.text
        r = http.post(
            "/api/v1/api-clients", json={"name": "Bench ward system", "role": "unit", "unit_id": ward_id}, headers=admin
        )
        assert r.status_code == 201, r.text
        form = {
            "grant_type": "client_credentials",
            "client_id": r.json()["client_id"],
            "client_secret": r.json()["client_secret"],
        }
        token = http.post("/api/v1/auth/token", data=form).json()["access_token"]
        ids = []
        cursor = None
        while True:
            page = http.get(
                "/api/v1/units", params={"limit": 500, **({"cursor": cursor} if cursor else {})}, headers=admin
            ).json()
            ids += [u["id"] for u in page["items"] if u["code"].startswith("BV-")]
            cursor = page["next_cursor"]
            if not cursor:
                break
    return token, ids


def build_rows(count: int, villages: list[int]) -> list[dict[str, Any]]:
    topics = [["concepts"], ["shared_apps", "commune_dx"], None, ["legal_documents", "roles", "programmes"]]
    start = date(2021, 1, 1)
    rows = []
    for i in range(count):
        row = {
            "unit_id": villages[i % len(villages)],
            "external_ref": f"forum-{i:06d}",
            "kind": "village_forum" if i % 10 else "business_dialogue",
            "held_on": (start + timedelta(days=i % 1800)).isoformat(),
            "title": f"Diễn đàn chuyển đổi số thôn {i % len(villages)} — kỳ {i // len(villages) + 1}",
            "attendees": 20 + i % 80,
            "questions_answered": i % 12,
        }
        if topics[i % 4] is not None:
            row["topics"] = topics[i % 4]
        rows.append(row)
    return rows


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def empty_forums(url: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        conn.execute("TRUNCATE forums")
        conn.execute("VACUUM ANALYZE forums")


def count_forums(url: str) -> int:
    import psycopg

    with psycopg.connect(pg_dsn(url)) as conn:
        return conn.execute("SELECT count(*) FROM forums").fetchone()[0]


def run_copy(url: str, rows: list[dict[str, Any]]) -> float:
    import orjson
    import psycopg

    with psycopg.connect(pg_dsn(url)) as conn:
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        with conn.cursor() as cur, cur.copy(f"COPY forums ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                topics = r.get("topics")
                copy.write_row(
                    (
                        r["unit_id"],
                        r["external_ref"],
                        r["kind"],
                        r["held_on"],
                        r["title"],
                        r["attendees"],
                        r["questions_answered"],
                        orjson.dumps(topics).decode() if topics is not None else None,
                        now,
                        now,
                        1,
                    )
                )
        conn.commit()
        return time.perf_counter() - t0


def run_import(
    env: dict[str, str], token: str, body: bytes, warm: bytes, rows: int, mode: str = "plain", out: Path | None = None
) -> dict[str, float]:
    import httpx

    server = Server(env, mode, out)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=server.url, timeout=600) as http:
            warm = http.post("/api/v1/imports/forums", params={"dry_run": "true"}, content=warm, headers=headers)
            assert warm.status_code == 200, warm.text
            before = server.memory_mb()
            t0 = time.perf_counter()
            r = http.post("/api/v1/imports/forums", content=body, headers=headers)
            wall = time.perf_counter() - t0
        assert r.status_code == 200 and r.json()["created"] == rows, r.text[:2000]
        after = server.memory_mb()
        return {"seconds": wall, "rss_before": before["VmRSS"], "peak": after["VmHWM"]}
    finally:
        server.stop()


def print_phases(path: Path, wall: float) -> None:
    data = json.loads(path.read_text())
    total = data["total"]
    print(
        f"\nWhere the server's time goes (one extra import with wall-clock timers; client saw {wall:.2f} s, "
        f"the app {total:.2f} s; timer overhead included)"
    )
    print(f"  {'phase (parent > child)':<78} {'calls':>7} {'incl s':>7} {'self s':>7} {'self %':>6}")
    accounted = 0.0
    for path_name, (calls, incl, excl) in sorted(data["phases"].items()):
        accounted += excl
        print(f"  {path_name:<78} {calls:>7} {incl:>7.3f} {excl:>7.3f} {100 * excl / total:>5.1f}%")
    rest = total - accounted
    print(
        f"  {'(outside run_import and parse: body read, middleware, response, commit)':<78} {'':>7} {'':>7} {rest:>7.3f} {100 * rest / total:>5.1f}%"
    )


PACKAGES = (
    ("pydantic", "pydantic (validation)"),
    ("sqlalchemy", "sqlalchemy"),
    ("psycopg", "psycopg"),
    ("app/imports", "app/imports (engine, parser)"),
    ("app/common", "app/common (rules, scope)"),
    ("app/middleware", "app/middleware"),
    ("app/", "app (other)"),
    ("orjson", "orjson"),
    ("starlette", "starlette/fastapi"),
    ("fastapi", "starlette/fastapi"),
    ("uvicorn", "uvicorn"),
    ("asyncio", "asyncio"),
)


def _package(filename: str, function: str) -> str | None:
    text = filename if filename != "~" else function
    return next((label for key, label in PACKAGES if key in text), None)


def print_profile(path: Path) -> None:
    import io
    import pstats

    stats = pstats.Stats(str(path))
    by_package: dict[str, float] = {}
    total = 0.0
    for (filename, _, function), (_, _, tottime, _, callers) in stats.stats.items():
        total += tottime
        label = _package(filename, function)
        if label is None and filename == "~" and callers:
            # a builtin (regex, dict, list...): its time goes to the packages that called it
            for (cfile, _, cfunc), (_, _, tt, _) in callers.items():
                by_package[_package(cfile, cfunc) or "other"] = (
                    by_package.get(_package(cfile, cfunc) or "other", 0.0) + tt
                )
            continue
        by_package[label or "other"] = by_package.get(label or "other", 0.0) + tottime
    print(
        f"\nCPU by package (cProfile, one extra import, {total:.2f} s of CPU under the profiler, which inflates "
        "Python-heavy code; builtins counted with their callers):"
    )
    for label, seconds in sorted(by_package.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<34} {seconds:>7.3f} s {100 * seconds / total:>5.1f}%")
    buf = io.StringIO()
    pstats.Stats(str(path), stream=buf).sort_stats("tottime").print_stats(20)
    lines = buf.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\nTop 20 functions by own time:")
    print("\n".join("  " + line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip()))


def bench(args: argparse.Namespace) -> int:
    import orjson

    url, drop = scratch_database("dx_bench_imports")
    print(f"scratch database {url.rsplit('/', 1)[1]}: migrating and seeding", flush=True)
    try:
        env = prepare(url)
        server = Server(env)
        try:
            token, villages = setup_city(server, args.villages)
        finally:
            server.stop()
        rows = build_rows(args.rows, villages)
        body = orjson.dumps({"rows": rows})
        warm = orjson.dumps({"rows": rows[:10]})  # a dry run first, so that the measured import finds the code loaded
        print(
            f"{len(villages)} villages under {WARD}; {args.rows} forum rows, {len(body) / 1e6:.1f} MB of JSON; "
            f"{args.rounds} rounds, alternating",
            flush=True,
        )
        imports, copies = [], []
        for n in range(args.rounds):
            order = ("import", "copy") if n % 2 == 0 else ("copy", "import")
            for what in order:
                if what == "import":
                    result = run_import(env, token, body, warm, args.rows)
                    imports.append(result)
                    print(
                        f"  round {n + 1} import: {result['seconds']:.2f} s, peak RSS {result['peak']:.0f} MB",
                        flush=True,
                    )
                else:
                    seconds = run_copy(url, rows)
                    assert count_forums(url) == args.rows
                    copies.append(seconds)
                    print(f"  round {n + 1} COPY:   {seconds:.2f} s", flush=True)
                empty_forums(url)

        imp_rate = [args.rows / r["seconds"] for r in imports]
        copy_rate = [args.rows / s for s in copies]
        ratios = [i / c for i, c in zip(imp_rate, copy_rate, strict=True)]
        ratio = statistics.median(imp_rate) / statistics.median(copy_rate)
        peak = max(r["peak"] for r in imports)
        peaks = ", ".join(f"{r['peak']:.0f}" for r in imports)
        print()
        print(f"{'path':<44} {'median s':>9} {'rows/s':>10} {'min..max rows/s':>20} {'vs COPY':>8}")
        print(
            f"{'POST /imports/forums (one request, JSON)':<44} {statistics.median(r['seconds'] for r in imports):>9.2f} "
            f"{statistics.median(imp_rate):>10,.0f} {f'{min(imp_rate):,.0f}..{max(imp_rate):,.0f}':>20} {ratio:>8.2f}"
        )
        print(
            f"{'psycopg COPY forums FROM STDIN':<44} {statistics.median(copies):>9.2f} "
            f"{statistics.median(copy_rate):>10,.0f} {f'{min(copy_rate):,.0f}..{max(copy_rate):,.0f}':>20} {1:>8.2f}"
        )
        print()
        print(
            f"import / COPY: {ratio:.2f} (per round {', '.join(f'{r:.2f}' for r in ratios)}); target >= {RATIO_TARGET}: "
            f"{'met' if ratio >= RATIO_TARGET else 'MISSED'}"
        )
        print(
            f"server RSS: {statistics.median(r['rss_before'] for r in imports):.0f} MB before the import, "
            f"peak {peak:.0f} MB (per round {peaks}); "
            f"target < {RSS_TARGET_MB} MB: {'met' if peak < RSS_TARGET_MB else 'MISSED'}"
        )

        if args.profile:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "phases.json"
                result = run_import(env, token, body, warm, args.rows, "phases", out)
                empty_forums(url)
                print_phases(out, result["seconds"])
                out = Path(tmp) / "import.prof"
                run_import(env, token, body, warm, args.rows, "cprofile", out)
                empty_forums(url)
                print_profile(out)
        return 0 if ratio >= RATIO_TARGET and peak < RSS_TARGET_MB else 1
    finally:
        drop()
        print(f"\nscratch database {url.rsplit('/', 1)[1]} dropped")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--villages", type=int, default=200)
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip the phase timers and cProfile runs")
    p.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="plain", choices=["plain", "phases", "cprofile"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.out, args.mode)
        return
    sys.exit(bench(args))


if __name__ == "__main__":
    main()
