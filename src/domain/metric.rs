//! Metrics: what is measured about a device (or the whole network), with its charts and alert
//! settings, created on the first write and looked up by identity afterwards.
//!
//! Owns: the metric record (spec §1.1: identity = key, field name, object and main tags; extra
//! tags updated in place), its charts and alert settings (kept inside the record, so deleting
//! the metric deletes them), and a cache so that a device's every POST does not read records.
//!
//! Record key: `object id (16 bytes, zeros for general metrics) | key \0 field \0 tags`, so a
//! device's metrics are one prefix range.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::error::DomainError;
use super::id::Id;
use crate::storage::{Record, Records};

/// Alert settings of one metric (spec §1.1); `None` values mean "use the configured default".
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct AlertSettings {
    /// "Alerts enabled": when false health still changes but nobody is notified.
    pub is_active: bool,
    /// `<` or `>`.
    pub custom_operator: Option<String>,
    /// Threshold.
    pub custom_threshold: Option<f64>,
    /// Tolerance, minutes (≤ 7 days).
    pub custom_tolerance: Option<u32>,
}

/// One metric.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Metric {
    /// Primary key.
    pub id: Id,
    /// Human name (`wlan0 traffic`, `CPU usage`).
    pub name: String,
    /// Measurement.
    pub key: String,
    /// Main field.
    pub field_name: String,
    /// Registry configuration name (`traffic`, `cpu`, ...).
    pub configuration: String,
    /// The monitored device; `None` for general (network-wide) metrics.
    pub object_id: Option<Id>,
    /// Tags that are part of the identity, sorted by key.
    pub main_tags: Vec<(String, String)>,
    /// Tags written with the points but not part of the identity, sorted by key.
    pub extra_tags: Vec<(String, String)>,
    /// Immediate health; `None` until assessed.
    pub is_healthy: Option<bool>,
    /// Health respecting the alert tolerance; drives notifications.
    pub is_healthy_tolerant: Option<bool>,
    /// Chart configuration names shown for this metric.
    pub charts: Vec<String>,
    /// Alert settings, for metrics whose configuration has alerts.
    pub alert: Option<AlertSettings>,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Metric {
    const TREE: &'static str = "metrics";
    const VERSION: u8 = 1;
}

/// What a writer knows about a metric it is about to write.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// Registry configuration name.
    pub configuration: String,
    /// Human name.
    pub name: String,
    /// Measurement.
    pub key: String,
    /// Main field.
    pub field_name: String,
    /// The monitored device.
    pub object_id: Option<Id>,
    /// Identity tags.
    pub main_tags: Vec<(String, String)>,
    /// Other tags.
    pub extra_tags: Vec<(String, String)>,
    /// Charts to create with it.
    pub charts: Vec<String>,
    /// Alert settings to create with it.
    pub alert: Option<AlertSettings>,
}

fn sorted(mut tags: Vec<(String, String)>) -> Vec<(String, String)> {
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    tags
}

/// The record key of a metric identity.
pub fn record_key(
    object: Option<Id>,
    key: &str,
    field_name: &str,
    main_tags: &[(String, String)],
) -> Vec<u8> {
    let mut k = object.map_or([0u8; 16], |o| o.0).to_vec();
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(field_name.as_bytes());
    k.push(0);
    for (t, v) in main_tags {
        k.extend_from_slice(t.as_bytes());
        k.push(b'=');
        k.extend_from_slice(v.as_bytes());
        k.push(0);
    }
    k
}

/// Tags as (key, value) pairs, sorted by key.
pub type Tags = Vec<(String, String)>;

/// Known metrics by record key, with their extra tags, so repeated writes skip the store.
#[derive(Debug, Clone, Default)]
pub struct MetricCache {
    known: Arc<Mutex<HashMap<Vec<u8>, Tags>>>,
    /// Held while a metric record is read, changed and stored, so a sample refreshing extra
    /// tags and an operator editing alert settings do not overwrite each other's change.
    /// One lock for every device: writers release it before waiting for the disk
    /// ([`Records::stage_all`]), so it is held for microseconds, not for a flush.
    writes: Arc<Mutex<()>>,
}

impl MetricCache {
    /// Forgets every metric of `object` (after deleting them).
    pub fn forget_object(&self, object: Id) {
        self.known.lock().retain(|k, _| !k.starts_with(&object.0));
    }
}

/// Finds or creates the metric of `spec`; refreshes its extra tags when they changed. Returns
/// whether it was created.
///
/// # Errors
/// Randomness or storage failure.
pub fn get_or_create(
    records: &Records,
    cache: &MetricCache,
    spec: MetricSpec,
    now_ns: i64,
) -> Result<bool, DomainError> {
    Ok(get_or_create_all(records, cache, vec![spec], now_ns)? == 1)
}

/// [`get_or_create`] for several metrics, storing every new or changed record with one flush
/// (a device's first sample creates a dozen metrics). Returns how many were created.
///
/// # Errors
/// Randomness or storage failure.
pub fn get_or_create_all(
    records: &Records,
    cache: &MetricCache,
    specs: Vec<MetricSpec>,
    now_ns: i64,
) -> Result<usize, DomainError> {
    let mut pending: Vec<(Vec<u8>, Metric)> = Vec::new();
    let mut learned = Vec::new();
    let mut created = 0;
    let mut guard = None;
    for spec in specs {
        let main_tags = sorted(spec.main_tags);
        let extra_tags = sorted(spec.extra_tags);
        let rk = record_key(spec.object_id, &spec.key, &spec.field_name, &main_tags);
        if cache.known.lock().get(&rk) == Some(&extra_tags) || pending.iter().any(|(k, _)| *k == rk)
        {
            continue;
        }
        if guard.is_none() {
            guard = Some(cache.writes.lock());
        }
        match records.get::<Metric>(&rk)? {
            Some(mut m) => {
                if m.extra_tags != extra_tags {
                    m.extra_tags.clone_from(&extra_tags);
                    m.modified_ns = now_ns;
                    pending.push((rk.clone(), m));
                }
            }
            None => {
                created += 1;
                pending.push((
                    rk.clone(),
                    Metric {
                        id: Id::random()?,
                        name: spec.name,
                        key: spec.key,
                        field_name: spec.field_name,
                        configuration: spec.configuration,
                        object_id: spec.object_id,
                        main_tags,
                        extra_tags: extra_tags.clone(),
                        is_healthy: None,
                        is_healthy_tolerant: None,
                        charts: spec.charts,
                        alert: spec.alert,
                        created_ns: now_ns,
                        modified_ns: now_ns,
                    },
                ));
            }
        }
        learned.push((rk, extra_tags));
    }
    let staged = records.stage_all(&pending)?;
    drop(guard);
    staged.sync()?;
    let mut known = cache.known.lock();
    for (k, t) in learned {
        known.insert(k, t);
    }
    Ok(created)
}

/// The metrics of one device, in record-key order.
///
/// # Errors
/// Storage failure.
pub fn of_object(records: &Records, object: Id) -> Result<Vec<Metric>, DomainError> {
    Ok(records
        .list_prefix::<Metric>(&object.0)?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

/// Deletes every metric of one device.
///
/// # Errors
/// Storage failure.
pub fn remove_object(
    records: &Records,
    cache: &MetricCache,
    object: Id,
) -> Result<(), DomainError> {
    for (k, _) in records.list_prefix::<Metric>(&object.0)? {
        records.remove::<Metric>(&k)?;
    }
    cache.forget_object(object);
    Ok(())
}

/// Stores new health flags of several metrics with one flush: `(record key, is_healthy,
/// is_healthy_tolerant)` each, re-read under the write lock so an operator's concurrent alert
/// edit is kept. The stored metrics in the same order, `None` for one that is gone.
///
/// # Errors
/// Storage failure.
pub fn set_health_all(
    records: &Records,
    cache: &MetricCache,
    flags: &[(&[u8], Option<bool>, Option<bool>)],
    now_ns: i64,
) -> Result<Vec<Option<Metric>>, DomainError> {
    let w = cache.writes.lock();
    let mut out = Vec::with_capacity(flags.len());
    let mut changed = Vec::with_capacity(flags.len());
    for &(rk, is_healthy, is_healthy_tolerant) in flags {
        let Some(mut m) = records.get::<Metric>(rk)? else {
            out.push(None);
            continue;
        };
        m.is_healthy = is_healthy;
        m.is_healthy_tolerant = is_healthy_tolerant;
        m.modified_ns = now_ns;
        changed.push((rk.to_vec(), m.clone()));
        out.push(Some(m));
    }
    let staged = records.stage_all(&changed)?;
    drop(w);
    staged.sync()?;
    Ok(out)
}

/// Resets the health flags of every metric of `object` to "not assessed" (spec §5.5: the
/// next sample derives the status afresh, and a healthy one sends no recovery).
///
/// # Errors
/// Storage failure.
pub fn reset_health(
    records: &Records,
    cache: &MetricCache,
    object: Id,
    now_ns: i64,
) -> Result<usize, DomainError> {
    let w = cache.writes.lock();
    let mut changed = Vec::new();
    for (k, mut m) in records.list_prefix::<Metric>(&object.0)? {
        if m.is_healthy.is_some() || m.is_healthy_tolerant.is_some() {
            m.is_healthy = None;
            m.is_healthy_tolerant = None;
            m.modified_ns = now_ns;
            changed.push((k, m));
        }
    }
    let staged = records.stage_all(&changed)?;
    drop(w);
    staged.sync()?;
    Ok(changed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn spec(dev: Id, ifname: &str, org: &str) -> MetricSpec {
        MetricSpec {
            configuration: "traffic".into(),
            name: format!("{ifname} traffic"),
            key: "traffic".into(),
            field_name: "rx_bytes".into(),
            object_id: Some(dev),
            main_tags: vec![("ifname".into(), ifname.into())],
            extra_tags: vec![("organization_id".into(), org.into())],
            charts: vec!["traffic".into()],
            alert: None,
        }
    }

    #[test]
    fn metrics_are_created_once_and_their_extra_tags_follow() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let c = MetricCache::default();
        let (d1, d2) = (Id::random().unwrap(), Id::random().unwrap());
        assert!(get_or_create(&r, &c, spec(d1, "eth0", "o1"), 1).unwrap());
        assert!(!get_or_create(&r, &c, spec(d1, "eth0", "o1"), 2).unwrap());
        assert!(get_or_create(&r, &c, spec(d1, "wlan0", "o1"), 2).unwrap());
        assert!(get_or_create(&r, &c, spec(d2, "eth0", "o1"), 2).unwrap());
        // A fresh cache (a restart) finds the stored record.
        let c2 = MetricCache::default();
        assert!(!get_or_create(&r, &c2, spec(d1, "eth0", "o2"), 3).unwrap());
        let ms = of_object(&r, d1).unwrap();
        assert_eq!(ms.len(), 2);
        let eth0 = ms.iter().find(|m| m.name == "eth0 traffic").unwrap();
        assert_eq!(eth0.extra_tags, [("organization_id".into(), "o2".into())]);
        assert_eq!(eth0.modified_ns, 3);
        assert_eq!(eth0.created_ns, 1);
        // Several at once, one of them known already.
        let c3 = MetricCache::default();
        let n = get_or_create_all(
            &r,
            &c3,
            vec![
                spec(d1, "eth0", "o2"),
                spec(d1, "eth9", "o2"),
                spec(d1, "eth9", "o2"),
            ],
            4,
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(of_object(&r, d1).unwrap().len(), 3);
        remove_object(&r, &c2, d1).unwrap();
        assert!(of_object(&r, d1).unwrap().is_empty());
        assert_eq!(of_object(&r, d2).unwrap().len(), 1);
        assert!(get_or_create(&r, &c2, spec(d1, "eth0", "o1"), 4).unwrap());
    }
}

/// What an operator may change in a metric's alert settings; `Some(None)` clears a custom value
/// (back to the configured default).
#[derive(Debug, Clone, Default)]
pub struct AlertInput {
    /// Alerts enabled.
    pub is_active: Option<bool>,
    /// `<` or `>`.
    pub operator: Option<Option<String>>,
    /// Threshold.
    pub threshold: Option<Option<f64>>,
    /// Tolerance, minutes.
    pub tolerance: Option<Option<u32>>,
}

/// Largest tolerance: 7 days, in minutes (spec §1.1).
pub const MAX_TOLERANCE_MIN: u32 = 10_080;

/// Applies `input` to `current`, then resets every custom value equal to the configured
/// default to "use the default", so a later change of the defaults reaches this metric
/// (spec §5.4).
///
/// # Errors
/// An unknown operator, a non-finite threshold or a tolerance beyond 7 days.
pub fn edit_alert(
    current: &AlertSettings,
    input: AlertInput,
    defaults: super::registry::AlertDefaults,
) -> Result<AlertSettings, DomainError> {
    let invalid = |field: &'static str, reason: &str| DomainError::Invalid {
        field,
        reason: reason.to_owned(),
    };
    let mut a = current.clone();
    if let Some(v) = input.is_active {
        a.is_active = v;
    }
    if let Some(op) = input.operator {
        if let Some(o) = &op
            && o != "<"
            && o != ">"
        {
            return Err(invalid(
                "custom_operator",
                "Select a valid choice: \"<\" or \">\".",
            ));
        }
        a.custom_operator = op;
    }
    if let Some(t) = input.threshold {
        if t.is_some_and(|t| !t.is_finite()) {
            return Err(invalid("custom_threshold", "A valid number is required."));
        }
        a.custom_threshold = t;
    }
    if let Some(t) = input.tolerance {
        if t.is_some_and(|t| t > MAX_TOLERANCE_MIN) {
            return Err(invalid(
                "custom_tolerance",
                "Ensure this value is less than or equal to 10080.",
            ));
        }
        a.custom_tolerance = t;
    }
    let default_op = match defaults.operator {
        super::registry::Operator::LessThan => "<",
        super::registry::Operator::GreaterThan => ">",
    };
    if a.custom_operator.as_deref() == Some(default_op) {
        a.custom_operator = None;
    }
    if a.custom_threshold == Some(defaults.threshold) {
        a.custom_threshold = None;
    }
    if a.custom_tolerance == Some(defaults.tolerance) {
        a.custom_tolerance = None;
    }
    Ok(a)
}

/// Stores a metric found by its id among one object's metrics after `f` changed it.
///
/// # Errors
/// Unknown metric (`NotFound`), `f`'s error, storage failure.
pub fn update_of_object(
    records: &Records,
    cache: &MetricCache,
    object: Id,
    id: Id,
    f: impl FnOnce(&mut Metric) -> Result<(), DomainError>,
    now_ns: i64,
) -> Result<Metric, DomainError> {
    let _w = cache.writes.lock();
    let (k, mut m) = records
        .list_prefix::<Metric>(&object.0)?
        .into_iter()
        .find(|(_, m)| m.id == id)
        .ok_or(DomainError::NotFound)?;
    f(&mut m)?;
    m.modified_ns = now_ns;
    records.put(&k, &m)?;
    Ok(m)
}

#[cfg(test)]
mod alert_tests {
    use super::*;
    use crate::domain::registry::{AlertDefaults, Operator};

    #[test]
    fn custom_values_equal_to_defaults_become_defaults() {
        let d = AlertDefaults {
            operator: Operator::GreaterThan,
            threshold: 90.0,
            tolerance: 30,
        };
        let cur = AlertSettings {
            is_active: true,
            custom_operator: None,
            custom_threshold: None,
            custom_tolerance: None,
        };
        let a = edit_alert(
            &cur,
            AlertInput {
                operator: Some(Some(">".into())),
                threshold: Some(Some(80.0)),
                tolerance: Some(Some(30)),
                is_active: Some(false),
            },
            d,
        )
        .unwrap();
        assert_eq!(
            a,
            AlertSettings {
                is_active: false,
                custom_operator: None,
                custom_threshold: Some(80.0),
                custom_tolerance: None,
            }
        );
        let cleared = edit_alert(
            &a,
            AlertInput {
                threshold: Some(None),
                ..Default::default()
            },
            d,
        )
        .unwrap();
        assert_eq!(cleared.custom_threshold, None);
        for bad in [
            AlertInput {
                operator: Some(Some("=".into())),
                ..Default::default()
            },
            AlertInput {
                tolerance: Some(Some(10_081)),
                ..Default::default()
            },
            AlertInput {
                threshold: Some(Some(f64::NAN)),
                ..Default::default()
            },
        ] {
            assert!(edit_alert(&cur, bad, d).is_err());
        }
    }
}
