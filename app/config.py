"""Settings from the environment (prefix DX_)."""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Once the default key, published with the code: it signs nothing and is refused wherever it is set.
PUBLISHED_SECRETS = frozenset({"change-me-dev-only-secret-key-0000000000"})
ROOT = Path(__file__).resolve().parent.parent


def development_key(path: Path) -> str:
    """The development signing key kept in `path` (owner-only), made once with a random value on first start,
    so that tokens survive restarts and no key that anyone else can read signs them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier start, or by another worker a moment ago
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path} is readable by others: chmod 600 it (or delete it to make a new key)")
    for _ in range(50):  # another worker may still be writing the key it has just made
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise ValueError(f"{path} is empty: delete it to make a new key")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DX_", extra="ignore")

    environment: str = "development"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'dx.db'}"
    # unset in development: a random key kept in secret_key_file; required (and never a published one) elsewhere
    secret_key: str | None = None
    secret_key_file: Path = ROOT / "var" / "secret_key"
    # Older signing keys still accepted (by `kid`) so that a rotation logs nobody out.
    previous_secret_keys: Annotated[list[str], NoDecode] = []
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "tamky-dx"
    jwt_audience: str = "tamky-dx-api"
    access_token_minutes: int = 60
    cors_origins: Annotated[list[str], NoDecode] = []
    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: str | None = None
    max_body_bytes: int = 1024 * 1024
    max_import_body_bytes: int = 64 * 1024 * 1024
    db_pool_size: int = 20  # connections a worker keeps (no overflow)
    statement_timeout_ms: int = 30_000
    idempotency_hours: int = 24
    # rate limits (counters in the database, or in Redis when DX_REDIS_URL is set); 0 turns one off
    redis_url: str | None = None
    redis_namespace: str = "dx"  # key prefix, so that several deployments can share one Redis
    rate_limit_per_minute: int = 600  # requests per principal
    login_failures_per_username: int = 10  # per 15 minutes
    login_failures_per_address: int = 50  # per 15 minutes
    # webhooks (API.md section 12): hosts allowed over http and on private addresses, delivery in each worker
    webhook_allow_hosts: Annotated[list[str], NoDecode] = []
    webhook_delivery: bool = True  # run the delivery task in this process (tests that do not want it say false)
    webhook_timeout_seconds: float = 10.0  # per delivery attempt, connect to last byte
    webhook_retry_base_seconds: float = 5.0  # first retry after this long, doubling each time
    webhook_retry_max_seconds: float = 3600.0  # the longest wait between two attempts
    webhook_retry_hours: float = 24.0  # how long a failing event keeps being retried
    webhook_poll_seconds: float = 1.0  # how often a worker looks for events written by other workers
    webhook_concurrency: int = 16  # deliveries in flight per worker
    webhook_duty_check_minutes: float = 60.0  # how often time-driven (obligation) events are produced
    # proxies (addresses or networks) whose X-Forwarded-For names the client; none by default, so that no
    # client can pick the address its failed logins are counted against
    trusted_proxies: Annotated[list[str], NoDecode] = []

    @field_validator("cors_origins", "previous_secret_keys", "webhook_allow_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ip_network(entry, strict=False)  # a ValueError names the bad entry at start
        return value

    @model_validator(mode="after")
    def _signing_key(self) -> Settings:
        if self.secret_key in PUBLISHED_SECRETS:
            raise ValueError("DX_SECRET_KEY is a key published with the code: set a key of your own")
        if self.secret_key is None:
            if self.environment != "development":
                raise ValueError("DX_SECRET_KEY must be set outside development")
            self.secret_key = development_key(self.secret_key_file)
        if len(self.secret_key) < 16:
            raise ValueError("DX_SECRET_KEY must be at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sync_url(self) -> str:
        """URL for Alembic and the CLI (synchronous drivers)."""
        url = self.database_url
        if url.startswith("sqlite+aiosqlite"):
            url = "sqlite" + url[len("sqlite+aiosqlite") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg" + url[len("postgresql") :]
        return url

    @property
    def async_url(self) -> str:
        url = self.sync_url
        if url.startswith("sqlite://"):
            url = "sqlite+aiosqlite" + url[len("sqlite") :]
        return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
