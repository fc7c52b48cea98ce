//! Every bound on hostile or careless input, met the way a client meets it over HTTP: oversized
//! InfluxQL, agent forms, operator JSON and floor-plan images are refused with their status and
//! nothing of them is stored; a query asking for too many buckets gets InfluxDB's error;
//! oversized request heads get 431; the session cookie is `Secure` behind https; the control
//! socket is the owner's alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::operator_api::{ADMIN_PASSWORD, call, create_org, token};
use crate::util::{TestServer, enc};

/// Sends one request with `Connection: close` and reads the whole answer, while a second thread
/// writes the body: a server that answers before reading an oversized body all the way may
/// close its side, and the writer's error then does not matter. Returns (status, head, body).
fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String, String) {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        s.addr,
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    c.write_all(head.as_bytes()).unwrap();
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&body);
    });
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn oversized_input_is_refused_and_nothing_of_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = TestServer::spawn(
        &data,
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WISPMON_INFLUX__MAX_BODY_SIZE", "64KiB"),
            ("WISPMON_CHECKS__AUTO_PING", "false"),
        ],
    );
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let bearer = format!("Bearer {admin}");
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // InfluxQL in a POST form body beyond `influx.max_body_size`: 413, as InfluxDB says it.
    let q = format!(
        "q={}",
        enc(&format!(
            "SELECT v FROM m WHERE host = '{}'",
            "x".repeat(70 << 10)
        ))
    );
    let (st, _, body) = send(
        &s,
        "POST",
        "/query?db=x",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        q.into_bytes(),
    );
    assert_eq!(
        (st, body.as_str()),
        (413, "{\"error\":\"http: request body too large\"}\n")
    );

    // The config agent's form beyond 64 KiB: its 400, with the controller header, and no
    // device registered.
    let form = format!(
        "secret=whatever&name=big&mac_address=02:00:00:00:00:01&backend=netjsonconfig.OpenWrt&key={}&tags={}",
        "a".repeat(32),
        "t".repeat(65 << 10)
    );
    let (st, head, body) = send(
        &s,
        "POST",
        "/controller/register/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.into_bytes(),
    );
    assert_eq!(st, 400, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-openwisp-controller: true"),
        "{head}"
    );
    assert_eq!(body, "error: the request body is larger than 65536 bytes\n");

    // Operator JSON beyond 2 MiB: 413, and the device is not created.
    let big = json!({"name": "huge", "organization": org,
                     "mac_address": "02:00:00:00:00:02", "notes": "n".repeat(3 << 20)});
    let (st, _, body) = send(
        &s,
        "POST",
        "/api/v1/controller/device/",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        big.to_string().into_bytes(),
    );
    assert_eq!(st, 413, "{body}");
    let (st, list) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(list["count"], 0, "{list}");

    // A floor-plan image beyond 8 MiB: 413, and the stored image is unchanged.
    let (st, place) = call(
        "POST",
        &s.url("/api/v1/geo/location/"),
        Some(&admin),
        Some(&json!({"organization": org, "name": "HQ", "type": "indoor",
                     "geometry": {"type": "Point", "coordinates": [9.19, 45.46]}})),
    );
    assert_eq!(st, 201, "{place}");
    let (st, fp) = call(
        "POST",
        &s.url("/api/v1/geo/floorplan/"),
        Some(&admin),
        Some(&json!({"location": place["id"], "floor": 1})),
    );
    assert_eq!(st, 201, "{fp}");
    let image = format!(
        "/api/v1/geo/floorplan/{}/image/",
        fp["id"].as_str().unwrap()
    );
    let png = b"\x89PNG\r\n\x1a\n-small-plan-".to_vec();
    let put = |bytes: Vec<u8>| {
        send(
            &s,
            "PUT",
            &image,
            &[("Content-Type", "image/png"), ("Authorization", &bearer)],
            bytes,
        )
    };
    assert_eq!(put(png.clone()).0, 200);
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    huge.resize((8 << 20) + 1, 0);
    let (st, _, body) = put(huge.clone());
    assert_eq!(
        (st, body.as_str()),
        (
            400,
            "{\"image\":[\"The image is larger than 8388608 bytes.\"]}"
        )
    );
    // Far beyond, it is not even read to the end.
    huge.resize(9 << 20, 0);
    let (st, _, body) = put(huge);
    assert_eq!(st, 413, "{body}");
    let r = ureq::get(&s.url(&image))
        .set("Authorization", &bearer)
        .call()
        .unwrap();
    let mut got = Vec::new();
    r.into_reader().read_to_end(&mut got).unwrap();
    assert_eq!(got, png);
}

#[test]
fn too_many_buckets_secure_cookies_and_a_private_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = TestServer::spawn(
        &data,
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            (
                "WISPMON_NOTIFICATIONS__BASE_URL",
                "https://wispmon.example.net",
            ),
            ("WISPMON_CHECKS__AUTO_PING", "false"),
        ],
    );
    let base = format!("http://{}", s.addr);

    // GROUP BY time(1s) over 40 years: more buckets than a query may build, refused per
    // statement with InfluxDB's text (the server answers at once, without building them).
    let (st, v) = call(
        "POST",
        &s.url(&format!("/query?q={}", enc("CREATE DATABASE b"))),
        None,
        None,
    );
    assert_eq!(st, 200, "{v}");
    let r = ureq::post(&format!("{base}/write?db=b"))
        .send_string("m v=1 1000000000000000000")
        .unwrap();
    assert_eq!(r.status(), 204);
    let answer = crate::util::influxql(
        &base,
        "b",
        "SELECT count(v) FROM m WHERE time >= '1990-01-01T00:00:00Z' AND time < '2030-01-01T00:00:00Z' GROUP BY time(1s)",
    );
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("max-select-buckets limit exceeded: (") && error.ends_with("/1000000)"),
        "{answer}"
    );
    // The same query over a day is answered.
    let answer = crate::util::influxql(
        &base,
        "b",
        "SELECT count(v) FROM m WHERE time >= '2001-09-09T00:00:00Z' AND time < '2001-09-10T00:00:00Z' GROUP BY time(1s) fill(none)",
    );
    assert_eq!(
        answer["series"][0]["values"],
        json!([[1_000_000_000_000_000_000_i64, 1]]),
        "{answer}"
    );

    // Behind https (the configured base URL), the session cookie carries `Secure`.
    let (st, head, body) = send(
        &s,
        "POST",
        "/api/v1/ui/session/",
        &[("Content-Type", "application/json")],
        json!({"username": "admin", "password": ADMIN_PASSWORD})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(st, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l.to_owned())
        })
        .expect("a session cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }

    // Request heads: beyond 64 KiB or 100 header lines, 431 before any handler runs.
    let (st, _, _) = send(
        &s,
        "GET",
        "/ping",
        &[("X-Padding", &"p".repeat(70 << 10))],
        Vec::new(),
    );
    assert_eq!(st, 431);
    let many: Vec<(String, String)> = (0..101).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (st, _, _) = send(&s, "GET", "/ping", &many, Vec::new());
    assert_eq!(st, 431);
    let (st, _, _) = send(&s, "GET", "/ping", &many[..90], Vec::new());
    assert_eq!(st, 204);

    // The control socket (backups of the running appliance) is the service user's alone, in a
    // directory only that user may enter.
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let sock = std::fs::metadata(data.join("control.sock")).unwrap();
    assert!(sock.file_type().is_socket());
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
}

/// `[influx] max_row_limit` cuts answers as InfluxDB 1.6.7's `max-row-limit` does. Each
/// expected body below is what Debian's influxd 1.6.7 answered, byte for byte, with
/// `max-row-limit = 5` and the same points (compared by hand on 2026-11-22): the series that
/// crosses the limit is cut and says `"partial":true`, the series after it are dropped (the
/// result then says `"partial":true`), and later statements answer nothing. Chunked answers are
/// cut the same way.
#[test]
fn answers_are_cut_at_the_row_limit_as_influxdb_cuts_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        &dir.path().join("data"),
        &[],
        &[
            ("WISPMON_INFLUX__MAX_ROW_LIMIT", "5"),
            ("WISPMON_CHECKS__AUTO_PING", "false"),
        ],
    );
    let base = format!("http://{}", s.addr);
    let q = |query: &str, extra: &str| {
        crate::util::get(&format!("{base}/query?db=t{extra}&q={}", enc(query)))
    };
    assert_eq!(q("CREATE DATABASE t", "").0, 200);
    let r = ureq::post(&format!("{base}/write?db=t"))
        .send_string(
            "m,h=a v=1 1\nm,h=a v=2 2\nm,h=a v=3 3\nm,h=b v=4 1\nm,h=b v=5 2\nm,h=b v=6 3\n\
             m,h=c v=7 1\nn v=1 1\nm,h=d v=8 1\n",
        )
        .unwrap();
    assert_eq!(r.status(), 204);
    let t = |n: u8| format!("\"1970-01-01T00:00:00.00000000{n}Z\"");
    let series = |h: &str, rows: &[(u8, u8)], partial: bool| {
        let values: Vec<String> = rows
            .iter()
            .map(|(ts, v)| format!("[{},{v}]", t(*ts)))
            .collect();
        format!(
            "{{\"name\":\"m\",\"tags\":{{\"h\":\"{h}\"}},\"columns\":[\"time\",\"v\"],\"values\":[{}]{}}}",
            values.join(","),
            if partial { ",\"partial\":true" } else { "" }
        )
    };
    let a = series("a", &[(1, 1), (2, 2), (3, 3)], false);
    let b_cut = series("b", &[(1, 4), (2, 5)], true);
    let cut_in_b = format!(
        "{{\"results\":[{{\"statement_id\":0,\"series\":[{a},{b_cut}],\"partial\":true}}]}}\n"
    );
    for query in [
        "SELECT v FROM m GROUP BY h",
        "SELECT * FROM m GROUP BY *",
        "SELECT v FROM m WHERE h='c' OR h='b' OR h='a' GROUP BY h",
        // Later statements answer nothing.
        "SELECT v FROM m GROUP BY h; SELECT v FROM n",
    ] {
        assert_eq!(q(query, ""), (200, cut_in_b.clone()), "{query}");
    }
    // Cut in the last series: nothing dropped after it, so the result is not partial.
    let only_a_b = format!("{{\"results\":[{{\"statement_id\":0,\"series\":[{a},{b_cut}]}}]}}\n");
    assert_eq!(
        q("SELECT v FROM m WHERE h='a' OR h='b' GROUP BY h", ""),
        (200, only_a_b)
    );
    // Exactly at the limit with a series left over: no series cut, the result partial.
    let two = |h, x: u8, y: u8| series(h, &[(1, x), (2, y)], false);
    let at_limit = format!(
        "{{\"results\":[{{\"statement_id\":0,\"series\":[{},{},{}],\"partial\":true}}]}}\n",
        two("a", 1, 2),
        two("b", 4, 5),
        series("c", &[(1, 7)], false)
    );
    assert_eq!(
        q("SELECT v FROM m GROUP BY h LIMIT 2; SELECT v FROM n", ""),
        (200, at_limit)
    );
    // Counted across statements: the second is cut.
    let across = format!(
        "{{\"results\":[{{\"statement_id\":0,\"series\":[{{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[{},1],[{},2],[{},3]]}}]}},\
         {{\"statement_id\":1,\"series\":[{{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[{},4],[{},5]],\"partial\":true}}]}}]}}\n",
        t(1),
        t(2),
        t(3),
        t(1),
        t(2)
    );
    assert_eq!(
        q(
            "SELECT v FROM m WHERE h='a'; SELECT v FROM m WHERE h='b'; SELECT v FROM n",
            ""
        ),
        (200, across)
    );
    // Descending: computed whole, cut the same way.
    let desc = format!(
        "{{\"results\":[{{\"statement_id\":0,\"series\":[{},{},{}],\"partial\":true}}]}}\n",
        series("d", &[(1, 8)], false),
        series("c", &[(1, 7)], false),
        series("b", &[(3, 6), (2, 5), (1, 4)], false)
    );
    assert_eq!(
        q("SELECT v FROM m GROUP BY h ORDER BY time DESC", ""),
        (200, desc)
    );
    // Under the limit: untouched.
    let (st, body) = q("SELECT count(v) FROM m GROUP BY h", "");
    assert_eq!(st, 200);
    assert!(!body.contains("partial"), "{body}");
    // Chunked (wispmon builds it whole, so it is bounded too): the cut series' last piece
    // and its result say partial, and nothing follows.
    let (st, body) = q("SELECT v FROM m GROUP BY h", "&chunked=true&chunk_size=2");
    assert_eq!(st, 200);
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rows: usize = lines
        .iter()
        .map(|l| {
            l["results"][0]["series"][0]["values"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(rows, 5, "{body}");
    let last = &lines.last().unwrap()["results"][0];
    assert_eq!(last["series"][0]["tags"]["h"], "b", "{body}");
    assert_eq!(
        (
            last["series"][0]["partial"].clone(),
            last["partial"].clone()
        ),
        (json!(true), json!(true)),
        "{body}"
    );
}
