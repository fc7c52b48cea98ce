//! The monitoring domain: organizations, users, devices, metrics, charts, alerts and health.
//!
//! Owns: the product's rules as plain functions and records kept through `storage`'s record
//! store; alert evaluation and health status are pure and testable without tokio. Must not:
//! touch sockets, HTTP or sled, or read the wall clock other than through `time::Clock`.

pub mod access;
pub mod alert;
pub mod charts;
pub mod check;
pub mod contact;
pub mod controller;
pub mod counters;
pub mod device;
mod error;
pub mod events;
pub mod geo;
pub mod health;
pub mod id;
pub mod ingest;
pub mod metric;
pub mod netjson;
pub mod notification;
pub mod org;
pub mod registry;
pub mod runs;
pub mod session;
pub mod silence;
pub mod status;
#[cfg(test)]
pub(crate) mod testing;
pub mod timeseries;
pub mod user;
pub mod vendor;
pub mod wifi;

pub use error::DomainError;

use std::sync::Arc;

use access::Principal;
use device::{Device, DeviceInput};
use id::Id;
use org::{Organization, OrganizationInput};

use crate::storage::{Engine, Records, Storage};
use crate::time::SharedClock;
use timeseries::Timeseries as _;

/// The outcome of checking an agent's request against the device it names.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentDevice {
    /// No such device, or its organization is inactive.
    Unknown,
    /// The key is missing or wrong.
    BadKey,
    /// The device is deactivated.
    Deactivated,
    /// The device, active.
    Active(Box<Device>),
}

/// How a charts request is authorized: an operator, or the device's own key (spec §4.2).
#[derive(Debug, Clone)]
pub enum ChartAccess {
    /// An authenticated operator.
    Operator(Principal),
    /// `?key=`: the device's key.
    DeviceKey(String),
}

/// A device's charts page (spec §4.2).
#[derive(Debug, Clone)]
pub struct DeviceCharts {
    /// The device.
    pub device: Device,
    /// Its metrics, by name.
    pub metrics: Vec<metric::Metric>,
    /// Charts with data, in display order.
    pub charts: Vec<serde_json::Value>,
    /// Shared bucket labels.
    pub x: Option<serde_json::Value>,
    /// The latest snapshot, when asked for (`status`).
    pub data: Option<serde_json::Value>,
}

/// A user with their organization memberships.
pub type UserWithRoles = (user::User, Vec<(Id, access::Role)>);

/// The dashboard's general charts.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Charts with data, in display order.
    pub charts: Vec<serde_json::Value>,
    /// Shared bucket labels.
    pub x: Option<serde_json::Value>,
    /// The organizations the principal sees.
    pub organizations: Vec<Organization>,
}

/// What the domain is configured with.
#[derive(Debug, Clone)]
pub struct DomainSettings {
    /// The monitoring database in the engine (`TIMESERIES_DATABASE["NAME"]`).
    pub database: String,
    /// Metric and chart registry (defaults merged with the configuration's overrides).
    pub registry: registry::Registry,
    /// Charts created automatically with their metrics (`AUTO_CHARTS`).
    pub auto_charts: Vec<String>,
    /// MAC vendor table, when vendor detection is on and the registry file exists.
    pub mac_vendors: Option<vendor::MacVendors>,
    /// Whether WiFi clients and sessions are tracked (`WIFI_SESSIONS_ENABLED`).
    pub wifi_sessions: bool,
    /// Chart timeframe when a request names none (`DEFAULT_CHART_TIME`).
    pub default_chart_time: String,
    /// Interfaces summed by the dashboard's traffic chart, per organization slug and
    /// `__all__` (`DASHBOARD_TRAFFIC_CHART`).
    pub dashboard_traffic: std::collections::BTreeMap<String, Vec<String>>,
    /// Check settings (`AUTO_*`, ping parameter bounds).
    pub checks: crate::config::ChecksConfig,
    /// Alerting and health settings.
    pub health: status::HealthSettings,
    /// Notification texts and channels.
    pub notifications: status::NotificationSettings,
    /// The database wispmon's own numbers are written to (`[telemetry] database`), if any.
    pub telemetry_database: Option<String>,
}

impl DomainSettings {
    /// Settings with the default registry and charts, for `database`.
    pub fn defaults(database: &str) -> DomainSettings {
        DomainSettings {
            database: database.to_owned(),
            registry: registry::Registry::defaults().clone(),
            auto_charts: crate::config::Config::default().monitoring.auto_charts,
            mac_vendors: None,
            wifi_sessions: true,
            default_chart_time: "7d".to_owned(),
            dashboard_traffic: crate::config::Config::default()
                .monitoring
                .dashboard_traffic_chart,
            checks: crate::config::Config::default().checks,
            health: status::HealthSettings::defaults(),
            notifications: status::NotificationSettings::defaults(),
            telemetry_database: None,
        }
    }
}

/// The domain's handle: records, the timeseries backend and the clock, shared by the API and
/// the monitor.
#[derive(Debug, Clone)]
pub struct Domain {
    records: Records,
    /// The embedded engine: the traffic counters' bookkeeping lives here whatever the backend.
    engine: Arc<Engine>,
    /// The same engine behind the backend interface, for that bookkeeping.
    local: timeseries::Embedded,
    /// Where metric points are written and charts read.
    series: timeseries::SharedTimeseries,
    settings: Arc<DomainSettings>,
    metrics: metric::MetricCache,
    counters: Arc<counters::Counters>,
    /// Striped locks serializing one device's samples, so two requests for the same device
    /// (an agent retrying while its first attempt is still being stored) place their traffic
    /// counters one after the other.
    ingest_locks: Arc<[parking_lot::Mutex<()>; 64]>,
    contacts: Arc<contact::Contacts>,
    events: events::Events,
    clock: SharedClock,
    /// Passwords the InfluxDB API verified recently (argon2 once per client, not per request).
    verified: Arc<user::Verified>,
    /// Each organization's configuration archive, as its devices' polls read it.
    archives: Arc<controller::ArchiveCache>,
}

impl Domain {
    /// The domain over an open storage, its timeseries in the embedded engine.
    pub fn new(storage: &Storage, settings: DomainSettings, clock: SharedClock) -> Self {
        let series = Arc::new(timeseries::Embedded::new(storage.engine().clone()));
        Domain::with_timeseries(storage, settings, clock, series)
    }

    /// The domain over an open storage, its timeseries in `series`.
    pub fn with_timeseries(
        storage: &Storage,
        settings: DomainSettings,
        clock: SharedClock,
        series: timeseries::SharedTimeseries,
    ) -> Self {
        Domain {
            records: storage.records(),
            engine: storage.engine().clone(),
            local: timeseries::Embedded::new(storage.engine().clone()),
            series,
            settings: Arc::new(settings),
            metrics: metric::MetricCache::default(),
            counters: Arc::new(counters::Counters::default()),
            ingest_locks: Arc::new(std::array::from_fn(|_| parking_lot::Mutex::new(()))),
            contacts: Arc::new(contact::Contacts::default()),
            events: events::Events::default(),
            clock,
            verified: Arc::new(user::Verified::default()),
            archives: Arc::new(controller::ArchiveCache::default()),
        }
    }

    /// A domain over a fresh in-memory storage (nothing on disk, nothing survives it), for
    /// the tests of the layers above, which may not reach storage themselves.
    pub fn in_memory(settings: DomainSettings, clock: SharedClock) -> Self {
        let storage = Storage::in_memory(clock.clone());
        Domain::new(&storage, settings, clock)
    }

    /// The event hub: subscribe to status changes, notifications and checks to run.
    pub fn events(&self) -> &events::Events {
        &self.events
    }

    /// The settings.
    pub fn settings(&self) -> &DomainSettings {
        &self.settings
    }

    /// The timeseries backend.
    pub fn timeseries(&self) -> &timeseries::SharedTimeseries {
        &self.series
    }

    /// Creates (or re-applies) the monitoring database and the counters' database; run at
    /// every start.
    ///
    /// # Errors
    /// A duration refused, the store failing.
    pub fn ensure_timeseries(
        &self,
        cfg: &crate::config::TimeseriesConfig,
    ) -> Result<(), DomainError> {
        self.local
            .ensure_database(counters::COUNTERS_DB, counters::COUNTERS_RETENTION)?;
        self.series.ensure(cfg)
    }

    fn now_ns(&self) -> i64 {
        self.clock.now().as_nanos()
    }

    /// A new API token for these credentials; `None` when they are wrong.
    ///
    /// # Errors
    /// Storage or randomness failure.
    pub fn issue_token(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, DomainError> {
        match user::authenticate(&self.records, username, password)? {
            None => Ok(None),
            Some(u) => access::issue_token(&self.records, &u.username, self.now_ns()).map(Some),
        }
    }

    /// The principal holding this API token.
    ///
    /// # Errors
    /// Storage failure.
    pub fn principal_for_token(&self, token: &str) -> Result<Option<Principal>, DomainError> {
        access::principal_for_token(&self.records, token)
    }

    /// Creates a user (superusers only) and optionally makes them a member of organizations.
    ///
    /// # Errors
    /// Not a superuser, invalid values, storage failure.
    pub fn create_user(
        &self,
        who: &Principal,
        username: &str,
        password: &str,
        is_superuser: bool,
        memberships: &[(Id, access::Role)],
    ) -> Result<user::User, DomainError> {
        // Superusers create anyone; an organization's administrators create members of the
        // organizations they administer (never superusers).
        let admin_may = !is_superuser
            && !memberships.is_empty()
            && memberships.iter().all(|(o, _)| who.can_manage(*o));
        if !who.is_superuser && !admin_may {
            return Err(DomainError::Forbidden);
        }
        // Every organization first, so a bad one leaves no half-made user behind.
        for (org, _) in memberships {
            if org::get(&self.records, *org)?.is_none() {
                return Err(DomainError::Invalid {
                    field: "organization",
                    reason: format!("Invalid pk \"{org}\" - object does not exist."),
                });
            }
        }
        let u = user::create(
            &self.records,
            username,
            password,
            is_superuser,
            self.now_ns(),
        )?;
        for (org, role) in memberships {
            access::set_membership(&self.records, username, *org, *role)?;
        }
        Ok(u)
    }

    /// The users the principal may see (superusers: all; others: themselves and the members of
    /// organizations they administer), with their memberships.
    ///
    /// # Errors
    /// Storage failure.
    pub fn users(&self, who: &Principal) -> Result<Vec<UserWithRoles>, DomainError> {
        let mut out = Vec::new();
        for u in user::list(&self.records)? {
            let m = access::memberships_of(&self.records, &u.username)?;
            let visible = who.is_superuser
                || u.username == who.username
                || m.iter().any(|(o, _)| who.can_manage(*o));
            if visible {
                out.push((u, m));
            }
        }
        Ok(out)
    }

    /// One user the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn user(&self, who: &Principal, username: &str) -> Result<UserWithRoles, DomainError> {
        self.users(who)?
            .into_iter()
            .find(|(u, _)| u.username == username)
            .ok_or(DomainError::NotFound)
    }

    /// Changes a user: superusers change anyone; a user may change their own password.
    /// Deactivating a user revokes their tokens.
    ///
    /// # Errors
    /// Unknown or invisible, no permission, a bad password, storage failure.
    pub fn update_user(
        &self,
        who: &Principal,
        username: &str,
        password: Option<&str>,
        is_active: Option<bool>,
        is_superuser: Option<bool>,
    ) -> Result<user::User, DomainError> {
        self.user(who, username)?;
        let own_password_only =
            username == who.username && is_active.is_none() && is_superuser.is_none();
        if !who.is_superuser && !own_password_only {
            return Err(DomainError::Forbidden);
        }
        let u = user::update(&self.records, username, password, is_active, is_superuser)?
            .ok_or(DomainError::NotFound)?;
        if !u.is_active {
            access::revoke_tokens_of(&self.records, username)?;
        }
        Ok(u)
    }

    /// A user's record without any visibility check: only for answering the principal who just
    /// changed that user (see `set_user_memberships`).
    ///
    /// # Errors
    /// Storage failure.
    pub fn user_record(&self, username: &str) -> Result<Option<user::User>, DomainError> {
        user::get(&self.records, username)
    }

    /// Sets a user's roles in the organizations the principal administers (superusers: in all
    /// of them): organizations listed get the role given, the others the principal administers
    /// lose the user; memberships elsewhere stay as they are.
    ///
    /// # Errors
    /// Unknown or invisible user, an organization the principal does not administer
    /// (`Forbidden`) or that does not exist, storage failure.
    pub fn set_user_memberships(
        &self,
        who: &Principal,
        username: &str,
        wanted: &[(Id, access::Role)],
    ) -> Result<(), DomainError> {
        let (_, current) = self.user(who, username)?;
        for (o, _) in wanted {
            if !who.can_manage(*o) {
                return Err(DomainError::Forbidden);
            }
            if org::get(&self.records, *o)?.is_none() {
                return Err(DomainError::Invalid {
                    field: "organization",
                    reason: format!("Invalid pk \"{o}\" - object does not exist."),
                });
            }
        }
        for (o, _) in &current {
            if who.can_manage(*o) && !wanted.iter().any(|(w, _)| w == o) {
                access::remove_membership(&self.records, username, *o)?;
            }
        }
        for (o, role) in wanted {
            access::set_membership(&self.records, username, *o, *role)?;
        }
        Ok(())
    }

    /// Deletes a user with their memberships and tokens (superusers; not oneself).
    ///
    /// # Errors
    /// Unknown, no permission, storage failure.
    pub fn delete_user(&self, who: &Principal, username: &str) -> Result<(), DomainError> {
        let (_, memberships) = self.user(who, username)?;
        if !who.is_superuser || username == who.username {
            return Err(DomainError::Forbidden);
        }
        for (org, _) in memberships {
            access::remove_membership(&self.records, username, org)?;
        }
        access::revoke_tokens_of(&self.records, username)?;
        user::remove(&self.records, username)
    }

    /// The organizations the principal may see.
    ///
    /// # Errors
    /// Storage failure.
    pub fn organizations(&self, who: &Principal) -> Result<Vec<Organization>, DomainError> {
        Ok(org::list(&self.records)?
            .into_iter()
            .filter(|o| who.can_view(o.id))
            .collect())
    }

    /// One organization the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn organization(&self, who: &Principal, id: Id) -> Result<Organization, DomainError> {
        match org::get(&self.records, id)? {
            Some(o) if who.can_view(o.id) => Ok(o),
            _ => Err(DomainError::NotFound),
        }
    }

    /// The id of the organization with this slug (`None` when there is none).
    ///
    /// # Errors
    /// Storage failure.
    pub fn organization_by_slug(&self, slug: &str) -> Result<Option<Id>, DomainError> {
        Ok(org::list(&self.records)?
            .into_iter()
            .find(|o| o.slug == slug)
            .map(|o| o.id))
    }

    /// Creates an organization (superusers only).
    ///
    /// # Errors
    /// Not a superuser, invalid values, storage failure.
    pub fn create_organization(
        &self,
        who: &Principal,
        input: OrganizationInput,
    ) -> Result<Organization, DomainError> {
        if !who.is_superuser {
            return Err(DomainError::Forbidden);
        }
        org::create(&self.records, input, self.now_ns())
    }

    /// Changes an organization (its admins or superusers).
    ///
    /// # Errors
    /// Unknown, invisible or read-only, invalid values, storage failure.
    pub fn update_organization(
        &self,
        who: &Principal,
        id: Id,
        input: OrganizationInput,
    ) -> Result<Organization, DomainError> {
        let before = self.organization(who, id)?;
        if !who.can_manage(id) {
            return Err(DomainError::Forbidden);
        }
        let after =
            org::update(&self.records, id, input, self.now_ns())?.ok_or(DomainError::NotFound)?;
        if before.is_active && !after.is_active {
            // Spec §5.5: a disabled organization's devices become unknown, with their
            // management IPs cleared and their metrics reset; checks and samples stop.
            for d in device::list(&self.records)?
                .into_iter()
                .filter(|d| d.organization == id)
            {
                device::modify_if(&self.records, d.id, |d| d.management_ip.take().is_some())?;
                if d.status == device::HealthStatus::Deactivated {
                    continue;
                }
                self.set_status(d.id, device::HealthStatus::Unknown, false)?;
            }
        }
        Ok(after)
    }

    /// Deletes an organization with its devices and their data (superusers only).
    ///
    /// # Errors
    /// Unknown, not a superuser, storage failure.
    pub fn delete_organization(&self, who: &Principal, id: Id) -> Result<(), DomainError> {
        self.organization(who, id)?;
        if !who.is_superuser {
            return Err(DomainError::Forbidden);
        }
        let devices: Vec<Device> = device::list(&self.records)?
            .into_iter()
            .filter(|d| d.organization == id)
            .collect();
        self.remove_devices(&devices)?;
        silence::remove_organization(&self.records, id)?;
        self.remove_organization_archive(id)?;
        org::remove(&self.records, id)
    }

    /// The devices the principal may see.
    ///
    /// # Errors
    /// Storage failure.
    pub fn devices(&self, who: &Principal) -> Result<Vec<Device>, DomainError> {
        Ok(device::list(&self.records)?
            .into_iter()
            .filter(|d| who.can_view(d.organization))
            .map(|d| self.with_contact(d))
            .collect())
    }

    /// One device the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn device(&self, who: &Principal, id: Id) -> Result<Device, DomainError> {
        match device::get(&self.records, id)? {
            Some(d) if who.can_view(d.organization) => Ok(self.with_contact(d)),
            _ => Err(DomainError::NotFound),
        }
    }

    /// Creates a device in an organization the principal manages.
    ///
    /// # Errors
    /// Unknown organization, no permission, invalid values, storage failure.
    pub fn create_device(
        &self,
        who: &Principal,
        input: DeviceInput,
    ) -> Result<Device, DomainError> {
        let org = input.organization.ok_or(DomainError::Invalid {
            field: "organization",
            reason: "This field is required.".into(),
        })?;
        self.check_org_for_write(who, org)?;
        self.create_device_unchecked(input)
    }

    /// Creates a device with its automatic checks, asking for them to run at once; the
    /// caller has checked who may (an operator's rights, or a registration's secret).
    pub(crate) fn create_device_unchecked(
        &self,
        input: DeviceInput,
    ) -> Result<Device, DomainError> {
        let d = device::create(&self.records, input, self.now_ns())?;
        check::auto_create(
            &self.records,
            d.id,
            d.organization,
            &self.settings.checks,
            self.now_ns(),
        )?;
        // Operators want to see a new device come alive at once, not one period later.
        let checks: Vec<Id> = check::of_device(&self.records, d.id)?
            .into_iter()
            .filter(|c| c.is_active)
            .map(|c| c.id)
            .collect();
        if !checks.is_empty() {
            self.events.publish(&events::Event::RunChecks {
                device: d.id,
                checks,
            });
        }
        Ok(d)
    }

    /// The checks of a device the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible device, storage failure.
    pub fn device_checks(
        &self,
        who: &Principal,
        device: Id,
    ) -> Result<Vec<check::Check>, DomainError> {
        self.device(who, device)?;
        check::of_device(&self.records, device)
    }

    /// Creates (`id` = `None`) or changes a check of a device the principal manages.
    ///
    /// # Errors
    /// Unknown device or check, no permission, invalid values, storage failure.
    pub fn save_check(
        &self,
        who: &Principal,
        device: Id,
        id: Option<Id>,
        input: check::CheckInput,
    ) -> Result<check::Check, DomainError> {
        let d = self.device(who, device)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        let c = check::save(
            &self.records,
            device,
            d.organization,
            id,
            input,
            &self.settings.checks.ping_check_config,
            self.now_ns(),
        )?;
        // A critical check switched off: nothing tells the device's health any more
        // (spec §5.5; upstream compares class paths with metric keys and never gets here).
        if !c.is_active && self.is_critical_check(c.check_type) {
            self.set_status(device, device::HealthStatus::Unknown, false)?;
        }
        if c.is_active {
            // A new or changed check runs now, with its new parameters.
            self.events.publish(&events::Event::RunChecks {
                device,
                checks: vec![c.id],
            });
        }
        Ok(c)
    }

    /// Deletes a check of a device the principal manages.
    ///
    /// # Errors
    /// Unknown device or check, no permission, storage failure.
    pub fn delete_check(&self, who: &Principal, device: Id, id: Id) -> Result<(), DomainError> {
        let d = self.device(who, device)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        let Some(c) = check::of_device(&self.records, device)?
            .into_iter()
            .find(|c| c.id == id)
        else {
            return Err(DomainError::NotFound);
        };
        check::remove(&self.records, device, id)?;
        if self.is_critical_check(c.check_type) {
            self.set_status(device, device::HealthStatus::Unknown, false)?;
        }
        Ok(())
    }

    pub(crate) fn check_org_for_write(&self, who: &Principal, org: Id) -> Result<(), DomainError> {
        if org::get(&self.records, org)?.is_none() || !who.can_view(org) {
            return Err(DomainError::Invalid {
                field: "organization",
                reason: format!("Invalid pk \"{org}\" - object does not exist."),
            });
        }
        if !who.can_manage(org) {
            return Err(DomainError::Forbidden);
        }
        Ok(())
    }

    /// Changes a device the principal manages (moving it needs rights on both organizations).
    ///
    /// # Errors
    /// Unknown, no permission, invalid values, storage failure.
    pub fn update_device(
        &self,
        who: &Principal,
        id: Id,
        input: DeviceInput,
    ) -> Result<Device, DomainError> {
        let d = self.device(who, id)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        if let Some(org) = input.organization
            && org != d.organization
        {
            self.check_org_for_write(who, org)?;
        }
        let after = device::update(&self.records, id, input, self.now_ns())?
            .ok_or(DomainError::NotFound)?;
        if after.status != d.status {
            // (De)activation (spec §5.5): back from deactivated is `unknown`, with the
            // metrics reset so the next sample derives the status afresh.
            if after.status == device::HealthStatus::Unknown {
                metric::reset_health(&self.records, &self.metrics, id, self.now_ns())?;
            }
            self.events.publish(&events::Event::HealthChanged {
                device: id,
                organization: after.organization,
                from: d.status,
                to: after.status,
            });
        }
        Ok(self.with_contact(after))
    }

    /// Deletes a device and its timeseries.
    ///
    /// # Errors
    /// Unknown, no permission, storage failure.
    pub fn delete_device(&self, who: &Principal, id: Id) -> Result<(), DomainError> {
        let d = self.device(who, id)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        self.remove_devices(std::slice::from_ref(&d))
    }

    /// The device an agent's request names, checked as upstream does (spec §3.1): unknown or
    /// in an inactive organization → `Unknown`; wrong or missing key → `BadKey`; deactivated
    /// → `Deactivated`. The key is compared in constant time.
    ///
    /// # Errors
    /// Storage failure.
    pub fn agent_device(&self, id: Id, key: Option<&str>) -> Result<AgentDevice, DomainError> {
        let Some(d) = device::get(&self.records, id)? else {
            return Ok(AgentDevice::Unknown);
        };
        match org::get(&self.records, d.organization)? {
            Some(o) if o.is_active => {}
            _ => return Ok(AgentDevice::Unknown),
        }
        if !key.is_some_and(|k| id::secrets_equal(k, &d.key)) {
            return Ok(AgentDevice::BadKey);
        }
        if d.is_deactivated {
            return Ok(AgentDevice::Deactivated);
        }
        Ok(AgentDevice::Active(Box::new(d)))
    }

    /// The metrics of a device the principal may see, by name.
    ///
    /// # Errors
    /// Unknown or invisible device, storage failure.
    pub fn device_metrics(
        &self,
        who: &Principal,
        id: Id,
    ) -> Result<Vec<metric::Metric>, DomainError> {
        self.device(who, id)?;
        let mut v = metric::of_object(&self.records, id)?;
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.key.cmp(&b.key)));
        Ok(v)
    }

    /// A device's charts over the requested window (spec §4.2).
    ///
    /// # Errors
    /// Unknown, invisible or disabled device (`NotFound`), a wrong key (`Forbidden`), bad
    /// parameters (`Refused`), chart or storage failure.
    pub fn device_charts(
        &self,
        access: &ChartAccess,
        id: Id,
        req: &charts::ChartRequest,
        with_status: bool,
    ) -> Result<DeviceCharts, DomainError> {
        let device = match access {
            ChartAccess::Operator(p) => self.device(p, id)?,
            ChartAccess::DeviceKey(_) => {
                device::get(&self.records, id)?.ok_or(DomainError::NotFound)?
            }
        };
        // A disabled organization's devices do not exist, whatever the key.
        match org::get(&self.records, device.organization)? {
            Some(o) if o.is_active => {}
            _ => return Err(DomainError::NotFound),
        }
        if let ChartAccess::DeviceKey(key) = access
            && !id::secrets_equal(key, &device.key)
        {
            return Err(DomainError::Forbidden);
        }
        let now = self.now_ns();
        let window = charts::validate(req, &self.settings.default_chart_time, now)?;
        let mut metrics = metric::of_object(&self.records, id)?;
        metrics.sort_by(|a, b| a.name.cmp(&b.name).then(a.key.cmp(&b.key)));
        let (charts, x) = charts::device_charts(
            self.series.as_ref(),
            &self.settings.registry,
            &self.settings.database,
            &metrics,
            &window,
            now,
        )?;
        let data = if with_status {
            self.latest_snapshot(id)?
        } else {
            None
        };
        Ok(DeviceCharts {
            device,
            metrics,
            charts,
            x,
            data,
        })
    }

    /// A device's ping latency distribution over the requested window (see
    /// [`charts::ping_latency`]).
    ///
    /// # Errors
    /// Not visible (`NotFound`), bad parameters (`Refused`), engine failure.
    pub fn ping_latency(
        &self,
        who: &Principal,
        id: Id,
        req: &charts::ChartRequest,
    ) -> Result<serde_json::Value, DomainError> {
        let device = self.device(who, id)?;
        let now = self.now_ns();
        let window = charts::validate(req, &self.settings.default_chart_time, now)?;
        let key = self
            .settings
            .registry
            .metric("ping")
            .map_or("ping", |m| m.key.as_str());
        charts::ping_latency(
            self.series.as_ref(),
            &self.settings.database,
            key,
            device.id,
            &window,
            now,
        )
    }

    /// The dashboard's general charts (spec §4.6) within the requested organizations (slugs),
    /// locations and floor plans; also the organizations the principal sees (for the selector).
    ///
    /// # Errors
    /// No organization (`Forbidden`), an unknown or foreign slug, location or floor plan
    /// (`NotFound` / `Forbidden`), bad parameters (`Refused`), chart or storage failure.
    pub fn dashboard(
        &self,
        who: &Principal,
        req: &charts::ChartRequest,
        slugs: &[String],
        locations: &[String],
        floorplans: &[String],
    ) -> Result<Dashboard, DomainError> {
        if !who.is_superuser && who.memberships.is_empty() {
            return Err(DomainError::Forbidden);
        }
        let all = org::list(&self.records)?;
        let visible: Vec<Organization> =
            all.iter().filter(|o| who.can_view(o.id)).cloned().collect();
        let mut in_scope: Vec<&Organization> = Vec::new();
        for s in slugs {
            let o = all
                .iter()
                .find(|o| &o.slug == s)
                .ok_or(DomainError::NotFound)?;
            if !who.can_view(o.id) {
                return Err(DomainError::Forbidden);
            }
            in_scope.push(o);
        }
        let organizations = if !in_scope.is_empty() {
            Some(in_scope.iter().map(|o| o.id).collect::<Vec<_>>())
        } else {
            who.visible_orgs()
        };
        let allowed = |org: Id| organizations.as_ref().is_none_or(|v| v.contains(&org));
        for l in locations {
            let ok = Id::parse(l)
                .and_then(|id| geo::location(&self.records, id).ok().flatten())
                .is_some_and(|loc| who.can_view(loc.organization) && allowed(loc.organization));
            if !ok {
                return Err(DomainError::NotFound);
            }
        }
        for f in floorplans {
            let ok = Id::parse(f)
                .and_then(|id| geo::floorplan(&self.records, id).ok().flatten())
                .is_some_and(|fp| who.can_view(fp.organization) && allowed(fp.organization));
            if !ok {
                return Err(DomainError::NotFound);
            }
        }
        let single_slug = match organizations.as_deref() {
            Some([one]) => all.iter().find(|o| o.id == *one).map(|o| o.slug.clone()),
            _ => None,
        };
        let interfaces = single_slug
            .and_then(|s| self.settings.dashboard_traffic.get(&s))
            .or_else(|| self.settings.dashboard_traffic.get("__all__"))
            .map(|v| {
                v.iter()
                    .map(|i| registry::clean_timeseries_data_key(i))
                    .collect()
            })
            .unwrap_or_default();
        let scope = charts::Scope {
            organizations: organizations.map(|v| v.iter().map(Id::to_string).collect()),
            locations: locations.to_vec(),
            floorplans: floorplans.to_vec(),
            interfaces,
        };
        let now = self.now_ns();
        let window = charts::validate(req, &self.settings.default_chart_time, now)?;
        let (charts, x) = charts::general_charts(
            self.series.as_ref(),
            &self.settings.registry,
            &self.settings.database,
            &scope,
            &window,
            now,
        )?;
        Ok(Dashboard {
            charts,
            x,
            organizations: visible,
        })
    }

    /// The charts of wispmon's own numbers (see [`charts::system_charts`]), for superusers;
    /// `None` when self-monitoring is not written (`[telemetry] database` empty).
    ///
    /// # Errors
    /// Not a superuser (`Forbidden`), bad parameters (`Refused`), store failure.
    pub fn system_charts(
        &self,
        who: &Principal,
        req: &charts::ChartRequest,
    ) -> Result<Option<charts::Charts>, DomainError> {
        if !who.is_superuser {
            return Err(DomainError::Forbidden);
        }
        let now = self.now_ns();
        let window = charts::validate(req, &self.settings.default_chart_time, now)?;
        let Some(db) = &self.settings.telemetry_database else {
            return Ok(None);
        };
        charts::system_charts(self.series.as_ref(), db, &window, now).map(Some)
    }

    /// The latest `device_data` snapshot of a device, as JSON.
    ///
    /// # Errors
    /// Storage failure.
    pub fn latest_snapshot(&self, id: Id) -> Result<Option<serde_json::Value>, DomainError> {
        let tags = [("pk".to_owned(), vec![id.to_string()])];
        let q = timeseries::FieldQuery {
            db: &self.settings.database,
            rp: Some(timeseries::SHORT_RP),
            measurement: "device_data",
            tags: &tags,
            field: "data",
            lo: i64::MIN,
            hi: i64::MAX,
        };
        // The latest snapshot is normally minutes old: the last hour is read first.
        let recent = self.now_ns().saturating_sub(3_600_000_000_000);
        Ok(match self.series.latest(&q, recent)? {
            Some((_, crate::storage::FieldValue::String(s))) => serde_json::from_str(&s).ok(),
            _ => None,
        })
    }

    /// Changes the alert settings of one metric of a device the principal manages.
    ///
    /// # Errors
    /// Unknown device or metric, no permission, a metric without alert settings, invalid
    /// values, storage failure.
    pub fn edit_alert_settings(
        &self,
        who: &Principal,
        device_id: Id,
        metric_id: Id,
        input: metric::AlertInput,
    ) -> Result<metric::Metric, DomainError> {
        let d = self.device(who, device_id)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        let registry = &self.settings.registry;
        let m = metric::update_of_object(
            &self.records,
            &self.metrics,
            device_id,
            metric_id,
            |m| {
                let current = m.alert.clone().ok_or(DomainError::NotFound)?;
                let defaults = registry.metric(&m.configuration).map_or(
                    registry::FALLBACK_ALERT,
                    registry::MetricConfig::effective_alert,
                );
                m.alert = Some(metric::edit_alert(&current, input, defaults)?);
                Ok(())
            },
            self.now_ns(),
        )?;
        Ok(m)
    }

    /// Notes an authenticated contact of a device (its agent posted, polled, registered) from
    /// `ip`; stored by [`Domain::flush_contacts`]. A contact is proof of life: a device
    /// marked critical gets its critical checks re-run (spec §5.6).
    ///
    /// # Errors
    /// Storage failure of the recovery detection.
    pub fn note_contact(&self, device: &Device, ip: Option<String>) -> Result<(), DomainError> {
        self.contacts.note(device.id, self.now_ns(), ip);
        self.react_to_contact(device)
    }

    /// Stores the pending device contacts (`last_seen`, `last_ip`).
    ///
    /// # Errors
    /// Storage failure (the contacts are kept for the next attempt).
    pub fn flush_contacts(&self) -> Result<usize, DomainError> {
        self.contacts.flush(&self.records)
    }

    /// A device as shown: its record with any contact not stored yet.
    fn with_contact(&self, mut d: Device) -> Device {
        if let Some((at, ip)) = self.contacts.pending(d.id) {
            d.last_seen_ns = Some(d.last_seen_ns.map_or(at, |s| s.max(at)));
            if ip.is_some() {
                d.last_ip = ip;
            }
        }
        d
    }

    /// The server clock, ns since the epoch.
    pub fn now(&self) -> i64 {
        self.now_ns()
    }

    /// Removes devices with everything of theirs (see [`Self::remove_one_device`]).
    fn remove_devices(&self, devices: &[Device]) -> Result<(), DomainError> {
        // Links between devices are one scan for all of them (an organization's deletion
        // removes thousands).
        let ids: Vec<Id> = devices.iter().map(|d| d.id).collect();
        silence::remove_devices(&self.records, &ids)?;
        for d in devices {
            controller::remove_device(&self.records, d.id)?;
            self.remove_one_device(d)?;
        }
        Ok(())
    }

    /// Removes the device's series from every measurement (tags `object_id` for metrics,
    /// `pk` for snapshots), its metrics, sessions and checks, then its record.
    fn remove_one_device(&self, d: &Device) -> Result<(), DomainError> {
        let id = d.id.to_string();
        self.series.drop_object(&self.settings.database, &id)?;
        self.local.drop_object(counters::COUNTERS_DB, &id)?;
        metric::remove_object(&self.records, &self.metrics, d.id)?;
        wifi::remove_device(&self.records, d.id)?;
        check::remove_device(&self.records, d.id)?;
        self.counters.forget(d.id);
        device::remove(&self.records, d.id)
    }

    /// Creates the administrator account on the very first start (see [`user::bootstrap_admin`]).
    ///
    /// # Errors
    /// As [`user::bootstrap_admin`].
    pub fn bootstrap_admin(
        &self,
        given_password: Option<&str>,
    ) -> Result<user::AdminBootstrap, DomainError> {
        user::bootstrap_admin(&self.records, given_password, self.clock.now())
    }

    /// Starts a web UI session for these credentials; `None` when they are wrong.
    ///
    /// # Errors
    /// Storage or randomness failure.
    pub fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<session::Login>, DomainError> {
        session::login(&self.records, username, password, self.now_ns())
    }

    /// The principal and session behind a session cookie.
    ///
    /// # Errors
    /// Storage failure.
    pub fn session(
        &self,
        secret: &str,
    ) -> Result<Option<(Principal, session::Session)>, DomainError> {
        session::resolve(&self.records, secret, self.now_ns())
    }

    /// One's API tokens (ids and creation times; the texts are not kept).
    ///
    /// # Errors
    /// Storage failure.
    pub fn tokens(&self, who: &Principal) -> Result<Vec<access::TokenInfo>, DomainError> {
        access::tokens_of(&self.records, &who.username)
    }

    /// A new API token for the principal (the UI's token page; its text is shown once).
    ///
    /// # Errors
    /// Storage or randomness failure.
    pub fn issue_own_token(&self, who: &Principal) -> Result<String, DomainError> {
        access::issue_token(&self.records, &who.username, self.now_ns())
    }

    /// Revokes one of one's API tokens by id.
    ///
    /// # Errors
    /// No such token of one's own, storage failure.
    pub fn revoke_own_token(&self, who: &Principal, id: &str) -> Result<(), DomainError> {
        access::revoke_token_by_id(&self.records, &who.username, id)
    }

    /// Ends a web UI session.
    ///
    /// # Errors
    /// Storage failure.
    pub fn logout(&self, secret: &str) -> Result<(), DomainError> {
        session::logout(&self.records, secret)
    }

    /// The active user with these credentials, for clients that send them with every request
    /// (the InfluxDB API): a success is remembered for 5 minutes, so argon2 runs once per
    /// client and password, not per request.
    ///
    /// # Errors
    /// Storage failure.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<user::User>, DomainError> {
        user::authenticate_remembered(&self.records, &self.verified, username, password)
    }
}
