//! Tests: accepted and rejected query tables (InfluxDB 1.6.7 was run side by side for the
//! error texts marked "reference"), structure checks, parameters, the depth guard, property
//! tests over generated trees and arbitrary text, and the fuzz-seed replay.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::check::{self, ChartRendering, OPENWISP_CHART_TEMPLATES, query_roundtrip};
use super::*;

/// Marks a table entry whose input is already canonical.
const SAME: &str = "";

/// Accepted queries and their canonical text: OpenWISP's rendered chart queries (§2.4
/// examples), its management statements and metric reads (§3.5), Grafana's queries after its
/// own interpolation, and the rest of the grammar.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(1h) tz('Europe/Rome')",
        "SELECT mean(reachable) * 100 AS uptime FROM ping WHERE time >= '2024-05-08' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(1h) tz('Europe/Rome')",
    ),
    (
        "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'  LIMIT 1 tz('Europe/Rome')",
        "SELECT mean(reachable) * 100 AS uptime FROM ping WHERE time >= '2024-05-08' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' LIMIT 1 tz('Europe/Rome')",
    ),
    (
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08'     AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2') GROUP BY time(1h) tz('Europe/Rome')",
        "SELECT sum(tx_bytes) / 1000000000 AS upload, sum(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08' AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2') GROUP BY time(1h) tz('Europe/Rome')",
    ),
    (
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08'  AND (organization_id = 'a1' OR organization_id = 'b2')   AND (ifname = 'wan' OR ifname = 'eth1') GROUP BY time(1h) tz('Europe/Rome')",
        "SELECT sum(tx_bytes) / 1000000000 AS upload, sum(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08' AND (organization_id = 'a1' OR organization_id = 'b2') AND (ifname = 'wan' OR ifname = 'eth1') GROUP BY time(1h) tz('Europe/Rome')",
    ),
    (
        "SELECT reachable FROM ping WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'",
        "SELECT reachable FROM ping WHERE time >= '2024-05-08' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'",
    ),
    (
        "SELECT data FROM short.device_data WHERE pk = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' ORDER BY time DESC LIMIT 1",
        SAME,
    ),
    (
        r#"CREATE DATABASE "openwisp2""#,
        "CREATE DATABASE openwisp2",
    ),
    (r#"DROP DATABASE "openwisp2""#, "DROP DATABASE openwisp2"),
    (
        r#"SHOW RETENTION POLICIES ON "openwisp2""#,
        "SHOW RETENTION POLICIES ON openwisp2",
    ),
    (
        r#"CREATE RETENTION POLICY "short" ON "openwisp2" DURATION 24h0m0s REPLICATION 1 SHARD DURATION 0s"#,
        "CREATE RETENTION POLICY short ON openwisp2 DURATION 1d REPLICATION 1 SHARD DURATION 0s",
    ),
    (
        r#"ALTER RETENTION POLICY "autogen" ON "openwisp2" DURATION 26280h0m0s"#,
        "ALTER RETENTION POLICY autogen ON openwisp2 DURATION 1095d",
    ),
    (
        r#"DROP SERIES FROM "ping" WHERE "content_type"='config.device' AND "object_id"='5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'"#,
        "DROP SERIES FROM ping WHERE content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'",
    ),
    (
        r#"DROP SERIES FROM "traffic" WHERE "content_type"='config.device' AND "object_id"='5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' AND "ifname"='wan'"#,
        "DROP SERIES FROM traffic WHERE content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' AND ifname = 'wan'",
    ),
    ("DROP SERIES FROM /.*/", SAME),
    (
        "SELECT reachable FROM ping WHERE time >= '2024-05-14T10:12:13.123456+00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' ORDER BY time DESC LIMIT 1",
        SAME,
    ),
    (
        "SELECT loss, rtt_avg FROM ping WHERE loss > 50 AND time >= '2024-05-14T10:12:13.123456+02:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' ORDER BY time DESC",
        SAME,
    ),
    (
        "SELECT cpu_usage FROM cpu WHERE cpu_usage >= 90.0 AND time >= '2024-05-14T10:12:13.123456-05:30' AND content_type = 'config.device' AND object_id = 'x' LIMIT 5",
        SAME,
    ),
    (
        "SELECT used_disk FROM disk WHERE time >= '2024-05-14T10:00:00.000000+00:00' AND content_type = 'config.device' AND object_id = 'x'",
        SAME,
    ),
    (
        "SELECT config_applied FROM short.config_applied WHERE time >= '2024-05-14T10:00:00.000000+00:00' AND content_type = 'config.device' AND object_id = 'x' ORDER BY time DESC LIMIT 1",
        SAME,
    ),
    (
        "SELECT * FROM ping WHERE time >= '2024-05-14T10:00:00.000000+00:00' AND content_type = 'config.device' AND object_id = 'x'",
        SAME,
    ),
    (
        "SELECT * FROM cpu,memory,traffic,wifi_clients,signal,disk WHERE time >= '2024-05-14T09:30:00.000000+00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' LIMIT 1",
        "SELECT * FROM cpu, memory, traffic, wifi_clients, signal, disk WHERE time >= '2024-05-14T09:30:00.000000+00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' LIMIT 1",
    ),
    (
        "SELECT COUNT(DISTINCT(clients)) FROM wifi_clients WHERE time >= '2024-05-14T10:00:00.000000+00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'",
        "SELECT count(distinct(clients)) FROM wifi_clients WHERE time >= '2024-05-14T10:00:00.000000+00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'",
    ),
    (
        "SELECT SUM(*) FROM traffic WHERE time >= '2024-05-08' AND content_type = 'config.device' AND object_id = 'x'",
        "SELECT sum(*) FROM traffic WHERE time >= '2024-05-08' AND content_type = 'config.device' AND object_id = 'x'",
    ),
    (
        r#"SELECT SUM("ssh") / 1 AS ssh, SUM("apple-music") / 1 AS apple_music FROM applications WHERE time >= '2024-05-08' GROUP BY time(1h), ifname tz('Europe/Rome')"#,
        r#"SELECT sum(ssh) / 1 AS ssh, sum("apple-music") / 1 AS apple_music FROM applications WHERE time >= '2024-05-08' GROUP BY time(1h), ifname tz('Europe/Rome')"#,
    ),
    (
        "SELECT MEAN(rx_bytes) FROM traffic WHERE time >= '2024-05-08' GROUP BY time(1h), ifname, organization_id",
        "SELECT mean(rx_bytes) FROM traffic WHERE time >= '2024-05-08' GROUP BY time(1h), ifname, organization_id",
    ),
    (
        r#"SELECT mean("value") FROM "cpu" WHERE ("host" =~ /^(a|b)$/) AND time >= 1596240000000ms and time <= 1596326399999ms GROUP BY time(1m) fill(null)"#,
        "SELECT mean(value) FROM cpu WHERE (host =~ /^(a|b)$/) AND time >= 18475d AND time <= 1596326399999ms GROUP BY time(1m) fill(null)",
    ),
    (
        r#"SELECT mean("usage_idle") FROM "cpu" WHERE ("cpu" = 'cpu-total' AND "host" =~ /^(srv\.example\.com|db\-1)$/) AND time >= now() - 6h GROUP BY time(20s), "host" fill(none)"#,
        r#"SELECT mean(usage_idle) FROM cpu WHERE (cpu = 'cpu-total' AND host =~ /^(srv\.example\.com|db\-1)$/) AND time >= now() - 6h GROUP BY time(20s), host fill(none)"#,
    ),
    (
        r#"SELECT non_negative_derivative(mean("bytes_recv"), 1s) *8 FROM "net" WHERE ("host" =~ /^srv$/ AND "interface" = 'eth0') AND time >= 1596240000000ms and time <= 1596326399999ms GROUP BY time(1m) fill(null)"#,
        "SELECT non_negative_derivative(mean(bytes_recv), 1s) * 8 FROM net WHERE (host =~ /^srv$/ AND interface = 'eth0') AND time >= 18475d AND time <= 1596326399999ms GROUP BY time(1m) fill(null)",
    ),
    (
        r#"SELECT last("used_percent") FROM "mem" WHERE time >= now() - 1h GROUP BY time(10s)"#,
        "SELECT last(used_percent) FROM mem WHERE time >= now() - 1h GROUP BY time(10s)",
    ),
    (
        r#"SELECT "value" FROM "temperature" WHERE time >= 1596240000000ms and time <= 1596326399999ms"#,
        "SELECT value FROM temperature WHERE time >= 18475d AND time <= 1596326399999ms",
    ),
    (
        r#"SELECT max("rtt_avg") AS "max", min("rtt_avg") AS "min" FROM "autogen"."ping" WHERE time > now() - 24h GROUP BY time(5m) fill(previous)"#,
        "SELECT max(rtt_avg) AS max, min(rtt_avg) AS min FROM autogen.ping WHERE time > now() - 1d GROUP BY time(5m) fill(previous)",
    ),
    (
        r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host""#,
        "SHOW TAG VALUES FROM cpu WITH KEY = host",
    ),
    (
        r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host" WHERE "cpu" = 'cpu-total'"#,
        "SHOW TAG VALUES FROM cpu WITH KEY = host WHERE cpu = 'cpu-total'",
    ),
    (
        r#"SHOW TAG VALUES WITH KEY IN ("host", "region")"#,
        "SHOW TAG VALUES WITH KEY IN (host, region)",
    ),
    ("SHOW TAG VALUES FROM cpu WITH KEY =~ /^ho/ LIMIT 10", SAME),
    (
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu/ LIMIT 100",
        SAME,
    ),
    ("SHOW MEASUREMENTS LIMIT 100", SAME),
    (r#"SHOW FIELD KEYS FROM "cpu""#, "SHOW FIELD KEYS FROM cpu"),
    ("SHOW FIELD KEYS", SAME),
    (r#"SHOW TAG KEYS FROM "cpu""#, "SHOW TAG KEYS FROM cpu"),
    ("SHOW TAG KEYS", SAME),
    (
        r#"SHOW RETENTION POLICIES ON "openwisp2""#,
        "SHOW RETENTION POLICIES ON openwisp2",
    ),
    ("SHOW RETENTION POLICIES", SAME),
    ("SHOW DATABASES", SAME),
    (
        "SHOW SERIES FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 5",
        SAME,
    ),
    ("SHOW SERIES ON openwisp2", SAME),
    ("SHOW MEASUREMENT CARDINALITY", SAME),
    ("SHOW MEASUREMENT EXACT CARDINALITY ON openwisp2", SAME),
    ("SHOW SERIES CARDINALITY FROM cpu", SAME),
    (
        "SHOW SERIES EXACT CARDINALITY ON openwisp2 WHERE host = 'a'",
        SAME,
    ),
    ("SHOW TAG VALUES CARDINALITY WITH KEY = host", SAME),
    (
        "SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY = host",
        SAME,
    ),
    ("SHOW TAG KEY CARDINALITY", SAME),
    ("SHOW FIELD KEY EXACT CARDINALITY ON openwisp2", SAME),
    (
        "SHOW MEASUREMENTS ON openwisp2 WITH MEASUREMENT = cpu WHERE host = 'a' ORDER BY time DESC LIMIT 1 OFFSET 1",
        SAME,
    ),
    (
        "SHOW TAG KEYS ON openwisp2 FROM cpu, mem WHERE host = 'a' LIMIT 5 OFFSET 1 SLIMIT 2 SOFFSET 3",
        SAME,
    ),
    (
        "CREATE DATABASE mydb WITH DURATION 3d REPLICATION 1 SHARD DURATION 1h NAME rp3d",
        SAME,
    ),
    (
        "CREATE DATABASE mydb WITH DURATION INF",
        "CREATE DATABASE mydb WITH DURATION 0s",
    ),
    (
        "CREATE RETENTION POLICY r1 ON mydb DURATION 52w REPLICATION 1 DEFAULT",
        SAME,
    ),
    (
        "CREATE RETENTION POLICY r2 ON mydb DURATION 1h30m REPLICATION 3 SHARD DURATION 30m",
        "CREATE RETENTION POLICY r2 ON mydb DURATION 90m REPLICATION 3 SHARD DURATION 30m",
    ),
    ("ALTER RETENTION POLICY r2 ON mydb DEFAULT", SAME),
    (
        "ALTER RETENTION POLICY DEFAULT ON mydb REPLICATION 2 SHARD DURATION 1d",
        r#"ALTER RETENTION POLICY "default" ON mydb REPLICATION 2 SHARD DURATION 1d"#,
    ),
    ("DROP RETENTION POLICY r2 ON mydb", SAME),
    ("DROP MEASUREMENT cpu", SAME),
    (r#"DROP MEASUREMENT "cpu load""#, SAME),
    ("DELETE FROM cpu WHERE time < '2020-01-01T00:00:00Z'", SAME),
    ("DELETE WHERE host = 'a'", SAME),
    ("DELETE FROM device_data WHERE time < now() - 1d", SAME),
    ("SHOW SERIES EXACT", "SHOW SERIES"),
    ("SELECT a FROM m WHERE a =~ /x/ + 1 AND b !~ /y/ * 2", SAME),
    ("SELECT a FROM m WHERE 'x' =~ /y/ =~ /z/", SAME),
    ("DROP SERIES WHERE host = 'a'", SAME),
    (
        "select * from cpu where host = 'a' limit 1",
        "SELECT * FROM cpu WHERE host = 'a' LIMIT 1",
    ),
    ("SELECT * FROM cpu", SAME),
    ("SELECT *::field FROM cpu", SAME),
    ("SELECT *::tag, *::field FROM cpu", SAME),
    ("SELECT /^rx/ FROM traffic", SAME),
    ("SELECT mean(/^rtt/) FROM ping GROUP BY time(1m)", SAME),
    (
        "SELECT value::float, host::tag, count::integer FROM cpu",
        SAME,
    ),
    (
        r#"SELECT "select"."from" FROM "where""#,
        r#"SELECT "select.from" FROM "where""#,
    ),
    ("SELECT a.b.c FROM m", r#"SELECT "a.b.c" FROM m"#),
    ("SELECT DISTINCT host FROM cpu", SAME),
    (
        "SELECT DISTINCT(host) FROM cpu",
        "SELECT distinct(host) FROM cpu",
    ),
    (
        "SELECT COUNT(DISTINCT host) FROM cpu",
        "SELECT count(DISTINCT host) FROM cpu",
    ),
    (
        "SELECT top(value, host, 3), bottom(value, 2) FROM cpu",
        SAME,
    ),
    (
        "SELECT percentile(value, 95.5), median(value), mode(value), spread(value), stddev(value) FROM cpu",
        SAME,
    ),
    (
        "SELECT integral(value, 1m), first(value), last(value), max(value), min(value), sample(value, 5) FROM cpu",
        SAME,
    ),
    (
        "SELECT abs(v), round(v), ceil(v), floor(v), ln(v), log(v, 10), sqrt(v), pow(v, 2) FROM m",
        SAME,
    ),
    (
        "SELECT derivative(mean(v), 1s), non_negative_derivative(max(v), 10s), difference(mean(v)), non_negative_difference(sum(v)) FROM m WHERE time > now() - 1h GROUP BY time(1m)",
        SAME,
    ),
    (
        "SELECT moving_average(mean(v), 3), cumulative_sum(sum(v)), elapsed(v, 1s) FROM m WHERE time > now() - 1h GROUP BY time(1m)",
        SAME,
    ),
    ("SELECT a + b * c - d / e % f FROM m", SAME),
    ("SELECT (a + b) * (c - d) FROM m", SAME),
    ("SELECT a - (b - c), (a - b) - c, a / (b / c) FROM m", SAME),
    (
        "SELECT -a, -mean(a), - 1, -1.5, +2, -(a + b) FROM m",
        "SELECT (-1 * a), (-1 * mean(a)), -1, -1.5, 2, (-1 * (a + b)) FROM m",
    ),
    (
        "SELECT a * -b, a / -2 FROM m",
        "SELECT a * (-1 * b), a / -2 FROM m",
    ),
    ("SELECT a & b | c ^ d FROM m", SAME),
    (
        "SELECT mean(value) * 100 / sum(value) + 1 AS ratio FROM m",
        SAME,
    ),
    ("SELECT value FROM m WHERE a = 1 AND b = 2 OR c = 3", SAME),
    ("SELECT value FROM m WHERE a = 1 AND (b = 2 OR c = 3)", SAME),
    (
        "SELECT value FROM m WHERE NOT_A_KEYWORD = true AND flag = FALSE",
        "SELECT value FROM m WHERE NOT_A_KEYWORD = true AND flag = false",
    ),
    (
        "SELECT value FROM m WHERE s != 'x' AND t <> 'y' AND u !~ /z/ AND v =~ /w/",
        "SELECT value FROM m WHERE s != 'x' AND t != 'y' AND u !~ /z/ AND v =~ /w/",
    ),
    (
        "SELECT value FROM m WHERE v > 1 AND v >= 2 AND v < 3 AND v <= 4",
        SAME,
    ),
    (
        "SELECT value FROM m WHERE time > now() - 1h AND time < now() + 10m",
        SAME,
    ),
    (
        "SELECT value FROM m WHERE time >= '2024-02-23' AND time <= '2024-02-28 21:47:13'",
        SAME,
    ),
    (
        "SELECT value FROM m WHERE time >= '2024-02-29T23:00:00.000000+00:00' - 2h",
        SAME,
    ),
    (
        "SELECT value FROM m WHERE time >= 1709164800000ms AND time < 1709164800s",
        "SELECT value FROM m WHERE time >= 2826w AND time < 2826w",
    ),
    (
        "SELECT value FROM m WHERE time >= 1709164800000000000",
        SAME,
    ),
    (
        r#"SELECT value FROM m WHERE s = 'it\'s' AND t = 'back\\slash' AND u = 'new\nline' AND w = 'dq"'"#,
        SAME,
    ),
    (
        "SELECT value FROM m WHERE i = 9223372036854775807 AND j = -9223372036854775808 AND k = 18446744073709551615",
        SAME,
    ),
    (
        "SELECT value FROM m WHERE f = 0.000001 AND g = 1.0 AND h = .5 AND i = 3. AND j = 12345678901234567890.5",
        "SELECT value FROM m WHERE f = 0.000001 AND g = 1.0 AND h = 0.5 AND i = 3.0 AND j = 12345678901234567000.0",
    ),
    (
        "SELECT value FROM m WHERE d = 1w AND e = 7d AND f = 90m AND g = 1500ms AND h = 1u AND i = 1µ AND j = 7ns AND k = 1h30m",
        "SELECT value FROM m WHERE d = 1w AND e = 1w AND f = 90m AND g = 1500ms AND h = 1u AND i = 1u AND j = 7ns AND k = 90m",
    ),
    (
        "SELECT mean(value) FROM m WHERE time > now() - 1d GROUP BY time(1h, 15m)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m WHERE time > now() - 1d GROUP BY time(1h, -15m)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m WHERE time > now() - 1d GROUP BY time(10m, now())",
        SAME,
    ),
    ("SELECT mean(value) FROM m GROUP BY *", SAME),
    ("SELECT mean(value) FROM m GROUP BY /^host/", SAME),
    (
        "SELECT mean(value) FROM m GROUP BY time(1m), host, region fill(0)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m GROUP BY time(1m) fill(-1.5)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m GROUP BY time(1m) fill(linear)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m GROUP BY time(1m) fill(previous)",
        SAME,
    ),
    (
        "SELECT mean(value) FROM m GROUP BY time(1m) fill(none) ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 4 tz('America/Chicago')",
        SAME,
    ),
    ("SELECT value FROM m ORDER BY time", SAME),
    ("SELECT value FROM m ORDER BY time ASC", SAME),
    ("SELECT value FROM m ORDER BY DESC", SAME),
    (
        r#"SELECT value FROM m ORDER BY "time" desc"#,
        "SELECT value FROM m ORDER BY time DESC",
    ),
    ("SELECT value FROM m LIMIT 0", SAME),
    (
        "SELECT value FROM db.rp.m, db..m2, rp.m3, /re/, db.rp./re2/, rp./re3/, db../re4/",
        SAME,
    ),
    (r#"SELECT value FROM "my db"."my rp"."my m""#, SAME),
    (
        "SELECT value FROM (SELECT mean(value) AS value FROM m GROUP BY time(1m))",
        SAME,
    ),
    (
        "SELECT max(value) FROM (SELECT mean(value) AS value FROM (SELECT value FROM m WHERE host = 'a') GROUP BY time(1m)) WHERE value > 10",
        SAME,
    ),
    (
        "SELECT mean(value) INTO m_1m FROM m GROUP BY time(1m)",
        SAME,
    ),
    (
        "SELECT mean(value) INTO db.rp.m_1m FROM m GROUP BY time(1m)",
        SAME,
    ),
    (
        "SELECT mean(*) INTO db.rp.:MEASUREMENT FROM /.*/ GROUP BY time(1m)",
        SAME,
    ),
    (
        "SELECT mean(*) INTO rp.:MEASUREMENT FROM /.*/ GROUP BY time(1m)",
        SAME,
    ),
    (
        "SELECT value FROM m; SELECT value FROM n",
        r#"SELECT value FROM m;
SELECT value FROM n"#,
    ),
    ("SELECT value FROM m;", "SELECT value FROM m"),
    (
        ";;SELECT value FROM m;;SHOW DATABASES;",
        r#"SELECT value FROM m;
SHOW DATABASES"#,
    ),
    ("SELECT /* not a comment: a regex field */ FROM m", SAME),
    (
        "SELECT value FROM m /* block comment */ WHERE a = 1",
        "SELECT value FROM m WHERE a = 1",
    ),
    ("SELECT value FROM m WHERE a = 1 fill(1) tz('UTC')", SAME),
    (
        r#"SELECT "a\"b", "back\\slash", "new\nline" FROM "m""#,
        r#"SELECT "a\"b", "back\\slash", "new\nline" FROM m"#,
    ),
    (
        r#"SELECT mean(value) AS "mean value", count(value) AS count FROM m"#,
        SAME,
    ),
    ("SELECT now() FROM m", SAME),
    (
        "SELECT value FROM m WHERE host = 'a' OR host = 'b' OR host = 'c' OR host = 'd' OR host = 'e'",
        SAME,
    ),
    (
        "CREATE USER admin WITH PASSWORD 'secret' WITH ALL PRIVILEGES",
        SAME,
    ),
    (r#"CREATE USER bob WITH PASSWORD 'p\'w'"#, SAME),
    ("DROP USER bob", SAME),
    ("SET PASSWORD FOR bob = 'new'", SAME),
    ("GRANT READ ON openwisp2 TO bob", SAME),
    ("GRANT ALL PRIVILEGES TO bob", SAME),
    (
        "GRANT ALL ON openwisp2 TO bob",
        "GRANT ALL PRIVILEGES ON openwisp2 TO bob",
    ),
    ("REVOKE WRITE ON openwisp2 FROM bob", SAME),
    ("REVOKE ALL PRIVILEGES FROM bob", SAME),
    ("SHOW USERS", SAME),
    ("SHOW GRANTS FOR bob", SAME),
    (
        "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m_1h FROM m GROUP BY time(1h) END",
        SAME,
    ),
    (
        "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 2m FOR 1h BEGIN SELECT mean(v) INTO m_1h FROM m GROUP BY time(1h) END",
        SAME,
    ),
    ("DROP CONTINUOUS QUERY cq ON db", SAME),
    ("SHOW CONTINUOUS QUERIES", SAME),
    ("KILL QUERY 36", SAME),
    (r#"KILL QUERY 36 ON "host:8088""#, SAME),
    ("SHOW QUERIES", SAME),
    ("EXPLAIN SELECT mean(v) FROM m", SAME),
    (
        "EXPLAIN ANALYZE SELECT mean(v) FROM m GROUP BY time(1m)",
        SAME,
    ),
    (
        "CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'udp://h1:9090', 'udp://h2:9090'",
        SAME,
    ),
    ("DROP SUBSCRIPTION s ON db.rp", SAME),
    ("SHOW SUBSCRIPTIONS", SAME),
    ("SHOW SHARDS", SAME),
    ("SHOW SHARD GROUPS", SAME),
    ("DROP SHARD 1", SAME),
    ("SHOW STATS", SAME),
    ("SHOW STATS FOR 'httpd'", SAME),
    ("SHOW DIAGNOSTICS FOR 'build'", SAME),
    // Multi-line input and comments.
    (
        "SELECT value -- trailing comment\nFROM m",
        "SELECT value FROM m",
    ),
    (
        "SELECT value\nFROM m\nWHERE a = 1",
        "SELECT value FROM m WHERE a = 1",
    ),
    (
        "SELECT value\r\nFROM m\r\nWHERE a = 1\r\n",
        "SELECT value FROM m WHERE a = 1",
    ),
    ("\tSELECT\tvalue\tFROM\tm\t", "SELECT value FROM m"),
];

fn parse_ok(q: &str) -> Query {
    match parse_query(q) {
        Ok(query) => query,
        Err(e) => panic!("{q:?} should parse: {e}"),
    }
}

fn parse_err(q: &str) -> ParseError {
    match parse_query(q) {
        Ok(query) => panic!("{q:?} should not parse, got {query}"),
        Err(e) => e,
    }
}

fn select(q: &str) -> SelectStatement {
    let mut query = parse_ok(q);
    assert_eq!(query.statements.len(), 1, "{q}");
    match query.statements.pop() {
        Some(Statement::Select(s)) => *s,
        other => panic!("{q:?} is not a SELECT: {other:?}"),
    }
}

fn var(name: &str) -> Expr {
    Expr::VarRef(VarRef {
        name: name.to_owned(),
        data_type: None,
    })
}

fn int(n: i64) -> Expr {
    Expr::Literal(Literal::Integer(n))
}

fn string(s: &str) -> Expr {
    Expr::Literal(Literal::String(s.to_owned()))
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::Binary(Box::new(BinaryExpr { op, lhs, rhs }))
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        name: name.to_owned(),
        args,
    })
}

#[test]
fn accepted_queries_round_trip_to_their_canonical_text() {
    assert!(ACCEPTED.len() >= 150, "{} entries", ACCEPTED.len());
    for (input, canonical) in ACCEPTED {
        let expected = if canonical.is_empty() {
            input
        } else {
            canonical
        };
        let query = parse_ok(input);
        assert_eq!(query.to_string(), *expected, "canonical text of {input:?}");
        // Canonical text is a fixed point and reads back as the same tree.
        assert_eq!(
            parse_ok(expected),
            query,
            "{expected:?} reads back differently"
        );
        assert_eq!(query_roundtrip(input), Ok(query.statements.len()));
    }
}

#[test]
fn openwisp_chart_templates_parse_in_every_rendering() {
    let queries = check::openwisp_chart_queries();
    assert_eq!(queries.len(), 3 * OPENWISP_CHART_TEMPLATES.len());
    for q in &queries {
        let s = select(q);
        assert_eq!(s.tz.as_deref(), Some("Europe/Rome"), "{q}");
        assert!(s.condition.is_some(), "{q}");
        assert!(query_roundtrip(q).is_ok(), "{q}");
    }
    // Spot checks of the three renderings of the uptime chart.
    let (_, key, field, template) = OPENWISP_CHART_TEMPLATES[0];
    let uptime = |how| check::render_chart_query(template, key, field, how);
    assert_eq!(
        parse_ok(&uptime(ChartRendering::Default7d)).to_string(),
        "SELECT mean(reachable) * 100 AS uptime FROM ping WHERE time >= '2024-05-08' AND \
         content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' \
         GROUP BY time(1h) tz('Europe/Rome')"
    );
    assert_eq!(
        parse_ok(&uptime(ChartRendering::CustomRange)).to_string(),
        "SELECT mean(reachable) * 100 AS uptime FROM ping WHERE time >= '2024-05-01 00:00:00' \
         AND time <= '2024-05-03 23:59:59' AND content_type = 'config.device' AND object_id = \
         '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(1d) tz('Europe/Rome')"
    );
    let summary = select(&uptime(ChartRendering::Summary));
    assert!(summary.group_by.is_empty());
    assert_eq!(summary.limit, Some(1));
}

#[test]
fn openwisp_default_and_snapshot_queries() {
    let s = select(
        "SELECT reachable FROM ping WHERE time >= '2024-05-08'  AND content_type = \
         'config.device' AND object_id = '5d2b7c1e'",
    );
    assert_eq!(s.fields.len(), 1);
    let s = select(
        "SELECT data FROM short.device_data WHERE pk = '5d2b7c1e' ORDER BY time DESC LIMIT 1",
    );
    assert_eq!(
        s.sources,
        vec![Source::Measurement(Measurement {
            database: None,
            retention_policy: Some("short".to_owned()),
            name: MeasurementName::Name("device_data".to_owned()),
        })]
    );
    assert_eq!(
        s.order_by,
        Some(OrderBy {
            time: true,
            ascending: Some(false)
        })
    );
    assert!(!s.order_by.is_some_and(|o| o.is_ascending()));
}

/// Rejected queries and InfluxDB's exact message. "reference": the same text as Debian's
/// InfluxDB 1.6.7 for the same input (run side by side while writing this module).
const REJECTED: &[(&str, &str)] = &[
    // reference
    (
        "SELEC * FROM cpu",
        "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1",
    ),
    (
        "SELECT * FROM tag",
        "found TAG, expected identifier at line 1, char 15",
    ),
    (
        "SELECT tag FROM cpu",
        "found TAG, expected identifier, string, number, bool at line 1, char 8",
    ),
    (
        "SELECT * FROM cpu WHERE a =~ /abc",
        "bad regex:  at line 1, char 29",
    ),
    (
        "SELECT mean(x) FROM cpu GROUP BY time(1m) fill(bogus)",
        "expected number argument in fill()",
    ),
    (
        "SELECT mean(x) FROM cpu GROUP BY time(1m) fill(NULL)",
        "expected number argument in fill()",
    ),
    (
        "SELECT mean(x) FROM cpu GROUP BY time(1m) fill(null, 1)",
        "fill requires an argument, e.g.: 0, null, none, previous, linear",
    ),
    (
        "SELECT mean(x) FROM cpu GROUP BY time(1m),host fill",
        "fill must be a function call",
    ),
    (
        "SELECT * FROM cpu ORDER BY x",
        "only ORDER BY time supported at this time",
    ),
    (
        "SELECT * FROM cpu ORDER BY time, x",
        "only ORDER BY time supported at this time",
    ),
    (
        "SELECT a FROM cpu ORDER BY TIME",
        "only ORDER BY time supported at this time",
    ),
    (
        "SELECT a FROM cpu ORDER BY",
        "found EOF, expected identifier, ASC, DESC at line 1, char 28",
    ),
    (
        "SHOW TAG VALUES FROM cpu",
        "found EOF, expected WITH at line 1, char 26",
    ),
    (
        "SHOW TAG VALUES",
        "found EOF, expected WITH at line 1, char 17",
    ),
    (
        "SHOW TAG VALUES WITH KEY",
        "found EOF, expected IN, =, =~ at line 1, char 26",
    ),
    (
        r#"SHOW TAG VALUES WITH KEY > "a""#,
        "found >, expected IN, =, =~ at line 1, char 26",
    ),
    (
        "SHOW MEASUREMENTS WITH MEASUREMENT > a",
        "found >, expected =, =~ at line 1, char 36",
    ),
    (
        "SELECT 'abc FROM cpu",
        "found abc FROM cpu, expected identifier, string, number, bool at line 1, char 7",
    ),
    (
        r#"SELECT "abc FROM cpu"#,
        "found abc FROM cpu, expected identifier, string, number, bool at line 1, char 7",
    ),
    (
        r"SELECT 'a\qb' FROM cpu",
        r"found \q, expected identifier, string, number, bool at line 1, char 11",
    ),
    (
        "SELECT * FROM cpu WHERE time > now() - 5minutes",
        "invalid duration",
    ),
    ("SELECT * FROM cpu WHERE x = 1e5", "invalid duration"),
    (
        "CREATE RETENTION POLICY rp ON db0 DURATION 5minutes REPLICATION 1",
        "invalid duration at line 1, char 44",
    ),
    ("SELECT * FROM cpu WHERE $x = 1", "missing parameter: x"),
    ("SELECT * FROM cpu WHERE $ = 1", "empty bound parameter"),
    (
        "SELECT last(v) FROM mem GROUP BY time($__interval)",
        "missing parameter: __interval",
    ),
    (
        "SELECT * FROM cpu LIMIT -1",
        "found -, expected integer at line 1, char 25",
    ),
    (
        "SELECT * FROM cpu LIMIT 1.5",
        "found 1.5, expected integer at line 1, char 25",
    ),
    (
        "SELECT a FROM cpu SLIMIT x",
        "found x, expected integer at line 1, char 26",
    ),
    (
        "SELECT a FROM cpu OFFSET 1 LIMIT 1",
        "found LIMIT, expected ; at line 1, char 28",
    ),
    (
        "SELECT * FROM",
        "found EOF, expected identifier at line 1, char 15",
    ),
    (
        "SELECT",
        "found EOF, expected identifier, string, number, bool at line 1, char 8",
    ),
    (
        "SHOW",
        "found EOF, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6",
    ),
    (
        "CREATE FOO",
        "found FOO, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8",
    ),
    (
        "DROP",
        "found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6",
    ),
    (
        "SELECT * FROM cpu SELECT * FROM mem",
        "found SELECT, expected ; at line 1, char 19",
    ),
    (
        "SELECT * FROM cpu WHERE a = 'b' ;  SELEC",
        "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 36",
    ),
    (
        "SELECT x > 1 FROM cpu",
        "invalid operator > in SELECT clause at line 1, char 8; operator is intended for WHERE clause",
    ),
    (
        "SELECT (((a FROM cpu",
        "found FROM, expected ) at line 1, char 13",
    ),
    (
        "SELECT * FROM cpu WHERE x = 99999999999999999999999",
        "unable to parse integer at line 1, char 29",
    ),
    (
        "SELECT * FROM cpu WHERE x = -99999999999999999999999",
        "unable to parse integer at line 1, char 30",
    ),
    (
        "SELECT a FROM cpu WHERE x = -9223372036854775809",
        "constant -9223372036854775809 underflows int64",
    ),
    (
        "SELECT * FROM cpu tz(1)",
        "expected string argument in tz()",
    ),
    ("SELECT a FROM cpu tz", "tz must be a function call"),
    (
        "SELECT a FROM cpu tz('UTC', 1)",
        "tz requires exactly one argument",
    ),
    (
        "DELETE",
        "found EOF, expected FROM, WHERE at line 1, char 8",
    ),
    (
        "DROP SERIES",
        "found EOF, expected FROM, WHERE at line 1, char 13",
    ),
    (
        "DROP SERIES FROM db.rp.m",
        "retention policy not supported at line 1, char 1",
    ),
    (
        "SELECT * FROM a.b.c.d",
        r#"too many segments in "a"."b"."c".d at line 1, char 1"#,
    ),
    (
        "SELECT a..b.\"c d\".e FROM cpu",
        r#"too many segments in "a".."b"."c d".e at line 1, char 1"#,
    ),
    (
        "SELECT a.b.c.d FROM cpu",
        r#"too many segments in "a"."b"."c".d at line 1, char 1"#,
    ),
    (
        "SELECT * FROM cpu WHERE a =~ 'x'",
        "found x, expected regex at line 1, char 29",
    ),
    (
        "SELECT * FROM cpu WHERE a =~ ",
        "found EOF, expected regex at line 1, char 30",
    ),
    (
        "ALTER RETENTION POLICY r2 ON x1;",
        "found ;, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 32",
    ),
    (
        "ALTER RETENTION POLICY r2 ON x1 DURATION 1d DURATION 2d",
        "found duplicate DURATION option at line 1, char 45",
    ),
    (
        "SELECT inf FROM cpu",
        "found INF, expected identifier, string, number, bool at line 1, char 8",
    ),
    (
        "SELECT DISTINCT (x) FROM cpu",
        "found (, expected identifier at line 1, char 17",
    ),
    (
        "KILL QUERY 99999999999999999999999",
        r#"strconv.ParseUint: parsing "99999999999999999999999": value out of range at line 1, char 12"#,
    ),
    (
        "CREATE RETENTION POLICY r ON db0 DURATION 1d REPLICATION 0",
        "invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 58",
    ),
    (
        "CREATE RETENTION POLICY r ON db0 DURATION 1d REPLICATION 99999999999999999999",
        r#"strconv.Atoi: parsing "99999999999999999999": value out of range at line 1, char 58"#,
    ),
    (
        "CREATE RETENTION POLICY r ON db0 DURATION 1d REPLICATION 1 SHARD DURATION INF",
        "invalid duration INF for shard duration at line 1, char 75",
    ),
    (
        "CREATE RETENTION POLICY r ON db0 DURATION 0 REPLICATION 1",
        "found 0, expected duration at line 1, char 43",
    ),
    (
        "CREATE DATABASE x WITH",
        "found EOF, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 24",
    ),
    (
        "SELECT a FROM cpu WHERE x = 'a' AND y = \"b\" AND z = -'c'",
        "found c, expected identifier, number, duration, ( at line 1, char 53",
    ),
    (
        "SELECT a FROM cpu WHERE x = -true",
        "found TRUE, expected identifier, number, duration, ( at line 1, char 30",
    ),
    (
        "SELECT a FROM cpu WHERE x = - -1",
        "found -, expected identifier, number, duration, ( at line 1, char 31",
    ),
    (
        "SELECT x::foo FROM cpu",
        "found foo, expected float, integer, unsigned, string, boolean, field, tag at line 1, char 11",
    ),
    (
        "SELECT *::foo FROM cpu",
        "found foo, expected field, tag at line 1, char 11",
    ),
    (
        "SELECT a FROM cpu WHERE @",
        "found @, expected identifier, string, number, bool at line 1, char 25",
    ),
    (
        "SELECT a FROM cpu WHERE a ! b",
        "found !, expected ; at line 1, char 27",
    ),
    (
        "SELECT a FROM cpu WHERE é = 1",
        "found é, expected identifier, string, number, bool at line 1, char 25",
    ),
    (
        "SELECT a FROM cpu WHERE x = 'éé' AND @",
        "found @, expected identifier, string, number, bool at line 1, char 38",
    ),
    (
        "SELECT a FROM cpu GROUP",
        "found EOF, expected BY at line 1, char 25",
    ),
    (
        "SELECT a FROM cpu GROUP BY",
        "found EOF, expected identifier, string, number, bool at line 1, char 28",
    ),
    (
        "SELECT a FROM (SELECT b FROM cpu",
        "found EOF, expected ) at line 1, char 34",
    ),
    (
        "SELECT a FROM (SHOW DATABASES)",
        "found SHOW, expected SELECT at line 1, char 16",
    ),
    (
        "SELECT a AS FROM cpu",
        "found FROM, expected identifier at line 1, char 13",
    ),
    (
        "SELECT a, FROM cpu",
        "found FROM, expected identifier, string, number, bool at line 1, char 11",
    ),
    (
        "SELECT a INTO FROM cpu",
        "found FROM, expected identifier at line 1, char 15",
    ),
    (
        "SELECT mean(x) INTO :MEASUREMENT FROM /cpu/",
        "found :, expected identifier at line 1, char 21",
    ),
    (
        "SELECT a FROM cpu.",
        "found EOF, expected identifier at line 1, char 20",
    ),
    (
        "SELECT a FROM cpu WHERE x = 1 AND",
        "found EOF, expected identifier, string, number, bool at line 1, char 35",
    ),
    (
        "SELECT a FROM cpu WHERE x = 1 + ",
        "found EOF, expected identifier, string, number, bool at line 1, char 32",
    ),
    (
        "SELECT mean(",
        "found EOF, expected identifier, string, number, bool at line 1, char 14",
    ),
    ("SELECT mean(x", "found EOF, expected ) at line 1, char 15"),
    (
        "SELECT mean(x,",
        "found EOF, expected identifier, string, number, bool at line 1, char 16",
    ),
    (
        "SELECT a FROM cpu GROUP BY time(1m) fill(",
        "found EOF, expected identifier, string, number, bool at line 1, char 43",
    ),
    (
        "SELECT a\nFROM cpu\nWHERE x = @",
        "found @, expected identifier, string, number, bool at line 3, char 11",
    ),
    (
        "SELECT a\r\nFROM cpu\r\nWHERE x = @",
        "found @, expected identifier, string, number, bool at line 3, char 11",
    ),
    // wispmon only (InfluxDB has no nesting limit, or words it differently)
    (
        "SELECT a FROM cpu /* unterminated",
        "found ILLEGAL, expected ; at line 1, char 19",
    ),
    (
        "SELECT a FROM cpu WHERE a IN (1, 2)",
        "found IN, expected ; at line 1, char 27",
    ),
];

#[test]
fn rejected_queries_have_influxdb_messages() {
    assert!(REJECTED.len() >= 40, "{} entries", REJECTED.len());
    for (input, message) in REJECTED {
        let e = parse_err(input);
        assert_eq!(
            e.to_string(),
            format!("error parsing query: {message}"),
            "for {input:?}"
        );
        assert_eq!(query_roundtrip(input), Ok(0), "{input:?}");
    }
}

#[test]
fn error_fields_locate_the_problem() {
    let e = parse_err("SELECT a\nFROM cpu\nWHERE x = @");
    assert_eq!((e.line, e.char, e.located), (3, 11, true));
    assert_eq!(e.pos, "SELECT a\nFROM cpu\nWHERE x = ".len());
    assert_eq!(
        e.message,
        "found @, expected identifier, string, number, bool"
    );
    let e = parse_err("SELECT * FROM cpu ORDER BY x");
    assert!(!e.located);
    assert_eq!(
        e.to_string(),
        "error parsing query: only ORDER BY time supported at this time"
    );
    // Positions count characters, not bytes.
    let e = parse_err("SELECT \"µµ\" FROM cpu WHERE @");
    assert_eq!((e.line, e.char), (1, 28));
    assert_eq!(e.pos, "SELECT \"µµ\" FROM cpu WHERE ".len());
}

#[test]
fn surrounding_whitespace_is_trimmed_like_influxdb() {
    // InfluxDB trims `q` before parsing, so positions count from the first non-blank.
    let e = parse_err("  \n\t SELEC * FROM cpu  ");
    assert_eq!((e.line, e.char, e.pos), (1, 1, 5));
    let e = parse_err("SELECT a FROM cpu WHERE x = 1 +   \n  ");
    assert_eq!((e.line, e.char), (1, 32));
    let e = parse_err("SELECT a FROM cpu WHERE a =~ -- comment\n");
    assert_eq!((e.line, e.char), (1, 41));
    let e = parse_err("SELECT a FROM cpu WHERE a = /* c */");
    assert_eq!((e.line, e.char), (1, 36));
}

#[test]
fn empty_statements_are_ignored() {
    assert_eq!(parse_ok("").statements.len(), 0);
    assert_eq!(parse_ok(" ; ;\n").statements.len(), 0);
    assert_eq!(
        parse_ok(";SHOW DATABASES;;SHOW DATABASES;")
            .statements
            .len(),
        2
    );
}

#[test]
fn precedence_and_associativity() {
    let e = parse_expr("a + b * c - d").unwrap();
    assert_eq!(
        e,
        bin(
            BinaryOp::Sub,
            bin(
                BinaryOp::Add,
                var("a"),
                bin(BinaryOp::Mul, var("b"), var("c"))
            ),
            var("d")
        )
    );
    let e = parse_expr("a = 1 OR b = 2 AND c =~ /x/").unwrap();
    assert_eq!(
        e,
        bin(
            BinaryOp::Or,
            bin(BinaryOp::Eq, var("a"), int(1)),
            bin(
                BinaryOp::And,
                bin(BinaryOp::Eq, var("b"), int(2)),
                bin(
                    BinaryOp::EqRegex,
                    var("c"),
                    Expr::Literal(Literal::Regex(Regex::new("x")))
                )
            )
        )
    );
    // Left associative at equal precedence.
    let e = parse_expr("a - b - c").unwrap();
    assert_eq!(
        e,
        bin(
            BinaryOp::Sub,
            bin(BinaryOp::Sub, var("a"), var("b")),
            var("c")
        )
    );
    // Parentheses are kept as nodes.
    let e = parse_expr("(a - b)").unwrap();
    assert_eq!(
        e,
        Expr::Paren(Box::new(bin(BinaryOp::Sub, var("a"), var("b"))))
    );
    // Unary minus folds into literals and multiplies anything else (parenthesised).
    assert_eq!(parse_expr("-5").unwrap(), int(-5));
    assert_eq!(
        parse_expr("- 1.5").unwrap(),
        Expr::Literal(Literal::Float(-1.5))
    );
    assert_eq!(
        parse_expr("-5m").unwrap(),
        Expr::Literal(Literal::Duration(-300_000_000_000))
    );
    assert_eq!(
        parse_expr("a * -b").unwrap(),
        bin(
            BinaryOp::Mul,
            var("a"),
            Expr::Paren(Box::new(bin(BinaryOp::Mul, int(-1), var("b"))))
        )
    );
    assert_eq!(parse_expr("-9223372036854775808").unwrap(), int(i64::MIN));
    assert_eq!(
        parse_expr("9223372036854775808").unwrap(),
        Expr::Literal(Literal::Unsigned(1 << 63))
    );
}

#[test]
fn hand_built_trees_print_with_the_parentheses_they_need() {
    let e = bin(
        BinaryOp::Mul,
        bin(BinaryOp::Add, var("a"), var("b")),
        bin(BinaryOp::Mul, var("c"), var("d")),
    );
    assert_eq!(e.to_string(), "(a + b) * (c * d)");
    let back = parse_expr(&e.to_string()).unwrap();
    assert_eq!(back.to_string(), e.to_string());
}

#[test]
fn select_structure() {
    let s = select(
        "SELECT MEAN(\"value\") AS m, COUNT(DISTINCT(host)), top(v, 3) INTO db.rp.:MEASUREMENT \
         FROM db..cpu, /^mem/, (SELECT v FROM x) WHERE host =~ /^(a|b)$/ AND time >= \
         1596240000000ms GROUP BY time(1m, 30s), host, /^reg/ fill(previous) ORDER BY time DESC \
         LIMIT 5 OFFSET 1 SLIMIT 2 SOFFSET 3 tz('Europe/Rome')",
    );
    assert_eq!(
        s.fields[0],
        Field {
            expr: call("mean", vec![var("value")]),
            alias: Some("m".to_owned())
        }
    );
    assert_eq!(
        s.fields[1].expr,
        call("count", vec![call("distinct", vec![var("host")])])
    );
    assert_eq!(
        s.into,
        Some(Measurement {
            database: Some("db".to_owned()),
            retention_policy: Some("rp".to_owned()),
            name: MeasurementName::SourceMeasurement,
        })
    );
    assert_eq!(
        s.sources[0],
        Source::Measurement(Measurement {
            database: Some("db".to_owned()),
            retention_policy: None,
            name: MeasurementName::Name("cpu".to_owned()),
        })
    );
    assert_eq!(
        s.sources[1],
        Source::Measurement(Measurement {
            database: None,
            retention_policy: None,
            name: MeasurementName::Regex(Regex::new("^mem")),
        })
    );
    assert!(matches!(s.sources[2], Source::Subquery(_)));
    let Some(Expr::Binary(cond)) = &s.condition else {
        panic!("condition")
    };
    assert_eq!(cond.op, BinaryOp::And);
    assert_eq!(
        cond.rhs,
        bin(
            BinaryOp::GtEq,
            var("time"),
            Expr::Literal(Literal::Duration(1_596_240_000_000_000_000))
        )
    );
    assert_eq!(
        s.group_by,
        vec![
            Dimension::Expr(call(
                "time",
                vec![
                    Expr::Literal(Literal::Duration(60_000_000_000)),
                    Expr::Literal(Literal::Duration(30_000_000_000)),
                ]
            )),
            Dimension::Expr(var("host")),
            Dimension::Regex(Regex::new("^reg")),
        ]
    );
    assert_eq!(s.fill, Some(Fill::Previous));
    assert_eq!(
        (s.limit, s.offset, s.slimit, s.soffset),
        (Some(5), Some(1), Some(2), Some(3))
    );
    assert_eq!(s.tz.as_deref(), Some("Europe/Rome"));
}

#[test]
fn fill_options() {
    for (q, fill) in [
        ("fill(null)", Fill::Null),
        ("fill(none)", Fill::None),
        ("FILL(previous)", Fill::Previous),
        ("fill(linear)", Fill::Linear),
        ("fill(0)", Fill::Integer(0)),
        ("fill(-1)", Fill::Integer(-1)),
        ("fill(2.5)", Fill::Float(2.5)),
    ] {
        let s = select(&format!("SELECT mean(v) FROM m GROUP BY time(1m) {q}"));
        assert_eq!(s.fill, Some(fill), "{q}");
    }
    assert_eq!(select("SELECT mean(v) FROM m GROUP BY time(1m)").fill, None);
}

#[test]
fn wildcards_casts_distinct_and_regex_fields() {
    let s = select("SELECT *, *::tag, *::field, /^rx/, v::integer, DISTINCT host FROM m");
    let exprs: Vec<Expr> = s.fields.into_iter().map(|f| f.expr).collect();
    assert_eq!(
        exprs,
        vec![
            Expr::Wildcard(None),
            Expr::Wildcard(Some(WildcardType::Tag)),
            Expr::Wildcard(Some(WildcardType::Field)),
            Expr::Literal(Literal::Regex(Regex::new("^rx"))),
            Expr::VarRef(VarRef {
                name: "v".to_owned(),
                data_type: Some(DataType::Integer)
            }),
            Expr::Distinct("host".to_owned()),
        ]
    );
    // `mean(/re/)` and `sum(*)`.
    let s = select("SELECT mean(/^rtt/), sum(*) FROM ping");
    assert_eq!(
        s.fields[0].expr,
        call(
            "mean",
            vec![Expr::Literal(Literal::Regex(Regex::new("^rtt")))]
        )
    );
    assert_eq!(s.fields[1].expr, call("sum", vec![Expr::Wildcard(None)]));
}

#[test]
fn identifiers_strings_and_regexes_unescape() {
    let s = select(r#"SELECT "a\"b", "c\\d" FROM "x y" WHERE s = 'it\'s\n' AND r =~ /a\/b\d/"#);
    assert_eq!(s.fields[0].expr, var("a\"b"));
    assert_eq!(s.fields[1].expr, var("c\\d"));
    let Some(Expr::Binary(and)) = s.condition else {
        panic!()
    };
    assert_eq!(and.lhs, bin(BinaryOp::Eq, var("s"), string("it's\n")));
    assert_eq!(
        and.rhs,
        bin(
            BinaryOp::EqRegex,
            var("r"),
            Expr::Literal(Literal::Regex(Regex::new(r"a/b\d")))
        )
    );
    // Keywords are case-insensitive; quoted keywords are identifiers.
    let s = select(r#"select "select" from "from" where "where" = 1"#);
    assert_eq!(s.fields[0].expr, var("select"));
    assert_eq!(quote_ident("select"), r#""select""#);
    assert_eq!(quote_ident("cpu_1"), "cpu_1");
    assert_eq!(quote_ident("1cpu"), r#""1cpu""#);
    assert_eq!(quote_ident(""), r#""""#);
    assert_eq!(quote_string("a'b\\c\nd"), r"'a\'b\\c\nd'");
}

#[test]
fn durations_use_influxdb_units() {
    for (text, ns) in [
        ("1ns", 1),
        ("1u", 1_000),
        ("1µ", 1_000),
        ("1ms", 1_000_000),
        ("1s", 1_000_000_000),
        ("1m", 60_000_000_000),
        ("1h", 3_600_000_000_000),
        ("1d", 86_400_000_000_000),
        ("1w", 604_800_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("26280h0m0s", 26_280 * 3_600_000_000_000),
        ("1596240000000ms", 1_596_240_000_000_000_000),
    ] {
        assert_eq!(
            parse_expr(text).unwrap(),
            Expr::Literal(Literal::Duration(ns)),
            "{text}"
        );
    }
    for (ns, text) in [
        (0, "0s"),
        (90 * 60_000_000_000, "90m"),
        (7 * 86_400_000_000_000, "1w"),
        (1_500_000_000, "1500ms"),
        (-300_000_000_000, "-5m"),
        (7, "7ns"),
        (i64::MAX, "9223372036854775807ns"),
    ] {
        assert_eq!(format_duration(ns), text);
    }
    let e = parse_err("SELECT v FROM m WHERE time > now() - 99999999999w");
    assert_eq!(
        e.to_string(),
        "error parsing query: overflowed duration 99999999999w: choose a smaller duration or INF"
    );
    for bad in ["5n", "5x", "5m5", "5mm", "1e5", "5minutes"] {
        let e = parse_err(&format!("SELECT v FROM m WHERE d > {bad}"));
        assert_eq!(
            e.to_string(),
            "error parsing query: invalid duration",
            "{bad}"
        );
    }
}

#[test]
fn management_statement_structure() {
    let q = parse_ok(
        "CREATE DATABASE \"openwisp2\"; CREATE RETENTION POLICY \"short\" ON \"openwisp2\" \
         DURATION 24h0m0s REPLICATION 1 SHARD DURATION 0s; ALTER RETENTION POLICY \"autogen\" ON \
         \"openwisp2\" DURATION 26280h0m0s; SHOW TAG VALUES FROM cpu WITH KEY IN (\"a\", b); \
         SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu/ LIMIT 100; CREATE USER u WITH PASSWORD 'p'",
    );
    let hour = 3_600_000_000_000;
    assert_eq!(
        q.statements,
        vec![
            Statement::CreateDatabase(CreateDatabase {
                name: "openwisp2".to_owned(),
                with: None
            }),
            Statement::CreateRetentionPolicy(CreateRetentionPolicy {
                name: "short".to_owned(),
                database: "openwisp2".to_owned(),
                duration: 24 * hour,
                replication: 1,
                shard_duration: Some(0),
                default: false,
            }),
            Statement::AlterRetentionPolicy(AlterRetentionPolicy {
                name: "autogen".to_owned(),
                database: "openwisp2".to_owned(),
                duration: Some(26_280 * hour),
                replication: None,
                shard_duration: None,
                default: false,
            }),
            Statement::ShowTagValues(ShowTagValues {
                database: None,
                sources: vec![Measurement {
                    database: None,
                    retention_policy: None,
                    name: MeasurementName::Name("cpu".to_owned()),
                }],
                key: TagKeyFilter::In(vec!["a".to_owned(), "b".to_owned()]),
                condition: None,
                order_by: None,
                limit: None,
                offset: None,
            }),
            Statement::ShowMeasurements(ShowMeasurements {
                database: None,
                with_measurement: Some((
                    MatchOp::EqRegex,
                    Measurement {
                        database: None,
                        retention_policy: None,
                        name: MeasurementName::Regex(Regex::new("cpu")),
                    }
                )),
                condition: None,
                order_by: None,
                limit: Some(100),
                offset: None,
            }),
            Statement::Unsupported(UnsupportedStatement::CreateUser {
                name: "u".to_owned(),
                password: "p".to_owned(),
                admin: false,
            }),
        ]
    );
    let Statement::Unsupported(u) = &q.statements[5] else {
        panic!()
    };
    assert_eq!(u.kind(), "CREATE USER");
}

#[test]
fn bound_parameters_substitute_tokens() {
    let mut params = BTreeMap::new();
    params.insert("host".to_owned(), Literal::String("it's".to_owned()));
    params.insert("n".to_owned(), Literal::Integer(-5));
    params.insert("limit".to_owned(), Literal::Integer(3));
    params.insert("f".to_owned(), Literal::Float(1.5));
    params.insert("b".to_owned(), Literal::Boolean(true));
    params.insert("d".to_owned(), Literal::Duration(3_600_000_000_000));
    params.insert("re".to_owned(), Literal::Regex(Regex::new("a/b")));
    params.insert("big".to_owned(), Literal::Unsigned(u64::MAX));
    params.insert("quoted name".to_owned(), Literal::Integer(7));
    let q = parse_query_with_params(
        "SELECT v FROM m WHERE host = $host AND v > $n AND w = $f AND x = $b AND time > now() - \
         $d AND r =~ $re AND u = $big AND q = $\"quoted name\" LIMIT $limit",
        &params,
    )
    .unwrap();
    assert_eq!(
        q.to_string(),
        "SELECT v FROM m WHERE host = 'it\\'s' AND v > -5 AND w = 1.5 AND x = true AND time > \
         now() - 1h AND r =~ /a\\/b/ AND u = 18446744073709551615 AND q = 7 LIMIT 3"
    );
    // Substitution is by token type: a string cannot name a measurement.
    let e = parse_query_with_params("SELECT v FROM $host", &params).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: found it's, expected identifier at line 1, char 15"
    );
    let e = parse_query_with_params("SELECT v FROM m WHERE a = $nope", &params).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: missing parameter: nope"
    );
    let e = parse_query_with_params("SELECT v FROM m LIMIT $n", &params).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: LIMIT must be >= 0 at line 1, char 23"
    );
    params.insert("nan".to_owned(), Literal::Float(f64::NAN));
    let e = parse_query_with_params("SELECT v FROM m WHERE a = $nan", &params).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: unable to parse number at line 1, char 27"
    );
    // Without parameters `$x` is always missing.
    assert!(parse_query("SELECT v FROM m WHERE a = $x").is_err());
}

#[test]
fn validators_reject_like_influxdb() {
    let check_regex = |re: &str| -> std::result::Result<(), String> {
        if re.matches('(').count() == re.matches(')').count() {
            Ok(())
        } else {
            Err(format!("error parsing regexp: missing closing ): `{re}`"))
        }
    };
    let check_tz = |tz: &str| -> std::result::Result<(), String> {
        if tz == "Europe/Rome" {
            Ok(())
        } else {
            Err(format!("unable to find time zone {tz}"))
        }
    };
    let opts = ParseOptions {
        check_regex: Some(&check_regex),
        check_time_zone: Some(&check_tz),
        ..ParseOptions::default()
    };
    let e = parse_query_with("SELECT * FROM cpu WHERE a =~ /a(/", &opts).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: error parsing regexp: missing closing ): `a(` at line 1, char 29"
    );
    let e = parse_query_with("SELECT * FROM cpu tz('Nowhere/Zone')", &opts).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing query: unable to find time zone Nowhere/Zone"
    );
    assert!(parse_query_with("SELECT * FROM /(a|b)/ tz('Europe/Rome')", &opts).is_ok());
    assert!(format!("{opts:?}").contains("check_regex: true"));
}

fn nested(depth: usize, open: &str, close: &str, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn nesting_is_limited_not_a_stack_overflow() {
    let deep = format!("SELECT {}", "(".repeat(100_000));
    let e = parse_err(&deep);
    assert_eq!(
        e.to_string(),
        "error parsing query: query nested too deeply: more than 64 levels of parentheses, \
         function calls or subqueries at line 1, char 72"
    );
    for q in [
        format!("SELECT {} FROM m", nested(100_000, "f(", ")", "x")),
        format!(
            "SELECT v FROM {}",
            nested(100_000, "(SELECT v FROM ", ")", "m")
        ),
        format!("SELECT v FROM m WHERE {}", nested(100_000, "-(", ")", "x")),
        format!("SELECT v FROM m WHERE {}", "((a = 1) AND ".repeat(10_000)),
    ] {
        let e = parse_err(&q);
        assert!(e.message.starts_with("query nested too deeply"), "{e}");
    }
    // 64 levels are fine.
    assert!(parse_query(&format!("SELECT {} FROM m", nested(64, "(", ")", "x"))).is_ok());
    assert!(parse_query(&format!("SELECT {} FROM m", nested(63, "f(", ")", "x"))).is_ok());
    assert!(
        parse_query(&format!(
            "SELECT v FROM {}",
            nested(64, "(SELECT v FROM ", ")", "m")
        ))
        .is_ok()
    );
}

#[test]
fn long_operator_chains_are_limited() {
    let chain = |n: usize| {
        let terms: Vec<String> = (0..n).map(|i| format!("host = 'h{i}'")).collect();
        format!("SELECT v FROM m WHERE {}", terms.join(" OR "))
    };
    let e = parse_err(&chain(100_000));
    assert!(e.message.starts_with("expression too complex"), "{e}");
    // The longest accepted chain prints, compares, formats with Debug and drops on a thread
    // with a small stack.
    let q = chain(MAX_EXPR_HEIGHT as usize / 2);
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let parsed = parse_query(&q).unwrap();
            let text = parsed.to_string();
            assert_eq!(parse_query(&text).unwrap(), parsed);
            assert!(format!("{parsed:?}").len() > text.len());
            query_roundtrip(&q).unwrap();
        })
        .unwrap();
    handle.join().unwrap();
    // n terms make a tree n tall.
    let terms: Vec<String> = (0..=MAX_EXPR_HEIGHT as usize)
        .map(|i| format!("v{i}"))
        .collect();
    let e = parse_err(&format!("SELECT {} FROM m", terms.join(" + ")));
    assert!(e.message.starts_with("expression too complex"), "{e}");
    let longest = format!("SELECT {} FROM m", terms[1..].join(" + "));
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let parsed = parse_query(&longest).unwrap();
            assert_eq!(parse_query(&parsed.to_string()).unwrap(), parsed);
            assert!(!format!("{parsed:?}").is_empty());
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn hostile_inputs_do_not_panic() {
    let inputs = [
        "'",
        "\"",
        "/",
        "//",
        "/*",
        "*/",
        "--",
        "$",
        "$\"",
        "$\"x",
        "\\",
        "'\\",
        "\"\\",
        "::",
        "SELECT '",
        "SELECT \"",
        "SELECT /",
        "SELECT * FROM /",
        "SELECT * FROM m WHERE a =~ /",
        "SELECT * FROM m WHERE a =~ /\\",
        "SELECT * FROM m WHERE a =~ /x\\/",
        "SELECT 1.",
        "SELECT .",
        "SELECT .5",
        "SELECT 5.",
        "SELECT 99999999999999999999999999999999999.5 FROM m",
        "SELECT µ FROM m",
        "SELECT 5µ FROM m",
        "SELECT 1µs FROM m",
        "SELECT \u{0} FROM m",
        "SELECT a FROM m WHERE b = '\u{0}'",
        "\u{feff}SELECT",
        "SÉLECT",
        "SELECT 日本 FROM m",
        "SELECT \"日本\" FROM \"m\"",
        "SELECT a FROM m\r",
        "SELECT a FROM m WHERE a = 'x\ry'",
        "SELECT a FROM m WHERE a = 1 tz(",
        "SELECT a FROM m fill(",
        "SELECT a FROM m ORDER BY time,",
        "SELECT a INTO a.b.: FROM m",
        "SELECT a INTO a.b.c.:MEASUREMENT FROM m",
        "SELECT a FROM a.b./",
        "SELECT a FROM a../",
        "SELECT a FROM ...",
        "SELECT a::",
        "SELECT *::",
        "SELECT a FROM m LIMIT 99999999999999999999999",
        "DROP SHARD -1",
        "KILL QUERY 1 ON",
        "CREATE SUBSCRIPTION s ON db .rp DESTINATIONS ALL 'x'",
        "SELECT 1e400 FROM m",
        &format!("SELECT {}1 FROM m", "9".repeat(400)),
        &format!("SELECT {}.5 FROM m", "9".repeat(400)),
    ];
    for q in inputs {
        assert_eq!(query_roundtrip(q).map(|_| ()), Ok(()), "{q:?}");
    }
}

#[test]
fn seeds_satisfy_the_fuzz_property() {
    let parsed = crate::seeds::replay("influxql", 25, |bytes| {
        query_roundtrip(&String::from_utf8_lossy(bytes))
    });
    assert!(
        parsed >= 20,
        "seeds should contain valid statements too ({parsed})"
    );
}

// ------------------------------------------------------------------------------------------------
// Property tests.

/// Identifiers worth trying: plain, keywords, empty, needing quotes and escapes, unicode.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,6}",
        1 => prop::sample::select(vec![
            "time", "select", "tag", "field", "in", "and", "true", "inf", "default", "distinct",
            "fill", "tz", "now", "MEASUREMENT", "",
        ]).prop_map(str::to_owned),
        2 => "[ -~]{0,6}",
        1 => "[\\PC\n]{0,4}",
    ]
}

fn nonempty_ident() -> impl Strategy<Value = String> {
    ident().prop_filter("non-empty", |s| !s.is_empty())
}

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,8}",
        "[\\PC\n\t]{0,6}",
        Just("2024-05-08 00:00:00".to_owned()),
        Just("2024-05-14T10:12:13.123456+00:00".to_owned()),
    ]
}

fn regex() -> impl Strategy<Value = Regex> {
    prop_oneof![
        "[ -~]{0,8}",
        "[\\PC\t]{0,5}",
        Just("^(a|b)$".to_owned()),
        Just("a/b\\/c".to_owned()),
    ]
    .prop_filter("no trailing backslash", |s| !s.ends_with('\\'))
    .prop_map(Regex::new)
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i64>().prop_map(Literal::Integer),
        ((1u64 << 63)..=u64::MAX).prop_map(Literal::Unsigned),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Literal::Float),
        prop_oneof![Just(0.5), Just(-0.0), Just(1e-7), Just(1e300), Just(100.0)]
            .prop_map(Literal::Float),
        string_value().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Boolean),
        ((i64::MIN + 1)..=i64::MAX).prop_map(Literal::Duration),
        prop::sample::select(vec![0i64, 60_000_000_000, 86_400_000_000_000, -1_500_000])
            .prop_map(Literal::Duration),
    ]
}

fn call_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "mean",
            "count",
            "distinct",
            "time",
            "now",
            "top",
            "percentile",
            "select",
            "fill",
            "non_negative_derivative",
        ])
        .prop_map(str::to_owned),
        "[a-z_][a-z0-9_ ]{0,5}",
    ]
}

fn data_type() -> impl Strategy<Value = Option<DataType>> {
    prop::option::of(prop::sample::select(vec![
        DataType::Float,
        DataType::Integer,
        DataType::Unsigned,
        DataType::String,
        DataType::Boolean,
        DataType::Field,
        DataType::Tag,
    ]))
}

fn leaf() -> BoxedStrategy<Expr> {
    prop_oneof![
        3 => literal().prop_map(Expr::Literal),
        3 => (ident(), data_type()).prop_map(|(name, data_type)| Expr::VarRef(VarRef { name, data_type })),
        1 => ident().prop_map(Expr::Distinct),
        1 => prop::option::of(prop::sample::select(vec![WildcardType::Field, WildcardType::Tag]))
            .prop_map(Expr::Wildcard),
        1 => call_name().prop_map(|name| Expr::Call(Call { name, args: Vec::new() })),
    ]
    .boxed()
}

const ARITHMETIC: &[BinaryOp] = &[
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::BitAnd,
    BinaryOp::BitOr,
    BinaryOp::BitXor,
];

const ALL_OPS: &[BinaryOp] = &[
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::BitAnd,
    BinaryOp::BitOr,
    BinaryOp::BitXor,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Eq,
    BinaryOp::NotEq,
    BinaryOp::EqRegex,
    BinaryOp::NotEqRegex,
    BinaryOp::Lt,
    BinaryOp::LtEq,
    BinaryOp::Gt,
    BinaryOp::GtEq,
];

/// Wraps `e` in parentheses when printing it as an operand at `prec` would change the tree:
/// the shape the parser itself produces.
fn operand(e: Expr, prec: u8, rhs: bool) -> Expr {
    match &e {
        Expr::Binary(b) if b.op.precedence() < prec || (rhs && b.op.precedence() == prec) => {
            Expr::Paren(Box::new(e))
        }
        _ => e,
    }
}

/// Expressions as the parser produces them, `depth` levels deep; `conditions` allows
/// comparison and logical operators (not allowed in SELECT fields).
fn expr(depth: u32, conditions: bool) -> BoxedStrategy<Expr> {
    if depth == 0 {
        return leaf();
    }
    let ops = if conditions { ALL_OPS } else { ARITHMETIC };
    let sub = expr(depth - 1, conditions);
    let arg = prop_oneof![
        4 => expr(depth - 1, conditions),
        1 => regex().prop_map(|re| Expr::Literal(Literal::Regex(re))),
    ];
    prop_oneof![
        2 => leaf(),
        3 => (
            prop::sample::select(ops),
            sub.clone(),
            sub.clone(),
            regex(),
            prop::option::of(prop::sample::select(ARITHMETIC)),
        )
            .prop_map(|(op, lhs, rhs, re, tighter)| {
                let prec = op.precedence();
                let rhs = if op.is_regex() {
                    // `a =~ /re/ + x`: tighter operators after a regex apply to it.
                    let re = Expr::Literal(Literal::Regex(re));
                    match tighter {
                        Some(op2) => Expr::Binary(Box::new(BinaryExpr {
                            op: op2,
                            lhs: re,
                            rhs: operand(rhs, op2.precedence(), true),
                        })),
                        None => re,
                    }
                } else {
                    operand(rhs, prec, true)
                };
                Expr::Binary(Box::new(BinaryExpr { op, lhs: operand(lhs, prec, false), rhs }))
            }),
        1 => sub.prop_map(|e| Expr::Paren(Box::new(e))),
        2 => (call_name(), prop::collection::vec(arg, 0..3))
            .prop_map(|(name, args)| Expr::Call(Call { name, args })),
    ]
    .boxed()
}

fn measurement(allow_regex: bool) -> impl Strategy<Value = Measurement> {
    let name = if allow_regex {
        prop_oneof![
            3 => ident().prop_map(MeasurementName::Name),
            1 => regex().prop_map(MeasurementName::Regex),
        ]
        .boxed()
    } else {
        ident().prop_map(MeasurementName::Name).boxed()
    };
    (
        prop::option::of(nonempty_ident()),
        prop::option::of(nonempty_ident()),
        name,
    )
        .prop_map(|(database, retention_policy, name)| Measurement {
            database,
            retention_policy,
            name,
        })
}

fn into_target() -> impl Strategy<Value = Measurement> {
    (
        prop::option::of(nonempty_ident()),
        prop::option::of(nonempty_ident()),
        prop_oneof![
            ident().prop_map(MeasurementName::Name),
            Just(MeasurementName::SourceMeasurement),
        ],
    )
        .prop_map(|(database, retention_policy, name)| Measurement {
            database,
            retention_policy,
            name,
        })
}

fn order_by() -> impl Strategy<Value = OrderBy> {
    prop_oneof![
        prop::option::of(any::<bool>()).prop_map(|ascending| OrderBy {
            time: true,
            ascending
        }),
        any::<bool>().prop_map(|asc| OrderBy {
            time: false,
            ascending: Some(asc)
        }),
    ]
}

fn count() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(prop_oneof![0u64..1000, Just(i64::MAX as u64)])
}

fn dimension() -> impl Strategy<Value = Dimension> {
    prop_oneof![
        3 => expr(1, true).prop_map(Dimension::Expr),
        1 => regex().prop_map(Dimension::Regex),
        1 => (
            prop::sample::select(vec![1i64, 60_000_000_000, 3_600_000_000_000]),
            prop::option::of(-3_600_000_000_000i64..3_600_000_000_000),
        )
            .prop_map(|(every, offset)| {
                let mut args = vec![Expr::Literal(Literal::Duration(every))];
                args.extend(offset.map(|o| Expr::Literal(Literal::Duration(o))));
                Dimension::Expr(Expr::Call(Call { name: "time".to_owned(), args }))
            }),
    ]
}

fn fill() -> impl Strategy<Value = Fill> {
    prop_oneof![
        Just(Fill::Null),
        Just(Fill::None),
        Just(Fill::Previous),
        Just(Fill::Linear),
        any::<i64>().prop_map(Fill::Integer),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Fill::Float),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    (
        prop_oneof![
            5 => expr(2, false),
            1 => regex().prop_map(|re| Expr::Literal(Literal::Regex(re))),
        ],
        prop::option::of(ident()),
    )
        .prop_map(|(expr, alias)| Field { expr, alias })
}

fn select_statement(depth: u32) -> BoxedStrategy<SelectStatement> {
    let source = if depth == 0 {
        measurement(true).prop_map(Source::Measurement).boxed()
    } else {
        prop_oneof![
            4 => measurement(true).prop_map(Source::Measurement),
            1 => select_statement(depth - 1).prop_map(|s| Source::Subquery(Box::new(s))),
        ]
        .boxed()
    };
    (
        prop::collection::vec(field(), 1..3),
        prop::option::of(into_target()),
        prop::collection::vec(source, 1..3),
        prop::option::of(expr(3, true)),
        prop::collection::vec(dimension(), 0..3),
        prop::option::of(fill()),
        prop::option::of(order_by()),
        (count(), count(), count(), count()),
        prop::option::of(string_value()),
    )
        .prop_map(
            |(fields, into, sources, condition, group_by, fill, order_by, limits, tz)| {
                SelectStatement {
                    fields,
                    into,
                    sources,
                    condition,
                    group_by,
                    fill,
                    order_by,
                    limit: limits.0,
                    offset: limits.1,
                    slimit: limits.2,
                    soffset: limits.3,
                    tz,
                }
            },
        )
        .boxed()
}

fn tag_key_filter() -> impl Strategy<Value = TagKeyFilter> {
    prop_oneof![
        ident().prop_map(TagKeyFilter::Eq),
        ident().prop_map(TagKeyFilter::NotEq),
        regex().prop_map(TagKeyFilter::Regex),
        regex().prop_map(TagKeyFilter::NotRegex),
        prop::collection::vec(ident(), 1..3).prop_map(TagKeyFilter::In),
    ]
}

fn measurements() -> impl Strategy<Value = Vec<Measurement>> {
    prop::collection::vec(measurement(true), 0..3)
}

fn rp_duration() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..=i64::MAX, Just(86_400_000_000_000)]
}

fn statement() -> impl Strategy<Value = Statement> {
    let cond = || prop::option::of(expr(2, true));
    prop_oneof![
        8 => select_statement(2).prop_map(|s| Statement::Select(Box::new(s))),
        1 => Just(Statement::ShowDatabases),
        1 => (prop::option::of(ident()), prop::option::of((prop::sample::select(vec![MatchOp::Eq, MatchOp::EqRegex]), measurement(true))), cond(), prop::option::of(order_by()), count(), count())
            .prop_map(|(database, with_measurement, condition, order_by, limit, offset)| Statement::ShowMeasurements(ShowMeasurements { database, with_measurement, condition, order_by, limit, offset })),
        1 => (prop::option::of(ident()), measurements(), prop::option::of(tag_key_filter()), cond(), prop::option::of(order_by()), (count(), count(), count(), count()))
            .prop_map(|(database, sources, key, condition, order_by, l)| Statement::ShowTagKeys(ShowTagKeys { database, sources, key, condition, order_by, limit: l.0, offset: l.1, slimit: l.2, soffset: l.3 })),
        1 => (prop::option::of(ident()), measurements(), tag_key_filter(), cond(), prop::option::of(order_by()), count(), count())
            .prop_map(|(database, sources, key, condition, order_by, limit, offset)| Statement::ShowTagValues(ShowTagValues { database, sources, key, condition, order_by, limit, offset })),
        1 => (prop::option::of(ident()), measurements(), prop::option::of(order_by()), count(), count())
            .prop_map(|(database, sources, order_by, limit, offset)| Statement::ShowFieldKeys(ShowFieldKeys { database, sources, order_by, limit, offset })),
        1 => (prop::option::of(ident()), measurements(), cond(), prop::option::of(order_by()), count(), count())
            .prop_map(|(database, sources, condition, order_by, limit, offset)| Statement::ShowSeries(ShowSeries { database, sources, condition, order_by, limit, offset })),
        1 => prop::option::of(ident()).prop_map(|database| Statement::ShowRetentionPolicies { database }),
        1 => (prop::sample::select(vec![CardinalityOf::Measurement, CardinalityOf::Series, CardinalityOf::TagKey, CardinalityOf::TagValues, CardinalityOf::FieldKey]), any::<bool>(), prop::option::of(ident()), measurements(), tag_key_filter(), cond(), prop::collection::vec(dimension(), 0..2), count(), count())
            .prop_map(|(of, exact, database, sources, key, condition, group_by, limit, offset)| Statement::ShowCardinality(ShowCardinality { of, exact, database, sources, key: (of == CardinalityOf::TagValues).then_some(key), condition, group_by, limit, offset })),
        1 => (ident(), prop::option::of((prop::option::of(rp_duration()), prop::option::of(1u32..=2_147_483_647), prop::option::of(rp_duration()), prop::option::of(ident()))))
            .prop_map(|(name, spec)| Statement::CreateDatabase(CreateDatabase { name, with: spec.map(|(duration, replication, shard_duration, name)| RetentionPolicySpec { duration, replication, shard_duration, name }).filter(|s| *s != RetentionPolicySpec::default()) })),
        1 => ident().prop_map(|name| Statement::DropDatabase { name }),
        1 => (ident(), ident(), rp_duration(), 1u32..=2_147_483_647, prop::option::of(rp_duration()), any::<bool>())
            .prop_map(|(name, database, duration, replication, shard_duration, default)| Statement::CreateRetentionPolicy(CreateRetentionPolicy { name, database, duration, replication, shard_duration, default })),
        1 => (ident(), ident(), prop::option::of(rp_duration()), prop::option::of(1u32..=2_147_483_647), prop::option::of(rp_duration()), any::<bool>())
            .prop_filter("one option", |(_, _, d, r, s, def)| d.is_some() || r.is_some() || s.is_some() || *def)
            .prop_map(|(name, database, duration, replication, shard_duration, default)| Statement::AlterRetentionPolicy(AlterRetentionPolicy { name, database, duration, replication, shard_duration, default })),
        1 => (ident(), ident()).prop_map(|(name, database)| Statement::DropRetentionPolicy { name, database }),
        1 => (prop::collection::vec(measurement(true).prop_map(|m| Measurement { database: None, retention_policy: None, ..m }), 0..3), cond())
            .prop_filter("FROM or WHERE", |(s, c)| !s.is_empty() || c.is_some())
            .prop_map(|(sources, condition)| Statement::DropSeries(SeriesFilter { sources, condition })),
        1 => (prop::collection::vec(measurement(true).prop_map(|m| Measurement { database: None, retention_policy: None, ..m }), 0..3), cond())
            .prop_filter("FROM or WHERE", |(s, c)| !s.is_empty() || c.is_some())
            .prop_map(|(sources, condition)| Statement::Delete(SeriesFilter { sources, condition })),
        1 => ident().prop_map(|name| Statement::DropMeasurement { name }),
        2 => unsupported_statement().prop_map(Statement::Unsupported),
    ]
}

fn unsupported_statement() -> impl Strategy<Value = UnsupportedStatement> {
    let privilege = prop::sample::select(vec![Privilege::Read, Privilege::Write, Privilege::All]);
    prop_oneof![
        (ident(), string_value(), any::<bool>()).prop_map(|(name, password, admin)| {
            UnsupportedStatement::CreateUser {
                name,
                password,
                admin,
            }
        }),
        ident().prop_map(|name| UnsupportedStatement::DropUser { name }),
        (ident(), string_value())
            .prop_map(|(name, password)| UnsupportedStatement::SetPassword { name, password }),
        (privilege.clone(), prop::option::of(ident()), ident()).prop_map(
            |(privilege, database, user)| UnsupportedStatement::Grant {
                privilege: if database.is_none() {
                    Privilege::All
                } else {
                    privilege
                },
                database,
                user
            }
        ),
        (privilege, prop::option::of(ident()), ident()).prop_map(|(privilege, database, user)| {
            UnsupportedStatement::Revoke {
                privilege: if database.is_none() {
                    Privilege::All
                } else {
                    privilege
                },
                database,
                user,
            }
        }),
        Just(UnsupportedStatement::ShowUsers),
        ident().prop_map(|user| UnsupportedStatement::ShowGrants { user }),
        (
            ident(),
            ident(),
            prop::option::of(0i64..=i64::MAX),
            prop::option::of(0i64..=i64::MAX),
            select_statement(1),
            into_target()
        )
            .prop_filter("resample", |(_, _, e, f, _, _)| e.is_some() == f.is_some()
                || e.is_some()
                || f.is_some())
            .prop_map(
                |(name, database, resample_every, resample_for, mut select, into)| {
                    select.into = Some(into);
                    UnsupportedStatement::CreateContinuousQuery {
                        name,
                        database,
                        resample_every,
                        resample_for,
                        select: Box::new(select),
                    }
                }
            ),
        (ident(), ident()).prop_map(
            |(name, database)| UnsupportedStatement::DropContinuousQuery { name, database }
        ),
        Just(UnsupportedStatement::ShowContinuousQueries),
        (
            ident(),
            ident(),
            ident(),
            any::<bool>(),
            prop::collection::vec(string_value(), 1..3)
        )
            .prop_map(|(name, database, retention_policy, any, destinations)| {
                UnsupportedStatement::CreateSubscription {
                    name,
                    database,
                    retention_policy,
                    any,
                    destinations,
                }
            }),
        (ident(), ident(), ident()).prop_map(|(name, database, retention_policy)| {
            UnsupportedStatement::DropSubscription {
                name,
                database,
                retention_policy,
            }
        }),
        Just(UnsupportedStatement::ShowSubscriptions),
        Just(UnsupportedStatement::ShowShards),
        Just(UnsupportedStatement::ShowShardGroups),
        any::<u64>().prop_map(|id| UnsupportedStatement::DropShard { id }),
        prop::option::of(string_value())
            .prop_map(|module| UnsupportedStatement::ShowStats { module }),
        prop::option::of(string_value())
            .prop_map(|module| UnsupportedStatement::ShowDiagnostics { module }),
        Just(UnsupportedStatement::ShowQueries),
        (any::<u64>(), prop::option::of(ident()))
            .prop_map(|(id, host)| UnsupportedStatement::KillQuery { id, host }),
        (any::<bool>(), select_statement(1)).prop_map(|(analyze, select)| {
            UnsupportedStatement::Explain {
                analyze,
                select: Box::new(select),
            }
        }),
    ]
}

/// Fragments of InfluxQL, to build text that gets deep into the parser.
const FRAGMENTS: &[&str] = &[
    "SELECT ",
    "FROM ",
    "WHERE ",
    "GROUP BY ",
    "time(1m)",
    "fill(",
    ")",
    "(",
    ",",
    " ",
    "mean(",
    "value",
    "\"quoted id\"",
    "'str'",
    "'unterminated",
    "\"",
    "/re/",
    "/",
    "=~",
    "!~",
    "=",
    "!=",
    "<>",
    "<",
    ">=",
    "AND ",
    "OR ",
    "+",
    "-",
    "*",
    "%",
    "::",
    "::tag",
    ".",
    "..",
    "1",
    "-1",
    "1.5",
    "5m",
    "1h30m",
    "99999999999999999999",
    "now()",
    "tz('UTC')",
    "ORDER BY time DESC",
    "LIMIT 1",
    "OFFSET ",
    "SLIMIT 2",
    ";",
    "SHOW ",
    "TAG VALUES ",
    "WITH KEY ",
    "IN (a, b)",
    "MEASUREMENTS ",
    "CREATE DATABASE x ",
    "WITH DURATION 1d ",
    "RETENTION POLICY ",
    "ON db ",
    "DROP SERIES ",
    "DELETE ",
    "INTO ",
    ":MEASUREMENT",
    "$p",
    "--c\n",
    "/*c*/",
    "\n",
    "é",
    "DISTINCT ",
    "*::field",
    "INF",
    "DEFAULT ",
    "REPLICATION 1 ",
];

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_trees_print_and_read_back(stmts in prop::collection::vec(statement(), 1..3)) {
        let query = Query { statements: stmts };
        let text = query.to_string();
        let back = parse_query(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &query, "text: {:?}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn generated_expressions_read_back(e in expr(4, true)) {
        let text = e.to_string();
        let back = parse_expr(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(back, e, "text: {:?}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(q in "\\PC{0,64}") {
        prop_assert_eq!(query_roundtrip(&q).map(|_| ()), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let q = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(query_roundtrip(&q).map(|_| ()), Ok(()));
    }

    #[test]
    fn fragment_soup_never_panics(parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24)) {
        let q: String = parts.concat();
        prop_assert_eq!(query_roundtrip(&q).map(|_| ()), Ok(()));
    }

    #[test]
    fn mutated_accepted_queries_never_panic(
        index in 0..ACCEPTED.len(),
        cut in any::<prop::sample::Index>(),
        insert in prop::sample::select(FRAGMENTS),
    ) {
        let q = ACCEPTED[index].0;
        let mut at = cut.index(q.len() + 1);
        while !q.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{insert}{}", &q[..at], &q[at..]);
        prop_assert_eq!(query_roundtrip(&mutated).map(|_| ()), Ok(()));
        let truncated = &q[..at];
        prop_assert_eq!(query_roundtrip(truncated).map(|_| ()), Ok(()));
    }
}
