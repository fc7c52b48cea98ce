#!/usr/bin/env bash
# Tests the .deb on this machine, as root: builds it (or takes the one given), inspects it,
# installs it (twice, and over a removal), verifies the unit, runs the installed binary as the
# wispmon user with only CAP_NET_RAW until it has pinged a device through the API, stops it
# with SIGTERM, and purges the package. Touches loopback only.
#
#   packaging/test-deb.sh               build with `build-deb.sh --dev` (after `cargo test`)
#   packaging/test-deb.sh FILE.deb      test an existing package (e.g. a release build)
#
# With systemd-nspawn (package systemd-container) it also boots this machine's root in a
# throw-away container with systemd as PID 1 to run the real unit; without it that step is
# skipped, unless CI_REQUIRE_NSPAWN=1.
#
# It refuses to run when wispmon is already installed, since it ends with a purge, which
# deletes /var/lib/wispmon. Needs dpkg, lintian, systemd (for systemd-analyze, not running),
# setpriv (util-linux), curl and python3. CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "== test-deb: $*"; }
fail() {
    echo "test-deb: FAILED: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs and purges the package)"
# Installed, or removed with its config left: either way the purge at the end would delete
# someone's /etc/wispmon and /var/lib/wispmon.
status=$(dpkg-query -W -f='${Status}' wispmon 2>/dev/null || true)
case "$status" in
"" | *not-installed) ;;
*) fail "wispmon is on this machine ($status); this test ends with a purge, which deletes" \
    "/etc/wispmon and /var/lib/wispmon, so do that yourself first: dpkg --purge wispmon" ;;
esac

work=$(mktemp -d /tmp/wispmon-test-deb.XXXXXX)
chmod 0755 "$work" # the server, running as wispmon, writes its log here
server_pid=
ovl= # the systemd container's overlay, while mounted
cleanup() {
    status=$?
    # Only the server this script started, by its PID.
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$ovl" ]; then
        umount "$ovl/root" 2>/dev/null || true
        umount "$ovl" 2>/dev/null || true
    fi
    if [ "$status" != 0 ]; then
        for f in "$work"/server.out "$work"/server.err; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
        done
        echo "test-deb: failed; the package may still be installed (dpkg --purge wispmon);" \
            "files in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Never wait on a dpkg prompt: keep an edited conffile, as an unattended upgrade would.
export DEBIAN_FRONTEND=noninteractive
dpkg_install() { dpkg --force-confdef --force-confold -i "$1"; }

# --- build -------------------------------------------------------------------------------
if [ $# -ge 1 ]; then
    deb=$1
    step "testing $deb"
else
    step "building the package from the dev build (packaging/build-deb.sh --dev)"
    deb=$(packaging/build-deb.sh --dev --output "$work/")
fi
[ -f "$deb" ] || fail "no package at $deb"

# --- inspect -----------------------------------------------------------------------------
step "dpkg-deb --info"
dpkg-deb --info "$deb"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = wispmon ] || fail "Package is $(field Package)"
field Depends | grep -q 'adduser' || fail "Depends lacks adduser: $(field Depends)"
field Depends | grep -q 'libc6' || fail "Depends lacks libc6 (dpkg-shlibdeps): $(field Depends)"
field Recommends | grep -q 'ieee-data' || fail "Recommends lacks ieee-data: $(field Recommends)"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/wispmon/wispmon.toml ||
    fail "/etc/wispmon/wispmon.toml is not a conffile"
for script in postinst prerm postrm; do
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO "./$script" | grep -q deb-systemd ||
        fail "$script lacks the systemd snippet"
done

step "dpkg-deb --contents"
dpkg-deb --contents "$deb" | tee "$work/contents"
# "mode owner path" of every regular file, which must be exactly these (owners as uid/gid:
# cargo-deb stores no names).
awk '$1 !~ /^d/ { sub("^root/root$", "0/0", $2); print $1, $2, $6 }' "$work/contents" |
    sort >"$work/files"
sort >"$work/files.expected" <<'EOF'
-rwxr-xr-x 0/0 ./usr/bin/wispmon
-rw-r----- 0/0 ./etc/wispmon/wispmon.toml
-rw-r--r-- 0/0 ./usr/lib/systemd/system/wispmon.service
-rw-r--r-- 0/0 ./usr/share/doc/wispmon/README.md
-rw-r--r-- 0/0 ./usr/share/doc/wispmon/changelog.Debian.gz
-rw-r--r-- 0/0 ./usr/share/doc/wispmon/compatibility.md
-rw-r--r-- 0/0 ./usr/share/doc/wispmon/copyright
-rw-r--r-- 0/0 ./usr/share/lintian/overrides/wispmon
EOF
diff -u "$work/files.expected" "$work/files" || fail "unexpected files, modes or owners (above)"
# The data directory is made by postinst, owned by wispmon; the package must not ship it.
if grep -q 'var/lib' "$work/contents"; then fail "the package ships /var/lib"; fi

step "size and symbols of /usr/bin/wispmon"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/wispmon >"$work/wispmon"
size_mib=$(($(stat -c %s "$work/wispmon") / 1048576))
echo "binary: ${size_mib} MiB; package: $(($(stat -c %s "$deb") / 1048576)) MiB;" \
    "Installed-Size: $(field Installed-Size) KiB"
# Stripped by build-deb.sh: no symbol table, no DWARF (.debug_gdb_scripts, which is loaded
# with the program, stays), which would make it several times larger.
if readelf -S -W "$work/wispmon" | grep -Eq '\.(symtab|debug_info|debug_line) '; then
    fail "the binary is not stripped"
fi
[ "$size_mib" -lt 80 ] || fail "the binary is ${size_mib} MiB"

step "lintian"
# Errors fail the test; warnings and notes are shown. Deliberate departures are overridden,
# each with its reason, in packaging/debian/lintian-overrides (shipped in the package).
lintian --fail-on error --display-info "$deb"

# --- install -----------------------------------------------------------------------------
step "dpkg -i (first install)"
dpkg_install "$deb"
step "dpkg -i again (an upgrade over itself must succeed and change nothing)"
dpkg_install "$deb"

step "installed files, user and permissions"
[ -x /usr/bin/wispmon ] || fail "/usr/bin/wispmon missing"
getent passwd wispmon || fail "no wispmon user"
uid=$(id -u wispmon)
[ "$uid" -lt 1000 ] || fail "wispmon is not a system user (uid $uid)"
[ "$(getent passwd wispmon | cut -d: -f7)" = /usr/sbin/nologin ] || fail "wispmon can log in"
[ "$(id -gn wispmon)" = wispmon ] || fail "wispmon's group is $(id -gn wispmon)"
check_stat() { # PATH "owner:group mode"
    got=$(stat -c '%U:%G %a' "$1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
    echo "$1: $got"
}
check_stat /etc/wispmon/wispmon.toml "root:wispmon 640"
check_stat /var/lib/wispmon "wispmon:wispmon 700"
cmp /etc/wispmon/wispmon.toml packaging/wispmon.toml || fail "the installed config differs"
unit=/usr/lib/systemd/system/wispmon.service
cmp "$unit" systemd/wispmon.service || fail "the installed unit differs"
# Enabled (so a real host starts it at boot) even though no systemd runs here to start it.
wants=/etc/systemd/system/multi-user.target.wants/wispmon.service
[ -L "$wants" ] || fail "the unit is not enabled ($wants missing)"
# The shipped config is valid for the installed binary (as the service user would read it).
setpriv --reuid wispmon --regid wispmon --init-groups -- \
    /usr/bin/wispmon check-config --config /etc/wispmon/wispmon.toml >"$work/effective.toml"
grep -qx 'listen = "0.0.0.0:8086"' "$work/effective.toml" || fail "listen is not 0.0.0.0:8086"
grep -qx 'data_dir = "/var/lib/wispmon"' "$work/effective.toml" || fail "data_dir differs"

step "systemd-analyze verify $unit"
# Loads the unit as systemd would (needs no running systemd) and checks that ExecStart's
# binary exists; any message about our unit is a failure.
if ! systemd-analyze verify "$unit" >"$work/verify" 2>&1 || grep -q wispmon "$work/verify"; then
    cat "$work/verify"
    fail "systemd-analyze verify"
fi
cat "$work/verify"
step "systemd-analyze security --offline=true $unit (exposure, for information)"
systemd-analyze security --offline=true --no-pager "$unit" | tail -n 1 ||
    echo "(systemd-analyze security failed; not a test failure)"

# --- run ---------------------------------------------------------------------------------
step "running /usr/bin/wispmon serve as wispmon with only CAP_NET_RAW"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
password="test-deb-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
# As the unit runs it: its user, the capability sets of CapabilityBoundingSet= and
# AmbientCapabilities=, no new privileges, umask 0077, the shipped config; the listener is
# moved to loopback. A clean environment, so nothing of this shell's WISPMON_* leaks in.
(
    cd /
    umask 0077
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin WISPMON_ADMIN_PASSWORD="$password" \
        setpriv --reuid wispmon --regid wispmon --init-groups --no-new-privs \
        --inh-caps -all,+net_raw --ambient-caps -all,+net_raw --bounding-set -all,+net_raw -- \
        /usr/bin/wispmon serve --config /etc/wispmon/wispmon.toml --listen "127.0.0.1:$port"
) >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ]; do
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited before answering /healthz"
    [ "$SECONDS" -lt "$deadline" ] || fail "no 200 from /healthz within 60 s"
    sleep 0.2
done
echo "GET /healthz: 200 ($(curl -s "$base/healthz"))"

# CAP_NET_RAW is bit 13: exactly it, effective and ambient, nothing else bounding.
for set in CapEff CapAmb CapBnd; do
    got=$(awk -v s="$set:" '$1 == s { print $2 }' "/proc/$server_pid/status")
    [ "$got" = 0000000000002000 ] || fail "$set of the server is $got, expected CAP_NET_RAW only"
done
[ "$(stat -c %U "/proc/$server_pid")" = wispmon ] || fail "the server does not run as wispmon"
# Which ICMP socket kind it chose, and why (for the log; colours stripped).
grep -i 'icmp' "$work/server.err" | sed 's/\x1b\[[0-9;]*m//g' || true

# api METHOD PATH [JSON]: the response body on stdout; fails unless the status is 2xx.
token=
api() {
    local args=(-sS -o "$work/body" -w '%{http_code}' -X "$1" "$base$2")
    if [ -n "$token" ]; then args+=(-H "Authorization: Bearer $token"); fi
    if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data "$3"); fi
    local code
    code=$(curl "${args[@]}")
    case "$code" in
    2??) cat "$work/body" ;;
    *) fail "$1 $2: HTTP $code: $(cat "$work/body")" ;;
    esac
}
# json EXPR: evaluates a Python expression over the JSON document on stdin (as `d`).
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

step "log in, create an organization and a device with management IP 127.0.0.1"
token=$(api POST /api/v1/users/token/ \
    "{\"username\": \"admin\", \"password\": \"$password\"}" | json 'd["token"]')
org=$(api POST /api/v1/users/organization/ '{"name": "test-deb"}' | json 'd["id"]')
device=$(api POST /api/v1/controller/device/ \
    "{\"organization\": \"$org\", \"name\": \"loopback\", \"mac_address\": \"00:11:22:33:44:55\", \"management_ip\": \"127.0.0.1\"}" |
    json 'd["id"]')
echo "organization $org, device $device"

step "waiting for the device's first ping result"
# A new device with a reachable management IP is pinged within seconds (tests/checks.rs).
deadline=$((SECONDS + 30))
while :; do
    healthy=$(api GET "/api/v1/monitoring/device/$device/metric/" |
        json '[m.get("is_healthy") for m in d if m.get("key") == "ping"]')
    [ "$healthy" = "[True]" ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "no healthy ping metric within 30 s: $healthy"
    sleep 0.5
done
# The stored sample itself, through the InfluxDB API: reachable = 1, no loss.
q='SELECT last("reachable") AS reachable, last("loss") AS loss FROM "ping"'
sample=$(curl -sS -G "$base/query" --data-urlencode db=openwisp2 --data-urlencode "q=$q")
echo "ping: $sample"
ok=$(echo "$sample" | json 'd["results"][0]["series"][0]["values"][0][1:] == [1, 0]')
[ "$ok" = True ] || fail "the ping result is not reachable with 0 % loss: $sample"

step "SIGTERM to the server (PID $server_pid)"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
[ "$rc" = 0 ] || fail "the server exited with status $rc after SIGTERM"
echo "exit status 0"

step "the data in /var/lib/wispmon"
check_stat /var/lib/wispmon "wispmon:wispmon 700"
ls -la /var/lib/wispmon
for d in wal db; do [ -d "/var/lib/wispmon/$d" ] || fail "no $d/ in the data"; done
[ ! -e /var/lib/wispmon/unclean-shutdown ] || fail "the stop left the unclean-shutdown marker"
others=$(find /var/lib/wispmon ! -user wispmon)
[ -z "$others" ] || fail "files not owned by wispmon: $others"

# --- under systemd -----------------------------------------------------------------------
# This machine has no systemd as PID 1, so the unit itself runs in a container that boots
# this machine's own root, package installed: an overlay whose upper layer is a tmpfs (nothing
# written reaches the disk) with an empty /dev for nspawn to fill, and a private network
# (its own loopback only). Inside, a oneshot unit ordered after wispmon.service (so it starts
# once READY=1 has arrived) records the service's state, logs in, creates a device at
# 127.0.0.1, waits for its ping, stops wispmon through systemd and powers the container off.
boot_under_systemd() {
    ovl="$work/ovl"
    mkdir -p "$ovl"
    mount -t tmpfs -o size=1G,mode=0755 wispmon-test "$ovl"
    mkdir -p "$ovl/upper/dev" "$ovl/work" "$ovl/root"
    python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")' \
        "$ovl/upper/dev"
    local etc="$ovl/upper/etc/systemd/system"
    mkdir -p "$etc/wispmon.service.d" "$ovl/upper/results"
    # Only for this test: a failed READY=1 should fail it in a minute, not in five.
    printf '[Service]\nTimeoutStartSec=60s\n' >"$etc/wispmon.service.d/test.conf"
    cat >"$etc/wispmon-check.service" <<'UNIT'
[Unit]
Wants=wispmon.service
After=wispmon.service
[Service]
Type=oneshot
ExecStart=/bin/bash /results/check.sh
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=append:/results/check.log
StandardError=append:/results/check.log
UNIT
    printf '[Unit]\nRequires=wispmon-check.service\nAfter=wispmon-check.service\n' \
        >"$etc/wispmon-test.target"
    cat >"$ovl/upper/results/check.sh" <<CHECK
set -x
base=http://127.0.0.1:8086
show() { systemctl show wispmon -p "\$1" --value; }
pid=\$(show MainPID)
{
    echo "state=\$(show ActiveState)/\$(show SubState)"
    echo "status=\$(show StatusText)"
    grep -E '^(CapEff|CapAmb|CapBnd|NoNewPrivs|Seccomp):' /proc/\$pid/status | tr -d ' \t' | tr : =
    echo "user=\$(stat -c %U /proc/\$pid)"
} >>/results/summary
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print(\$1)"; }
token=\$(curl -sf -X POST \$base/api/v1/users/token/ -H 'Content-Type: application/json' \
    -d '{"username": "admin", "password": "$password"}' | json 'd["token"]')
auth="Authorization: Bearer \$token"
org=\$(curl -sf -X POST \$base/api/v1/users/organization/ -H "\$auth" \
    -H 'Content-Type: application/json' -d '{"name": "test-deb-systemd"}' | json 'd["id"]')
device=\$(curl -sf -X POST \$base/api/v1/controller/device/ -H "\$auth" \
    -H 'Content-Type: application/json' -d '{"organization": "'\$org'", "name": "loopback-2",
    "mac_address": "00:11:22:33:44:56", "management_ip": "127.0.0.1"}' | json 'd["id"]')
for _ in \$(seq 60); do
    healthy=\$(curl -sf \$base/api/v1/monitoring/device/\$device/metric/ -H "\$auth" |
        json '[m.get("is_healthy") for m in d if m.get("key") == "ping"]')
    [ "\$healthy" = "[True]" ] && break
    sleep 0.5
done
echo "ping=\$healthy" >>/results/summary
systemctl stop wispmon
echo "stopped=\$(show ActiveState)/\$(show Result)/\$(show ExecMainStatus)" >>/results/summary
journalctl -u wispmon --no-pager -o cat >/results/journal 2>&1
CHECK
    mount -t overlay wispmon-test -o "lowerdir=/,upperdir=$ovl/upper,workdir=$ovl/work" \
        "$ovl/root"
    # --keep-unit and --register=no: no systemd or machined on this host to ask for a scope.
    # The masks: the private network has nothing to wait for, and a host's wait-online
    # services would wait for interfaces the container does not have (wispmon.service is
    # After=network-online.target).
    timeout -k 10 180 systemd-nspawn --quiet --directory="$ovl/root" --private-network \
        --machine=wispmon-test --link-journal=no --register=no --keep-unit \
        --console=pipe --boot systemd.unit=wispmon-test.target \
        systemd.mask=networking.service systemd.mask=ifupdown-wait-online.service \
        systemd.mask=systemd-networkd-wait-online.service \
        systemd.mask=NetworkManager-wait-online.service >"$work/nspawn.log" 2>&1 ||
        { cat "$work/nspawn.log"; fail "the container did not boot and power off"; }
    local results="$ovl/upper/results"
    sed 's/\x1b\[[0-9;]*m//g' "$results/journal" 2>/dev/null || true
    cat "$results/summary" 2>/dev/null || true
    expect() { # KEY=VALUE, a line the summary must hold
        grep -qxF "$1" "$results/summary" 2>/dev/null || {
            tail -n 30 "$results/check.log" 2>/dev/null || true
            fail "under systemd: expected $1"
        }
    }
    expect "state=active/running"     # reached through READY=1 (Type=notify)
    expect "status=listening on 0.0.0.0:8086"
    expect "user=wispmon"
    expect "CapEff=0000000000002000"
    expect "CapAmb=0000000000002000"
    expect "CapBnd=0000000000002000"
    expect "NoNewPrivs=1"
    expect "Seccomp=2"                # SystemCallFilter= in force
    expect "ping=[True]"              # raw ICMP under the whole sandbox
    expect "stopped=inactive/success/0"
    umount "$ovl/root"
    umount "$ovl"
    ovl=
}

step "the unit under systemd as PID 1 (systemd-nspawn --boot)"
if command -v systemd-nspawn >/dev/null 2>&1; then
    boot_under_systemd
elif [ "${CI_REQUIRE_NSPAWN:-}" = 1 ]; then
    fail "CI_REQUIRE_NSPAWN=1 but systemd-nspawn is missing (apt-get install systemd-container)"
else
    echo "skipped: no systemd-nspawn (apt-get install systemd-container to run this step)"
fi

# --- upgrade, remove, reinstall, purge ---------------------------------------------------
step "dpkg -i over the data and an edited config: both are kept"
echo '# edited by test-deb.sh' >>/etc/wispmon/wispmon.toml
dpkg_install "$deb"
tail -n 1 /etc/wispmon/wispmon.toml | grep -qx '# edited by test-deb.sh' || fail "the edit is lost"
check_stat /etc/wispmon/wispmon.toml "root:wispmon 640"
[ -d /var/lib/wispmon/db ] || fail "the data is gone"

step "an upgrade to a newer version whose config changed: the edited one stays"
# The same package repacked as version <v>+next with one more line in its config, so that
# dpkg meets an edited conffile whose packaged version changed: it keeps the edited one
# (--force-confold, as an unattended upgrade does) and puts the new one beside it.
dpkg-deb -R "$deb" "$work/next"
sed -i "s/^Version: .*/Version: $(field Version)+next/" "$work/next/DEBIAN/control"
echo '# changed in the next version' >>"$work/next/etc/wispmon/wispmon.toml"
dpkg-deb --root-owner-group -Zgzip -z1 -b "$work/next" "$work/next.deb" >/dev/null
dpkg_install "$work/next.deb"
[ "$(dpkg-query -W -f='${Version}' wispmon)" = "$(field Version)+next" ] || fail "not upgraded"
tail -n 1 /etc/wispmon/wispmon.toml | grep -qx '# edited by test-deb.sh' || fail "the edit is lost"
[ -f /etc/wispmon/wispmon.toml.dpkg-dist ] || fail "no wispmon.toml.dpkg-dist"
check_stat /etc/wispmon/wispmon.toml "root:wispmon 640"
[ -d /var/lib/wispmon/db ] || fail "the data is gone"
deb="$work/next.deb" # from here on, the installed version

step "dpkg --remove: the binary goes, config and data stay"
dpkg --remove wispmon
[ ! -e /usr/bin/wispmon ] || fail "/usr/bin/wispmon is still there"
[ ! -e "$unit" ] || fail "$unit is still there"
[ -f /etc/wispmon/wispmon.toml ] || fail "the removal took the config"
[ -d /var/lib/wispmon/db ] || fail "the removal took the data"
step "dpkg -i after the removal"
dpkg_install "$deb"
check_stat /etc/wispmon/wispmon.toml "root:wispmon 640"

step "dpkg --purge"
dpkg --purge wispmon
# With them the .dpkg-dist config, the enable link and the mask `dpkg --remove` set (d-s-h);
# -L catches dangling links.
for p in /usr/bin/wispmon "$unit" "$wants" /etc/systemd/system/wispmon.service \
    /etc/wispmon /var/lib/wispmon; do
    if [ -e "$p" ] || [ -L "$p" ]; then fail "$p is still there after the purge"; fi
done
status=$(dpkg-query -W -f='${Status}' wispmon 2>/dev/null || true)
case "$status" in "" | *not-installed) ;; *) fail "still known to dpkg: $status" ;; esac
# Documented choice (packaging/README.md): the system user outlives the purge.
getent passwd wispmon >/dev/null || fail "the purge removed the wispmon user"
echo "purged; the wispmon user is kept (uid $uid)"

step "passed"
