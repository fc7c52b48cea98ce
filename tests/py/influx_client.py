#!/usr/bin/env python3
"""Drives an InfluxDB-1.x-compatible server with the real `influxdb` client from PyPI.

It makes the calls OpenWISP Monitoring's timeseries backend makes (database and retention
policy set-up at start, `write_points` of dict points with ISO or epoch times, per-point
retention policy, line protocol, the chart/metric SELECTs, SHOW statements, DROP SERIES)
and checks the exact answers, as Debian's InfluxDB 1.6.7 gives them (the expectations were
verified against it).

    python3 tests/py/influx_client.py --url http://127.0.0.1:8086

Prints one `ok   <step>` line per passed step; on the first failure it prints the step, what
was expected, what came back and the server's last HTTP answer, and exits 1. With
`--keep-going` it runs every step and lists the failures at the end (later steps may then
fail only because an earlier one did). Exit code 2 means the `influxdb` module is missing.
"""

import argparse
import json
import os
import sys
import time
import traceback
import urllib.parse
from datetime import datetime, timezone

try:
    import influxdb
    from influxdb import InfluxDBClient
    from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError
except ImportError as exc:  # the Rust test turns this into a skip (or a failure in CI)
    print("SKIPPED: python module `influxdb` is not installed (%s)" % exc, file=sys.stderr)
    sys.exit(2)


class StepFailed(Exception):
    pass


# ----------------------------------------------------------------------------------------
# Helpers


def iso(ts, micro=True):
    """A UTC ISO-8601 string like OpenWISP sends: `2024-05-08T10:00:00.000000+00:00`."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    if micro:
        return dt.isoformat(sep="T", timespec="microseconds")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc(ts):
    """How InfluxDB returns a whole-second time without `epoch`: `2024-05-08T10:00:00Z`."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def same(a, b):
    """Exact equality, except that JSON cannot tell 2 from 2.0; bools are never numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def expect(what, got, want):
    if not same(got, want):
        raise StepFailed(
            "%s:\n  expected %s\n  got      %s"
            % (what, json.dumps(want, sort_keys=True), json.dumps(got, sort_keys=True))
        )


def series_of(rs):
    """The series of a ResultSet as plain data: (name, tags, columns, values), in order."""
    out = []
    for s in rs.raw.get("series", []):
        out.append(
            {
                "name": s.get("name"),
                "tags": s.get("tags"),
                "columns": s.get("columns"),
                "values": s.get("values", []),
            }
        )
    return out


def expect_series(what, rs, want):
    got = series_of(rs)
    norm = [
        {
            "name": w.get("name"),
            "tags": w.get("tags"),
            "columns": w["columns"],
            "values": w["values"],
        }
        for w in want
    ]
    expect(what, got, norm)


def expect_client_error(what, fn, code, contains=None, exact=None):
    try:
        fn()
    except InfluxDBClientError as e:
        if e.code != code:
            raise StepFailed(
                "%s: expected InfluxDBClientError code %r, got code %r: %s"
                % (what, code, e.code, e.content)
            )
        if contains is not None and contains not in e.content:
            raise StepFailed("%s: expected %r in the error, got %r" % (what, contains, e.content))
        if exact is not None and e.content.strip() != exact:
            raise StepFailed("%s: expected error %r, got %r" % (what, exact, e.content))
        return e
    except InfluxDBServerError as e:
        raise StepFailed("%s: expected InfluxDBClientError, got InfluxDBServerError %s" % (what, e))
    raise StepFailed("%s: expected InfluxDBClientError (code %r), but the call succeeded" % (what, code))


class Recorder:
    """Wraps the client's requests session to keep the last HTTP exchange for failure reports."""

    def __init__(self, session):
        self.last = None
        self._orig = session.request
        session.request = self._request

    def _request(self, method, url, **kw):
        params = kw.get("params") or {}
        shown = url + ("?" + urllib.parse.urlencode(params) if params else "")
        body = kw.get("data")
        try:
            resp = self._orig(method, url, **kw)
        except Exception as e:
            self.last = "%s %s -> %r" % (method, shown, e)
            raise
        ctype = resp.headers.get("Content-Type", "")
        if "msgpack" in ctype and resp.content:
            import msgpack

            try:
                text = "(msgpack) " + json.dumps(
                    msgpack.unpackb(resp.content, raw=False, ext_hook=lambda c, d: "ext%d:%s" % (c, d.hex()))
                )
            except Exception:
                text = "(msgpack) %r" % resp.content[:2000]
        else:
            text = resp.content.decode("utf-8", "replace")
        req = ""
        if body:
            b = body if isinstance(body, str) else body.decode("utf-8", "replace")
            req = "\n    request body: %s" % b[:2000].rstrip("\n").replace("\n", "\\n")
        self.last = "%s %s%s\n    -> %d %s\n    %s" % (
            method,
            shown,
            req,
            resp.status_code,
            ctype,
            text[:4000].rstrip("\n"),
        )
        return resp


# ----------------------------------------------------------------------------------------
# The scenario


# Where wispmon deliberately answers otherwise than InfluxDB 1.x (checked with --wispmon):
WISPMON_DEPARTURES = {
    "show_field_keys": "SHOW FIELD KEYS without FROM lists the measurements of every retention "
    "policy, not only the default one's (wispmon's measurement catalog is per database).",
}


class Scenario:
    wispmon = False

    def __init__(self, url, accept=None):
        u = urllib.parse.urlparse(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SystemExit("--url must look like http://127.0.0.1:8086")
        self.client = InfluxDBClient(
            host=u.hostname,
            port=u.port or 8086,
            ssl=u.scheme == "https",
            timeout=30,
            retries=1,
            # OpenWISP leaves the client's default, `Accept: application/x-msgpack`.
            headers={"Accept": accept} if accept else None,
        )
        self.rec = Recorder(self.client._session)
        tag = "%d_%d" % (os.getpid(), int(time.time()))
        # OpenWISP's database is `openwisp2`; unique names keep runs apart.
        self.db = "openwisp2_pyclient_%s" % tag
        self.db_inf = "pyclient_inf_%s" % tag
        self.dev1 = "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33"
        self.dev2 = "0f7e1d2c-3b4a-4596-8877-665544332211"
        self.org = "a1b2c3d4-0000-4000-8000-000000000001"
        now = int(time.time())
        # Hour-aligned, 3 hours ago: inside both `autogen` (26280h) and `short` (24h).
        self.t0 = now // 3600 * 3600 - 3 * 3600
        self.now = now
        # Absolute times for the database that keeps `autogen` infinite.
        self.a0 = int(datetime(2024, 5, 8, tzinfo=timezone.utc).timestamp())

    # -- set-up, like OpenWISP's `create_database` at start ------------------------------

    def step_ping(self):
        v = self.client.ping()
        if not isinstance(v, str) or not v:
            raise StepFailed("ping: expected a version string in X-Influxdb-Version, got %r" % (v,))
        return "version %s" % v

    def step_create_database(self):
        self.client.create_database(self.db)
        self.client.create_database(self.db)  # idempotent: OpenWISP creates it at every start
        self.client.create_database(self.db_inf)

    def step_get_list_database(self):
        dbs = self.client.get_list_database()
        for name in (self.db, self.db_inf):
            if {"name": name} not in dbs:
                raise StepFailed("get_list_database: %r missing from %r" % (name, dbs))
        for d in dbs:
            expect("get_list_database entry keys", sorted(d), ["name"])

    def step_switch_database(self):
        self.client.switch_database(self.db)
        expect("client database", self.client._database, self.db)

    def step_create_retention_policy(self):
        # The exact statement OpenWISP sends: ... DURATION 24h0m0s REPLICATION 1 SHARD DURATION 0s
        self.client.create_retention_policy("short", "24h0m0s", 1, database=self.db, shard_duration="0s")
        # Creating the same policy again is a no-op ...
        self.client.create_retention_policy("short", "24h0m0s", 1, database=self.db, shard_duration="0s")
        # ... a different one with the same name is an error (in the result, so no HTTP code).
        expect_client_error(
            "create_retention_policy with another duration",
            lambda: self.client.create_retention_policy("short", "48h0m0s", 1, database=self.db),
            None,
            exact="retention policy already exists",
        )

    def step_alter_retention_policy(self):
        # OpenWISP ALTERs every existing policy at start.
        self.client.alter_retention_policy("autogen", database=self.db, duration="26280h0m0s")
        self.client.alter_retention_policy("short", database=self.db, duration="24h0m0s")

    def step_get_list_retention_policies(self):
        rps = self.client.get_list_retention_policies(self.db)
        expect(
            "SHOW RETENTION POLICIES on the OpenWISP-like database",
            rps,
            [
                {
                    "name": "autogen",
                    "duration": "26280h0m0s",
                    "shardGroupDuration": "168h0m0s",
                    "replicaN": 1,
                    "default": True,
                },
                {
                    "name": "short",
                    "duration": "24h0m0s",
                    "shardGroupDuration": "1h0m0s",
                    "replicaN": 1,
                    "default": False,
                },
            ],
        )
        expect(
            "SHOW RETENTION POLICIES on a fresh database",
            self.client.get_list_retention_policies(self.db_inf),
            [
                {
                    "name": "autogen",
                    "duration": "0s",
                    "shardGroupDuration": "168h0m0s",
                    "replicaN": 1,
                    "default": True,
                }
            ],
        )

    # -- writes ------------------------------------------------------------------------

    def _ping_points(self):
        ct = "config.device"
        t0 = self.t0
        return [
            # ISO strings with microseconds and +00:00, as OpenWISP formats datetimes.
            {
                "measurement": "ping",
                "tags": {"content_type": ct, "object_id": self.dev1},
                "fields": {"reachable": 1, "loss": 0.0, "rtt_min": 0.5, "rtt_avg": 1.25, "rtt_max": 2.0},
                "time": iso(t0),
            },
            {
                "measurement": "ping",
                "tags": {"content_type": ct, "object_id": self.dev1},
                "fields": {"reachable": 0, "loss": 100.0},
                "time": iso(t0 + 600),
            },
            {
                "measurement": "ping",
                "tags": {"content_type": ct, "object_id": self.dev2},
                "fields": {"reachable": 1, "loss": 25.0, "rtt_min": 3.0, "rtt_avg": 3.5, "rtt_max": 4.0},
                "time": iso(t0 + 300),
            },
            {
                "measurement": "ping",
                "tags": {"content_type": ct, "object_id": self.dev1},
                "fields": {"reachable": 1, "loss": 12.5, "rtt_min": 1.0, "rtt_avg": 2.5, "rtt_max": 4.0},
                "time": iso(t0 + 1200),
            },
        ]

    def step_write_points_iso_times(self):
        ok = self.client.write_points(self._ping_points())
        expect("write_points return value", ok, True)

    def step_write_points_epoch_seconds(self):
        pts = [
            {
                "measurement": "cpu",
                "tags": {"content_type": "config.device", "object_id": self.dev1},
                "fields": {"cpu_usage": 0.25, "load_1": 0.5, "load_5": 0.75, "load_15": 1.0},
                "time": self.t0 + 60,
            },
            {
                "measurement": "cpu",
                "tags": {"content_type": "config.device", "object_id": self.dev1},
                "fields": {"cpu_usage": 0.5, "load_1": 1.5, "load_5": 1.25, "load_15": 1.0},
                "time": self.t0 + 120,
            },
        ]
        self.client.write_points(pts, time_precision="s")

    def step_write_points_epoch_ms(self):
        pts = [
            {
                "measurement": "memory",
                "tags": {"content_type": "config.device", "object_id": self.dev1},
                "fields": {
                    "percent_used": 37.5,
                    "total_memory": 128000000,
                    "free_memory": 80000000,
                    "buffered_memory": 0,
                },
                "time": (self.t0 + 120) * 1000 + 250,
            }
        ]
        self.client.write_points(pts, time_precision="ms", database=self.db)

    def step_write_points_retention_policy_short(self):
        self.snap1 = json.dumps({"type": "DeviceMonitoring", "general": {"hostname": "r1"}}, separators=(",", ":"))
        # A string field with quotes, a backslash and a newline.
        self.snap2 = json.dumps(
            {"type": "DeviceMonitoring", "general": {"hostname": 'r1 "main"', "path": "C:\\x", "n": "a\nb"}},
            separators=(",", ":"),
        )
        pts = [
            {"measurement": "device_data", "tags": {"pk": self.dev1}, "fields": {"data": self.snap1}, "time": iso(self.now - 1800)},
            {"measurement": "device_data", "tags": {"pk": self.dev1}, "fields": {"data": self.snap2}, "time": iso(self.now - 900)},
            {
                "measurement": "config_applied",
                "tags": {"content_type": "config.device", "object_id": self.dev1},
                "fields": {"config_applied": 1},
                "time": iso(self.now - 900),
            },
        ]
        self.client.write_points(pts, retention_policy="short")

    def step_write_points_batch_size_and_shared_tags(self):
        pts = []
        for i in range(5):
            pts.append(
                {
                    "measurement": "traffic",
                    "tags": {"ifname": "eth0" if i % 2 == 0 else "wan"},
                    "fields": {"rx_bytes": 1000000000 * (i + 1), "tx_bytes": 500000000 * (i + 1)},
                    "time": self.t0 + 60 * i,
                }
            )
        # 5 points in batches of 2: three HTTP writes.
        self.client.write_points(
            pts,
            time_precision="s",
            batch_size=2,
            tags={"content_type": "config.device", "object_id": self.dev1, "organization_id": self.org},
        )

    def step_write_line_protocol(self):
        t = self.t0
        lines = [
            'wifi_clients,content_type=config.device,ifname=wlan0,object_id=%s clients="00:11:22:33:44:55" %d' % (self.dev1, t + 10),
            'wifi_clients,content_type=config.device,ifname=wlan0,object_id=%s clients="00:11:22:33:44:66" %d' % (self.dev1, t + 10),
            'wifi_clients,content_type=config.device,ifname=wlan1,object_id=%s clients="00:11:22:33:44:55" %d' % (self.dev1, t + 20),
            'wifi_clients,content_type=config.device,ifname=wlan0,object_id=%s clients="00:11:22:33:44:77" %d' % (self.dev1, t + 30),
        ]
        # client.write(protocol='line') takes the parameters as a dict; the second line has the
        # series and time of the first, so it replaces it ...
        self.client.write(lines[:2], params={"db": self.db, "precision": "s"}, protocol="line")
        # ... write_points(protocol='line') takes a list of strings.
        self.client.write_points(lines[2:], time_precision="s", protocol="line")

    def step_write_points_booleans(self):
        pts = [
            {"measurement": "checks", "tags": {"object_id": self.dev1}, "fields": {"ok": True, "n": 1}, "time": self.t0 + 1},
            {"measurement": "checks", "tags": {"object_id": self.dev1}, "fields": {"ok": False, "n": 2}, "time": self.t0 + 2},
        ]
        self.client.write_points(pts, time_precision="s")

    def step_write_field_type_conflict_is_400(self):
        pt = [
            {
                "measurement": "ping",
                "tags": {"content_type": "config.device", "object_id": self.dev1},
                "fields": {"reachable": 0.5},
                "time": iso(self.t0 + 1800),
            }
        ]
        expect_client_error(
            "field type conflict",
            lambda: self.client.write_points(pt),
            400,
            contains='field type conflict: input field \\"reachable\\" on measurement \\"ping\\" is type float, already exists as type integer dropped=1',
        )

    def step_write_missing_database_is_404(self):
        expect_client_error(
            "write to a missing database",
            lambda: self.client.write_points([{"measurement": "m", "fields": {"v": 1}}], database="nosuchdb_pyclient"),
            404,
            exact='{"error":"database not found: \\"nosuchdb_pyclient\\""}',
        )

    def step_write_beyond_retention_is_400(self):
        old = [{"measurement": "device_data", "tags": {"pk": self.dev2}, "fields": {"data": "{}"}, "time": iso(self.now - 2 * 86400)}]
        expect_client_error(
            "write beyond the `short` policy",
            lambda: self.client.write_points(old, retention_policy="short"),
            400,
            exact='{"error":"partial write: points beyond retention policy dropped=1"}',
        )

    def step_write_missing_retention_policy_is_server_error(self):
        self._expect_rp_not_found("nosuchrp")

    def _expect_rp_not_found(self, rp):
        # OpenWISP retries InfluxDBServerError; InfluxDB answers 500 here.
        try:
            self.client.write_points([{"measurement": "m", "fields": {"v": 1}}], retention_policy=rp)
        except InfluxDBServerError as e:
            text = e.args[0]
            if isinstance(text, bytes):  # InfluxDBServerError keeps the raw body
                text = text.decode("utf-8", "replace")
            expect("error text", text.strip(), '{"error":"retention policy not found: %s"}' % rp)
            return
        except InfluxDBClientError as e:
            raise StepFailed("expected InfluxDBServerError, got InfluxDBClientError %s" % e)
        raise StepFailed("expected InfluxDBServerError, but the write succeeded")

    def step_write_points_absolute_times(self):
        a = self.a0
        ct = "config.device"
        pts = []
        # 2024-05-08 00:00..00:45 reachable, 01:xx half, 02:xx nothing, 03:xx all down.
        for m, r in [(0, 1), (15, 1), (30, 1), (45, 1), (60, 1), (90, 0), (180, 0), (230, 0)]:
            f = {"reachable": r, "loss": 0.0 if r else 100.0}
            if r:
                f.update({"rtt_min": 1.0 + m / 60, "rtt_avg": 2.0 + m / 60, "rtt_max": 4.0 + m / 15})
            pts.append({"measurement": "ping", "tags": {"content_type": ct, "object_id": self.dev1}, "fields": f, "time": iso(a + m * 60)})
        # Days around midnight in Rome (UTC+2 in May): 2024-05-07 21:30Z is the 7th there,
        # 22:30Z is already the 8th.
        pts.append({"measurement": "traffic", "tags": {"ifname": "wan"}, "fields": {"tx_bytes": 1000000000, "rx_bytes": 1}, "time": iso(a - 9000)})
        pts.append({"measurement": "traffic", "tags": {"ifname": "wan"}, "fields": {"tx_bytes": 2000000000, "rx_bytes": 2}, "time": iso(a - 5400)})
        pts.append({"measurement": "traffic", "tags": {"ifname": "wan"}, "fields": {"tx_bytes": 4000000000, "rx_bytes": 4}, "time": iso(a + 86400)})
        # µs-distinct points of one series are two points.
        pts.append({"measurement": "micro", "fields": {"v": 1}, "time": "2024-05-08T00:00:00.000001+00:00"})
        pts.append({"measurement": "micro", "fields": {"v": 2}, "time": "2024-05-08T00:00:00.000002+00:00"})
        self.client.write_points(pts, database=self.db_inf, batch_size=5)

    # -- metadata ------------------------------------------------------------------------

    def step_get_list_measurements(self):
        expect(
            "get_list_measurements",
            self.client.get_list_measurements(),
            [{"name": n} for n in ["checks", "config_applied", "cpu", "device_data", "memory", "ping", "traffic", "wifi_clients"]],
        )

    def step_show_measurements_other_database(self):
        rs = self.client.query("SHOW MEASUREMENTS", database=self.db_inf)
        expect_series(
            "SHOW MEASUREMENTS",
            rs,
            [{"name": "measurements", "columns": ["name"], "values": [["micro"], ["ping"], ["traffic"]]}],
        )

    def step_show_field_keys(self):
        rs = self.client.query("SHOW FIELD KEYS")
        # Without FROM: the measurements of the default policy only (InfluxDB 1.x). wispmon
        # departs (WISPMON_DEPARTURES): its catalog of measurements is per database, so the
        # `short` policy's measurements are listed too.
        ck = ["fieldKey", "fieldType"]
        extra = []
        if self.wispmon:
            extra = [
                {"name": "config_applied", "columns": ck, "values": [["config_applied", "integer"]]},
                {"name": "device_data", "columns": ck, "values": [["data", "string"]]},
            ]
        expect_series(
            "SHOW FIELD KEYS",
            rs,
            sorted(
            [
                {"name": "checks", "columns": ck, "values": [["n", "integer"], ["ok", "boolean"]]},
                {"name": "cpu", "columns": ck, "values": [["cpu_usage", "float"], ["load_1", "float"], ["load_15", "float"], ["load_5", "float"]]},
                {
                    "name": "memory",
                    "columns": ck,
                    "values": [["buffered_memory", "integer"], ["free_memory", "integer"], ["percent_used", "float"], ["total_memory", "integer"]],
                },
                {
                    "name": "ping",
                    "columns": ck,
                    "values": [["loss", "float"], ["reachable", "integer"], ["rtt_avg", "float"], ["rtt_max", "float"], ["rtt_min", "float"]],
                },
                {"name": "traffic", "columns": ck, "values": [["rx_bytes", "integer"], ["tx_bytes", "integer"]]},
                {"name": "wifi_clients", "columns": ck, "values": [["clients", "string"]]},
            ]
            + extra,
            key=lambda x: x["name"],
            ),
        )
        expect(
            "get_points(measurement='ping') of SHOW FIELD KEYS",
            list(rs.get_points(measurement="ping"))[:2],
            [{"fieldKey": "loss", "fieldType": "float"}, {"fieldKey": "reachable", "fieldType": "integer"}],
        )

    def step_show_field_keys_from(self):
        rs = self.client.query("SHOW FIELD KEYS FROM ping")
        expect(
            "SHOW FIELD KEYS FROM ping",
            list(rs.get_points()),
            [
                {"fieldKey": "loss", "fieldType": "float"},
                {"fieldKey": "reachable", "fieldType": "integer"},
                {"fieldKey": "rtt_avg", "fieldType": "float"},
                {"fieldKey": "rtt_max", "fieldType": "float"},
                {"fieldKey": "rtt_min", "fieldType": "float"},
            ],
        )

    def step_show_tag_keys_from(self):
        rs = self.client.query('SHOW TAG KEYS FROM "traffic"')
        expect_series(
            "SHOW TAG KEYS FROM traffic",
            rs,
            [{"name": "traffic", "columns": ["tagKey"], "values": [["content_type"], ["ifname"], ["object_id"], ["organization_id"]]}],
        )

    def step_show_tag_values(self):
        rs = self.client.query('SHOW TAG VALUES WITH KEY = "object_id"')
        kv = ["key", "value"]
        one = [["object_id", self.dev1]]
        expect_series(
            'SHOW TAG VALUES WITH KEY = "object_id"',
            rs,
            [
                {"name": "checks", "columns": kv, "values": one},
                {"name": "config_applied", "columns": kv, "values": one},
                {"name": "cpu", "columns": kv, "values": one},
                {"name": "memory", "columns": kv, "values": one},
                {"name": "ping", "columns": kv, "values": sorted([["object_id", self.dev1], ["object_id", self.dev2]])},
                {"name": "traffic", "columns": kv, "values": one},
                {"name": "wifi_clients", "columns": kv, "values": one},
            ],
        )
        expect(
            "get_points(measurement='ping')",
            list(rs.get_points(measurement="ping")),
            [{"key": "object_id", "value": v} for v in sorted([self.dev1, self.dev2])],
        )

    def step_show_tag_values_from_in(self):
        rs = self.client.query('SHOW TAG VALUES FROM "traffic" WITH KEY IN ("ifname", "organization_id")')
        expect_series(
            "SHOW TAG VALUES FROM traffic WITH KEY IN (...)",
            rs,
            [{"name": "traffic", "columns": ["key", "value"], "values": [["ifname", "eth0"], ["ifname", "wan"], ["organization_id", self.org]]}],
        )

    def step_get_list_series(self):
        got = self.client.get_list_series(measurement="ping")
        want = sorted("ping,content_type=config.device,object_id=%s" % d for d in (self.dev1, self.dev2))
        expect("get_list_series(measurement='ping') (SHOW SERIES FROM \"ping\")", got, want)
        got = self.client.get_list_series(measurement="traffic", tags={"ifname": "wan"})
        expect(
            "get_list_series(measurement='traffic', tags={'ifname': 'wan'})",
            got,
            ["traffic,content_type=config.device,ifname=wan,object_id=%s,organization_id=%s" % (self.dev1, self.org)],
        )

    # -- SELECT --------------------------------------------------------------------------

    def _ping_dev1_rows(self, t):
        t0 = self.t0
        return [
            [t(t0), "config.device", 0.0, self.dev1, 1, 1.25, 2.0, 0.5],
            [t(t0 + 600), "config.device", 100.0, self.dev1, 0, None, None, None],
            [t(t0 + 1200), "config.device", 12.5, self.dev1, 1, 2.5, 4.0, 1.0],
        ]

    PING_COLUMNS = ["time", "content_type", "loss", "object_id", "reachable", "rtt_avg", "rtt_max", "rtt_min"]

    def _raw_select(self):
        return (
            "SELECT * FROM ping WHERE time >= '%s' AND content_type = 'config.device' AND object_id = '%s'"
            % (iso(self.t0), self.dev1)
        )

    def step_select_raw_rfc3339(self):
        rs = self.client.query(self._raw_select())
        expect_series("SELECT * (no epoch)", rs, [{"name": "ping", "columns": self.PING_COLUMNS, "values": self._ping_dev1_rows(rfc)}])
        expect(
            "get_points()[0]",
            list(rs.get_points())[0],
            {
                "time": rfc(self.t0),
                "content_type": "config.device",
                "loss": 0.0,
                "object_id": self.dev1,
                "reachable": 1,
                "rtt_avg": 1.25,
                "rtt_max": 2.0,
                "rtt_min": 0.5,
            },
        )

    def step_select_raw_epoch_s(self):
        rs = self.client.query(self._raw_select(), epoch="s")
        expect_series("SELECT * (epoch=s)", rs, [{"name": "ping", "columns": self.PING_COLUMNS, "values": self._ping_dev1_rows(lambda x: x)}])

    def step_select_fields_epoch_ms(self):
        rs = self.client.query(
            "SELECT percent_used, total_memory FROM memory WHERE time >= '%s' AND object_id = '%s'" % (iso(self.t0), self.dev1),
            epoch="ms",
        )
        expect_series(
            "SELECT fields FROM memory (epoch=ms)",
            rs,
            [{"name": "memory", "columns": ["time", "percent_used", "total_memory"], "values": [[(self.t0 + 120) * 1000 + 250, 37.5, 128000000]]}],
        )

    def step_select_order_by_time_desc_limit_1(self):
        rs = self.client.query(
            "SELECT reachable, loss FROM ping WHERE time >= '%s' AND content_type = 'config.device' AND object_id = '%s' ORDER BY time DESC LIMIT 1"
            % (iso(self.t0), self.dev1),
            epoch="s",
        )
        expect_series(
            "ORDER BY time DESC LIMIT 1",
            rs,
            [{"name": "ping", "columns": ["time", "reachable", "loss"], "values": [[self.t0 + 1200, 1, 12.5]]}],
        )

    def step_select_latest_device_snapshot(self):
        # OpenWISP's device-data read, without epoch.
        rs = self.client.query("SELECT data FROM short.device_data WHERE pk = '%s' ORDER BY time DESC LIMIT 1" % self.dev1)
        expect(
            "latest device_data",
            list(rs.get_points(measurement="device_data")),
            [{"time": rfc(self.now - 900), "data": self.snap2}],
        )

    def step_select_with_bind_params(self):
        rs = self.client.query(
            "SELECT loss FROM ping WHERE object_id = $obj AND time >= $start AND loss > $min",
            bind_params={"obj": self.dev1, "start": iso(self.t0), "min": 5},
            epoch="s",
        )
        expect_series(
            "bind_params",
            rs,
            [{"name": "ping", "columns": ["time", "loss"], "values": [[self.t0 + 600, 100.0], [self.t0 + 1200, 12.5]]}],
        )

    def step_select_group_by_tag_get_points_filter(self):
        rs = self.client.query(
            "SELECT MEAN(loss) AS loss, COUNT(reachable) FROM ping WHERE time >= '%s' AND time < '%s' GROUP BY object_id"
            % (iso(self.t0), iso(self.t0 + 3600)),
            epoch="s",
        )
        expect_series(
            "GROUP BY object_id",
            rs,
            [
                {"name": "ping", "tags": {"object_id": d}, "columns": ["time", "loss", "count"], "values": [[self.t0, l, c]]}
                for d, l, c in sorted([(self.dev1, 112.5 / 3, 3), (self.dev2, 25.0, 1)])
            ],
        )
        expect(
            "get_points(measurement='ping', tags={'object_id': dev2})",
            list(rs.get_points(measurement="ping", tags={"object_id": self.dev2})),
            [{"time": self.t0, "loss": 25.0, "count": 1}],
        )
        expect("get_points(measurement='other')", list(rs.get_points(measurement="other")), [])
        expect(
            "keys()",
            rs.keys(),
            [("ping", {"object_id": d}) for d in sorted([self.dev1, self.dev2])],
        )

    def step_select_multiple_measurements_limit_1(self):
        # OpenWISP's DataCollected check.
        rs = self.client.query(
            "SELECT * FROM cpu,memory,wifi_clients WHERE time >= '%s' AND content_type = 'config.device' AND object_id = '%s' LIMIT 1"
            % (iso(self.t0), self.dev1),
            epoch="s",
        )
        t0, d, ct = self.t0, self.dev1, "config.device"
        # Every series gets the union of the columns of all the measurements.
        cols = [
            "time",
            "buffered_memory",
            "clients",
            "content_type",
            "cpu_usage",
            "free_memory",
            "ifname",
            "load_1",
            "load_15",
            "load_5",
            "object_id",
            "percent_used",
            "total_memory",
        ]
        expect_series(
            "SELECT * FROM cpu,memory,wifi_clients LIMIT 1",
            rs,
            [
                {"name": "cpu", "columns": cols, "values": [[t0 + 60, None, None, ct, 0.25, None, None, 0.5, 1.0, 0.75, d, None, None]]},
                {"name": "memory", "columns": cols, "values": [[t0 + 120, 0, None, ct, None, 80000000, None, None, None, None, d, 37.5, 128000000]]},
                {
                    "name": "wifi_clients",
                    "columns": cols,
                    "values": [[t0 + 10, None, "00:11:22:33:44:66", ct, None, None, "wlan0", None, None, None, d, None, None]],
                },
            ],
        )

    def step_select_same_series_same_time_replaced(self):
        rs = self.client.query("SELECT clients, ifname FROM wifi_clients WHERE time >= '%s'" % iso(self.t0), epoch="s")
        t0 = self.t0
        expect_series(
            "wifi_clients points",
            rs,
            [
                {
                    "name": "wifi_clients",
                    "columns": ["time", "clients", "ifname"],
                    "values": [[t0 + 10, "00:11:22:33:44:66", "wlan0"], [t0 + 20, "00:11:22:33:44:55", "wlan1"], [t0 + 30, "00:11:22:33:44:77", "wlan0"]],
                }
            ],
        )

    def step_select_count_distinct(self):
        rs = self.client.query(
            "SELECT COUNT(DISTINCT(clients)) FROM wifi_clients WHERE time >= '%s' AND content_type = 'config.device' AND object_id = '%s'"
            % (iso(self.t0), self.dev1),
            epoch="s",
        )
        expect_series("COUNT(DISTINCT(clients))", rs, [{"name": "wifi_clients", "columns": ["time", "count"], "values": [[self.t0, 3]]}])

    def step_select_sum_arithmetic_group_by_time(self):
        # The dashboard traffic chart: SUM(...) / 1000000000 AS alias, GROUP BY time(1h), OR group.
        rs = self.client.query(
            "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic "
            "WHERE time >= '%s' AND time <= '%s'  AND (ifname = 'wan' OR ifname = 'eth0') GROUP BY time(1h)"
            % (iso(self.t0), iso(self.t0 + 7199)),
            epoch="s",
        )
        expect_series(
            "traffic SUM GROUP BY time(1h)",
            rs,
            [{"name": "traffic", "columns": ["time", "upload", "download"], "values": [[self.t0, 7.5, 15.0], [self.t0 + 3600, None, None]]}],
        )

    def step_select_booleans(self):
        rs = self.client.query("SELECT ok, n FROM checks WHERE time >= '%s'" % iso(self.t0), epoch="s")
        expect_series(
            "SELECT boolean field",
            rs,
            [{"name": "checks", "columns": ["time", "ok", "n"], "values": [[self.t0 + 1, True, 1], [self.t0 + 2, False, 2]]}],
        )

    def step_select_mean_group_by_time_absolute(self):
        # The uptime chart, on the database that keeps `autogen` infinite (absolute 2024 times).
        q = (
            "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08 00:00:00' AND time <= '2024-05-08 03:59:59' "
            " AND content_type = 'config.device' AND object_id = '%s' GROUP BY time(1h)" % self.dev1
        )
        a = self.a0
        rs = self.client.query(q, database=self.db_inf, epoch="s")
        expect_series(
            "MEAN(reachable)*100 GROUP BY time(1h) (epoch=s)",
            rs,
            [{"name": "ping", "columns": ["time", "uptime"], "values": [[a, 100.0], [a + 3600, 50.0], [a + 7200, None], [a + 10800, 0.0]]}],
        )
        rs = self.client.query(q, database=self.db_inf)
        expect(
            "MEAN(reachable)*100 GROUP BY time(1h) (no epoch) get_points()",
            list(rs.get_points()),
            [
                {"time": "2024-05-08T00:00:00Z", "uptime": 100.0},
                {"time": "2024-05-08T01:00:00Z", "uptime": 50.0},
                {"time": "2024-05-08T02:00:00Z", "uptime": None},
                {"time": "2024-05-08T03:00:00Z", "uptime": 0.0},
            ],
        )

    def step_select_several_aggregates_count_fill(self):
        q = (
            "SELECT MEAN(rtt_avg) AS RTT_average, MAX(rtt_max) AS RTT_max, MIN(rtt_min) AS RTT_min, COUNT(loss) AS n FROM ping "
            "WHERE time >= '2024-05-08' AND time < '2024-05-08T04:00:00Z' AND content_type = 'config.device' AND object_id = '%s' GROUP BY time(2h)"
            % self.dev1
        )
        a = self.a0
        rs = self.client.query(q, database=self.db_inf, epoch="s")
        expect_series(
            "MEAN/MAX/MIN/COUNT GROUP BY time(2h)",
            rs,
            [
                {
                    "name": "ping",
                    "columns": ["time", "RTT_average", "RTT_max", "RTT_min", "n"],
                    "values": [[a, 2.5, 8.0, 1.0, 6], [a + 7200, None, None, None, 2]],
                }
            ],
        )
        # COUNT fills empty buckets with 0, MEAN with null.
        rs = self.client.query(
            "SELECT COUNT(reachable) FROM ping WHERE time >= '2024-05-08' AND time <= '2024-05-08 03:59:59' GROUP BY time(1h)",
            database=self.db_inf,
            epoch="s",
        )
        expect_series(
            "COUNT GROUP BY time(1h)",
            rs,
            [{"name": "ping", "columns": ["time", "count"], "values": [[a, 4], [a + 3600, 2], [a + 7200, 0], [a + 10800, 2]]}],
        )

    def step_select_group_by_time_1d_tz(self):
        rs = self.client.query(
            "SELECT SUM(tx_bytes) / 1000000000 AS upload FROM traffic WHERE time >= '2024-05-07' AND time < '2024-05-10' "
            "GROUP BY time(1d) tz('Europe/Rome')",
            database=self.db_inf,
            epoch="s",
        )
        # Rome midnights (UTC+2): 2024-05-06T22:00Z, 05-07T22:00Z, 05-08T22:00Z.
        d = self.a0 - 7200
        expect_series(
            "SUM GROUP BY time(1d) tz('Europe/Rome')",
            rs,
            [{"name": "traffic", "columns": ["time", "upload"], "values": [[d - 86400, 1.0], [d, 2.0], [d + 86400, 4.0]]}],
        )

    def step_select_summary_limit_1_tz(self):
        # A chart summary: the aggregate without GROUP BY time, LIMIT 1, tz().
        rs = self.client.query(
            "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08' AND time <= '2024-05-08 23:59:59' "
            " AND content_type = 'config.device' AND object_id = '%s'  LIMIT 1 tz('Europe/Rome')" % self.dev1,
            database=self.db_inf,
            epoch="s",
        )
        expect_series(
            "summary LIMIT 1 tz()",
            rs,
            [{"name": "ping", "columns": ["time", "uptime"], "values": [[self.a0 - 7200, 62.5]]}],
        )

    def step_select_microsecond_distinct_points(self):
        rs = self.client.query("SELECT v FROM micro", database=self.db_inf, epoch="u")
        expect_series(
            "µs-distinct points",
            rs,
            [{"name": "micro", "columns": ["time", "v"], "values": [[self.a0 * 1000000 + 1, 1], [self.a0 * 1000000 + 2, 2]]}],
        )

    def step_select_empty_result(self):
        rs = self.client.query("SELECT * FROM nosuchmeasurement WHERE time >= '%s'" % iso(self.t0))
        expect("points of a missing measurement", list(rs.get_points()), [])
        expect("len(ResultSet)", len(rs), 0)
        expect("statement_id", rs.raw.get("statement_id"), 0)

    def step_query_parse_error_is_400(self):
        expect_client_error(
            "unparsable query",
            lambda: self.client.query("SELEC * FROM ping"),
            400,
            contains='{"error":"error parsing query: found SELEC, expected SELECT',
        )

    def step_query_missing_database(self):
        expect_client_error(
            "SELECT on a missing database",
            lambda: self.client.query("SELECT * FROM ping", database="nosuchdb_pyclient"),
            None,
            exact="database not found: nosuchdb_pyclient",
        )

    def step_show_on_missing_database(self):
        missing = "nosuchdb_pyclient"
        rs = self.client.query("SHOW MEASUREMENTS", database=missing)
        expect("SHOW MEASUREMENTS on a missing database", list(rs.get_points()), [])
        for q in ["SHOW FIELD KEYS", 'SHOW TAG VALUES WITH KEY = "object_id"']:
            expect_client_error(q + " on a missing database", lambda: self.client.query(q, database=missing), None, exact="database not found: " + missing)
        expect_client_error(
            "get_list_retention_policies on a missing database",
            lambda: self.client.get_list_retention_policies(missing),
            None,
            exact="database not found: " + missing,
        )

    # -- deletes -------------------------------------------------------------------------

    def _tag_values(self, measurement, key, database=None):
        rs = self.client.query('SHOW TAG VALUES FROM "%s" WITH KEY = "%s"' % (measurement, key), database=database)
        return [p["value"] for p in rs.get_points()]

    def step_delete_series(self):
        self.client.delete_series(measurement="ping", tags={"object_id": self.dev2})
        expect("SHOW TAG VALUES FROM ping after delete_series", self._tag_values("ping", "object_id"), [self.dev1])

    def step_delete_series_then_show_series(self):
        expect(
            "get_list_series after delete_series",
            self.client.get_list_series(measurement="ping"),
            ["ping,content_type=config.device,object_id=%s" % self.dev1],
        )

    def step_delete_series_then_select(self):
        rs = self.client.query("SELECT loss FROM ping WHERE time >= '%s'" % iso(self.t0), epoch="s")
        expect_series(
            "SELECT after delete_series",
            rs,
            [{"name": "ping", "columns": ["time", "loss"], "values": [[self.t0, 0.0], [self.t0 + 600, 100.0], [self.t0 + 1200, 12.5]]}],
        )

    def step_drop_series_where(self):
        # The statement OpenWISP sends when a metric is deleted.
        self.client.query(
            "DROP SERIES FROM \"ping\" WHERE \"content_type\"='config.device' AND \"object_id\"='%s'" % self.dev1,
            method="POST",
        )
        expect("SHOW TAG VALUES FROM ping after DROP SERIES", self._tag_values("ping", "object_id"), [])
        names = [m["name"] for m in self.client.get_list_measurements()]
        expect("measurements after DROP SERIES", names, ["checks", "config_applied", "cpu", "device_data", "memory", "traffic", "wifi_clients"])

    def step_drop_series_where_then_select(self):
        expect("SHOW SERIES FROM ping after DROP SERIES", self.client.get_list_series(measurement="ping"), [])
        rs = self.client.query("SELECT * FROM ping WHERE time >= '%s'" % iso(self.t0))
        expect("SELECT after DROP SERIES", list(rs.get_points()), [])

    def step_drop_measurement(self):
        self.client.drop_measurement("cpu")
        names = [m["name"] for m in self.client.get_list_measurements()]
        expect("measurements after drop_measurement('cpu')", names, ["checks", "config_applied", "device_data", "memory", "traffic", "wifi_clients"])
        expect("SHOW TAG VALUES FROM cpu after drop_measurement", self._tag_values("cpu", "object_id"), [])
        rs = self.client.query("SHOW FIELD KEYS FROM cpu")
        expect("SHOW FIELD KEYS FROM cpu after drop_measurement", list(rs.get_points()), [])

    def step_drop_measurement_then_select(self):
        rs = self.client.query("SELECT * FROM cpu WHERE time >= '%s'" % iso(self.t0))
        expect("SELECT after drop_measurement", list(rs.get_points()), [])

    def step_drop_series_all(self):
        # OpenWISP's test clean-up.
        self.client.query("DROP SERIES FROM /.*/", database=self.db_inf, method="POST")
        rs = self.client.query("SHOW MEASUREMENTS", database=self.db_inf)
        expect("SHOW MEASUREMENTS after DROP SERIES FROM /.*/", list(rs.get_points()), [])

    def step_drop_retention_policy(self):
        self.client.drop_retention_policy("short", database=self.db)
        expect(
            "retention policies after drop_retention_policy",
            [p["name"] for p in self.client.get_list_retention_policies(self.db)],
            ["autogen"],
        )
        self._expect_rp_not_found("short")

    def step_drop_database(self):
        self.client.drop_database(self.db)
        self.client.drop_database(self.db_inf)
        self.client.drop_database(self.db_inf)  # dropping a missing database is not an error
        names = [d["name"] for d in self.client.get_list_database()]
        for n in (self.db, self.db_inf):
            if n in names:
                raise StepFailed("%r still listed after drop_database: %r" % (n, names))
        expect_client_error(
            "write to the dropped database",
            lambda: self.client.write_points([{"measurement": "m", "fields": {"v": 1}}], database=self.db),
            404,
        )

    STEPS = [
        "ping",
        "create_database",
        "get_list_database",
        "switch_database",
        "create_retention_policy",
        "alter_retention_policy",
        "get_list_retention_policies",
        "write_points_iso_times",
        "write_points_epoch_seconds",
        "write_points_epoch_ms",
        "write_points_retention_policy_short",
        "write_points_batch_size_and_shared_tags",
        "write_line_protocol",
        "write_points_booleans",
        "write_field_type_conflict_is_400",
        "write_missing_database_is_404",
        "write_beyond_retention_is_400",
        "write_missing_retention_policy_is_server_error",
        "write_points_absolute_times",
        "get_list_measurements",
        "show_measurements_other_database",
        "show_field_keys",
        "show_field_keys_from",
        "show_tag_keys_from",
        "show_tag_values",
        "show_tag_values_from_in",
        "get_list_series",
        "select_raw_rfc3339",
        "select_raw_epoch_s",
        "select_fields_epoch_ms",
        "select_order_by_time_desc_limit_1",
        "select_latest_device_snapshot",
        "select_with_bind_params",
        "select_group_by_tag_get_points_filter",
        "select_multiple_measurements_limit_1",
        "select_same_series_same_time_replaced",
        "select_count_distinct",
        "select_sum_arithmetic_group_by_time",
        "select_booleans",
        "select_mean_group_by_time_absolute",
        "select_several_aggregates_count_fill",
        "select_group_by_time_1d_tz",
        "select_summary_limit_1_tz",
        "select_microsecond_distinct_points",
        "select_empty_result",
        "query_parse_error_is_400",
        "query_missing_database",
        "show_on_missing_database",
        "delete_series",
        "delete_series_then_show_series",
        "delete_series_then_select",
        "drop_series_where",
        "drop_series_where_then_select",
        "drop_measurement",
        "drop_measurement_then_select",
        "drop_series_all",
        "drop_retention_policy",
        "drop_database",
    ]

    def cleanup(self):
        for d in (self.db, self.db_inf):
            try:
                self.client.drop_database(d)
            except Exception:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8086")
    ap.add_argument("--keep-going", action="store_true", help="run every step, then list the failures")
    ap.add_argument(
        "--accept",
        help="Accept header for answers (default: the client's own, application/x-msgpack, as OpenWISP sends)",
    )
    ap.add_argument("--only", help="comma-separated step names to run (set-up steps are not implied)")
    ap.add_argument(
        "--wispmon",
        action="store_true",
        help="the server is wispmon: expect its documented departures (see WISPMON_DEPARTURES)",
    )
    args = ap.parse_args()

    sc = Scenario(args.url, args.accept)
    sc.wispmon = args.wispmon
    print("influxdb client %s against %s (databases %s, %s)" % (influxdb.__version__, args.url, sc.db, sc.db_inf))
    steps = Scenario.STEPS
    if args.only:
        steps = [s for s in steps if s in args.only.split(",")]
    failed = []
    for name in steps:
        try:
            note = getattr(sc, "step_" + name)()
            print("ok   %s%s" % (name, " (%s)" % note if note else ""))
        except Exception as e:
            if isinstance(e, StepFailed):
                msg = str(e)
            elif isinstance(e, InfluxDBClientError):
                msg = "unexpected InfluxDBClientError (HTTP code %s): %s" % (e.code, e.content.strip())
            elif isinstance(e, InfluxDBServerError):
                msg = "unexpected InfluxDBServerError: %s" % (e,)
            else:
                msg = "unexpected %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc().rstrip())
            print("FAIL %s" % name)
            print("FAIL %s: %s\n  last HTTP exchange: %s" % (name, msg, sc.rec.last), file=sys.stderr)
            sys.stderr.flush()
            failed.append(name)
            if not args.keep_going:
                sc.cleanup()
                return 1
        sys.stdout.flush()
    if failed:
        print("%d of %d steps failed: %s" % (len(failed), len(steps), ", ".join(failed)))
        sc.cleanup()
        return 1
    print("all %d steps passed" % len(steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
