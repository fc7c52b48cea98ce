//! The `precision` parameter of `/write`: the unit of the timestamps in the body.

/// Earliest storable time in ns: InfluxDB 1.x's `models.MinNanoTime` (`i64::MIN + 2`; the two
/// lowest values are sentinels inside 1.x).
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;

/// Latest storable time in ns: InfluxDB 1.x's `models.MaxNanoTime` (`i64::MAX - 1`).
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;

/// Unit of the timestamps in a `/write` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// `n`, `ns`, absent or unknown.
    #[default]
    Nanoseconds,
    /// `u` (and `µ`, see [`Precision::from_param`]).
    Microseconds,
    /// `ms`.
    Milliseconds,
    /// `s`.
    Seconds,
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
}

impl Precision {
    /// Reads the `precision` query parameter. Anything unknown (including `""`) means
    /// nanoseconds: matches InfluxDB 1.x, which accepts e.g. `precision=xx` and treats it as ns.
    ///
    /// `µ` (U+00B5) and `μ` (U+03BC) are read as microseconds like `u`; 1.x's write handler
    /// only knows `u` and would treat them as ns, but a client sending them means µs.
    pub fn from_param(param: &str) -> Precision {
        match param {
            "u" | "µ" | "μ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => Precision::Nanoseconds,
        }
    }

    /// Nanoseconds in one unit.
    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60 * 1_000_000_000,
            Precision::Hours => 3_600 * 1_000_000_000,
        }
    }

    /// Scales a timestamp in this unit to nanoseconds. `None` when the product overflows or
    /// falls outside [`MIN_NANO_TIME`]..=[`MAX_NANO_TIME`]: matches InfluxDB 1.x's
    /// `SafeCalcTime` + `CheckTime` (which reject `i64::MIN`, `i64::MIN + 1` and `i64::MAX`
    /// even at ns precision).
    pub fn to_nanos(self, ts: i64) -> Option<i64> {
        let ns = ts.checked_mul(self.nanos_per_unit())?;
        (MIN_NANO_TIME..=MAX_NANO_TIME).contains(&ns).then_some(ns)
    }

    /// Rounds a time in ns down to a whole unit: what InfluxDB 1.x does to the server time it
    /// gives lines without a timestamp (`SetPrecision`). Where rounding down would overflow
    /// (within one unit of `i64::MIN`) it rounds toward zero instead.
    pub fn truncate(self, ns: i64) -> i64 {
        let unit = self.nanos_per_unit();
        ns.checked_sub(ns.rem_euclid(unit))
            .unwrap_or(ns - ns % unit)
    }
}
