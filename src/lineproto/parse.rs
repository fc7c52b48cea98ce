//! The parser: body → lines → [`ParsedLine`]s.
//!
//! It follows InfluxDB 1.x's `models/points.go` scanner by scanner (`scanLine`,
//! `scanMeasurement`, `scanTags*`, `scanFields`, `scanNumber`, `scanBoolean`, `scanTime`) so
//! that the same lines are accepted and the first error found is the one 1.x reports. Where it
//! departs on purpose, the comment says so. Everything works on bytes: every position where the
//! input `&str` is sliced holds an ASCII byte (or is an end), so slices stay valid UTF-8.

use std::borrow::Cow;
use std::iter::FusedIterator;

use super::{
    FieldValue, LineError, LineErrorKind, MAX_KEY_LEN, MAX_STRING_LEN, ParsedLine, Precision,
};

/// Characters whose escaping backslash is removed in measurements and field keys: matches
/// InfluxDB 1.x, which unescapes both with `escape.Unescape` (`\,` `\ ` `\=` `\"`). Observed on
/// 1.6.7: `a\=b f=1` creates measurement `a=b`, `c\"d f=1` creates `c"d`.
const NAME_ESCAPES: &[u8] = b", =\"";

/// Characters whose escaping backslash is removed in tag keys and values: matches InfluxDB 1.x's
/// `unescapeTag` (`\,` `\ ` `\=`; a `\"` in a tag stays as written, observed on 1.6.7).
const TAG_ESCAPES: &[u8] = b", =";

/// Parses a body whose timestamps are in nanoseconds (the `/write` default).
///
/// Yields one result per line that is neither blank nor a comment, in order; a bad line yields
/// an error and parsing goes on with the next one.
pub fn parse_lines(body: &str) -> Lines<'_> {
    parse_lines_with_precision(body, Precision::Nanoseconds)
}

/// Parses a body whose timestamps are in `precision`; the yielded timestamps are nanoseconds.
pub fn parse_lines_with_precision(body: &str, precision: Precision) -> Lines<'_> {
    Lines {
        body,
        pos: 0,
        line_number: 1,
        precision,
    }
}

/// Iterator over the lines of a body; see [`parse_lines`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    body: &'a str,
    /// Byte offset of the next unread line.
    pos: usize,
    /// 1-based physical line number at `pos`.
    line_number: usize,
    precision: Precision,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<ParsedLine<'a>, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line_number, line) = self.next_line()?;
        Some(parse_line(line, self.precision).map_err(|kind| LineError {
            line_number,
            line: line.to_owned(),
            kind,
        }))
    }
}

impl FusedIterator for Lines<'_> {}

/// Matches InfluxDB 1.x's `skipWhitespace`: space, tab and NUL.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == 0
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    i
}

impl<'a> Lines<'a> {
    /// Finds the next line to parse: its starting line number and its text without leading
    /// blanks and without the newline that ends it.
    ///
    /// Line ends follow InfluxDB 1.x's `scanLine`: a newline ends the line unless it is inside
    /// a quoted string field value (1.x stores such newlines, observed on 1.6.7) or escaped by
    /// a backslash. Two deliberate differences, both only for inputs no client produces:
    /// - Quotes are tracked from the first space not preceded by a backslash (where the 1.x
    ///   tag scanners, and so the parser, see the fields begin); `scanLine` starts at any
    ///   space, even a leading one or one after `\\`, so `  m f=1\\=",x` + newline + more
    ///   joins lines in 1.x.
    /// - A comment ends at the first newline. 1.x tracks quotes in comments too, so
    ///   `# a=1 "x` silently swallows the lines after it (observed on 1.6.7).
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let body = self.body;
        let b = body.as_bytes();
        let n = b.len();
        loop {
            let start = skip_blanks(b, self.pos);
            if start >= n {
                self.pos = n;
                return None;
            }
            if b[start] == b'\n' {
                self.pos = start + 1;
                self.line_number += 1;
                continue;
            }
            if b[start] == b'#' {
                match b[start..].iter().position(|&c| c == b'\n') {
                    Some(off) => {
                        self.pos = start + off + 1;
                        self.line_number += 1;
                    }
                    None => self.pos = n,
                }
                continue;
            }

            let line_number = self.line_number;
            let mut newlines = 0;
            let mut i = start;
            let mut in_fields = false;
            // Measurement and tags. A newline ends the line unless it is the second byte of a
            // backslash pair (`scanLine`'s rule, so `m\\` + newline ends the line); the fields
            // begin at the first space not preceded by a backslash (the tag scanners' rule).
            let mut second_of_pair = false;
            while i < n {
                let c = b[i];
                if c == b'\n' {
                    if !second_of_pair {
                        break;
                    }
                    newlines += 1;
                }
                if c == b' ' && !(i > start && b[i - 1] == b'\\') {
                    in_fields = true;
                    break;
                }
                second_of_pair = c == b'\\' && !second_of_pair;
                i += 1;
            }
            if in_fields {
                // Fields and timestamp, as `scanLine`: backslash pairs, and quotes count only
                // where a field value can be (more `=` than `,` seen).
                let (mut equals, mut commas, mut quoted) = (0usize, 0usize, false);
                while i < n {
                    let c = b[i];
                    if c == b'\\' && i + 1 < n {
                        if b[i + 1] == b'\n' {
                            newlines += 1;
                        }
                        i += 2;
                        continue;
                    }
                    match c {
                        b'=' if !quoted => equals += 1,
                        b',' if !quoted => commas += 1,
                        b'"' if equals > commas => quoted = !quoted,
                        b'\n' if !quoted => break,
                        b'\n' => newlines += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }

            let mut end = i;
            if i < n {
                // `b[i]` is the newline that ends the line.
                self.pos = i + 1;
                self.line_number += newlines + 1;
            } else {
                self.pos = n;
                self.line_number += newlines;
            }
            // Matches 1.x: the last line of a body keeps a final newline that was quoted or
            // escaped, and 1.x strips it before parsing.
            if end > start && b[end - 1] == b'\n' {
                end -= 1;
            }
            return Some((line_number, &body[start..end]));
        }
    }
}

/// Parses one line (no leading blanks, no line-ending newline, not empty, not a comment).
fn parse_line(line: &str, precision: Precision) -> Result<ParsedLine<'_>, LineErrorKind> {
    let b = line.as_bytes();
    let n = b.len();

    // Measurement (`scanMeasurement`). A separator counts as escaped when the byte before it is
    // a backslash, whatever precedes that backslash: matches 1.x, where `a\\,b` is one name.
    if n == 0 || b[0] == b',' {
        return Err(LineErrorKind::MissingMeasurement);
    }
    let mut i = 0;
    let measurement_end;
    let has_tags;
    loop {
        i += 1;
        if i >= n {
            return Err(LineErrorKind::MissingFields);
        }
        if b[i - 1] == b'\\' {
            continue;
        }
        if b[i] == b',' {
            measurement_end = i;
            has_tags = true;
            i += 1;
            break;
        }
        if b[i] == b' ' {
            measurement_end = i;
            has_tags = false;
            break;
        }
    }

    // Tags (`scanTagsKey`, `scanTagsValue`).
    let mut tags = Vec::new();
    if has_tags {
        loop {
            let key_start = i;
            if i >= n || matches!(b[i], b' ' | b',' | b'=') {
                return Err(LineErrorKind::MissingTagKey);
            }
            loop {
                i += 1;
                if i >= n {
                    return Err(LineErrorKind::MissingTagValue);
                }
                if b[i - 1] == b'\\' {
                    continue;
                }
                match b[i] {
                    b' ' | b',' => return Err(LineErrorKind::MissingTagValue),
                    b'=' => break,
                    _ => {}
                }
            }
            let key_end = i;
            i += 1;

            let value_start = i;
            // Only `,` and space are refused as the first byte: matches 1.x, which stores
            // `m,t==a f=1` as tag value `=a` (observed on 1.6.7).
            if i >= n || b[i] == b',' || b[i] == b' ' {
                return Err(LineErrorKind::MissingTagValue);
            }
            let more = loop {
                i += 1;
                if i >= n {
                    return Err(LineErrorKind::MissingFields);
                }
                if b[i - 1] == b'\\' {
                    continue;
                }
                match b[i] {
                    b'=' => return Err(LineErrorKind::InvalidTagFormat),
                    b',' => break true,
                    b' ' => break false,
                    _ => {}
                }
            };
            tags.push((
                unescape(&line[key_start..key_end], TAG_ESCAPES),
                unescape(&line[value_start..i], TAG_ESCAPES),
            ));
            if !more {
                break;
            }
            i += 1;
        }
        check_duplicate_tags(&tags)?;
    }
    // `i` is at the space that ends the key, so the key is `line[..i]`.
    let key_len = i;
    if key_len > MAX_KEY_LEN {
        return Err(LineErrorKind::MaxKeyLength(key_len));
    }
    let measurement = unescape(&line[..measurement_end], NAME_ESCAPES);

    // Fields (`scanFields`): several blanks may separate them from the key, as in 1.x.
    i = skip_blanks(b, i);
    let mut fields = Vec::new();
    let (mut equals, mut commas) = (0usize, 0usize);
    let mut key_start = i;
    let mut oversized_key = None;
    while i < n {
        let c = b[i];
        if c == b'\\' && i + 1 < n {
            i += 2;
            continue;
        }
        match c {
            b'=' => {
                equals += 1;
                // 1.x only notices an empty key after a space or comma and lets `m \t=1`
                // through with an empty field name; wispmon refuses every empty key.
                if i == key_start {
                    return Err(LineErrorKind::MissingFieldKey);
                }
                if i + 1 >= n || b[i + 1] == b',' || b[i + 1] == b' ' {
                    return Err(LineErrorKind::MissingFieldValue);
                }
                let raw_key = &line[key_start..i];
                let (value, end) = parse_value(line, i + 1)?;
                // A key ending in a backslash (`a\\=1`) passes 1.x's `scanFields` but its field
                // iterator then looks for an `=` not preceded by a backslash and either fails
                // ("invalid value: field-key=…") or swallows the next field into the key.
                // Checked after the value so that errors in the value come first, as in 1.x.
                if raw_key.ends_with('\\') {
                    return Err(LineErrorKind::InvalidFieldFormat);
                }
                let series_key_len = key_len + 4 + raw_key.len();
                if oversized_key.is_none() && series_key_len > MAX_KEY_LEN {
                    oversized_key = Some(series_key_len);
                }
                fields.push((unescape(raw_key, NAME_ESCAPES), value));
                i = end;
            }
            b',' => {
                commas += 1;
                i += 1;
                key_start = i;
            }
            b' ' => break,
            _ => i += 1,
        }
    }
    // Every `=` needs a key and a comma before the next one: `m f`, `m f=1,`, `m f=1,g`,
    // `m f=1,,g=2` and `m ` all end here, as in 1.x.
    if equals == 0 || commas + 1 != equals {
        return Err(LineErrorKind::InvalidFieldFormat);
    }
    if fields.is_empty() {
        return Err(LineErrorKind::MissingFields);
    }
    if let Some(len) = oversized_key {
        return Err(LineErrorKind::MaxKeyLength(len));
    }

    // Timestamp (`scanTime`, then `parsePoint`).
    i = skip_blanks(b, i);
    let ts_start = i;
    while i < n {
        let c = b[i];
        if c == b' ' || c == b'\n' {
            break;
        }
        if i == ts_start && c == b'-' {
            i += 1;
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(LineErrorKind::BadTimestamp);
        }
        i += 1;
    }
    let timestamp = if i == ts_start {
        // No timestamp: 1.x does not look at what follows (only blanks can).
        None
    } else {
        let text = &line[ts_start..i];
        let raw = match text.parse::<i64>() {
            Ok(raw) => raw,
            Err(_) if text == "-" => return Err(LineErrorKind::TimestampSyntax(text.to_owned())),
            Err(_) => return Err(LineErrorKind::TimestampOverflow(text.to_owned())),
        };
        let ns = precision
            .to_nanos(raw)
            .ok_or(LineErrorKind::TimeOutOfRange)?;
        // Matches 1.x: after a timestamp only spaces may follow (not tabs).
        if b[i..].iter().any(|&c| c != b' ') {
            return Err(LineErrorKind::PointIsInvalid);
        }
        Some(ns)
    };

    Ok(ParsedLine {
        measurement,
        tags,
        fields,
        timestamp,
    })
}

/// Matches 1.x's `scanKey`: the same tag key twice is an error. Comparing unescaped keys is the
/// same as comparing 1.x's escaped ones: unescaping is one-to-one on keys the scanner accepts.
fn check_duplicate_tags(tags: &[(Cow<'_, str>, Cow<'_, str>)]) -> Result<(), LineErrorKind> {
    // Senders usually write tags sorted, and then neighbours suffice.
    if tags.windows(2).all(|w| w[0].0 < w[1].0) {
        return Ok(());
    }
    let mut keys: Vec<&str> = tags.iter().map(|(k, _)| &**k).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(LineErrorKind::DuplicateTags);
    }
    Ok(())
}

/// Parses the field value starting at `start` (the byte after `=`, known to exist and not to
/// be `,` or space). Returns the value and the position of the `,`/space/end after it.
fn parse_value(line: &str, start: usize) -> Result<(FieldValue<'_>, usize), LineErrorKind> {
    match line.as_bytes()[start] {
        // Matches 1.x: `N`/`n` go to the number scanner, so `NaN` is an invalid number while
        // `inf` and `+1` are invalid booleans.
        b'0'..=b'9' | b'.' | b'-' | b'N' | b'n' => parse_number(line, start),
        b'"' => parse_string(line, start),
        _ => parse_bool(line, start),
    }
}

/// `scanNumber`, plus the conversion 1.x does later: floats `[-]digits[.digits][e[±]digits]`
/// (a leading `.` or trailing `.` allowed, no leading `+`), `[-]digits i`, `digits u`.
fn parse_number(line: &str, start: usize) -> Result<(FieldValue<'_>, usize), LineErrorKind> {
    let b = line.as_bytes();
    let n = b.len();
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
        if i == n {
            return Err(LineErrorKind::InvalidNumber);
        }
    }
    let (mut decimal, mut scientific, mut is_int, mut is_uint) = (false, false, false, false);
    while i < n {
        let c = b[i];
        if c == b',' || c == b' ' {
            break;
        }
        if i > start && !(is_int || is_uint) && (c == b'i' || c == b'u') {
            is_int = c == b'i';
            is_uint = c == b'u';
            i += 1;
            continue;
        }
        if c == b'.' {
            if decimal {
                return Err(LineErrorKind::InvalidNumber);
            }
            decimal = true;
        }
        if i > start && (c == b'e' || c == b'E') {
            scientific = true;
            i += 1;
            continue;
        }
        // `i > start` holds: the first byte is a digit, `.`, `-`, `N` or `n`.
        if (c == b'+' || c == b'-') && matches!(b[i - 1], b'e' | b'E') {
            i += 1;
            continue;
        }
        if !(c.is_ascii_digit() || c == b'.') {
            return Err(LineErrorKind::InvalidNumber);
        }
        i += 1;
    }

    if (is_int || is_uint) && (decimal || scientific) {
        return Err(LineErrorKind::InvalidNumber);
    }
    let digits = (i - start)
        .saturating_sub(usize::from(is_int))
        .saturating_sub(usize::from(decimal))
        .saturating_sub(usize::from(b[start] == b'-'));
    if digits == 0 {
        return Err(LineErrorKind::InvalidNumber);
    }

    let text = &line[start..i];
    let value = if is_int || is_uint {
        // The suffix must be last (`9i10` is invalid) and the rest is `-?[0-9]+`, so the only
        // possible conversion error is the range, reported in 1.x's words.
        let Some(number) = text.strip_suffix(if is_int { 'i' } else { 'u' }) else {
            return Err(LineErrorKind::InvalidNumber);
        };
        if is_int {
            let v = number
                .parse::<i64>()
                .map_err(|_| LineErrorKind::IntegerOutOfRange(number.to_owned()))?;
            FieldValue::Integer(v)
        } else {
            // Unsigned is InfluxDB 1.8's (1.6 says "invalid number" to any `u`).
            if number.starts_with('-') {
                return Err(LineErrorKind::InvalidNumber);
            }
            let v = number
                .parse::<u64>()
                .map_err(|_| LineErrorKind::UnsignedOutOfRange(number.to_owned()))?;
            FieldValue::Unsigned(v)
        }
    } else {
        // On this alphabet Rust's and Go's float syntax agree; Go reports overflow as an
        // error where Rust returns infinity, and 1.x calls both "invalid float".
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => FieldValue::Float(v),
            _ => return Err(LineErrorKind::InvalidFloat),
        }
    };
    Ok((value, i))
}

/// A quoted string value starting at the `"` at `start`. Inside, a backslash takes the next
/// byte with it (so `\"` does not close the string); only `\"` and `\\` are unescaped, other
/// backslashes stay (matches 1.x: `"a\nb"` keeps a backslash and an `n`). Raw newlines are part
/// of the value.
fn parse_string(line: &str, start: usize) -> Result<(FieldValue<'_>, usize), LineErrorKind> {
    let b = line.as_bytes();
    let n = b.len();
    let mut i = start + 1;
    let mut escapes = false;
    loop {
        if i >= n {
            return Err(LineErrorKind::UnbalancedQuotes);
        }
        match b[i] {
            b'\\' if i + 1 < n => {
                escapes = true;
                i += 2;
            }
            b'"' => break,
            _ => i += 1,
        }
    }
    let raw = &line[start + 1..i];
    i += 1;
    // 1.x keeps scanning to the next comma or space and stores garbage such as `abc"` for
    // `f="abc"x` (observed on 1.6.7); wispmon refuses text after the closing quote.
    if i < n && b[i] != b',' && b[i] != b' ' {
        return Err(LineErrorKind::InvalidFieldFormat);
    }
    let value = if escapes {
        unescape_string(raw)
    } else {
        Cow::Borrowed(raw)
    };
    if value.len() > MAX_STRING_LEN {
        return Err(LineErrorKind::StringTooLong(value.len()));
    }
    Ok((FieldValue::String(value), i))
}

/// `scanBoolean`: everything up to the next comma or space must be one of the ten spellings.
fn parse_bool(line: &str, start: usize) -> Result<(FieldValue<'_>, usize), LineErrorKind> {
    let b = line.as_bytes();
    let end = b[start..]
        .iter()
        .position(|&c| c == b',' || c == b' ')
        .map_or(b.len(), |off| start + off);
    let value = match &line[start..end] {
        "t" | "T" | "true" | "True" | "TRUE" => true,
        "f" | "F" | "false" | "False" | "FALSE" => false,
        _ => return Err(LineErrorKind::InvalidBoolean),
    };
    Ok((FieldValue::Boolean(value), end))
}

/// Removes the backslash before each byte of `escapes`, left to right (a backslash before any
/// other byte stays, so `\\` is two backslashes): matches 1.x's `escape.Unescape`/`unescapeTag`.
fn unescape<'a>(raw: &'a str, escapes: &[u8]) -> Cow<'a, str> {
    let b = raw.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && escapes.contains(&b[i + 1]) {
            let s = out.get_or_insert_with(|| String::with_capacity(raw.len()));
            s.push_str(&raw[copied..i]);
            copied = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    match out {
        Some(mut s) => {
            s.push_str(&raw[copied..]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(raw),
    }
}

/// String-value unescaping, by pairs: `\\` → `\`, `\"` → `"`, any other backslash stays
/// (matches 1.x's `unescapeStringField`).
fn unescape_string(raw: &str) -> Cow<'_, str> {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'\\' || b[i + 1] == b'"') {
            out.push_str(&raw[copied..i]);
            copied = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(raw);
    }
    out.push_str(&raw[copied..]);
    Cow::Owned(out)
}
