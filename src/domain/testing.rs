//! A small world for the domain's tests: two organizations, users with every role, one
//! device, on a mock clock and in-memory storage; results written as the check runners do.

use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::Receiver;

use super::access::{Principal, Role};
use super::device::{self, Device, DeviceInput, HealthStatus};
use super::events::Event;
use super::id::Id;
use super::metric;
use super::notification::{self, Notification};
use super::org::OrganizationInput;
use super::{Domain, DomainSettings};
use crate::storage::{FieldValue, Storage};
use crate::time::{MockClock, Timestamp};

pub(crate) const T0: i64 = 1_790_000_000 * 1_000_000_000;

#[allow(missing_debug_implementations)]
pub(crate) struct World {
    pub(crate) d: Domain,
    pub(crate) clock: Arc<MockClock>,
    pub(crate) root: Principal,
    pub(crate) org: Id,
    pub(crate) other_org: Id,
    pub(crate) dev: Device,
    pub(crate) events: Receiver<Event>,
    pub(crate) _storage: Storage,
}

pub(crate) fn world_with(f: impl FnOnce(&mut DomainSettings)) -> World {
    let clock = Arc::new(MockClock::new(Timestamp::from_nanos(T0)));
    let storage = Storage::in_memory(clock.clone());
    let mut settings = DomainSettings::defaults("openwisp2");
    settings.notifications.site_name = "example.com".into();
    settings.notifications.base_url = "https://nms.example.com".into();
    f(&mut settings);
    let d = Domain::new(&storage, settings, clock.clone());
    d.ensure_timeseries(&crate::config::Config::default().timeseries)
        .unwrap();
    let root = Principal {
        username: "root".into(),
        is_superuser: true,
        memberships: Vec::new(),
    };
    let mk_org = |name: &str| {
        d.create_organization(
            &root,
            OrganizationInput {
                name: Some(name.into()),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };
    let org = mk_org("isp");
    let other_org = mk_org("other");
    d.create_user(&root, "root", "password-root", true, &[])
        .unwrap();
    d.create_user(
        &root,
        "alice",
        "password-alice",
        false,
        &[(org, Role::Admin)],
    )
    .unwrap();
    d.create_user(
        &root,
        "victor",
        "password-victor",
        false,
        &[(org, Role::Viewer)],
    )
    .unwrap();
    d.create_user(
        &root,
        "bob",
        "password-bob",
        false,
        &[(other_org, Role::Admin)],
    )
    .unwrap();
    let dev = d
        .create_device(
            &root,
            DeviceInput {
                organization: Some(org),
                name: Some("ap-lobby-01".into()),
                mac_address: Some("00:11:22:33:44:55".into()),
                management_ip: Some(Some("10.0.0.2".into())),
                ..Default::default()
            },
        )
        .unwrap();
    let events = d.events().subscribe();
    World {
        d,
        clock,
        root,
        org,
        other_org,
        dev,
        events,
        _storage: storage,
    }
}

pub(crate) fn world() -> World {
    world_with(|_| {})
}

impl World {
    /// The world's device.
    pub(crate) fn status(&self) -> &'static str {
        self.for_device(self.dev.id).status()
    }

    /// Writes a result for the world's device a minute after the previous one and returns
    /// the status.
    pub(crate) fn result(&self, configuration: &str, field: &str, v: f64) -> &'static str {
        self.for_device(self.dev.id).result(configuration, field, v)
    }

    pub(crate) fn ping(&self, v: f64) -> &'static str {
        self.result("ping", "reachable", v)
    }

    pub(crate) fn cpu(&self, v: f64) -> &'static str {
        self.result("cpu", "cpu_usage", v)
    }

    /// Pings the world's device once (healthy) and sets ping's tolerance to zero, so alerts
    /// follow at once.
    pub(crate) fn instant_ping_alerts(&self) {
        self.for_device(self.dev.id).instant_ping_alerts();
    }

    /// Adds a device to an organization of the world.
    pub(crate) fn add_device(&self, org: Id, name: &str, mac: &str) -> Device {
        self.d
            .create_device(
                &self.root,
                DeviceInput {
                    organization: Some(org),
                    name: Some(name.into()),
                    mac_address: Some(mac.into()),
                    ..Default::default()
                },
            )
            .unwrap()
    }

    /// The same helpers for another device.
    pub(crate) fn for_device(&self, id: Id) -> DeviceView<'_> {
        DeviceView { w: self, id }
    }

    /// The principal of a user of the world.
    pub(crate) fn principal(&self, username: &str) -> Principal {
        let u = super::user::get(&self.d.records, username)
            .unwrap()
            .unwrap();
        Principal::of(&self.d.records, &u).unwrap()
    }

    pub(crate) fn notes(&self, user: &str) -> Vec<Notification> {
        notification::of_user(&self.d.records, user).unwrap()
    }

    pub(crate) fn health_events(&self) -> Vec<(HealthStatus, HealthStatus)> {
        self.events
            .try_iter()
            .filter_map(|e| match e {
                Event::HealthChanged { from, to, .. } => Some((from, to)),
                _ => None,
            })
            .collect()
    }
}

pub(crate) fn ping_only(s: &mut DomainSettings) {
    s.health.critical.truncate(1);
}

/// One device of a [`World`].
#[allow(missing_debug_implementations)]
pub(crate) struct DeviceView<'a> {
    w: &'a World,
    id: Id,
}

impl DeviceView<'_> {
    pub(crate) fn status(&self) -> &'static str {
        self.w
            .d
            .device(&self.w.root, self.id)
            .unwrap()
            .status
            .as_str()
    }

    /// Writes a result a minute after the previous one and returns the status.
    pub(crate) fn result(&self, configuration: &str, field: &str, v: f64) -> &'static str {
        self.w.clock.advance(Duration::from_secs(60));
        let dev = device::get(&self.w.d.records, self.id).unwrap().unwrap();
        let value = if configuration == "cpu" {
            FieldValue::Float(v)
        } else {
            FieldValue::Integer(v as i64)
        };
        self.w
            .d
            .record_check_result(&dev, configuration, vec![(field.into(), value)], None, true)
            .unwrap();
        self.status()
    }

    pub(crate) fn ping(&self, v: f64) -> &'static str {
        self.result("ping", "reachable", v)
    }

    /// Pings once (healthy) and sets ping's tolerance to zero, so alerts follow at once.
    pub(crate) fn instant_ping_alerts(&self) {
        self.ping(1.0);
        let m = metric::of_object(&self.w.d.records, self.id)
            .unwrap()
            .into_iter()
            .find(|m| m.key == "ping")
            .unwrap();
        self.w
            .d
            .edit_alert_settings(
                &self.w.root,
                self.id,
                m.id,
                metric::AlertInput {
                    tolerance: Some(Some(0)),
                    ..Default::default()
                },
            )
            .unwrap();
    }
}
