#!/usr/bin/env bash
# Lint, then the unit and integration tests; the test set-up starts a real Neo4j itself.
#   bash scripts/test.sh          the full lane (what CI runs)
#   bash scripts/test.sh --fast   unit tests and quick integration tests: -m "not slow",
#                                 on a test Neo4j under .kb-test/ that stays up for the next
#                                 run (stop it: KB_HOME=.kb-test .venv/bin/kb down)
# Other arguments go to pytest: bash scripts/test.sh --fast -k lineage -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lane=()
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then
    lane=(-m "not slow")
    if [ -z "${KB_NEO4J_URI:-}" ]; then
      export KB_TEST_NEO4J_HOME="${KB_TEST_NEO4J_HOME:-$PWD/.kb-test}"
    fi
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
if [ -n "${KB_TEST_NEO4J_HOME:-}" ]; then
  echo "test.sh: the test Neo4j stays up for the next run; stop it with" \
    "KB_HOME=$KB_TEST_NEO4J_HOME .venv/bin/kb down"
fi
exit "$status"
