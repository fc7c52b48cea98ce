//! Time: the `Timestamp` newtype, duration literals and the injectable wall clock.
//!
//! Owns: the one place in the program allowed to read wall-clock time (`SystemClock`), the
//! nanosecond `Timestamp` every stored sample carries, and the one duration-literal parser shared
//! by the config file and (later) InfluxQL. Must not: know about storage, HTTP or devices.
//!
//! Deadlines and round-trip times use `tokio::time::Instant` (monotonic) elsewhere; a stored
//! sample always uses `Timestamp`. The two are never mixed.

mod zone;

pub use zone::{BadTimeString, UnknownZone, Zone};
// Calendar arithmetic, for the modules that format or parse dates themselves (chart labels).
pub(crate) use zone::{civil_from_days, days_from_civil, days_in_month};

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Nanoseconds since the Unix epoch, UTC: the unit of line protocol and of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floor).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// This timestamp moved forward by `d`, saturating at the representable range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ns))
    }

    /// This timestamp moved back by `d`, saturating at the representable range.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ns))
    }
}

/// The source of wall-clock time. Production code uses [`SystemClock`]; tests use [`MockClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

/// A shared clock handle, cheap to clone into every component.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned reader of wall-clock time
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; for tests of time-dependent behaviour.
#[derive(Debug, Default)]
pub struct MockClock(AtomicI64);

impl MockClock {
    /// A mock clock showing `t`.
    pub fn new(t: Timestamp) -> Self {
        MockClock(AtomicI64::new(t.0))
    }

    /// Sets the time shown.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the time shown forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        self.0.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Why a duration literal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The literal is empty.
    #[error("empty duration")]
    Empty,
    /// A number was not followed by a unit, or the unit is unknown.
    #[error(
        "invalid duration {input:?}: expected a number followed by one of ns, u, µ, ms, s, m, h, d, w"
    )]
    Invalid {
        /// The offending literal, truncated.
        input: String,
    },
    /// The value does not fit in 64-bit nanoseconds.
    #[error("duration {input:?} is too large")]
    Overflow {
        /// The offending literal, truncated.
        input: String,
    },
}

/// The longest literal quoted back in an error, so hostile input cannot bloat a response.
const ERROR_CONTEXT_CHARS: usize = 32;

fn context(s: &str) -> String {
    s.chars().take(ERROR_CONTEXT_CHARS).collect()
}

/// Parses an InfluxQL-style duration literal: one or more `<integer><unit>` groups such as
/// `300s`, `5m`, `26280h0m0s` or `1h30m`, units `ns`, `u`/`µ`, `ms`, `s`, `m`, `h`, `d`, `w`.
/// A bare `0` is accepted as zero, as InfluxDB accepts it for retention durations.
///
/// # Errors
/// [`DurationError`] when the literal is empty, malformed or overflows 64-bit nanoseconds.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid { input: context(s) };
    let overflow = || DurationError::Overflow { input: context(s) };
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| overflow())?;
        rest = &rest[digits..];
        let (unit_ns, unit_len): (u64, usize) = if rest.starts_with("ns") {
            (1, 2)
        } else if rest.starts_with("ms") {
            (1_000_000, 2)
        } else if rest.starts_with('u') {
            (1_000, 1)
        } else if rest.starts_with('µ') {
            (1_000, 'µ'.len_utf8())
        } else if rest.starts_with('s') {
            (1_000_000_000, 1)
        } else if rest.starts_with('m') {
            (60_000_000_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000_000_000, 1)
        } else if rest.starts_with('d') {
            (86_400_000_000_000, 1)
        } else if rest.starts_with('w') {
            (604_800_000_000_000, 1)
        } else {
            return Err(invalid());
        };
        rest = &rest[unit_len..];
        let part = number.checked_mul(unit_ns).ok_or_else(overflow)?;
        total = total.checked_add(part).ok_or_else(overflow)?;
    }
    if total > i64::MAX as u64 {
        return Err(overflow());
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration the way InfluxDB prints retention durations (`26280h0m0s`, `24h0m0s`,
/// `5m0s`, `300ms`), so a value printed by `check-config` parses back to the same duration.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns % 1_000_000_000 != 0 {
        if ns % 1_000_000 == 0 {
            return format!("{}ms", ns / 1_000_000);
        }
        if ns % 1_000 == 0 {
            return format!("{}u", ns / 1_000);
        }
        return format!("{ns}ns");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_accepts_influx_forms() {
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_duration("26280h0m0s"),
            Ok(Duration::from_secs(26280 * 3600))
        );
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("7u"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("7µ"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("9ns"), Ok(Duration::from_nanos(9)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn parse_duration_rejects_garbage() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("5"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("m5"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("5 minutes"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("-5m"),
            Err(DurationError::Invalid { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999w"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(
            parse_duration("9999999999w"),
            Err(DurationError::Overflow { .. })
        ));
    }

    #[test]
    fn format_duration_round_trips() {
        for s in [
            "26280h0m0s",
            "24h0m0s",
            "5m0s",
            "300ms",
            "0s",
            "45s",
            "7u",
            "9ns",
        ] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d), s);
        }
    }

    #[test]
    fn mock_clock_moves_only_when_told() {
        let c = MockClock::new(Timestamp::from_nanos(10));
        assert_eq!(c.now(), Timestamp::from_nanos(10));
        c.advance(Duration::from_nanos(5));
        assert_eq!(c.now(), Timestamp::from_nanos(15));
        c.set(Timestamp::EPOCH);
        assert_eq!(c.now().as_nanos(), 0);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().as_secs() > 1_577_836_800);
    }
}
