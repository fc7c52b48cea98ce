//! A small SMTP server for tests: it records what it receives and can be told to misbehave.
//!
//! Listens on `127.0.0.1:0` only. Speaks the greeting, EHLO (with the capabilities the test
//! chooses) and HELO, STARTTLS and implicit TLS (tokio-rustls, with a [`TestCert`] made by the
//! `openssl` CLI), AUTH PLAIN and AUTH LOGIN against one user and password, MAIL, RCPT, DATA
//! (dot-stuffing undone), RSET, NOOP and QUIT. It can answer a chosen code at a chosen step,
//! refuse chosen recipients, or stop answering at a step (to test timeouts).
//!
//! ```ignore
//! let (addr, sink) = SmtpSink::start(SmtpSinkOptions::default()).await;
//! // … point the client at addr.ip() / addr.port() …
//! let m = &sink.messages()[0];
//! assert_eq!(m.header("Subject").as_deref(), Some("hello"));
//! ```
//!
//! Shared by the unit tests of `src/notify/` (included once, with `#[path]`, in
//! `notify/mod.rs`) and the end-to-end tests of `tests/tests.rs`. Dropping the [`SmtpSink`] stops the server and its connections.

// Each includer uses a part of the API.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A step of the SMTP dialogue, for [`SmtpSinkOptions::fail`] and [`SmtpSinkOptions::stall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The greeting after connect (or after the TLS handshake for implicit TLS).
    Greeting,
    /// The reply to EHLO.
    Ehlo,
    /// The reply to AUTH.
    Auth,
    /// The reply to MAIL FROM.
    Mail,
    /// The reply to RCPT TO (every recipient).
    Rcpt,
    /// The reply to the DATA command.
    Data,
    /// The reply after the final `.` of the message.
    EndOfData,
}

/// How the sink behaves. `Default` is a plain relay offering `8BITMIME` and nothing else.
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkOptions {
    /// Extension lines of the EHLO reply, e.g. `"STARTTLS"`, `"AUTH PLAIN LOGIN"`. STARTTLS is
    /// only honoured when `tls` is set.
    pub capabilities: Vec<String>,
    /// The server certificate for STARTTLS and implicit TLS ([`TestCert::server_config`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (port 465 style); needs `tls`.
    pub implicit_tls: bool,
    /// The one user and password AUTH accepts; any other gets 535.
    pub credentials: Option<(String, String)>,
    /// Answer EHLO with 502 so the client must fall back to HELO.
    pub refuse_ehlo: bool,
    /// Answer this code (4xx or 5xx) at this step instead of the normal reply.
    pub fail: Option<(Step, u16)>,
    /// Recipients answered `550 no such user`.
    pub refuse_recipients: Vec<String>,
    /// Stop answering at this step (the connection stays open, silent).
    pub stall: Option<Step>,
    /// Send a stray clear-text line right after the STARTTLS `220`, before the handshake (the
    /// STARTTLS injection a client must refuse).
    pub inject_after_starttls: bool,
}

/// One message accepted (answered 250 after DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The EHLO or HELO argument (the last one of the session).
    pub helo: String,
    /// The MAIL FROM address, without brackets.
    pub mail_from: String,
    /// The accepted RCPT TO addresses, without brackets.
    pub rcpt_to: Vec<String>,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The message as sent, dot-stuffing undone, CRLF line endings, without the final `.`.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// The message as text (it is 7-bit when the client behaves).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The header section, folded lines joined (RFC 5322 §2.2.3), in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = out.last_mut() {
                    last.1.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                out.push((name.to_owned(), value.trim_start().to_owned()));
            }
        }
        out
    }

    /// The first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The subject with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject").map(|s| decode_encoded_words(&s))
    }

    /// The decoded text parts as `(content type, text)`: the body itself for a single part,
    /// each part of a multipart. Decodes quoted-printable and base64.
    pub fn parts(&self) -> Vec<(String, String)> {
        let text = self.text();
        let (_, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let content_type = self.header("Content-Type").unwrap_or_default();
        match content_type.split_once("boundary=") {
            None => {
                let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default();
                vec![(content_type, decode_body(&encoding, body))]
            }
            Some((_, boundary)) => {
                let boundary = boundary.trim_matches('"');
                let delimiter = format!("--{boundary}");
                body.split(&delimiter)
                    .skip(1)
                    .filter(|p| !p.starts_with("--"))
                    .map(|part| {
                        let part = part.strip_prefix("\r\n").unwrap_or(part);
                        let (head, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
                        let field = |name: &str| {
                            head.split("\r\n")
                                .filter_map(|l| l.split_once(':'))
                                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                                .map(|(_, v)| v.trim().to_owned())
                                .unwrap_or_default()
                        };
                        (
                            field("Content-Type"),
                            decode_body(&field("Content-Transfer-Encoding"), body),
                        )
                    })
                    .collect()
            }
        }
    }

    /// The longest line of the message in octets, without CRLF.
    pub fn longest_line(&self) -> usize {
        self.data
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
            .max()
            .unwrap_or(0)
    }
}

fn decode_body(encoding: &str, body: &str) -> String {
    let bytes = if encoding.eq_ignore_ascii_case("quoted-printable") {
        decode_quoted_printable(body)
    } else if encoding.eq_ignore_ascii_case("base64") {
        decode_base64(&body.replace("\r\n", ""))
    } else {
        body.as_bytes().to_vec()
    };
    String::from_utf8(bytes).expect("decoded body is UTF-8")
}

/// Decodes quoted-printable (RFC 2045 §6.7): soft breaks removed, CRLF kept as line breaks.
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
            } else {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("qp escape");
                out.push(u8::from_str_radix(hex, 16).expect("qp hex"));
                i += 3;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Decodes standard base64 with padding; panics on anything else (a test helper).
pub fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let mut out = Vec::new();
    for chunk in text.trim().as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let n = data
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | value(c) << (18 - 6 * i));
        for i in 0..data.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Decodes the `=?UTF-8?B?…?=` (and `Q`) encoded words of a header value, dropping the
/// whitespace between adjacent words as RFC 2047 §6.2 says.
pub fn decode_encoded_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        match rest.find("=?") {
            Some(start) => {
                let (before, word) = rest.split_at(start);
                let inner = &word[2..];
                let parts: Vec<&str> = inner.splitn(3, '?').collect();
                let end = parts
                    .get(2)
                    .and_then(|p| p.find("?="))
                    .expect("unterminated encoded word");
                if !(last_was_word && before.trim().is_empty()) {
                    out.extend_from_slice(before.as_bytes());
                }
                let text = &parts[2][..end];
                if parts[1].eq_ignore_ascii_case("B") {
                    out.extend(decode_base64(text));
                } else {
                    out.extend(decode_quoted_printable(&text.replace('_', " ")));
                }
                let consumed = 2 + parts[0].len() + 1 + parts[1].len() + 1 + end + 2;
                rest = &word[consumed..];
                last_was_word = true;
            }
            None => {
                out.extend_from_slice(rest.as_bytes());
                rest = "";
            }
        }
    }
    String::from_utf8(out).expect("encoded words are UTF-8")
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made with the `openssl` CLI in a
/// temporary directory that lives as long as this value. Clients trust it through `ca_file`
/// ([`TestCert::cert_path`]).
#[derive(Debug)]
pub struct TestCert {
    _dir: tempfile::TempDir,
    /// The certificate, PEM.
    pub cert_path: PathBuf,
    /// The private key, PEM (PKCS#8).
    pub key_path: PathBuf,
}

impl TestCert {
    /// Generates a fresh key and certificate (RSA 2048, valid two days).
    pub fn generate() -> TestCert {
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        let status = std::process::Command::new("/usr/bin/openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
            ])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-days",
                "2",
            ])
            // Not a CA: webpki refuses a CA certificate presented as the server's own.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("running /usr/bin/openssl");
        assert!(status.success(), "openssl req failed");
        TestCert {
            _dir: dir,
            cert_path,
            key_path,
        }
    }

    /// A rustls server configuration presenting this certificate (ring provider).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(&self.cert_path)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&self.key_path).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Arc::new(config)
    }
}

#[derive(Debug, Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedMessage>>,
    commands: Mutex<Vec<String>>,
    connections: Mutex<usize>,
}

/// A running sink; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SmtpSink {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts a sink on `127.0.0.1:0`; returns its address and the handle.
    pub async fn start(options: SmtpSinkOptions) -> (SocketAddr, SmtpSink) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let options = Arc::new(options);
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // Connection tasks live in the set, so aborting the accept task ends them too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                *state.connections.lock().unwrap() += 1;
                let (options, state) = (Arc::clone(&options), Arc::clone(&state));
                connections.spawn(async move {
                    let _ = serve(tcp, &options, &state).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        (addr, SmtpSink { shared, task })
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// The command verbs received so far, in order, uppercase (`EHLO`, `STARTTLS`, `AUTH`,
    /// `MAIL`, …); arguments are left out so no credential is kept.
    pub fn commands(&self) -> Vec<String> {
        self.shared.commands.lock().unwrap().clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        *self.shared.connections.lock().unwrap()
    }

    /// Waits until at least `n` messages arrived (end-to-end tests deliver in the background);
    /// panics after `timeout`.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} messages after {timeout:?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One SMTP session.
struct Session<'a> {
    io: BufReader<Box<dyn Io>>,
    options: &'a SmtpSinkOptions,
    shared: &'a Shared,
    tls: bool,
    helo: String,
    auth_user: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session<'_> {
    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.io.write_all(format!("{line}\r\n").as_bytes()).await?;
        self.io.flush().await
    }

    /// Applies `fail` and `stall` for `step`; `Some(())` when the normal reply must not be sent.
    async fn misbehave(&mut self, step: Step) -> std::io::Result<bool> {
        if self.options.stall == Some(step) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if let Some((s, code)) = self.options.fail
            && s == step
        {
            self.reply(&format!("{code} sink told to fail at {step:?}"))
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = Vec::new();
        let n = (&mut self.io)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&line);
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
    }

    fn ehlo_lines(&self) -> Vec<String> {
        let mut lines = vec!["sink.test greets you".to_owned()];
        for cap in &self.options.capabilities {
            // STARTTLS is not offered again once the session is encrypted (RFC 3207 §4.2).
            if !(self.tls && cap.eq_ignore_ascii_case("STARTTLS")) {
                lines.push(cap.clone());
            }
        }
        lines
    }

    fn check_auth(&mut self, user: &str, password: &str) -> bool {
        let ok = self
            .options
            .credentials
            .as_ref()
            .is_some_and(|(u, p)| u == user && p == password);
        if ok {
            self.auth_user = Some(user.to_owned());
        }
        ok
    }

    async fn auth(&mut self, args: &str) -> std::io::Result<()> {
        let mut words = args.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let (user, password) = match mechanism.as_str() {
            "PLAIN" => {
                let token = match initial {
                    Some(t) => t,
                    None => {
                        self.reply("334 ").await?;
                        self.read_line().await?.unwrap_or_default()
                    }
                };
                let decoded = decode_base64(&token);
                let fields: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
                if fields.len() != 3 {
                    return self.reply("501 malformed AUTH PLAIN").await;
                }
                (
                    String::from_utf8_lossy(fields[1]).into_owned(),
                    String::from_utf8_lossy(fields[2]).into_owned(),
                )
            }
            "LOGIN" => {
                self.reply("334 VXNlcm5hbWU6").await?;
                let user = decode_base64(&self.read_line().await?.unwrap_or_default());
                self.reply("334 UGFzc3dvcmQ6").await?;
                let password = decode_base64(&self.read_line().await?.unwrap_or_default());
                (
                    String::from_utf8_lossy(&user).into_owned(),
                    String::from_utf8_lossy(&password).into_owned(),
                )
            }
            _ => return self.reply("504 unrecognized authentication type").await,
        };
        if self.misbehave(Step::Auth).await? {
            return Ok(());
        }
        if self.check_auth(&user, &password) {
            self.reply("235 2.7.0 authentication successful").await
        } else {
            self.reply("535 5.7.8 authentication credentials invalid")
                .await
        }
    }

    async fn data(&mut self) -> std::io::Result<()> {
        if self.misbehave(Step::Data).await? {
            return Ok(());
        }
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.io)
                .take(64 * 1024)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Ok(());
            }
            if line == b".\r\n" {
                break;
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            data.extend_from_slice(line);
        }
        if self.misbehave(Step::EndOfData).await? {
            return Ok(());
        }
        let message = ReceivedMessage {
            helo: self.helo.clone(),
            mail_from: self.mail_from.take().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            auth_user: self.auth_user.clone(),
            tls: self.tls,
            data,
        };
        self.shared.messages.lock().unwrap().push(message);
        self.reply("250 2.0.0 queued").await
    }
}

fn path_arg(args: &str, prefix: &str) -> Option<String> {
    let rest = args
        .get(..prefix.len())?
        .eq_ignore_ascii_case(prefix)
        .then(|| &args[prefix.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

async fn serve(
    tcp: tokio::net::TcpStream,
    options: &SmtpSinkOptions,
    shared: &Shared,
) -> std::io::Result<()> {
    let (stream, tls): (Box<dyn Io>, bool) = match (&options.tls, options.implicit_tls) {
        (Some(config), true) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
            (Box::new(acceptor.accept(tcp).await?), true)
        }
        _ => (Box::new(tcp), false),
    };
    let mut s = Session {
        io: BufReader::new(stream),
        options,
        shared,
        tls,
        helo: String::new(),
        auth_user: None,
        mail_from: None,
        rcpt_to: Vec::new(),
    };
    if !s.misbehave(Step::Greeting).await? {
        s.reply("220 sink.test ESMTP ready").await?;
    }
    while let Some(line) = s.read_line().await? {
        let (verb, args) = line.split_once(' ').unwrap_or((&line, ""));
        let verb = verb.to_ascii_uppercase();
        shared.commands.lock().unwrap().push(verb.clone());
        match verb.as_str() {
            "EHLO" => {
                if s.options.refuse_ehlo {
                    s.reply("502 5.5.2 EHLO not implemented").await?;
                    continue;
                }
                if s.misbehave(Step::Ehlo).await? {
                    continue;
                }
                s.helo = args.to_owned();
                let lines = s.ehlo_lines();
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                    s.reply(&format!("250{sep}{l}")).await?;
                }
            }
            "HELO" => {
                s.helo = args.to_owned();
                s.reply("250 sink.test").await?;
            }
            "STARTTLS" => {
                let offered = s
                    .options
                    .capabilities
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case("STARTTLS"));
                match (&s.options.tls, offered && !s.tls) {
                    (Some(config), true) => {
                        let config = Arc::clone(config);
                        if s.options.inject_after_starttls {
                            // One write, as an attacker on the path would send it.
                            s.reply("220 2.0.0 ready to start TLS\r\n250 injected")
                                .await?;
                        } else {
                            s.reply("220 2.0.0 ready to start TLS").await?;
                        }
                        let io = std::mem::replace(
                            &mut s.io,
                            BufReader::new(Box::new(tokio::io::duplex(1).0)),
                        );
                        let tcp = io.into_inner();
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        let tls = acceptor.accept(tcp).await?;
                        s.io = BufReader::new(Box::new(tls));
                        s.tls = true;
                        // RFC 3207 §4.2: the session starts over.
                        s.helo.clear();
                        s.auth_user = None;
                    }
                    _ => s.reply("502 5.5.1 STARTTLS not available").await?,
                }
            }
            "AUTH" => s.auth(args).await?,
            "MAIL" => {
                if s.misbehave(Step::Mail).await? {
                    continue;
                }
                match path_arg(args, "FROM:") {
                    Some(from) => {
                        s.mail_from = Some(from);
                        s.rcpt_to.clear();
                        s.reply("250 2.1.0 ok").await?;
                    }
                    None => s.reply("501 5.5.4 syntax: MAIL FROM:<address>").await?,
                }
            }
            "RCPT" => {
                if s.misbehave(Step::Rcpt).await? {
                    continue;
                }
                match path_arg(args, "TO:") {
                    Some(to) if s.options.refuse_recipients.contains(&to) => {
                        s.reply("550 5.1.1 no such user").await?;
                    }
                    Some(to) => {
                        s.rcpt_to.push(to);
                        s.reply("250 2.1.5 ok").await?;
                    }
                    None => s.reply("501 5.5.4 syntax: RCPT TO:<address>").await?,
                }
            }
            "DATA" => s.data().await?,
            "RSET" => {
                s.mail_from = None;
                s.rcpt_to.clear();
                s.reply("250 2.0.0 ok").await?;
            }
            "NOOP" => s.reply("250 2.0.0 ok").await?,
            "QUIT" => {
                s.reply("221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => s.reply("500 5.5.2 command not recognized").await?,
        }
    }
    Ok(())
}
