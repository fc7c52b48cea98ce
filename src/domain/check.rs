//! Checks (spec §6.1): the active checks of a device (ping, configuration applied, monitoring
//! data collected, WiFi clients, iperf3), their parameters, and their automatic creation.
//!
//! Owns: the check record (keyed `device | check id`, so a device's checks are one prefix
//! range), the check types with upstream's dotted class paths (what OpenWISP scripts and
//! exports name), ping's parameter schema with the configured bounds, and "one check of each
//! enabled type per device" (idempotent). Running checks belongs to `monitor`.

use serde_json::{Map, Value};

use super::error::DomainError;
use super::id::Id;
use crate::config::{ChecksConfig, PingCheckConfig, PingParam};
use crate::storage::{Record, Records};

/// A kind of check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum CheckType {
    /// ICMP reachability, loss and round-trip times.
    Ping,
    /// The configuration agent reported its configuration applied.
    ConfigApplied,
    /// The monitoring agent's data arrived recently.
    DataCollected,
    /// Minimum and maximum WiFi clients.
    WifiClients,
    /// Bandwidth test.
    Iperf3,
}

impl CheckType {
    /// Every type, in upstream's `CHECK_CLASSES` order.
    pub const ALL: [CheckType; 5] = [
        CheckType::Ping,
        CheckType::ConfigApplied,
        CheckType::Iperf3,
        CheckType::WifiClients,
        CheckType::DataCollected,
    ];

    /// Upstream's class path (`check_type` in OpenWISP).
    pub fn class_path(self) -> &'static str {
        match self {
            CheckType::Ping => "openwisp_monitoring.check.classes.Ping",
            CheckType::ConfigApplied => "openwisp_monitoring.check.classes.ConfigApplied",
            CheckType::DataCollected => "openwisp_monitoring.check.classes.DataCollected",
            CheckType::WifiClients => "openwisp_monitoring.check.classes.WifiClients",
            CheckType::Iperf3 => "openwisp_monitoring.check.classes.Iperf3",
        }
    }

    /// The label, also the name of an automatically created check.
    pub fn label(self) -> &'static str {
        match self {
            CheckType::Ping => "Ping",
            CheckType::ConfigApplied => "Configuration Applied",
            CheckType::DataCollected => "Monitoring Data Collected",
            CheckType::WifiClients => "WiFi Clients",
            CheckType::Iperf3 => "Iperf3",
        }
    }

    /// Parses a class path or its last part, case-insensitively (`Ping`, `ping`).
    pub fn parse(s: &str) -> Option<CheckType> {
        let last = s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
        CheckType::ALL.into_iter().find(|t| {
            t.class_path()
                .rsplit('.')
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(&last))
        })
    }

    /// Whether `[checks]` creates this check for every new device.
    pub fn auto(self, cfg: &ChecksConfig) -> bool {
        match self {
            CheckType::Ping => cfg.auto_ping,
            CheckType::ConfigApplied => cfg.auto_device_config_check,
            CheckType::DataCollected => cfg.auto_data_collected_check,
            CheckType::WifiClients => cfg.auto_wifi_clients_check,
            CheckType::Iperf3 => cfg.auto_iperf3,
        }
    }
}

/// One check of one device.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Check {
    /// Primary key.
    pub id: Id,
    /// The checked device.
    pub device: Id,
    /// Its organization.
    pub organization: Id,
    /// Name, unique per device.
    pub name: String,
    /// What it checks.
    pub check_type: CheckType,
    /// Inactive checks do not run.
    pub is_active: bool,
    /// Free text.
    pub description: String,
    /// Type-specific parameters (JSON object text).
    pub params: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Check {
    const TREE: &'static str = "checks";
    const VERSION: u8 = 1;
}

fn key(device: Id, id: Id) -> Vec<u8> {
    let mut k = device.0.to_vec();
    k.extend_from_slice(&id.0);
    k
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Validates a check's parameters: ping's four integers within the configured bounds and
/// nothing else (upstream's schema has `additionalProperties: false`); other types take none.
///
/// # Errors
/// `params` with upstream's message form `Invalid param in "<name>": <reason>`.
pub fn validate_params(
    t: CheckType,
    params: &Map<String, Value>,
    ping: &PingCheckConfig,
) -> Result<(), DomainError> {
    let bad = |msg: String| invalid("params", msg);
    match t {
        CheckType::Ping => {
            let bounds: [(&str, PingParam); 4] = [
                ("count", ping.count),
                ("interval", ping.interval),
                ("bytes", ping.bytes),
                ("timeout", ping.timeout),
            ];
            for (k, v) in params {
                let Some((_, b)) = bounds.iter().find(|(n, _)| n == k) else {
                    return Err(bad(format!(
                        "Invalid param: Additional properties are not allowed ('{k}' was unexpected)"
                    )));
                };
                let Some(n) = v.as_u64() else {
                    return Err(bad(format!(
                        "Invalid param in \"{k}\": {v} is not of type 'integer'"
                    )));
                };
                if n < u64::from(b.minimum) {
                    return Err(bad(format!(
                        "Invalid param in \"{k}\": {n} is less than the minimum of {}",
                        b.minimum
                    )));
                }
                if n > u64::from(b.maximum) {
                    return Err(bad(format!(
                        "Invalid param in \"{k}\": {n} is greater than the maximum of {}",
                        b.maximum
                    )));
                }
            }
            Ok(())
        }
        _ if params.is_empty() => Ok(()),
        _ => Err(bad(
            "Invalid param: this check type takes no parameters".to_owned()
        )),
    }
}

/// What an operator may set on a check; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    /// See [`Check::name`]; defaults to the type's label.
    pub name: Option<String>,
    /// See [`Check::check_type`] (required on creation).
    pub check_type: Option<CheckType>,
    /// See [`Check::is_active`].
    pub is_active: Option<bool>,
    /// See [`Check::description`].
    pub description: Option<String>,
    /// See [`Check::params`].
    pub params: Option<Map<String, Value>>,
}

/// The checks of a device, by name.
///
/// # Errors
/// Storage failure.
pub fn of_device(records: &Records, device: Id) -> Result<Vec<Check>, DomainError> {
    let mut v: Vec<Check> = records
        .list_prefix::<Check>(&device.0)?
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

/// One check of a device.
///
/// # Errors
/// Storage failure.
pub fn get(records: &Records, device: Id, id: Id) -> Result<Option<Check>, DomainError> {
    Ok(records.get::<Check>(&key(device, id))?)
}

/// Every check of every device.
///
/// # Errors
/// Storage failure.
pub fn all(records: &Records) -> Result<Vec<Check>, DomainError> {
    Ok(records
        .list::<Check>()?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

/// Creates or changes (`id`) a check of a device.
///
/// # Errors
/// Missing or invalid values, a duplicate name, randomness or storage failure.
pub fn save(
    records: &Records,
    device: Id,
    organization: Id,
    id: Option<Id>,
    input: CheckInput,
    ping: &PingCheckConfig,
    now_ns: i64,
) -> Result<Check, DomainError> {
    let existing = of_device(records, device)?;
    let mut c = match id {
        Some(id) => existing
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or(DomainError::NotFound)?,
        None => {
            let t = input
                .check_type
                .ok_or_else(|| invalid("check_type", "This field is required."))?;
            Check {
                id: Id::random()?,
                device,
                organization,
                name: t.label().to_owned(),
                check_type: t,
                is_active: true,
                description: String::new(),
                params: "{}".to_owned(),
                created_ns: now_ns,
                modified_ns: now_ns,
            }
        }
    };
    if let Some(t) = input.check_type {
        c.check_type = t;
    }
    if let Some(n) = input.name {
        let n = n.trim().to_owned();
        if n.is_empty() || n.chars().count() > 64 {
            return Err(invalid("name", "Must have 1 to 64 characters."));
        }
        c.name = n;
    }
    if let Some(a) = input.is_active {
        c.is_active = a;
    }
    if let Some(d) = input.description {
        c.description = d;
    }
    let params: Map<String, Value> = match input.params {
        Some(p) => p,
        None => serde_json::from_str(&c.params).unwrap_or_default(),
    };
    validate_params(c.check_type, &params, ping)?;
    c.params = Value::Object(params).to_string();
    if existing.iter().any(|o| o.id != c.id && o.name == c.name) {
        return Err(invalid(
            "name",
            "Check with this Name and Object already exists.",
        ));
    }
    c.modified_ns = now_ns;
    records.put(&key(device, c.id), &c)?;
    Ok(c)
}

/// Removes a check.
///
/// # Errors
/// Storage failure.
pub fn remove(records: &Records, device: Id, id: Id) -> Result<(), DomainError> {
    Ok(records.remove::<Check>(&key(device, id))?)
}

/// Removes every check of a device.
///
/// # Errors
/// Storage failure.
pub fn remove_device(records: &Records, device: Id) -> Result<(), DomainError> {
    for (k, _) in records.list_prefix::<Check>(&device.0)? {
        records.remove::<Check>(&k)?;
    }
    Ok(())
}

/// Creates the checks `[checks]` enables for a device, unless it already has one of that type
/// (so running it again changes nothing). Returns how many were created.
///
/// # Errors
/// Randomness or storage failure.
pub fn auto_create(
    records: &Records,
    device: Id,
    organization: Id,
    cfg: &ChecksConfig,
    now_ns: i64,
) -> Result<usize, DomainError> {
    let existing = of_device(records, device)?;
    let mut n = 0;
    for t in CheckType::ALL.into_iter().filter(|t| t.auto(cfg)) {
        if existing.iter().any(|c| c.check_type == t) {
            continue;
        }
        let input = CheckInput {
            check_type: Some(t),
            ..Default::default()
        };
        save(
            records,
            device,
            organization,
            None,
            input,
            &cfg.ping_check_config,
            now_ns,
        )?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::storage::Storage;

    #[test]
    fn checks_are_created_once_per_type_and_validated() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let cfg = Config::default().checks;
        let (dev, org) = (Id::random().unwrap(), Id::random().unwrap());
        // Defaults: ping, configuration applied, data collected.
        assert_eq!(auto_create(&r, dev, org, &cfg, 1).unwrap(), 3);
        assert_eq!(auto_create(&r, dev, org, &cfg, 2).unwrap(), 0);
        let names: Vec<String> = of_device(&r, dev)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            ["Configuration Applied", "Monitoring Data Collected", "Ping"]
        );
        let ping = of_device(&r, dev)
            .unwrap()
            .into_iter()
            .find(|c| c.check_type == CheckType::Ping)
            .unwrap();
        let set = |params: Value| {
            let Value::Object(m) = params else {
                unreachable!()
            };
            save(
                &r,
                dev,
                org,
                Some(ping.id),
                CheckInput {
                    params: Some(m),
                    ..Default::default()
                },
                &cfg.ping_check_config,
                3,
            )
        };
        assert!(set(serde_json::json!({"count": 10, "timeout": 1000})).is_ok());
        for (bad, msg) in [
            (
                serde_json::json!({"count": 1}),
                "1 is less than the minimum of 2",
            ),
            (
                serde_json::json!({"bytes": 70000}),
                "70000 is greater than the maximum of 65508",
            ),
            (
                serde_json::json!({"count": "5"}),
                "is not of type 'integer'",
            ),
            (serde_json::json!({"size": 5}), "'size' was unexpected"),
        ] {
            let e = set(bad).unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
        let dup = save(
            &r,
            dev,
            org,
            None,
            CheckInput {
                check_type: Some(CheckType::Ping),
                ..Default::default()
            },
            &cfg.ping_check_config,
            4,
        );
        assert!(dup.unwrap_err().to_string().contains("already exists"));
        assert_eq!(
            CheckType::parse("openwisp_monitoring.check.classes.WifiClients"),
            Some(CheckType::WifiClients)
        );
        assert_eq!(CheckType::parse("ping"), Some(CheckType::Ping));
        assert_eq!(CheckType::parse("nope"), None);
        remove_device(&r, dev).unwrap();
        assert!(of_device(&r, dev).unwrap().is_empty());
    }
}
