#!/usr/bin/env bash
# Idempotent: install system Chromium (apt) and Python Playwright (into the venv) only if missing.
# Playwright's own browser download is NOT used (no internet except PyPI/Debian/npm); we drive /usr/bin/chromium.
# Usage: VENV=.venv tests/browser/setup_browser.sh   (make test runs it; the browser tests' fixture too)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"


t() { local s=$SECONDS; "$@"; echo "[setup_browser] '$*' took $((SECONDS - s)) s" >&2; }

install_chromium() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  command -v apt-get >/dev/null || { echo "[setup_browser] no apt-get: install Chromium yourself and set MMRAG_CHROMIUM" >&2; return 1; }
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
}

install_playwright() {  # the version in the lock, like everything else in the venv
  "$PY" "$ROOT/tools/lockfile.py" sync "$ROOT/requirements.lock" --project "$ROOT"
}

if [ -n "${MMRAG_CHROMIUM:-}" ] && [ -x "$MMRAG_CHROMIUM" ]; then
  echo "[setup_browser] using MMRAG_CHROMIUM=$MMRAG_CHROMIUM" >&2
elif [ -x /usr/bin/chromium ]; then
  echo "[setup_browser] chromium present: $(/usr/bin/chromium --version 2>/dev/null)" >&2
else
  t install_chromium
  echo "[setup_browser] installed: $(/usr/bin/chromium --version 2>/dev/null)" >&2
fi

if [ ! -x "$PY" ]; then
  echo "[setup_browser] no venv python at $PY (run 'make setup' first)" >&2; exit 1
fi
if "$PY" -c "import playwright" 2>/dev/null; then
  echo "[setup_browser] playwright present: $("$PY" -m pip show playwright 2>/dev/null | sed -n 's/^Version: //p')" >&2
else
  t install_playwright
  echo "[setup_browser] installed playwright $("$PY" -m pip show playwright | sed -n 's/^Version: //p')" >&2
fi
