//! Chart query rendering (spec §2.4, upstream `Chart.get_query` and
//! `DatabaseClient.get_query`): timeframe → group-by interval and range start, parameter
//! building, `{fields|FUNC|OP}` expansion, list parameters, `str.format` substitution,
//! group-by rewriting, summary `LIMIT 1` and `tz()`.
//!
//! The output is meant to match upstream byte for byte, double spaces included, so the
//! string operations below copy upstream's regular expressions and their edge cases (each
//! deviation is called out where it is made).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{ChartConfig, ParamValue, RenderError};
use crate::time::days_in_month;
pub(super) use crate::time::{civil_from_days, days_from_civil};

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// 0001-01-01 and 9999-12-31 as days since the epoch: the dates Python's `date` can hold.
const MIN_DAY: i64 = -719_162;
const MAX_DAY: i64 = 2_932_896;

/// Upstream `Chart.GROUP_MAP`: the fixed timeframes and their group-by intervals.
const GROUP_MAP: [(&str, &str); 5] = [
    ("1d", "10m"),
    ("3d", "20m"),
    ("7d", "1h"),
    ("30d", "24h"),
    ("365d", "7d"),
];

/// Upstream `DatabaseClient._AGGREGATE`: InfluxQL aggregates, selectors and transformations
/// whose presence (as `NAME(`) makes a query "aggregate" and subject to the group-by rewrite.
const AGGREGATES: [&str; 27] = [
    "COUNT",
    "DISTINCT",
    "INTEGRAL",
    "MEAN",
    "MEDIAN",
    "MODE",
    "SPREAD",
    "STDDEV",
    "SUM",
    "BOTTOM",
    "FIRST",
    "LAST",
    "MAX",
    "MIN",
    "PERCENTILE",
    "SAMPLE",
    "TOP",
    "CEILING",
    "CUMULATIVE_SUM",
    "DERIVATIVE",
    "DIFFERENCE",
    "ELAPSED",
    "FLOOR",
    "HISTOGRAM",
    "MOVING_AVERAGE",
    "NON_NEGATIVE_DERIVATIVE",
    "HOLT_WINTERS",
];

/// Upstream `DatabaseClient._FORBIDDEN`, checked in this order.
const FORBIDDEN: [(&str, &str); 5] = [
    ("drop", "DROP"),
    ("create", "CREATE"),
    ("delete", "DELETE"),
    ("alter", "ALTER"),
    ("into", "INTO"),
];

/// The default chart query (chart `query` null), and its object-metric suffix.
const DEFAULT_QUERY: &str = "SELECT {field_name} FROM {key} WHERE time >= '{time}' {end_date}";
const DEFAULT_QUERY_OBJECT: &str =
    " AND content_type = '{content_type}' AND object_id = '{object_id}'";

/// The time range of a chart: `time=<N>d`, or a custom `start`/`end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeframe {
    /// `<N>d` as given (the group map is looked up by this exact text: `07d` is not `7d`).
    text: String,
    days: i64,
    /// Custom range: the raw start and end strings.
    range: Option<(String, String)>,
}

impl Timeframe {
    /// A `time` parameter: `<N>d`.
    ///
    /// # Errors
    /// [`RenderError::TimeRangeNotSupported`] when it does not end in `d`;
    /// [`RenderError::BadDays`] when N is not an integer (upstream crashes with a 500).
    pub fn parse(time: &str) -> Result<Timeframe, RenderError> {
        let Some(n) = time.strip_suffix('d') else {
            return Err(RenderError::TimeRangeNotSupported);
        };
        // Python's int() also takes a sign; surrounding blanks and `_` separators are refused
        // here (they never come from the UI).
        let days = n
            .parse::<i64>()
            .map_err(|_| RenderError::BadDays(time.to_owned()))?;
        Ok(Timeframe {
            text: time.to_owned(),
            days,
            range: None,
        })
    }

    /// A custom range `start`..`end`, both `YYYY-MM-DD HH:MM:SS` (month to second may have one
    /// digit, as `strptime` allows). N is the whole days between them, 0 counting as 1.
    ///
    /// The API's checks against "now" (neither may be in the future) need the clock and the
    /// request's zone and stay with the caller.
    ///
    /// # Errors
    /// In upstream's order: [`RenderError::BadCustomDate`], [`RenderError::CustomRangeTooLong`]
    /// (more than 365 days), [`RenderError::StartAfterEnd`].
    pub fn custom(start: &str, end: &str) -> Result<Timeframe, RenderError> {
        let s = parse_custom(start).ok_or(RenderError::BadCustomDate)?;
        let e = parse_custom(end).ok_or(RenderError::BadCustomDate)?;
        // Python's timedelta.days: floor division.
        let days = (e - s).div_euclid(SECS_PER_DAY);
        if days > 365 {
            return Err(RenderError::CustomRangeTooLong);
        }
        if s > e {
            return Err(RenderError::StartAfterEnd);
        }
        let days = days.max(1);
        Ok(Timeframe {
            text: format!("{days}d"),
            days,
            range: Some((start.to_owned(), end.to_owned())),
        })
    }

    /// The `<N>d` text (the `{days}` parameter).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The end of a custom range as given.
    pub fn range_end(&self) -> Option<&str> {
        self.range.as_ref().map(|(_, e)| e.as_str())
    }

    /// N.
    pub fn days(&self) -> i64 {
        self.days
    }

    /// The group-by interval (spec §2.4 group map).
    pub fn interval(&self) -> String {
        interval_for(&self.text, self.days)
    }

    /// The `{time}` parameter at instant `now` (ns): the custom start as given; else now − N
    /// days to the second (N ≤ 3) or UTC midnight of today − N days (N > 3; `7d` − 6 days so
    /// the range holds 7 calendar days including today).
    ///
    /// # Errors
    /// [`RenderError::DaysOutOfRange`] when the start is not a date of years 1–9999
    /// (Python's `OverflowError`).
    pub fn start(&self, now: i64) -> Result<String, RenderError> {
        if let Some((start, _)) = &self.range {
            return Ok(start.clone());
        }
        let out_of_range = || RenderError::DaysOutOfRange(self.days);
        let now_s = now.div_euclid(NS_PER_SEC);
        if self.days > 3 {
            let back = if self.days == 7 { 6 } else { self.days };
            let day = now_s
                .div_euclid(SECS_PER_DAY)
                .checked_sub(back)
                .filter(|d| (MIN_DAY..=MAX_DAY).contains(d))
                .ok_or_else(out_of_range)?;
            let (y, m, d) = civil_from_days(day);
            Ok(format!("{y:04}-{m:02}-{d:02}"))
        } else {
            let t = self
                .days
                .checked_mul(SECS_PER_DAY)
                .and_then(|back| now_s.checked_sub(back))
                .filter(|t| (MIN_DAY..=MAX_DAY).contains(&t.div_euclid(SECS_PER_DAY)))
                .ok_or_else(out_of_range)?;
            let (y, m, d) = civil_from_days(t.div_euclid(SECS_PER_DAY));
            let sod = t.rem_euclid(SECS_PER_DAY);
            Ok(format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                sod / 3600,
                sod / 60 % 60,
                sod % 60
            ))
        }
    }
}

/// The group-by interval of a `time` value (spec §2.4): the fixed map for `1d`, `3d`, `7d`,
/// `30d`, `365d`; otherwise by N: 1–2 → `10m`; 3–6 → `(5 × round(N/3 × 20 / 5))m`; 8–27 →
/// `round(N/7)h`; 30–210 → `1d`; 211–365 → `7d`; anything else (0, 28, 29, > 365, negative) →
/// `10m` (upstream quirk, kept).
///
/// # Errors
/// As [`Timeframe::parse`].
pub fn group_interval(time: &str) -> Result<String, RenderError> {
    Timeframe::parse(time).map(|t| t.interval())
}

fn interval_for(text: &str, days: i64) -> String {
    if let Some((_, g)) = GROUP_MAP.iter().find(|(t, _)| *t == text) {
        return (*g).to_owned();
    }
    // Python's round() is half-to-even; neither formula can produce an exact .5 for an
    // integer N, but round_ties_even keeps the equivalence obvious.
    match days {
        1..=2 => "10m".to_owned(),
        3..=6 => {
            let n = ((days as f64 / 3.0) * 20.0 / 5.0).round_ties_even() as i64;
            format!("{}m", 5 * n)
        }
        8..=27 => format!("{}h", (days as f64 / 7.0).round_ties_even() as i64),
        30..=210 => "1d".to_owned(),
        211..=365 => "7d".to_owned(),
        _ => "10m".to_owned(),
    }
}

/// The monitored object of a metric: present for device metrics, absent for general
/// (dashboard) metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricObject {
    /// `<app_label>.<model>`, `config.device` for devices.
    pub content_type: String,
    /// The object's id (device UUID with dashes).
    pub object_id: String,
    /// Every tag of the metric (main tags, then extra tags): `{ifname}`, `{organization_id}` …
    pub tags: BTreeMap<String, String>,
}

/// Everything a chart query depends on besides the chart configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderParams {
    /// The metric's field name (`{field_name}`).
    pub field_name: String,
    /// The metric's key, the measurement (`{key}`).
    pub key: String,
    /// The monitored object and the metric's tags, for object metrics.
    pub object: Option<MetricObject>,
    /// The time range.
    pub timeframe: Timeframe,
    /// The current instant, ns since the epoch (UTC).
    pub now: i64,
    /// The IANA zone for `tz()` (the caller validates it).
    pub timezone: String,
    /// Caller-supplied parameters (dashboard filters); they override everything but
    /// `start_date`/`end_date`.
    pub extra: BTreeMap<String, ParamValue>,
    /// Explicit field list for `{fields}` / `{fields|FUNC|OP}` (top-fields charts).
    pub fields: Option<Vec<String>>,
    /// Render the summary query (no `time()` grouping, ` LIMIT 1`).
    pub summary: bool,
}

/// A parameter of `str.format`, as upstream's `params` dict holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Text(String),
    List(Vec<String>),
    /// Python's `None` (`start_date`/`end_date` outside custom ranges), formatted `None`.
    None,
}

impl Param {
    fn is_truthy(&self) -> bool {
        match self {
            Param::Text(s) => !s.is_empty(),
            Param::List(l) => !l.is_empty(),
            Param::None => false,
        }
    }
}

impl From<&ParamValue> for Param {
    fn from(v: &ParamValue) -> Param {
        match v {
            ParamValue::Text(s) => Param::Text(s.clone()),
            ParamValue::List(l) => Param::List(l.clone()),
        }
    }
}

/// Renders the chart's query (or summary query) for these parameters, exactly as upstream's
/// `Chart.get_query` does:
///
/// 1. parameters: `field_name`, `key`, `time` (range start), `days`; for object metrics
///    `content_type`, `object_id` and every tag; the chart's `query_default_param` where
///    unset; `extra` on top; then `start_date`/`end_date`; an absent `organization_id`
///    becomes `['__all__']` on `__all__` charts;
/// 2. `{fields|FUNC|OP}` / `{fields}` expansion;
/// 3. `end_date` → `AND time <= '<end>'` or empty, lists → `AND (p = 'v1' OR p = 'v2')`;
/// 4. `str.format` substitution;
/// 5. forbidden-word check, then, for aggregate queries only, the `GROUP BY time(…)` rewrite
///    (removed for summaries and histograms);
/// 6. ` LIMIT 1` for summaries; 7. ` tz('<zone>')`.
///
/// Deliberate deviation: a value containing `'` or `\` is refused instead of being pasted
/// into a string literal (upstream does not escape).
///
/// # Errors
/// [`RenderError`]: unknown placeholder, malformed template, forbidden word, unquotable value,
/// or a range start out of range.
pub fn render(chart: &ChartConfig, p: &RenderParams) -> Result<String, RenderError> {
    let default_query;
    let template = match (&chart.summary_query, &chart.query) {
        (Some(s), _) if p.summary => s.as_str(),
        (_, Some(q)) => q.as_str(),
        (_, None) => {
            default_query = default_query_for(p);
            default_query.as_str()
        }
    };
    render_template(chart, template, p)
}

/// The query upstream runs first for `top_fields` charts (`Chart.get_top_fields`): the
/// metric's default query with `SUM(*)` as its field list, rendered as a summary (no
/// grouping, ` LIMIT 1`). Pass the default chart time as `p.timeframe` and the server's zone
/// as `p.timezone`, as upstream does; `p.fields` and `p.summary` are ignored. Its answer goes
/// to [`super::top_fields`].
///
/// # Errors
/// As [`render`].
pub fn render_top_fields_query(
    chart: &ChartConfig,
    p: &RenderParams,
) -> Result<String, RenderError> {
    let template = default_query_for(p).replace("{field_name}", "{fields}");
    let p = RenderParams {
        fields: Some(vec!["SUM(*)".to_owned()]),
        summary: true,
        ..p.clone()
    };
    render_template(chart, &template, &p)
}

fn default_query_for(p: &RenderParams) -> String {
    if p.object.is_some() {
        format!("{DEFAULT_QUERY}{DEFAULT_QUERY_OBJECT}")
    } else {
        DEFAULT_QUERY.to_owned()
    }
}

fn render_template(
    chart: &ChartConfig,
    template: &str,
    p: &RenderParams,
) -> Result<String, RenderError> {
    if let Some(fields) = &p.fields {
        for f in fields {
            check_quotable("fields", f, &['"', '\\'])?;
        }
    }
    let query = expand_fields(template, p.fields.as_deref(), &p.field_name);
    let params = build_params(chart, p)?;
    let query = python_format(&query, &params)?;
    if let Some(word) = forbidden_word(&query) {
        return Err(RenderError::ForbiddenWord(word));
    }
    let mut query = if is_aggregate(&query) {
        let strip = p.summary || chart.chart_type == "histogram";
        group_by(&query, &p.timeframe.interval(), strip)
    } else {
        query
    };
    if p.summary {
        query.push_str(" LIMIT 1");
    }
    check_quotable("timezone", &p.timezone, &['\'', '\\'])?;
    let _ = write!(query, " tz('{}')", p.timezone);
    Ok(query)
}

fn check_quotable(name: &str, value: &str, bad: &[char]) -> Result<(), RenderError> {
    if value.contains(bad) {
        Err(RenderError::UnsafeValue {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Steps 1 and 3: the parameter dict after upstream's `_clean_params`, as text.
fn build_params(
    chart: &ChartConfig,
    p: &RenderParams,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut params: BTreeMap<String, Param> = BTreeMap::new();
    params.insert("field_name".into(), Param::Text(p.field_name.clone()));
    params.insert("key".into(), Param::Text(p.key.clone()));
    params.insert("time".into(), Param::Text(p.timeframe.start(p.now)?));
    params.insert("days".into(), Param::Text(p.timeframe.text.clone()));
    if let Some(obj) = &p.object {
        params.insert("content_type".into(), Param::Text(obj.content_type.clone()));
        params.insert("object_id".into(), Param::Text(obj.object_id.clone()));
        for (k, v) in &obj.tags {
            params.insert(k.clone(), Param::Text(v.clone()));
        }
    }
    for (k, v) in &chart.query_default_param {
        params.entry(k.clone()).or_insert_with(|| v.into());
    }
    for (k, v) in &p.extra {
        params.insert(k.clone(), v.into());
    }
    let (start, end) = match &p.timeframe.range {
        Some((s, e)) => (Param::Text(s.clone()), Param::Text(e.clone())),
        None => (Param::None, Param::None),
    };
    params.insert("start_date".into(), start);
    params.insert("end_date".into(), end);
    if chart.all_organizations && !params.get("organization_id").is_some_and(Param::is_truthy) {
        params.insert(
            "organization_id".into(),
            Param::List(vec!["__all__".to_owned()]),
        );
    }
    let mut out = BTreeMap::new();
    for (k, v) in params {
        let text = match v {
            Param::Text(s) => {
                check_quotable(&k, &s, &['\'', '\\'])?;
                if k == "end_date" {
                    if s.is_empty() {
                        s
                    } else {
                        format!("AND time <= '{s}'")
                    }
                } else {
                    s
                }
            }
            Param::List(items) => {
                for item in &items {
                    check_quotable(&k, item, &['\'', '\\'])?;
                }
                where_any(&k, &items)
            }
            Param::None if k == "end_date" => String::new(),
            Param::None => "None".to_owned(),
        };
        out.insert(k, text);
    }
    Ok(out)
}

/// Upstream `_get_where_query`: `AND (p = 'v1' OR p = 'v2')`, or empty for no values.
fn where_any(field: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lookup: Vec<String> = items.iter().map(|i| format!("{field} = '{i}'")).collect();
    format!("AND ({})", lookup.join(" OR "))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `\s` on `str` (Unicode whitespace, plus the ASCII separators U+001C–U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn starts_with_ci(s: &str, at: usize, pat: &str) -> bool {
    s.get(at..at + pat.len())
        .is_some_and(|t| t.eq_ignore_ascii_case(pat))
}

/// Step 2, upstream `_fields`: the first `{fields|FUNC}` / `{fields|FUNC|OP}` (case
/// insensitive) becomes `FUNC("f") OP AS f'` for every field (`-` → `_` in the alias; the
/// metric's field name when no list is given); with a list and no such placeholder, `{fields}`
/// becomes the comma-joined list. Every occurrence of the matched placeholder is replaced.
fn expand_fields(query: &str, fields: Option<&[String]>, field_name: &str) -> String {
    let fields = fields.filter(|f| !f.is_empty());
    let found = find_fields_placeholder(query);
    let (key, selected) = match (found, fields) {
        (None, None) => return query.to_owned(),
        (Some((key, func, op)), given) => {
            let names: Vec<&str> = match given {
                Some(f) => f.iter().map(String::as_str).collect(),
                None => vec![field_name],
            };
            let op = op.filter(|o| !o.is_empty()).map(|o| format!(" {o}"));
            let selected: Vec<String> = names
                .iter()
                .map(|f| {
                    format!(
                        "{func}(\"{f}\"){} AS {}",
                        op.as_deref().unwrap_or(""),
                        f.replace('-', "_")
                    )
                })
                .collect();
            (key, selected.join(", "))
        }
        (None, Some(f)) => ("{fields}", f.join(", ")),
    };
    query.replace(key, &selected)
}

/// Upstream's `\{fields\|(?P<func>\w+)(?:\|(?P<op>.*?))?\}` (IGNORECASE): the whole match,
/// the function and the operation.
fn find_fields_placeholder(q: &str) -> Option<(&str, &str, Option<&str>)> {
    const HEAD: &str = "{fields|";
    for (i, _) in q.match_indices('{') {
        if !starts_with_ci(q, i, HEAD) {
            continue;
        }
        let func_start = i + HEAD.len();
        let rest = &q[func_start..];
        let func_len: usize = rest
            .chars()
            .take_while(|c| is_word_char(*c))
            .map(char::len_utf8)
            .sum();
        if func_len == 0 {
            continue;
        }
        let func = &rest[..func_len];
        let after = &rest[func_len..];
        if after.starts_with('}') {
            let end = func_start + func_len + 1;
            return Some((&q[i..end], func, None));
        }
        if let Some(op_part) = after.strip_prefix('|') {
            // `.*?` up to the first `}`; `.` does not cross a newline.
            if let Some(close) = op_part.find(['}', '\n']) {
                if op_part[close..].starts_with('}') {
                    let op = &op_part[..close];
                    let end = func_start + func_len + 1 + close + 1;
                    return Some((&q[i..end], func, Some(op)));
                }
            }
        }
    }
    None
}

/// Step 4, Python's `str.format(**params)` for named fields: `{{`/`}}` are literal braces;
/// positional, attribute, index, conversion and format-spec fields are refused.
fn python_format(template: &str, params: &BTreeMap<String, String>) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err(RenderError::BadTemplate(
                "Single '}' encountered in format string".into(),
            ));
        } else {
            let Some(close) = tail.find('}') else {
                return Err(RenderError::BadTemplate(
                    "Single '{' encountered in format string".into(),
                ));
            };
            let name = &tail[1..close];
            if name.contains(['{', '.', '[', '!', ':'])
                || name.is_empty()
                || name.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(RenderError::BadTemplate(format!(
                    "unsupported replacement field {{{name}}}"
                )));
            }
            let value = params
                .get(name)
                .ok_or_else(|| RenderError::UnknownPlaceholder(name.to_owned()))?;
            out.push_str(value);
            rest = &tail[close + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Python's `str.format` over string parameters, for titles and descriptions (`{ifname}`).
pub(super) fn format_text(
    template: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    python_format(template, params)
}

/// Upstream `_is_aggregate`: whether the (upper-cased) query contains `NAME(`, `|NAME}` or
/// `|NAME|` for an InfluxQL aggregate, selector or transformation `NAME`. A plain substring
/// test, as upstream's (`ADMIN(` would count as `MIN(`).
pub fn is_aggregate(query: &str) -> bool {
    let q = query.to_uppercase();
    AGGREGATES.iter().any(|w| {
        q.contains(&format!("{w}("))
            || q.contains(&format!("|{w}}}"))
            || q.contains(&format!("|{w}|"))
    })
}

/// Upstream `validate_query`'s forbidden words (case-insensitive substring), upper-cased.
fn forbidden_word(query: &str) -> Option<&'static str> {
    let q = query.to_lowercase();
    FORBIDDEN
        .iter()
        .find(|(w, _)| q.contains(w))
        .map(|(_, upper)| *upper)
}

/// The end of a `time\(\w+\)` match starting at byte `i` (ASCII case-insensitive `time(`).
fn time_call_end(s: &str, i: usize) -> Option<usize> {
    if !starts_with_ci(s, i, "time(") {
        return None;
    }
    let start = i + 5;
    let word: usize = s[start..]
        .chars()
        .take_while(|c| is_word_char(*c))
        .map(char::len_utf8)
        .sum();
    if word == 0 || !s[start + word..].starts_with(')') {
        return None;
    }
    Some(start + word + 1)
}

/// Length of one `\s` character at byte `i`, or 0.
fn opt_space(s: &str, i: usize) -> usize {
    s[i..]
        .chars()
        .next()
        .filter(|c| is_py_space(*c))
        .map_or(0, char::len_utf8)
}

/// Replaces every non-overlapping match found by `matcher` (start → end of match) with
/// `replacement`, scanning left to right like `re.sub`.
fn sub(s: &str, replacement: &str, matcher: impl Fn(&str, usize) -> Option<usize>) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut copied = 0;
    let mut i = 0;
    while i < s.len() {
        if let Some(end) = matcher(s, i) {
            out.push_str(&s[copied..i]);
            out.push_str(replacement);
            copied = end;
            i = end;
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// Step 5, upstream `_group_by` for an aggregate query. Without `strip`: append
/// ` GROUP BY time(<interval>)`, or replace every `time(…)` (and one following blank, as
/// upstream's `time\(\w+\)\s?` does) with `time(<interval>)`. With `strip` (summaries,
/// histograms): `GROUP BY time(x), tag` → `GROUP BY tag`, `GROUP BY time(x)` → removed; a query
/// without `GROUP BY` gets a trailing blank (upstream appends an empty clause).
fn group_by(query: &str, interval: &str, strip: bool) -> String {
    let has_group_by = query.to_uppercase().contains("GROUP BY");
    if !has_group_by {
        return if strip {
            format!("{query} ")
        } else {
            format!("{query} GROUP BY time({interval})")
        };
    }
    if !strip {
        let replacement = format!("time({interval})");
        return sub(query, &replacement, |s, i| {
            time_call_end(s, i).map(|e| e + opt_space(s, e))
        });
    }
    const GB: &str = "GROUP BY ";
    // `GROUP BY ((time\(\w+\))(?:,\s+\w+)?)`: is the first time grouping followed by a tag?
    let first = (0..query.len())
        .filter(|&i| query.is_char_boundary(i) && starts_with_ci(query, i, GB))
        .find_map(|i| time_call_end(query, i + GB.len()));
    let Some(end) = first else {
        // Upstream crashes here (no match object); the query is left as it is.
        return query.to_owned();
    };
    if followed_by_tag(query, end) {
        sub(query, "", |s, i| {
            time_call_end(s, i)
                .filter(|&e| s[e..].starts_with(','))
                .map(|e| e + 1 + opt_space(s, e + 1))
        })
    } else {
        sub(query, "", |s, i| {
            if !starts_with_ci(s, i, GB) {
                return None;
            }
            time_call_end(s, i + GB.len()).map(|e| e + opt_space(s, e))
        })
    }
}

/// `,\s+\w+` at byte `i`.
fn followed_by_tag(s: &str, i: usize) -> bool {
    let Some(rest) = s[i..].strip_prefix(',') else {
        return false;
    };
    let trimmed = rest.trim_start_matches(is_py_space);
    trimmed.len() < rest.len() && trimmed.chars().next().is_some_and(is_word_char)
}

/// `YYYY-MM-DD HH:MM:SS` (one or two digits from month on) as seconds since the epoch (UTC).
fn parse_custom(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    let mut t = time.split(':');
    let (h, mi, sec) = (t.next()?, t.next()?, t.next()?);
    if d.next().is_some() || t.next().is_some() || y.len() != 4 {
        return None;
    }
    let num = |p: &str, max_len: usize| -> Option<i64> {
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (y, m, day) = (num(y, 4)?, num(m, 2)?, num(day, 2)?);
    let (h, mi, sec) = (num(h, 2)?, num(mi, 2)?, num(sec, 2)?);
    if y < 1 || !(1..=12).contains(&m) || day < 1 || day > days_in_month(y, m) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(days_from_civil(y, m, day) * SECS_PER_DAY + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests;
