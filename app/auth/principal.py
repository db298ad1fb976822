"""Who is calling: loaded from the database on every request, never from the token's claims."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import BigInteger, bindparam, select
from starlette.types import Scope

from app.auth import tokens
from app.auth.permissions import SUBTREE_SCOPED_ROLES, Perm, Role, has
from app.db import DbConn, reading
from app.errors import AppError, Forbidden, Unauthorized
from app.models import ApiClient, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

users = User.__table__
clients = ApiClient.__table__


@dataclass(frozen=True)
class Principal:
    kind: str  # user | client
    id: int
    name: str
    role: Role
    unit_id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def city_wide(self) -> bool:
        return self.role not in SUBTREE_SCOPED_ROLES

    def can(self, perm: Perm) -> bool:
        return has(self.role, perm)


# built once: a statement built per request, and its cache key, cost more than the lookup by primary key itself
_USER = select(users.c.id, users.c.username, users.c.role, users.c.unit_id, users.c.credentials_changed_at).where(
    users.c.id == bindparam("id", type_=BigInteger), users.c.active.is_(True)
)
_CLIENT = select(clients.c.id, clients.c.name, clients.c.role, clients.c.unit_id).where(
    clients.c.id == bindparam("id", type_=BigInteger), clients.c.active.is_(True)
)


async def load_principal(conn, sub: str, issued_at: int | None = None) -> Principal | None:
    """The active principal a token names; None when disabled, gone, or (a user) when the token was issued
    before the second its password last changed."""
    kind, _, raw_id = sub.partition(":")
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18:
        return None
    if kind == "user":
        row = (await conn.execute(_USER, {"id": int(raw_id)})).first()
        changed = row[4] if row is not None else None
        if changed is not None and issued_at is not None and issued_at < int(changed.timestamp()):
            return None
    elif kind == "client":
        row = (await conn.execute(_CLIENT, {"id": int(raw_id)})).first()
    else:
        return None
    if row is None:
        return None
    return Principal(kind=kind, id=row[0], name=row[1], role=Role(row[2]), unit_id=row[3])


async def current_principal(
    request: Request, conn: DbConn, _token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The caller of a request. `_token` only declares the bearer scheme in OpenAPI; the token itself is read by
    `tokens.request_claims`, the one decoder the middleware shares."""
    claims = tokens.request_claims(request.app.state.settings, request.scope)
    iat = claims.get("iat")
    principal = await load_principal(conn, str(claims["sub"]), iat if type(iat) is int else None)
    if principal is None:
        raise Unauthorized("The token's principal is disabled or no longer exists.")
    request.state.principal = principal
    return principal


async def active_subject(scope: Scope) -> str | None:
    """The key of the request's principal when its token is valid and the principal still active, else None.
    Handed to the idempotency middleware, which must not replay anything to a caller disabled since."""
    app = scope["app"]
    try:
        claims = tokens.request_claims(app.state.settings, scope)
    except Unauthorized:
        return None
    async with reading(app.state.engine) as conn:
        principal = await load_principal(conn, str(claims["sub"]))
    return None if principal is None else principal.key


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _dependency_calls(dependant) -> list:
    calls = []
    for dep in dependant.dependencies:
        calls.append(dep.call)
        calls.extend(_dependency_calls(dep))
    return calls


async def refusal_before_body(request: Request) -> AppError | None:
    """The 401 or the role's 403 that a request with an unreadable body would have had.

    FastAPI reads a JSON body before it runs the dependencies, so a malformed one would be a 422 before the
    token and the role were looked at; API.md puts 401 first, and a role's 403 before any body check."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    calls = _dependency_calls(dependant) if dependant is not None else []
    if current_principal not in calls:
        return None  # a public route
    try:
        async with reading(request.app.state.engine) as conn:
            principal = await current_principal(request, conn, None)
    except AppError as exc:
        return exc
    for perm in {getattr(call, "required_permission", None) for call in calls} - {None}:
        if not principal.can(perm):
            return Forbidden(f"The role '{principal.role}' may not do this ({perm}).")
    return None


def require(perm: Perm):
    """A dependency that admits only principals whose role holds `perm` (403 otherwise)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(f"The role '{principal.role}' may not do this ({perm}).")
        return principal

    _check.__name__ = f"require_{perm.value.replace(':', '_')}"
    _check.required_permission = perm  # read by the role-matrix test
    return Depends(_check)
