from typing import Annotated

from fastapi import APIRouter, Form

from app.auth import service
from app.auth.principal import CurrentPrincipal
from app.auth.schemas import MeOut, TokenOut
from app.common.responses import problems
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
