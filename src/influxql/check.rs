//! The property the fuzz target (`fuzz_targets/influxql_parse.rs`) checks, shared with the
//! seed-replay test so CI runs the same property on every seed. Not part of the API.

use super::{Query, parse_query};

/// Parses `q`. On success the canonical text must parse back to an equal tree and print
/// identically (a fixed point); on failure the error must be well formed (InfluxDB's prefix, a
/// 1-based position, a byte offset inside the query on a character boundary). Returns how many
/// statements parsed, or a description of the first violation.
///
/// Never panics itself, so a panic under the fuzzer is the parser's or the printer's.
pub fn query_roundtrip(q: &str) -> Result<usize, String> {
    let query = match parse_query(q) {
        Ok(query) => query,
        Err(e) => {
            let shown = e.to_string();
            if !shown.starts_with("error parsing query: ") || e.message.is_empty() {
                return Err(format!("malformed error text {shown:?} for {q:?}"));
            }
            if e.line == 0 || e.char == 0 || e.pos > q.len() || !q.is_char_boundary(e.pos) {
                return Err(format!("bad error position {e:?} for {q:?}"));
            }
            if e.located && !shown.ends_with(&format!(" at line {}, char {}", e.line, e.char)) {
                return Err(format!("error text {shown:?} lacks its position"));
            }
            return Ok(0);
        }
    };
    let text = query.to_string();
    let back: Query = parse_query(&text)
        .map_err(|e| format!("canonical text {text:?} of {q:?} does not parse: {e}"))?;
    if back != query {
        return Err(format!(
            "canonical text {text:?} of {q:?} reads back as {back:?}, not {query:?}"
        ));
    }
    let again = back.to_string();
    if again != text {
        return Err(format!(
            "canonical text not stable: {text:?} then {again:?}"
        ));
    }
    Ok(query.statements.len())
}

/// The chart query templates of OpenWISP monitoring (spec §2.3, verbatim): chart name, the
/// measurement (`{key}`), the field (`{field_name}`) and the template.
pub const OPENWISP_CHART_TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "uptime",
        "ping",
        "reachable",
        "SELECT MEAN({field_name})*100 AS uptime FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "packet_loss",
        "ping",
        "loss",
        "SELECT MEAN(loss) AS packet_loss FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "rtt",
        "ping",
        "rtt_avg",
        "SELECT MEAN(rtt_avg) AS RTT_average, MEAN(rtt_max) AS RTT_max, MEAN(rtt_min) AS RTT_min FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "wifi_clients",
        "wifi_clients",
        "clients",
        "SELECT COUNT(DISTINCT({field_name})) AS wifi_clients FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' AND ifname = '{ifname}' GROUP BY time(1d)",
    ),
    (
        "gen_wifi_clients",
        "wifi_clients",
        "clients",
        "SELECT COUNT(DISTINCT({field_name})) AS wifi_clients FROM {key} WHERE time >= '{time}' {end_date} {organization_id} {location_id} {floorplan_id} GROUP BY time(1d)",
    ),
    (
        "traffic",
        "traffic",
        "rx_bytes",
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' AND ifname = '{ifname}' GROUP BY time(1d)",
    ),
    (
        "general_traffic",
        "traffic",
        "rx_bytes",
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM {key} WHERE time >= '{time}' {end_date} {organization_id} {location_id} {floorplan_id} {ifname} GROUP BY time(1d)",
    ),
    (
        "memory",
        "memory",
        "percent_used",
        "SELECT MEAN(percent_used) AS memory_usage FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "cpu",
        "cpu",
        "cpu_usage",
        "SELECT MEAN(cpu_usage) AS CPU_load FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "disk",
        "disk",
        "used_disk",
        "SELECT MEAN(used_disk) AS disk_usage FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "signal_strength",
        "signal",
        "signal_strength",
        "SELECT ROUND(MEAN(signal_strength)) AS signal_strength, ROUND(MEAN(signal_power)) AS signal_power FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "signal_quality",
        "signal",
        "signal_quality",
        "SELECT ROUND(MEAN(signal_quality)) AS signal_quality, ROUND(MEAN(snr)) AS signal_to_noise_ratio FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "access_tech",
        "signal",
        "access_tech",
        "SELECT MODE(access_tech) AS access_tech FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "bandwidth",
        "iperf3",
        "sent_bps_tcp",
        "SELECT MEAN(sent_bps_tcp) / 1000000000 AS TCP, MEAN(sent_bps_udp) / 1000000000 AS UDP FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "transfer",
        "iperf3",
        "sent_bytes_tcp",
        "SELECT SUM(sent_bytes_tcp) / 1000000000 AS TCP,SUM(sent_bytes_udp) / 1000000000 AS UDP FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "retransmits",
        "iperf3",
        "retransmits",
        "SELECT MEAN(retransmits) AS retransmits FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "jitter",
        "iperf3",
        "jitter",
        "SELECT MEAN(jitter) AS jitter FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "datagram",
        "iperf3",
        "lost_packets",
        "SELECT MEAN(lost_packets) AS lost_datagram,MEAN(total_packets) AS total_datagram FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
    (
        "datagram_loss",
        "iperf3",
        "lost_percent",
        "SELECT MEAN(lost_percent) AS datagram_loss FROM {key} WHERE time >= '{time}' AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)",
    ),
];

/// One rendering of the chart templates, as `DatabaseClient.get_query` would produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartRendering {
    /// `time=7d`: a `YYYY-MM-DD` start, no end, `GROUP BY time(1h)`, `tz('Europe/Rome')`;
    /// general charts for a superuser (no organization filter) with three interfaces.
    Default7d,
    /// A custom range: `YYYY-MM-DD HH:MM:SS` start and end, `GROUP BY time(1d)`, general charts
    /// for an admin of two organizations.
    CustomRange,
    /// The summary query: `GROUP BY time(...)` removed, ` LIMIT 1` appended.
    Summary,
}

/// Renders `template` the way OpenWISP does (§2.4): placeholders substituted with Python
/// `str.format` semantics (empty parameters leave double spaces), the group-by rewritten, the
/// time zone appended.
pub fn render_chart_query(template: &str, key: &str, field: &str, how: ChartRendering) -> String {
    let (time, end_date, orgs, ifnames) = match how {
        ChartRendering::Default7d | ChartRendering::Summary => (
            "2024-05-08",
            "",
            "",
            "AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2')",
        ),
        ChartRendering::CustomRange => (
            "2024-05-01 00:00:00",
            "AND time <= '2024-05-03 23:59:59'",
            "AND (organization_id = '1f6c5666-1ab8-4f1a-9c6a-5b0a3a2d1e01' OR organization_id = \
             '8a3f1b2c-77e0-4c55-b1a4-0d6f9e2c3b02')",
            "AND (ifname = 'wan')",
        ),
    };
    let general = template.contains("{organization_id}");
    let mut q = template
        .replace("{field_name}", field)
        .replace("{key}", key)
        .replace("{time}", time)
        .replace("{end_date}", end_date)
        .replace("{content_type}", "config.device")
        .replace("{object_id}", "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33")
        .replace("{organization_id}", orgs)
        .replace("{location_id}", "")
        .replace("{floorplan_id}", "")
        .replace("{ifname}", if general { ifnames } else { "wan" });
    match how {
        ChartRendering::Default7d => {
            q = q.replace("GROUP BY time(1d)", "GROUP BY time(1h)");
        }
        ChartRendering::CustomRange => {}
        ChartRendering::Summary => {
            q = q.replace("GROUP BY time(1d)", "");
            q.push_str(" LIMIT 1");
        }
    }
    q.push_str(" tz('Europe/Rome')");
    q
}

/// Every chart template in every rendering.
pub fn openwisp_chart_queries() -> Vec<String> {
    let mut out = Vec::new();
    for how in [
        ChartRendering::Default7d,
        ChartRendering::CustomRange,
        ChartRendering::Summary,
    ] {
        for (_, key, field, template) in OPENWISP_CHART_TEMPLATES {
            out.push(render_chart_query(template, key, field, how));
        }
    }
    out
}
