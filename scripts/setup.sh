#!/usr/bin/env bash
# Prepares this machine and .venv/ for kb. Quick when nothing changed, so every script runs
# it first. KB_SETUP_FORCE=1 reinstalls the Python packages even if nothing changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Tools kb needs on PATH, as "command:apt-package"; a missing one is installed with apt-get.
# A new tool is one more line here.
REQUIRED_TOOLS=(
  "java:openjdk-17-jre-headless"
  "mvn:maven"
  "chromium:chromium"
  "npm:npm"
)

log() { echo "setup: $*" >&2; }

install_system_tools() {
  local entry missing=()
  for entry in "${REQUIRED_TOOLS[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
  done
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]}, and there is no apt-get to install them: install them by hand"
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

find_python() {
  local py
  for py in python3 python3.13 python3.12 python3.11; do
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  log "kb needs Python 3.11+; install it (e.g. apt-get install python3) and run this again"
  exit 1
}

install_python_packages() {
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$(find_python)" -m venv .venv
  fi
  # Reinstall only when the dependencies or this script changed.
  local stamp=.venv/.kb-setup-stamp want
  want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
  if [ "${KB_SETUP_FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "installing kb and its test dependencies into .venv"
  .venv/bin/python -m pip install -q -U pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$want" >"$stamp"
}

# A second MLflow, older than kb's, whose stores have another schema: the import tests write
# a store with it to check that kb reads such a store without changing it. Bump the pin when
# kb's own MLflow moves, keeping a version whose database schema head differs from kb's.
OTHER_MLFLOW="mlflow-skinny==3.17.2"
OTHER_MLFLOW_VENV=.venv-mlflow-other

install_other_mlflow() {
  local stamp="$OTHER_MLFLOW_VENV/.kb-setup-stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$OTHER_MLFLOW" ]; then
    return 0
  fi
  log "installing $OTHER_MLFLOW into $OTHER_MLFLOW_VENV (for the MLflow import tests)"
  rm -rf "$OTHER_MLFLOW_VENV"
  "$(find_python)" -m venv "$OTHER_MLFLOW_VENV"
  "$OTHER_MLFLOW_VENV/bin/python" -m pip install -q "$OTHER_MLFLOW" "sqlalchemy>=2,<3" \
    "alembic>=1.13,<2"
  echo "$OTHER_MLFLOW" >"$stamp"
}

# Steps of the project beyond Python (for example npm installs) go here, one line each.
project_steps() {
  install_other_mlflow
  # The GraphQL-over-HTTP conformance audit (npm graphql-http) that the API tests run.
  if [ ! -d graphql/conformance/node_modules/graphql-http ]; then
    log "installing the GraphQL-over-HTTP audit (npm graphql-http)"
    npm install --silent --no-audit --no-fund --prefix graphql/conformance >/dev/null
  fi
  # GraphiQL's scripts, served by kb serve itself (pinned npm packages, into .venv/share/kb).
  .venv/bin/python -m kb.api.graphiql >/dev/null ||
    log "GraphiQL's assets were not fetched; the page will say how (python -m kb.api.graphiql)"
}

install_system_tools
install_python_packages
project_steps
