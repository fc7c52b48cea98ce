//! The scanner: turns query text into tokens with byte positions.
//!
//! The scanner is stateless: [`scan`] reads the token that starts at (or after whitespace and
//! comments following) a byte offset, so the parser "unscans" by simply not moving its offset.
//! Regular expressions are context sensitive in InfluxQL (`/` is also division and starts
//! `/* comments */`), so they are read only when the parser asks for one ([`scan_regex`]).

use std::borrow::Cow;

macro_rules! keywords {
    ($($variant:ident => $name:literal / $lower:literal),* $(,)?) => {
        /// An InfluxQL keyword (matched case-insensitively; reserved as a bare identifier).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Keyword {
            $($variant),*
        }

        impl Keyword {
            /// The keyword as InfluxDB names it in error messages and canonical text.
            pub(super) fn as_str(self) -> &'static str {
                match self {
                    $(Keyword::$variant => $name),*
                }
            }

            /// The keyword spelled by `lower` (already ASCII-lowercased), if any.
            fn from_lower(lower: &[u8]) -> Option<Keyword> {
                match lower {
                    $($lower => Some(Keyword::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

keywords! {
    All => "ALL" / b"all",
    Alter => "ALTER" / b"alter",
    Analyze => "ANALYZE" / b"analyze",
    And => "AND" / b"and",
    Any => "ANY" / b"any",
    As => "AS" / b"as",
    Asc => "ASC" / b"asc",
    Begin => "BEGIN" / b"begin",
    By => "BY" / b"by",
    Cardinality => "CARDINALITY" / b"cardinality",
    Continuous => "CONTINUOUS" / b"continuous",
    Create => "CREATE" / b"create",
    Database => "DATABASE" / b"database",
    Databases => "DATABASES" / b"databases",
    Default => "DEFAULT" / b"default",
    Delete => "DELETE" / b"delete",
    Desc => "DESC" / b"desc",
    Destinations => "DESTINATIONS" / b"destinations",
    Diagnostics => "DIAGNOSTICS" / b"diagnostics",
    Distinct => "DISTINCT" / b"distinct",
    Drop => "DROP" / b"drop",
    Duration => "DURATION" / b"duration",
    End => "END" / b"end",
    Every => "EVERY" / b"every",
    Exact => "EXACT" / b"exact",
    Explain => "EXPLAIN" / b"explain",
    False => "FALSE" / b"false",
    Field => "FIELD" / b"field",
    For => "FOR" / b"for",
    From => "FROM" / b"from",
    Grant => "GRANT" / b"grant",
    Grants => "GRANTS" / b"grants",
    Group => "GROUP" / b"group",
    Groups => "GROUPS" / b"groups",
    In => "IN" / b"in",
    Inf => "INF" / b"inf",
    Insert => "INSERT" / b"insert",
    Into => "INTO" / b"into",
    Key => "KEY" / b"key",
    Keys => "KEYS" / b"keys",
    Kill => "KILL" / b"kill",
    Limit => "LIMIT" / b"limit",
    Measurement => "MEASUREMENT" / b"measurement",
    Measurements => "MEASUREMENTS" / b"measurements",
    Name => "NAME" / b"name",
    Offset => "OFFSET" / b"offset",
    On => "ON" / b"on",
    Or => "OR" / b"or",
    Order => "ORDER" / b"order",
    Password => "PASSWORD" / b"password",
    Policies => "POLICIES" / b"policies",
    Policy => "POLICY" / b"policy",
    Privileges => "PRIVILEGES" / b"privileges",
    Queries => "QUERIES" / b"queries",
    Query => "QUERY" / b"query",
    Read => "READ" / b"read",
    Replication => "REPLICATION" / b"replication",
    Resample => "RESAMPLE" / b"resample",
    Retention => "RETENTION" / b"retention",
    Revoke => "REVOKE" / b"revoke",
    Select => "SELECT" / b"select",
    Series => "SERIES" / b"series",
    Set => "SET" / b"set",
    Shard => "SHARD" / b"shard",
    Shards => "SHARDS" / b"shards",
    Show => "SHOW" / b"show",
    Slimit => "SLIMIT" / b"slimit",
    Soffset => "SOFFSET" / b"soffset",
    Stats => "STATS" / b"stats",
    Subscription => "SUBSCRIPTION" / b"subscription",
    Subscriptions => "SUBSCRIPTIONS" / b"subscriptions",
    Tag => "TAG" / b"tag",
    To => "TO" / b"to",
    True => "TRUE" / b"true",
    User => "USER" / b"user",
    Users => "USERS" / b"users",
    Values => "VALUES" / b"values",
    Where => "WHERE" / b"where",
    With => "WITH" / b"with",
    Write => "WRITE" / b"write",
}

/// The longest keyword (`SUBSCRIPTIONS`), so longer words skip the lookup.
const LONGEST_KEYWORD: usize = 13;

/// The keyword `word` spells, ignoring ASCII case.
pub(super) fn lookup_keyword(word: &str) -> Option<Keyword> {
    if word.len() > LONGEST_KEYWORD || word.len() < 2 {
        return None;
    }
    let mut buf = [0u8; LONGEST_KEYWORD];
    let lower = buf.get_mut(..word.len())?;
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    Keyword::from_lower(lower)
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Eof,
    /// A character (or unterminated comment) that starts no token.
    Illegal,
    /// Bare or double-quoted identifier; `lit` is the unescaped name.
    Ident,
    /// `$name`; `lit` is the whole text including `$`.
    BoundParam,
    /// A number with a decimal point.
    Number,
    Integer,
    /// `<digits><letters...>`: validated when parsed.
    Duration,
    /// Single-quoted string; `lit` is the unescaped content.
    Str,
    /// Unterminated string or identifier; `lit` is the content read.
    BadString,
    /// A string with an unknown `\x` escape; `lit` is the escape.
    BadEscape,
    /// A regex produced by a bound parameter (source regexes come from [`scan_regex`]).
    Regex,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Eq,
    Neq,
    EqRegex,
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
    LParen,
    RParen,
    Comma,
    Colon,
    DoubleColon,
    Semicolon,
    Dot,
    Kw(Keyword),
}

/// Where an error about a token is reported, mimicking InfluxDB's scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Loc {
    /// At this byte offset.
    At(usize),
    /// At the character before this byte offset: InfluxDB reports quoted strings and regexes
    /// one character early.
    Before(usize),
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    /// Byte offset of the first character.
    pub(super) start: usize,
    /// Byte offset just past the token.
    pub(super) end: usize,
    /// Text: identifier name, string content, number text, operator text...
    pub(super) lit: Cow<'a, str>,
    /// Whitespace or a comment precedes the token.
    pub(super) ws_before: bool,
    /// A bare identifier or keyword (InfluxDB's scanner reads past those twice at the end of
    /// the input, which shifts the reported EOF position by one).
    pub(super) bare_word: bool,
    /// Where errors about this token point.
    pub(super) loc: Loc,
}

impl Token<'_> {
    /// The token as InfluxDB shows it after "found".
    pub(super) fn found(&self) -> Cow<'_, str> {
        let fixed = match self.kind {
            Kind::Eof => "EOF",
            Kind::Kw(k) => k.as_str(),
            Kind::Illegal if self.lit.is_empty() => "ILLEGAL",
            Kind::Illegal
            | Kind::Ident
            | Kind::BoundParam
            | Kind::Number
            | Kind::Integer
            | Kind::Duration
            | Kind::Str
            | Kind::BadString
            | Kind::BadEscape
            | Kind::Regex => return Cow::Borrowed(self.lit.as_ref()),
            Kind::Add => "+",
            Kind::Sub => "-",
            Kind::Mul => "*",
            Kind::Div => "/",
            Kind::Mod => "%",
            Kind::BitAnd => "&",
            Kind::BitOr => "|",
            Kind::BitXor => "^",
            Kind::Eq => "=",
            Kind::Neq => "!=",
            Kind::EqRegex => "=~",
            Kind::NeqRegex => "!~",
            Kind::Lt => "<",
            Kind::Lte => "<=",
            Kind::Gt => ">",
            Kind::Gte => ">=",
            Kind::LParen => "(",
            Kind::RParen => ")",
            Kind::Comma => ",",
            Kind::Colon => ":",
            Kind::DoubleColon => "::",
            Kind::Semicolon => ";",
            Kind::Dot => ".",
        };
        Cow::Borrowed(fixed)
    }

    pub(super) fn is_kw(&self, kw: Keyword) -> bool {
        self.kind == Kind::Kw(kw)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn is_ident_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(super) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Skips whitespace only (not comments); returns the offset of the next other byte.
pub(super) fn skip_ws(src: &str, mut i: usize) -> usize {
    let bytes = src.as_bytes();
    while bytes.get(i).is_some_and(|&b| is_ws(b)) {
        i += 1;
    }
    i
}

/// The end of the last comment between `pos` and the end of the input, when only whitespace
/// and comments remain: InfluxDB reports the end of the input after such a comment (one
/// character further after a `--` comment that runs to the end).
pub(super) fn trailing_comment_end(src: &str, pos: usize) -> Option<(usize, bool)> {
    let bytes = src.as_bytes();
    let mut last = None;
    let mut i = pos;
    loop {
        i = skip_ws(src, i);
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'-'), Some(b'-')) => {
                i += 2;
                while bytes.get(i).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
                last = match bytes.get(i) {
                    // The line break belongs to the comment for InfluxDB's scanner.
                    Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => Some((i + 2, false)),
                    Some(_) => Some((i + 1, false)),
                    None => Some((i, true)),
                };
                i = last.map_or(i, |(end, _)| end);
            }
            (Some(b'/'), Some(b'*')) => match skip_ws_and_comments(src, i) {
                Ok(end) => {
                    let after_comment = src
                        .get(i..end)
                        .and_then(|s| s.find("*/"))
                        .map_or(end, |at| i + at + 2);
                    last = Some((after_comment, false));
                    i = after_comment;
                }
                Err(_) => return last,
            },
            (None, _) => return last,
            _ => return None,
        }
    }
}

/// Skips whitespace and comments. `Err(start)` for an unterminated `/*` comment at `start`.
fn skip_ws_and_comments(src: &str, mut i: usize) -> Result<usize, usize> {
    let bytes = src.as_bytes();
    loop {
        i = skip_ws(src, i);
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'-'), Some(b'-')) => {
                i += 2;
                while bytes.get(i).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
            }
            (Some(b'/'), Some(b'*')) => {
                let start = i;
                i += 2;
                loop {
                    match (bytes.get(i), bytes.get(i + 1)) {
                        (Some(b'*'), Some(b'/')) => {
                            i += 2;
                            break;
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => return Err(start),
                    }
                }
            }
            _ => return Ok(i),
        }
    }
}

/// Scans the token at or after byte offset `pos`.
pub(super) fn scan(src: &str, pos: usize) -> Token<'_> {
    let start = match skip_ws_and_comments(src, pos) {
        Ok(i) => i,
        Err(comment) => {
            return Token {
                kind: Kind::Illegal,
                start: comment,
                end: src.len(),
                lit: Cow::Borrowed(""),
                ws_before: comment > pos,
                bare_word: false,
                loc: Loc::At(comment),
            };
        }
    };
    let mut tok = scan_at(src, start);
    tok.ws_before = start > pos;
    tok
}

fn simple(kind: Kind, start: usize, len: usize) -> Token<'static> {
    Token {
        kind,
        start,
        end: start + len,
        lit: Cow::Borrowed(""),
        ws_before: false,
        bare_word: false,
        loc: Loc::At(start),
    }
}

/// Scans the token starting exactly at `start` (not whitespace, not a comment).
fn scan_at(src: &str, start: usize) -> Token<'_> {
    let bytes = src.as_bytes();
    let Some(&b) = bytes.get(start) else {
        return Token {
            kind: Kind::Eof,
            start,
            end: start,
            lit: Cow::Borrowed(""),
            ws_before: false,
            bare_word: false,
            loc: Loc::At(start),
        };
    };
    let next = bytes.get(start + 1).copied();
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'_' => scan_bare_word(src, start),
        b'0'..=b'9' => scan_number(src, start),
        b'.' if next.is_some_and(|n| n.is_ascii_digit()) => scan_number(src, start),
        b'.' => simple(Kind::Dot, start, 1),
        b'"' => {
            let mut tok = scan_quoted(src, start, b'"');
            if tok.kind == Kind::Str {
                tok.kind = Kind::Ident;
                tok.loc = Loc::At(start);
            }
            tok
        }
        b'\'' => scan_quoted(src, start, b'\''),
        b'$' => scan_bound_param(src, start),
        b'+' => simple(Kind::Add, start, 1),
        b'-' => simple(Kind::Sub, start, 1),
        b'*' => simple(Kind::Mul, start, 1),
        b'/' => simple(Kind::Div, start, 1),
        b'%' => simple(Kind::Mod, start, 1),
        b'&' => simple(Kind::BitAnd, start, 1),
        b'|' => simple(Kind::BitOr, start, 1),
        b'^' => simple(Kind::BitXor, start, 1),
        b'=' if next == Some(b'~') => simple(Kind::EqRegex, start, 2),
        b'=' => simple(Kind::Eq, start, 1),
        b'!' if next == Some(b'=') => simple(Kind::Neq, start, 2),
        b'!' if next == Some(b'~') => simple(Kind::NeqRegex, start, 2),
        b'>' if next == Some(b'=') => simple(Kind::Gte, start, 2),
        b'>' => simple(Kind::Gt, start, 1),
        b'<' if next == Some(b'=') => simple(Kind::Lte, start, 2),
        b'<' if next == Some(b'>') => simple(Kind::Neq, start, 2),
        b'<' => simple(Kind::Lt, start, 1),
        b'(' => simple(Kind::LParen, start, 1),
        b')' => simple(Kind::RParen, start, 1),
        b',' => simple(Kind::Comma, start, 1),
        b';' => simple(Kind::Semicolon, start, 1),
        b':' if next == Some(b':') => simple(Kind::DoubleColon, start, 2),
        b':' => simple(Kind::Colon, start, 1),
        _ => {
            let len = src
                .get(start..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8);
            Token {
                kind: Kind::Illegal,
                start,
                end: start + len,
                lit: Cow::Borrowed(src.get(start..start + len).unwrap_or("")),
                ws_before: false,
                bare_word: false,
                loc: Loc::At(start),
            }
        }
    }
}

fn scan_bare_word(src: &str, start: usize) -> Token<'_> {
    let bytes = src.as_bytes();
    let mut end = start;
    while bytes.get(end).is_some_and(|&b| is_ident_byte(b)) {
        end += 1;
    }
    if bytes.get(end) == Some(&b'"') {
        // InfluxDB quirk: a bare word running into a quoted identifier (`v"x"`) is one
        // identifier token, named by the quoted part alone.
        let mut tok = scan_quoted(src, end, b'"');
        if tok.kind == Kind::Str {
            tok.kind = Kind::Ident;
            tok.loc = Loc::At(start);
        }
        tok.start = start;
        return tok;
    }
    let word = src.get(start..end).unwrap_or("");
    let kind = lookup_keyword(word).map_or(Kind::Ident, Kind::Kw);
    Token {
        kind,
        start,
        end,
        lit: Cow::Borrowed(word),
        ws_before: false,
        bare_word: true,
        loc: Loc::At(start),
    }
}

fn scan_number(src: &str, start: usize) -> Token<'_> {
    let bytes = src.as_bytes();
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let int_end = digits(start);
    let token = |kind, lit_end: usize, end: usize| Token {
        kind,
        start,
        end,
        lit: Cow::Borrowed(src.get(start..lit_end).unwrap_or("")),
        ws_before: false,
        bare_word: false,
        loc: Loc::At(start),
    };
    if bytes.get(int_end) == Some(&b'.') {
        // InfluxDB consumes a '.' not followed by a digit but leaves it out of the number.
        if bytes.get(int_end + 1).is_some_and(u8::is_ascii_digit) {
            let end = digits(int_end + 1);
            return token(Kind::Number, end, end);
        }
        return token(Kind::Number, int_end, int_end + 1);
    }
    let rest = src.get(int_end..).unwrap_or("");
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == 'µ' => {
            let mut len = rest.len();
            for (i, c) in chars {
                if !(c.is_ascii_alphanumeric() || c == 'µ') {
                    len = i;
                    break;
                }
            }
            token(Kind::Duration, int_end + len, int_end + len)
        }
        _ => token(Kind::Integer, int_end, int_end),
    }
}

/// Scans `'...'` or `"..."` starting at the quote. Escapes: `\n`, `\\`, `\'`, `\"`.
fn scan_quoted(src: &str, start: usize, quote: u8) -> Token<'_> {
    let bytes = src.as_bytes();
    let mut owned: Option<String> = None;
    let mut seg = start + 1;
    let mut i = start + 1;
    let content = |owned: &Option<String>, seg: usize, i: usize| -> Cow<'_, str> {
        let tail = src.get(seg..i).unwrap_or("");
        match owned {
            Some(s) => Cow::Owned(format!("{s}{tail}")),
            None => Cow::Borrowed(tail),
        }
    };
    loop {
        match bytes.get(i) {
            None | Some(b'\n' | b'\r') => {
                return Token {
                    kind: Kind::BadString,
                    start,
                    end: i,
                    lit: content(&owned, seg, i),
                    ws_before: false,
                    bare_word: false,
                    loc: Loc::Before(start),
                };
            }
            Some(&b) if b == quote => {
                return Token {
                    kind: Kind::Str,
                    start,
                    end: i + 1,
                    lit: content(&owned, seg, i),
                    ws_before: false,
                    bare_word: false,
                    loc: Loc::Before(start),
                };
            }
            Some(b'\\') => {
                let unescaped = match bytes.get(i + 1) {
                    Some(b'n') => '\n',
                    Some(b'\\') => '\\',
                    Some(b'"') => '"',
                    Some(b'\'') => '\'',
                    _ => {
                        let esc_len = src
                            .get(i + 1..)
                            .and_then(|r| r.chars().next())
                            .map_or(0, char::len_utf8);
                        return Token {
                            kind: Kind::BadEscape,
                            start,
                            end: i + 1 + esc_len,
                            lit: Cow::Borrowed(src.get(i..i + 1 + esc_len).unwrap_or("\\")),
                            ws_before: false,
                            bare_word: false,
                            loc: Loc::At(i + 1),
                        };
                    }
                };
                let s = owned.get_or_insert_with(String::new);
                s.push_str(src.get(seg..i).unwrap_or(""));
                s.push(unescaped);
                i += 2;
                seg = i;
            }
            Some(_) => i += 1,
        }
    }
}

fn scan_bound_param(src: &str, start: usize) -> Token<'_> {
    let bytes = src.as_bytes();
    let name_start = start + 1;
    let mut quote_at = name_start;
    while bytes.get(quote_at).is_some_and(|&b| is_ident_byte(b)) {
        quote_at += 1;
    }
    if bytes.get(quote_at) == Some(&b'"') {
        // As for identifiers, `$p"x"` names the parameter `x`.
        let quoted = scan_quoted(src, quote_at, b'"');
        if quoted.kind != Kind::Str {
            return Token {
                lit: Cow::Owned(format!("${}", quoted.lit)),
                ..quoted
            };
        }
        return Token {
            kind: Kind::BoundParam,
            start,
            end: quoted.end,
            lit: Cow::Owned(format!("${}", quoted.lit)),
            ws_before: false,
            bare_word: false,
            loc: Loc::At(start),
        };
    }
    let mut end = name_start;
    while bytes.get(end).is_some_and(|&b| is_ident_byte(b)) {
        end += 1;
    }
    Token {
        kind: Kind::BoundParam,
        start,
        end,
        lit: Cow::Borrowed(src.get(start..end).unwrap_or("$")),
        ws_before: false,
        bare_word: end > name_start,
        loc: Loc::At(start),
    }
}

/// A regex literal read from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RegexScan<'a> {
    /// The regex source (with `\/` unescaped) and the byte offset just past the closing `/`.
    Ok(Cow<'a, str>, usize),
    /// No closing `/` before a newline or the end of the input.
    Unterminated,
}

/// Scans a `/.../` regex whose opening slash is at `start`. `\/` stands for `/`; every other
/// backslash is kept as is (it belongs to the regex syntax).
pub(super) fn scan_regex(src: &str, start: usize) -> RegexScan<'_> {
    let bytes = src.as_bytes();
    let mut owned: Option<String> = None;
    let mut seg = start + 1;
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None | Some(b'\n' | b'\r') => return RegexScan::Unterminated,
            Some(b'/') => {
                let tail = src.get(seg..i).unwrap_or("");
                let text = match owned {
                    Some(mut s) => {
                        s.push_str(tail);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(tail),
                };
                return RegexScan::Ok(text, i + 1);
            }
            Some(b'\\') if bytes.get(i + 1) == Some(&b'/') => {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(src.get(seg..i).unwrap_or(""));
                s.push('/');
                i += 2;
                seg = i;
            }
            Some(_) => i += 1,
        }
    }
}

/// Why a duration literal was refused (InfluxDB's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DurationError {
    Invalid,
    Overflow(String),
}

impl DurationError {
    pub(super) fn message(&self) -> String {
        match self {
            DurationError::Invalid => "invalid duration".to_owned(),
            DurationError::Overflow(group) => {
                format!("overflowed duration {group}: choose a smaller duration or INF")
            }
        }
    }
}

const NS_PER_US: i64 = 1_000;
const NS_PER_MS: i64 = 1_000_000;
const NS_PER_S: i64 = 1_000_000_000;
const NS_PER_M: i64 = 60 * NS_PER_S;
const NS_PER_H: i64 = 60 * NS_PER_M;
const NS_PER_D: i64 = 24 * NS_PER_H;
const NS_PER_W: i64 = 7 * NS_PER_D;

/// Parses an InfluxQL duration literal (`5m`, `1h30m`, `1596240000000ms`, optionally `-`
/// prefixed) into nanoseconds, with the project's one duration parser (`crate::time`); this
/// adds only the sign and InfluxDB's error wording.
pub(super) fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    // A bare number is not a duration here (the config parser accepts `0`).
    if body.len() < 2 || !body.ends_with(|c: char| !c.is_ascii_digit()) {
        return Err(DurationError::Invalid);
    }
    let d = crate::time::parse_duration(body).map_err(|e| match e {
        crate::time::DurationError::Overflow { input } => DurationError::Overflow(input),
        crate::time::DurationError::Empty | crate::time::DurationError::Invalid { .. } => {
            DurationError::Invalid
        }
    })?;
    // `time::parse_duration` refuses anything above i64::MAX nanoseconds.
    let total =
        i64::try_from(d.as_nanos()).map_err(|_| DurationError::Overflow(body.to_owned()))?;
    Ok(if negative { -total } else { total })
}

/// Formats nanoseconds in the largest unit that divides them exactly, as InfluxDB prints
/// duration literals: `0s`, `90m`, `1w`, `1500ms`, `7ns`.
pub(super) fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    const UNITS: [(u64, &str); 8] = [
        (NS_PER_W as u64, "w"),
        (NS_PER_D as u64, "d"),
        (NS_PER_H as u64, "h"),
        (NS_PER_M as u64, "m"),
        (NS_PER_S as u64, "s"),
        (NS_PER_MS as u64, "ms"),
        (NS_PER_US as u64, "u"),
        (1, "ns"),
    ];
    for (unit, name) in UNITS {
        if abs % unit == 0 {
            return format!("{sign}{}{name}", abs / unit);
        }
    }
    format!("{sign}{abs}ns")
}
