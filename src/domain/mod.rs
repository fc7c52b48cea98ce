//! The monitoring domain: organizations, users, devices, metrics, charts, alerts and health.
//!
//! Owns: the product's rules as plain functions and records kept through `storage`'s record
//! store; alert evaluation and health status are pure and testable without tokio. Must not:
//! touch sockets, HTTP or sled, or read the wall clock other than through `time::Clock`.

pub mod access;
pub mod counters;
pub mod device;
mod error;
pub mod id;
pub mod metric;
pub mod org;
pub mod timeseries;
pub mod user;

pub use error::DomainError;

use std::sync::Arc;

use access::Principal;
use device::{Device, DeviceInput};
use id::Id;
use org::{Organization, OrganizationInput};

use crate::storage::{Engine, Records, Storage};
use crate::time::SharedClock;

/// The domain's handle: records, the timeseries engine and the clock, shared by the API and
/// the monitor.
#[derive(Debug, Clone)]
pub struct Domain {
    records: Records,
    engine: Arc<Engine>,
    /// The monitoring database in the engine (`TIMESERIES_DATABASE["NAME"]`).
    database: Arc<str>,
    clock: SharedClock,
}

impl Domain {
    /// The domain over an open storage, keeping its timeseries in `database`.
    pub fn new(storage: &Storage, database: &str, clock: SharedClock) -> Self {
        Domain {
            records: storage.records(),
            engine: storage.engine().clone(),
            database: database.into(),
            clock,
        }
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
        if !who.is_superuser {
            return Err(DomainError::Forbidden);
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
        self.organization(who, id)?;
        if !who.can_manage(id) {
            return Err(DomainError::Forbidden);
        }
        org::update(&self.records, id, input, self.now_ns())?.ok_or(DomainError::NotFound)
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
        for d in device::list(&self.records)?
            .into_iter()
            .filter(|d| d.organization == id)
        {
            self.remove_device(&d)?;
        }
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
            .collect())
    }

    /// One device the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn device(&self, who: &Principal, id: Id) -> Result<Device, DomainError> {
        match device::get(&self.records, id)? {
            Some(d) if who.can_view(d.organization) => Ok(d),
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
        device::create(&self.records, input, self.now_ns())
    }

    fn check_org_for_write(&self, who: &Principal, org: Id) -> Result<(), DomainError> {
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
        device::update(&self.records, id, input, self.now_ns())?.ok_or(DomainError::NotFound)
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
        self.remove_device(&d)
    }

    /// Removes the device's series from every measurement (tags `object_id` for metrics,
    /// `pk` for snapshots), then its record.
    fn remove_device(&self, d: &Device) -> Result<(), DomainError> {
        let db = &*self.database;
        let id = d.id.to_string();
        if self.engine.database(db).is_some() {
            for m in self.engine.measurements(db)? {
                let mut ids = self.engine.series_with_tag(db, &m, "object_id", &id)?;
                ids.extend(self.engine.series_with_tag(db, &m, "pk", &id)?);
                if !ids.is_empty() {
                    self.engine.drop_series(db, &ids)?;
                }
            }
        }
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

    /// The active user with these credentials.
    ///
    /// # Errors
    /// Storage failure.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<user::User>, DomainError> {
        user::authenticate(&self.records, username, password)
    }
}
