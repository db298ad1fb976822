"""What every benchmark script needs: a scratch PostgreSQL database and a free local port."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("DX_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


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
