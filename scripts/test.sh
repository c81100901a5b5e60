#!/usr/bin/env bash
# Lint, then the unit and integration tests; the test set-up starts a real Neo4j itself.
# Arguments go to pytest: bash scripts/test.sh -k lineage -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

paths=()
for p in kb docs_gen tests bench; do
  [ -e "$p" ] && paths+=("$p")
done
.venv/bin/ruff check "${paths[@]}"

status=0
.venv/bin/python -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
