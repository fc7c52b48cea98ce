//! Validated value types of the configuration, each with `FromStr` and a `Display` that parses
//! back to the same value (so `wispmon check-config` output is itself a valid config file).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The address the HTTP listener binds: `HOST:PORT` with a literal IPv4 or bracketed IPv6 host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<SocketAddr>().map(ListenAddr).map_err(|_| {
            format!("invalid listen address {s:?}: expected HOST:PORT such as 127.0.0.1:8086 or [::]:8086")
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A byte count written as an integer or with a unit: `64MiB`, `512KiB`, `1GiB`, `10MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let err = || {
            format!(
                "invalid size {s:?}: expected a number with an optional unit B, KB, MB, GB, KiB, MiB, GiB"
            )
        };
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = t[..digits].parse().map_err(|_| err())?;
        let mult: u64 = match t[digits..].trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(err()),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n != 0 && n % (1 << 30) == 0 {
            write!(f, "{}GiB", n >> 30)
        } else if n != 0 && n % (1 << 20) == 0 {
            write!(f, "{}MiB", n >> 20)
        } else if n != 0 && n % (1 << 10) == 0 {
            write!(f, "{}KiB", n >> 10)
        } else {
            write!(f, "{n}B")
        }
    }
}

/// The log verbosity; `RUST_LOG` overrides it at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Only what an operator must act on.
    Error,
    /// Degraded but continuing.
    Warn,
    /// Lifecycle events.
    Info,
    /// Per request and per check.
    Debug,
    /// Per packet and per point.
    Trace,
}

impl LogLevel {
    /// The level's name as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            _ => Err(format!(
                "invalid log level {s:?}: expected one of error, warn, info, debug, trace"
            )),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the monitoring timeseries are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeseriesBackend {
    /// The embedded engine in the data directory.
    #[default]
    Embedded,
    /// A remote InfluxDB 1.x at `[timeseries] url`.
    Influxdb,
}

impl TimeseriesBackend {
    /// The backend's name as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeseriesBackend::Embedded => "embedded",
            TimeseriesBackend::Influxdb => "influxdb",
        }
    }
}

impl FromStr for TimeseriesBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "embedded" => Ok(TimeseriesBackend::Embedded),
            "influxdb" => Ok(TimeseriesBackend::Influxdb),
            _ => Err(format!(
                "invalid timeseries backend {s:?}: expected \"embedded\" or \"influxdb\""
            )),
        }
    }
}

impl fmt::Display for TimeseriesBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chart timeframe the UI and API offer (spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartTime {
    /// One day.
    D1,
    /// Three days.
    D3,
    /// Seven days (the upstream default).
    D7,
    /// Thirty days.
    D30,
    /// One year.
    D365,
}

impl ChartTime {
    /// The timeframe as written in the API (`7d`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChartTime::D1 => "1d",
            ChartTime::D3 => "3d",
            ChartTime::D7 => "7d",
            ChartTime::D30 => "30d",
            ChartTime::D365 => "365d",
        }
    }
}

impl FromStr for ChartTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1d" => Ok(ChartTime::D1),
            "3d" => Ok(ChartTime::D3),
            "7d" => Ok(ChartTime::D7),
            "30d" => Ok(ChartTime::D30),
            "365d" => Ok(ChartTime::D365),
            _ => Err(format!(
                "invalid chart time {s:?}: expected one of 1d, 3d, 7d, 30d, 365d"
            )),
        }
    }
}

impl fmt::Display for ChartTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One end of a snooze range (spec §6.5): a day of the year, a time of day, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozePoint {
    /// `MM-DD`: a whole day.
    Date {
        /// Month, 1–12.
        month: u8,
        /// Day of month, 1–31.
        day: u8,
    },
    /// `HH:MM`: a time on every day.
    Time {
        /// Hour, 0–23.
        hour: u8,
        /// Minute, 0–59.
        minute: u8,
    },
    /// `MM-DD HH:MM`: a moment of a given day.
    DateTime {
        /// Month, 1–12.
        month: u8,
        /// Day of month, 1–31.
        day: u8,
        /// Hour, 0–23.
        hour: u8,
        /// Minute, 0–59.
        minute: u8,
    },
}

impl SnoozePoint {
    fn kind(self) -> u8 {
        match self {
            SnoozePoint::Date { .. } => 0,
            SnoozePoint::Time { .. } => 1,
            SnoozePoint::DateTime { .. } => 2,
        }
    }
}

impl fmt::Display for SnoozePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SnoozePoint::Date { month, day } => write!(f, "{month:02}-{day:02}"),
            SnoozePoint::Time { hour, minute } => write!(f, "{hour:02}:{minute:02}"),
            SnoozePoint::DateTime {
                month,
                day,
                hour,
                minute,
            } => write!(f, "{month:02}-{day:02} {hour:02}:{minute:02}"),
        }
    }
}

/// A `(start, end)` pair of the WiFi clients check snooze schedule; both ends have one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnoozeRange {
    /// Where the snooze starts.
    pub start: SnoozePoint,
    /// Where it ends (a date end is inclusive to 23:59).
    pub end: SnoozePoint,
}

impl SnoozeRange {
    /// Whether a local wall-clock moment is inside the range (ends inclusive; a date end
    /// lasts to 23:59). Ranges whose end comes before their start wrap around midnight or
    /// the year's end.
    pub fn contains(&self, month: u8, day: u8, hour: u8, minute: u8) -> bool {
        // Every point as (month, day, hour, minute); a time-only range ignores the date.
        let key = |p: SnoozePoint, end: bool| -> (u8, u8, u8, u8) {
            match p {
                SnoozePoint::Date { month, day } if end => (month, day, 23, 59),
                SnoozePoint::Date { month, day } => (month, day, 0, 0),
                SnoozePoint::Time { hour, minute } => (0, 0, hour, minute),
                SnoozePoint::DateTime {
                    month,
                    day,
                    hour,
                    minute,
                } => (month, day, hour, minute),
            }
        };
        let now = match self.start {
            SnoozePoint::Time { .. } => (0, 0, hour, minute),
            _ => (month, day, hour, minute),
        };
        let (a, b) = (key(self.start, false), key(self.end, true));
        if a <= b {
            a <= now && now <= b
        } else {
            now >= a || now <= b
        }
    }
}

fn two_digits(s: &str, lo: u8, hi: u8) -> Option<u8> {
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u8 = s.parse().ok()?;
    (lo..=hi).contains(&v).then_some(v)
}

fn parse_time(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    Some((two_digits(h, 0, 23)?, two_digits(m, 0, 59)?))
}

fn parse_date(s: &str) -> Option<(u8, u8)> {
    let (mo, d) = s.split_once('-')?;
    let month = two_digits(mo, 1, 12)?;
    let max_day = match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    Some((month, two_digits(d, 1, max_day)?))
}

/// Parses one end of a snooze range; the message texts follow upstream's startup checks.
fn parse_snooze_point(s: &str) -> Result<SnoozePoint, String> {
    if let Some((date, time)) = s.split_once(' ') {
        let ((month, day), (hour, minute)) = parse_date(date)
            .zip(parse_time(time))
            .ok_or_else(|| format!("Invalid date-time format: {s:?}"))?;
        return Ok(SnoozePoint::DateTime {
            month,
            day,
            hour,
            minute,
        });
    }
    if s.contains(':') {
        let (hour, minute) = parse_time(s).ok_or_else(|| format!("Invalid time format: {s:?}"))?;
        return Ok(SnoozePoint::Time { hour, minute });
    }
    let (month, day) = parse_date(s).ok_or_else(|| format!("Invalid date-time format: {s:?}"))?;
    Ok(SnoozePoint::Date { month, day })
}

/// Parses a `[start, end]` snooze entry.
///
/// # Errors
/// A message in upstream's wording when the entry is not two strings of one valid format.
pub fn parse_snooze_range(entry: &toml::Value) -> Result<SnoozeRange, String> {
    let pair = match entry.as_array() {
        Some(a) if a.len() == 2 => a,
        _ => return Err(format!("Invalid schedule entry format: {entry}")),
    };
    let (Some(a), Some(b)) = (pair[0].as_str(), pair[1].as_str()) else {
        return Err(format!("Invalid schedule entry format: {entry}"));
    };
    let start = parse_snooze_point(a)?;
    let end = parse_snooze_point(b)?;
    if start.kind() != end.kind() {
        return Err(format!("Inconsistent format: {a:?} and {b:?}"));
    }
    Ok(SnoozeRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addr_parses_v4_and_v6() {
        assert_eq!(
            "127.0.0.1:8086".parse::<ListenAddr>().unwrap().to_string(),
            "127.0.0.1:8086"
        );
        assert_eq!(
            "[::]:8086".parse::<ListenAddr>().unwrap().to_string(),
            "[::]:8086"
        );
        assert!("localhost".parse::<ListenAddr>().is_err());
        assert!("1.2.3.4:99999".parse::<ListenAddr>().is_err());
    }

    #[test]
    fn byte_size_units_round_trip() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("10MB".parse::<ByteSize>().unwrap().0, 10_000_000);
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        for s in ["64MiB", "1GiB", "3KiB", "1000B"] {
            assert_eq!(s.parse::<ByteSize>().unwrap().to_string(), s);
        }
        assert!("64 parsecs".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn snooze_ranges_follow_upstream_formats() {
        let v = |a: &str, b: &str| {
            toml::Value::Array(vec![
                toml::Value::String(a.into()),
                toml::Value::String(b.into()),
            ])
        };
        assert!(parse_snooze_range(&v("12-25", "01-10")).is_ok());
        assert!(parse_snooze_range(&v("22:00", "06:00")).is_ok());
        assert!(parse_snooze_range(&v("12-13 18:00", "12-13 19:00")).is_ok());
        let e = parse_snooze_range(&v("12-25", "06:00")).unwrap_err();
        assert!(e.starts_with("Inconsistent format"), "{e}");
        let e = parse_snooze_range(&v("25:00", "06:00")).unwrap_err();
        assert!(e.starts_with("Invalid time format"), "{e}");
        let e = parse_snooze_range(&v("02-30", "03-01")).unwrap_err();
        assert!(e.starts_with("Invalid date-time format"), "{e}");
        let e = parse_snooze_range(&toml::Value::String("x".into())).unwrap_err();
        assert!(e.starts_with("Invalid schedule entry format"), "{e}");
        let r = parse_snooze_range(&v("06-15", "08-31")).unwrap();
        assert_eq!(r.start.to_string(), "06-15");
    }
}
