# Shared settings and helpers for the dev scripts (sourced, not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${SCORING_RUN_DIR:-$ROOT/.run}"
PG_PORT="${SCORING_PG_PORT:-55432}"
PG_DB="${SCORING_PG_DB:-scoring}"
PG_DIR="$RUN_DIR/pg"
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
