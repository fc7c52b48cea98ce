#!/usr/bin/env bash
# wispmon and the reference InfluxDB (Debian's 1.6.7) side by side, in the same run, on the same
# data and the same queries, over HTTP on loopback:
#
#   benches/reference/side_by_side.sh [--fleet-devices N] [--fleet-days D] [--year-days D]
#                                     [--runs R] [--settle S] [--keep]
#
# Data (wispmon-load emit-lp, OpenWISP-shaped): database `year` holds one device for
# --year-days days (default 365), database `fleet` holds --fleet-devices devices (default
# 10000) for --fleet-days days (default 0.25). Both are written with POST /write in requests
# of 5,000 lines over 2 connections (the issue's reference method): points/s per server.
# Both then get --settle seconds (default 60) to snapshot/compact (influxd, cold durations
# 10s/20s) or seal (wispmon, seal interval 10s), as after a while in production.
# Then OpenWISP's chart queries for one device at 1d/3d/7d/30d/365d and the dashboard-wide
# traffic, WiFi-clients and uptime queries over the fleet, median of --runs each.
# Prints one table with the ratios (reference time / wispmon time: > 1 means wispmon is faster).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
HELPER="$HERE/influx_bench.py"
FLEET_DEVICES=10000
FLEET_DAYS=0.25
YEAR_DAYS=365
RUNS=7
SETTLE=60
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --fleet-devices) FLEET_DEVICES=$2; shift 2 ;;
        --fleet-days) FLEET_DAYS=$2; shift 2 ;;
        --year-days) YEAR_DAYS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --settle) SETTLE=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

command -v influxd >/dev/null || { echo "influxd is needed (apt-get install influxdb)" >&2; exit 1; }
for bin in wispmon wispmon-load; do
    if [[ ! -x "$REPO/target/release/$bin" ]]; then
        log "building $bin (release)"
        (cd "$REPO" && cargo build --release --bin "$bin")
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wispmon-side.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private copies: another build may replace target/release meanwhile.
cp "$REPO/target/release/wispmon" "$REPO/target/release/wispmon-load" "$WORK/"
log "emitting data: 1 device x $YEAR_DAYS days; $FLEET_DEVICES devices x $FLEET_DAYS days"
"$WORK/wispmon-load" emit-lp --out "$WORK/year.lp" --devices 1 --days "$YEAR_DAYS" 2>/dev/null
"$WORK/wispmon-load" emit-lp --out "$WORK/fleet.lp" --devices "$FLEET_DEVICES" --days "$FLEET_DAYS" 2>/dev/null
DEVICE=$(head -1 "$WORK/year.lp" | sed -n 's/.*object_id=\([^, ]*\).*/\1/p')

# start_server KIND: starts influxd or wispmon on fresh free loopback ports; sets URL and PID.
start_server() {
    local kind=$1 dir="$WORK/srv-$1" port rpc
    mkdir -p "$dir"
    port=$("$PY" "$HELPER" freeport)
    if [[ $kind == influxd ]]; then
        rpc=$("$PY" "$HELPER" freeport)
        while [[ $rpc == "$port" ]]; do rpc=$("$PY" "$HELPER" freeport); done
        cat >"$dir/influxdb.conf" <<EOF
reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  # Settle like a server that has run a while: snapshot the cache and compact once cold.
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "20s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
[logging]
  suppress-logo = true
EOF
        influxd run -config "$dir/influxdb.conf" >"$dir/log" 2>&1 &
    else
        # Seal the head into blocks (and rollups) soon, like a server that has run a while.
        WISPMON_STORAGE__SEAL_INTERVAL=10s \
        WISPMON_ADMIN_PASSWORD=benchmark-only "$WORK/wispmon" serve --listen "127.0.0.1:$port" \
            --data-dir "$dir/data" >"$dir/log" 2>&1 &
    fi
    PID=$!
    PIDS+=("$PID")
    URL="http://127.0.0.1:$port"
    "$PY" "$HELPER" wait-ping --url "$URL" --timeout 120 || { tail "$dir/log" >&2; exit 1; }
}

declare -A RES
for kind in influxd wispmon; do
    start_server "$kind"
    log "$kind $PID on $URL"
    for db in year fleet; do
        "$PY" "$HELPER" exec --url "$URL" --q "CREATE DATABASE $db"
        eval "$("$PY" "$HELPER" load-lines --url "$URL" --db "$db" --lp "$WORK/$db.lp" \
            --lines 5000 --clients 2 --pid "$PID")"
        RES[$kind,load_$db]=$lines_points_per_s
        RES[$kind,cpu_$db]=$lines_server_cpu_s
        log "$kind: $db loaded, $lines_points points in ${lines_wall_s}s ($lines_points_per_s points/s)"
    done
    # Both servers get the same time to settle (influxd: snapshot + full compaction when cold;
    # wispmon: seal) before the queries, as after a while in production.
    log "$kind: settling for ${SETTLE}s"
    sleep "$SETTLE"
    eval "$("$PY" "$HELPER" rss --pid "$PID" --prefix rss_)"
    RES[$kind,rss]=$rss_rss_kib
    log "$kind: running the chart queries ($RUNS runs each)"
    while IFS='=' read -r k v; do
        RES[$kind,$k]=$v
    done < <("$PY" "$HELPER" charts --url "$URL" --device "$DEVICE" --year-db year \
        --year-days "$YEAR_DAYS" --fleet-db fleet --fleet-days "$FLEET_DAYS" --runs "$RUNS")
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
done

printf '\n%-28s %14s %14s %10s\n' "measure" "influxd 1.6.7" "wispmon" "ratio"
for db in year fleet; do
    r=${RES[influxd,load_$db]} w=${RES[wispmon,load_$db]}
    printf '%-28s %14s %14s %9.2fx\n' "ingest $db (points/s)" "$r" "$w" "$(awk "BEGIN{print $w/$r}")"
done
printf '%-28s %14s %14s\n' "RSS after load+queries (KiB)" "${RES[influxd,rss]}" "${RES[wispmon,rss]}"
for key in "${!RES[@]}"; do
    [[ $key == influxd,q_* ]] && echo "${key#influxd,}"
done | sort | while read -r q; do
    r=$(echo "${RES[influxd,$q]}" | tr -d "'") w=$(echo "${RES[wispmon,$q]}" | tr -d "'")
    printf '%-28s %12s ms %11s ms %9.2fx\n' "${q#q_}" "$r" "$w" "$(awk "BEGIN{print $r/$w}")"
done
