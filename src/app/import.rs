//! `wispmon import-influx`: copies the timeseries of an InfluxDB 1.x database (an OpenWISP
//! stack's `openwisp2`) into a running wispmon, so an operator can move off the old stack.
//!
//! How: the source's retention policies are created on the destination (same duration, shard
//! duration and default); then, per measurement and policy, `SELECT * … GROUP BY *` is read
//! with `chunked=true` (one JSON document per chunk, so memory stays bounded whatever the
//! size) and written to the destination's `/write` as line protocol in batches. Field types
//! come from `SHOW FIELD KEYS`, so integers stay integers (JSON alone cannot tell `5` from
//! `5.0`). Both ends speak plain HTTP/1.1 over TCP (the InfluxDB API on a LAN or loopback);
//! `https://` is refused with a clear message rather than sent in clear.

use std::io::{BufRead, Read};

use anyhow::{Context, bail};
use serde_json::Value;

pub use super::influx_http::Endpoint;
use super::influx_http::ident;
use crate::api::percent_encode as enc;

/// Lines per `/write` request to the destination.
const WRITE_BATCH: usize = 5000;
/// Rows per chunk asked of the source.
const CHUNK_ROWS: usize = 10_000;
/// Longest chunk line accepted from the source (bounds memory on a hostile or broken peer).
const MAX_LINE: usize = super::influx_http::MAX_BODY;

/// Escapes a measurement name for line protocol.
fn lp_measurement(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(' ', "\\ ")
}

/// Escapes a tag key, tag value or field key for line protocol.
fn lp_key(s: &str) -> String {
    lp_measurement(s).replace('=', "\\=")
}

/// One field value in line protocol, by the field's declared type; `None` for nulls.
fn lp_value(v: &Value, ty: &str) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::String(s) => Some(format!(
            "\"{}\"",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        )),
        Value::Number(n) => Some(match ty {
            "integer" => format!(
                "{}i",
                n.as_i64().map_or_else(|| n.to_string(), |i| i.to_string())
            ),
            "unsigned" => format!("{}u", n),
            _ => {
                // A float field must not look like an integer with a suffix; plain digits are
                // read as a float by line protocol.
                n.as_f64()
                    .map_or_else(|| n.to_string(), |f| format!("{f:?}"))
            }
        }),
        _ => None,
    }
}

/// The running wispmon of `config`, as an `http://` URL: its listen address, reached over
/// loopback when that is a wildcard.
pub fn local_url(config: &crate::config::Config) -> String {
    let a = config.listen.0;
    let ip = if a.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if a.is_ipv6() {
        format!("[{}]", a.ip())
    } else {
        a.ip().to_string()
    };
    format!("http://{ip}:{}", a.port())
}

/// What an import copied.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// `(retention policy, measurement, points)` for every non-empty copy.
    pub copied: Vec<(String, String, u64)>,
}

impl ImportSummary {
    /// Points copied in all.
    pub fn points(&self) -> u64 {
        self.copied.iter().map(|c| c.2).sum()
    }
}

/// Copies every measurement of `db` on `source` into `dest_db` on `dest`.
///
/// # Errors
/// Either end refuses a request, or answers something that is not InfluxDB's JSON.
pub fn import(
    source: &Endpoint,
    db: &str,
    dest: &Endpoint,
    dest_db: &str,
    mut progress: impl FnMut(&str, &str, u64),
) -> anyhow::Result<ImportSummary> {
    let rps = source.query(db, &format!("SHOW RETENTION POLICIES ON {}", ident(db)))?;
    let rps = rows(&rps);
    dest.query(dest_db, &format!("CREATE DATABASE {}", ident(dest_db)))?;
    let existing: Vec<String> = rows(&dest.query(
        dest_db,
        &format!("SHOW RETENTION POLICIES ON {}", ident(dest_db)),
    )?)
    .iter()
    .filter_map(|r| r.first()?.as_str().map(str::to_owned))
    .collect();
    let mut policies = Vec::new();
    for r in &rps {
        let (Some(name), Some(duration), Some(shard)) =
            (r[0].as_str(), r[1].as_str(), r[2].as_str())
        else {
            continue;
        };
        let default = r.get(4).and_then(Value::as_bool).unwrap_or(false);
        if !existing.iter().any(|e| e == name) {
            dest.query(
                dest_db,
                &format!(
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION 1 SHARD DURATION {}{}",
                    ident(name),
                    ident(dest_db),
                    if duration == "0s" { "INF" } else { duration },
                    shard,
                    if default { " DEFAULT" } else { "" }
                ),
            )?;
        }
        policies.push(name.to_owned());
    }
    let measurements: Vec<String> =
        rows(&source.query(db, &format!("SHOW MEASUREMENTS ON {}", ident(db)))?)
            .iter()
            .filter_map(|r| r.first()?.as_str().map(str::to_owned))
            .collect();
    let mut summary = ImportSummary::default();
    for m in &measurements {
        let types: std::collections::HashMap<String, String> = rows(&source.query(
            db,
            &format!("SHOW FIELD KEYS ON {} FROM {}", ident(db), ident(m)),
        )?)
        .iter()
        .filter_map(|r| {
            Some((
                r.first()?.as_str()?.to_owned(),
                r.get(1)?.as_str()?.to_owned(),
            ))
        })
        .collect();
        for rp in &policies {
            let n = copy_one(source, db, dest, dest_db, rp, m, &types)?;
            if n > 0 {
                progress(rp, m, n);
                summary.copied.push((rp.clone(), m.clone(), n));
            }
        }
    }
    Ok(summary)
}

/// The rows (`values`) of a result's first series.
fn rows(result: &Value) -> Vec<Vec<Value>> {
    result["series"][0]["values"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r.as_array().cloned()).collect())
        .unwrap_or_default()
}

fn copy_one(
    source: &Endpoint,
    db: &str,
    dest: &Endpoint,
    dest_db: &str,
    rp: &str,
    m: &str,
    types: &std::collections::HashMap<String, String>,
) -> anyhow::Result<u64> {
    let q = format!(
        "SELECT * FROM {}.{}.{} GROUP BY *",
        ident(db),
        ident(rp),
        ident(m)
    );
    let (status, body) = source.request(
        "POST",
        &format!(
            "/query?db={}&epoch=ns&chunked=true&chunk_size={CHUNK_ROWS}&q={}",
            enc(db),
            enc(&q)
        ),
        b"",
    )?;
    if status != 200 {
        bail!("{q}: source answered {status}");
    }
    let mut batch = String::new();
    let mut lines = 0usize;
    let mut points = 0u64;
    let flush = |batch: &mut String, lines: &mut usize| -> anyhow::Result<()> {
        if *lines == 0 {
            return Ok(());
        }
        let (st, mut b) = dest.request(
            "POST",
            &format!("/write?db={}&rp={}&precision=ns", enc(dest_db), enc(rp)),
            batch.as_bytes(),
        )?;
        if st != 204 {
            let mut text = String::new();
            let _ = (&mut b).take(4096).read_to_string(&mut text);
            bail!(
                "writing {m} ({rp}) to the destination: {st} {}",
                text.trim()
            );
        }
        batch.clear();
        *lines = 0;
        Ok(())
    };
    let mut reader = body;
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE {
            bail!("{q}: a chunk of more than {MAX_LINE} bytes");
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let doc: Value =
            serde_json::from_slice(&line).with_context(|| format!("{q}: a chunk is not JSON"))?;
        if let Some(e) = doc["error"]
            .as_str()
            .or(doc["results"][0]["error"].as_str())
        {
            bail!("{q}: {e}");
        }
        for series in doc["results"][0]["series"].as_array().into_iter().flatten() {
            let mut prefix = lp_measurement(m);
            if let Some(tags) = series["tags"].as_object() {
                let mut tags: Vec<(&String, &Value)> = tags.iter().collect();
                tags.sort_by(|a, b| a.0.cmp(b.0));
                for (k, v) in tags {
                    if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                        prefix.push(',');
                        prefix.push_str(&lp_key(k));
                        prefix.push('=');
                        prefix.push_str(&lp_key(v));
                    }
                }
            }
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .map(|c| c.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for row in series["values"].as_array().into_iter().flatten() {
                let Some(row) = row.as_array() else { continue };
                let Some(time) = row.first().and_then(Value::as_i64) else {
                    continue;
                };
                let fields: Vec<String> = columns
                    .iter()
                    .zip(row)
                    .skip(1)
                    .filter_map(|(c, v)| {
                        let ty = types.get(*c).map_or("float", String::as_str);
                        Some(format!("{}={}", lp_key(c), lp_value(v, ty)?))
                    })
                    .collect();
                if fields.is_empty() {
                    continue;
                }
                batch.push_str(&prefix);
                batch.push(' ');
                batch.push_str(&fields.join(","));
                batch.push(' ');
                batch.push_str(&time.to_string());
                batch.push('\n');
                lines += 1;
                points += 1;
                if lines >= WRITE_BATCH {
                    flush(&mut batch, &mut lines)?;
                }
            }
        }
    }
    flush(&mut batch, &mut lines)?;
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_escapes() {
        assert_eq!(lp_value(&serde_json::json!(5), "integer").unwrap(), "5i");
        assert_eq!(lp_value(&serde_json::json!(5), "float").unwrap(), "5.0");
        assert_eq!(lp_value(&serde_json::json!(0.1), "float").unwrap(), "0.1");
        assert_eq!(
            lp_value(&serde_json::json!("a\"b"), "string").unwrap(),
            "\"a\\\"b\""
        );
        assert_eq!(lp_value(&Value::Null, "float"), None);
        assert_eq!(lp_key("a b,c=d"), "a\\ b\\,c\\=d");
        assert_eq!(enc("SELECT *"), "SELECT%20%2A");
    }
}
