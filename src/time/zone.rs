//! Time zones and calendar text: what `tz('Europe/Rome')` means, the time strings InfluxQL
//! accepts in `WHERE time ...`, and the RFC 3339 text `/query` answers with.
//!
//! Owns: the `jiff` dependency (zone rules from the system's tzdata, with a bundled copy for
//! machines without one). Civil-date arithmetic is done here by hand (proleptic Gregorian, as
//! Go's `time` package does) so that formatting a timestamp costs no allocation beyond the text.

use std::fmt;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A named time zone, or UTC.
#[derive(Clone)]
pub struct Zone {
    tz: Option<jiff::tz::TimeZone>,
    name: String,
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

/// A zone name the tz database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to find time zone {0}")]
pub struct UnknownZone(pub String);

/// A time string that is not one of the accepted forms (or not a real date).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp string")]
pub struct BadTimeString;

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            tz: None,
            name: "UTC".into(),
        }
    }

    /// The zone with this IANA name (`Europe/Rome`); `UTC` and the empty name are UTC.
    ///
    /// # Errors
    /// [`UnknownZone`] with InfluxDB's wording.
    pub fn named(name: &str) -> Result<Zone, UnknownZone> {
        if name.is_empty() || name == "UTC" {
            return Ok(Zone::utc());
        }
        // Names are looked up in a file tree: refuse anything that is not a plain zone name.
        if name.len() > 64
            || name.starts_with('/')
            || name.split('/').any(|p| p == ".." || p == ".")
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
        {
            return Err(UnknownZone(name.to_owned()));
        }
        match jiff::tz::TimeZone::get(name) {
            Ok(tz) => Ok(Zone {
                tz: Some(tz),
                name: name.to_owned(),
            }),
            Err(_) => Err(UnknownZone(name.to_owned())),
        }
    }

    /// Whether this is UTC.
    pub fn is_utc(&self) -> bool {
        self.tz.is_none()
    }

    /// The zone's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's offset from UTC at instant `t` (ns), in ns.
    pub fn offset_ns(&self, t: i64) -> i64 {
        match &self.tz {
            None => 0,
            Some(tz) => {
                let ts = jiff::Timestamp::from_nanosecond(i128::from(t)).unwrap_or(if t < 0 {
                    jiff::Timestamp::MIN
                } else {
                    jiff::Timestamp::MAX
                });
                i64::from(tz.to_offset(ts).seconds()) * NS_PER_SEC
            }
        }
    }

    /// The instant of a wall-clock time (ns since the epoch as if the wall clock were UTC) in
    /// this zone: a time skipped by a DST change maps forward, a repeated one to its first
    /// occurrence.
    pub fn instant_of_local(&self, local_ns: i64) -> i64 {
        match &self.tz {
            None => local_ns,
            Some(_) => {
                // The offsets in force a day before and after bracket any transition at this
                // wall time; a candidate is right when the zone agrees with it at its instant.
                const DAY: i64 = SECS_PER_DAY * NS_PER_SEC;
                let before = self.offset_ns(local_ns.saturating_sub(DAY));
                let after = self.offset_ns(local_ns.saturating_add(DAY));
                let valid = |o: i64| {
                    let t = local_ns.saturating_sub(o);
                    (self.offset_ns(t) == o).then_some(t)
                };
                match (valid(before), valid(after)) {
                    // A repeated hour: the first occurrence.
                    (Some(a), Some(b)) => a.min(b),
                    (Some(t), None) | (None, Some(t)) => t,
                    // A skipped hour: the wall time does not exist; move it forward.
                    (None, None) => local_ns.saturating_sub(before),
                }
            }
        }
    }

    /// Parses an InfluxQL time string: `2006-01-02`, `2006-01-02 15:04:05[.fraction]`, or RFC
    /// 3339 `2006-01-02T15:04:05[.fraction](Z|±07:00)`. Strings without an offset are read in
    /// this zone, as InfluxDB does under `tz()`.
    ///
    /// # Errors
    /// [`BadTimeString`] for any other text, out-of-range fields or non-existent dates.
    pub fn parse_time(&self, s: &str) -> Result<i64, BadTimeString> {
        let b = s.as_bytes();
        if b.len() > 64 {
            return Err(BadTimeString);
        }
        let mut p = Cursor { b, i: 0 };
        let year = p.digits(4)?;
        p.byte(b'-')?;
        let month = p.digits(2)?;
        p.byte(b'-')?;
        let day = p.digits(2)?;
        if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
            return Err(BadTimeString);
        }
        let days = days_from_civil(year, month, day);
        let date_ns = days
            .checked_mul(SECS_PER_DAY * NS_PER_SEC)
            .ok_or(BadTimeString)?;
        if p.done() {
            return Ok(self.instant_of_local(date_ns));
        }
        let sep = p.next()?;
        if sep != b' ' && sep != b'T' {
            return Err(BadTimeString);
        }
        let h = p.digits(2)?;
        p.byte(b':')?;
        let m = p.digits(2)?;
        p.byte(b':')?;
        let sec = p.digits(2)?;
        if h > 23 || m > 59 || sec > 59 {
            return Err(BadTimeString);
        }
        let mut frac = 0i64;
        if p.peek() == Some(b'.') {
            p.i += 1;
            let start = p.i;
            while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
                if p.i - start < 9 {
                    frac = frac * 10 + i64::from(d - b'0');
                }
                p.i += 1;
            }
            let n = p.i - start;
            if n == 0 {
                return Err(BadTimeString);
            }
            for _ in n..9 {
                frac *= 10;
            }
        }
        let local = date_ns
            .checked_add((h * 3600 + m * 60 + sec) * NS_PER_SEC + frac)
            .ok_or(BadTimeString)?;
        if p.done() {
            return Ok(self.instant_of_local(local));
        }
        // Only the RFC 3339 form carries an offset.
        if sep != b'T' {
            return Err(BadTimeString);
        }
        let offset = match p.next()? {
            b'Z' | b'z' => 0,
            sign @ (b'+' | b'-') => {
                let oh = p.digits(2)?;
                p.byte(b':')?;
                let om = p.digits(2)?;
                if oh > 23 || om > 59 {
                    return Err(BadTimeString);
                }
                let o = (oh * 3600 + om * 60) * NS_PER_SEC;
                if sign == b'-' { -o } else { o }
            }
            _ => return Err(BadTimeString),
        };
        if !p.done() {
            return Err(BadTimeString);
        }
        local.checked_sub(offset).ok_or(BadTimeString)
    }

    /// The wall clock at `t` in this zone: (month 1–12, day 1–31, hour, minute).
    pub fn wall_clock(&self, t: i64) -> (u8, u8, u8, u8) {
        let local = t.saturating_add(self.offset_ns(t));
        let secs = local.div_euclid(NS_PER_SEC);
        let (_, mo, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let sod = secs.rem_euclid(SECS_PER_DAY);
        // Every value is in range by construction; the fallbacks are never taken.
        let b = |v: i64| u8::try_from(v).unwrap_or(0);
        (b(mo), b(d), b(sod / 3600), b(sod / 60 % 60))
    }

    /// `t` as Go's RFC 3339 with nanoseconds, trailing zeros trimmed (`2024-02-23T00:00:00Z`,
    /// `...00.123Z`), with this zone's offset (`+01:00`) unless UTC (`Z`).
    pub fn format_rfc3339(&self, t: i64) -> String {
        let off = self.offset_ns(t);
        let local = t.saturating_add(off);
        let secs = local.div_euclid(NS_PER_SEC);
        let frac = local.rem_euclid(NS_PER_SEC);
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        let mut s = String::with_capacity(36);
        use std::fmt::Write as _;
        if (0..=9999).contains(&y) {
            let _ = write!(s, "{y:04}");
        } else {
            let _ = write!(s, "{y}");
        }
        let _ = write!(
            s,
            "-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
        if frac != 0 {
            let digits = format!("{frac:09}");
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
        if self.tz.is_none() {
            s.push('Z');
        } else {
            let o = off / NS_PER_SEC;
            let sign = if o < 0 { '-' } else { '+' };
            let o = o.abs();
            let _ = write!(s, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60);
        }
        s
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Result<u8, BadTimeString> {
        let c = self.peek().ok_or(BadTimeString)?;
        self.i += 1;
        Ok(c)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn byte(&mut self, want: u8) -> Result<(), BadTimeString> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(BadTimeString)
        }
    }
    fn digits(&mut self, n: usize) -> Result<i64, BadTimeString> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = self.next()?;
            if !c.is_ascii_digit() {
                return Err(BadTimeString);
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Ok(v)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const H: i64 = 3600 * NS_PER_SEC;

    #[test]
    fn civil_round_trip() {
        for d in [-800_000, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        let z = Zone::utc();
        assert_eq!(z.format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(z.format_rfc3339(-NS_PER_SEC), "1969-12-31T23:59:59Z");
        assert_eq!(z.format_rfc3339(123_000_000), "1970-01-01T00:00:00.123Z");
        assert_eq!(z.format_rfc3339(10), "1970-01-01T00:00:00.00000001Z");
        let t = Zone::utc().parse_time("2024-02-23").unwrap();
        let rome = Zone::named("Europe/Rome").unwrap();
        assert_eq!(rome.format_rfc3339(t - H), "2024-02-23T00:00:00+01:00");
        let ny = Zone::named("America/New_York").unwrap();
        assert_eq!(ny.format_rfc3339(t), "2024-02-22T19:00:00-05:00");
        let kolkata = Zone::named("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.format_rfc3339(t), "2024-02-23T05:30:00+05:30");
    }

    #[test]
    fn parses_influxql_time_strings() {
        let z = Zone::utc();
        let day = z.parse_time("2024-02-29").unwrap();
        assert_eq!(day, 19_782 * SECS_PER_DAY * NS_PER_SEC);
        assert_eq!(z.parse_time("2024-02-29 01:00:00").unwrap(), day + H);
        assert_eq!(
            z.parse_time("2024-02-29 01:00:00.5").unwrap(),
            day + H + 500_000_000
        );
        assert_eq!(
            z.parse_time("2024-02-29T23:00:00.000000+00:00").unwrap(),
            day + 23 * H
        );
        assert_eq!(z.parse_time("2024-02-29T01:00:00+01:00").unwrap(), day);
        assert_eq!(z.parse_time("2024-02-29T01:00:00Z").unwrap(), day + H);
        for bad in [
            "2024-13-45",
            "2023-02-29",
            "2024-02-29 1:00:00",
            "2024-02-29 01:00:00Z",
            "2024-02-29T01:00:00+1:00",
            "yesterday",
            "",
        ] {
            assert_eq!(z.parse_time(bad), Err(BadTimeString), "{bad}");
        }
        // Without an offset, a time is read in the zone; with one it is absolute.
        let rome = Zone::named("Europe/Rome").unwrap();
        assert_eq!(rome.parse_time("2024-02-29").unwrap(), day - H);
        assert_eq!(rome.parse_time("2024-02-29T00:00:00Z").unwrap(), day);
        // 02:30 does not exist on 2023-03-26 in Rome: it moves forward to 03:30 (+02:00).
        let spring = rome.parse_time("2023-03-26 02:30:00").unwrap();
        assert_eq!(rome.format_rfc3339(spring), "2023-03-26T03:30:00+02:00");
        // 02:30 happens twice on 2023-10-29: the first one (+02:00).
        let autumn = rome.parse_time("2023-10-29 02:30:00").unwrap();
        assert_eq!(rome.format_rfc3339(autumn), "2023-10-29T02:30:00+02:00");
    }

    proptest::proptest! {
        /// What `format_rfc3339` writes, `parse_time` reads back to the same instant, in UTC
        /// and in zones with DST and half-hour offsets; arbitrary text never panics.
        #[test]
        fn rfc3339_round_trips(t in -2_000_000_000_000_000_000i64..4_000_000_000_000_000_000, z in 0usize..4, junk in ".{0,80}") {
            let zone = [
                Zone::utc(),
                Zone::named("Europe/Rome").unwrap(),
                Zone::named("America/New_York").unwrap(),
                Zone::named("Asia/Kolkata").unwrap(),
            ][z].clone();
            let text = zone.format_rfc3339(t);
            proptest::prop_assert_eq!(zone.parse_time(&text), Ok(t), "{}", text);
            proptest::prop_assert_eq!(Zone::utc().parse_time(&text), Ok(t), "{}", text);
            let _ = zone.parse_time(&junk);
        }
    }

    #[test]
    fn unknown_zones_are_refused_with_influxdb_wording() {
        let e = Zone::named("Mars/Olympus").unwrap_err();
        assert_eq!(e.to_string(), "unable to find time zone Mars/Olympus");
        assert!(Zone::named("../../etc/passwd").is_err());
        assert!(Zone::named("UTC").unwrap().is_utc());
    }
}
