//! The SMTP client: one message to one relay per [`send`] (RFC 5321, RFC 3207 STARTTLS,
//! RFC 8314 implicit TLS, RFC 4954 AUTH PLAIN/LOGIN).
//!
//! Owns: the SMTP dialogue and the rendering of an [`Email`] (in `message`). Must not: queue,
//! retry or sleep (the outbox does, using [`DeliveryError::is_transient`]), or decide who gets
//! mail.
//!
//! Security rules, each because silently doing otherwise would leak something:
//! - `starttls` never falls back to clear text: a relay that does not advertise STARTTLS is a
//!   permanent error before anything is sent;
//! - credentials are never sent over an unencrypted connection unless the operator set
//!   `allow_insecure_auth` (some LAN relays on a trusted segment want exactly that);
//! - bytes the server sends after its STARTTLS reply and before the handshake are refused
//!   rather than read as replies over TLS (the STARTTLS command-injection class of bugs);
//! - the password is never logged nor put into an error message.
//!
//! Everything read from the server is bounded (reply line length, lines per reply) and every
//! read, write and connect runs under `timeout`.

mod message;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use super::{DeliveryError, tls};
use message::{Mailbox, base64};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest reply line accepted, CRLF included. RFC 5321 §4.5.3.1.5 says 512; real relays stay
/// well within it, and a little slack costs nothing.
const MAX_REPLY_LINE: usize = 2048;

/// Most lines accepted in one multi-line reply (an EHLO reply lists about ten extensions).
const MAX_REPLY_LINES: usize = 100;

/// Longest piece of a server's reply text quoted in an error message.
const MAX_QUOTED_REPLY: usize = 200;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Clear text (port 25 on a trusted LAN). AUTH is refused unless `allow_insecure_auth`.
    None,
    /// Clear text upgraded with STARTTLS before anything else is sent (port 587); never
    /// continues in clear text.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where and how to send mail. `Debug` shows the password as `<redacted>`.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Relay host name or IP address; certificates are verified against it.
    pub host: String,
    /// Relay port (25, 587 or 465 usually).
    pub port: u16,
    /// Connection protection.
    pub security: Security,
    /// AUTH user; no AUTH is attempted when unset.
    pub username: Option<String>,
    /// AUTH password (an unset password with a user is sent as empty).
    pub password: Option<String>,
    /// Envelope sender and header From: `wispmon <noreply@example.com>` or a bare address.
    pub from: String,
    /// The EHLO argument: this machine's name as the relay should see it.
    pub helo_name: String,
    /// Bound on the connect, the TLS handshake, and each command's reply.
    pub timeout: Duration,
    /// Extra PEM trust anchors (a private CA), besides the system bundle.
    pub ca_file: Option<PathBuf>,
    /// Allows AUTH over an unencrypted connection; off by default.
    pub allow_insecure_auth: bool,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("helo_name", &self.helo_name)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .field("allow_insecure_auth", &self.allow_insecure_auth)
            .finish()
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Email {
    /// Recipient addresses (bare `local@domain`).
    pub to: Vec<String>,
    /// Subject; may be non-ASCII (sent as RFC 2047 encoded words).
    pub subject: String,
    /// Plain text body; may be non-ASCII and have long lines (sent quoted-printable).
    pub text: String,
    /// Optional HTML alternative; the message is then `multipart/alternative`.
    pub html: Option<String>,
    /// The Message-ID, e.g. `<uuid@wispmon>`, chosen by the caller so a retry keeps it.
    pub message_id: String,
    /// The Date header.
    pub date: crate::time::Timestamp,
}

/// Sends `mail` through the relay of `settings`: one connection, one transaction.
///
/// Recipients refused permanently (5xx) are skipped when at least one is accepted; a temporary
/// refusal (4xx) of any recipient fails the whole attempt as transient, so that a retry reaches
/// everyone (greylisting answers 4xx per recipient) rather than silently dropping one.
///
/// # Errors
/// [`DeliveryError::Transient`] for network failures, timeouts and 4xx replies;
/// [`DeliveryError::Permanent`] for 5xx replies, certificate failures, a relay without
/// STARTTLS when it is required, and invalid settings or addresses.
pub async fn send(settings: &SmtpSettings, mail: &Email) -> Result<(), DeliveryError> {
    let perm = DeliveryError::Permanent;
    // Everything that can be checked without the network is checked first, so a bad setting
    // is reported as such and not as whatever the relay makes of it.
    let from = Mailbox::parse(&settings.from).map_err(perm)?;
    if mail.to.is_empty() {
        return Err(perm("no recipients".to_owned()));
    }
    let helo_ok = !settings.helo_name.is_empty()
        && settings.helo_name.len() <= 255
        && settings.helo_name.bytes().all(|b| b.is_ascii_graphic());
    if !helo_ok {
        return Err(perm(format!("invalid helo_name {:?}", settings.helo_name)));
    }
    if settings.username.is_some()
        && settings.security == Security::None
        && !settings.allow_insecure_auth
    {
        return Err(perm(
            "refusing to send SMTP credentials over an unencrypted connection \
             (use security = \"starttls\" or \"tls\", or set allow_insecure_auth)"
                .to_owned(),
        ));
    }
    let body = message::render(&from, mail)?;
    let tls_config = match settings.security {
        Security::None => None,
        Security::StartTls | Security::Tls => {
            Some(tls::client_config(settings.ca_file.as_deref()).await?)
        }
    };

    let tcp = super::connect(&settings.host, settings.port, settings.timeout).await?;
    let envelope = Envelope {
        from: &from.address,
        to: &mail.to,
        body: &body,
    };
    let result = match (settings.security, tls_config) {
        (Security::Tls, Some(config)) => {
            let stream = tls::connect(tcp, &settings.host, config, settings.timeout).await?;
            let mut session = Session::new(stream, settings.timeout);
            session.greeting().await?;
            let caps = session.hello(&settings.helo_name).await?;
            session.transact(settings, &caps, &envelope).await
        }
        (Security::StartTls, Some(config)) => {
            let mut session = Session::new(tcp, settings.timeout);
            session.greeting().await?;
            let caps = session.hello(&settings.helo_name).await?;
            if !caps.starttls {
                session.quit_quietly().await;
                return Err(perm(format!(
                    "{}:{} does not offer STARTTLS; refusing to continue in clear text",
                    settings.host, settings.port
                )));
            }
            let tcp = session.start_tls().await?;
            let stream = tls::connect(tcp, &settings.host, config, settings.timeout).await?;
            let mut session = Session::new(stream, settings.timeout);
            // RFC 3207 §4.2: everything learnt before the handshake is forgotten; ask again.
            let caps = session.hello(&settings.helo_name).await?;
            session.transact(settings, &caps, &envelope).await
        }
        _ => {
            let mut session = Session::new(tcp, settings.timeout);
            session.greeting().await?;
            let caps = session.hello(&settings.helo_name).await?;
            session.transact(settings, &caps, &envelope).await
        }
    };
    if result.is_ok() {
        tracing::debug!(
            host = %settings.host,
            port = settings.port,
            recipients = mail.to.len(),
            "smtp message accepted"
        );
    }
    result
}

/// The SMTP envelope and the rendered message.
struct Envelope<'a> {
    from: &'a str,
    to: &'a [String],
    body: &'a [u8],
}

/// One server reply: its code and the text of each line.
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// The reply quoted for an error message: code and first line, truncated.
    fn quoted(&self) -> String {
        let text: String = self
            .lines
            .first()
            .map(|l| l.chars().take(MAX_QUOTED_REPLY).collect())
            .unwrap_or_default();
        format!("{} {}", self.code, text.trim())
    }
}

/// What the server's EHLO reply offered, as far as this client cares.
#[derive(Debug, Default)]
struct Capabilities {
    starttls: bool,
    auth_plain: bool,
    auth_login: bool,
    /// Whether any AUTH line was present (to tell "no AUTH" from "no mechanism we know").
    auth: bool,
}

impl Capabilities {
    fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        // The first line is the server's greeting name, the rest one extension each.
        for line in reply.lines.iter().skip(1) {
            let upper = line.to_ascii_uppercase();
            let mut words = upper.split_whitespace();
            let keyword = words.next().unwrap_or("");
            // `AUTH=PLAIN LOGIN` is the pre-standard form some old relays still send.
            let (keyword, first_mech) = match keyword.split_once('=') {
                Some((k, m)) => (k, Some(m)),
                None => (keyword, None),
            };
            match keyword {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => {
                    caps.auth = true;
                    for mech in first_mech.into_iter().chain(words) {
                        match mech {
                            "PLAIN" => caps.auth_plain = true,
                            "LOGIN" => caps.auth_login = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        caps
    }
}

/// Classifies a reply that is not the expected one: 4xx transient, anything else permanent.
fn refused(step: &str, reply: &Reply) -> DeliveryError {
    let what = format!("{step}: server answered {}", reply.quoted());
    if (400..500).contains(&reply.code) {
        DeliveryError::Transient(what)
    } else {
        DeliveryError::Permanent(what)
    }
}

/// A connection speaking SMTP over `S` (TCP, or TLS over TCP).
struct Session<S> {
    io: BufReader<S>,
    timeout: Duration,
    /// Set after an I/O failure or timeout: the dialogue is out of step, so no QUIT is sent.
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn new(stream: S, timeout: Duration) -> Self {
        Session {
            io: BufReader::new(stream),
            timeout,
            broken: false,
        }
    }

    /// Reads the 220 greeting.
    async fn greeting(&mut self) -> Result<(), DeliveryError> {
        let reply = self.read_reply().await?;
        if reply.code == 220 {
            Ok(())
        } else {
            self.quit_quietly().await;
            Err(refused("greeting", &reply))
        }
    }

    /// EHLO, or HELO when the server refuses EHLO (then no extension is known).
    async fn hello(&mut self, helo_name: &str) -> Result<Capabilities, DeliveryError> {
        let reply = self.command(&format!("EHLO {helo_name}")).await?;
        match reply.code {
            250 => Ok(Capabilities::from_ehlo(&reply)),
            500..=599 => {
                let reply = self.command(&format!("HELO {helo_name}")).await?;
                if reply.code == 250 {
                    Ok(Capabilities::default())
                } else {
                    self.quit_quietly().await;
                    Err(refused("HELO", &reply))
                }
            }
            _ => {
                self.quit_quietly().await;
                Err(refused("EHLO", &reply))
            }
        }
    }

    /// STARTTLS: asks for the upgrade and hands back the bare stream for the handshake.
    async fn start_tls(mut self) -> Result<S, DeliveryError> {
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            self.quit_quietly().await;
            return Err(refused("STARTTLS", &reply));
        }
        if !self.io.buffer().is_empty() {
            // Anything already buffered was sent in clear text before the handshake; reading
            // it later as if it came over TLS is exactly the injection STARTTLS must prevent.
            return Err(DeliveryError::Permanent(
                "server sent data after its STARTTLS reply, before the TLS handshake".to_owned(),
            ));
        }
        Ok(self.io.into_inner())
    }

    /// AUTH (when a user is configured), MAIL, RCPT, DATA and QUIT.
    async fn transact(
        &mut self,
        settings: &SmtpSettings,
        caps: &Capabilities,
        envelope: &Envelope<'_>,
    ) -> Result<(), DeliveryError> {
        let result = self.transact_inner(settings, caps, envelope).await;
        // After a refusal too: a polite QUIT lets the relay free the session at once.
        self.quit_quietly().await;
        result
    }

    async fn transact_inner(
        &mut self,
        settings: &SmtpSettings,
        caps: &Capabilities,
        envelope: &Envelope<'_>,
    ) -> Result<(), DeliveryError> {
        if let Some(user) = &settings.username {
            self.authenticate(user, settings.password.as_deref().unwrap_or(""), caps)
                .await?;
        }

        let reply = self
            .command(&format!("MAIL FROM:<{}>", envelope.from))
            .await?;
        if reply.code != 250 {
            return Err(refused("MAIL FROM", &reply));
        }

        let mut accepted = 0;
        let mut refused_permanently = Vec::new();
        for to in envelope.to {
            let reply = self.command(&format!("RCPT TO:<{to}>")).await?;
            match reply.code {
                250 | 251 => accepted += 1,
                500..=599 => refused_permanently.push(format!("{to} ({})", reply.quoted())),
                _ => return Err(refused(&format!("RCPT TO {to}"), &reply)),
            }
        }
        if accepted == 0 {
            return Err(DeliveryError::Permanent(format!(
                "every recipient was refused: {}",
                refused_permanently.join(", ")
            )));
        }
        if !refused_permanently.is_empty() {
            tracing::warn!(
                host = %settings.host,
                refused = %refused_permanently.join(", "),
                "smtp relay refused some recipients; sending to the others"
            );
        }

        let reply = self.command("DATA").await?;
        if reply.code != 354 {
            return Err(refused("DATA", &reply));
        }
        let mut data = dot_stuff(envelope.body);
        data.extend_from_slice(b".\r\n");
        self.write(&data).await?;
        let reply = self.read_reply().await?;
        if reply.code != 250 {
            return Err(refused("end of DATA", &reply));
        }
        Ok(())
    }

    /// AUTH PLAIN when offered (one round trip), else AUTH LOGIN.
    async fn authenticate(
        &mut self,
        user: &str,
        password: &str,
        caps: &Capabilities,
    ) -> Result<(), DeliveryError> {
        if !caps.auth {
            return Err(DeliveryError::Permanent(
                "a username is configured but the server does not offer AUTH".to_owned(),
            ));
        }
        let reply = if caps.auth_plain {
            // RFC 4616: authorization identity (empty), NUL, user, NUL, password.
            let token = base64(format!("\0{user}\0{password}").as_bytes());
            self.command(&format!("AUTH PLAIN {token}")).await?
        } else if caps.auth_login {
            let reply = self.command("AUTH LOGIN").await?;
            if reply.code != 334 {
                return Err(refused("AUTH LOGIN", &reply));
            }
            let reply = self.command(&base64(user.as_bytes())).await?;
            if reply.code != 334 {
                return Err(refused("AUTH LOGIN user", &reply));
            }
            self.command(&base64(password.as_bytes())).await?
        } else {
            return Err(DeliveryError::Permanent(
                "the server offers neither AUTH PLAIN nor AUTH LOGIN".to_owned(),
            ));
        };
        if reply.code == 235 {
            Ok(())
        } else {
            Err(refused("AUTH", &reply))
        }
    }

    /// Sends QUIT and reads the reply, ignoring failures: the outcome is already decided, and
    /// a connection out of step is simply dropped.
    async fn quit_quietly(&mut self) {
        if !self.broken && self.command("QUIT").await.is_ok() {
            let _ = self.io.get_mut().shutdown().await;
        }
    }

    /// Sends one command line and reads its reply.
    async fn command(&mut self, line: &str) -> Result<Reply, DeliveryError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes).await?;
        self.read_reply().await
    }

    /// Writes and flushes within the timeout.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), DeliveryError> {
        let io = self.io.get_mut();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.broken = true;
                Err(DeliveryError::from_io("writing to the smtp server", &e))
            }
            Err(_) => {
                self.broken = true;
                Err(DeliveryError::Transient(format!(
                    "writing to the smtp server timed out after {:?}",
                    self.timeout
                )))
            }
        }
    }

    /// Reads one (possibly multi-line) reply within the timeout.
    async fn read_reply(&mut self) -> Result<Reply, DeliveryError> {
        let timeout = self.timeout;
        let result = match tokio::time::timeout(timeout, self.read_reply_unbounded_in_time()).await
        {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Transient(format!(
                "no reply from the smtp server within {timeout:?}"
            ))),
        };
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    async fn read_reply_unbounded_in_time(&mut self) -> Result<Reply, DeliveryError> {
        let malformed = |line: &str| {
            DeliveryError::Transient(format!(
                "malformed smtp reply line {:?}",
                line.chars().take(MAX_QUOTED_REPLY).collect::<String>()
            ))
        };
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            let parsed = line
                .get(..3)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<u16>().ok());
            let Some(this_code) = parsed else {
                return Err(malformed(&line));
            };
            if code.is_some_and(|c| c != this_code) {
                return Err(malformed(&line));
            }
            code = Some(this_code);
            let more = match line.as_bytes().get(3) {
                None | Some(b' ') => false,
                Some(b'-') => true,
                Some(_) => return Err(malformed(&line)),
            };
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if !more {
                return Ok(Reply {
                    code: this_code,
                    lines,
                });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(DeliveryError::Transient(format!(
                    "smtp reply longer than {MAX_REPLY_LINES} lines"
                )));
            }
        }
    }

    /// Reads one line of at most [`MAX_REPLY_LINE`] octets, without its line ending.
    async fn read_line(&mut self) -> Result<String, DeliveryError> {
        let mut line = Vec::new();
        loop {
            let buf = self
                .io
                .fill_buf()
                .await
                .map_err(|e| DeliveryError::from_io("reading from the smtp server", &e))?;
            if buf.is_empty() {
                return Err(DeliveryError::Transient(
                    "the smtp server closed the connection".to_owned(),
                ));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_REPLY_LINE {
                return Err(DeliveryError::Transient(format!(
                    "smtp reply line longer than {MAX_REPLY_LINE} octets"
                )));
            }
            line.extend_from_slice(&buf[..take]);
            self.io.consume(take);
            if done {
                break;
            }
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}

/// Dot-stuffing (RFC 5321 §4.5.2): a line starting with `.` gets a second one, so no line of
/// the message can be read as the end of DATA. `body` has CRLF line endings.
fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut at_line_start = true;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out
}
