#!/usr/bin/env bash
# Run the test suite: creates .venv and installs what is missing first.
# DX_TEST_DATABASE=sqlite (default) or postgresql; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
exec .venv/bin/python -m pytest "$@"
