#!/usr/bin/env bash
# `make test`: builds, starts the embedded infrastructure (its own PostgreSQL cluster and dev broker,
# on a separate run directory and port so a running `make run` is not disturbed), runs every test
# project (unit, integration, end-to-end) and stops what it started.
export SCORING_RUN_DIR="${SCORING_RUN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run/test}"
export SCORING_PG_PORT="${SCORING_TEST_PG_PORT:-55433}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_and_start_infra "$CONFIGURATION"

# The Tracking interop test drives the official npm client (@segment/analytics-node), installed from the lock file.
command -v npm >/dev/null || die "npm (node 20+) is required by tests/Tracking.Tests/interop"
log "installing the npm interop client (npm ci)"
npm ci --prefix "$ROOT/tests/Tracking.Tests/interop" --no-audit --no-fund --loglevel=error >/dev/null

status=0
for project in "$ROOT"/tests/*Tests/*.csproj; do
  case "$project" in *Benchmarks*) continue ;; esac
  log "testing $(basename "$project" .csproj)"
  dotnet test "$project" -c "$CONFIGURATION" --no-build -nologo \
    --logger "console;verbosity=normal" --results-directory "$RUN_DIR/results" ${TEST_FILTER:+--filter "$TEST_FILTER"} || status=1
done
exit $status
