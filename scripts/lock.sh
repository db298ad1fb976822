#!/usr/bin/env bash
# Regenerate the lock files that every install uses (scripts/_venv.sh, the Dockerfile, CI): exact versions and
# hashes for requirements.txt (runtime: requirements.lock) and requirements-dev.txt (runtime + test tools:
# requirements-dev.lock). Run it after editing a requirements*.txt; versions already locked are kept, pass
# --upgrade (or --upgrade-package NAME) to move them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/uv ]; then
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install -q "$(grep -E '^uv==' requirements-dev.txt)"
fi
common=(--generate-hashes --universal --python-version 3.11 --no-header --quiet "$@")
inputs() { cat "$@" | sha256sum | cut -c1-64; }

write() {  # write LOCK INPUTS... ; the first line records what it was made from (checked by _venv.sh)
  local lock=$1 tmp
  shift
  tmp=$(mktemp)
  {
    echo "# inputs-sha256: $(inputs "$@")  (made by scripts/lock.sh from $*; do not edit)"
    cat
  } >"$tmp"
  mv "$tmp" "$lock"
}

.venv/bin/uv pip compile requirements.txt "${common[@]}" -o requirements.lock
sed -i '/^# inputs-sha256:/d' requirements.lock
write requirements.lock requirements.txt <requirements.lock
.venv/bin/uv pip compile requirements-dev.txt -c requirements.lock "${common[@]}" -o requirements-dev.lock
sed -i '/^# inputs-sha256:/d' requirements-dev.lock
write requirements-dev.lock requirements.txt requirements-dev.txt <requirements-dev.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) packages; requirements-dev.lock: $(grep -c '==' requirements-dev.lock)"
