#!/usr/bin/env bash
# `make openai-compat OPENAI="1.55.3 3.63.0"`: run the reranker's tests (a real local HTTP server speaking
# the OpenAI protocol) against other releases of the openai client, each installed with what it needs
# into a folder put first on PYTHONPATH, over .venv's packages; .venv itself is not changed.
set -uo pipefail
: "${VENV:=.venv}" "${OPENAI:?name the openai versions, e.g. OPENAI=\"1.55.3 2.54.0 3.63.0\"}"
status=0
for version in $OPENAI; do
  overlay="$(mktemp -d)"
  "$VENV/bin/python" -m pip install --quiet --target "$overlay" "openai==$version" 2>&1 | grep -v '^WARNING: Location'
  got="$(PYTHONPATH="$overlay" "$VENV/bin/python" -c 'import openai; print(openai.__version__)' 2>/dev/null)"
  if [ "$got" != "$version" ]; then
    echo "openai $version: could not be installed (imported: ${got:-nothing})"; status=1
  else
    PYTHONPATH="$overlay" "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/reranking >"$overlay.log" 2>&1
    rc=$?
    echo "openai $version: $(tail -n 1 "$overlay.log")"
    [ $rc -eq 0 ] || { status=1; tail -n 30 "$overlay.log"; }
    rm -f "$overlay.log"
  fi
  rm -rf "$overlay"
done
exit $status
