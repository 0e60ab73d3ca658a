# Shared settings and helpers for the dev scripts (sourced, not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${SCORING_RUN_DIR:-$ROOT/.run}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
PG_PORT="${SCORING_PG_PORT:-55432}"
PG_DB="${SCORING_PG_DB:-scoring}"
# As root the server runs as 'postgres' (initdb refuses root), and 'postgres' may not be able to enter the
# checkout (e.g. a clone in root's mode-700 home). So its data directory, socket and log live outside the
# checkout, in a postgres-owned directory keyed by the run directory; $RUN_DIR/pg is a symlink to it.
# A cluster an earlier version initialised inside the run directory (a real directory, not the link) is kept.
PG_HOME="${SCORING_PG_HOME:-/var/tmp/scoring-platform}"
if [ "$(id -u)" -eq 0 ] && ! [ -d "$RUN_DIR/pg/data" -a ! -L "$RUN_DIR/pg" ]; then
  PG_DIR="$PG_HOME/$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)/pg"
else
  PG_DIR="$RUN_DIR/pg"
fi
PG_BIN="${SCORING_PG_BIN:-}"
KAFKA_BOOTSTRAP_FILE="$RUN_DIR/kafka.bootstrap"
CONFIGURATION="${CONFIGURATION:-Release}"

log() { printf '\033[1;34m[scoring]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[scoring] error:\033[0m %s\n' "$*" >&2; exit 1; }

pg_bin() {
  if [ -n "$PG_BIN" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && echo "$d"
}

pg_connection_string() {
  echo "Host=127.0.0.1;Port=$PG_PORT;Database=$PG_DB;Username=postgres;Pooling=true;Maximum Pool Size=50"
}

# Waits until "$1" (a command) succeeds, up to $2 seconds.
wait_for() {
  local cmd="$1" timeout="${2:-60}" waited=0
  until eval "$cmd" >/dev/null 2>&1; do
    sleep 0.5; waited=$((waited + 1))
    [ "$waited" -ge $((timeout * 2)) ] && return 1
  done
  return 0
}

# Builds the solution, starts PostgreSQL and the dev broker (stopped again on exit) and exports the
# settings the test and benchmark programs read (SCORING_TEST_PG, SCORING_TEST_KAFKA, SCORING_CONFIGURATION).
build_and_start_infra() {
  local configuration="$1"
  trap '"$ROOT/scripts/infra.sh" down || true' EXIT INT TERM
  mkdir -p "$RUN_DIR/logs"
  log "building ($configuration)"
  dotnet build "$ROOT/ScoringPlatform.sln" -c "$configuration" -v quiet -nologo
  "$ROOT/scripts/infra.sh" up
  # shellcheck disable=SC1091
  source "$RUN_DIR/infra.env"
  export SCORING_TEST_PG="$ConnectionStrings__EventStore" SCORING_TEST_KAFKA="$Kafka__BootstrapServers"
  export SCORING_CONFIGURATION="$configuration"
}
