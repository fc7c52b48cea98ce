//! The parse error, worded and positioned like InfluxDB 1.8's.

/// A query InfluxQL cannot parse. `Display` gives InfluxDB's text, e.g.
/// `error parsing query: found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN,
/// GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1`; the whole request is refused with it
/// (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing query: {message}{}", location_suffix(*.located, *.line, *.char))]
pub struct ParseError {
    /// What went wrong, without the prefix and the position
    /// (`found tag, expected identifier`...).
    pub message: String,
    /// Byte offset in the query text the error refers to.
    pub pos: usize,
    /// 1-based line of the position (as InfluxDB counts it).
    pub line: usize,
    /// 1-based character (not byte) within the line, as InfluxDB counts it.
    pub char: usize,
    /// Whether InfluxDB appends ` at line L, char C` to this message (some of its errors carry
    /// no position, e.g. `only ORDER BY time supported at this time`).
    pub located: bool,
}

fn location_suffix(located: bool, line: usize, char: usize) -> String {
    if located {
        format!(" at line {line}, char {char}")
    } else {
        String::new()
    }
}
