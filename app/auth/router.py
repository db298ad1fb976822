from collections import Counter
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from app.auth import service
from app.auth.principal import CurrentPrincipal
from app.auth.schemas import MeOut, TokenOut
from app.common.responses import problems
from app.errors import AppError, Invalid

router = APIRouter(prefix="/auth", tags=["auth"])

FormText = Annotated[str | None, Form(max_length=256)]


@router.post(
    "/token",
    response_model=TokenOut,
    operation_id="issue_token",
    summary="Exchange a password or client credentials for a bearer token",
    responses=problems(400, 429),
)
async def issue_token(
    request: Request,
    response: Response,
    grant_type: Annotated[str, Form(max_length=64)],
    username: FormText = None,
    password: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
):
    """Failed logins are limited here, by the very name this endpoint checks (API.md sections 1 and 2)."""
    settings = request.app.state.settings
    repeated = sorted({k for k, n in Counter(k for k, _ in (await request.form()).multi_items()).items() if n > 1})
    if repeated:
        # which of the values would be checked, and which counted, is anyone's guess: refuse them all
        raise AppError(f"Each parameter is sent once; repeated: {', '.join(repeated)}.", status=400)
    for name, value in (
        ("username", username),
        ("password", password),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ):
        if value is not None and "\x00" in value:
            raise Invalid("NUL characters are not allowed.", loc=["body", name])
    engine = request.app.state.engine
    if grant_type == "password":
        if not username or not password:
            raise Invalid(
                "username and password are required.", loc=["body", "username" if not username else "password"]
            )
        kind, name, check = "user", username, partial(service.password_grant, engine, settings, username, password)
    elif grant_type == "client_credentials":
        if not client_id or not client_secret:
            raise Invalid(
                "client_id and client_secret are required.",
                loc=["body", "client_id" if not client_id else "client_secret"],
            )
        kind, name, check = (
            "client",
            client_id,
            partial(service.client_grant, engine, settings, client_id, client_secret),
        )
    else:
        raise AppError("grant_type must be 'password' or 'client_credentials'.", status=400)
    address = (request.scope.get("client") or ("unknown", 0))[0]
    token, expires = await request.app.state.login_limit.guard(kind, name, address, check)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1; and no idempotency record keeps it
    response.headers["Pragma"] = "no-cache"
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
