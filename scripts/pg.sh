#!/usr/bin/env bash
# Project-owned PostgreSQL cluster for the embedded defaults: 127.0.0.1:$SCORING_PG_PORT (55432), trust auth.
# Data, socket and log in .run/pg (as root: a link to a postgres-owned directory outside the checkout, see lib.sh).
# Usage: scripts/pg.sh start|stop|stop-immediate|status|clean
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_pg() {
  [ -n "$(pg_bin)" ] && return
  log "PostgreSQL not found: installing it from Debian packages (apt-get)"
  command -v apt-get >/dev/null || die "PostgreSQL is missing and apt-get is not available; install PostgreSQL 15+"
  [ "$(id -u)" -eq 0 ] || die "installing PostgreSQL needs root (apt-get); or install it yourself"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # The Debian package starts its own cluster on 5432; the project's cluster does not need it.
  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --force "$(ls /usr/lib/postgresql | sort -V | tail -n1)" main stop 2>/dev/null || true
}

# initdb refuses to run as root: when root, run the server as the 'postgres' user.
as_pg() {
  # From /, so that 'postgres' is not left in a working directory it cannot enter.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start() {
  install_pg
  local bin; bin="$(pg_bin)"
  mkdir -p "$RUN_DIR"
  if [ "$PG_DIR" != "$RUN_DIR/pg" ]; then
    # Parents stay root-owned and enterable; the cluster's own directory is postgres-only.
    mkdir -p "$(dirname "$(dirname "$PG_DIR")")" && chmod 755 "$(dirname "$(dirname "$PG_DIR")")"
    install -d -m 700 -o postgres -g postgres "$(dirname "$PG_DIR")" "$PG_DIR"
    ln -sfn "$PG_DIR" "$RUN_DIR/pg"
  fi
  if [ ! -s "$PG_DIR/data/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $PG_DIR"
    mkdir -p "$PG_DIR/data"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$PG_DIR"; chmod 700 "$PG_DIR" "$PG_DIR/data"; fi
    as_pg "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
  fi
  if as_pg "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    # The port on the command line wins over the one written at initdb, so SCORING_PG_PORT can change later. So do
    # the WAL settings, which every start applies (clusters made before them included): at the defaults (1 GB, 5 min)
    # the bench's ingest and rebuilds forced a checkpoint every 19-27 s ("checkpoints are occurring too frequently"),
    # each followed by full-page images in the WAL; lz4 compresses those images. Autovacuum runs of a second or more
    # are logged, to line up with a slow stretch of the projection. shared_buffers (SCORING_PG_SHARED_BUFFERS, 2GB;
    # the value at initdb was 256MB) holds the score views, which every event rewrites: with 256MB the 30-minute soak's
    # 1 GB of views was read from the OS cache by every autovacuum pass (16-41 s a pass, once a minute), and with 2GB
    # from shared memory (2-10 s); the projection's worst gap fell from 1.4 to 0.8 s (docs/benchmarks.md, twelfth
    # session). PostgreSQL touches the memory only as it fills it.
    as_pg "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
      -o "-p $PG_PORT -c shared_buffers=${SCORING_PG_SHARED_BUFFERS:-2GB} -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=lz4 -c log_autovacuum_min_duration=1s" -w -t 60 start >/dev/null \
      || { tail -n 20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start (log: $PG_DIR/server.log)"; }
    log "PostgreSQL started on 127.0.0.1:$PG_PORT"
  fi
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$PG_DB'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database $PG_DB" >/dev/null
  fi
}

stop() {
  local bin; bin="$(pg_bin)"
  [ -n "$bin" ] && [ -d "$PG_DIR/data" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    log "PostgreSQL stopped"
  fi
}

# `make clean`: stops and removes every cluster of this checkout's .run (and of $RUN_DIR), including the
# ones the .run/**/pg links point to outside the checkout.
clean() {
  local bin link dir; bin="$(pg_bin)"
  for link in "$RUN_DIR/pg" $(find "$ROOT/.run" -name pg -type l 2>/dev/null); do
    [ -L "$link" ] || continue
    dir="$(readlink "$link")"
    case "$dir" in "$PG_HOME"/?*/pg) ;; *) continue ;; esac
    if [ -n "$bin" ] && [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$(dirname "$dir")" "$link"
    log "removed PostgreSQL cluster $dir"
  done
}

# Fault injection: stop without a checkpoint (like a power cut); the next start runs crash recovery.
stop_immediate() {
  as_pg "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
  log "PostgreSQL stopped (immediate)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  stop-immediate) stop_immediate ;;
  status) as_pg "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" status ;;
  clean) clean ;;
  *) die "usage: $0 start|stop|stop-immediate|status|clean" ;;
esac
