"""Argon2 checks run off the event loop, a few at a time (issue 12): a login flood freezes nobody else."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from app.auth import passwords
from tests.conftest import ADMIN


class _SlowHasher:
    """Stands in for argon2: each verify waits until the test lets it go, and counts how many run at once."""

    def __init__(self, real) -> None:
        self.real = real
        self.started = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.released_in_time: list[bool] = []

    def verify(self, password, hashed):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.set()
        try:
            self.released_in_time.append(self.release.wait(10))
            return self.real.verify(password, hashed)
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password):
        return self.real.hash(password)


def _login(world):
    data = {"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
    return world.client.post("/api/v1/auth/token", data=data)


def test_a_password_check_does_not_block_other_requests(world, monkeypatch):
    slow = _SlowHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", slow)
    with ThreadPoolExecutor(1) as pool:
        login = pool.submit(_login, world)
        assert slow.started.wait(10), "the login never reached its password check"
        health = world.client.get("/healthz")  # answered while the check is still running, or not until after
        slow.release.set()
        assert login.result().status_code == 200
    assert health.status_code == 200
    assert slow.released_in_time == [True], "/healthz waited for an argon2 check: the check ran on the event loop"


def test_concurrent_password_checks_are_bounded(world, monkeypatch):
    slow = _SlowHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", slow)
    with ThreadPoolExecutor(8) as pool:
        logins = [pool.submit(_login, world) for _ in range(8)]
        assert slow.started.wait(10)
        world.client.get("/healthz")  # give every login the time to reach its check
        slow.release.set()
        codes = [f.result().status_code for f in logins]
    assert codes == [200] * 8
    assert 1 <= slow.most <= passwords.HASHES_AT_ONCE, f"{slow.most} argon2 checks ran at once"
