//! Quiet on purpose: maintenance windows, upstream dependencies between devices, alerts held
//! back while either applies, and the flapping indicator. None of this exists upstream;
//! operators ask for all three (spec §10).
//!
//! Owns: the maintenance window record (keyed `organization | id`, so an organization's
//! windows are one prefix range), the parent link of a device (keyed by the child), the alerts
//! held back (keyed `device | metric`), a device's recent status changes, and the rules:
//! - A device is *silenced* while a window covers it (its organization, its location or the
//!   device itself) or while one of its ancestors is down (critical, or one of its critical
//!   metrics unhealthy).
//! - A problem alert of a silenced device is held instead of notified; the recovery of a held
//!   problem is dropped with it. A held problem still standing when the silence ends is
//!   notified then, so a router that stays down after the maintenance still pages.
//! - Health and status keep changing as usual; only the telling of people is held.
//! - A device is *flapping* when its health status changed at least `flapping_changes` times
//!   within `flapping_window`.

use super::device::{self, Device, HealthStatus};
use super::error::DomainError;
use super::id::Id;
use super::metric::{self, Metric};
use super::{access::Principal, geo};
use crate::storage::{Record, Records, Unsynced};

/// The longest maintenance window accepted: a year. Longer silences are a deactivation.
pub const MAX_WINDOW_NS: i64 = 366 * 24 * 3600 * 1_000_000_000;

/// Longest free text of a window.
const MAX_REASON_CHARS: usize = 500;

/// Status changes kept per device (the flapping window rarely needs more).
const HISTORY_LEN: usize = 32;

/// How far up a chain of parents is followed (cycles are refused when set; this bounds the
/// walk even over damaged records).
const MAX_DEPTH: usize = 16;

/// What a maintenance window silences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Scope {
    /// Every device of the organization.
    Organization,
    /// Every device placed at this location.
    Location(Id),
    /// One device.
    Device(Id),
}

impl Scope {
    /// The API's name of the scope's kind.
    pub fn kind(self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Location(_) => "location",
            Scope::Device(_) => "device",
        }
    }

    /// The location or device named, if any.
    pub fn object(self) -> Option<Id> {
        match self {
            Scope::Organization => None,
            Scope::Location(id) | Scope::Device(id) => Some(id),
        }
    }

    fn covers(self, d: &Device) -> bool {
        match self {
            Scope::Organization => true,
            Scope::Location(l) => d.location == Some(l),
            Scope::Device(id) => d.id == id,
        }
    }
}

/// A time range during which a scope's alerts are held.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MaintenanceWindow {
    /// Primary key.
    pub id: Id,
    /// Owner.
    pub organization: Id,
    /// What it silences.
    pub scope: Scope,
    /// Start, ns since the epoch (inclusive).
    pub start_ns: i64,
    /// End, ns since the epoch (exclusive).
    pub end_ns: i64,
    /// Free text (the work being done, a ticket number).
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for MaintenanceWindow {
    const TREE: &'static str = "maintenance_windows";
    const VERSION: u8 = 1;
}

impl MaintenanceWindow {
    /// Whether the window is open at `at_ns`.
    pub fn is_open(&self, at_ns: i64) -> bool {
        self.start_ns <= at_ns && at_ns < self.end_ns
    }
}

fn window_key(organization: Id, id: Id) -> Vec<u8> {
    let mut k = organization.0.to_vec();
    k.extend_from_slice(&id.0);
    k
}

/// What an operator may set on a window; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct WindowInput {
    /// See [`MaintenanceWindow::organization`] (required on creation, fixed afterwards).
    pub organization: Option<Id>,
    /// See [`MaintenanceWindow::scope`] (required on creation).
    pub scope: Option<Scope>,
    /// See [`MaintenanceWindow::start_ns`] (required on creation).
    pub start_ns: Option<i64>,
    /// See [`MaintenanceWindow::end_ns`] (required on creation).
    pub end_ns: Option<i64>,
    /// See [`MaintenanceWindow::reason`].
    pub reason: Option<String>,
}

/// A device's upstream device: when the parent is down, the child's alerts are held.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Dependency {
    /// The upstream device.
    pub parent: Id,
    /// When it was set, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Dependency {
    const TREE: &'static str = "device_parents";
    const VERSION: u8 = 1;
}

/// Why a device's alerts are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Silence {
    /// A maintenance window is open.
    Maintenance {
        /// The window.
        window: Id,
        /// Its end, ns since the epoch.
        until_ns: i64,
    },
    /// An upstream device is down.
    ParentDown {
        /// The nearest ancestor that is down.
        parent: Id,
    },
}

/// A problem alert not told because its device was silenced.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct HeldAlert {
    /// The unhealthy metric.
    pub metric: Id,
    /// Its record key.
    pub metric_key: Vec<u8>,
    /// Why it was held.
    pub silence: Silence,
    /// When the problem arose, ns since the epoch.
    pub at_ns: i64,
}

impl Record for HeldAlert {
    const TREE: &'static str = "held_alerts";
    const VERSION: u8 = 1;
}

fn held_key(device: Id, metric: Id) -> Vec<u8> {
    let mut k = device.0.to_vec();
    k.extend_from_slice(&metric.0);
    k
}

/// One change of a device's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct StatusChange {
    /// When, ns since the epoch.
    pub at_ns: i64,
    /// Before.
    pub from: HealthStatus,
    /// After.
    pub to: HealthStatus,
}

impl StatusChange {
    /// A change of health (between ok, problem and critical), not an operator's action or
    /// a first assessment.
    pub fn is_health_change(&self) -> bool {
        let assessed = |s| {
            matches!(
                s,
                HealthStatus::Ok | HealthStatus::Problem | HealthStatus::Critical
            )
        };
        assessed(self.from) && assessed(self.to)
    }
}

/// A device's latest status changes, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct StatusHistory {
    /// At most [`HISTORY_LEN`] changes.
    pub changes: Vec<StatusChange>,
}

impl Record for StatusHistory {
    const TREE: &'static str = "status_history";
    const VERSION: u8 = 1;
}

/// Whether `history` shows flapping at `now_ns`: at least `changes` health changes within the
/// last `window_ns` (`changes == 0` never flaps).
pub fn is_flapping(history: &[StatusChange], now_ns: i64, window_ns: i64, changes: u32) -> bool {
    if changes == 0 {
        return false;
    }
    let since = now_ns.saturating_sub(window_ns);
    let n = history
        .iter()
        .filter(|c| c.at_ns >= since && c.is_health_change())
        .count();
    n >= changes as usize
}

/// A device's health as the health endpoint shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceHealth {
    /// The status.
    pub status: HealthStatus,
    /// See [`is_flapping`].
    pub flapping: bool,
    /// Recent status changes, oldest first.
    pub changes: Vec<StatusChange>,
    /// Why alerts are held right now, if they are.
    pub silence: Option<Silence>,
    /// The upstream device.
    pub parent: Option<Id>,
    /// Alerts held back, not yet told.
    pub held: Vec<HeldAlert>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Every window, in key order.
fn all_windows(records: &Records) -> Result<Vec<MaintenanceWindow>, DomainError> {
    Ok(records
        .list::<MaintenanceWindow>()?
        .into_iter()
        .map(|(_, w)| w)
        .collect())
}

/// The parent of `device`.
///
/// # Errors
/// Storage failure.
pub fn parent_of(records: &Records, device: Id) -> Result<Option<Id>, DomainError> {
    Ok(records.get::<Dependency>(&device.0)?.map(|d| d.parent))
}

/// Every parent link, child → parent.
///
/// # Errors
/// Storage failure.
pub fn parents(records: &Records) -> Result<std::collections::HashMap<Id, Id>, DomainError> {
    Ok(records
        .list::<Dependency>()?
        .into_iter()
        .filter_map(|(k, d)| Some((Id(<[u8; 16]>::try_from(k.as_slice()).ok()?), d.parent)))
        .collect())
}

/// The top of `device`'s parent chain and how many parents are above it (bounded, cycle-safe).
pub fn root_of(parents: &std::collections::HashMap<Id, Id>, device: Id) -> (Id, u8) {
    let mut cur = device;
    let mut depth = 0u8;
    while let Some(&p) = parents.get(&cur) {
        if usize::from(depth) >= MAX_DEPTH || p == device {
            break;
        }
        cur = p;
        depth += 1;
    }
    (cur, depth)
}

/// Removes what belongs to deleted devices: their parent links, the links of their
/// children, their held alerts, their status histories and the windows naming them; one scan
/// of the links and windows for all of them.
///
/// # Errors
/// Storage failure.
pub fn remove_devices(records: &Records, devices: &[Id]) -> Result<(), DomainError> {
    let gone: std::collections::HashSet<Id> = devices.iter().copied().collect();
    for (k, d) in records.list::<Dependency>()? {
        let child = <[u8; 16]>::try_from(k.as_slice()).ok().map(Id);
        if gone.contains(&d.parent) || child.is_some_and(|c| gone.contains(&c)) {
            records.remove::<Dependency>(&k)?;
        }
    }
    for device in devices {
        for (k, _) in records.list_prefix::<HeldAlert>(&device.0)? {
            records.remove::<HeldAlert>(&k)?;
        }
        records.remove::<StatusHistory>(&device.0)?;
    }
    for w in all_windows(records)? {
        if let Scope::Device(d) = w.scope
            && gone.contains(&d)
        {
            records.remove::<MaintenanceWindow>(&window_key(w.organization, w.id))?;
        }
    }
    Ok(())
}

/// Removes an organization's windows.
///
/// # Errors
/// Storage failure.
pub fn remove_organization(records: &Records, organization: Id) -> Result<(), DomainError> {
    for (k, _) in records.list_prefix::<MaintenanceWindow>(&organization.0)? {
        records.remove::<MaintenanceWindow>(&k)?;
    }
    Ok(())
}

/// Held while a device's history is read, extended and stored, so two status changes of one
/// device at once (a sample and a check) both stay in it.
static HISTORY_WRITES: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Adds a status change to a device's history, without waiting for durability: the status
/// change it belongs to is made durable with it.
///
/// # Errors
/// Storage failure.
pub fn stage_change(
    records: &Records,
    device: Id,
    c: StatusChange,
) -> Result<Unsynced<'_>, DomainError> {
    let _w = HISTORY_WRITES.lock();
    let mut h = records.get::<StatusHistory>(&device.0)?.unwrap_or_default();
    h.changes.push(c);
    if h.changes.len() > HISTORY_LEN {
        let extra = h.changes.len() - HISTORY_LEN;
        h.changes.drain(..extra);
    }
    Ok(records.stage(&device.0, &h)?)
}

impl super::Domain {
    /// Whether a device counts as down for its children: critical, or one of its critical
    /// metrics unhealthy (a parent whose ping fails is `problem` until its data stops too).
    fn is_down(&self, d: &Device) -> Result<bool, DomainError> {
        if d.status == HealthStatus::Critical {
            return Ok(true);
        }
        if matches!(d.status, HealthStatus::Unknown | HealthStatus::Deactivated) {
            return Ok(false);
        }
        let critical = &self.settings.health.critical;
        Ok(metric::of_object(&self.records, d.id)?.iter().any(|m| {
            m.is_healthy == Some(false)
                && critical
                    .iter()
                    .any(|c| c.key == m.key && c.field_name == m.field_name)
        }))
    }

    /// Why a device's alerts are held at `at_ns`, if they are.
    ///
    /// # Errors
    /// Storage failure.
    pub fn silence_of(&self, d: &Device, at_ns: i64) -> Result<Option<Silence>, DomainError> {
        let open = self
            .records
            .list_prefix::<MaintenanceWindow>(&d.organization.0)?
            .into_iter()
            .map(|(_, w)| w)
            .filter(|w| w.is_open(at_ns) && w.scope.covers(d))
            .max_by_key(|w| w.end_ns);
        if let Some(w) = open {
            return Ok(Some(Silence::Maintenance {
                window: w.id,
                until_ns: w.end_ns,
            }));
        }
        let mut seen = vec![d.id];
        let mut cur = d.id;
        while seen.len() <= MAX_DEPTH {
            let Some(p) = parent_of(&self.records, cur)? else {
                break;
            };
            if seen.contains(&p) {
                break;
            }
            let Some(parent) = device::get(&self.records, p)? else {
                break;
            };
            if self.is_down(&parent)? {
                return Ok(Some(Silence::ParentDown { parent: p }));
            }
            seen.push(p);
            cur = p;
        }
        Ok(None)
    }

    /// Decides whether an alert of `m` is told now: a problem of a silenced device is held
    /// (and `false` returned); the recovery of a held problem is dropped with it.
    pub(crate) fn tell_or_hold(
        &self,
        m: &Metric,
        dev: Option<&Device>,
        problem: bool,
        at_ns: i64,
    ) -> Result<bool, DomainError> {
        let Some(d) = dev else {
            return Ok(true);
        };
        let key = held_key(d.id, m.id);
        let held = self.records.get::<HeldAlert>(&key)?;
        if !problem {
            if held.is_some() {
                self.records.remove::<HeldAlert>(&key)?;
                return Ok(false);
            }
            return Ok(true);
        }
        match self.silence_of(d, at_ns)? {
            Some(silence) => {
                let h = HeldAlert {
                    metric: m.id,
                    metric_key: metric::record_key(
                        m.object_id,
                        &m.key,
                        &m.field_name,
                        &m.main_tags,
                    ),
                    silence,
                    at_ns,
                };
                self.records.put(&key, &h)?;
                tracing::info!(device = %d.id, metric = %m.key, ?silence, "alert held");
                Ok(false)
            }
            None => {
                if held.is_some() {
                    self.records.remove::<HeldAlert>(&key)?;
                }
                Ok(true)
            }
        }
    }

    /// Tells the held problems whose silence has ended and that still stand; forgets those
    /// that recovered meanwhile. Run periodically (the monitor does, every few seconds).
    /// Returns how many were told.
    ///
    /// # Errors
    /// Storage failure.
    pub fn release_held_alerts(&self) -> Result<usize, DomainError> {
        let now = self.now_ns();
        let mut told = 0;
        for (k, h) in self.records.list::<HeldAlert>()? {
            let Some(m) = self.records.get::<Metric>(&h.metric_key)? else {
                self.records.remove::<HeldAlert>(&k)?;
                continue;
            };
            let dev = match m.object_id {
                Some(id) => device::get(&self.records, id)?,
                None => None,
            };
            let Some(d) = dev else {
                self.records.remove::<HeldAlert>(&k)?;
                continue;
            };
            if self.silence_of(&d, now)?.is_some() {
                continue;
            }
            self.records.remove::<HeldAlert>(&k)?;
            let standing = m.is_healthy_tolerant == Some(false);
            let (Some(rule), Some(settings)) = (self.rule_of(&m), m.alert.clone()) else {
                continue;
            };
            if standing && settings.is_active && d.status != HealthStatus::Deactivated {
                self.notify(
                    &m,
                    Some(&d),
                    super::alert::Alert::Problem,
                    rule,
                    settings.custom_threshold,
                    now,
                )?;
                told += 1;
            }
        }
        Ok(told)
    }

    /// The maintenance windows the principal may see, by start time.
    ///
    /// # Errors
    /// Storage failure.
    pub fn maintenance_windows(
        &self,
        who: &Principal,
    ) -> Result<Vec<MaintenanceWindow>, DomainError> {
        let mut out: Vec<_> = all_windows(&self.records)?
            .into_iter()
            .filter(|w| who.can_view(w.organization))
            .collect();
        out.sort_by_key(|w| (w.start_ns, w.end_ns));
        Ok(out)
    }

    /// One window the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn maintenance_window(
        &self,
        who: &Principal,
        id: Id,
    ) -> Result<MaintenanceWindow, DomainError> {
        all_windows(&self.records)?
            .into_iter()
            .find(|w| w.id == id && who.can_view(w.organization))
            .ok_or(DomainError::NotFound)
    }

    /// Creates (`id: None`) or changes a window of an organization the principal manages.
    /// The scope's location or device must be of the same organization; the end must follow
    /// the start, at most [`MAX_WINDOW_NS`] later.
    ///
    /// # Errors
    /// Unknown window, no permission, invalid values, storage failure.
    pub fn save_maintenance_window(
        &self,
        who: &Principal,
        id: Option<Id>,
        input: WindowInput,
    ) -> Result<MaintenanceWindow, DomainError> {
        let now = self.now_ns();
        let mut w = match id {
            Some(id) => {
                let w = self.maintenance_window(who, id)?;
                if input.organization.is_some_and(|o| o != w.organization) {
                    return Err(invalid(
                        "organization",
                        "The organization of a maintenance window cannot change.",
                    ));
                }
                w
            }
            None => {
                let organization = input
                    .organization
                    .ok_or_else(|| invalid("organization", "This field is required."))?;
                if !who.can_view(organization) {
                    return Err(invalid(
                        "organization",
                        "Select a valid choice. That choice is not one of the available choices.",
                    ));
                }
                MaintenanceWindow {
                    id: Id::random()?,
                    organization,
                    scope: input
                        .scope
                        .ok_or_else(|| invalid("scope", "This field is required."))?,
                    start_ns: input
                        .start_ns
                        .ok_or_else(|| invalid("start", "This field is required."))?,
                    end_ns: input
                        .end_ns
                        .ok_or_else(|| invalid("end", "This field is required."))?,
                    reason: String::new(),
                    created_by: who.username.clone(),
                    created_ns: now,
                    modified_ns: now,
                }
            }
        };
        if !who.can_manage(w.organization) {
            return Err(DomainError::Forbidden);
        }
        if let Some(s) = input.scope {
            w.scope = s;
        }
        if let Some(s) = input.start_ns {
            w.start_ns = s;
        }
        if let Some(e) = input.end_ns {
            w.end_ns = e;
        }
        if let Some(r) = input.reason {
            w.reason = r;
        }
        w.modified_ns = now;
        if w.end_ns <= w.start_ns {
            return Err(invalid("end", "The end must be after the start."));
        }
        if w.end_ns - w.start_ns > MAX_WINDOW_NS {
            return Err(invalid(
                "end",
                "A maintenance window may last at most 366 days.",
            ));
        }
        if w.reason.chars().count() > MAX_REASON_CHARS {
            return Err(invalid(
                "reason",
                format!("Ensure this field has no more than {MAX_REASON_CHARS} characters."),
            ));
        }
        let foreign = || invalid("object_id", "Not found in the window's organization.");
        match w.scope {
            Scope::Organization => {}
            Scope::Location(l) => {
                if geo::location(&self.records, l)?.is_none_or(|l| l.organization != w.organization)
                {
                    return Err(foreign());
                }
            }
            Scope::Device(d) => {
                if device::get(&self.records, d)?.is_none_or(|d| d.organization != w.organization) {
                    return Err(foreign());
                }
            }
        }
        self.records.put(&window_key(w.organization, w.id), &w)?;
        Ok(w)
    }

    /// Deletes a window of an organization the principal manages. Problems held by it are
    /// told at the next release if they still stand.
    ///
    /// # Errors
    /// Unknown window, no permission, storage failure.
    pub fn delete_maintenance_window(&self, who: &Principal, id: Id) -> Result<(), DomainError> {
        let w = self.maintenance_window(who, id)?;
        if !who.can_manage(w.organization) {
            return Err(DomainError::Forbidden);
        }
        self.records
            .remove::<MaintenanceWindow>(&window_key(w.organization, w.id))?;
        Ok(())
    }

    /// A device's parent and children, as the principal may see them.
    ///
    /// # Errors
    /// Unknown or invisible device, storage failure.
    pub fn device_dependencies(
        &self,
        who: &Principal,
        device: Id,
    ) -> Result<(Option<Id>, Vec<Id>), DomainError> {
        let d = self.device(who, device)?;
        let parent = parent_of(&self.records, d.id)?;
        let children = self
            .records
            .list::<Dependency>()?
            .into_iter()
            .filter(|(_, dep)| dep.parent == d.id)
            .filter_map(|(k, _)| <[u8; 16]>::try_from(k.as_slice()).ok().map(Id))
            .collect();
        Ok((parent, children))
    }

    /// Sets (or with `None` removes) a device's parent: a device of the same organization
    /// that is not the device itself nor one of its descendants.
    ///
    /// # Errors
    /// Unknown device, no permission, invalid parent, storage failure.
    pub fn set_device_parent(
        &self,
        who: &Principal,
        device: Id,
        parent: Option<Id>,
    ) -> Result<Option<Id>, DomainError> {
        let d = self.device(who, device)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        let Some(p) = parent else {
            self.records.remove::<Dependency>(&d.id.0)?;
            return Ok(None);
        };
        let not_found = || invalid("parent", "Not found in the device's organization.");
        let pd = device::get(&self.records, p)?.ok_or_else(not_found)?;
        if pd.organization != d.organization {
            return Err(not_found());
        }
        // Walk up from the parent: meeting the device means a cycle.
        let mut cur = Some(p);
        let mut depth = 0;
        while let Some(c) = cur {
            if c == d.id {
                return Err(invalid(
                    "parent",
                    "A device cannot depend on itself or on one of its descendants.",
                ));
            }
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(invalid(
                    "parent",
                    format!("Dependency chains may be at most {MAX_DEPTH} devices deep."),
                ));
            }
            cur = parent_of(&self.records, c)?;
        }
        self.records.put(
            &d.id.0,
            &Dependency {
                parent: p,
                modified_ns: self.now_ns(),
            },
        )?;
        Ok(Some(p))
    }

    /// A device's health summary: status, flapping, recent changes, silence and held alerts.
    ///
    /// # Errors
    /// Unknown or invisible device, storage failure.
    pub fn device_health(&self, who: &Principal, device: Id) -> Result<DeviceHealth, DomainError> {
        let d = self.device(who, device)?;
        let now = self.now_ns();
        let changes = self.status_changes(d.id)?;
        Ok(DeviceHealth {
            status: d.status,
            flapping: self.flapping_in(&changes, now),
            silence: self.silence_of(&d, now)?,
            parent: parent_of(&self.records, d.id)?,
            held: self
                .records
                .list_prefix::<HeldAlert>(&d.id.0)?
                .into_iter()
                .map(|(_, h)| h)
                .collect(),
            changes,
        })
    }

    /// Whether a device is flapping now.
    ///
    /// # Errors
    /// Storage failure.
    pub fn is_device_flapping(&self, device: Id) -> Result<bool, DomainError> {
        Ok(self.flapping_in(&self.status_changes(device)?, self.now_ns()))
    }

    fn status_changes(&self, device: Id) -> Result<Vec<StatusChange>, DomainError> {
        Ok(self
            .records
            .get::<StatusHistory>(&device.0)?
            .unwrap_or_default()
            .changes)
    }

    /// [`is_flapping`] with the configured window and threshold.
    fn flapping_in(&self, changes: &[StatusChange], now_ns: i64) -> bool {
        let h = &self.settings.health;
        is_flapping(changes, now_ns, h.flapping_window_ns, h.flapping_changes)
    }
}

#[cfg(test)]
mod tests;
