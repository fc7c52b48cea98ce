#!/usr/bin/env bash
# Builds the wispmon .deb with cargo-deb, from a clean checkout or an existing build.
#
#   packaging/build-deb.sh                 release build, then package it (for real use)
#   packaging/build-deb.sh --dev           package the dev-profile binary that `cargo test` or
#                                          `cargo build` left (CI: saves a release build)
#   options: --output PATH   where to write the .deb (a directory, or a file name)
#            --maintainer "Name <mail>"   overrides Cargo.toml's Maintainer field
#
# The package layout is [package.metadata.deb] in Cargo.toml. The path of the .deb is printed
# as the last line of stdout. CARGO_TARGET_DIR is honoured.
# Needs cargo-deb (`cargo install cargo-deb --version 3.8.0 --locked`), plus dpkg-dev and
# binutils (dpkg-shlibdeps for the Depends line, strip).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { # EXIT_STATUS
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "$1"
}

profile=release
deb_args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --dev) profile=dev ;;
    --output)
        [ $# -ge 2 ] || usage 2
        deb_args+=(--output "$2")
        shift
        ;;
    --maintainer)
        [ $# -ge 2 ] || usage 2
        deb_args+=(--maintainer "$2")
        shift
        ;;
    -h | --help) usage 0 ;;
    *)
        echo "build-deb.sh: unknown argument $1" >&2
        usage 2
        ;;
    esac
    shift
done

if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb.sh: cargo-deb is missing: cargo install cargo-deb --version 3.8.0 --locked" >&2
    exit 1
fi

# The release profile keeps line tables (debug = "line-tables-only") for backtraces, so
# cargo-deb would keep them too; --strip ships a lean binary instead.
deb_args+=(--locked --strip)

if [ "$profile" = dev ]; then
    # Package the binary `cargo test` (or `cargo build`) left, without building: after
    # `cargo test` a `cargo build` would not be a no-op but a rebuild of tokio and everything
    # above it, since the test build enables dev-dependency features (tokio's test-util).
    # cargo-deb warns that it is meant for release builds; for the package CI installs and
    # throws away, the dev build is what we want.
    target_dir=${CARGO_TARGET_DIR:-target}
    bin="$target_dir/debug/wispmon"
    [ -x "$bin" ] || {
        echo "build-deb.sh: no $bin: run cargo test (or cargo build) first" >&2
        exit 1
    }
    # Only inputs whose change always relinks the binary, or a fresh build would still look
    # stale (Cargo.toml's metadata, or web/static/, which a debug build reads at run time).
    newer=$(find src build.rs Cargo.lock -newer "$bin" -type f -print -quit)
    [ -z "$newer" ] || {
        echo "build-deb.sh: $bin is older than $newer: run cargo test (or cargo build) first" >&2
        exit 1
    }
    # Quicker compression: the package only lives for the test.
    deb_args+=(--profile dev --no-build --fast)
fi

echo "== build-deb: cargo deb ${deb_args[*]}" >&2
# cargo-deb prints the path of the .deb on stdout, everything else on stderr.
deb=$(cargo deb "${deb_args[@]}")
echo "== build-deb: $(du -h "$deb" | cut -f1) $deb" >&2
echo "$deb"
