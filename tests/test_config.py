"""The signing key (issue 12): no key published with the code ever signs a token."""

from __future__ import annotations

import stat
import time

import pytest
from jose import jwt
from pydantic import ValidationError

from app.auth import tokens
from app.config import PUBLISHED_SECRETS, Settings
from app.errors import Unauthorized


@pytest.fixture()
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("DX_SECRET_KEY", raising=False)
    monkeypatch.setenv("DX_SECRET_KEY_FILE", str(tmp_path / "var" / "secret_key"))
    return tmp_path / "var" / "secret_key"


def test_development_without_a_key_makes_a_random_one_kept_owner_only(no_key):
    first = Settings(environment="development")
    assert first.secret_key not in PUBLISHED_SECRETS and len(first.secret_key) >= 40
    assert no_key.is_file(), "the development key was not kept under ./var/"
    assert stat.S_IMODE(no_key.stat().st_mode) == 0o600
    token, _ = tokens.issue(first, sub="user:1", role="lead_office", unit_id=2)
    restarted = Settings(environment="development")
    assert restarted.secret_key == first.secret_key, "a restart would log everyone out"
    assert tokens.decode(restarted, token)["sub"] == "user:1"


def test_a_token_signed_with_the_published_key_is_refused_in_development(no_key):
    settings = Settings(environment="development")
    for published in PUBLISHED_SECRETS:
        now = int(time.time())
        claims = {"sub": "user:1", "role": "lead_office", "unit_id": 2, "jti": "forged", "iat": now, "exp": now + 60}
        claims |= {"iss": settings.jwt_issuer, "aud": settings.jwt_audience}
        forged = jwt.encode(claims, published, algorithm="HS256")
        with pytest.raises(Unauthorized):
            tokens.decode(settings, forged)


def test_a_key_file_others_can_read_is_refused(no_key):
    Settings(environment="development")
    no_key.chmod(0o644)
    with pytest.raises(ValidationError, match="readable by others"):
        Settings(environment="development")


@pytest.mark.parametrize("environment", ["production", "staging", "test"])
def test_outside_development_a_missing_or_published_key_is_refused_at_start(no_key, environment):
    with pytest.raises(ValidationError, match="DX_SECRET_KEY must be set"):
        Settings(environment=environment)
    for published in PUBLISHED_SECRETS:
        with pytest.raises(ValidationError, match="published"):
            Settings(environment=environment, secret_key=published)
    assert not no_key.exists(), "a key file was made outside development"
    assert Settings(environment=environment, secret_key="a-key-of-our-own-123").secret_key == "a-key-of-our-own-123"
