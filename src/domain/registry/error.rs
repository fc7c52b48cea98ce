//! Errors of the registry: a configuration that cannot be used, and a chart query that cannot
//! be rendered.

/// A metric or chart configuration (the defaults merged with the operator's `METRICS` /
/// `CHARTS` overrides) that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A required key is absent (or null).
    #[error("{path}: missing \"{key}\"")]
    Missing {
        /// Where, e.g. `CHARTS.mychart`.
        path: String,
        /// The missing key.
        key: &'static str,
    },
    /// A value has the wrong type or an unacceptable value.
    #[error("{path}: {reason}")]
    Invalid {
        /// The full key, e.g. `METRICS.cpu.alert_settings.threshold`.
        path: String,
        /// What was expected, lowercase.
        reason: String,
    },
}

/// Why a chart query could not be rendered, or a timeframe not parsed.
///
/// The texts of the timeframe variants are upstream's API messages (spec §4.2), so the API can
/// answer with them unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A `time` that does not end in `d`.
    #[error("Time range not supported")]
    TimeRangeNotSupported,
    /// A `time` ending in `d` whose day count is not an integer (upstream answers 500 here).
    #[error("invalid time range {0:?}: the number of days is not an integer")]
    BadDays(String),
    /// A day count so large that the start of the range is not a representable date.
    #[error("time range of {0} days is out of range")]
    DaysOutOfRange(i64),
    /// A custom `start`/`end` not in the `YYYY-MM-DD HH:MM:SS` form.
    #[error("Incorrect custom date format, should be YYYY-MM-DD H:M:S")]
    BadCustomDate,
    /// A custom range longer than a year.
    #[error("The date range shouldn't be greater than 365 days")]
    CustomRangeTooLong,
    /// A custom range that ends before it starts.
    #[error("start_date cannot be greater than end_date")]
    StartAfterEnd,
    /// The template names a placeholder no parameter fills (Python's `KeyError`).
    #[error("query template placeholder {{{0}}} has no value")]
    UnknownPlaceholder(String),
    /// The template is not a valid `str.format` string, or uses a form we do not support
    /// (positional, attribute, index, conversion or format spec).
    #[error("query template is malformed: {0}")]
    BadTemplate(String),
    /// The rendered query contains a word that could change the database (upstream's
    /// `validate_query`, same text).
    #[error("the word \"{0}\" is not allowed")]
    ForbiddenWord(&'static str),
    /// A substituted value (tag, filter, zone) contains a quote or backslash and would break
    /// out of its string literal.
    #[error("parameter {name:?} has a value that cannot be quoted: {value:?}")]
    UnsafeValue {
        /// The parameter's name.
        name: String,
        /// Its value.
        value: String,
    },
}
