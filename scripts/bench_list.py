#!/usr/bin/env python
"""`scripts/bench list`: GET /api/v1/forums?limit=50 over 200,000 forums at 32 connections, against raw ASGI.

On a scratch PostgreSQL database: the API as `scripts/serve.sh` starts it, 200,000 forums written by COPY,
the bootstrap lead office's token. wrk (32 connections, 2 threads, bounded in time and requests) alternates,
round after round: the API's first page; the raw ASGI + asyncpg + orjson endpoint of scripts/bench_raw.py
(same `LIMIT 51` and `count(*)`, same uvicorn options); the API's second page (the cursor of the first); the
first page from a second server whose per-principal request counter is off (DX_RATE_LIMIT_PER_MINUTE=0).

  .venv/bin/python scripts/bench_list.py [--forums 200000] [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta

import benchlib as b


def load_forums(url: str, count: int) -> None:
    import psycopg

    with psycopg.connect(b.pg_dsn(url)) as conn:
        units = [r[0] for r in conn.execute("SELECT id FROM units ORDER BY id")]
        now = datetime.now(UTC)
        start = date(2021, 1, 1)
        cols = "unit_id, external_ref, kind, held_on, title, attendees, questions_answered, topics, created_at, updated_at, version"
        with conn.cursor() as cur, cur.copy(f"COPY forums ({cols}) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row(
                    (
                        units[i % len(units)],
                        f"bench-{i:07d}",
                        "village_forum" if i % 10 else "business_dialogue",
                        start + timedelta(days=i % 1800),
                        f"Diễn đàn chuyển đổi số — kỳ {i}",
                        20 + i % 80,
                        i % 12,
                        '["concepts", "shared_apps"]' if i % 3 == 0 else None,
                        now,
                        now,
                        1,
                    )
                )
        conn.commit()
    with psycopg.connect(b.pg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE forums")


def bench(args: argparse.Namespace) -> int:
    import httpx

    url, drop = b.scratch_database("dx_bench_list")
    api = raw = unlimited = None
    try:
        env = b.server_env(url)
        api = b.serve_sh(env)
        load_forums(url, args.forums)
        port = b.free_port()
        raw = b.Process([b.python(), str(b.ROOT / "scripts" / "bench_raw.py"), str(port), b.pg_dsn(url)], env, port)
        # the same API with the per-principal request counter off: what that counter's row lock costs
        unlimited = b.serve_sh(b.server_env(url, DX_RATE_LIMIT_PER_MINUTE="0"))
        auth = f"Bearer {b.token(api.url)}"
        first = httpx.get(f"{api.url}/api/v1/forums", params={"limit": 50}, headers={"Authorization": auth}).json()
        assert first["total"] == args.forums and len(first["items"]) == 50, first.get("total")
        raw_first = httpx.get(f"{raw.url}/forums").json()
        assert raw_first["total"] == args.forums and [i["id"] for i in raw_first["items"]] == [
            i["id"] for i in first["items"]
        ]
        targets = {
            "api": (f"{api.url}/api/v1/forums?limit=50", auth),
            "raw": (f"{raw.url}/forums", None),
            "api page 2": (f"{api.url}/api/v1/forums?limit=50&cursor={first['next_cursor']}", auth),
            "api no limiter": (f"{unlimited.url}/api/v1/forums?limit=50", auth),
        }
        print(f"{args.forums:,} forums; wrk -c {args.connections}, {args.seconds} s a run, {args.rounds} rounds")
        results: dict[str, list[dict]] = {k: [] for k in targets}
        for target, a in targets.values():  # warm-up, not counted
            b.wrk(target, a, connections=args.connections, seconds=2, max_requests=20_000)
        for n in range(args.rounds):
            order = list(targets) if n % 2 == 0 else list(reversed(targets))
            for name in order:
                target, a = targets[name]
                r = b.wrk(target, a, connections=args.connections, seconds=args.seconds, max_requests=args.max_requests)
                results[name].append(r)
                print(
                    f"  round {n + 1} {name:<10} {r['rps']:8.0f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms"
                )
                time.sleep(0.5)
        med = {k: {m: b.median([r[m] for r in v]) for m in ("rps", "p50", "p99")} for k, v in results.items()}
        print()
        print("| what | measured | goal |")
        print("|---|---|---|")
        b.row(
            f"`GET /forums?limit=50` with a token, {args.connections} connections, {args.forums:,} forums: p99",
            f"{med['api']['p99']:,.0f} ms ({med['api']['rps']:,.0f} req/s; raw p99 {med['raw']['p99']:,.0f} ms)",
            "≤ 100 ms",
        )
        b.row(
            "the same, req/s against raw ASGI + asyncpg + orjson (`LIMIT 51` + `count(*)`)",
            f"{med['api']['rps'] / med['raw']['rps']:.2f}x ({med['api']['rps']:,.0f} vs {med['raw']['rps']:,.0f})",
            "≥ 1.0x",
        )
        b.row(
            "(extra) the next page, with the first page's cursor: p99, req/s vs raw",
            f"{med['api page 2']['p99']:,.0f} ms, {med['api page 2']['rps'] / med['raw']['rps']:.2f}x",
            "",
        )
        b.row(
            "(extra) the first page with the per-principal rate-limit counter off: p99, req/s vs raw",
            f"{med['api no limiter']['p99']:,.0f} ms, {med['api no limiter']['rps'] / med['raw']['rps']:.2f}x",
            "",
        )
        return 0
    finally:
        for p in (api, raw, unlimited):
            if p is not None:
                p.stop()
        drop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?")
    p.add_argument("--forums", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--max-requests", type=int, default=200_000)
    sys.exit(bench(p.parse_args()))


if __name__ == "__main__":
    main()
