//! `SELECT` (and the odd multi-statement request) answered byte for byte like a real InfluxDB:
//! the fixed data set `golden/select/data.lp` is written into database `golden`, then every case
//! of `golden/select/cases.json` (query, db, epoch, GET/POST, bound parameters) is sent to
//! wispmon and its status and body must equal what Debian's InfluxDB 1.6.7 answered. All cases
//! run; the failure report lists every mismatch. A case with a `note` is a known 1.6 quirk or a
//! 1.6-vs-1.8 difference, explained there. Where wispmon deliberately answers otherwise, the
//! case carries a `wispmon` object (`status`, `body`, `why`): the reference's answer stays
//! recorded next to it, and wispmon must give the `wispmon` answer instead.
//!
//! The queries live in `golden/select/queries.txt` (format at the top of `record.py`). To
//! re-record after changing them or the data: start a fresh `influxd` on loopback (empty data
//! directory, see `start_influxd` in `compat_write.rs` for a config), then run
//! `python3 tests/golden/select/record.py --url http://127.0.0.1:PORT`, which rewrites
//! `cases.json` and keeps the notes of unchanged cases. `gen_data.py` documents how `data.lp`
//! was made.

use std::io::Read;
use std::time::Duration;

use crate::util::TestServer;

const DATA: &str = include_str!("golden/select/data.lp");
const CASES: &str = include_str!("golden/select/cases.json");
/// Lines per `/write` request, as `record.py` sends them.
const CHUNK_LINES: usize = 1000;
/// Expected and actual bodies are cut to this many characters in the report.
const SHOW_CHARS: usize = 400;

#[derive(Debug, serde::Deserialize)]
struct Case {
    q: String,
    db: Option<String>,
    epoch: Option<String>,
    method: String,
    params: Option<String>,
    status: u16,
    body: String,
    note: Option<String>,
    wispmon: Option<Departure>,
    #[serde(default)]
    chunked: Option<String>,
    #[serde(default)]
    chunk_size: Option<String>,
    #[serde(default)]
    pretty: Option<String>,
    #[serde(default)]
    accept: Option<String>,
}

/// A deliberate departure from the reference's answer.
#[derive(Debug, serde::Deserialize)]
struct Departure {
    status: u16,
    body: String,
    why: String,
}

impl Case {
    /// The request parameters in the order `record.py` sends them.
    fn fields(&self) -> Vec<(&str, &str)> {
        let mut fields = vec![("q", self.q.as_str())];
        for (k, v) in [
            ("db", &self.db),
            ("epoch", &self.epoch),
            ("params", &self.params),
            ("chunked", &self.chunked),
            ("chunk_size", &self.chunk_size),
            ("pretty", &self.pretty),
        ] {
            if let Some(v) = v {
                fields.push((k, v.as_str()));
            }
        }
        fields
    }

    fn label(&self) -> String {
        let mut s = format!("{} /query", self.method);
        for (k, v) in self.fields().into_iter().skip(1) {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

/// Status and body of the answer, whatever the status; status 0 when there was no answer.
fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return (0, format!("(no HTTP answer: {e})")),
    };
    let status = r.status();
    let mut body = Vec::new();
    if let Err(e) = r.into_reader().read_to_end(&mut body) {
        return (status, format!("(reading the body failed: {e})"));
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn send(
    agent: &ureq::Agent,
    url: &str,
    method: &str,
    fields: &[(&str, &str)],
    accept: Option<&str>,
) -> (u16, String) {
    if method == "POST" {
        let mut req = agent.post(url);
        if let Some(a) = accept {
            req = req.set("Accept", a);
        }
        answer(req.send_form(fields))
    } else {
        let mut req = agent.get(url);
        if let Some(a) = accept {
            req = req.set("Accept", a);
        }
        for (k, v) in fields {
            req = req.query(k, v);
        }
        answer(req.call())
    }
}

/// `s` for the report: line breaks made visible, cut after `SHOW_CHARS` characters.
fn show(s: &str) -> String {
    let visible = s.replace('\r', "\\r").replace('\n', "\\n");
    match visible.char_indices().nth(SHOW_CHARS) {
        Some((i, _)) => format!("{}… ({} bytes in all)", &visible[..i], s.len()),
        None => visible,
    }
}

/// Byte offset of the first difference between two different strings.
fn first_difference(a: &str, b: &str) -> usize {
    a.bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.len().min(b.len()))
}

#[test]
fn select_answers_like_influxdb_1_x() {
    let cases: Vec<Case> = serde_json::from_str(CASES).expect("golden/select/cases.json");
    assert!(!cases.is_empty(), "cases.json has no cases");

    let dir = tempfile::tempdir().unwrap();
    let mut ours = TestServer::spawn(
        &dir.path().join("w"),
        &[],
        &[("WISPMON_ADMIN_PASSWORD", "0123456789")],
    );
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let query_url = ours.url("/query");

    // The data set, loaded the way record.py loads it into the reference.
    let (status, body) = send(
        &agent,
        &query_url,
        "POST",
        &[("q", "CREATE DATABASE golden")],
        None,
    );
    assert_eq!(status, 200, "CREATE DATABASE golden: {body}");
    assert!(
        !body.contains("\"error\""),
        "CREATE DATABASE golden: {body}"
    );
    let lines: Vec<&str> = DATA.lines().collect();
    for (n, chunk) in lines.chunks(CHUNK_LINES).enumerate() {
        let mut payload = chunk.join("\n");
        payload.push('\n');
        let (status, body) = answer(
            agent
                .post(&ours.url("/write?db=golden&precision=ns"))
                .send_bytes(payload.as_bytes()),
        );
        assert_eq!(
            status,
            204,
            "writing data.lp lines {}..{}: {body}",
            n * CHUNK_LINES + 1,
            n * CHUNK_LINES + chunk.len()
        );
    }

    let mut report = String::new();
    let mut mismatches = 0;
    let mut departures = 0;
    for (i, case) in cases.iter().enumerate() {
        let (status, body) = send(
            &agent,
            &query_url,
            &case.method,
            &case.fields(),
            case.accept.as_deref(),
        );
        let (want_status, want_body) = match &case.wispmon {
            Some(d) => {
                departures += 1;
                assert!(!d.why.is_empty(), "#{i}: a departure must say why");
                (d.status, d.body.as_str())
            }
            None => (case.status, case.body.as_str()),
        };
        if (status, body.as_str()) == (want_status, want_body) {
            continue;
        }
        mismatches += 1;
        report.push_str(&format!(
            "\n#{i} {}\n  q: {}\n  expected {want_status}: {}\n  actual   {status}: {}\n",
            case.label(),
            case.q,
            show(want_body),
            show(&body),
        ));
        if body != want_body {
            report.push_str(&format!(
                "  bodies differ from byte {}\n",
                first_difference(want_body, &body)
            ));
        }
        if let Some(d) = &case.wispmon {
            report.push_str(&format!("  wispmon departs on purpose: {}\n", d.why));
        }
        if let Some(note) = &case.note {
            report.push_str(&format!("  note: {note}\n"));
        }
    }

    let total = cases.len();
    let matched = total - mismatches;
    eprintln!(
        "compat_select: {matched} of {total} cases answered as expected \
         ({departures} of them are documented departures from the reference)"
    );
    if mismatches > 0 {
        let mut epilogue = String::new();
        if let Ok(Some(exit)) = ours.child.try_wait() {
            epilogue = format!(
                "\nwispmon exited during the run ({exit}); stderr:\n{}",
                ours.stderr()
            );
        }
        panic!(
            "{matched} of {total} SELECT cases match the reference; {mismatches} differ \
             (#n is the index in tests/golden/select/cases.json):\n{report}{epilogue}"
        );
    }
}
