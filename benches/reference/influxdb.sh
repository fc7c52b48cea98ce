#!/usr/bin/env bash
# Reference numbers for wispmon's fleet benchmark: the same data set loaded into InfluxDB
# 1.6.7 (Debian's `influxdb` package), run by hand on loopback ports, no systemd.
#
#   benches/reference/influxdb.sh [--devices N] [--days D] [--batch-devices B]
#                                 [--parallel K] [--runs R] [--jitter-ms MS] [--keep]
#
# Measures: ingest rate (1 sequential client, then K parallel clients on a fresh server),
# on-disk bytes per field value right after the load and after a restart + full compaction,
# latency of a 365-day GROUP BY time(7d) mean on one series, and influxd's RSS.
# Needs root for `apt-get install` only if influxd is missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
HELPER="$HERE/influx_bench.py"
LOADER="$REPO/target/release/wispmon-load"

DEVICES=10000
DAYS=1
BATCH=200
PARALLEL=2
RUNS=20
KEEP=0
EMIT_EXTRA=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --devices) DEVICES=$2; shift 2 ;;
        --days) DAYS=$2; shift 2 ;;
        --batch-devices) BATCH=$2; shift 2 ;;
        --parallel) PARALLEL=$2; shift 2 ;;   # 0 or 1 skips the parallel-client load
        --runs) RUNS=$2; shift 2 ;;
        --jitter-ms) EMIT_EXTRA+=(--jitter-ms "$2"); shift 2 ;;   # passed to emit-lp
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- 1. the reference and the generator --------------------------------------------------
if ! command -v influxd >/dev/null; then
    log "installing Debian's influxdb"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb >/dev/null
fi
INFLUX_VERSION=$(influxd version 2>/dev/null | head -1)
INFLUX_PKG=$(dpkg-query -W -f='${Version}' influxdb 2>/dev/null || echo unknown)
if [[ ! -x "$LOADER" ]]; then
    log "building wispmon-load"
    (cd "$REPO" && cargo build --release --bin wispmon-load)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wispmon-influx-ref.XXXXXX")
INFLUXD_PID=""
cleanup() {
    if [[ -n "$INFLUXD_PID" ]] && kill -0 "$INFLUXD_PID" 2>/dev/null; then
        kill -TERM "$INFLUXD_PID" 2>/dev/null || true
        wait "$INFLUXD_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- influxd, by hand ------------------------------------------------------------------------
# write_config DIR: a config whose meta/data/wal live under DIR, HTTP and RPC on free
# loopback ports. Sets HTTP_URL.
write_config() {
    local dir=$1 http_port rpc_port
    http_port=$("$PY" "$HELPER" freeport)
    rpc_port=$("$PY" "$HELPER" freeport)
    while [[ $rpc_port == "$http_port" ]]; do rpc_port=$("$PY" "$HELPER" freeport); done
    mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
    cat >"$dir/influxdb.conf" <<EOF
# Debian's build knows "reporting-enabled"; upstream 1.x spells it "reporting-disabled".
reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"

[meta]
  dir = "$dir/meta"

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  # Defaults are 10m and 4h: only when the shard goes cold, so they change when the cache
  # is snapshotted and the shard fully compacted after the load, not the load itself.
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "20s"

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:$http_port"
  auth-enabled = false
  # No access log line per request.
  log-enabled = false

[logging]
  suppress-logo = true
EOF
    HTTP_URL="http://127.0.0.1:$http_port"
}

# start_influxd DIR: starts influxd on DIR's config and waits for /ping -> 204.
start_influxd() {
    local dir=$1 t0
    t0=$(date +%s.%N)
    influxd run -config "$dir/influxdb.conf" >>"$dir/influxd.log" 2>&1 &
    INFLUXD_PID=$!
    if ! "$PY" "$HELPER" wait-ping --url "$HTTP_URL" --timeout 600; then
        tail -20 "$dir/influxd.log" >&2
        exit 1
    fi
    START_S=$(printf "%.2f" "$(calc "$(date +%s.%N) - $t0")")
}

stop_influxd() {
    local t0
    t0=$(date +%s.%N)
    kill -TERM "$INFLUXD_PID"
    wait "$INFLUXD_PID" || true
    INFLUXD_PID=""
    STOP_S=$(printf "%.2f" "$(calc "$(date +%s.%N) - $t0")")
}

# --- 2. the data set -------------------------------------------------------------------------
LP="$WORK/fleet.lp"
log "emitting line protocol: $DEVICES devices, $DAYS days"
GEN_COMMIT=$(git -C "$REPO" log -1 --format=%h -- src/bin/wispmon-load.rs 2>/dev/null || echo unknown)
# A private copy: another build may replace target/release/wispmon-load meanwhile.
cp "$LOADER" "$WORK/wispmon-load"
GEN_SHA=$(sha256sum "$WORK/wispmon-load" | cut -c1-12)
GEN_BUILT=$(date -u -r "$LOADER" +%Y-%m-%dT%H:%M:%SZ)
"$WORK/wispmon-load" emit-lp --out "$LP" --devices "$DEVICES" --days "$DAYS" --batch-devices "$BATCH" \
    ${EMIT_EXTRA[@]+"${EMIT_EXTRA[@]}"} 2>"$WORK/emit.err"
LP_SHA=$(sha256sum "$LP" | cut -c1-12)
read -r POINTS VALUES < <(sed -n 's/^wrote \([0-9]*\) points, \([0-9]*\) field values$/\1 \2/p' "$WORK/emit.err")
[[ -n "${VALUES:-}" ]] || { cat "$WORK/emit.err" >&2; exit 1; }
LP_BYTES=$(stat -c %s "$LP")
log "$POINTS points, $VALUES field values, $LP_BYTES bytes of LP"

# --- 3. load, 1 sequential client ------------------------------------------------------------
DB=openwisp2
S1="$WORK/seq"
write_config "$S1"
start_influxd "$S1"
log "influxd $INFLUXD_PID on $HTTP_URL (started in ${START_S}s)"
"$PY" "$HELPER" exec --url "$HTTP_URL" --q "CREATE DATABASE $DB"
log "loading, 1 client, batches of $BATCH devices"
eval "$("$PY" "$HELPER" load --url "$HTTP_URL" --db "$DB" --lp "$LP" --devices "$DEVICES" \
    --batch-devices "$BATCH" --clients 1 --pid "$INFLUXD_PID")"
SEQ_WALL=$load_wall_s SEQ_REQ=$load_req_sum_s SEQ_BATCHES=$load_batches
SEQ_REQ_MED=$load_req_median_ms SEQ_REQ_P95=$load_req_p95_ms SEQ_REQ_MAX=$load_req_max_ms
SEQ_SRV_CPU=$load_server_cpu_s SEQ_CLI_CPU=$load_client_cpu_s SEQ_OTHER_CPU=$load_other_cpu_s
log "loaded in ${SEQ_WALL}s"

# --- 6a. RSS after the load; 4a. size right after the load ----------------------------------
eval "$("$PY" "$HELPER" rss --pid "$INFLUXD_PID" --prefix load_)"
LOAD_RSS=$load_rss_kib LOAD_HWM=$load_hwm_kib
eval "$("$PY" "$HELPER" sizes --prefix sl_ "$S1/data" "$S1/wal")"
SIZE_LOAD=$sl_total

# --- 4b. restart, wait for the full compaction -----------------------------------------------
stop_influxd
SEQ_STOP_S=$STOP_S
start_influxd "$S1"
RESTART_S=$START_S
log "restarted as $INFLUXD_PID in ${RESTART_S}s (WAL replay); waiting for compaction"
eval "$("$PY" "$HELPER" wait-compaction --url "$HTTP_URL" --dirs "$S1/data" "$S1/wal" \
    --stable 30 --timeout 3600)"
eval "$("$PY" "$HELPER" sizes --prefix sc_ "$S1/data" "$S1/wal")"
SIZE_COMPACT=$sc_total
SIZE_COMPACT_DUSB=$(du -sb "$S1/data" "$S1/wal" | awk '{s+=$1} END {print s}')
log "compacted after ${compact_wait_s}s: $SIZE_COMPACT bytes in $compact_tsm_files TSM files"

# --- 5. query latency; 6b. RSS after the queries ---------------------------------------------
eval "$("$PY" "$HELPER" rss --pid "$INFLUXD_PID" --prefix reopen_)"
eval "$("$PY" "$HELPER" query --url "$HTTP_URL" --db "$DB" --lp "$LP" --days "$DAYS" --runs "$RUNS")"
eval "$("$PY" "$HELPER" rss --pid "$INFLUXD_PID" --prefix query_)"
stop_influxd

# --- 3b. load, K parallel clients, on a fresh server -----------------------------------------
PAR_LINE="skipped"
if [[ $PARALLEL -gt 1 ]]; then
    S2="$WORK/par"
    write_config "$S2"
    start_influxd "$S2"
    "$PY" "$HELPER" exec --url "$HTTP_URL" --q "CREATE DATABASE $DB"
    log "loading again on a fresh influxd, $PARALLEL clients"
    eval "$("$PY" "$HELPER" load --url "$HTTP_URL" --db "$DB" --lp "$LP" --devices "$DEVICES" \
        --batch-devices "$BATCH" --clients "$PARALLEL" --pid "$INFLUXD_PID")"
    eval "$("$PY" "$HELPER" rss --pid "$INFLUXD_PID" --prefix par_)"
    stop_influxd
    rm -rf "$S2"
    PAR_LINE=$(printf '%.0f values/s (%.2f s wall; influxd CPU %s s, other processes %s s; RSS peak %d MiB)' \
        "$(calc "$VALUES / $load_wall_s")" "$load_wall_s" "$load_server_cpu_s" \
        "$load_other_cpu_s" $((par_hwm_kib / 1024)))
fi

# --- 7. summary ------------------------------------------------------------------------------
per() { printf '%.3f' "$(calc "$1 / $VALUES")"; }
mib() { echo $(($1 / 1024)); }
cat <<EOF

=== InfluxDB reference: wispmon fleet data set ===
date (UTC):        $(date -u +%Y-%m-%dT%H:%M:%SZ)
machine:           $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
influxd:           $INFLUX_VERSION (Debian package $INFLUX_PKG), index inmem, WAL fsync per write
fleet:             $DEVICES devices, $DAYS days, batches of $BATCH devices ($SEQ_BATCHES batches)
data:              $POINTS points, $VALUES field values ($LP_BYTES bytes of line protocol, sha256 $LP_SHA)
generator:         wispmon-load emit-lp${EMIT_EXTRA[*]+ ${EMIT_EXTRA[*]}} (src/bin/wispmon-load.rs at $GEN_COMMIT; binary sha256 $GEN_SHA, built $GEN_BUILT)
ingest, 1 client:  $(printf '%.0f' "$(calc "$VALUES / $SEQ_WALL")") values/s ($SEQ_WALL s wall; $(printf '%.0f' "$(calc "$VALUES / $SEQ_REQ")") values/s inside HTTP requests, $SEQ_REQ s)
                   POST /write latency median $SEQ_REQ_MED ms, p95 $SEQ_REQ_P95 ms, max $SEQ_REQ_MAX ms; influxd CPU $SEQ_SRV_CPU s, client CPU $SEQ_CLI_CPU s, other processes $SEQ_OTHER_CPU s
ingest, $( [[ $PARALLEL -gt 1 ]] && echo "$PARALLEL clients" || echo "parallel" ): $PAR_LINE
disk after load:   $SIZE_LOAD bytes -> $(per "$SIZE_LOAD") bytes/value (TSM $sl_tsm, WAL $sl_wal, series file $sl_series, other $sl_other)
disk compacted:    $SIZE_COMPACT bytes -> $(per "$SIZE_COMPACT") bytes/value (TSM $sc_tsm, WAL $sc_wal, series file $sc_series, other $sc_other; du -sb $SIZE_COMPACT_DUSB)
                   TSM files alone: $(per "$sc_tsm") bytes/value; without the leftover WAL segment: $(per "$((SIZE_COMPACT - sc_wal))") bytes/value
                   $compact_tsm_files TSM files in $compact_shards shards, $compact_full_compactions full compactions after restart; settled ${compact_wait_s}s after restart; stop ${SEQ_STOP_S}s, restart (WAL replay) ${RESTART_S}s
query:             365d GROUP BY time(7d) mean(load_1), device 1 ($query_object_id), $RUNS runs over HTTP:
                   median $query_median_ms ms, p95 $query_p95_ms ms (sorted[n*19/20], as wispmon-load), first $query_first_ms ms, min $query_min_ms ms
                   $query_buckets buckets, $query_nonnull_buckets non-null; $query_series_count samples, mean $query_series_mean
rss influxd:       after load VmRSS $(mib "$LOAD_RSS") MiB, VmHWM $(mib "$LOAD_HWM") MiB
                   restarted + compacted VmRSS $(mib "$reopen_rss_kib") MiB; after queries VmRSS $(mib "$query_rss_kib") MiB, VmHWM $(mib "$query_hwm_kib") MiB
EOF
