"""Users, API clients and the token grants."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import tokens
from app.auth.passwords import hash_password, verify_password
from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.auth.schemas import ApiClientCreate, ApiClientRead, ApiClientUpdate, UserCreate, UserRead, UserUpdate
from app.common import audit
from app.common import resource as svc
from app.common.resource import NaturalKey, ResourceSpec
from app.config import Settings
from app.db import utcnow
from app.errors import Unauthorized
from app.models import ApiClient, User

users = User.__table__
clients = ApiClient.__table__


def _hash_password(data: dict[str, Any]) -> dict[str, Any]:
    return {"password_hash": hash_password(data["password"])} if data.get("password") else {}


user_spec = ResourceSpec(
    name="users",
    table=users,
    create=UserCreate,
    update=UserUpdate,
    read=UserRead,
    read_perm=Perm.ADMIN,
    write_perm=Perm.ADMIN,
    scoped_read=False,
    filters={"role": lambda v: users.c.role == str(v), "active": lambda v: users.c.active.is_(v)},
    natural_keys=[NaturalKey(("username",), "A user with this username exists.")],
    derive=_hash_password,
)

client_spec = ResourceSpec(
    name="api-clients",
    table=clients,
    create=ApiClientCreate,
    update=ApiClientUpdate,
    read=ApiClientRead,
    read_perm=Perm.ADMIN,
    write_perm=Perm.ADMIN,
    scoped_read=False,
    filters={"role": lambda v: clients.c.role == str(v), "active": lambda v: clients.c.active.is_(v)},
)


async def create_client(conn: AsyncConnection, principal: Principal, body: ApiClientCreate) -> tuple[dict, str]:
    """A new machine client; its secret is returned once and stored only as a hash."""
    client_secret = secrets.token_urlsafe(32)
    data = body.model_dump()
    data["client_id"] = "dxc_" + secrets.token_hex(12)
    data["secret_hash"] = hash_password(client_secret)
    record = await svc.create(conn, client_spec, principal, data)
    return record, client_secret


async def revoke_client(conn: AsyncConnection, principal: Principal, record_id: int, if_match: str | None) -> None:
    existing = await svc.load(conn, client_spec, principal, record_id, for_update=True)
    svc.check_if_match(client_spec, existing, if_match)
    await conn.execute(
        update(clients)
        .where(clients.c.id == record_id)
        .values(active=False, updated_at=utcnow(), version=existing["version"] + 1)
    )
    await audit.record(
        conn,
        principal,
        action="revoke",
        resource="api-clients",
        resource_id=record_id,
        before=svc.to_read(client_spec, existing),
    )


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
