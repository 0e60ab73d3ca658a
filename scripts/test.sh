#!/usr/bin/env bash
# `make test`: builds, starts the embedded infrastructure (its own PostgreSQL cluster and dev broker,
# on a separate run directory and port so a running `make run` is not disturbed), runs every test
# project (unit, integration, end-to-end) and stops what it started. Its run directory is SCORING_TEST_RUN_DIR
# (default .run/test), never an inherited SCORING_RUN_DIR: that one may be a running `make run`'s, whose broker this
# script would stop at the end.
export SCORING_RUN_DIR="${SCORING_TEST_RUN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run/test}"
export SCORING_PG_PORT="${SCORING_TEST_PG_PORT:-55433}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_and_start_infra "$CONFIGURATION"

# The Tracking interop test drives the official npm client (@segment/analytics-node), installed from the lock file.
command -v npm >/dev/null || die "npm (node 20+) is required by tests/Tracking.Tests/interop"
log "installing the npm interop client (npm ci)"
npm ci --prefix "$ROOT/tests/Tracking.Tests/interop" --no-audit --no-fund --loglevel=error >/dev/null

status=0
failed_projects=()
mkdir -p "$RUN_DIR/results"
for project in "$ROOT"/tests/*Tests/*.csproj; do
  case "$project" in *Benchmarks*) continue ;; esac
  name="$(basename "$project" .csproj)"
  log "testing $name"
  rc=0
  dotnet test "$project" -c "$CONFIGURATION" --no-build -nologo \
    --logger "console;verbosity=normal" --results-directory "$RUN_DIR/results" ${TEST_FILTER:+--filter "$TEST_FILTER"} \
    2>&1 | tee "$RUN_DIR/results/$name.log" || rc=$?
  [ "$rc" -eq 0 ] || { status=1; failed_projects+=("$name"); }
done

# CI shows the end of the output: repeat what failed there, each failure with its message and the top of its stack.
if [ "$status" -ne 0 ]; then
  log "FAILED projects: ${failed_projects[*]}"
  for name in "${failed_projects[@]}"; do
    log "--- $name (full output: $RUN_DIR/results/$name.log)"
    grep -E -A 14 '^\s+Failed [A-Za-z]|Test Run Aborted|active test run was aborted|Test host process crashed' \
      "$RUN_DIR/results/$name.log" | head -n 120 >&2 || true
    grep -E '^\s+(Total tests|Passed|Failed|Skipped):' "$RUN_DIR/results/$name.log" >&2 || true
  done
fi
exit $status
