#!/usr/bin/env bash
# `make upgrade`: re-resolve the lock to the newest versions allowed, print what moved, run `make test`
# on them, and keep the new lock only if the tests pass. On failure (or an interruption) the old lock is
# put back and .venv returns to it.
set -euo pipefail
: "${LOCK:=requirements.lock}" "${LOCK_INPUTS:?set by make}" "${LOCK_FLAGS:?set by make}" "${PYTHONS:?set by make}"
: "${VENV:=.venv}"
work="$(mktemp -d)"
cp "$LOCK" "$work/old.lock"
cp environment.yml "$work/old.environment.yml"
cp "$LOCK" "$work/new.lock"
# shellcheck disable=SC2086  # the inputs and flags are word lists
"$VENV/bin/uv" pip compile $LOCK_INPUTS $LOCK_FLAGS --upgrade -o "$work/new.lock"
echo "What moved (package  old -> new):"
"$VENV/bin/python" tools/lockfile.py moved "$work/old.lock" "$work/new.lock" | tee "$work/moved.txt"
if grep -q '^Nothing moved' "$work/moved.txt"; then
  echo "The lock already holds the newest versions allowed."
  rm -rf "$work"
  exit 0
fi

# shellcheck disable=SC2086
"$VENV/bin/python" tools/lockfile.py resolves "$work/new.lock" --uv "$VENV/bin/uv" --python $PYTHONS || {
  echo "The new versions do not install on every supported Python: $LOCK is unchanged." >&2
  rm -rf "$work"
  exit 1
}

kept=0
restore() {
  if [ "$kept" -eq 0 ]; then
    cp "$work/old.lock" "$LOCK"
    cp "$work/old.environment.yml" environment.yml
    echo "The lock is unchanged; bringing .venv back to it." >&2
    make --no-print-directory setup >&2 || true
  fi
  rm -rf "$work"
}
trap restore EXIT
cp "$work/new.lock" "$LOCK"
"$VENV/bin/python" tools/lockfile.py environment "$LOCK" environment.yml  # the tests check the two agree
echo "Running the tests on the new versions (make test)..."
if make --no-print-directory test; then
  kept=1
  echo "The tests passed: $LOCK and environment.yml now hold the new versions above. Commit them."
else
  echo "The tests failed on the new versions: $LOCK keeps the versions that passed." >&2
  exit 1
fi
