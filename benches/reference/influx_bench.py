#!/usr/bin/env python3
"""Helpers for benches/reference/influxdb.sh (Python 3.11 stdlib only).

Subcommands print `key=value` lines (shell-quoted) that the bash script evals.

  freeport                       a free TCP port on 127.0.0.1
  wait-ping  --url U             wait for GET /ping -> 204
  exec       --url U --q Q       run one InfluxQL statement (POST /query), fail on error
  load       --url U --db D --lp FILE --devices N --batch-devices B [--clients K] [--pid P]
                                 POST /write the LP file in the same batches wispmon uses
  query      --url U --db D --lp FILE --days D [--runs 20]
                                 365-day GROUP BY time(7d) mean("load_1") on device 1's cpu series
  wait-compaction --url U --dirs DIR... [--stable 20] [--timeout 1800]
                                 wait until the cache is empty, no compaction runs and the files
                                 have not changed for --stable seconds
  load-lines --url U --db D --lp FILE [--lines 5000] [--clients 2] [--pid P]
                                 POST /write the LP file in requests of --lines lines over
                                 --clients connections (the issue's reference method)
  charts     --url U --device ID --year-db D --year-start NS --year-days N
             --fleet-db D --fleet-start NS --fleet-days N [--runs 7] [--tz Europe/Rome]
                                 median latency of OpenWISP's chart queries for one device at
                                 1d/3d/7d/30d/365d and of the dashboard-wide ones over the fleet
  rss        --pid P [--prefix X] VmRSS / VmHWM (KiB) of a process
  du         DIR...              bytes on disk (apparent size, like `du -sb`)
  sizes      [--prefix X] DIR... the same, split into TSM / WAL / series file / other
"""

import argparse
import http.client
import json
import mmap
import os
import shlex
import statistics
import sys
import threading
import time
import urllib.parse
from array import array

DAY_NS = 86_400 * 1_000_000_000
STEP_NS = 300 * 1_000_000_000
# wispmon-load's START_NS: 2026-01-01T00:00:00Z.
START_NS = 1_767_225_600 * 1_000_000_000


def out(**kv):
    for k, v in kv.items():
        print(f"{k}={shlex.quote(str(v))}")
    sys.stdout.flush()


def split_url(url):
    u = urllib.parse.urlsplit(url)
    assert u.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    return u.hostname, u.port


def conn_for(url, timeout=600):
    host, port = split_url(url)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def proc_cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(rest[11]) + int(rest[12])) / ticks


def machine_busy_s():
    """CPU seconds all processes on the machine spent busy (from /proc/stat)."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6]
    return busy / os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- subcommands


def cmd_freeport(_a):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def cmd_wait_ping(a):
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            c = conn_for(a.url, timeout=2)
            c.request("GET", "/ping")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 204:
                return 0
        except OSError:
            pass
        time.sleep(0.2)
    print(f"influxd did not answer /ping within {a.timeout}s", file=sys.stderr)
    return 1


def run_query(conn, db, q, method="GET"):
    params = {"q": q, "epoch": "ns"}
    if db:
        params["db"] = db
    qs = urllib.parse.urlencode(params)
    if method == "GET":
        conn.request("GET", "/query?" + qs)
    else:
        conn.request(
            "POST",
            "/query",
            body=qs,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"query {q!r}: HTTP {r.status}: {body[:300]!r}")
    doc = json.loads(body)
    for res in doc.get("results", []):
        if "error" in res:
            raise RuntimeError(f"query {q!r}: {res['error']}")
    if "error" in doc:
        raise RuntimeError(f"query {q!r}: {doc['error']}")
    return doc


def cmd_exec(a):
    c = conn_for(a.url)
    doc = run_query(c, a.db, a.q, method="POST")
    if a.print:
        print(json.dumps(doc))
    return 0


def batch_offsets(mm, devices, batch_devices):
    """Byte offsets where wispmon's batches start.

    The emitter writes, for each 5-minute step, the devices in order, each starting with its
    `ping` line; wispmon's own run hands engine.write one batch per `batch_devices` devices of
    a step. So a batch starts at ping line k when (k % devices) % batch_devices == 0.
    """
    offs = array("q")
    k = 0
    pos = 0 if mm[:5] == b"ping," else mm.find(b"\nping,")
    if pos != 0:
        raise SystemExit("LP file does not start with a ping line")
    find = mm.find
    while pos != -1:
        if (k % devices) % batch_devices == 0:
            offs.append(pos)
        k += 1
        nxt = find(b"\nping,", pos)
        pos = nxt + 1 if nxt != -1 else -1
    offs.append(len(mm))
    return offs, k


def cmd_load(a):
    with open(a.lp, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    t = time.monotonic()
    offs, pings = batch_offsets(mm, a.devices, a.batch_devices)
    index_s = time.monotonic() - t
    nbatches = len(offs) - 1
    path = "/write?" + urllib.parse.urlencode({"db": a.db, "precision": "ns"})
    lock = threading.Lock()
    state = {"next": 0, "error": None}
    lat = [[] for _ in range(a.clients)]

    def worker(wid):
        c = conn_for(a.url)
        mine = lat[wid]
        try:
            while True:
                with lock:
                    i = state["next"]
                    if i >= nbatches or state["error"]:
                        return
                    state["next"] = i + 1
                body = mm[offs[i] : offs[i + 1]]
                t0 = time.perf_counter()
                c.request(
                    "POST", path, body=body, headers={"Content-Type": "text/plain"}
                )
                r = c.getresponse()
                resp = r.read()
                mine.append(time.perf_counter() - t0)
                if r.status != 204:
                    raise RuntimeError(f"batch {i}: HTTP {r.status}: {resp[:300]!r}")
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                state["error"] = e
        finally:
            c.close()

    cpu0 = proc_cpu_s(a.pid) if a.pid else 0.0
    busy0 = machine_busy_s()
    self0 = os.times()
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(a.clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    self1 = os.times()
    busy1 = machine_busy_s()
    cpu1 = proc_cpu_s(a.pid) if a.pid else 0.0
    if state["error"]:
        print(f"load failed: {state['error']}", file=sys.stderr)
        return 1
    all_lat = sorted(x for l in lat for x in l)
    out(
        load_batches=nbatches,
        load_device_samples=pings,
        load_index_s=f"{index_s:.2f}",
        load_wall_s=f"{wall:.2f}",
        load_req_sum_s=f"{sum(all_lat):.2f}",
        load_req_median_ms=f"{all_lat[len(all_lat) // 2] * 1e3:.2f}",
        load_req_p95_ms=f"{all_lat[len(all_lat) * 19 // 20] * 1e3:.2f}",
        load_req_max_ms=f"{all_lat[-1] * 1e3:.2f}",
        load_server_cpu_s=f"{cpu1 - cpu0:.2f}",
        load_client_cpu_s=f"{(self1.user + self1.system) - (self0.user + self0.system):.2f}",
        # CPU the rest of the machine used meanwhile: how noisy the run was.
        load_other_cpu_s=f"{(busy1 - busy0) - (cpu1 - cpu0) - ((self1.user + self1.system) - (self0.user + self0.system)):.2f}",
    )
    return 0


def first_line_with(lp, prefix):
    with open(lp, "rb") as f:
        for line in f:
            if line.startswith(prefix):
                return line.decode()
    raise SystemExit(f"no line starting with {prefix!r} in {lp}")


def cmd_query(a):
    line = first_line_with(a.lp, b"cpu,")
    tags = dict(kv.split("=", 1) for kv in line.split(" ", 1)[0].split(",")[1:])
    oid = tags["object_id"]
    with open(a.lp, "rb") as f:
        first_ts = int(f.readline().rsplit(b" ", 1)[1])
    # The query window is wispmon-load's: end = START_NS + days, lo = end - 365 days.
    start = a.start_ns
    if abs(first_ts - start) > STEP_NS:
        raise SystemExit(
            f"first timestamp {first_ts} is not within 5 minutes of --start-ns {start}: "
            "has wispmon-load's START_NS changed?"
        )
    end = start + int(a.days * DAY_NS)
    lo = end - 365 * DAY_NS
    q = (
        f"SELECT mean(\"load_1\") FROM \"cpu\" WHERE \"object_id\"='{oid}' "
        f"AND time >= {lo} AND time <= {end} GROUP BY time(7d)"
    )
    c = conn_for(a.url)
    times = []
    doc = None
    for _ in range(a.runs):
        t0 = time.perf_counter()
        doc = run_query(c, a.db, q)
        times.append(time.perf_counter() - t0)
    series = doc["results"][0].get("series", [])
    vals = series[0]["values"] if series else []
    nonnull = [v for v in vals if v[1] is not None]
    # Sanity check: the same mean over the whole span, and the number of cpu samples.
    cnt = run_query(
        c,
        a.db,
        f"SELECT count(\"load_1\"), mean(\"load_1\") FROM \"cpu\" "
        f"WHERE \"object_id\"='{oid}' AND time >= {lo} AND time <= {end}",
    )
    cv = cnt["results"][0]["series"][0]["values"][0]
    s = sorted(times)
    out(
        query=q,
        query_object_id=oid,
        query_first_ms=f"{times[0] * 1e3:.2f}",
        query_median_ms=f"{statistics.median(s) * 1e3:.2f}",
        # Same index as wispmon-load's p95 (sorted[len*19/20]); with 20 runs that is the max.
        query_p95_ms=f"{s[len(s) * 19 // 20] * 1e3:.2f}",
        query_min_ms=f"{s[0] * 1e3:.2f}",
        query_buckets=len(vals),
        query_nonnull_buckets=len(nonnull),
        query_series_count=cv[1],
        query_series_mean=f"{cv[2]:.6f}",
    )
    return 0


def tree(dirs):
    files = {}
    for d in dirs:
        for root, _ds, fs in os.walk(d):
            for name in fs:
                p = os.path.join(root, name)
                try:
                    files[p] = os.lstat(p).st_size
                except FileNotFoundError:
                    pass
    return files


def engine_stats(url):
    """Sum of cache bytes and active compactions over all shards, from /debug/vars."""
    c = conn_for(url, timeout=10)
    c.request("GET", "/debug/vars")
    r = c.getresponse()
    doc = json.loads(r.read())
    c.close()
    cache = 0
    active = 0
    full = 0
    for v in doc.values():
        if not isinstance(v, dict):
            continue
        name = v.get("name")
        vals = v.get("values", {})
        if name == "tsm1_cache":
            cache += vals.get("memBytes", 0)
        elif name == "tsm1_engine":
            active += sum(x for k, x in vals.items() if k.endswith("CompactionsActive"))
            full += vals.get("tsmFullCompactions", 0)
    return cache, active, full


def cmd_wait_compaction(a):
    t0 = time.monotonic()
    last = None
    stable_since = None
    while True:
        now = time.monotonic()
        if now - t0 > a.timeout:
            print(f"compaction did not settle within {a.timeout}s", file=sys.stderr)
            return 1
        files = tree(a.dirs)
        cache, active, full = engine_stats(a.url)
        key = tuple(sorted(files.items()))
        gens = {}
        for f in files:
            if f.endswith(".tsm"):
                gens.setdefault(os.path.dirname(f), set()).add(os.path.basename(f).split("-")[0])
        max_gens = max((len(g) for g in gens.values()), default=0)
        # Fully compacted: nothing left in the cache (WAL snapshotted), no compaction running,
        # and every shard down to one TSM generation.
        settled = cache == 0 and active == 0 and max_gens <= 1
        if key != last or not settled:
            last = key
            stable_since = now
        elif now - stable_since >= a.stable:
            break
        time.sleep(1)
    tsm = sorted(p for p in files if p.endswith(".tsm"))
    if a.verbose:
        for p_ in tsm:
            print(f"# {p_} {files[p_]}", file=sys.stderr)
    shards = {os.path.dirname(p) for p in tsm}
    out(
        compact_wait_s=f"{time.monotonic() - t0:.0f}",
        compact_full_compactions=full,
        compact_tsm_files=len(tsm),
        compact_shards=len(shards),
        compact_wal_bytes=sum(s for p, s in files.items() if p.endswith(".wal")),
    )
    return 0


def cmd_load_lines(a):
    with open(a.lp, "rb") as f:
        lines = f.read().split(b"\n")
    lines = [l for l in lines if l]
    chunks = [b"\n".join(lines[i : i + a.lines]) + b"\n" for i in range(0, len(lines), a.lines)]
    lock = threading.Lock()
    next_i = [0]
    errors = []

    def worker():
        c = conn_for(a.url)
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= len(chunks) or errors:
                return
            c.request("POST", f"/write?db={a.db}", body=chunks[i])
            r = c.getresponse()
            body = r.read()
            if r.status != 204:
                with lock:
                    errors.append(f"HTTP {r.status}: {body[:200]!r}")
                return

    cpu0 = proc_cpu_s(a.pid) if a.pid else 0.0
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    if errors:
        print(errors[0], file=sys.stderr)
        return 1
    values = sum(l.split(b" ")[1].count(b",") + 1 for l in lines if b" " in l)
    out(
        lines_wall_s=f"{wall:.3f}",
        lines_points=len(lines),
        lines_values=values,
        lines_points_per_s=f"{len(lines) / wall:.0f}",
        lines_values_per_s=f"{values / wall:.0f}",
        lines_server_cpu_s=f"{(proc_cpu_s(a.pid) - cpu0) if a.pid else 0:.2f}",
    )
    return 0


def chart_queries(device, start_ns, days, tz):
    """OpenWISP's chart queries (spec 2.3/2.4) for one device over the last `days` of data."""
    end_ns = start_ns + int(days * DAY_NS)
    out = []
    for span, group in (("1d", "10m"), ("3d", "20m"), ("7d", "1h"), ("30d", "24h"), ("365d", "7d")):
        n = int(span[:-1])
        if n > days:
            continue
        lo = end_ns - n * DAY_NS
        w = f"time >= {lo} AND time <= {end_ns} AND content_type = 'config.device' AND object_id = '{device}'"
        g = f"GROUP BY time({group}) tz('{tz}')"
        for name, q in (
            ("uptime", f"SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE {w} {g}"),
            ("packet_loss", f"SELECT MEAN(loss) AS packet_loss FROM ping WHERE {w} {g}"),
            ("rtt", f"SELECT MEAN(rtt_avg) AS RTT_average, MEAN(rtt_max) AS RTT_max, MEAN(rtt_min) AS RTT_min FROM ping WHERE {w} {g}"),
            ("wifi_clients", f"SELECT COUNT(DISTINCT(clients)) AS wifi_clients FROM wifi_clients WHERE {w} AND ifname = 'wlan0' {g}"),
            ("traffic", f"SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE {w} AND ifname = 'wan' {g}"),
            ("memory", f"SELECT MEAN(percent_used) AS memory_usage FROM memory WHERE {w} {g}"),
            ("cpu", f"SELECT MEAN(cpu_usage) AS CPU_load FROM cpu WHERE {w} {g}"),
            ("disk", f"SELECT MEAN(used_disk) AS disk_usage FROM disk WHERE {w} {g}"),
        ):
            out.append((f"{name}_{span}", q))
    return out


def dashboard_queries(start_ns, days, tz):
    """The dashboard-wide charts over every device, for the last day of data (or all of it)."""
    end_ns = start_ns + int(days * DAY_NS)
    lo = max(start_ns, end_ns - DAY_NS)
    w = f"time >= {lo} AND time <= {end_ns}"
    g = f"GROUP BY time(10m) tz('{tz}')"
    return [
        ("dash_traffic", f"SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE {w} AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2') {g}"),
        ("dash_wifi_clients", f"SELECT COUNT(DISTINCT(clients)) AS wifi_clients FROM wifi_clients WHERE {w} {g}"),
        ("dash_uptime", f"SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE {w} {g}"),
    ]


def cmd_charts(a):
    c = conn_for(a.url)
    qs = [(n, a.year_db, q) for n, q in chart_queries(a.device, a.year_start, a.year_days, a.tz)]
    if a.fleet_db:
        qs += [(n, a.fleet_db, q) for n, q in dashboard_queries(a.fleet_start, a.fleet_days, a.tz)]
    if a.only:
        qs = [x for x in qs if x[0].endswith(a.only)]
    res = {}
    for name, db, q in qs:
        run_query(c, db, q)  # warm-up, and a check that it answers
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            run_query(c, db, q)
            times.append((time.perf_counter() - t0) * 1000)
        res[name] = statistics.median(times)
    out(**{f"q_{k}": f"{v:.2f}" for k, v in res.items()})
    return 0


def cmd_rss(a):
    out(
        **{
            f"{a.prefix}rss_kib": status_kib(a.pid, "VmRSS"),
            f"{a.prefix}hwm_kib": status_kib(a.pid, "VmHWM"),
        }
    )


def cmd_du(a):
    print(sum(tree(a.dirs).values()))


def cmd_sizes(a):
    """Apparent bytes, split into TSM files, WAL segments, the series file and the rest."""
    parts = {"total": 0, "tsm": 0, "wal": 0, "series": 0, "other": 0}
    for p, size in tree(a.dirs).items():
        parts["total"] += size
        if p.endswith(".tsm"):
            parts["tsm"] += size
        elif p.endswith(".wal"):
            parts["wal"] += size
        elif f"{os.sep}_series{os.sep}" in p:
            parts["series"] += size
        else:
            parts["other"] += size
    out(**{f"{a.prefix}{k}": v for k, v in parts.items()})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    s = sub.add_parser("wait-ping")
    s.add_argument("--url", required=True)
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("exec")
    s.add_argument("--url", required=True)
    s.add_argument("--db", default="")
    s.add_argument("--q", required=True)
    s.add_argument("--print", action="store_true")
    s = sub.add_parser("load")
    s.add_argument("--url", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--lp", required=True)
    s.add_argument("--devices", type=int, required=True)
    s.add_argument("--batch-devices", type=int, default=200)
    s.add_argument("--clients", type=int, default=1)
    s.add_argument("--pid", type=int, default=0, help="influxd PID, for its CPU time")
    s = sub.add_parser("query")
    s.add_argument("--url", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--lp", required=True)
    s.add_argument("--days", type=float, required=True)
    s.add_argument("--runs", type=int, default=20)
    s.add_argument("--start-ns", type=int, default=START_NS)
    s = sub.add_parser("wait-compaction")
    s.add_argument("--url", required=True)
    s.add_argument("--dirs", nargs="+", required=True)
    s.add_argument("--stable", type=float, default=30)
    s.add_argument("--timeout", type=float, default=1800)
    s.add_argument("--verbose", action="store_true")
    s = sub.add_parser("load-lines")
    s.add_argument("--url", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--lp", required=True)
    s.add_argument("--lines", type=int, default=5000)
    s.add_argument("--clients", type=int, default=2)
    s.add_argument("--pid", type=int, default=0)
    s = sub.add_parser("charts")
    s.add_argument("--url", required=True)
    s.add_argument("--device", required=True)
    s.add_argument("--year-db", required=True)
    s.add_argument("--year-start", type=int, default=START_NS)
    s.add_argument("--year-days", type=float, required=True)
    s.add_argument("--fleet-db", help="without it, no dashboard-wide queries")
    s.add_argument("--fleet-start", type=int, default=START_NS)
    s.add_argument("--fleet-days", type=float, default=0.25)
    s.add_argument("--only", help="only the queries whose name ends with this, e.g. 365d")
    s.add_argument("--runs", type=int, default=7)
    s.add_argument("--tz", default="Europe/Rome")
    s = sub.add_parser("rss")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--prefix", default="")
    s = sub.add_parser("sizes")
    s.add_argument("--prefix", default="")
    s.add_argument("dirs", nargs="+")
    s = sub.add_parser("du")
    s.add_argument("dirs", nargs="+")
    a = p.parse_args()
    fn = globals()["cmd_" + a.cmd.replace("-", "_")]
    return fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
