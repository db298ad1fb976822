"""Every malformed bearer token is a 401 (issue 12): each JSON type in each header field and claim, segments
that are not base64, huge tokens; on a read, on a keyed POST (seen by the idempotency middleware first) and on
a malformed body (whose 401 is worked out before the 422)."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.auth.test_auth import _claims, _sign

pytestmark = pytest.mark.slow  # the everyday samples are in test_auth.py's BAD_TOKENS

JSON_VALUES = {
    "null": None,
    "true": True,
    "int": 7,
    "float": 1.5,
    "huge int": 10**40,
    "string": "x",
    "empty string": "",
    "list": ["a"],
    "empty list": [],
    "object": {"a": 1},
    "empty object": {},
}


# claims of the right type (a past iat or nbf, any jti): not malformed; the role comes from the database
WELL_FORMED = {("iat", "int"), ("nbf", "int"), ("jti", "string"), ("role", "string"), ("unit_id", "int")}


def _b64(raw: bytes | object) -> str:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _with_header(header: object) -> str:
    """A token whose header is `header` and whose payload and signature are a good token's."""
    _, payload, signature = _sign(_claims()).split(".")
    return f"{_b64(header)}.{payload}.{signature}"


def _cases() -> dict[str, str]:
    cases: dict[str, str] = {}
    for field in ("kid", "alg", "typ", "crit", "cty"):
        for name, value in JSON_VALUES.items():
            header = {"alg": "HS256", "typ": "JWT", field: value}
            cases[f"header {field}={name}"] = _with_header(header)
    for name, value in {"list": ["HS256"], "array": [1, 2], "string": "HS256", "number": 3}.items():
        cases[f"header is a {name}"] = _with_header(value)
    for claim in ("sub", "exp", "iat", "nbf", "aud", "iss", "jti", "role", "unit_id"):
        for name, value in JSON_VALUES.items():
            if value is not None and (claim, name) not in WELL_FORMED:
                cases[f"signed claim {claim}={name}"] = _sign(_claims(**{claim: value}))
    good = _sign(_claims())
    head, payload, signature = good.split(".")
    not_utf8 = _b64(bytes([0xFF, 0xFE, 0xFD]))
    cases |= {
        "not base64 header": f"%%%.{payload}.{signature}",
        "not base64 payload": f"{head}.@@@@.{signature}",
        "not base64 signature": f"{head}.{payload}.!!!",
        "header not UTF-8": f"{not_utf8}.{payload}.{signature}",
        "payload not JSON": f"{head}.{_b64(b'not json')}.{signature}",
        "two segments": f"{head}.{payload}",
        "four segments": f"{good}.{signature}",
        "empty segments": "..",
        "dots only": "....",
        "huge token": good + "A" * 200_000,
        "huge header": _with_header({"alg": "HS256", "kid": "k" * 50_000}),
        "deeply nested header": f"{_b64(('[' * 100_000 + ']' * 100_000).encode())}.{payload}.{signature}",
    }
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_malformed_token_is_a_401_and_never_a_traceback(world, case, caplog):
    auth = {"Authorization": f"Bearer {CASES[case]}"}
    with caplog.at_level(logging.ERROR):
        me = world.client.get("/api/v1/auth/me", headers=auth)
        keyed = world.client.post(
            "/api/v1/units", json={"code": "X"}, headers={**auth, "Idempotency-Key": f"fuzz-{case}"}
        )
        malformed = world.client.post(
            "/api/v1/units", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
        )
    for what, r in (("GET /auth/me", me), ("keyed POST", keyed), ("malformed body", malformed)):
        assert r.status_code == 401, f"{case}: {what} answered {r.status_code} {r.text[:200]}"
        assert r.headers["www-authenticate"] == "Bearer", f"{case}: {what}"
    assert not [rec for rec in caplog.records if rec.exc_info], f"{case}: a traceback was logged"
