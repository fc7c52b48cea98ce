//! The remote timeseries backend (`[timeseries] backend = "influxdb"`): the domain's writes,
//! chart queries and reads sent to an InfluxDB 1.x over its HTTP API, for fleets past one
//! box. Chart queries are the same InfluxQL the embedded engine runs; the other reads are
//! written here as InfluxQL (see [`RemoteInflux`]'s methods), so both backends answer alike.

use std::borrow::Cow;
use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use super::influx_http::{Endpoint, ident, literal};
use crate::api::percent_encode as enc;
use crate::config::TimeseriesConfig;
use crate::domain::DomainError;
use crate::domain::timeseries::{FieldQuery, Rows, SHORT_RP, Timeseries};
use crate::lineproto::{self, ParsedLine};
use crate::storage::{FieldValue, Point};

/// InfluxDB 1.x's time bounds, ns (its min and max are one inside `i64`'s).
const MIN_TIME: i64 = i64::MIN + 2;
const MAX_TIME: i64 = i64::MAX - 1;
/// Lines per `/write` request.
const WRITE_BATCH: usize = 5000;

fn failed(e: impl std::fmt::Display) -> DomainError {
    DomainError::Backend(format!("{e:#}"))
}

/// An InfluxDB 1.x as the domain's timeseries store.
#[derive(Debug, Clone)]
pub struct RemoteInflux {
    endpoint: Endpoint,
}

impl RemoteInflux {
    /// The backend of `cfg` (`url`, `username`, `password`, `timeout`).
    ///
    /// # Errors
    /// The URL is not `http://host[:port]`.
    pub fn new(cfg: &TimeseriesConfig) -> anyhow::Result<RemoteInflux> {
        let auth = (!cfg.username.is_empty()).then(|| (cfg.username.clone(), cfg.password.clone()));
        Ok(RemoteInflux {
            endpoint: Endpoint::parse(&cfg.url, auth)?.with_timeout(cfg.timeout),
        })
    }

    /// The remote's `host:port`, for logs.
    pub fn authority(&self) -> String {
        self.endpoint.authority()
    }

    /// Whether the remote answers `/ping` within `timeout`.
    ///
    /// # Errors
    /// It does not, with why.
    pub fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        let e = self.endpoint.clone().with_timeout(timeout);
        let (status, _) = e.request("GET", "/ping?", b"")?;
        anyhow::ensure!(status == 204, "/ping answered {status}");
        Ok(())
    }

    fn query(&self, db: &str, q: &str) -> Result<Value, DomainError> {
        self.endpoint.query(db, q).map_err(failed)
    }

    /// `SELECT <what> FROM <rp>.<measurement> WHERE <tags and time>`.
    fn select_text(q: &FieldQuery<'_>, what: &str) -> String {
        let from = match q.rp {
            Some(rp) => format!("{}.{}", ident(rp), ident(q.measurement)),
            None => ident(q.measurement),
        };
        let mut conds: Vec<String> = q
            .tags
            .iter()
            .map(|(k, vs)| {
                let any: Vec<String> = vs
                    .iter()
                    .map(|v| format!("{}::tag = {}", ident(k), literal(v)))
                    .collect();
                match any.len() {
                    // No value can match: InfluxQL has no FALSE literal.
                    0 => "time < 0 AND time > 0".to_owned(),
                    1 => any.concat(),
                    _ => format!("({})", any.join(" OR ")),
                }
            })
            .collect();
        if q.lo > MIN_TIME {
            conds.push(format!("time >= {}", q.lo));
        }
        if q.hi < MAX_TIME {
            conds.push(format!("time <= {}", q.hi));
        }
        let mut s = format!("SELECT {what} FROM {from}");
        if !conds.is_empty() {
            s.push_str(" WHERE ");
            s.push_str(&conds.join(" AND "));
        }
        s
    }

    /// The `(time, value)` rows of a one-column SELECT.
    fn field_rows(&self, db: &str, q: &str) -> Result<Vec<(i64, FieldValue)>, DomainError> {
        let r = self.query(db, q)?;
        let mut out = Vec::new();
        for series in r["series"].as_array().into_iter().flatten() {
            for row in series["values"].as_array().into_iter().flatten() {
                let (Some(t), Some(v)) = (row[0].as_i64(), field_value(&row[1])) else {
                    continue;
                };
                out.push((t, v));
            }
        }
        out.sort_by_key(|p| p.0);
        Ok(out)
    }

    /// Creates or alters one retention policy to `duration`.
    fn policy(
        &self,
        db: &str,
        existing: &[String],
        name: &str,
        duration: Duration,
        default: bool,
    ) -> Result<(), DomainError> {
        let verb = if existing.iter().any(|e| e == name) {
            "ALTER"
        } else {
            "CREATE"
        };
        let q = format!(
            "{verb} RETENTION POLICY {} ON {} DURATION {}s REPLICATION 1{}",
            ident(name),
            ident(db),
            duration.as_secs(),
            if default { " DEFAULT" } else { "" }
        );
        self.query(db, &q).map(drop)
    }

    /// Sends one `/write` batch; returns how many points the remote kept.
    fn write_batch(
        &self,
        db: &str,
        rp: Option<&str>,
        body: &str,
        lines: usize,
    ) -> Result<usize, DomainError> {
        let mut target = format!("/write?db={}&precision=ns", enc(db));
        if let Some(rp) = rp {
            target.push_str(&format!("&rp={}", enc(rp)));
        }
        let (status, answer) = self
            .endpoint
            .request("POST", &target, body.as_bytes())
            .map_err(failed)?;
        if status == 204 {
            return Ok(lines);
        }
        let mut text = String::new();
        let _ = answer.take(64 << 10).read_to_string(&mut text);
        let error = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_owned());
        // Points refused one by one (older than their policy, a field type conflict) are
        // skipped as the embedded engine skips them; the rest of the batch is stored
        // ("partial write: points beyond retention policy dropped=N").
        if let Some(n) = partially_dropped(status, &error) {
            tracing::debug!(db, dropped = n, reason = %error, "points not stored");
            return Ok(lines.saturating_sub(n));
        }
        Err(DomainError::Backend(format!(
            "writing to {db}: {status} {error}"
        )))
    }
}

/// How many points a `partial write` answer dropped; `None` for any other answer.
fn partially_dropped(status: u16, error: &str) -> Option<usize> {
    if status != 400 || !error.starts_with("partial write") {
        return None;
    }
    error
        .rsplit("dropped=")
        .next()
        .and_then(|n| n.trim().parse::<usize>().ok())
}

/// A JSON value of a result as a field value (a whole number is an integer: InfluxDB renders
/// the float 5.0 as `5`, and the domain reads numbers as `f64` either way).
fn field_value(v: &Value) -> Option<FieldValue> {
    Some(match v {
        Value::Bool(b) => FieldValue::Boolean(*b),
        Value::String(s) => FieldValue::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Integer(i),
            None => FieldValue::Float(n.as_f64()?),
        },
        _ => return None,
    })
}

/// A point as a line of line protocol.
fn line_of(p: &Point) -> ParsedLine<'_> {
    ParsedLine {
        measurement: Cow::Borrowed(&p.measurement),
        tags: p
            .tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
            .collect(),
        fields: p
            .fields
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    FieldValue::Float(f) => lineproto::FieldValue::Float(*f),
                    FieldValue::Integer(i) => lineproto::FieldValue::Integer(*i),
                    FieldValue::Unsigned(u) => lineproto::FieldValue::Unsigned(*u),
                    FieldValue::Boolean(b) => lineproto::FieldValue::Boolean(*b),
                    FieldValue::String(s) => lineproto::FieldValue::String(Cow::Borrowed(s)),
                };
                (Cow::Borrowed(k.as_str()), v)
            })
            .collect(),
        timestamp: Some(p.time),
    }
}

impl RemoteInflux {
    /// Creates `db` and returns its retention policies' names.
    fn create(&self, db: &str) -> Result<Vec<String>, DomainError> {
        self.query(db, &format!("CREATE DATABASE {}", ident(db)))?;
        Ok(self
            .query(db, &format!("SHOW RETENTION POLICIES ON {}", ident(db)))?["series"][0]
            ["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[0].as_str().map(str::to_owned))
            .collect())
    }
}

impl Timeseries for RemoteInflux {
    fn ensure_database(&self, db: &str, retention: Duration) -> Result<(), DomainError> {
        let existing = self.create(db)?;
        self.policy(db, &existing, "autogen", retention, true)
    }

    fn ensure(&self, cfg: &TimeseriesConfig) -> Result<(), DomainError> {
        let db = &cfg.database;
        let existing = self.create(db)?;
        self.policy(db, &existing, "autogen", cfg.default_retention_policy, true)?;
        self.policy(db, &existing, SHORT_RP, cfg.short_retention_policy, false)
    }

    fn write(&self, db: &str, rp: Option<&str>, points: Vec<Point>) -> Result<usize, DomainError> {
        let mut written = 0;
        let mut body = String::new();
        let mut lines = 0;
        for p in &points {
            // A point the writer refuses leaves `body` as it was.
            match lineproto::write_line(&mut body, &line_of(p)) {
                Ok(()) => {
                    body.push('\n');
                    lines += 1;
                }
                Err(e) => {
                    tracing::debug!(db, measurement = %p.measurement, error = %e, "point not stored");
                }
            }
            if lines >= WRITE_BATCH {
                written += self.write_batch(db, rp, &body, lines)?;
                body.clear();
                lines = 0;
            }
        }
        if lines > 0 {
            written += self.write_batch(db, rp, &body, lines)?;
        }
        Ok(written)
    }

    fn select(&self, db: &str, q: &str, _now: i64) -> Result<Rows, DomainError> {
        let results = self.endpoint.query_all(db, q).map_err(failed)?;
        let mut out = Rows::default();
        for r in results {
            if let Some(e) = r["error"].as_str() {
                // A measurement not written yet is "no data", as with the embedded engine.
                tracing::debug!(query = q, error = e, "query answered an error");
                continue;
            }
            for series in r["series"].as_array().into_iter().flatten() {
                if out.columns.is_empty() {
                    out.columns = series["columns"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .skip(1)
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect();
                }
                for row in series["values"].as_array().into_iter().flatten() {
                    let Some(row) = row.as_array() else { continue };
                    let time = row.first().and_then(Value::as_i64).unwrap_or(0);
                    out.rows.push((time, row.iter().skip(1).cloned().collect()));
                }
            }
        }
        Ok(out)
    }

    fn points(&self, q: &FieldQuery<'_>) -> Result<Vec<(i64, FieldValue)>, DomainError> {
        let text = Self::select_text(q, &format!("{}::field", ident(q.field)));
        self.field_rows(q.db, &text)
    }

    fn any(&self, q: &FieldQuery<'_>) -> Result<bool, DomainError> {
        let text = Self::select_text(q, &format!("{}::field", ident(q.field))) + " LIMIT 1";
        Ok(!self.field_rows(q.db, &text)?.is_empty())
    }

    fn latest(
        &self,
        q: &FieldQuery<'_>,
        _recent: i64,
    ) -> Result<Option<(i64, FieldValue)>, DomainError> {
        let text = Self::select_text(q, &format!("last({})", ident(q.field)));
        Ok(self.field_rows(q.db, &text)?.pop())
    }

    fn drop_object(&self, db: &str, id: &str) -> Result<(), DomainError> {
        let r = self.query(db, "SHOW DATABASES")?;
        let exists = r["series"][0]["values"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v[0].as_str() == Some(db));
        if !exists {
            return Ok(());
        }
        for tag in ["object_id", "pk"] {
            self.query(
                db,
                &format!("DROP SERIES WHERE {} = {}", ident(tag), literal(id)),
            )?;
        }
        Ok(())
    }
}

impl crate::api::InfluxRelay for RemoteInflux {
    fn relay(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<crate::api::Relayed, String> {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        let target = format!("{path}?{}", query.join("&"));
        let answer = self
            .endpoint
            .request_with(method, &target, headers, body)
            .map_err(|e| format!("{e:#}"))?;
        let mut out = Vec::new();
        let limit = super::influx_http::MAX_BODY;
        answer
            .body
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if out.len() > limit {
            return Err(format!(
                "the answer is larger than {} MiB; ask for less (LIMIT, a shorter time range)",
                limit >> 20
            ));
        }
        Ok(crate::api::Relayed {
            status: answer.status,
            headers: answer.headers,
            body: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_written_as_influxql() {
        let tags = [
            ("object_id".to_owned(), vec!["a'b".to_owned()]),
            (
                "ifname".to_owned(),
                vec!["eth0".to_owned(), "wlan0".to_owned()],
            ),
        ];
        let q = FieldQuery {
            db: "openwisp2",
            rp: Some("short"),
            measurement: "traffic",
            tags: &tags,
            field: "rx_bytes",
            lo: 10,
            hi: i64::MAX,
        };
        assert_eq!(
            RemoteInflux::select_text(&q, "\"rx_bytes\"::field"),
            "SELECT \"rx_bytes\"::field FROM \"short\".\"traffic\" WHERE \"object_id\"::tag = 'a\\'b' \
             AND (\"ifname\"::tag = 'eth0' OR \"ifname\"::tag = 'wlan0') AND time >= 10"
        );
        let q = FieldQuery {
            rp: None,
            tags: &[],
            lo: i64::MIN,
            ..q
        };
        assert_eq!(
            RemoteInflux::select_text(&q, "last(\"x\")"),
            "SELECT last(\"x\") FROM \"traffic\""
        );
        // Every generated statement parses as InfluxQL.
        assert!(
            crate::influxql::parse_query(&RemoteInflux::select_text(&q, "last(\"x\")")).is_ok()
        );
    }

    #[test]
    fn partial_writes_count_what_was_dropped() {
        let beyond = "partial write: points beyond retention policy dropped=2";
        assert_eq!(partially_dropped(400, beyond), Some(2));
        let conflict = "partial write: field type conflict: input field \"v\" on measurement \"m\" \
                        is type integer, already exists as type float dropped=1";
        assert_eq!(partially_dropped(400, conflict), Some(1));
        assert_eq!(partially_dropped(404, "database not found: \"x\""), None);
        assert_eq!(
            partially_dropped(400, "unable to parse 'x': missing fields"),
            None
        );
        assert_eq!(partially_dropped(500, beyond), None);
    }

    #[test]
    fn points_become_line_protocol() {
        let p = Point {
            measurement: "ping".into(),
            tags: vec![
                ("object_id".into(), "x y".into()),
                ("empty".into(), String::new()),
            ],
            fields: vec![
                ("loss".into(), FieldValue::Float(0.0)),
                ("reachable".into(), FieldValue::Integer(1)),
                ("note".into(), FieldValue::String("a\"b".into())),
            ],
            time: 5,
        };
        let mut s = String::new();
        lineproto::write_line(&mut s, &line_of(&p)).unwrap();
        assert_eq!(
            s,
            "ping,object_id=x\\ y loss=0.0,reachable=1i,note=\"a\\\"b\" 5"
        );
        assert_eq!(
            field_value(&serde_json::json!(5)),
            Some(FieldValue::Integer(5))
        );
        assert_eq!(
            field_value(&serde_json::json!(0.5)),
            Some(FieldValue::Float(0.5))
        );
        assert_eq!(field_value(&Value::Null), None);
    }
}
