//! WiFi clients and sessions (spec §3.6): who was associated to which access point, when.
//!
//! Owns: the client record (by MAC, with its capability flags and vendor) and the session
//! records. Open sessions live in their own tree keyed `device | interface \0 | client MAC`,
//! so a device's current sessions are one short prefix scan however long the history grows;
//! closing a session moves it to the history tree keyed `device | stop time | session id`.
//!
//! Departures from upstream, on purpose: a session's `start_time` is when it opened and stays
//! so (upstream refreshes it on every save, §11 quirk 15); sessions follow current samples only
//! (a backlog sample flushed after an outage describes the past and does not close or open
//! today's sessions).

use super::error::DomainError;
use super::id::Id;
use super::netjson::Sample;
use crate::storage::{Record, Records};

/// A WiFi client device, by MAC.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct WifiClient {
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    pub mac_address: String,
    /// Vendor from the OUI registry, when known.
    pub vendor: Option<String>,
    /// WiFi 6; `None` = unknown or not applicable.
    pub he: Option<bool>,
    /// WiFi 5.
    pub vht: Option<bool>,
    /// WiFi 4.
    pub ht: Option<bool>,
    /// WMM.
    pub wmm: bool,
    /// WDS.
    pub wds: bool,
    /// WPS.
    pub wps: bool,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for WifiClient {
    const TREE: &'static str = "wifi_clients";
    const VERSION: u8 = 1;
}

/// One association of a client to a device's interface.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct WifiSession {
    /// Primary key.
    pub id: Id,
    /// The access point.
    pub device: Id,
    /// The device's organization (for tenant filtering).
    pub organization: Id,
    /// The client's MAC.
    pub client: String,
    /// Network name.
    pub ssid: Option<String>,
    /// Interface name on the device.
    pub interface_name: String,
    /// When it opened, ns since the epoch.
    pub start_ns: i64,
    /// When it closed; `None` while open.
    pub stop_ns: Option<i64>,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

/// Sessions still open.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
struct OpenSession(WifiSession);

impl Record for OpenSession {
    const TREE: &'static str = "wifi_sessions_open";
    const VERSION: u8 = 1;
}

/// Sessions closed.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
struct ClosedSession(WifiSession);

impl Record for ClosedSession {
    const TREE: &'static str = "wifi_sessions_closed";
    const VERSION: u8 = 1;
}

fn open_key(device: Id, iface: &str, mac: &str) -> Vec<u8> {
    let mut k = device.0.to_vec();
    k.extend_from_slice(iface.as_bytes());
    k.push(0);
    k.extend_from_slice(mac.as_bytes());
    k
}

fn closed_key(s: &WifiSession) -> Vec<u8> {
    let mut k = s.device.0.to_vec();
    k.extend_from_slice(&s.stop_ns.unwrap_or(0).to_be_bytes());
    k.extend_from_slice(&s.id.0);
    k
}

/// Updates clients and sessions from a current sample of `device` (access-point interfaces
/// only): opens sessions for new clients, closes those no longer seen. Returns (opened,
/// closed).
///
/// # Errors
/// Randomness or storage failure.
pub fn update_sessions(
    records: &Records,
    device: Id,
    organization: Id,
    sample: &Sample,
    t: i64,
) -> Result<(usize, usize), DomainError> {
    let mut seen = Vec::new();
    let mut opened = 0;
    // Stored with one flush at the end: a sample names a few clients, and neither record
    // depends on another's being durable first.
    let mut clients: Vec<(Vec<u8>, WifiClient)> = Vec::new();
    let mut sessions: Vec<(Vec<u8>, OpenSession)> = Vec::new();
    for iface in &sample.interfaces {
        if iface.kind.as_deref() != Some("wireless") {
            continue;
        }
        let Some(w) = iface.wireless.as_ref().filter(|w| w.mode == "access_point") else {
            continue;
        };
        for c in &w.clients {
            let mac = c.mac.to_ascii_lowercase();
            let client = WifiClient {
                mac_address: mac.clone(),
                vendor: c.vendor.clone().filter(|v| !v.is_empty()),
                he: c.he,
                vht: c.vht,
                ht: c.ht,
                wmm: c.wmm,
                wds: c.wds.unwrap_or(false),
                wps: c.wps.unwrap_or(false),
                modified_ns: t,
            };
            let stored = records.get::<WifiClient>(mac.as_bytes())?;
            let changed = stored.as_ref().is_none_or(|s| {
                WifiClient {
                    modified_ns: t,
                    ..s.clone()
                } != client
            });
            if changed {
                clients.push((mac.as_bytes().to_vec(), client));
            }
            let key = open_key(device, &iface.name, &mac);
            if records.get::<OpenSession>(&key)?.is_none()
                && !sessions.iter().any(|(k, _)| *k == key)
            {
                sessions.push((
                    key.clone(),
                    OpenSession(WifiSession {
                        id: Id::random()?,
                        device,
                        organization,
                        client: mac,
                        ssid: Some(w.ssid.clone()).filter(|s| !s.is_empty()),
                        interface_name: iface.name.clone(),
                        start_ns: t,
                        stop_ns: None,
                        modified_ns: t,
                    }),
                ));
                opened += 1;
            }
            seen.push(key);
        }
    }
    records
        .stage_all(&clients)?
        .and(records.stage_all(&sessions)?)
        .sync()?;
    let mut closed = 0;
    for (k, OpenSession(s)) in records.list_prefix::<OpenSession>(&device.0)? {
        if !seen.contains(&k) {
            close(records, &k, s, t)?;
            closed += 1;
        }
    }
    Ok((opened, closed))
}

fn close(records: &Records, key: &[u8], mut s: WifiSession, t: i64) -> Result<(), DomainError> {
    s.stop_ns = Some(t.max(s.start_ns));
    s.modified_ns = t;
    // Closed copy first: a crash in between leaves the session in both trees, and the next
    // sample closes it again (same key), never loses it.
    records.put(&closed_key(&s), &ClosedSession(s))?;
    records.remove::<OpenSession>(key)?;
    Ok(())
}

/// Closes every open session of a device (outage, deactivation; spec §5.7). Returns how many.
///
/// # Errors
/// Storage failure.
pub fn close_all(records: &Records, device: Id, t: i64) -> Result<usize, DomainError> {
    let open = records.list_prefix::<OpenSession>(&device.0)?;
    let n = open.len();
    for (k, OpenSession(s)) in open {
        close(records, &k, s, t)?;
    }
    Ok(n)
}

/// Every session of a device, open ones first, then closed ones newest first.
///
/// # Errors
/// Storage failure.
pub fn sessions_of(records: &Records, device: Id) -> Result<Vec<WifiSession>, DomainError> {
    let mut out: Vec<WifiSession> = records
        .list_prefix::<OpenSession>(&device.0)?
        .into_iter()
        .map(|(_, OpenSession(s))| s)
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.start_ns));
    let mut closed: Vec<WifiSession> = records
        .list_prefix::<ClosedSession>(&device.0)?
        .into_iter()
        .map(|(_, ClosedSession(s))| s)
        .collect();
    closed.sort_by_key(|s| std::cmp::Reverse(s.start_ns));
    out.extend(closed);
    Ok(out)
}

/// Every session (open and closed).
///
/// # Errors
/// Storage failure.
pub fn all_sessions(records: &Records) -> Result<Vec<WifiSession>, DomainError> {
    let mut out: Vec<WifiSession> = records
        .list::<OpenSession>()?
        .into_iter()
        .map(|(_, OpenSession(s))| s)
        .collect();
    out.extend(
        records
            .list::<ClosedSession>()?
            .into_iter()
            .map(|(_, ClosedSession(s))| s),
    );
    out.sort_by(|a, b| b.start_ns.cmp(&a.start_ns).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// The client with this MAC.
///
/// # Errors
/// Storage failure.
pub fn client(records: &Records, mac: &str) -> Result<Option<WifiClient>, DomainError> {
    Ok(records.get::<WifiClient>(mac.to_ascii_lowercase().as_bytes())?)
}

/// Deletes a device's sessions, open and closed.
///
/// # Errors
/// Storage failure.
pub fn remove_device(records: &Records, device: Id) -> Result<(), DomainError> {
    for (k, _) in records.list_prefix::<OpenSession>(&device.0)? {
        records.remove::<OpenSession>(&k)?;
    }
    for (k, _) in records.list_prefix::<ClosedSession>(&device.0)? {
        records.remove::<ClosedSession>(&k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::netjson::parse_document;
    use crate::storage::Storage;

    fn sample(clients: &[(&str, &str)]) -> Sample {
        let mut ifaces = serde_json::Map::new();
        for (iface, mac) in clients {
            let e = ifaces.entry((*iface).to_owned()).or_insert_with(|| {
                serde_json::json!({
                    "name": iface, "type": "wireless",
                    "wireless": {"ssid": "Guest", "mode": "access_point", "channel": 6,
                                 "country": "IT", "frequency": 2437, "noise": -95,
                                 "tx_power": 20, "htmode": "HE20", "clients": []}
                })
            });
            e["wireless"]["clients"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "mac": mac, "auth": true, "authorized": true, "ht": true,
                    "vht": true, "he": true, "wmm": true, "mfp": false
                }));
        }
        let doc = serde_json::json!({
            "type": "DeviceMonitoring",
            "interfaces": ifaces.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        });
        parse_document(doc.to_string().as_bytes())
            .unwrap()
            .sample()
            .clone()
    }

    #[test]
    fn sessions_open_close_and_reopen() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let (dev, org) = (Id::random().unwrap(), Id::random().unwrap());
        let a = "AA:BB:CC:00:00:01";
        let b = "aa:bb:cc:00:00:02";
        assert_eq!(
            update_sessions(&r, dev, org, &sample(&[("wlan0", a), ("wlan0", b)]), 10).unwrap(),
            (2, 0)
        );
        assert_eq!(
            update_sessions(&r, dev, org, &sample(&[("wlan0", a), ("wlan0", b)]), 20).unwrap(),
            (0, 0)
        );
        // b leaves, a moves to another radio.
        assert_eq!(
            update_sessions(&r, dev, org, &sample(&[("wlan1", a)]), 30).unwrap(),
            (1, 2)
        );
        let all = sessions_of(&r, dev).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].interface_name, "wlan1");
        assert_eq!(all[0].stop_ns, None);
        assert_eq!(all[0].start_ns, 30);
        let closed_a = all
            .iter()
            .find(|s| s.client == "aa:bb:cc:00:00:01" && s.stop_ns.is_some())
            .unwrap();
        // Start stays where it opened (upstream's quirk 15 fixed).
        assert_eq!((closed_a.start_ns, closed_a.stop_ns), (10, Some(30)));
        assert_eq!(all_sessions(&r).unwrap().len(), 3);
        let c = client(&r, a).unwrap().unwrap();
        assert_eq!(
            (c.he, c.vht, c.ht, c.wmm),
            (Some(true), Some(true), Some(true), true)
        );
        // An empty sample closes everything; a reappearing client opens a new session.
        assert_eq!(
            update_sessions(&r, dev, org, &sample(&[]), 40).unwrap(),
            (0, 1)
        );
        assert_eq!(
            update_sessions(&r, dev, org, &sample(&[("wlan1", a)]), 50).unwrap(),
            (1, 0)
        );
        assert_eq!(close_all(&r, dev, 60).unwrap(), 1);
        assert_eq!(sessions_of(&r, dev).unwrap().len(), 4);
        remove_device(&r, dev).unwrap();
        assert!(sessions_of(&r, dev).unwrap().is_empty());
    }
}

/// A session with what its API listing shows alongside.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    /// The session.
    pub session: WifiSession,
    /// Its device's name.
    pub device_name: String,
    /// Its organization's name.
    pub organization_name: String,
    /// Its client, when the caller looked it up ([`super::Domain::wifi_client`]).
    pub client: Option<WifiClient>,
}

impl super::Domain {
    /// The client with this MAC (capability flags, vendor).
    ///
    /// # Errors
    /// Storage failure.
    pub fn wifi_client(&self, mac: &str) -> Result<Option<WifiClient>, DomainError> {
        client(&self.records, mac)
    }

    /// The WiFi sessions of the devices the principal may see, newest first, without their
    /// clients' details (see [`SessionView::client`]).
    ///
    /// # Errors
    /// Storage failure.
    pub fn wifi_sessions(
        &self,
        who: &super::access::Principal,
    ) -> Result<Vec<SessionView>, DomainError> {
        let devices: std::collections::HashMap<Id, String> = self
            .devices(who)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let orgs: std::collections::HashMap<Id, String> = self
            .organizations(who)?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let mut out = Vec::new();
        for s in all_sessions(&self.records)? {
            let Some(device_name) = devices.get(&s.device) else {
                continue;
            };
            out.push(SessionView {
                device_name: device_name.clone(),
                organization_name: orgs.get(&s.organization).cloned().unwrap_or_default(),
                // Filled by the caller for the sessions it shows (a page), not for all.
                client: None,
                session: s,
            });
        }
        Ok(out)
    }
}
