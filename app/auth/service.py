"""The token grants: a password or client credentials exchanged for a bearer token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import tokens
from app.auth.passwords import verify_password_off_loop
from app.config import Settings
from app.db import reading
from app.errors import Unauthorized
from app.models import ApiClient, User

users = User.__table__
clients = ApiClient.__table__


async def _grant(
    engine: AsyncEngine,
    settings: Settings,
    table,
    name_col,
    hash_col,
    kind: str,
    name: str,
    secret: str,
    refusal: str,
) -> tuple[str, int]:
    """Verify a secret against its argon2 hash (a dummy hash when the name is unknown, so that both failures
    take as long) and issue a token for an active principal. The row is read on a connection given back before
    the hash is checked (off the event loop), so a login flood holds no pool connection while it hashes."""
    async with reading(engine) as conn:
        row = (
            await conn.execute(
                select(table.c.id, hash_col, table.c.role, table.c.unit_id, table.c.active).where(name_col == name)
            )
        ).first()
    ok = await verify_password_off_loop(secret, row[1] if row is not None else None)
    if not ok or row is None or not row.active:
        raise Unauthorized(refusal)
    return tokens.issue(settings, sub=f"{kind}:{row.id}", role=row.role, unit_id=row.unit_id)


async def password_grant(engine: AsyncEngine, settings: Settings, username: str, password: str) -> tuple[str, int]:
    return await _grant(
        engine,
        settings,
        users,
        users.c.username,
        users.c.password_hash,
        "user",
        username,
        password,
        "Unknown username or wrong password.",
    )


async def client_grant(engine: AsyncEngine, settings: Settings, client_id: str, secret: str) -> tuple[str, int]:
    return await _grant(
        engine,
        settings,
        clients,
        clients.c.client_id,
        clients.c.secret_hash,
        "client",
        client_id,
        secret,
        "Unknown client or wrong secret.",
    )
