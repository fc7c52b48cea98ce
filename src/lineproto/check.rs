//! The property the fuzz target (`fuzz_targets/lp_parse.rs`) checks, shared with the seed-replay
//! test so CI runs the same property on every seed. Not part of the API.

use super::{LineError, WriteError, parse_lines, write_line};

/// Parses `body` and checks, for every line: errors are well-formed (1-based line numbers that
/// increase, the quoted line is a piece of the body, InfluxDB's message shape), and every
/// parsed line is writable and reads back bit-for-bit equal, with the written text a fixed
/// point. Returns how many lines parsed, or a description of the first violation.
///
/// Never panics itself, so a panic under the fuzzer is the parser's or the writer's.
pub fn body_roundtrip(body: &str) -> Result<usize, String> {
    let physical_lines = body.bytes().filter(|&c| c == b'\n').count() + 1;
    let mut last_error_line = 0;
    let mut parsed = 0;
    let mut text = String::new();
    let mut again = String::new();
    for result in parse_lines(body) {
        let line = match result {
            Ok(line) => line,
            Err(e) => {
                check_error(&e, body, physical_lines, last_error_line)?;
                last_error_line = e.line_number;
                continue;
            }
        };
        parsed += 1;

        text.clear();
        match write_line(&mut text, &line) {
            Ok(()) => {}
            // Canonical escaping may lengthen a series key that was just under the limit.
            Err(WriteError::KeyTooLong(_)) => continue,
            Err(e) => return Err(format!("parsed line not writable ({e}): {line:?}")),
        }
        let mut reparsed = parse_lines(&text);
        let back = match (reparsed.next(), reparsed.next()) {
            (Some(Ok(back)), None) => back,
            (first, second) => {
                return Err(format!(
                    "{text:?} (written for {line:?}) reads back as {first:?} then {second:?}"
                ));
            }
        };
        if !back.bitwise_eq(&line) {
            return Err(format!("{text:?} reads back as {back:?}, not {line:?}"));
        }

        again.clear();
        if let Err(e) = write_line(&mut again, &back) {
            return Err(format!("{back:?} read from {text:?} is not writable: {e}"));
        }
        if again != text {
            return Err(format!(
                "canonical text not stable: {text:?} then {again:?}"
            ));
        }
    }
    Ok(parsed)
}

fn check_error(
    e: &LineError,
    body: &str,
    physical_lines: usize,
    last_error_line: usize,
) -> Result<(), String> {
    if e.line_number == 0 || e.line_number > physical_lines || e.line_number <= last_error_line {
        return Err(format!(
            "bad line number {} (body has {physical_lines} lines, previous error on {last_error_line}): {e:?}",
            e.line_number
        ));
    }
    if e.line.is_empty() || !body.contains(e.line.as_str()) {
        return Err(format!("error quotes text not in the body: {e:?}"));
    }
    let shown = e.to_string();
    if shown != format!("unable to parse '{}': {}", e.line, e.kind) {
        return Err(format!("unexpected error text {shown:?}"));
    }
    Ok(())
}
