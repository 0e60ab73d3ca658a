#!/usr/bin/env bash
# `make run`: installs what is missing, starts the embedded infrastructure and the four services as
# separate processes, waits until each is healthy and prints the endpoints. A service that exits is restarted
# (see supervise); Ctrl-C or SIGTERM stops all of it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API_REST_PORT="${SCORING_API_REST_PORT:-5080}"
API_GRPC_PORT="${SCORING_API_GRPC_PORT:-5081}"
INGESTION_PORT="${SCORING_INGESTION_PORT:-5082}"
PROJECTIONS_PORT="${SCORING_PROJECTIONS_PORT:-5083}"
TRACKING_PORT="${SCORING_TRACKING_PORT:-5084}"
SERVICES=(ingestion projections api tracking)
TAIL_PID=""

cleanup() {
  trap - INT TERM EXIT
  # Finish stopping everything even if the terminal or a pipe is gone.
  trap '' PIPE INT
  set +e
  log "stopping..."
  [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
  for svc in tracking api projections ingestion; do "$ROOT/scripts/infra.sh" stop-pidfile "$RUN_DIR/$svc.pid"; done
  "$ROOT/scripts/infra.sh" down
  log "stopped"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The development API key: SCORING_API_KEY if set, else a random key kept in $RUN_DIR/api-key (mode 600) so restarts
# keep it. The Api gets it through its environment with every scope (admin); deploy/ configures hashed keys instead.
dev_api_key() {
  local file="$RUN_DIR/api-key"
  if [ -n "${SCORING_API_KEY:-}" ]; then printf '%s' "$SCORING_API_KEY"; return; fi
  if [ ! -s "$file" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  cat "$file"
}

# Per service: its project, health port and environment, so the supervisor can start it again.
declare -A PROJECT HEALTH_PORT ENVS BACKOFF NEXT_START STARTED_AT HEALTHY

launch() {
  local name="$1" dll="$ROOT/services/${PROJECT[$1]}/bin/$CONFIGURATION/net10.0/ScoringPlatform.${PROJECT[$1]}.dll"
  # shellcheck disable=SC2086 # ENVS holds NAME=value words without spaces
  (cd "$ROOT/services/${PROJECT[$name]}" && exec env ${ENVS[$name]} dotnet "$dll") >>"$RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
  STARTED_AT[$name]=$SECONDS
  HEALTHY[$name]=0
}

start_service() {
  local name="$1" project="$2" health_port="$3"; shift 3
  PROJECT[$name]="$project" HEALTH_PORT[$name]="$health_port" ENVS[$name]="$*" BACKOFF[$name]=1 NEXT_START[$name]=0
  "$ROOT/scripts/infra.sh" stop-pidfile "$RUN_DIR/$name.pid"
  port_free "$health_port" || die "port $health_port (for $name) is in use; set SCORING_${name^^}_PORT or free it"
  : >"$RUN_DIR/logs/$name.log"
  launch "$name"
  if ! wait_for "curl -fsS http://127.0.0.1:$health_port/health/ready" 90; then
    tail -n 40 "$RUN_DIR/logs/$name.log" >&2
    die "$name did not become healthy (log: $RUN_DIR/logs/$name.log)"
  fi
  HEALTHY[$name]=1
  log "$name is healthy"
}

# One pass of the supervisor. A service that exits is started again after a backoff (1 s doubling to 30 s,
# back to 1 s once it has stayed up for a minute); the broker and PostgreSQL stay up meanwhile, because the
# dev broker keeps messages in memory only and tearing it down would lose unconsumed events.
supervise() {
  local svc pid code
  for svc in "${SERVICES[@]}"; do
    pid="$(cat "$RUN_DIR/$svc.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      if [ "${HEALTHY[$svc]}" -eq 0 ] && curl -fsS "http://127.0.0.1:${HEALTH_PORT[$svc]}/health/ready" >/dev/null 2>&1; then
        HEALTHY[$svc]=1
        log "$svc is healthy again"
      fi
      if [ $((SECONDS - STARTED_AT[$svc])) -ge 60 ]; then BACKOFF[$svc]=1; fi
    elif [ -n "$pid" ]; then
      code=0; wait "$pid" 2>/dev/null || code=$?
      rm -f "$RUN_DIR/$svc.pid"
      NEXT_START[$svc]=$((SECONDS + BACKOFF[$svc]))
      log "$svc exited unexpectedly (exit code $code, log: $RUN_DIR/logs/$svc.log); restarting in ${BACKOFF[$svc]} s"
      BACKOFF[$svc]=$((BACKOFF[$svc] * 2 > 30 ? 30 : BACKOFF[$svc] * 2))
    elif [ "$SECONDS" -ge "${NEXT_START[$svc]}" ]; then
      launch "$svc"
      log "$svc restarted (pid $(cat "$RUN_DIR/$svc.pid"))"
    fi
  done
  return 0
}

main() {
  command -v curl >/dev/null || { log "installing curl"; apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
  trap 'cleanup; exit 0' INT TERM
  trap cleanup EXIT
  mkdir -p "$RUN_DIR/logs"
  log "building (dotnet restore + build, $CONFIGURATION)"
  dotnet build "$ROOT/ScoringPlatform.sln" -c "$CONFIGURATION" -v quiet -nologo >"$RUN_DIR/logs/build.log" 2>&1 \
    || { tail -n 40 "$RUN_DIR/logs/build.log" >&2; die "build failed (log: $RUN_DIR/logs/build.log)"; }
  # Fixed, printable broker ports for the embedded default (the dev broker relays them to the mock cluster).
  export SCORING_KAFKA_PORT_BASE="${SCORING_KAFKA_PORT_BASE:-19092}"
  "$ROOT/scripts/infra.sh" up
  # shellcheck disable=SC1091
  source "$RUN_DIR/infra.env"
  export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
  API_KEY="$(dev_api_key)"
  case "$API_KEY" in *[!A-Za-z0-9._~-]*|'') die "SCORING_API_KEY may hold only letters, digits and . _ ~ -" ;; esac

  # Ingestion owns the event store schema (applies it on start); the others wait for it, as in deploy/k8s.
  start_service ingestion Ingestion "$INGESTION_PORT" "Kestrel__Endpoints__Health__Url=http://127.0.0.1:$INGESTION_PORT"
  start_service projections Projections "$PROJECTIONS_PORT" "Kestrel__Endpoints__Health__Url=http://127.0.0.1:$PROJECTIONS_PORT" \
    "EventStore__ApplySchemaOnStart=false"
  start_service api Api "$API_REST_PORT" "Kestrel__Endpoints__Rest__Url=http://127.0.0.1:$API_REST_PORT" \
    "Kestrel__Endpoints__Grpc__Url=http://127.0.0.1:$API_GRPC_PORT" "EventStore__ApplySchemaOnStart=false" \
    "Auth__ApiKeys__0__Name=dev" "Auth__ApiKeys__0__Key=$API_KEY" "Auth__ApiKeys__0__Scopes__0=admin"

  # The tracking endpoint's dev write key: random per checkout, kept with the other run state.
  local write_key_file="$RUN_DIR/tracking.writekey" write_key
  [ -s "$write_key_file" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$write_key_file")
  write_key="$(cat "$write_key_file")"
  start_service tracking Tracking "$TRACKING_PORT" "Kestrel__Endpoints__Http__Url=http://127.0.0.1:$TRACKING_PORT" \
    "Tracking__Sources__0__Name=website" "Tracking__Sources__0__WriteKey=$write_key"

  cat <<INFO

  ScoringPlatform is up (Ctrl-C stops everything):
    gRPC (HTTP/2)     127.0.0.1:$API_GRPC_PORT   services scoringplatform.v1.LeadScoring, SalesFeedback, LeadQueries (reflection + grpc.health.v1 on)
    REST              http://127.0.0.1:$API_REST_PORT/v1/leads/{leadId}/verdict, POST /v1/leads/{leadId}/feedback, /v1/leads, /v1/leads/{leadId}/timeline
    Swagger UI        http://127.0.0.1:$API_REST_PORT/swagger   (Authorize: paste the API key)
    API key (dev)     $API_KEY   (every scope; kept in $RUN_DIR/api-key)
    Tracking (Segment HTTP API)  http://127.0.0.1:$TRACKING_PORT/v1/{track,page,identify,alias,batch}   source 'website', write key $write_key (also in $write_key_file)
      curl -s -u '$write_key:' http://127.0.0.1:$TRACKING_PORT/v1/track -H 'content-type: application/json' \\
        -d '{"userId":"lead-42","event":"Demo Requested","messageId":"demo-1"}'
    Health            http://127.0.0.1:{$API_REST_PORT,$INGESTION_PORT,$PROJECTIONS_PORT,$TRACKING_PORT}/health/ready
    Kafka bootstrap   $Kafka__BootstrapServers   (also in $KAFKA_BOOTSTRAP_FILE)
    PostgreSQL        $ConnectionStrings__EventStore
    Logs              $RUN_DIR/logs/

  Every gRPC and REST call needs the key (health, Swagger and grpc.health.v1 do not):
    curl -s -H 'Authorization: Bearer $API_KEY' http://127.0.0.1:$API_REST_PORT/v1/leads/lead-42/verdict
    grpcurl -plaintext -H 'authorization: Bearer $API_KEY' -d '{"lead_id":"lead-42"}' 127.0.0.1:$API_GRPC_PORT scoringplatform.v1.LeadScoring/GetVerdict

INFO
  tail -n 0 -F "$RUN_DIR"/logs/{ingestion,projections,api,tracking}.log &
  TAIL_PID=$!
  while true; do
    supervise
    sleep 1
  done
}

main "$@"
