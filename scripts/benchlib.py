"""What every benchmark script needs: a scratch database, the server as `scripts/serve.sh` starts it, wrk.

Every load loop here is bounded in count and in time and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("DX_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key-that-is-long-enough"
ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_database(prefix: str = "dx_bench") -> tuple[str, Callable[[], None]]:
    """A new empty database on the benchmark server, and the function that drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}", drop


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def server_env(url: str, **extra: str) -> dict[str, str]:
    """The environment a deployment would give serve.sh, plus a rate limit no benchmark client reaches.

    The limiter still runs (its counter is part of what every request pays); it just never refuses."""
    return {
        **os.environ,
        "DX_DATABASE_URL": url,
        "DX_SECRET_KEY": SECRET,
        "DX_ENVIRONMENT": "production",
        "DX_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "DX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DX_RATE_LIMIT_PER_MINUTE": "100000000",
        **extra,
    }


def use_env(env: dict[str, str]) -> None:
    """Make this process's settings those of the server (for migrate/seed/demo-data run in process)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("DX_")})
    from app.config import get_settings

    get_settings.cache_clear()


class Process:
    """A server process on 127.0.0.1 (its output to a log file), ready when `ready_path` answers 200."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, ready_path: str = "/readyz") -> None:
        import httpx

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(prefix="dx-bench-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}: {Path(self.log.name).read_text()}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the server did not start in 120 s")
            time.sleep(0.1)

    def memory_mb(self) -> dict[str, float]:
        """VmRSS now and VmHWM (the peak since the process started)."""
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
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_sh(env: dict[str, str]) -> Process:
    """The API exactly as `./scripts/serve.sh` starts it (migrate, seed, one uvicorn worker, access log on)."""
    port = free_port()
    return Process([str(ROOT / "scripts" / "serve.sh"), "--port", str(port)], env, port)


def token(base: str, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
    import httpx

    form = {"grant_type": "password", "username": username, "password": password}
    r = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


_WRK_LUA = """
local max_requests = tonumber(os.getenv("WRK_MAX_REQUESTS") or "0")
local done_here = 0
local headers = {}
local auth = os.getenv("WRK_AUTHORIZATION")
if auth and auth ~= "" then headers["Authorization"] = auth end
request = function() return wrk.format("GET", nil, headers) end
response = function(status, hdrs, body)
  done_here = done_here + 1
  if max_requests > 0 and done_here >= max_requests then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format("DXBENCH requests=%d seconds=%f p50=%f p90=%f p99=%f max=%f non2xx=%d errors=%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk(
    url: str,
    authorization: str | None = None,
    *,
    connections: int = 32,
    seconds: int = 10,
    max_requests: int = 200_000,
    threads: int = 2,
) -> dict[str, float]:
    """One wrk run (bounded by `seconds` and by about `max_requests`): req/s and latency percentiles in ms."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit("benchmarks load 127.0.0.1 only")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_LUA)
    env = {
        **os.environ,
        "WRK_AUTHORIZATION": authorization or "",
        "WRK_MAX_REQUESTS": str(max(1, max_requests // threads)),
    }
    try:
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", f.name]
            + [url],
            capture_output=True,
            text=True,
            env=env,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("DXBENCH"))
    v = {k: float(val) for k, val in re.findall(r"(\w+)=([\d.]+)", line)}
    v["rps"] = v["requests"] / v["seconds"]
    if v["non2xx"] or v["errors"]:
        print(f"  warning: wrk saw {v['non2xx']:.0f} non-2xx answers and {v['errors']:.0f} socket errors", flush=True)
    return v


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of samples."""
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def row(what: str, now: str, goal: str) -> None:
    """One line of the issue's table, as measured."""
    print(f"| {what} | {now} | {goal} |", flush=True)


def python() -> str:
    return sys.executable
