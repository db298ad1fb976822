"""JWT access tokens (python-jose): strict decoding, every required claim, keys chosen by `kid`."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import jwt
from starlette.types import Scope

from app.config import Settings
from app.errors import Unauthorized

REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti", "role", "unit_id")


def _instant(value: object) -> bool:
    """A whole number a JavaScript client reads exactly (seconds since 1970, or an id)."""
    return type(value) is int and 0 <= value < 2**53


def _text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 256


# The type of every claim we issue: a token signed with our key but shaped otherwise was not made by us.
CLAIM_TYPES = {
    "exp": _instant,
    "iat": _instant,
    "nbf": _instant,
    "sub": _text,
    "jti": _text,
    "iss": _text,
    "aud": _text,
    "role": _text,
    "unit_id": _instant,
}


def key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def issue(settings: Settings, *, sub: str, role: str, unit_id: int) -> tuple[str, int]:
    now = datetime.now(UTC)
    lifetime = settings.access_token_minutes * 60
    claims = {
        "sub": sub,
        "role": role,
        "unit_id": unit_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        claims,
        settings.secret_key,
        algorithm=settings.jwt_algorithm,
        headers={"kid": key_id(settings.secret_key)},
    )
    return token, lifetime


MAX_TOKEN_CHARS = 4096  # ours are about 400; anything much longer is not one of them


def decode(settings: Settings, token: str) -> dict[str, Any]:
    """The verified claims, or Unauthorized: every malformed token (any JSON type in any header field or claim,
    segments that are not base64, absurd sizes) is a refusal, never an error. Only the configured algorithm is
    accepted, and only keys we hold by `kid`."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("The token is malformed.")
    try:
        header = jwt.get_unverified_header(token)
    except Exception as exc:  # python-jose raises more than JWTError on hostile input
        raise Unauthorized("The token is malformed.") from exc
    if not isinstance(header, dict):
        raise Unauthorized("The token is malformed.")
    if header.get("alg") != settings.jwt_algorithm:
        raise Unauthorized("The token's algorithm is not accepted.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise Unauthorized("The token's key id is malformed.")
    keys = {key_id(k): k for k in [settings.secret_key, *settings.previous_secret_keys]}
    secret = keys.get(kid) if kid else settings.secret_key
    if secret is None:
        raise Unauthorized("The token was signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "require_jti": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
                "leeway": 0,
            },
        )
    except Exception as exc:  # a signed claim of the wrong type (`"exp": []`) is a TypeError inside jose
        raise Unauthorized("The token is invalid or expired.") from exc
    if not isinstance(claims, dict):
        raise Unauthorized("The token is malformed.")
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise Unauthorized(f"The token lacks required claims: {', '.join(missing)}.")
    wrong = [name for name, ok in CLAIM_TYPES.items() if name in claims and not ok(claims[name])]
    if wrong:
        raise Unauthorized(f"The token's claims are malformed: {', '.join(wrong)}.")
    return claims


_STATE_KEY = "bearer_claims"  # where a request's decoded token is kept, in the ASGI scope's state


def request_claims(settings: Settings, scope: Scope) -> dict[str, Any]:
    """The verified claims of the request's `Authorization: Bearer` token, or Unauthorized.

    The one place a request's token is decoded: the rate limiter, the idempotency middleware and the principal
    loader all ask here, and the answer (claims or refusal) is kept in the scope so it is worked out once."""
    state = scope.setdefault("state", {})
    if _STATE_KEY not in state:
        try:
            state[_STATE_KEY] = decode(settings, _bearer(scope))
        except Unauthorized as exc:
            state[_STATE_KEY] = exc
    found = state[_STATE_KEY]
    if isinstance(found, Unauthorized):
        raise found
    return found


def request_subject(settings: Settings, scope: Scope) -> str | None:
    """The token's `sub` for the middleware (which only keys counters and stored answers on it), or None."""
    try:
        return str(request_claims(settings, scope)["sub"])
    except Unauthorized:
        return None


def _bearer(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise Unauthorized()
