//! The writer: [`ParsedLine`] → canonical line protocol that [`super::parse_lines`] reads back
//! to an equal line (floats bit for bit).

use std::fmt::Write as _;

use super::{
    FieldValue, MAX_KEY_LEN, MAX_NANO_TIME, MAX_STRING_LEN, MIN_NANO_TIME, ParsedLine, Part,
    WriteError,
};

/// Appends `line` to `out` as one line of line protocol, without a trailing newline.
///
/// Canonical form: measurement escapes `,` and space (and `=`/`"` only right after a
/// backslash, where 1.x's unescaping would otherwise eat that backslash); tag keys and values
/// escape `,` `=` space; field keys escape `,` `=` space `"` (as 1.x's own encoder does);
/// floats use Rust's shortest round-trip form (`1.0`, `-0.0`, `1e21`, `5e-324`), integers end
/// in `i`, unsigned in `u`, booleans are `true`/`false`, strings are quoted with `\` and `"`
/// escaped; the timestamp (ns) follows a single space when present.
///
/// Refuses, leaving `out` unchanged, what would not parse back to the same line: empty names,
/// no fields, NaN/±inf, duplicate tag keys, over-long strings or series keys, timestamps 1.x
/// cannot store, and names InfluxDB 1.x's escaping cannot express (a name ending in a
/// backslash; a measurement starting with `#`, tab or NUL; a first field key starting with tab
/// or NUL; a newline in a name not preceded by an odd run of backslashes; in a field key, an
/// odd run of backslashes before `,`, `=` or space). Every line the parser returns is
/// writable, except that canonical escaping can push a series key near 64 KiB over the limit.
pub fn write_line(out: &mut String, line: &ParsedLine<'_>) -> Result<(), WriteError> {
    let start = out.len();
    let result = write_unchecked(out, line);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_unchecked(out: &mut String, line: &ParsedLine<'_>) -> Result<(), WriteError> {
    let key_start = out.len();

    let measurement = &*line.measurement;
    check_key_name(measurement, Part::Measurement)?;
    // The line splitter skips leading blanks and treats `#` as a comment.
    if measurement.starts_with(['#', '\t', '\0']) {
        return Err(WriteError::Unrepresentable {
            part: Part::Measurement,
            reason: "starts with '#', tab or NUL",
        });
    }
    let mut after_backslash = false;
    for c in measurement.chars() {
        let escape = match c {
            ',' | ' ' => true,
            '=' | '"' => after_backslash,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
        after_backslash = c == '\\';
    }

    check_duplicate_tags(line)?;
    for (key, value) in &line.tags {
        check_key_name(key, Part::TagKey)?;
        check_key_name(value, Part::TagValue)?;
        out.push(',');
        push_escaped(out, key, &[',', '=', ' ']);
        out.push('=');
        push_escaped(out, value, &[',', '=', ' ']);
    }
    let key_len = out.len() - key_start;
    if key_len > MAX_KEY_LEN {
        return Err(WriteError::KeyTooLong(key_len));
    }

    if line.fields.is_empty() {
        return Err(WriteError::NoFields);
    }
    out.push(' ');
    for (i, (key, value)) in line.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        check_field_key(key, i == 0)?;
        let field_key_start = out.len();
        push_escaped(out, key, &[',', '=', ' ', '"']);
        let series_key_len = key_len + 4 + (out.len() - field_key_start);
        if series_key_len > MAX_KEY_LEN {
            return Err(WriteError::KeyTooLong(series_key_len));
        }
        out.push('=');
        write_value(out, key, value)?;
    }

    if let Some(ts) = line.timestamp {
        if !(MIN_NANO_TIME..=MAX_NANO_TIME).contains(&ts) {
            return Err(WriteError::TimestampOutOfRange(ts));
        }
        // Writing to a String cannot fail.
        let _ = write!(out, " {ts}");
    }
    Ok(())
}

fn write_value(out: &mut String, key: &str, value: &FieldValue<'_>) -> Result<(), WriteError> {
    // Writing to a String cannot fail, hence the ignored `write!` results.
    match value {
        FieldValue::Float(v) => {
            if !v.is_finite() {
                return Err(WriteError::NonFiniteFloat(key.to_owned()));
            }
            // `{:?}` is the shortest text that parses back to the same bits, and switches to
            // an exponent for very large or small magnitudes, which line protocol accepts.
            let _ = write!(out, "{v:?}");
        }
        FieldValue::Integer(v) => {
            let _ = write!(out, "{v}i");
        }
        FieldValue::Unsigned(v) => {
            let _ = write!(out, "{v}u");
        }
        FieldValue::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
        FieldValue::String(s) => {
            if s.len() > MAX_STRING_LEN {
                return Err(WriteError::StringTooLong {
                    field: key.to_owned(),
                    len: s.len(),
                });
            }
            out.push('"');
            push_escaped(out, s, &['\\', '"']);
            out.push('"');
        }
    }
    Ok(())
}

/// The parser refuses duplicate tag keys, so the writer must not produce them.
fn check_duplicate_tags(line: &ParsedLine<'_>) -> Result<(), WriteError> {
    let mut keys: Vec<&str> = line.tags.iter().map(|(k, _)| &**k).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(WriteError::DuplicateTag(w[0].to_owned())),
        None => Ok(()),
    }
}

/// Appends `s` with a backslash before every char in `escaped`.
fn push_escaped(out: &mut String, s: &str, escaped: &[char]) {
    let mut copied = 0;
    for (i, c) in s.char_indices() {
        if escaped.contains(&c) {
            out.push_str(&s[copied..i]);
            out.push('\\');
            copied = i;
        }
    }
    out.push_str(&s[copied..]);
}

/// Measurement, tag key or tag value. Their scanners treat a separator as escaped when the
/// byte before it is a backslash, so a name may not end in one (it would escape the separator
/// after it); a newline ends the line unless it completes a backslash pair (odd run before it).
fn check_key_name(name: &str, part: Part) -> Result<(), WriteError> {
    if name.is_empty() {
        return Err(WriteError::Empty(part));
    }
    if name.ends_with('\\') {
        return Err(WriteError::Unrepresentable {
            part,
            reason: "ends with a backslash",
        });
    }
    let mut run = 0usize;
    for &c in name.as_bytes() {
        if c == b'\n' && run % 2 == 0 {
            return Err(WriteError::Unrepresentable {
                part,
                reason: "newline not preceded by an odd number of backslashes",
            });
        }
        run = if c == b'\\' { run + 1 } else { 0 };
    }
    Ok(())
}

/// Field keys are scanned with backslash *pairs* (as in 1.x's `scanFields`), so the escaping
/// backslash before `,` `=` space must not be paired off by the name's own backslashes (their
/// run must be even), a newline must be the second half of a pair (odd run), and the key may
/// not end in a backslash. The first key may not start with a blank, which would be skipped.
fn check_field_key(key: &str, first: bool) -> Result<(), WriteError> {
    if key.is_empty() {
        return Err(WriteError::Empty(Part::FieldKey));
    }
    if key.ends_with('\\') {
        return Err(WriteError::Unrepresentable {
            part: Part::FieldKey,
            reason: "ends with a backslash",
        });
    }
    if first && key.starts_with(['\t', '\0']) {
        return Err(WriteError::Unrepresentable {
            part: Part::FieldKey,
            reason: "first field key starts with tab or NUL",
        });
    }
    let mut run = 0usize;
    for &c in key.as_bytes() {
        match c {
            b'\\' => {
                run += 1;
                continue;
            }
            b',' | b'=' | b' ' if run % 2 == 1 => {
                return Err(WriteError::Unrepresentable {
                    part: Part::FieldKey,
                    reason: "odd number of backslashes before ',', '=' or space",
                });
            }
            b'\n' if run % 2 == 0 => {
                return Err(WriteError::Unrepresentable {
                    part: Part::FieldKey,
                    reason: "newline not preceded by an odd number of backslashes",
                });
            }
            _ => {}
        }
        run = 0;
    }
    Ok(())
}
