//! Rendering an [`Email`] as an RFC 5322 message with MIME bodies, and the encodings it needs.
//!
//! The output is 7-bit ASCII with CRLF line endings and no line over 76 octets except header
//! lines the caller cannot make long (addresses are bounded by [`MAX_ADDRESS_LEN`]), so any
//! relay accepts it without `8BITMIME` or `SMTPUTF8`: non-ASCII text is quoted-printable in the
//! bodies and RFC 2047 encoded words in headers.

use crate::time::{Timestamp, civil_from_days};

use super::Email;
use crate::notify::DeliveryError;

/// Longest address accepted (RFC 5321 §4.5.3.1.3 limits a path to 256 octets with its brackets).
pub(super) const MAX_ADDRESS_LEN: usize = 254;

/// Longest encoded line of a quoted-printable body, soft break included (RFC 2045 §6.7).
const QP_LINE: usize = 76;

/// The multipart boundary. It starts with `=_`, which quoted-printable output can never contain
/// (a literal `=` is always followed by two hex digits or a line break), so no body can end the
/// part early whatever text it carries; that is why it can be a constant.
const BOUNDARY: &str = "=_wispmon_alternative";

/// A mailbox: an optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mailbox {
    pub(super) name: Option<String>,
    pub(super) address: String,
}

impl Mailbox {
    /// Parses `Name <addr@host>`, `"Name" <addr@host>`, `<addr@host>` or a bare address.
    pub(super) fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (name, address) = match (s.rfind('<'), s.strip_suffix('>')) {
            (Some(open), Some(inner)) => {
                let name = s[..open].trim();
                let name = name
                    .strip_prefix('"')
                    .and_then(|n| n.strip_suffix('"'))
                    .unwrap_or(name);
                let name = (!name.is_empty()).then(|| name.to_owned());
                (name, &inner[open + 1..])
            }
            _ => (None, s),
        };
        check_address(address)?;
        if let Some(n) = &name
            && n.chars().any(char::is_control)
        {
            return Err(format!(
                "display name of {s:?} contains a control character"
            ));
        }
        Ok(Mailbox {
            name,
            address: address.to_owned(),
        })
    }

    /// The header form: `name <address>`, the name quoted or encoded as needed.
    fn to_header(&self) -> String {
        match &self.name {
            None => self.address.clone(),
            Some(name) if name.is_ascii() => {
                let atoms = name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
                if atoms {
                    format!("{name} <{}>", self.address)
                } else {
                    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("\"{quoted}\" <{}>", self.address)
                }
            }
            Some(name) => format!("{} <{}>", encoded_words(name).join(" "), self.address),
        }
    }
}

/// Checks that `a` can go into `MAIL FROM:<…>`, `RCPT TO:<…>` and a header as is: printable
/// ASCII without the characters that would end or split it. This is what keeps a configured
/// address from smuggling an SMTP command or a header line in.
pub(super) fn check_address(a: &str) -> Result<(), String> {
    let plausible = !a.is_empty()
        && a.len() <= MAX_ADDRESS_LEN
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>,;\"()[]\\".contains(&b))
        && a.find('@').is_some_and(|at| at > 0 && at + 1 < a.len());
    if plausible {
        Ok(())
    } else {
        Err(format!(
            "invalid e-mail address {:?}: expected local@domain in printable ASCII",
            a.chars().take(64).collect::<String>()
        ))
    }
}

/// Renders the whole message (headers and body), CRLF line endings, ready for dot-stuffing.
pub(super) fn render(from: &Mailbox, mail: &Email) -> Result<Vec<u8>, DeliveryError> {
    let bad = |what: String| DeliveryError::Permanent(what);
    let id = mail.message_id.trim();
    let id_ok = id.len() <= 250 && id.bytes().all(|b| b.is_ascii_graphic()) && id.contains('@');
    if !id_ok {
        return Err(bad(format!("invalid message id {id:?}")));
    }
    let id = if id.starts_with('<') && id.ends_with('>') {
        id.to_owned()
    } else {
        format!("<{}>", id.trim_matches(['<', '>']))
    };
    for to in &mail.to {
        check_address(to).map_err(bad)?;
    }

    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("Date", &rfc5322_date(mail.date));
    header("From", &from.to_header());
    header("To", &mail.to.join(",\r\n "));
    header("Subject", &encode_subject(&mail.subject));
    header("Message-ID", &id);
    // RFC 3834: tells vacation responders and mailing-list software not to answer a machine.
    header("Auto-Submitted", "auto-generated");
    header("MIME-Version", "1.0");
    match &mail.html {
        None => {
            header("Content-Type", "text/plain; charset=UTF-8");
            header("Content-Transfer-Encoding", "quoted-printable");
            out.push_str("\r\n");
            out.push_str(&quoted_printable(&mail.text));
        }
        Some(html) => {
            header(
                "Content-Type",
                &format!("multipart/alternative; boundary=\"{BOUNDARY}\""),
            );
            out.push_str("\r\n");
            // Plain text first: RFC 2046 §5.1.4 orders alternatives from simplest to richest.
            for (kind, body) in [("plain", &mail.text), ("html", html)] {
                out.push_str(&format!("--{BOUNDARY}\r\n"));
                out.push_str(&format!("Content-Type: text/{kind}; charset=UTF-8\r\n"));
                out.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
                out.push_str(&quoted_printable(body));
            }
            out.push_str(&format!("--{BOUNDARY}--\r\n"));
        }
    }
    Ok(out.into_bytes())
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The RFC 5322 §3.3 date of `t` in UTC: `Thu, 01 Jan 1970 00:00:00 +0000`.
pub(super) fn rfc5322_date(t: Timestamp) -> String {
    let secs = t.as_secs();
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0).min(11)];
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} +0000",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The Subject header value: as is when it is short printable ASCII, RFC 2047 encoded words
/// otherwise. Line breaks become spaces (a subject is one line, and a raw CR/LF would start a
/// new header).
pub(super) fn encode_subject(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let plain = one_line.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        // A literal "=?" would be read as the start of an encoded word.
        && !one_line.contains("=?")
        && one_line.len() <= QP_LINE - "Subject: ".len();
    if plain {
        one_line
    } else {
        encoded_words(&one_line).join("\r\n ")
    }
}

/// RFC 2047 `B` encoded words of at most 75 characters each, split between characters (a word
/// must hold whole UTF-8 sequences, §5).
fn encoded_words(text: &str) -> Vec<String> {
    // RFC 2047 allows 75 characters per word; 39 octets (52 base64 characters, 64 with the
    // delimiters) also keep the first line, after "Subject: ", within 76.
    const MAX_OCTETS: usize = 39;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > MAX_OCTETS {
            words.push(format!(
                "=?UTF-8?B?{}?=",
                base64(&text.as_bytes()[start..end])
            ));
            start = i;
        }
        end = i + c.len_utf8();
    }
    if end > start || words.is_empty() {
        words.push(format!(
            "=?UTF-8?B?{}?=",
            base64(&text.as_bytes()[start..end])
        ));
    }
    words
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF hard breaks and soft breaks keeping every line
/// within 76 octets. Input line breaks (LF or CRLF) become hard breaks; the result ends with one.
pub(super) fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let text = text.strip_suffix('\n').unwrap_or(text);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal =
                matches!(b, b'!'..=b'<' | b'>'..=b'~') || (b == b' ' || b == b'\t') && !last;
            let token_len = if literal { 1 } else { 3 };
            // Keep room for the `=` of a soft break unless this is the line's last token.
            let limit = if last { QP_LINE } else { QP_LINE - 1 };
            if width + token_len > limit {
                out.push_str("=\r\n");
                width = 0;
            }
            if literal {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            width += token_len;
        }
        out.push_str("\r\n");
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4), for encoded words and SMTP AUTH.
pub(super) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
