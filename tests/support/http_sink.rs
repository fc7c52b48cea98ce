//! A small HTTP/1.1 server for tests of webhook delivery: it records every request and answers
//! the statuses it is told to.
//!
//! Listens on `127.0.0.1:0` only, plain or TLS (tokio-rustls, with a server configuration such
//! as `smtp_sink::TestCert::server_config()`). Each connection carries one request (`Content-
//! Length` bodies only, which is what the webhook client sends) and is closed after the answer.
//!
//! ```ignore
//! let (_, sink) = HttpSink::start(HttpSinkOptions { responses: vec![500], ..Default::default() }).await;
//! let url = sink.url("/hook"); // first request answered 500, the next ones 204
//! ```
//!
//! Shared by the unit tests of `src/notify/` (included once, with `#[path]`, in
//! `notify/mod.rs`) and the end-to-end tests of `tests/tests.rs`. Dropping the [`HttpSink`] stops the server and its connections.

// Each includer uses a part of the API.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the sink answers.
#[derive(Debug, Clone)]
pub struct HttpSinkOptions {
    /// Serve TLS with this configuration (the URL is then `https://`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Statuses of the first requests, in order (e.g. `[500, 500]`).
    pub responses: Vec<u16>,
    /// The status once `responses` is used up; 204 by default.
    pub then: u16,
    /// Extra response headers (e.g. `Location` for a redirect).
    pub response_headers: Vec<(String, String)>,
    /// The response body.
    pub response_body: String,
    /// Read the request, record it, and never answer (to test timeouts).
    pub stall: bool,
}

impl Default for HttpSinkOptions {
    fn default() -> Self {
        HttpSinkOptions {
            tls: None,
            responses: Vec::new(),
            then: 204,
            response_headers: Vec::new(),
            response_body: String::new(),
            stall: false,
        }
    }
}

/// One request received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target as sent (origin form: path and query).
    pub path: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the request came over TLS.
    pub tls: bool,
}

impl RecordedRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A running sink; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct HttpSink {
    addr: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl HttpSink {
    /// Starts a sink on `127.0.0.1:0`; returns its address and the handle.
    pub async fn start(options: HttpSinkOptions) -> (SocketAddr, HttpSink) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let https = options.tls.is_some();
        let options = Arc::new(options);
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // Connection tasks live in the set, so aborting the accept task ends them too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (options, state) = (Arc::clone(&options), Arc::clone(&state));
                connections.spawn(async move {
                    let stream: Box<dyn Io> = match &options.tls {
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
                            match acceptor.accept(tcp).await {
                                Ok(tls) => Box::new(tls),
                                // The client refused our certificate: nothing to record.
                                Err(_) => return,
                            }
                        }
                        None => Box::new(tcp),
                    };
                    let _ = serve(stream, options.tls.is_some(), &options, &state).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        let sink = HttpSink {
            addr,
            https,
            shared,
            task,
        };
        (addr, sink)
    }

    /// The URL of `path` on this sink: `http://127.0.0.1:<port><path>` (or `https://`).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived; panics after `timeout`.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} requests after {timeout:?}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Longest header section or body the sink reads.
const MAX_READ: u64 = 1024 * 1024;

async fn serve(
    stream: Box<dyn Io>,
    tls: bool,
    options: &HttpSinkOptions,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    let mut line = String::new();
    (&mut io).take(MAX_READ).read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if (&mut io).take(MAX_READ).read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let length: u64 = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    (&mut io)
        .take(length.min(MAX_READ))
        .read_to_end(&mut body)
        .await?;
    let index = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(RecordedRequest {
            method,
            path,
            headers,
            body,
            tls,
        });
        requests.len() - 1
    };
    if options.stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let status = options
        .responses
        .get(index)
        .copied()
        .unwrap_or(options.then);
    let mut response = format!("HTTP/1.1 {status} Sink\r\nConnection: close\r\n");
    for (name, value) in &options.response_headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 204 && status != 304 {
        response.push_str(&format!(
            "Content-Length: {}\r\n",
            options.response_body.len()
        ));
    }
    response.push_str("\r\n");
    if status != 204 && status != 304 {
        response.push_str(&options.response_body);
    }
    let io = io.get_mut();
    io.write_all(response.as_bytes()).await?;
    io.flush().await?;
    io.shutdown().await
}
