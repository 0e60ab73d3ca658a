#!/usr/bin/env bash
# `make bench`: measures the real platform on this machine (ingest, projection, verdict latency, freshness,
# memory), each figure beside a baseline measured in the same run. Prints a table and appends it to
# .run/bench/results.md; docs/benchmarks.md records curated runs. Sizes: BENCH_EVENTS, BENCH_LEADS; BENCH_SOAK_SECONDS (live-projection soak at 1k events/s, default 60);
# BENCH_VERDICT_RATES (GetVerdict open-loop rates, default 1000,5000,10000,20000,30000: the empty handler saturated between
# 15k and 30k here in different runs, which is its capacity); BENCH_FRESHNESS_SECONDS (probes, default 30) after BENCH_FRESHNESS_WARMUP_SECONDS of background load (default 10: the
# services were just started), then once the live projection has kept within 300 ms of the store for 5 s (the report says when).
# A full run drops its schema at the end (BENCH_KEEP_SCHEMA=1 keeps it, for PlatformBench's --catch-up-only, --soak-only
# and --rebuild-only); BENCH_ARGS=--ingest-only stops after the ingest and keeps it.
# Its own run directory (SCORING_BENCH_RUN_DIR, default .run/bench), never an inherited SCORING_RUN_DIR (a `make run`'s).
export SCORING_RUN_DIR="${SCORING_BENCH_RUN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run/bench}"
export SCORING_PG_PORT="${SCORING_BENCH_PG_PORT:-55435}"
export SCORING_KAFKA_TOPICS="engagement-events:6,engagement-events-dlq:3,lead-lifecycle:6,bench-engagement:6"
# The dev broker deletes what Ingestion's group (bench-ingestion, see PlatformBench's Platform.cs) has committed
# (tools/DevBroker/LogTrimmer.cs): the mock walks a partition's log from its start on every fetch, and at the soak's
# 1,000 small messages/s that walk took 0.7 of the two cores, 92 % of the broker's samples, which a real broker's offset
# index does not cost. SCORING_KAFKA_TRIM_GROUPS= keeps everything.
export SCORING_KAFKA_TRIM_GROUPS="${SCORING_KAFKA_TRIM_GROUPS-bench-ingestion}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_and_start_infra Release

RESULTS="$RUN_DIR/results.md"
{
  echo "## make bench, $(date -u '+%Y-%m-%d %H:%M') UTC"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version), PostgreSQL $(psql --version | awk '{print $3}'), librdkafka mock cluster (3 brokers)."
} >>"$RESULTS"

dotnet "$ROOT/tests/Benchmarks/PlatformBench/bin/Release/net10.0/PlatformBench.dll" \
  --events "${BENCH_EVENTS:-1000000}" --leads "${BENCH_LEADS:-100000}" --baseline-events "${BENCH_BASELINE_EVENTS:-200000}" \
  --freshness-seconds "${BENCH_FRESHNESS_SECONDS:-30}" --freshness-warmup-seconds "${BENCH_FRESHNESS_WARMUP_SECONDS:-10}" --soak-seconds "${BENCH_SOAK_SECONDS:-60}" --output "$RESULTS" \
  --verdict-load "$ROOT/tests/Benchmarks/VerdictLoad/bin/Release/net10.0/VerdictLoad.dll" \
  --verdict-rates "${BENCH_VERDICT_RATES:-1000,5000,10000,20000,30000}" ${BENCH_ARGS:-}
log "results appended to $RESULTS"
