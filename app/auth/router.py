from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from app.auth import service
from app.auth.permissions import Perm
from app.auth.principal import CurrentPrincipal, require
from app.auth.schemas import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientQuery,
    MeOut,
    TokenOut,
    UserQuery,
)
from app.common import resource as svc
from app.common.responses import problems
from app.common.router import IfMatch, RecordId, crud_router, set_etag
from app.config import get_settings
from app.db import DbConn
from app.errors import AppError, Invalid

router = APIRouter(prefix="/auth", tags=["auth"])

FormText = Annotated[str | None, Form(max_length=256)]


@router.post(
    "/token",
    response_model=TokenOut,
    operation_id="issue_token",
    summary="Exchange a password or client credentials for a bearer token",
    responses=problems(400),
)
async def issue_token(
    conn: DbConn,
    grant_type: Annotated[str, Form(max_length=64)],
    username: FormText = None,
    password: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
):
    settings = get_settings()
    for name, value in (
        ("username", username),
        ("password", password),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ):
        if value is not None and "\x00" in value:
            raise Invalid("NUL characters are not allowed.", loc=["body", name])
    if grant_type == "password":
        if not username or not password:
            raise Invalid(
                "username and password are required.", loc=["body", "username" if not username else "password"]
            )
        token, expires = await service.password_grant(conn, settings, username, password)
    elif grant_type == "client_credentials":
        if not client_id or not client_secret:
            raise Invalid(
                "client_id and client_secret are required.",
                loc=["body", "client_id" if not client_id else "client_secret"],
            )
        token, expires = await service.client_grant(conn, settings, client_id, client_secret)
    else:
        raise AppError("grant_type must be 'password' or 'client_credentials'.", status=400)
    return {"access_token": token, "token_type": "bearer", "expires_in": expires}


@router.get(
    "/me", response_model=MeOut, operation_id="get_me", summary="Who the token belongs to", responses=problems()
)
async def me(principal: CurrentPrincipal):
    return {
        "kind": principal.kind,
        "id": principal.id,
        "name": principal.name,
        "role": principal.role,
        "unit_id": principal.unit_id,
    }


users_router = crud_router(
    service.user_spec, query_model=UserQuery, ops=("list", "get", "create", "update"), singular="user"
)
clients_router = crud_router(
    service.client_spec, query_model=ApiClientQuery, ops=("list", "get"), singular="api_client"
)


@clients_router.post(
    "",
    response_model=ApiClientCreated,
    status_code=201,
    operation_id="create_api_client",
    summary="Register a machine client (its secret is shown once)",
    responses=problems(403, 409, 413),
    dependencies=[require(Perm.ADMIN)],
)
async def create_api_client(
    body: ApiClientCreate, request: Request, response: Response, conn: DbConn, principal: CurrentPrincipal
):
    record, secret = await service.create_client(conn, principal, body)
    set_etag(response, service.client_spec, record)
    response.headers["Location"] = f"{request.url.path}/{record['id']}"
    return {**svc.to_read(service.client_spec, record), "client_secret": secret}


@clients_router.delete(
    "/{id}",
    status_code=204,
    operation_id="revoke_api_client",
    summary="Revoke a machine client (its tokens stop working at once)",
    responses=problems(403, 404, 412),
    dependencies=[require(Perm.ADMIN)],
)
async def revoke_api_client(id: RecordId, conn: DbConn, principal: CurrentPrincipal, if_match: IfMatch = None):
    await service.revoke_client(conn, principal, id, if_match)
    return Response(status_code=204)
