"""Users and API clients: records of the shared machinery, written through the write service."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.passwords import hash_password, hash_password_off_loop
from app.auth.permissions import Perm, Role
from app.auth.principal import Principal
from app.common import repository, writes
from app.common.spec import NaturalKey, ResourceSpec
from app.common.writes import Ctx
from app.db import utcnow
from app.errors import Conflict
from app.models import ApiClient, User
from app.users.schemas import ApiClientCreate, ApiClientRead, ApiClientUpdate, UserCreate, UserRead, UserUpdate

users = User.__table__
clients = ApiClient.__table__


def _hash_password(data: dict[str, Any]) -> dict[str, Any]:
    """A new password is stored as its hash; tokens issued before it stop working."""
    if not data.get("password"):
        return {}
    return {"password_hash": hash_password(data["password"]), "credentials_changed_at": utcnow()}


async def _keep_a_lead_office(ctx: Ctx, new: dict[str, Any], stored: dict[str, Any]) -> None:
    """Disabling or demoting the last active lead_office user would lock the city out: 409."""
    lead = Role.LEAD_OFFICE.value
    if not (stored["role"] == lead and stored["active"]) or (new["role"] == lead and new["active"]):
        return
    others = select(users.c.id).where(users.c.role == lead, users.c.active.is_(True), users.c.id != stored["id"])
    if ctx.conn.dialect.name == "postgresql":
        others = others.with_for_update()  # two leads demoting each other at once: the second waits and sees
    if not (await ctx.conn.execute(others)).first():
        raise Conflict("This is the last active lead_office user; make another one first.")


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
    on_update=_keep_a_lead_office,
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


async def create_client(conn: AsyncConnection, principal: Principal | None, body: ApiClientCreate) -> tuple[dict, str]:
    """A new machine client; its secret is returned once and stored only as a hash."""
    client_secret = secrets.token_urlsafe(32)
    data = body.model_dump()
    data["client_id"] = "dxc_" + secrets.token_hex(12)
    data["secret_hash"] = await hash_password_off_loop(client_secret)
    record = await writes.create(conn, client_spec, principal, data)
    return record, client_secret


async def revoke_client(conn: AsyncConnection, principal: Principal, record_id: int, if_match: str | None) -> None:
    """The client stays on record, inactive: its tokens stop working at once."""
    existing = await repository.load(conn, client_spec, principal, record_id, for_update=True)
    writes.check_if_match(client_spec, existing, if_match)
    await writes.change_state(conn, client_spec, principal, existing, {"active": False}, action="revoke")
