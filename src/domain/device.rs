//! Devices: the routers and access points being monitored, with their secret key, addresses,
//! place and health status.
//!
//! Owns: the device record, its validation (names and MACs unique per organization, keys
//! unique everywhere) and its health status value.

use super::error::DomainError;
use super::id::{Id, is_valid_device_key, random_hex};
use crate::storage::{Record, Records, Unsynced};

/// Device health status (spec §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum HealthStatus {
    /// Not yet assessed.
    Unknown,
    /// Every metric healthy.
    Ok,
    /// A non-critical metric unhealthy.
    Problem,
    /// A critical metric (by default ping) unhealthy.
    Critical,
    /// The device is deactivated.
    Deactivated,
}

impl HealthStatus {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "unknown",
            HealthStatus::Ok => "ok",
            HealthStatus::Problem => "problem",
            HealthStatus::Critical => "critical",
            HealthStatus::Deactivated => "deactivated",
        }
    }

    /// Parses the API's name.
    pub fn parse(s: &str) -> Option<HealthStatus> {
        Some(match s {
            "unknown" => HealthStatus::Unknown,
            "ok" => HealthStatus::Ok,
            "problem" => HealthStatus::Problem,
            "critical" => HealthStatus::Critical,
            "deactivated" => HealthStatus::Deactivated,
            _ => return None,
        })
    }
}

/// One monitored device.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Device {
    /// Primary key.
    pub id: Id,
    /// Owner.
    pub organization: Id,
    /// Hostname or label, unique in its organization.
    pub name: String,
    /// Secret the device's agents present; unique.
    pub key: String,
    /// Main MAC address, `aa:bb:cc:dd:ee:ff`, unique in its organization.
    pub mac_address: String,
    /// Hardware model.
    pub model: String,
    /// Operating system identifier.
    pub os: String,
    /// System on chip.
    pub system: String,
    /// Free text.
    pub notes: String,
    /// Free-form group label.
    pub group: Option<String>,
    /// Address the checks ping.
    pub management_ip: Option<String>,
    /// Last address the device contacted us from.
    pub last_ip: Option<String>,
    /// Last authenticated contact, ns since the epoch.
    pub last_seen_ns: Option<i64>,
    /// A deactivated device is refused by the device endpoints and not checked.
    pub is_deactivated: bool,
    /// Health status.
    pub status: HealthStatus,
    /// Where it is.
    pub location: Option<Id>,
    /// Indoor floor plan, with `location`.
    pub floorplan: Option<Id>,
    /// Position on the floor plan, `"x,y"`.
    pub indoor: Option<String>,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Device {
    const TREE: &'static str = "devices";
    const VERSION: u8 = 1;
}

/// Held while a device record is read, changed and stored, so an operator's edit and a batch
/// of contact updates (`last_seen`) do not overwrite each other. One storage per process, so
/// one lock is enough; the hot writers (status, contacts) release it before waiting for the
/// disk ([`Records::stage_all`]), so device requests do not take turns at a flush.
static RECORD_WRITES: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Changes the stored records of `ids` with `f` and stores them with one flush; unknown ids
/// are skipped. Returns how many were changed.
///
/// # Errors
/// Storage failure.
pub fn modify_many(
    records: &Records,
    ids: &[Id],
    mut f: impl FnMut(&mut Device),
) -> Result<usize, DomainError> {
    let w = RECORD_WRITES.lock();
    let mut changed = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(mut d) = get(records, *id)? {
            f(&mut d);
            changed.push((id.0.to_vec(), d));
        }
    }
    let staged = records.stage_all(&changed)?;
    drop(w);
    staged.sync()?;
    Ok(changed.len())
}

/// Changes the stored record of `id` with `f`, stored only when `f` says it changed it
/// (status updates, most of which find nothing to do). Whether it was stored.
///
/// # Errors
/// Storage failure.
pub fn modify_if(
    records: &Records,
    id: Id,
    f: impl FnOnce(&mut Device) -> bool,
) -> Result<bool, DomainError> {
    match stage_if(records, id, f)? {
        Some(staged) => {
            staged.sync()?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// [`modify_if`] without waiting for durability: the change, if `f` made one, for the
/// caller to make durable together with its own records.
///
/// # Errors
/// Storage failure.
pub fn stage_if(
    records: &Records,
    id: Id,
    f: impl FnOnce(&mut Device) -> bool,
) -> Result<Option<Unsynced<'_>>, DomainError> {
    let _w = RECORD_WRITES.lock();
    let Some(mut d) = get(records, id)? else {
        return Ok(None);
    };
    if !f(&mut d) {
        return Ok(None);
    }
    Ok(Some(records.stage(&id.0, &d)?))
}

/// An index entry: a device id under a unique attribute (name or MAC within an organization,
/// key everywhere), so creating and updating devices does not scan every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
struct DeviceRef(Id);

impl Record for DeviceRef {
    const TREE: &'static str = "device_index";
    const VERSION: u8 = 1;
}

/// Index keys of a device: `n | org | name`, `m | org | mac`, `k | key`.
fn index_keys(d: &Device) -> [Vec<u8>; 3] {
    let with = |tag: u8, org: Option<Id>, v: &str| {
        let mut k = vec![tag];
        if let Some(o) = org {
            k.extend_from_slice(&o.0);
        }
        k.extend_from_slice(v.as_bytes());
        k
    };
    [
        with(b'n', Some(d.organization), &d.name),
        with(b'm', Some(d.organization), &d.mac_address),
        with(b'k', None, &d.key),
    ]
}

/// What an operator may set on a device; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct DeviceInput {
    /// See [`Device::organization`] (required on creation).
    pub organization: Option<Id>,
    /// See [`Device::name`] (required on creation).
    pub name: Option<String>,
    /// See [`Device::key`]; generated when absent on creation.
    pub key: Option<String>,
    /// See [`Device::mac_address`] (required on creation).
    pub mac_address: Option<String>,
    /// See [`Device::model`].
    pub model: Option<String>,
    /// See [`Device::os`].
    pub os: Option<String>,
    /// See [`Device::system`].
    pub system: Option<String>,
    /// See [`Device::notes`].
    pub notes: Option<String>,
    /// See [`Device::group`]; `Some(None)` clears it.
    pub group: Option<Option<String>>,
    /// See [`Device::management_ip`]; `Some(None)` clears it.
    pub management_ip: Option<Option<String>>,
    /// See [`Device::is_deactivated`].
    pub is_deactivated: Option<bool>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Normalizes a MAC address to lower-case, colon-separated form; accepts `:`, `-` or `.`
/// separators or none, as operators paste them from vendor tools.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: Vec<u8> = s
        .bytes()
        .filter(|c| !matches!(c, b':' | b'-' | b'.'))
        .collect();
    if hex.len() != 12 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let h = String::from_utf8(hex).ok()?.to_ascii_lowercase();
    Some(
        (0..6)
            .map(|i| &h[i * 2..i * 2 + 2])
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn valid_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

fn apply(d: &mut Device, input: DeviceInput) -> Result<(), DomainError> {
    let DeviceInput {
        organization,
        name,
        key,
        mac_address,
        model,
        os,
        system,
        notes,
        group,
        management_ip,
        is_deactivated,
    } = input;
    if let Some(v) = organization {
        d.organization = v;
    }
    if let Some(v) = name {
        d.name = v.trim().to_owned();
    }
    if let Some(v) = key {
        if !is_valid_device_key(&v) {
            return Err(invalid("key", "Key must have 1 to 64 letters or digits."));
        }
        d.key = v;
    }
    if let Some(v) = mac_address {
        d.mac_address = normalize_mac(&v)
            .ok_or_else(|| invalid("mac_address", "Enter a valid MAC address."))?;
    }
    for (field, slot, v, max) in [
        ("model", &mut d.model, model, 64),
        ("os", &mut d.os, os, 128),
        ("system", &mut d.system, system, 128),
        ("notes", &mut d.notes, notes, 10_000),
    ] {
        if let Some(v) = v {
            if v.chars().count() > max {
                return Err(invalid(
                    field,
                    format!("Ensure this field has no more than {max} characters."),
                ));
            }
            *slot = v;
        }
    }
    if let Some(v) = group {
        d.group = v.filter(|g| !g.is_empty());
    }
    if let Some(v) = management_ip {
        let v = v.filter(|ip| !ip.is_empty());
        if let Some(ip) = &v
            && !valid_ip(ip)
        {
            return Err(invalid(
                "management_ip",
                "Enter a valid IPv4 or IPv6 address.",
            ));
        }
        d.management_ip = v;
    }
    if let Some(v) = is_deactivated {
        d.is_deactivated = v;
        if v {
            d.status = HealthStatus::Deactivated;
        } else if d.status == HealthStatus::Deactivated {
            d.status = HealthStatus::Unknown;
        }
    }
    Ok(())
}

fn check(records: &Records, d: &Device) -> Result<(), DomainError> {
    let n = d.name.chars().count();
    if n == 0 || n > 64 || d.name.chars().any(char::is_whitespace) {
        return Err(invalid(
            "name",
            "Must be a valid hostname or MAC address (1 to 64 characters, no spaces).",
        ));
    }
    let [name, mac, key] = index_keys(d);
    let taken = |k: &[u8]| -> Result<bool, DomainError> {
        Ok(records
            .get::<DeviceRef>(k)?
            .is_some_and(|DeviceRef(id)| id != d.id))
    };
    if taken(&key)? {
        return Err(invalid("key", "device with this key already exists."));
    }
    if taken(&name)? {
        return Err(invalid(
            "name",
            "Device with this Name and Organization already exists.",
        ));
    }
    if taken(&mac)? {
        return Err(invalid(
            "mac_address",
            "Device with this Mac address and Organization already exists.",
        ));
    }
    Ok(())
}

/// Stores `d` and moves its index entries from `old` (the stored version, if any).
fn store(records: &Records, d: &Device, old: Option<&Device>) -> Result<(), DomainError> {
    let new_keys = index_keys(d);
    if let Some(old) = old {
        for k in index_keys(old) {
            if !new_keys.contains(&k) {
                records.remove::<DeviceRef>(&k)?;
            }
        }
    }
    for k in &new_keys {
        records.put(k, &DeviceRef(d.id))?;
    }
    records.put(&d.id.0, d)?;
    Ok(())
}

/// The device whose key is `key`.
///
/// # Errors
/// Storage failure.
pub fn by_key(records: &Records, key: &str) -> Result<Option<Device>, DomainError> {
    let mut k = vec![b'k'];
    k.extend_from_slice(key.as_bytes());
    match records.get::<DeviceRef>(&k)? {
        Some(DeviceRef(id)) => get(records, id),
        None => Ok(None),
    }
}

/// Creates a device; the organization must exist (the caller checks it and the permission).
///
/// # Errors
/// Missing or invalid values, duplicates, randomness or storage failure.
pub fn create(records: &Records, input: DeviceInput, now_ns: i64) -> Result<Device, DomainError> {
    let organization = input
        .organization
        .ok_or_else(|| invalid("organization", "This field is required."))?;
    if input.name.is_none() {
        return Err(invalid("name", "This field is required."));
    }
    if input.mac_address.is_none() {
        return Err(invalid("mac_address", "This field is required."));
    }
    let mut d = Device {
        id: Id::random()?,
        organization,
        name: String::new(),
        key: random_hex(16)?,
        mac_address: String::new(),
        model: String::new(),
        os: String::new(),
        system: String::new(),
        notes: String::new(),
        group: None,
        management_ip: None,
        last_ip: None,
        last_seen_ns: None,
        is_deactivated: false,
        status: HealthStatus::Unknown,
        location: None,
        floorplan: None,
        indoor: None,
        created_ns: now_ns,
        modified_ns: now_ns,
    };
    apply(&mut d, input)?;
    check(records, &d)?;
    store(records, &d, None)?;
    Ok(d)
}

/// Changes a device; `None` when it does not exist.
///
/// # Errors
/// Invalid values, duplicates, or storage failure.
pub fn update(
    records: &Records,
    id: Id,
    input: DeviceInput,
    now_ns: i64,
) -> Result<Option<Device>, DomainError> {
    let _w = RECORD_WRITES.lock();
    let Some(old) = get(records, id)? else {
        return Ok(None);
    };
    let mut d = old.clone();
    apply(&mut d, input)?;
    d.modified_ns = now_ns;
    check(records, &d)?;
    store(records, &d, Some(&old))?;
    Ok(Some(d))
}

/// Stores a device as given (status and contact updates by the domain itself).
///
/// # Errors
/// Storage failure.
pub fn save(records: &Records, d: &Device) -> Result<(), DomainError> {
    let _w = RECORD_WRITES.lock();
    let old = get(records, d.id)?;
    if old.as_ref().is_some_and(|o| index_keys(o) == index_keys(d)) {
        return Ok(records.put(&d.id.0, d)?);
    }
    store(records, d, old.as_ref())
}

/// The device with this id.
///
/// # Errors
/// Storage failure.
pub fn get(records: &Records, id: Id) -> Result<Option<Device>, DomainError> {
    Ok(records.get::<Device>(&id.0)?)
}

/// Every device, by name then id.
///
/// # Errors
/// Storage failure.
pub fn list(records: &Records) -> Result<Vec<Device>, DomainError> {
    let mut v: Vec<Device> = records
        .list::<Device>()?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(v)
}

/// Removes a device record.
///
/// # Errors
/// Storage failure.
pub fn remove(records: &Records, id: Id) -> Result<(), DomainError> {
    if let Some(d) = get(records, id)? {
        for k in index_keys(&d) {
            records.remove::<DeviceRef>(&k)?;
        }
    }
    Ok(records.remove::<Device>(&id.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn input(org: Id, name: &str, mac: &str) -> DeviceInput {
        DeviceInput {
            organization: Some(org),
            name: Some(name.into()),
            mac_address: Some(mac.into()),
            ..Default::default()
        }
    }

    #[test]
    fn devices_get_keys_and_stay_unique_per_organization() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let (o1, o2) = (Id::random().unwrap(), Id::random().unwrap());
        let a = create(&r, input(o1, "ap-1", "00-11-22-AA-BB-CC"), 1).unwrap();
        assert_eq!(a.mac_address, "00:11:22:aa:bb:cc");
        assert_eq!(a.key.len(), 32);
        assert_eq!(a.status, HealthStatus::Unknown);
        let e = create(&r, input(o1, "ap-1", "00:11:22:aa:bb:cd"), 1).unwrap_err();
        assert!(e.to_string().contains("Name and Organization"), "{e}");
        let e = create(&r, input(o1, "ap-2", "001122aabbcc"), 1).unwrap_err();
        assert!(e.to_string().contains("Mac address"), "{e}");
        // Another organization may reuse both.
        create(&r, input(o2, "ap-1", "00:11:22:aa:bb:cc"), 1).unwrap();
        let e = create(
            &r,
            DeviceInput {
                key: Some(a.key.clone()),
                ..input(o2, "ap-9", "00:11:22:aa:bb:99")
            },
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("key"), "{e}");
        assert!(create(&r, input(o1, "has space", "00:11:22:aa:bb:01"), 1).is_err());
        assert!(create(&r, input(o1, "x", "not-a-mac"), 1).is_err());
        let d = update(
            &r,
            a.id,
            DeviceInput {
                management_ip: Some(Some("10.0.0.1".into())),
                is_deactivated: Some(true),
                ..Default::default()
            },
            2,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.management_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(d.status, HealthStatus::Deactivated);
        let d = update(
            &r,
            a.id,
            DeviceInput {
                management_ip: Some(Some("nope".into())),
                ..Default::default()
            },
            2,
        );
        assert!(d.is_err());
        let d = update(
            &r,
            a.id,
            DeviceInput {
                is_deactivated: Some(false),
                ..Default::default()
            },
            3,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.status, HealthStatus::Unknown);
        assert_eq!(list(&r).unwrap().len(), 2);
        assert_eq!(by_key(&r, &a.key).unwrap().map(|d| d.id), Some(a.id));
        // A renamed device frees its old name.
        update(
            &r,
            a.id,
            DeviceInput {
                name: Some("ap-renamed".into()),
                ..Default::default()
            },
            4,
        )
        .unwrap()
        .unwrap();
        create(&r, input(o1, "ap-1", "00:11:22:aa:bb:77"), 5).unwrap();
        remove(&r, a.id).unwrap();
        assert_eq!(get(&r, a.id).unwrap(), None);
        assert_eq!(by_key(&r, &a.key).unwrap(), None);
        // Its MAC is free again.
        create(&r, input(o1, "ap-3", "00:11:22:aa:bb:cc"), 6).unwrap();
    }
}
