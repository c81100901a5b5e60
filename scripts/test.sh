#!/usr/bin/env bash
# Lint, then the unit and integration tests; the test set-up starts a real Neo4j itself.
#   bash scripts/test.sh          the full lane (what CI runs)
#   bash scripts/test.sh --fast   unit tests and quick integration tests: -m "not slow"
# Other arguments go to pytest: bash scripts/test.sh --fast -k lineage -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lane=()
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then
    lane=(-m "not slow")
  else
    args+=("$arg")
  fi
done

bash scripts/setup.sh

paths=()
for p in kb docs_gen tests bench; do
  [ -e "$p" ] && paths+=("$p")
done
.venv/bin/ruff check "${paths[@]}"

status=0
.venv/bin/python -m pytest -q "${lane[@]}" "${args[@]}" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
