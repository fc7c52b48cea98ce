//! `/ping` and `/write` as InfluxDB clients use them, against the real server; what was
//! stored is checked through the engine after the server stopped.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use wispmon::config::StorageConfig;
use wispmon::storage::{ColumnValues, Storage};
use wispmon::time::SystemClock;

use crate::util::TestServer;

fn post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, String, Vec<(String, String)>) {
    let mut req = ureq::post(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let hs = resp
        .headers_names()
        .into_iter()
        .map(|h| {
            let v = resp.header(&h).unwrap_or_default().to_owned();
            (h, v)
        })
        .collect();
    (resp.status(), resp.into_string().unwrap(), hs)
}

/// A recent whole second (ns): inside every retention policy.
fn base_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (now - 3600) * 1_000_000_000
}

/// `template` with every `{T+n}` replaced by base + n seconds in ns, and `{S+n}` in seconds.
fn at(template: &str, base: i64) -> String {
    let mut out = template.to_owned();
    for n in 0..20 {
        out = out.replace(
            &format!("{{T+{n}}}"),
            &(base + n * 1_000_000_000).to_string(),
        );
        out = out.replace(
            &format!("{{S+{n}}}"),
            &(base / 1_000_000_000 + n).to_string(),
        );
    }
    out
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Stops the server and reads `measurement.field` of every series through the engine.
fn stored(mut s: TestServer, data: &std::path::Path, m: &str, field: &str) -> Vec<(i64, String)> {
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
    let st = Storage::open(data, &StorageConfig::default(), Arc::new(SystemClock)).unwrap();
    let e = st.engine().clone();
    let mut out = Vec::new();
    for id in e.series_of("openwisp2", m).unwrap() {
        if let Some(c) = e
            .read("openwisp2", None, id, field, i64::MIN, i64::MAX)
            .unwrap()
        {
            for i in 0..c.len() {
                let v = match &c.values {
                    ColumnValues::Float(v) => format!("{:?}", v[i]),
                    ColumnValues::Integer(v) => format!("{}i", v[i]),
                    ColumnValues::Unsigned(v) => format!("{}u", v[i]),
                    ColumnValues::Boolean(v) => v[i].to_string(),
                    ColumnValues::String(v) => format!("{:?}", v[i]),
                };
                out.push((c.ts[i], v));
            }
        }
    }
    drop(e);
    st.close().unwrap();
    out.sort();
    out
}

#[test]
fn ping_answers_like_influxdb() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        &dir.path().join("d"),
        &[],
        &[("WISPMON_ADMIN_PASSWORD", "0123456789")],
    );
    let r = ureq::get(&s.url("/ping")).call().unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.header("X-Influxdb-Build"), Some("OSS"));
    assert!(r.header("X-Influxdb-Version").unwrap().starts_with("1.8"));
    assert_eq!(r.header("Request-Id").unwrap().len(), 36);
    let r = ureq::get(&s.url("/ping?verbose=true")).call().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.into_string().unwrap(), "{\"version\":\"1.8.10\"}\n");
    let r = ureq::head(&s.url("/ping")).call().unwrap();
    assert_eq!(r.status(), 204);
    let (code, body) = crate::util::get(&s.url("/nope"));
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
}

#[test]
fn write_stores_valid_lines_and_answers_influxdb_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let s = TestServer::spawn(&data, &[], &[("WISPMON_ADMIN_PASSWORD", "0123456789")]);
    let base = base_ns();
    let w = |q: &str, body: &str| {
        post(
            &s.url(&format!("/write{q}")),
            at(body, base).as_bytes(),
            &[],
        )
    };

    let (code, body, hs) = w(
        "?db=openwisp2",
        "cpu,host=a load=1.5 {T+1}\ncpu,host=a load=2 {T+2}\n",
    );
    assert_eq!((code, body.as_str()), (204, ""));
    assert_eq!(header(&hs, "X-Influxdb-Build"), Some("OSS"));
    assert_eq!(w("?db=openwisp2", "").0, 204, "an empty body is fine");
    assert_eq!(w("?db=openwisp2", "# just a comment\n\n").0, 204);

    let (code, body, _) = w("", "cpu v=1");
    assert_eq!(
        (code, body.as_str()),
        (400, "{\"error\":\"database is required\"}\n")
    );
    let (code, body, _) = w("?db=nosuchdb", "cpu v=1");
    assert_eq!(
        (code, body.as_str()),
        (
            404,
            "{\"error\":\"database not found: \\\"nosuchdb\\\"\"}\n"
        )
    );
    let (code, body, _) = w("?db=openwisp2&rp=nosuchrp", "cpu v=1");
    assert_eq!(
        (code, body.as_str()),
        (
            500,
            "{\"error\":\"retention policy not found: nosuchrp\"}\n"
        )
    );

    let (code, body, _) = w("?db=openwisp2", "cpu");
    assert_eq!(
        (code, body.as_str()),
        (
            400,
            "{\"error\":\"unable to parse 'cpu': missing fields\"}\n"
        )
    );

    // One bad line does not hide the good ones, which are stored.
    let (code, body, _) = w(
        "?db=openwisp2",
        "cpu,host=b load=3 {T+3}\ncpu,host=b load= {T+4}\ncpu,host=b load=5 {T+5}",
    );
    assert_eq!(code, 400);
    assert_eq!(
        body,
        at(
            "{\"error\":\"partial write: unable to parse 'cpu,host=b load= {T+4}': missing field value dropped=0\"}\n",
            base
        )
    );

    // A field type conflict drops just that point, with InfluxDB's text.
    let (code, body, _) = w(
        "?db=openwisp2",
        "cpu,host=a load=7i {T+7}\ncpu,host=a load=8 {T+8}",
    );
    assert_eq!(code, 400);
    assert_eq!(
        body,
        "{\"error\":\"partial write: field type conflict: input field \\\"load\\\" on measurement \\\"cpu\\\" is type integer, already exists as type float dropped=1\"}\n"
    );

    // Precision scales timestamps; gzip bodies are inflated.
    assert_eq!(
        w("?db=openwisp2&precision=s", "cpu,host=c load=9 {S+9}").0,
        204
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(at("cpu,host=c load=10 {T+10}\n", base).as_bytes())
        .unwrap();
    let (code, _, _) = post(
        &s.url("/write?db=openwisp2"),
        &gz.finish().unwrap(),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(code, 204);
    // Points older than the short policy keeps are refused, as InfluxDB does.
    let (code, body, _) = w(
        "?db=openwisp2&rp=short",
        "device_data,pk=x data=\"{}\" 1000",
    );
    assert_eq!(
        (code, body.as_str()),
        (
            400,
            "{\"error\":\"partial write: points beyond retention policy dropped=1\"}\n"
        )
    );

    let r = ureq::get(&s.url("/write?db=openwisp2")).call();
    assert!(matches!(r, Err(ureq::Error::Status(405, _))), "{r:?}");

    let got = stored(s, &data, "cpu", "load");
    let want: Vec<(i64, String)> = [
        (1, "1.5"),
        (2, "2.0"),
        (3, "3.0"),
        (5, "5.0"),
        (8, "8.0"),
        (9, "9.0"),
        (10, "10.0"),
    ]
    .iter()
    .map(|(t, v)| (base + t * 1_000_000_000, (*v).to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn write_limits_body_size_and_checks_credentials_when_auth_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let s = TestServer::spawn(
        &data,
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", "0123456789"),
            ("WISPMON_INFLUX__AUTH_ENABLED", "true"),
            ("WISPMON_INFLUX__MAX_BODY_SIZE", "2KiB"),
        ],
    );
    let url = s.url("/write?db=openwisp2");
    let line_text = at("m,host=a v=1 {T+1}\n", base_ns());
    let line = line_text.as_bytes();
    let (code, body, _) = post(&url, line, &[]);
    assert_eq!(
        (code, body.as_str()),
        (
            401,
            "{\"error\":\"unable to parse authentication credentials\"}\n"
        )
    );
    let (code, body, _) = post(&s.url("/write?db=openwisp2&u=admin&p=wrong"), line, &[]);
    assert_eq!(
        (code, body.as_str()),
        (401, "{\"error\":\"authorization failed\"}\n")
    );
    assert_eq!(
        post(
            &s.url("/write?db=openwisp2&u=admin&p=0123456789"),
            line,
            &[]
        )
        .0,
        204
    );
    // "admin:0123456789" in base64.
    assert_eq!(
        post(
            &url,
            line,
            &[("Authorization", "Basic YWRtaW46MDEyMzQ1Njc4OQ==")]
        )
        .0,
        204
    );
    assert_eq!(
        post(&url, line, &[("Authorization", "Token admin:0123456789")]).0,
        204
    );

    let auth = [("Authorization", "Token admin:0123456789")];
    let big = line_text.repeat(200);
    let (code, body, _) = post(&url, big.as_bytes(), &auth);
    assert_eq!(
        (code, body.as_str()),
        (413, "{\"error\":\"http: request body too large\"}\n")
    );
    // A small gzip body that inflates past the limit is refused the same way.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 2048);
    let (code, _, _) = post(&url, &bomb, &[auth[0], ("Content-Encoding", "gzip")]);
    assert_eq!(code, 413);
    assert_eq!(
        stored(s, &data, "m", "v").len(),
        1,
        "same series and time: one point"
    );
}

#[test]
fn query_refuses_what_it_cannot_answer_yet_per_statement() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        &dir.path().join("d"),
        &[],
        &[("WISPMON_ADMIN_PASSWORD", "0123456789")],
    );
    let r = ureq::post(&s.url("/query"))
        .send_form(&[
            (
                "q",
                "SELECT mean(load) INTO other FROM cpu; SHOW DATABASES; CREATE USER bob WITH PASSWORD 'x'",
            ),
            ("db", "openwisp2"),
        ])
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.into_string().unwrap(),
        "{\"results\":[{\"statement_id\":0,\"error\":\"SELECT INTO is not supported by wispmon\"},\
         {\"statement_id\":1,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"openwisp2\"]]}]},\
         {\"statement_id\":2,\"error\":\"CREATE USER is not supported by wispmon\"}]}\n"
    );
}
