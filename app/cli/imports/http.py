"""Talking to the server: a token from client credentials, requests retried with backoff on network errors,
5xx, 429 (Retry-After) and 409 (the same key still running), and one chunk sent with its Idempotency-Key."""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TextIO

import httpx

from app.cli.imports.files import EXIT_AUTH, EXIT_GAVE_UP, Chunk, Source, Stop

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}


@dataclass
class Settings:
    url: str
    resource: str
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    dry_run: bool = False
    retries: int = 6  # attempts after the first
    backoff: float = 0.5  # seconds before the first retry; doubled each time
    max_wait: float = 60.0
    timeout: float = 600.0
    key_salt: str = ""


class Server:
    def __init__(
        self,
        settings: Settings,
        *,
        err: TextIO = sys.stderr,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings, self.err, self.sleep = settings, err, sleep
        self.http = httpx.Client(
            base_url=settings.url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout, connect=10.0),
            transport=transport,
            headers={"User-Agent": "tamky-dx-import/1"},
        )
        self.token = settings.token

    def close(self) -> None:
        self.http.close()

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.settings.backoff * 2**attempt * (1 + random.random() / 4)
        if response is not None and (after := retry_after(response)) is not None:
            delay = max(after, 0.0)
        return min(delay, self.settings.max_wait)

    def request(self, what: str, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request, retried on network errors, 5xx, 429 (Retry-After) and 409 (key still running)."""
        attempt = 0
        while True:
            problem: str
            try:
                response = self.http.request(method, url, **kw)
            except httpx.TransportError as exc:
                response, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"{response.status_code} {detail(response)}"
            if attempt >= self.settings.retries:
                raise Stop(f"{what}: gave up after {attempt + 1} attempts; last: {problem}", EXIT_GAVE_UP)
            delay = self._wait(attempt, response)
            self.err.write(f"{what}: {problem}; retrying in {delay:.1f} s\n")
            self.sleep(delay)
            attempt += 1

    def can_refresh(self) -> bool:
        return bool(self.settings.client_id and self.settings.client_secret)

    def fetch_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        r = self.request("getting a token", "POST", "/api/v1/auth/token", data=form)
        if r.status_code != 200:
            raise Stop(
                f"the server refused the client credentials ({r.status_code}: {detail(r)}); "
                "check --client-id and --client-secret (or DX_IMPORT_CLIENT_ID / DX_IMPORT_CLIENT_SECRET)",
                EXIT_AUTH,
            )
        try:
            self.token = r.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise Stop(f"the token endpoint answered 200 without an access_token: {r.text[:200]}", EXIT_AUTH) from None

    def column_names(self) -> set[str]:
        """Every name the server takes for the resource's columns (fields and Vietnamese labels), from its
        template; an empty set when the server cannot say (then the header is the file's first row)."""
        try:
            r = self.http.get(
                f"/api/v1/imports/{self.settings.resource}/template",
                params={"format": "json"},
                headers={"Authorization": f"Bearer {self.token}"},
            )
            columns = r.json()["columns"] if r.status_code == 200 else []
            return {str(c[k]) for c in columns for k in ("field", "label") if isinstance(c, dict) and c.get(k)}
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return set()

    def idempotency_key(self, source: Source, chunk: Chunk) -> str:
        size = len(source.chunks[0].places) if source.chunks else 0
        base = f"{self.settings.resource}:{source.digest}:{size}:{chunk.number}/{len(source.chunks)}{self.settings.key_salt}"
        return "dx-import-" + hashlib.sha256(base.encode()).hexdigest()[:40] + f"-{chunk.number}"

    def send(self, source: Source, chunk: Chunk) -> httpx.Response:
        headers = {"Content-Type": chunk.content_type}
        if not self.settings.dry_run:  # a dry run writes nothing: a retry is safe, a stale replay is not
            headers["Idempotency-Key"] = self.idempotency_key(source, chunk)
        params = {"dry_run": "true"} if self.settings.dry_run else None
        what = f"chunk {chunk.number}/{len(source.chunks)}"
        refreshed = False
        while True:
            headers["Authorization"] = f"Bearer {self.token}"
            r = self.request(
                what,
                "POST",
                f"/api/v1/imports/{self.settings.resource}",
                content=chunk.body,
                headers=headers,
                params=params,
            )
            if r.status_code == 401 and self.can_refresh() and not refreshed:
                refreshed = True  # the token expired mid-run: one new one, once
                self.fetch_token()
                continue
            return r


def json_body(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def detail(r: httpx.Response) -> str:
    body = json_body(r)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return (r.text or r.reason_phrase)[:200].strip()


def retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
