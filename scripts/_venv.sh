# Sourced by serve.sh (DX_LOCK=requirements.lock: the runtime alone), test.sh and .ci/run
# (requirements-dev.lock: runtime and test tools): make .venv and install the lock when it changed.
# The locks hold exact versions and hashes (scripts/lock.sh makes them from requirements*.txt); a
# requirements file edited since its lock was made stops here rather than installing something else.
PY=${PYTHON:-python3}
DX_LOCK=${DX_LOCK:-requirements-dev.lock}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
case "$DX_LOCK" in
  requirements.lock) _inputs=(requirements.txt) ;;
  *) _inputs=(requirements.txt requirements-dev.txt) ;;
esac
_want=$(cat "${_inputs[@]}" | sha256sum | cut -c1-64)
if ! head -n 1 "$DX_LOCK" | grep -q "^# inputs-sha256: $_want "; then
  echo "$DX_LOCK is out of date: ${_inputs[*]} changed since it was made. Run scripts/lock.sh and commit the locks." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
_stamp=".venv/.deps-${DX_LOCK%.lock}-$(sha256sum "$DX_LOCK" | cut -c1-16)"
if [ ! -f "$_stamp" ]; then
  .venv/bin/python -m pip install -q --require-hashes -r "$DX_LOCK"
  rm -f ".venv/.deps-${DX_LOCK%.lock}-"* && touch "$_stamp"
fi
