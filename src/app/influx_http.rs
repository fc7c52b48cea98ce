//! A small, bounded HTTP/1.1 client for InfluxDB 1.x's API (`/query`, `/write`), used by
//! `import-influx` and by the remote timeseries backend. One connection per request
//! (`Connection: close`), plain `http://` only (the API on a LAN or loopback), every wait
//! bounded by a timeout and every answer by [`MAX_BODY`], so a broken or hostile peer
//! cannot hang or exhaust the appliance.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::api::percent_encode as enc;

/// Largest answer body (or chunk line) read from a peer.
pub const MAX_BODY: usize = 64 << 20;
/// Most header lines accepted in an answer.
pub const MAX_HEADERS: usize = 100;

/// An answer: status, headers (names lowercase) and the de-chunked body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Box<dyn BufRead>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// An InfluxDB 1.x HTTP endpoint with optional credentials.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(super) host: String,
    pub(super) port: u16,
    auth: Option<(String, String)>,
    timeout: Duration,
}

impl Endpoint {
    /// Parses `http://host[:port]` (a trailing `/` is fine).
    ///
    /// # Errors
    /// Not an `http://` URL with a host.
    pub fn parse(url: &str, auth: Option<(String, String)>) -> anyhow::Result<Endpoint> {
        if url.starts_with("https://") {
            bail!(
                "{url}: https is not supported; use the InfluxDB's plain http address on the LAN or through an SSH tunnel"
            );
        }
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: expected http://host[:port]"))?
            .trim_end_matches('/');
        if rest.contains('/') || rest.is_empty() {
            bail!("{url}: expected http://host[:port] without a path");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                p.parse().with_context(|| format!("{url}: bad port"))?,
            ),
            _ => (rest.to_owned(), 8086),
        };
        Ok(Endpoint {
            host,
            port,
            auth,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same endpoint waiting at most `timeout` for connecting, sending and each read.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Endpoint {
        self.timeout = timeout;
        self
    }

    /// `host:port` as written in a URL.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn target(&self, path_and_query: &str) -> String {
        let mut t = path_and_query.to_owned();
        if let Some((u, p)) = &self.auth {
            t.push_str(&format!("&u={}&p={}", enc(u), enc(p)));
        }
        t
    }

    /// Sends one request; returns the status and a reader of the (de-chunked) body.
    ///
    /// # Errors
    /// The peer cannot be reached, times out, or does not answer HTTP.
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, Box<dyn BufRead>)> {
        let a = self.request_with(method, path_and_query, &[], body)?;
        Ok((a.status, a.body))
    }

    /// Sends one request with extra headers (`Accept` replaces the default
    /// `application/json`); returns the status, the headers and the (de-chunked) body.
    ///
    /// # Errors
    /// A header with a line break, the peer cannot be reached, times out, or does not
    /// answer HTTP (or sends more than [`MAX_HEADERS`] header lines).
    pub fn request_with(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Answer> {
        let host = self.authority();
        let mut extra = String::new();
        let mut accept = "application/json";
        for (k, v) in headers {
            if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
                bail!("header {k:?} cannot be sent");
            }
            if k.eq_ignore_ascii_case("accept") {
                accept = v;
            } else {
                extra.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host}: no address"))?;
        let stream = TcpStream::connect_timeout(&addr, self.timeout)
            .with_context(|| format!("connecting to {host}"))?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut w = &stream;
        write!(
            w,
            "{method} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wispmon\r\nAccept: {accept}\r\n{extra}Connection: close\r\nContent-Length: {}\r\n\r\n",
            self.target(path_and_query),
            body.len()
        )?;
        w.write_all(body)?;
        read_answer(BufReader::with_capacity(1 << 16, stream), &host)
    }

    /// Runs InfluxQL on `db` (times as epoch ns), returning every statement's result, each
    /// `{"series": [...]}` or `{"error": "..."}`.
    ///
    /// # Errors
    /// The peer fails, or answers an error for the whole request (bad syntax, auth).
    pub fn query_all(&self, db: &str, q: &str) -> anyhow::Result<Vec<Value>> {
        let (status, body) = self.request(
            "POST",
            &format!("/query?db={}&epoch=ns&q={}", enc(db), enc(q)),
            b"",
        )?;
        let mut text = String::new();
        body.take(MAX_BODY as u64).read_to_string(&mut text)?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{q}: answer is not JSON (status {status}): {text:.200}"))?;
        if let Some(e) = v["error"].as_str() {
            bail!("{q}: {e}");
        }
        match v["results"].as_array() {
            Some(r) if status == 200 => Ok(r.clone()),
            _ => bail!("{q}: unexpected answer (status {status}): {text:.200}"),
        }
    }

    /// Runs one InfluxQL statement on `db`, returning its result's JSON.
    ///
    /// # Errors
    /// The peer fails, or the statement answers an error.
    pub fn query(&self, db: &str, q: &str) -> anyhow::Result<Value> {
        let r = self
            .query_all(db, q)?
            .into_iter()
            .next()
            .unwrap_or_default();
        if let Some(e) = r["error"].as_str() {
            bail!("{q}: {e}");
        }
        Ok(r)
    }
}

/// Reads an answer's status line and headers from `r`, leaving the body to read (de-chunked,
/// or cut at `Content-Length`). Lines are bounded (8 KiB status, 64 KiB header) and so is
/// their number ([`MAX_HEADERS`]).
fn read_answer<R: Read + 'static>(mut r: BufReader<R>, host: &str) -> anyhow::Result<Answer> {
    let mut status_line = String::new();
    (&mut r).take(8192).read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{host}: not an HTTP answer: {status_line:?}"))?;
    let mut chunked = false;
    let mut length: Option<u64> = None;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        (&mut r).take(65536).read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            bail!("{host}: more than {MAX_HEADERS} header lines");
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse().ok();
            }
            headers.push((k, v.to_owned()));
        }
    }
    let body: Box<dyn BufRead> = if chunked {
        Box::new(BufReader::new(Chunked {
            inner: r,
            left: 0,
            done: false,
        }))
    } else if let Some(n) = length {
        Box::new(BufReader::new(r.take(n)))
    } else {
        Box::new(r)
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The property the fuzz target (`fuzz/fuzz_targets/influx_answer.rs`) checks, shared with the
/// seed-replay test so CI runs it on every seed in `fuzz/seeds/answer/`: arbitrary bytes read
/// as a remote InfluxDB's answer never panic the reader (status, headers, body up to
/// [`MAX_BODY`]); and `data` sent as a chunked body (chunk sizes taken from its bytes) or with a
/// `Content-Length` reads back as exactly `data`. Returns whether `data` itself read as an
/// answer, or a description of the first violation. Not part of the API.
pub fn answer_property(data: &[u8]) -> Result<bool, String> {
    let read_all = |bytes: Vec<u8>| -> anyhow::Result<(u16, Vec<u8>)> {
        let a = read_answer(BufReader::new(std::io::Cursor::new(bytes)), "peer")?;
        let mut out = Vec::new();
        a.body.take(MAX_BODY as u64).read_to_end(&mut out)?;
        Ok((a.status, out))
    };
    let parsed = read_all(data.to_vec()).is_ok();

    let mut chunked =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let mut rest = data;
    while !rest.is_empty() {
        let n = usize::from(rest[0] % 64).clamp(1, rest.len());
        chunked.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        chunked.extend_from_slice(&rest[..n]);
        chunked.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    match read_all(chunked) {
        Ok((200, body)) if body == data => {}
        other => return Err(format!("chunked body read back as {other:?}")),
    }
    let mut framed = format!(
        "HTTP/1.1 204 No Content\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"trailing bytes of the next answer");
    match read_all(framed) {
        Ok((204, body)) if body == data => {}
        other => return Err(format!("framed body read back as {other:?}")),
    }
    Ok(parsed)
}

/// Reads an HTTP/1.1 chunked body.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            (&mut self.inner).take(1024).read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size")
            })?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(n)
    }
}

/// An InfluxQL identifier, always double-quoted (text for another server).
pub use crate::influxql::quote_ident_always as ident;
/// An InfluxQL string literal in single quotes.
pub use crate::influxql::quote_string as literal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let e = Endpoint::parse("http://10.0.0.5:8086/", None).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.5", 8086));
        let e = Endpoint::parse("http://influx", None).unwrap();
        assert_eq!(e.port, 8086);
        let e = Endpoint::parse("http://[::1]:9999", None).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9999));
        assert_eq!(e.authority(), "[::1]:9999");
        assert!(
            Endpoint::parse("https://x", None)
                .unwrap_err()
                .to_string()
                .contains("https")
        );
        assert!(Endpoint::parse("http://x/db", None).is_err());
    }

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(ident(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(literal(r"it's\"), r"'it\'s\\'");
    }

    #[test]
    fn seeds_satisfy_the_fuzz_property() {
        let parsed = crate::seeds::replay("answer", 8, |b| answer_property(b).map(usize::from));
        assert!(parsed >= 4, "seeds should hold answers ({parsed})");
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n world!\r\n0\r\n\r\n";
        let mut c = Chunked {
            inner: &raw[..],
            left: 0,
            done: false,
        };
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world!");
    }
}
