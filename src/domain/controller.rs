//! The configuration agent's side of a device (spec device-agents §2): self-registration with
//! an organization's shared secret, the configuration archive and its checksum, the
//! configuration status the agent reports, and the device facts it sends.
//!
//! Owns: the registration rules (§2.8), the one inert archive every device gets (built
//! deterministically once, then kept as a record so its checksum never changes under a
//! device, even across wispmon versions), the `config_status` and `agent_info` records, and
//! md5 (what the agent compares the archive with).
//!
//! Why an inert archive: the agent applies whatever it downloads as root and removes what a
//! previous controller installed (§2.4). A monitoring appliance pushes nothing: the archive
//! holds one small file outside `etc/config/`, so applying it changes no service.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest as _, Md5};

use super::access::Principal;
use super::check::CheckType;
use super::device::{self, Device, DeviceInput};
use super::error::DomainError;
use super::events::Event;
use super::id::{Id, is_valid_device_key};
use super::{check, org};
use crate::storage::{Record, Records};

pub mod archive;

/// The only configuration backend wispmon answers for (what openwisp-config posts).
pub const BACKEND: &str = "netjsonconfig.OpenWrt";

/// Longest accepted value of a registration or report field; `error_reason` is about 1 KiB
/// from real agents.
pub const MAX_FIELD: usize = 4096;

/// What the archive's one file says.
const ARCHIVE_FILE: &str = "etc/wispmon/README";
const ARCHIVE_TEXT: &str = "This device is monitored by wispmon.\n\
It receives no configuration from wispmon: this archive is intentionally inert.\n";

/// A device's configuration status (spec device-agents §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum ConfigState {
    /// The archive changed (or the device registered) and was not applied yet.
    Modified,
    /// The agent applied it.
    Applied,
    /// The agent failed to apply it.
    Error,
    /// Being deactivated.
    Deactivating,
    /// Deactivated.
    Deactivated,
}

impl ConfigState {
    /// The agent's and the API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigState::Modified => "modified",
            ConfigState::Applied => "applied",
            ConfigState::Error => "error",
            ConfigState::Deactivating => "deactivating",
            ConfigState::Deactivated => "deactivated",
        }
    }

    /// Parses a reported status.
    pub fn parse(s: &str) -> Option<ConfigState> {
        Some(match s {
            "modified" => ConfigState::Modified,
            "applied" => ConfigState::Applied,
            "error" => ConfigState::Error,
            "deactivating" => ConfigState::Deactivating,
            "deactivated" => ConfigState::Deactivated,
            _ => return None,
        })
    }
}

/// The configuration status of a device that has a configuration (registered or polling).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ConfigStatus {
    /// The state.
    pub state: ConfigState,
    /// The agent's log excerpt for `error`.
    pub error_reason: String,
    /// When the state last changed, ns since the epoch.
    pub modified_ns: i64,
}

impl ConfigStatus {
    /// `modified` since `now_ns`: the device has an archive it did not apply yet.
    fn modified(now_ns: i64) -> ConfigStatus {
        ConfigStatus {
            state: ConfigState::Modified,
            error_reason: String::new(),
            modified_ns: now_ns,
        }
    }
}

impl Record for ConfigStatus {
    const TREE: &'static str = "config_status";
    const VERSION: u8 = 1;
}

/// What the config agent says about a device beyond the device record.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AgentInfo {
    /// `hardware_id` posted at registration.
    pub hardware_id: String,
    /// `tags` posted at registration (space-separated there).
    pub tags: Vec<String>,
}

impl Record for AgentInfo {
    const TREE: &'static str = "agent_info";
    const VERSION: u8 = 1;
}

/// The archive every device gets, kept once built.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ConfigArchive {
    /// The tar.gz.
    pub bytes: Vec<u8>,
    /// Its md5, 32 lowercase hex digits.
    pub checksum: String,
}

impl Record for ConfigArchive {
    const TREE: &'static str = "config_archive";
    const VERSION: u8 = 1;
}

/// The built-in archive's key; an organization's own archive is kept under its id.
const ARCHIVE_KEY: &[u8] = b"default";

/// The archive each organization's devices get (and whether it is the organization's own),
/// kept once read: every device polls the checksum every 2 minutes, and an uploaded archive
/// is up to 1 MiB that a poll must not decode. Writers replace an entry under the write lock
/// together with the record, and a reader only fills an empty entry, so a reader that read
/// the record before a change cannot put the old archive back.
#[derive(Debug, Default)]
pub(crate) struct ArchiveCache(parking_lot::RwLock<HashMap<Id, (Arc<ConfigArchive>, bool)>>);

/// An organization's configuration archive, as its operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// md5 of the tar.gz: what the agents compare.
    pub checksum: String,
    /// Size of the tar.gz in bytes.
    pub size: usize,
    /// Uploaded by the organization (`false`: wispmon's built-in inert archive).
    pub custom: bool,
    /// Its entries.
    pub entries: Vec<archive::Entry>,
}

impl ArchiveInfo {
    fn of(a: &ConfigArchive, custom: bool) -> ArchiveInfo {
        ArchiveInfo {
            checksum: a.checksum.clone(),
            size: a.bytes.len(),
            custom,
            // Stored archives were inspected before they were stored (the built-in one by
            // a test); a failure here would only hide the listing.
            entries: archive::inspect_archive(&a.bytes).unwrap_or_default(),
        }
    }
}

/// A registration request as the agent posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// `secret`: the organization's shared secret.
    pub secret: Option<String>,
    /// `backend`.
    pub backend: Option<String>,
    /// `name`: hostname or MAC.
    pub name: Option<String>,
    /// `mac_address`.
    pub mac_address: Option<String>,
    /// `key`: the agent's consistent key, when it uses one.
    pub key: Option<String>,
    /// `management_ip`.
    pub management_ip: Option<String>,
    /// `hardware_id`.
    pub hardware_id: Option<String>,
    /// `tags`, space-separated.
    pub tags: Option<String>,
    /// `model`.
    pub model: Option<String>,
    /// `os`.
    pub os: Option<String>,
    /// `system`.
    pub system: Option<String>,
}

/// A successful registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The device.
    pub id: Id,
    /// Its key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Created now (`false`: an existing device found by its key).
    pub is_new: bool,
}

/// The refusal of a registration whose shared secret is no organization's (the API throttles
/// addresses that keep sending one).
pub const UNRECOGNIZED_SECRET: &str = "error: unrecognized secret";

/// Why a controller request is refused, with the status the agent acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the agent retries later (missing field, invalid value).
    BadRequest(String),
    /// 403: the agent stops (wrong secret, registration off, wrong backend).
    Forbidden(String),
}

/// Builds the inert archive: a directory and one text file, fixed times and owners, gzip
/// header without a name or time, so the bytes depend only on this code and flate2.
///
/// # Errors
/// Compression failure (not expected in memory).
pub fn build_archive() -> std::io::Result<ConfigArchive> {
    let header = |path: &str, size: usize, mode: u32, kind: u8| {
        archive::ustar_header(path, size as u64, mode, kind)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.0))
    };
    let mut tar = Vec::with_capacity(10_240);
    tar.extend_from_slice(&header("etc/wispmon/", 0, 0o755, b'5')?);
    let body = ARCHIVE_TEXT.as_bytes();
    tar.extend_from_slice(&header(ARCHIVE_FILE, body.len(), 0o644, b'0')?);
    tar.extend_from_slice(body);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    let bytes = archive::finish_tar_gz(tar)?;
    let checksum = md5_hex(&bytes);
    Ok(ConfigArchive { bytes, checksum })
}

/// Lowercase hex md5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A device's configuration status, if it has a configuration.
///
/// # Errors
/// Storage failure.
pub fn status_of(records: &Records, device: Id) -> Result<Option<ConfigStatus>, DomainError> {
    Ok(records.get::<ConfigStatus>(&device.0)?)
}

/// Removes what the agent left of a deleted device.
///
/// # Errors
/// Storage failure.
pub fn remove_device(records: &Records, device: Id) -> Result<(), DomainError> {
    records.remove::<ConfigStatus>(&device.0)?;
    records.remove::<AgentInfo>(&device.0)?;
    Ok(())
}

fn bounded(name: &str, v: Option<String>) -> Result<Option<String>, Refusal> {
    match v {
        Some(s) if s.len() > MAX_FIELD => Err(Refusal::BadRequest(format!(
            "error: parameter \"{name}\" is longer than {MAX_FIELD} bytes"
        ))),
        other => Ok(other),
    }
}

/// Constant-time comparison of two secrets (length leaks, content does not).
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl super::Domain {
    /// The archive every device gets, built and stored on first use.
    ///
    /// # Errors
    /// Storage failure.
    pub fn config_archive(&self) -> Result<ConfigArchive, DomainError> {
        if let Some(a) = self.records.get::<ConfigArchive>(ARCHIVE_KEY)? {
            return Ok(a);
        }
        let built = build_archive().map_err(|e| DomainError::Refused(e.to_string()))?;
        // Two first requests racing: the first stored wins, both answer with it.
        self.records.insert_new(ARCHIVE_KEY, &built)?;
        Ok(self
            .records
            .get::<ConfigArchive>(ARCHIVE_KEY)?
            .unwrap_or(built))
    }

    /// The archive the devices of `org` download (the organization's own, else the built-in
    /// inert one), and whether it is the organization's own.
    ///
    /// # Errors
    /// Storage failure.
    pub fn config_archive_for(&self, org: Id) -> Result<(Arc<ConfigArchive>, bool), DomainError> {
        if let Some(hit) = self.archives.0.read().get(&org) {
            return Ok(hit.clone());
        }
        let found = match self.records.get::<ConfigArchive>(&org.0)? {
            Some(a) => (Arc::new(a), true),
            None => (Arc::new(self.config_archive()?), false),
        };
        Ok(self.archives.0.write().entry(org).or_insert(found).clone())
    }

    /// The archive of an organization the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible organization, storage failure.
    pub fn organization_archive(
        &self,
        who: &Principal,
        org: Id,
    ) -> Result<ArchiveInfo, DomainError> {
        self.organization(who, org)?;
        let (a, custom) = self.config_archive_for(org)?;
        Ok(ArchiveInfo::of(&a, custom))
    }

    /// Replaces an organization's archive with `bytes` (a tar.gz read and rewritten with its
    /// regular files only by [`archive::repack`]), or with the built-in one when `bytes` is
    /// `None`. Logged as a warning: it is root on every router of the organization. Every
    /// device of the organization that has a configuration becomes `modified` when the
    /// checksum changes: its agent downloads and applies the new archive at its next poll.
    ///
    /// # Errors
    /// `Invalid` naming what is wrong with the archive; unknown or invisible organization;
    /// `Forbidden` unless the principal manages it; storage failure.
    pub fn set_organization_archive(
        &self,
        who: &Principal,
        org: Id,
        bytes: Option<Vec<u8>>,
    ) -> Result<ArchiveInfo, DomainError> {
        self.organization(who, org)?;
        if !who.can_manage(org) {
            return Err(DomainError::Forbidden);
        }
        let before = self.config_archive_for(org)?.0.checksum.clone();
        let info = match bytes {
            Some(bytes) => {
                let packed = archive::repack(&bytes).map_err(|e| {
                    tracing::warn!(organization = %org, user = %who.username, refusal = %e, "configuration archive refused");
                    DomainError::Invalid {
                        field: "archive",
                        reason: e.0,
                    }
                })?;
                let a = ConfigArchive {
                    checksum: md5_hex(&packed.bytes),
                    bytes: packed.bytes,
                };
                tracing::warn!(
                    organization = %org,
                    user = %who.username,
                    checksum = %a.checksum,
                    files = packed.entries.len(),
                    "configuration archive replaced: the organization's routers will apply it"
                );
                let info = ArchiveInfo {
                    checksum: a.checksum.clone(),
                    size: a.bytes.len(),
                    custom: true,
                    entries: packed.entries,
                };
                let mut cache = self.archives.0.write();
                self.records.put(&org.0, &a)?;
                cache.insert(org, (Arc::new(a), true));
                info
            }
            None => {
                tracing::warn!(organization = %org, user = %who.username, "configuration archive reset to the built-in one");
                let a = self.config_archive()?;
                let info = ArchiveInfo::of(&a, false);
                let mut cache = self.archives.0.write();
                self.records.remove::<ConfigArchive>(&org.0)?;
                cache.insert(org, (Arc::new(a), false));
                info
            }
        };
        if info.checksum != before {
            self.archive_changed(org)?;
        }
        Ok(info)
    }

    /// Forgets a deleted organization's own archive.
    ///
    /// # Errors
    /// Storage failure.
    pub(crate) fn remove_organization_archive(&self, org: Id) -> Result<(), DomainError> {
        let mut cache = self.archives.0.write();
        self.records.remove::<ConfigArchive>(&org.0)?;
        cache.remove(&org);
        Ok(())
    }

    /// Marks the configured devices of `org` `modified` (spec device-agents §2.5) and has
    /// their configuration-applied checks look again.
    fn archive_changed(&self, org: Id) -> Result<(), DomainError> {
        let now = self.now_ns();
        for d in device::list(&self.records)? {
            if d.organization != org || status_of(&self.records, d.id)?.is_none() {
                continue;
            }
            self.records.put(&d.id.0, &ConfigStatus::modified(now))?;
            self.run_config_checks(d.id)?;
        }
        Ok(())
    }

    /// Has the device's configuration-applied checks run now (a status change).
    fn run_config_checks(&self, device: Id) -> Result<(), DomainError> {
        let checks: Vec<Id> = check::of_device(&self.records, device)?
            .into_iter()
            .filter(|c| c.is_active && c.check_type == CheckType::ConfigApplied)
            .map(|c| c.id)
            .collect();
        if !checks.is_empty() {
            self.events.publish(&Event::RunChecks { device, checks });
        }
        Ok(())
    }

    /// A device's configuration (the caller has checked that it may see `d`): status and
    /// the checksum its agent should hold; `None` for a device no agent ever polled for.
    ///
    /// # Errors
    /// Storage failure.
    pub fn device_config(&self, d: &Device) -> Result<Option<(ConfigStatus, String)>, DomainError> {
        let Some(status) = status_of(&self.records, d.id)? else {
            return Ok(None);
        };
        let checksum = self.config_archive_for(d.organization)?.0.checksum.clone();
        Ok(Some((status, checksum)))
    }

    /// Registers a device (spec device-agents §2.8): the secret picks the organization; a
    /// posted key finds the device holding it (a reflashed router comes back as itself),
    /// otherwise a new device is created with that key or a random one. Every posted
    /// attribute is stored; the configuration status starts `modified`.
    ///
    /// # Errors
    /// Storage or randomness failure (the refusals are the inner `Err`).
    pub fn register_device(
        &self,
        r: Registration,
        peer_ip: Option<String>,
    ) -> Result<Result<Registered, Refusal>, DomainError> {
        let missing = |name: &str| {
            Refusal::BadRequest(format!("error: missing required parameter \"{name}\""))
        };
        let check = || -> Result<(String, String, String, String), Refusal> {
            let secret = r
                .secret
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("secret"))?;
            let name = r
                .name
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("name"))?;
            let mac = r
                .mac_address
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("mac_address"))?;
            let backend = r
                .backend
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("backend"))?;
            Ok((secret, name, mac, backend))
        };
        let (secret, name, mac, backend) = match check() {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        for (n, v) in [
            ("name", &r.name),
            ("key", &r.key),
            ("hardware_id", &r.hardware_id),
            ("tags", &r.tags),
            ("model", &r.model),
            ("os", &r.os),
            ("system", &r.system),
            ("management_ip", &r.management_ip),
        ] {
            if let Err(e) = bounded(n, v.clone()) {
                return Ok(Err(e));
            }
        }
        if backend != BACKEND {
            return Ok(Err(Refusal::Forbidden(format!(
                "error: wrong backend (only {BACKEND} is supported)"
            ))));
        }
        let Some(o) = org::list(&self.records)?
            .into_iter()
            .find(|o| !o.shared_secret.is_empty() && same_secret(&o.shared_secret, &secret))
        else {
            return Ok(Err(Refusal::Forbidden(UNRECOGNIZED_SECRET.into())));
        };
        if !o.is_active || !o.registration_enabled {
            return Ok(Err(Refusal::Forbidden(
                "error: registration is disabled for this organization".into(),
            )));
        }
        let key = r.key.clone().filter(|k| !k.is_empty());
        if let Some(k) = &key
            && !is_valid_device_key(k)
        {
            return Ok(Err(Refusal::BadRequest(
                "error: invalid key: use up to 64 letters and digits".into(),
            )));
        }
        let now = self.now_ns();
        let management_ip = r.management_ip.clone().filter(|s| !s.is_empty());
        let existing = match &key {
            Some(k) => device::by_key(&self.records, k)?,
            None => None,
        };
        let (d, is_new) = match existing {
            Some(d) if d.organization != o.id => {
                // Keys are unique everywhere: another organization's device keeps its key.
                return Ok(Err(Refusal::Forbidden(
                    "error: this key belongs to another organization's device".into(),
                )));
            }
            Some(d) if d.is_deactivated => {
                return Ok(Err(Refusal::Forbidden(
                    "error: device is deactivated".into(),
                )));
            }
            Some(d) => {
                let input = DeviceInput {
                    name: Some(name.clone()),
                    mac_address: Some(mac.clone()),
                    model: r.model.clone(),
                    os: r.os.clone(),
                    system: r.system.clone(),
                    management_ip: management_ip.clone().map(Some),
                    ..Default::default()
                };
                match device::update(&self.records, d.id, input, now) {
                    Ok(Some(d)) => (d, false),
                    Ok(None) => {
                        return Ok(Err(Refusal::Forbidden("error: device was deleted".into())));
                    }
                    Err(DomainError::Invalid { field, reason }) => {
                        return Ok(Err(Refusal::BadRequest(format!(
                            "error: {field}: {reason}"
                        ))));
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                let input = DeviceInput {
                    organization: Some(o.id),
                    name: Some(name.clone()),
                    key: key.clone(),
                    mac_address: Some(mac.clone()),
                    model: r.model.clone(),
                    os: r.os.clone(),
                    system: r.system.clone(),
                    management_ip: management_ip.clone().map(Some),
                    ..Default::default()
                };
                match self.create_device_unchecked(input) {
                    Ok(d) => (d, true),
                    Err(DomainError::Invalid { field, reason }) => {
                        return Ok(Err(Refusal::BadRequest(format!(
                            "error: {field}: {reason}"
                        ))));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.records.put(
            &d.id.0,
            &AgentInfo {
                hardware_id: r.hardware_id.clone().unwrap_or_default(),
                tags: r
                    .tags
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            },
        )?;
        self.records.put(&d.id.0, &ConfigStatus::modified(now))?;
        self.note_contact(&d, peer_ip)?;
        tracing::info!(device = %d.id, organization = %o.id, is_new, "device registered");
        Ok(Ok(Registered {
            id: d.id,
            key: d.key.clone(),
            name: d.name.clone(),
            is_new,
        }))
    }

    /// An authenticated controller request from `d` (checksum, download, report, update):
    /// proof of life, the peer address as its last IP, and the management IP the agent sent
    /// (cleared when it sent none, as upstream does). A device polling without a status yet
    /// (registered by an operator, then configured by hand) gets `modified`.
    ///
    /// # Errors
    /// Storage failure.
    pub fn controller_contact(
        &self,
        d: &Device,
        peer_ip: Option<String>,
        management_ip: Option<Option<String>>,
    ) -> Result<(), DomainError> {
        self.note_contact(d, peer_ip)?;
        if let Some(ip) = management_ip {
            let ip = ip.filter(|s| !s.is_empty() && s.parse::<std::net::IpAddr>().is_ok());
            if d.management_ip != ip {
                device::modify_if(&self.records, d.id, |dev| {
                    if dev.management_ip == ip {
                        return false;
                    }
                    dev.management_ip = ip;
                    true
                })?;
            }
        }
        if self.records.get::<ConfigStatus>(&d.id.0)?.is_none() {
            self.records.insert_new(
                &d.id.0,
                &ConfigStatus {
                    state: ConfigState::Modified,
                    error_reason: String::new(),
                    modified_ns: self.now_ns(),
                },
            )?;
        }
        Ok(())
    }

    /// Stores a reported configuration status (`deactivating` becomes `deactivated`, as
    /// upstream does) and runs the device's configuration-applied check at once. Returns the
    /// stored status's name.
    ///
    /// # Errors
    /// Storage failure (an unknown status is the inner `Err`).
    pub fn report_config_status(
        &self,
        d: &Device,
        status: &str,
        error_reason: &str,
    ) -> Result<Result<&'static str, Refusal>, DomainError> {
        let Some(mut state) = ConfigState::parse(status) else {
            return Ok(Err(Refusal::Forbidden(format!(
                "error: status \"{}\" is not one of modified, applied, error, deactivating, deactivated",
                status.chars().take(64).collect::<String>()
            ))));
        };
        if state == ConfigState::Deactivating {
            state = ConfigState::Deactivated;
        }
        let reason: String = if state == ConfigState::Error {
            error_reason.chars().take(MAX_FIELD).collect()
        } else {
            String::new()
        };
        self.records.put(
            &d.id.0,
            &ConfigStatus {
                state,
                error_reason: reason,
                modified_ns: self.now_ns(),
            },
        )?;
        if state == ConfigState::Error {
            // The reason is the agent's log excerpt: its first line says what failed.
            let first = error_reason.lines().next().unwrap_or_default();
            tracing::warn!(
                device = %d.id,
                name = %d.name,
                reason = %first.chars().take(200).collect::<String>(),
                "the device could not apply its configuration"
            );
        } else {
            tracing::info!(device = %d.id, status = state.as_str(), "configuration status reported");
        }
        self.run_config_checks(d.id)?;
        Ok(Ok(state.as_str()))
    }

    /// Stores the facts the agent sends at boot.
    ///
    /// # Errors
    /// Storage failure.
    pub fn update_device_info(
        &self,
        d: &Device,
        model: Option<String>,
        os: Option<String>,
        system: Option<String>,
    ) -> Result<(), DomainError> {
        let cut = |v: Option<String>| v.map(|s| s.chars().take(MAX_FIELD).collect::<String>());
        let (model, os, system) = (cut(model), cut(os), cut(system));
        let now = self.now_ns();
        device::modify_if(&self.records, d.id, |dev| {
            let mut changed = false;
            for (field, v) in [
                (&mut dev.model, &model),
                (&mut dev.os, &os),
                (&mut dev.system, &system),
            ] {
                if let Some(v) = v
                    && field != v
                {
                    field.clone_from(v);
                    changed = true;
                }
            }
            if changed {
                dev.modified_ns = now;
            }
            changed
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
