"""A real server process (`python -m app serve`) on a free local port, for tests that kill, restart or
signal it, or run it with several workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from app.config import ROOT
from tests.conftest import ADMIN, create_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, env: dict[str, str], args: list[str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "DX_DATABASE_URL": url,
            "DX_BOOTSTRAP_ADMIN_USERNAME": ADMIN[0],
            "DX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
        }
        self.args = args
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Server:
        # the server's own log, so that a failing test can show what it said (`first_traceback`)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (as long as the server object lives)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def first_traceback(self, size: int = 12000) -> str:
        """What the server logged from its first traceback on (or its last lines): for a failing test's message."""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace")
        at = text.find("Traceback")
        return text[at : at + size] if at >= 0 else text[-size:]

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, as when a machine dies."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self, username: str = ADMIN[0], password: str = ADMIN[1]) -> str:
        r = httpx.post(
            f"{self.base}/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        r.raise_for_status()
        return r.json()["access_token"]


@contextmanager
def running(url: str, env: dict[str, str] | None = None, args: list[str] | None = None) -> Iterator[Server]:
    server = Server(url, env or {}, args or []).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_on_new_database(label: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A server on a database of its own (migrated and seeded by `serve`), dropped afterwards."""
    database = create_database(label)
    try:
        with running(database.url, env) as server:
            yield server
    finally:
        database.drop()
