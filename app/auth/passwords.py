"""Argon2 hashing via pwdlib (maintained, argon2 by default, constant-time verify).

A hash costs 0.25-1 s of CPU (and 64 MiB): the async forms run it on a worker thread, a few at a time, so that
a login flood neither freezes the event loop nor takes every thread the server has."""

from __future__ import annotations

import asyncio
import os
import secrets
import weakref

import anyio.to_thread
from anyio import CapacityLimiter
from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# Hashes at once per process: one per core; more only queue for the CPU while holding their memory.
HASHES_AT_ONCE = max(1, os.cpu_count() or 1)
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, hashed)
    except Exception:  # a malformed stored hash is a failed login, not a 500
        return False


def _limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = CapacityLimiter(HASHES_AT_ONCE)
    return _limiters[loop]


async def hash_password_off_loop(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_limiter())


async def verify_password_off_loop(password: str, hashed: str | None) -> bool:
    return await anyio.to_thread.run_sync(verify_password, password, hashed, limiter=_limiter())
