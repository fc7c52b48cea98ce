//! The metric and chart registry (spec §2), kept as data, and the pure logic that turns a chart
//! configuration into an InfluxQL query and a query result into chart JSON.
//!
//! Owns: the default metric and chart configurations (`defaults.json`, embedded and parsed
//! once), the operator's `METRICS` / `CHARTS` overrides deep-merged over them and validated
//! ([`Registry::with_overrides`]), chart query rendering ([`render`], spec §2.4, and the
//! top-fields pre-query [`render_top_fields_query`] / [`top_fields`]), chart JSON
//! ([`chart_data`], [`chart_attributes`], [`chart_json`], spec §2.5), Python-compatible
//! rounding ([`python_round`]) and the timeseries key cleaning of spec §1.1
//! ([`clean_timeseries_data_key`]).
//!
//! Must not: run queries, read records or the clock. Everything here is a pure function of its
//! arguments; "now" and the time zone are parameters.

mod chart;
mod error;
mod key;
mod render;
mod validate;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

pub use chart::{
    QueryResult, ResultRow, chart_attributes, chart_data, chart_json, python_round, round_value,
    sort_key, top_fields,
};
pub use error::{RegistryError, RenderError};
pub use key::clean_timeseries_data_key;
pub use render::{
    MetricObject, RenderParams, Timeframe, group_interval, is_aggregate, render,
    render_top_fields_query,
};

/// The embedded defaults: metric configurations of spec §2.1, chart configurations of §2.2
/// with the query templates of §2.3, and `DEFAULT_COLORS`.
const DEFAULTS_JSON: &str = include_str!("defaults.json");

/// How a metric alerts when nobody configured it (spec §1.1: the fallback of
/// `AlertSettings.config_dict`).
pub const FALLBACK_ALERT: AlertDefaults = AlertDefaults {
    operator: Operator::LessThan,
    threshold: 1.0,
    tolerance: 0,
};

/// The comparison of an alert threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// `<`: unhealthy when the value is below the threshold.
    #[serde(rename = "<")]
    LessThan,
    /// `>`: unhealthy when the value is above the threshold.
    #[serde(rename = ">")]
    GreaterThan,
}

/// The default alert settings of a metric configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertDefaults {
    /// Comparison.
    pub operator: Operator,
    /// Threshold value.
    pub threshold: f64,
    /// Minutes the threshold must stay crossed before a notification.
    pub tolerance: u32,
}

/// One metric configuration (spec §2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricConfig {
    /// Human label of the configuration, e.g. `CPU usage`.
    pub label: String,
    /// Default metric name; `{name}` means the caller supplies it.
    pub name: String,
    /// TSDB measurement; `{key}` means the caller supplies it.
    pub key: String,
    /// Main TSDB field.
    pub field_name: String,
    /// Other fields written with the main one.
    #[serde(default)]
    pub related_fields: Vec<String>,
    /// Default alert settings; `None` means [`FALLBACK_ALERT`] applies.
    #[serde(default)]
    pub alert_settings: Option<AlertDefaults>,
    /// The related field the threshold is evaluated on instead of `field_name`.
    #[serde(default)]
    pub alert_field: Option<String>,
    /// Notification types registered for this metric (`<name>_problem`, `<name>_recovery`).
    #[serde(default)]
    pub notification_types: Vec<String>,
    /// Names of the charts of this metric, in the registry's chart table.
    #[serde(default)]
    pub charts: Vec<String>,
    /// Whether the auto-created AlertSettings start disabled (iperf3).
    #[serde(default)]
    pub alert_settings_inactive: bool,
    /// Whether the charts are created with the metric regardless of `AUTO_CHARTS` (signal,
    /// access technology, iperf3).
    #[serde(default)]
    pub charts_always_created: bool,
}

impl MetricConfig {
    /// The alert settings in force when a metric has no custom values.
    pub fn effective_alert(&self) -> AlertDefaults {
        self.alert_settings.unwrap_or(FALLBACK_ALERT)
    }

    /// Whether an AlertSettings row is created with the metric (spec §2.1: every metric with
    /// alert defaults, plus iperf3, inactive).
    pub fn creates_alert_settings(&self) -> bool {
        self.alert_settings.is_some() || self.alert_settings_inactive
    }

    /// The charts to create with a new metric: all of them when `charts_always_created`,
    /// otherwise those listed in `AUTO_CHARTS`.
    pub fn charts_to_create<'a>(&'a self, auto_charts: &[String]) -> Vec<&'a str> {
        self.charts
            .iter()
            .filter(|c| self.charts_always_created || auto_charts.contains(c))
            .map(String::as_str)
            .collect()
    }
}

/// A colour scale (heat-map style charts: uptime, access technology).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColorScale {
    /// Upper bound of the scale.
    pub max: Number,
    /// Lower bound of the scale.
    pub min: Number,
    /// Legend label.
    pub label: String,
    /// `[position 0…1, colour]` stops.
    pub scale: Vec<(Number, String)>,
    /// `[value or null, colour, label]` legend entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Vec<(Option<Number>, String, String)>>,
    /// Value drawn for every bar (the colour carries the information).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_value: Option<Number>,
}

/// A query parameter default or dashboard filter: one value, or a list rendered as
/// `AND (p = 'v1' OR p = 'v2')`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// Substituted as is.
    Text(String),
    /// Substituted as an OR group (empty list: nothing).
    List(Vec<String>),
}

/// One chart configuration (spec §2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartConfig {
    /// `bar`, `scatter`, `stackedbar+lines`, `histogram`, …
    #[serde(rename = "type")]
    pub chart_type: String,
    /// Title; `{ifname}` and other tag names are substituted from the metric's tags.
    pub title: String,
    /// Short label (defaults to the title).
    #[serde(default)]
    pub label: Option<String>,
    /// Help text, substituted like the title.
    pub description: String,
    /// Unit shown by the UI (`%`, ` ms`, `adaptive_prefix+B`, …).
    #[serde(default)]
    pub unit: Option<String>,
    /// Position among the charts of a device.
    pub order: i64,
    /// Trace colours, after the `DEFAULT_COLORS` rule: a chart without colours but with
    /// summary labels gets the first N default colours.
    #[serde(default)]
    pub colors: Option<Vec<String>>,
    /// Labels of the summary values, in the alphabetical order of the trace names.
    #[serde(default)]
    pub summary_labels: Option<Vec<String>>,
    /// Colour scale of heat-map style charts.
    #[serde(default)]
    pub colorscale: Option<ColorScale>,
    /// Plotly fill mode.
    #[serde(default)]
    pub fill: Option<String>,
    /// Plotly x-axis options.
    #[serde(default)]
    pub xaxis: Option<Map<String, Value>>,
    /// Plotly y-axis options.
    #[serde(default)]
    pub yaxis: Option<Map<String, Value>>,
    /// Drawing style per trace.
    #[serde(default)]
    pub trace_type: Option<BTreeMap<String, String>>,
    /// Order of the traces in the legend.
    #[serde(default)]
    pub trace_order: Option<Vec<String>>,
    /// Display names per trace.
    #[serde(default)]
    pub trace_labels: Option<BTreeMap<String, String>>,
    /// Whether the UI adds a total trace.
    #[serde(default)]
    pub calculate_total: bool,
    /// Whether the UI connects points across gaps.
    #[serde(default)]
    pub connect_points: bool,
    /// Histogram-style custom charts: how many fields (largest `SUM(*)`) to show.
    #[serde(default)]
    pub top_fields: Option<u32>,
    /// Query used for the summary instead of the chart query.
    #[serde(default)]
    pub summary_query: Option<String>,
    /// Defaults of query parameters the caller may not supply.
    #[serde(default)]
    pub query_default_param: BTreeMap<String, ParamValue>,
    /// InfluxQL template; `None` means the metric's default query (then `unit` is required).
    pub query: Option<String>,
    /// Whether an absent `organization_id` filter becomes `['__all__']`.
    #[serde(rename = "__all__", default)]
    pub all_organizations: bool,
}

impl ChartConfig {
    /// The label (the title when none is configured).
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.title)
    }
}

/// The metric and chart configurations in force: the defaults, or the defaults with the
/// operator's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    default_colors: Vec<String>,
    metrics: BTreeMap<String, MetricConfig>,
    charts: BTreeMap<String, ChartConfig>,
}

/// The embedded defaults as JSON, parsed once; overrides are merged over a copy.
fn defaults_value() -> &'static Value {
    static VALUE: OnceLock<Value> = OnceLock::new();
    VALUE.get_or_init(|| {
        // The file is part of the binary and a unit test parses it: failure here is a build
        // defect, not something input can cause.
        serde_json::from_str(DEFAULTS_JSON).expect("defaults.json is valid JSON (unit-tested)")
    })
}

impl Registry {
    /// The default registry of spec §2 (parsed once).
    pub fn defaults() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            validate::build(defaults_value().clone())
                .expect("defaults.json is a valid registry (unit-tested)")
        })
    }

    /// The defaults with `metrics` (`METRICS`) and `charts` (`CHARTS`) deep-merged over them:
    /// an object merges key by key into the default entry of the same name, anything else
    /// replaces it; new names add entries. `null` or an empty object means no overrides.
    ///
    /// # Errors
    /// [`RegistryError`] naming the first offending key, e.g.
    /// `METRICS.cpu.alert_settings.threshold: expected a number` or
    /// `CHARTS.mychart: missing "title"`.
    pub fn with_overrides(metrics: &Value, charts: &Value) -> Result<Registry, RegistryError> {
        let mut doc = defaults_value().clone();
        for (section, over) in [("metrics", metrics), ("charts", charts)] {
            let label = section.to_ascii_uppercase();
            match over {
                Value::Null => {}
                Value::Object(entries) => {
                    if let Some(Value::Object(base)) = doc.get_mut(section) {
                        for (name, entry) in entries {
                            let slot = base.entry(name.clone()).or_insert(Value::Null);
                            validate::deep_merge(slot, entry);
                        }
                    }
                }
                _ => {
                    return Err(RegistryError::Invalid {
                        path: label,
                        reason: "expected an object".into(),
                    });
                }
            }
        }
        validate::build(doc)
    }

    /// The metric configuration of this name.
    pub fn metric(&self, name: &str) -> Option<&MetricConfig> {
        self.metrics.get(name)
    }

    /// The chart configuration of this name.
    pub fn chart(&self, name: &str) -> Option<&ChartConfig> {
        self.charts.get(name)
    }

    /// All metric configurations, by name.
    pub fn metrics(&self) -> &BTreeMap<String, MetricConfig> {
        &self.metrics
    }

    /// All chart configurations, by name.
    pub fn charts(&self) -> &BTreeMap<String, ChartConfig> {
        &self.charts
    }

    /// `DEFAULT_COLORS`, the palette of the colours rule.
    pub fn default_colors(&self) -> &[String] {
        &self.default_colors
    }
}

#[cfg(test)]
mod tests;
