#!/usr/bin/env bash
# Embedded infrastructure: the project PostgreSQL cluster and the Kafka-protocol dev broker.
# Usage: scripts/infra.sh up|down   (up writes .run/infra.env with the connection settings)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BROKER_DLL="$ROOT/tools/DevBroker/bin/$CONFIGURATION/net10.0/DevBroker.dll"

broker_up() {
  stop_pidfile "$RUN_DIR/broker.pid"
  rm -f "$KAFKA_BOOTSTRAP_FILE"
  [ -f "$BROKER_DLL" ] || dotnet build "$ROOT/tools/DevBroker" -c "$CONFIGURATION" -v quiet -nologo >/dev/null
  mkdir -p "$RUN_DIR/logs"
  nohup dotnet "$BROKER_DLL" --brokers 3 \
    --topics "${SCORING_KAFKA_TOPICS:-engagement-events:6,engagement-events-dlq:3,lead-lifecycle:6}" \
    --bootstrap-file "$KAFKA_BOOTSTRAP_FILE" ${SCORING_KAFKA_PORT_BASE:+--port-base "$SCORING_KAFKA_PORT_BASE"} \
    ${SCORING_KAFKA_TRIM_GROUPS:+--trim-committed-by "$SCORING_KAFKA_TRIM_GROUPS"} \
    >"$RUN_DIR/logs/broker.log" 2>&1 &
  echo $! >"$RUN_DIR/broker.pid"
  wait_for "test -s '$KAFKA_BOOTSTRAP_FILE'" 60 || { cat "$RUN_DIR/logs/broker.log" >&2; die "the dev broker did not start"; }
  log "Kafka-protocol dev broker on $(cat "$KAFKA_BOOTSTRAP_FILE")"
}

# Stops the process in a pid file (SIGTERM, then SIGKILL after 15 s) and removes the file.
stop_pidfile() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

up() {
  mkdir -p "$RUN_DIR"
  "$ROOT/scripts/pg.sh" start
  broker_up
  cat >"$RUN_DIR/infra.env" <<ENV
export ConnectionStrings__EventStore='$(pg_connection_string)'
export Kafka__BootstrapServers='$(cat "$KAFKA_BOOTSTRAP_FILE")'
ENV
}

down() {
  stop_pidfile "$RUN_DIR/broker.pid"
  rm -f "$KAFKA_BOOTSTRAP_FILE" "$RUN_DIR/infra.env"
  "$ROOT/scripts/pg.sh" stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  stop-pidfile) stop_pidfile "$2" ;;
  *) die "usage: $0 up|down" ;;
esac
