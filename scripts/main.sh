#!/usr/bin/env bash
# The main job from a fresh clone: set up, start the local Neo4j, load the demo team
# history, print a few answers, build the knowledge site, then serve the GraphQL API
# until Ctrl-C. KB_MAIN_NO_SERVE=1 stops after the site is built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
kb=.venv/bin/kb

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "local Neo4j"
$kb up

step "demo team history"
$kb demo

step "what is in production, who trained and deployed it?"
$kb prod

step "who trained each version of churn, on which data and code?"
$kb who-trained churn

step "what depends on the raw CRM customer extract?"
$kb impact crm_customers

if $kb docs --help >/dev/null 2>&1; then
  step "knowledge site"
  $kb docs build
fi

if [ "${KB_MAIN_NO_SERVE:-0}" = 1 ]; then
  exit 0
fi
if $kb serve --help >/dev/null 2>&1; then
  step "GraphQL API (Ctrl-C to stop; the local Neo4j keeps running until 'kb down')"
  exec $kb serve
fi
