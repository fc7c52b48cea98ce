#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) each, starting from its seeds, on the stable
# toolchain (`--sanitizer=none`). New inputs go to a scratch corpus, never into fuzz/seeds/;
# a crash fails the run and leaves its input under fuzz/artifacts/<target>/.
# Usage: fuzz/run-all.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
# target:seed directory
targets="lp_parse:lp influxql_parse:influxql netjson_document:netjson form_body:form
icmp_packet:icmp storage_block:block engine_model:engine influx_answer:answer
config_archive:archive"
cargo fuzz build --sanitizer=none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
    name=${t%%:*}
    seeds=fuzz/seeds/${t##*:}
    mkdir -p "$scratch/$name"
    echo "-- $name: ${seconds}s from $(find "$seeds" -type f | wc -l) seeds"
    # -rss_limit_mb: the targets' own bounds must hold well under it.
    if ! cargo fuzz run --sanitizer=none "$name" "$scratch/$name" "$seeds" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 \
        > "$scratch/$name.log" 2>&1; then
        tail -n 60 "$scratch/$name.log"
        echo "fuzz target $name found a failure (input under fuzz/artifacts/$name/)"
        exit 1
    fi
    grep -E '^(#[0-9]+.*DONE|stat::peak_rss_mb)' "$scratch/$name.log"
done
echo "fuzz: every target ran ${seconds}s without a finding"
