"""The command line: migrate and seed are idempotent, users and clients can be made, bad config is refused."""

from __future__ import annotations

import os
import subprocess
import sys

from app.config import ROOT
from tests.conftest import create_database


def run(args, env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_seed_twice_changes_nothing_and_bootstraps_once(tmp_path):
    db = create_database("cli")
    try:
        env = {
            "DX_DATABASE_URL": db.url,
            "DX_BOOTSTRAP_ADMIN_USERNAME": "boss",
            "DX_BOOTSTRAP_ADMIN_PASSWORD": "boss-password-1",
        }
        r = run(["migrate"], env)
        assert r.returncode == 0, r.stderr
        first = run(["seed"], env)
        assert first.returncode == 0, first.stderr
        assert "'units': 24" in first.stdout and "'activities': 11" in first.stdout and "'users': 1" in first.stdout
        second = run(["seed"], env)
        assert "'units': 0" in second.stdout and "'activities': 0" in second.stdout and "users" not in second.stdout
        made = run(
            [
                "create-user",
                "--username",
                "ke-toan",
                "--password",
                "ke-toan-pass-1",
                "--role",
                "finance_office",
                "--unit-code",
                "P-TCKH",
            ],
            env,
        )
        assert made.returncode == 0, made.stderr
        client = run(["create-client", "--name", "Hệ thống phường", "--role", "unit", "--unit-code", "PH-ANMY"], env)
        assert client.returncode == 0 and "client_secret=" in client.stdout, client.stderr
        missing = run(
            ["create-user", "--username", "x1", "--password", "x1-pass-123", "--role", "unit", "--unit-code", "NOPE"],
            env,
        )
        assert missing.returncode != 0 and "NOPE" in missing.stderr
    finally:
        db.drop()


def test_outside_development_the_default_secret_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DX_SECRET_KEY"}
    env.update(DX_ENVIRONMENT="production", DX_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    r = subprocess.run(
        [sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode != 0
    assert "DX_SECRET_KEY" in r.stderr
