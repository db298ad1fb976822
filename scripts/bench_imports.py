#!/usr/bin/env python
"""`scripts/bench imports`: one 50,000-row JSON import against psycopg COPY, what a real client pays.

On a scratch PostgreSQL database with a ward and 200 villages (loaded through the units import), alternating
round after round in the same run:
  (a) one POST /api/v1/imports/forums of every row to a fresh server started as `scripts/serve.sh` starts it,
      timed end to end by the client, with the body a real client sends (Python's `json.dumps` as `requests`
      and most scripts produce it: ASCII escapes for Vietnamese, ", " separators) and an `Idempotency-Key`
      (which `python -m app import` and any client that retries sends); the server's peak RSS (VmHWM: the
      process is new each round, so the peak is this import's); and, meanwhile, another client's GET /healthz
      and GET /forums?limit=50 one after the other (bounded loop), whose p99 is reported;
  (b) psycopg `COPY ... FROM STDIN` of the same rows from Python into a logged table made
      `LIKE forums INCLUDING ALL` (its indexes and constraints, no foreign key), committed.
Then (unless --no-explain) one import or COPY per variant, each changing one thing from what the first
version of this bench measured, to tell why it read 0.38x where a reviewer read 0.25x; and (--profile) the
server's CPU under py-spy during one import.

  .venv/bin/python scripts/bench_imports.py [--rows 50000] [--rounds 3] [--villages 200] [--no-explain] [--profile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib as b

WARD = "PH-TANTHANH"
PY_SPY = str(Path(sys.executable).parent / "py-spy")
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


def setup_city(server: b.Process, villages: int) -> tuple[str, list[int]]:
    """`villages` villages under the ward, through the units import; a ward import client's token."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=120) as http:
        admin = {"Authorization": f"Bearer {b.token(server.url)}"}
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
        ward_token = http.post("/api/v1/auth/token", data=form).json()["access_token"]
        ids, cursor = [], None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v1/units", params=params, headers=admin).json()
            ids += [u["id"] for u in page["items"] if u["code"].startswith("BV-")]
            cursor = page["next_cursor"]
            if not cursor:
                return ward_token, ids


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


def psql(url: str, *statements: str) -> list:
    import psycopg

    with psycopg.connect(b.pg_dsn(url), autocommit=True) as conn:
        out = []
        for s in statements:
            cur = conn.execute(s)
            out.append(cur.fetchall() if cur.description else None)
        return out


def empty(url: str) -> None:
    psql(url, "TRUNCATE forums, forums_copy_target", "VACUUM ANALYZE forums", "VACUUM ANALYZE forums_copy_target")


def run_copy(url: str, rows: list[dict[str, Any]], table: str) -> float:
    import orjson
    import psycopg

    with psycopg.connect(b.pg_dsn(url)) as conn:
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
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
        seconds = time.perf_counter() - t0
    assert psql(url, f"SELECT count(*) FROM {table}")[0][0][0] == len(rows)
    return seconds


class Probe(threading.Thread):
    """Another client: GET /healthz then GET /forums?limit=50, in turn, until stopped (bounded anyway)."""

    def __init__(self, base: str, auth: str, max_requests: int = 20_000, max_seconds: float = 600) -> None:
        super().__init__(daemon=True)
        self.base, self.auth, self.max_requests, self.max_seconds = base, auth, max_requests, max_seconds
        self.samples: dict[str, list[float]] = {"healthz": [], "list": []}
        self.statuses: Counter = Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        import httpx

        started = time.monotonic()
        with httpx.Client(base_url=self.base, timeout=60, headers={"Authorization": self.auth}) as http:
            for n in range(self.max_requests):
                if self.halt.is_set() or time.monotonic() - started > self.max_seconds:
                    return
                name, path = ("healthz", "/healthz") if n % 2 == 0 else ("list", "/api/v1/forums?limit=50")
                t = time.perf_counter()
                r = http.get(path)
                self.samples[name].append(time.perf_counter() - t)
                self.statuses[r.status_code] += 1

    def stop(self) -> None:
        self.halt.set()
        self.join(60)


def run_import(
    env: dict[str, str],
    token: str,
    body: bytes,
    rows: int,
    *,
    key: str | None,
    probe: bool = False,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One import into a fresh serve.sh server: client-side seconds, peak RSS and the probe's latencies."""
    import httpx

    with b.serve_sh(env) as server:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=server.url, timeout=900) as http:
            # a small dry run first, so that the measured import finds its code imported
            warm = http.post(
                "/api/v1/imports/forums",
                params={"dry_run": "true"},
                content=json.dumps({"rows": json.loads(body)["rows"][:10]}),
                headers=headers,
            )
            assert warm.status_code == 200, warm.text
            before = server.memory_mb()
            watcher = Probe(server.url, f"Bearer {b.token(server.url)}") if probe else None
            spy = None
            if profile is not None:
                spy = subprocess.Popen(
                    [PY_SPY, "record", "-p", str(server.proc.pid), "-f", "raw", "-o", str(profile), "-r", "1000"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)
            if watcher:
                watcher.start()
                time.sleep(1)  # the probe's own first requests out of the way
            send = dict(headers)
            if key:
                send["Idempotency-Key"] = key
            t0 = time.perf_counter()
            r = http.post("/api/v1/imports/forums", content=body, headers=send)
            wall = time.perf_counter() - t0
            if watcher:
                watcher.stop()
            if spy is not None:
                spy.send_signal(2)
                spy.wait(60)
        assert r.status_code == 200 and r.json()["created"] == rows, r.text[:2000]
        result = {"seconds": wall, "rss_before": before["VmRSS"], "peak": server.memory_mb()["VmHWM"]}
        if watcher:
            result["probe"] = watcher.samples
            result["statuses"] = dict(watcher.statuses)
        return result


def print_profile(path: Path) -> None:
    """Own samples per function (the leaf frame) and per package, from py-spy's raw (collapsed) output."""
    own: Counter = Counter()
    package: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        own[leaf] += n
        where = next(
            (
                label
                for key, label in (
                    ("app/imports", "app/imports"),
                    ("app/common", "app/common"),
                    ("app/", "app (other)"),
                    ("pydantic", "pydantic"),
                    ("sqlalchemy", "sqlalchemy"),
                    ("psycopg", "psycopg"),
                    ("json", "json parsing"),
                    ("starlette", "starlette/fastapi"),
                    ("fastapi", "starlette/fastapi"),
                    ("uvicorn", "uvicorn"),
                )
                if key in leaf
            ),
            "other",
        )
        package[where] += n
    print(f"\nServer CPU during one import (py-spy, {total} samples at 1000/s; leaf frames):")
    for label, n in package.most_common():
        print(f"  {label:<22} {100 * n / total:5.1f}%")
    for leaf, n in own.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {leaf.replace(str(b.ROOT) + '/', '')[:110]}")


def real_body(rows: list[dict[str, Any]]) -> bytes:
    """What `requests.post(url, json=...)` and `json.dumps` send: ASCII escapes and ", " separators."""
    return json.dumps({"rows": rows}).encode()


def bench(args: argparse.Namespace) -> int:
    import orjson

    url, drop = b.scratch_database("dx_bench_imports")
    print(f"scratch database {url.rsplit('/', 1)[1]}", flush=True)
    try:
        env = b.server_env(url)
        with b.serve_sh(env) as server:
            token, villages = setup_city(server, args.villages)
        psql(url, "CREATE TABLE forums_copy_target (LIKE forums INCLUDING ALL)")
        rows = build_rows(args.rows, villages)
        body = real_body(rows)
        print(
            f"{len(villages)} villages under {WARD}; {args.rows:,} forum rows, {len(body) / 1e6:.1f} MB of JSON "
            f"as a real client sends it ({len(orjson.dumps({'rows': rows})) / 1e6:.1f} MB as orjson writes it); "
            f"{args.rounds} rounds, alternating",
            flush=True,
        )
        imports, copies = [], []
        for n in range(args.rounds):
            for what in ("import", "copy") if n % 2 == 0 else ("copy", "import"):
                if what == "import":
                    result = run_import(env, token, body, args.rows, key=f"bench-{n}")
                    imports.append(result)
                    print(
                        f"  round {n + 1} import: {result['seconds']:.2f} s, peak RSS {result['peak']:.0f} MB",
                        flush=True,
                    )
                else:
                    copies.append(run_copy(url, rows, "forums_copy_target"))
                    print(f"  round {n + 1} COPY:   {copies[-1]:.2f} s", flush=True)
                empty(url)

        probed = run_import(env, token, body, args.rows, key="bench-probed", probe=True)
        empty(url)
        print(
            f"  one more import with another client probing: {probed['seconds']:.2f} s, answers {probed['statuses']}",
            flush=True,
        )
        imp_rate = statistics.median(args.rows / r["seconds"] for r in imports)
        copy_rate = statistics.median(args.rows / s for s in copies)
        peak = max(r["peak"] for r in imports)
        healthz, listing = probed["probe"]["healthz"], probed["probe"]["list"]
        print()
        print("| what | measured | goal |")
        print("|---|---|---|")
        b.row(
            f"import of {args.rows:,} forum rows in one JSON request vs psycopg COPY into a table LIKE forums",
            f"{imp_rate / copy_rate:.2f}x ({imp_rate:,.0f} vs {copy_rate:,.0f} rows/s)",
            "≥ 0.35x",
        )
        b.row(
            "server peak RSS during that import",
            f"{peak:.0f} MB ({statistics.median(r['rss_before'] for r in imports):.0f} MB before)",
            "< 200 MB",
        )
        b.row(
            "another client's GET /healthz and a list page while that import runs, p99",
            f"{1000 * b.percentile(healthz, 99):,.0f} ms and {1000 * b.percentile(listing, 99):,.0f} ms "
            f"({len(healthz) + len(listing)} requests)",
            "≤ 100 ms",
        )
        if args.explain:
            explain(env, url, token, rows, args.explain_rounds)
        if args.profile:
            if not Path(PY_SPY).exists():
                print("py-spy is not installed (pip install -r requirements-dev.txt)")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(args.profile_out or Path(tmp) / "import.txt")
                    run_import(env, token, body, args.rows, key=None, profile=out)
                    empty(url)
                    print_profile(out)
        return 0
    finally:
        drop()
        print(f"\nscratch database {url.rsplit('/', 1)[1]} dropped")


def explain(env, url, token, rows, rounds: int) -> None:
    """One factor at a time, from what a real client pays back to what the first bench measured; every
    variant once per round, in a rotated order, medians over the rounds."""
    import orjson

    n = len(rows)
    compact = orjson.dumps({"rows": rows})
    variants = {
        "import, json.dumps body + Idempotency-Key (a real client)": ("import", real_body(rows), "k"),
        "import, json.dumps body, no key": ("import", real_body(rows), None),
        "import, orjson compact body + key": ("import", compact, "k"),
        "import, orjson compact body, no key (the first bench's)": ("import", compact, None),
        "COPY into a table LIKE forums INCLUDING ALL (no FK)": ("copy", "forums_copy_target", None),
        "COPY into forums itself (the first bench's; FK checked)": ("copy", "forums", None),
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for label in names[r % len(names) :] + names[: r % len(names)]:
            what, arg, key = variants[label]
            if what == "import":
                seconds = run_import(env, token, arg, n, key=f"explain-{r}-{names.index(label)}" if key else None)[
                    "seconds"
                ]
            else:
                seconds = run_copy(url, rows, arg)
            empty(url)
            rates[label].append(n / seconds)
    med = {k: statistics.median(v) for k, v in rates.items()}
    like, forums = med[names[4]], med[names[5]]
    print(f"\nWhy the first bench read 0.38x ({rounds} rounds, medians; ratio against each COPY):")
    print(f"  {'variant':<60} {'rows/s':>9} {'/COPY LIKE':>10} {'/COPY forums':>12}")
    for label in names:
        print(f"  {label:<60} {med[label]:>9,.0f} {med[label] / like:>10.2f} {med[label] / forums:>12.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--villages", type=int, default=200)
    p.add_argument("--no-explain", dest="explain", action="store_false", help="skip the one-factor variants")
    p.add_argument("--explain-rounds", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="py-spy over one more import")
    p.add_argument("--profile-out", help="--profile: keep py-spy's raw samples in this file")
    sys.exit(bench(p.parse_args()))


if __name__ == "__main__":
    main()
