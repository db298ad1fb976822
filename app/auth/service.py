"""The token grants: a password or client credentials exchanged for a bearer token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import tokens
from app.auth.passwords import verify_password
from app.config import Settings
from app.errors import Unauthorized
from app.models import ApiClient, User

users = User.__table__
clients = ApiClient.__table__


async def _grant(
    conn: AsyncConnection,
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
    take as long) and issue a token for an active principal."""
    row = (
        await conn.execute(
            select(table.c.id, hash_col, table.c.role, table.c.unit_id, table.c.active).where(name_col == name)
        )
    ).first()
    ok = verify_password(secret, row[1] if row is not None else None)
    if not ok or row is None or not row.active:
        raise Unauthorized(refusal)
    return tokens.issue(settings, sub=f"{kind}:{row.id}", role=row.role, unit_id=row.unit_id)


async def password_grant(conn: AsyncConnection, settings: Settings, username: str, password: str) -> tuple[str, int]:
    return await _grant(
        conn,
        settings,
        users,
        users.c.username,
        users.c.password_hash,
        "user",
        username,
        password,
        "Unknown username or wrong password.",
    )


async def client_grant(conn: AsyncConnection, settings: Settings, client_id: str, secret: str) -> tuple[str, int]:
    return await _grant(
        conn,
        settings,
        clients,
        clients.c.client_id,
        clients.c.secret_hash,
        "client",
        client_id,
        secret,
        "Unknown client or wrong secret.",
    )
