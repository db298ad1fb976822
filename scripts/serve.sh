#!/usr/bin/env bash
# Serve the API on http://127.0.0.1:8000 (SQLite under ./var unless DX_DATABASE_URL says otherwise).
# Arguments go to `python -m app serve` (--host, --port, --workers).
set -euo pipefail
cd "$(dirname "$0")/.."
DX_LOCK=requirements.lock . scripts/_venv.sh
exec .venv/bin/python -m app serve "$@"
