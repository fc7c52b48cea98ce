//! The bodies `/query` answers with: InfluxDB 1.x's compact JSON (key order, Go's number and
//! time text), its `pretty=true` indentation, `chunked=true` streams (one JSON document per
//! line, `"partial":true` on all but the last piece), and `Accept: application/csv`.

use crate::influxql::Value;
use crate::influxql::exec::{Series, StatementResult};
use crate::time::Zone;

/// Rows per chunk when `chunk_size` is absent or not a positive number (InfluxDB's default).
pub(crate) const DEFAULT_CHUNK_SIZE: usize = 10_000;

pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A float as Go's `encoding/json` writes it: shortest round-trip digits, no `.0` on integral
/// values, exponent form (`1.2493916e-8`, `1e+21`) below 1e-6 and from 1e21 on.
pub(crate) fn go_float(f: f64) -> String {
    if !f.is_finite() {
        // Go's encoder refuses these; a null keeps the document valid.
        return "null".into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.find('e') {
            Some(i) if !s[i + 1..].starts_with('-') => format!("{}e+{}", &s[..i], &s[i + 1..]),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// The `epoch` parameter: the unit times are rendered in, or `None` for RFC 3339 text.
pub(crate) fn epoch_unit(p: Option<&str>) -> Option<i64> {
    Some(match p? {
        // Only `u`: InfluxDB 1.x takes `µ` as unknown (nanoseconds).
        "u" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        // "ns", and (as InfluxDB does) anything unknown.
        _ => 1,
    })
}

fn json_value(v: &Value, epoch: Option<i64>, zone: &Zone, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Str(x) => out.push_str(&json_str(x)),
        Value::Int(x) => out.push_str(&x.to_string()),
        Value::Unsigned(x) => out.push_str(&x.to_string()),
        Value::Bool(x) => out.push_str(if *x { "true" } else { "false" }),
        Value::Float(x) => out.push_str(&go_float(*x)),
        Value::Time(t) => match epoch {
            Some(unit) => out.push_str(&(t / unit).to_string()),
            None => out.push_str(&json_str(&zone.format_rfc3339(*t))),
        },
    }
}

fn json_series(
    se: &Series,
    rows: &[Vec<Value>],
    partial: bool,
    epoch: Option<i64>,
    zone: &Zone,
    s: &mut String,
) {
    s.push('{');
    if let Some(n) = &se.name {
        s.push_str(&format!("\"name\":{},", json_str(n)));
    }
    if !se.tags.is_empty() {
        let tags: Vec<String> = se
            .tags
            .iter()
            .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
            .collect();
        s.push_str(&format!("\"tags\":{{{}}},", tags.join(",")));
    }
    let cols: Vec<String> = se.columns.iter().map(|c| json_str(c)).collect();
    s.push_str(&format!("\"columns\":[{}]", cols.join(",")));
    if !rows.is_empty() {
        s.push_str(",\"values\":[");
        for (k, row) in rows.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            s.push('[');
            for (c, v) in row.iter().enumerate() {
                if c > 0 {
                    s.push(',');
                }
                json_value(v, epoch, zone, s);
            }
            s.push(']');
        }
        s.push(']');
    }
    if partial {
        s.push_str(",\"partial\":true");
    }
    s.push('}');
}

/// One statement's result object; `pieces` are (series, rows, series partial).
fn json_result(
    id: usize,
    r: &StatementResult,
    pieces: &[(&Series, &[Vec<Value>], bool)],
    partial: bool,
    epoch: Option<i64>,
    s: &mut String,
) {
    let utc = Zone::utc();
    let zone = r.zone.as_ref().unwrap_or(&utc);
    s.push_str(&format!("{{\"statement_id\":{id}"));
    if !pieces.is_empty() {
        s.push_str(",\"series\":[");
        for (j, (se, rows, p)) in pieces.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            json_series(se, rows, *p, epoch, zone, s);
        }
        s.push(']');
    }
    if !r.messages.is_empty() {
        let msgs: Vec<String> = r
            .messages
            .iter()
            .map(|(l, t)| format!("{{\"level\":{},\"text\":{}}}", json_str(l), json_str(t)))
            .collect();
        s.push_str(&format!(",\"messages\":[{}]", msgs.join(",")));
    }
    if partial {
        s.push_str(",\"partial\":true");
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(",\"error\":{}", json_str(e)));
    }
    s.push('}');
}

/// What `[influx] max_row_limit` cut from an answer: series cut short, as (statement,
/// series) positions, and statements whose later series were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) series: Vec<(usize, usize)>,
    pub(crate) results: Vec<usize>,
}

/// The whole answer as one compact JSON document with a trailing newline; `cut` says what
/// the row limit cut (`"partial":true` there).
pub(crate) fn json(results: &[StatementResult], epoch: Option<i64>, cut: &Cut) -> String {
    let mut s = String::from("{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let pieces: Vec<(&Series, &[Vec<Value>], bool)> = r
            .series
            .iter()
            .enumerate()
            .map(|(j, se)| (se, se.values.as_slice(), cut.series.contains(&(i, j))))
            .collect();
        json_result(i, r, &pieces, cut.results.contains(&i), epoch, &mut s);
    }
    s.push_str("]}\n");
    s
}

/// `chunked=true`: one document per line, each holding at most `chunk_size` rows of one series;
/// a series cut in pieces says `"partial":true` on every piece but its last (and on its last
/// too when `cut` lists it: the row limit cut it), and a statement whose series continue on a
/// later line says it on its result.
pub(crate) fn chunked(
    results: &[StatementResult],
    epoch: Option<i64>,
    chunk_size: usize,
    cut: &Cut,
) -> String {
    let size = chunk_size.max(1);
    let mut s = String::new();
    for (i, r) in results.iter().enumerate() {
        if r.series.is_empty() {
            s.push_str("{\"results\":[");
            json_result(i, r, &[], false, epoch, &mut s);
            s.push_str("]}\n");
            continue;
        }
        for (j, se) in r.series.iter().enumerate() {
            let last_series = j + 1 == r.series.len();
            let mut pieces: Vec<&[Vec<Value>]> = se.values.chunks(size).collect();
            if pieces.is_empty() {
                pieces.push(&[]);
            }
            let n = pieces.len();
            for (k, rows) in pieces.into_iter().enumerate() {
                let series_partial = k + 1 < n || cut.series.contains(&(i, j));
                s.push_str("{\"results\":[");
                json_result(
                    i,
                    r,
                    &[(se, rows, series_partial)],
                    series_partial || !last_series || cut.results.contains(&i),
                    epoch,
                    &mut s,
                );
                s.push_str("]}\n");
            }
        }
    }
    s
}

/// `pretty=true`: the compact document re-indented as Go's `json.MarshalIndent` with four
/// spaces does it.
pub(crate) fn pretty(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = compact.trim_end().chars().collect();
    let indent = |out: &mut String, d: usize| {
        out.push('\n');
        for _ in 0..d {
            out.push_str("    ");
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                if chars.get(i + 1) == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i += 2;
                    continue;
                }
                out.push(c);
                depth += 1;
                indent(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                indent(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                indent(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
        i += 1;
    }
    out.push('\n');
    out
}

/// A CSV field as Go's `encoding/csv` writes it: quoted when it holds a comma, a quote, a line
/// break or starts with a space, quotes doubled.
fn csv_field(f: &str, out: &mut String) {
    let needs = !f.is_empty()
        && (f == "\\." || f.contains([',', '"', '\r', '\n']) || f.starts_with([' ', '\t']));
    if needs {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

fn csv_row(fields: &[String], out: &mut String) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(f, out);
    }
    out.push('\n');
}

/// Tags as a line-protocol tag set (`host=a,region=eu`), empty values left out.
fn tag_set(tags: &[(String, String)]) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace(',', "\\,")
            .replace('=', "\\=")
            .replace(' ', "\\ ")
    };
    tags.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `Accept: application/csv`: `name,tags,<columns>` headers (repeated when the columns
/// change), a blank line between statements, times as integers (ns, or the `epoch` unit),
/// floats without exponents; statements without series or with an error print nothing.
pub(crate) fn csv(results: &[StatementResult], epoch: Option<i64>) -> String {
    let mut out = String::new();
    let mut columns: Option<Vec<String>> = None;
    for r in results {
        if r.series.is_empty() {
            continue;
        }
        if columns.is_some() {
            out.push('\n');
        }
        columns = None;
        for se in &r.series {
            let header: Vec<String> = ["name".to_owned(), "tags".to_owned()]
                .into_iter()
                .chain(se.columns.iter().cloned())
                .collect();
            if columns.as_ref() != Some(&header) {
                csv_row(&header, &mut out);
                columns = Some(header);
            }
            let name = se.name.clone().unwrap_or_default();
            let tags = tag_set(&se.tags);
            for row in &se.values {
                let mut fields = Vec::with_capacity(row.len() + 2);
                fields.push(name.clone());
                fields.push(tags.clone());
                for v in row {
                    fields.push(match v {
                        Value::Null => String::new(),
                        Value::Str(s) => s.clone(),
                        Value::Int(x) => x.to_string(),
                        Value::Unsigned(x) => x.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) if f.is_finite() => format!("{f}"),
                        Value::Float(_) => String::new(),
                        Value::Time(t) => (t / epoch.unwrap_or(1)).to_string(),
                    });
                }
                csv_row(&fields, &mut out);
            }
        }
    }
    out
}

/// A request-level error in CSV (`error` header, the message).
pub(crate) fn csv_error(msg: &str) -> String {
    let mut out = String::new();
    csv_row(&["error".to_owned()], &mut out);
    csv_row(&[msg.to_owned()], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_like_go() {
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1.2493916e-8), "1.2493916e-8");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(0.1), "0.1");
    }

    #[test]
    fn pretty_indents_like_marshal_indent() {
        let p = pretty(
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[\"a\"],\"values\":[[1,\"x,y\"]]}]}]}\n",
        );
        assert_eq!(
            p,
            "{\n    \"results\": [\n        {\n            \"statement_id\": 0,\n            \"series\": [\n                {\n                    \"columns\": [\n                        \"a\"\n                    ],\n                    \"values\": [\n                        [\n                            1,\n                            \"x,y\"\n                        ]\n                    ]\n                }\n            ]\n        }\n    ]\n}\n"
        );
    }

    #[test]
    fn csv_quotes_like_go() {
        let mut s = String::new();
        csv_row(
            &[
                "a".into(),
                "say \"hi\"".into(),
                "x,y".into(),
                String::new(),
                " lead".into(),
            ],
            &mut s,
        );
        assert_eq!(s, "a,\"say \"\"hi\"\"\",\"x,y\",,\" lead\"\n");
    }
}
