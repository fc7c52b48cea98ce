//! The agent's `time` query parameter (spec §3.1 step 4, device-agents §1.3).
//!
//! Owns: reading `%d-%m-%Y_%H:%M:%S.%f` as Python's `datetime.strptime` does, interpreted as
//! UTC, into nanoseconds since the epoch. Must not: read the clock (a missing parameter means
//! "now", which is the caller's business).

/// Longest input echoed back in a [`BadTime`] message, so a hostile query cannot make the error
/// (and the log line carrying it) large.
const ECHO_MAX: usize = 64;

/// Why a `time` parameter was refused. Upstream answers every one of these with 400
/// `{"detail": "Incorrect time format"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTime {
    /// The text does not have the shape `dd-mm-YYYY_HH:MM:SS.ffffff`.
    #[error("time {input:?} does not match the format dd-mm-YYYY_HH:MM:SS.ffffff")]
    Format {
        /// The refused text, truncated.
        input: String,
    },
    /// The shape is right but the calendar has no such instant (31 February, second 60, year 0).
    #[error("time {input:?} names a date or time of day that does not exist")]
    NoSuchDate {
        /// The refused text, truncated.
        input: String,
    },
    /// A real date outside what a nanosecond `i64` can hold (before 1677-09-21 or after
    /// 2262-04-11).
    #[error("time {input:?} is outside the range of nanosecond timestamps")]
    OutOfRange {
        /// The refused text, truncated.
        input: String,
    },
}

fn echo(s: &str) -> String {
    s.chars().take(ECHO_MAX).collect()
}

/// The agent's `time` parameter as nanoseconds since the Unix epoch, UTC.
///
/// Follows Python's `datetime.strptime(s, '%d-%m-%Y_%H:%M:%S.%f')`, which upstream uses: day,
/// month, hour, minute and second take one or two digits (the day also " 5", as strptime's
/// regex allows), the year exactly four, the fraction one to six digits (`.5` is half a
/// second), nothing may follow, and the date must exist. Only ASCII digits are accepted where
/// Python's `\d` would also take other Unicode digits; no agent sends those.
///
/// # Errors
/// [`BadTime`] for text of another shape, an impossible date, or a date a nanosecond `i64`
/// cannot represent.
pub fn parse_time(s: &str) -> Result<i64, BadTime> {
    let format = || BadTime::Format { input: echo(s) };
    let mut rest = s;
    let day = field(&mut rest, Some(b'-'), Field::Day).ok_or_else(format)?;
    let month = field(&mut rest, Some(b'-'), Field::Month).ok_or_else(format)?;
    let year = field(&mut rest, Some(b'_'), Field::Year).ok_or_else(format)?;
    let hour = field(&mut rest, Some(b':'), Field::Hour).ok_or_else(format)?;
    let minute = field(&mut rest, Some(b':'), Field::Minute).ok_or_else(format)?;
    let second = field(&mut rest, Some(b'.'), Field::Second).ok_or_else(format)?;
    let micros = field(&mut rest, None, Field::Fraction).ok_or_else(format)?;

    // strptime's regex lets these through; `datetime(...)` then refuses them.
    if year == 0 || second > 59 || day > days_in_month(year, month) {
        return Err(BadTime::NoSuchDate { input: echo(s) });
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(micros * 1_000))
        .ok_or_else(|| BadTime::OutOfRange { input: echo(s) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Day,
    Month,
    Year,
    Hour,
    Minute,
    Second,
    Fraction,
}

/// Takes one field off the front of `rest` up to `sep` (or the end) and returns its value if
/// the text is what strptime's regex for that directive accepts. The separators are never
/// digits, so the field is exactly the text before the separator, and the regex alternation
/// (e.g. `3[01]|[12]\d|0[1-9]|[1-9]| [1-9]` for `%d`) comes down to a length and range test.
fn field(rest: &mut &str, sep: Option<u8>, kind: Field) -> Option<i64> {
    let (token, tail) = match sep {
        Some(sep) => {
            let at = rest.bytes().position(|b| b == sep)?;
            (&rest[..at], &rest[at + 1..])
        }
        None => (*rest, ""),
    };
    *rest = tail;
    // `%d` alone also takes a space-padded single digit.
    let digits = match (kind, token.strip_prefix(' ')) {
        (Field::Day, Some(d)) if d.len() == 1 => d,
        _ => token,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (min_len, max_len) = match kind {
        Field::Year => (4, 4),
        Field::Fraction => (1, 6),
        _ => (1, 2),
    };
    if digits.len() < min_len || digits.len() > max_len {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits.bytes() {
        value = value * 10 + i64::from(b - b'0');
    }
    if kind == Field::Fraction {
        // `%f` is a fraction of a second: ".5" is 500000 µs.
        for _ in digits.len()..6 {
            value *= 10;
        }
        return Some(value);
    }
    // A two-digit day or month may not be "00"; single digits 1..9 only (`0[1-9]|[1-9]`).
    let (lo, hi) = match kind {
        Field::Day => (1, 31),
        Field::Month => (1, 12),
        Field::Year => (0, 9999),
        Field::Hour => (0, 23),
        Field::Minute => (0, 59),
        // `6[0-1]|[0-5]\d|\d`: 60 and 61 pass the regex and fail later, in `datetime`.
        Field::Second => (0, 61),
        Field::Fraction => (0, 999_999),
    };
    (lo..=hi).contains(&value).then_some(value)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
/// `time` has the same function but keeps it private to its zone module.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_time_reads_the_agent_format() {
        // 2024-05-14T10:15:00Z, spec §3.7.
        assert_eq!(
            parse_time("14-05-2024_10:15:00.000000"),
            Ok(1_715_681_700_000_000_000)
        );
        assert_eq!(parse_time("01-01-1970_00:00:00.000000"), Ok(0));
        assert_eq!(parse_time("01-01-1970_00:01:12.000000"), Ok(72_000_000_000));
    }

    #[test]
    fn parse_time_fraction_is_a_fraction() {
        assert_eq!(parse_time("01-01-1970_00:00:00.5"), Ok(500_000_000));
        assert_eq!(parse_time("01-01-1970_00:00:00.000001"), Ok(1_000));
        assert_eq!(parse_time("01-01-1970_00:00:00.123"), Ok(123_000_000));
    }

    #[test]
    fn parse_time_takes_short_fields_as_strptime_does() {
        let full = parse_time("05-03-2026_04:07:09.000000");
        assert!(full.is_ok());
        assert_eq!(parse_time("5-3-2026_4:7:9.0"), full);
        assert_eq!(parse_time(" 5-03-2026_04:07:09.000000"), full);
    }

    #[test]
    fn parse_time_refuses_what_strptime_refuses() {
        for bad in [
            "",
            "21-08-2026 14:05:00.000000",
            "2026-08-21T14:05:00Z",
            "21-08-2026_14:05:00",
            "21-08-2026_14:05:00.",
            "21-08-2026_14:05:00.0000000",
            "21-13-2026_14:05:00.000000",
            "00-08-2026_14:05:00.000000",
            "32-08-2026_14:05:00.000000",
            "21-08-26_14:05:00.000000",
            "21-08-02026_14:05:00.000000",
            "21-08-2026_24:05:00.000000",
            "21-08-2026_14:60:00.000000",
            "21-08-2026_14:05:62.000000",
            "021-08-2026_14:05:00.000000",
            "+1-08-2026_14:05:00.000000",
            "21-08-2026_14:05:00.00000x",
            "21-08-2026_14:05:00.000000 ",
            "1787321100",
            "２１-08-2026_14:05:00.000000",
        ] {
            assert!(
                matches!(parse_time(bad), Err(BadTime::Format { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_time_refuses_dates_that_do_not_exist() {
        for bad in [
            "31-02-2026_14:05:00.000000",
            "29-02-2026_00:00:00.000000",
            "31-04-2026_00:00:00.000000",
            "29-02-1900_00:00:00.000000",
            "01-01-0000_00:00:00.000000",
            "21-08-2026_14:05:60.000000",
        ] {
            assert!(
                matches!(parse_time(bad), Err(BadTime::NoSuchDate { .. })),
                "{bad:?}"
            );
        }
        assert!(parse_time("29-02-2024_00:00:00.000000").is_ok());
        assert!(parse_time("29-02-2000_00:00:00.000000").is_ok());
    }

    #[test]
    fn parse_time_refuses_dates_beyond_nanosecond_range() {
        assert!(matches!(
            parse_time("01-01-0001_00:00:00.000000"),
            Err(BadTime::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_time("31-12-9999_23:59:59.999999"),
            Err(BadTime::OutOfRange { .. })
        ));
        assert!(parse_time("01-01-2262_00:00:00.0").is_ok());
        assert!(parse_time("01-01-1678_00:00:00.0").is_ok());
    }

    #[test]
    fn bad_time_echo_is_bounded() {
        let long = "9".repeat(10_000);
        let err = parse_time(&long).unwrap_err();
        assert!(err.to_string().len() < 200);
    }

    proptest::proptest! {
        #[test]
        fn parse_time_never_panics(s in "\\PC{0,40}") {
            let _ = parse_time(&s);
        }

        #[test]
        fn parse_time_reads_back_what_the_agent_writes(
            secs in -9_000_000_000i64..9_000_000_000i64,
            micros in 0i64..1_000_000,
        ) {
            // Format a civil time the way the agent does, independently of `days_from_civil`.
            let days = secs.div_euclid(86_400);
            let sod = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let text = format!(
                "{d:02}-{m:02}-{y:04}_{:02}:{:02}:{:02}.{micros:06}",
                sod / 3600,
                sod / 60 % 60,
                sod % 60
            );
            proptest::prop_assert_eq!(parse_time(&text), Ok(secs * 1_000_000_000 + micros * 1_000));
        }
    }

    /// Inverse of `days_from_civil` by walking years and months, slow but obviously right.
    fn civil_from_days(mut days: i64) -> (i64, i64, i64) {
        let mut y = 1970;
        loop {
            let len = if is_leap(y) { 366 } else { 365 };
            if days < 0 {
                y -= 1;
                days += if is_leap(y) { 366 } else { 365 };
            } else if days >= len {
                days -= len;
                y += 1;
            } else {
                break;
            }
        }
        let mut m = 1;
        while days >= days_in_month(y, m) {
            days -= days_in_month(y, m);
            m += 1;
        }
        (y, m, days + 1)
    }
}
