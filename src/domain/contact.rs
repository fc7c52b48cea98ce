//! Device contacts: when each device last spoke to us and from which address (`last_seen`,
//! `last_ip`), updated on every authenticated device request.
//!
//! Owns: the in-memory table of contacts not yet stored, and storing them in batches. A
//! device posting every five minutes must not cost a durable record write per request (the
//! sample itself is the durable part); contacts are flushed by the monitor every
//! [`FLUSH_EVERY`] and at a clean stop, so a crash loses at most that much of "last seen",
//! never a sample.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use super::device;
use super::error::DomainError;
use super::id::Id;
use crate::storage::Records;

/// How often pending contacts are stored.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

/// Contacts not yet stored, by device.
#[derive(Debug, Default)]
pub struct Contacts {
    pending: Mutex<HashMap<Id, (i64, Option<String>)>>,
}

impl Contacts {
    /// Notes a contact of `device` at `at` (ns) from `ip`.
    pub fn note(&self, device: Id, at: i64, ip: Option<String>) {
        let mut p = self.pending.lock();
        let e = p.entry(device).or_insert((at, None));
        if at >= e.0 {
            e.0 = at;
        }
        if ip.is_some() {
            e.1 = ip;
        }
    }

    /// The pending contact of `device`, if any (newer than what is stored).
    pub fn pending(&self, device: Id) -> Option<(i64, Option<String>)> {
        self.pending.lock().get(&device).cloned()
    }

    /// Stores every pending contact in the device records (one flush). Returns how many.
    ///
    /// # Errors
    /// Storage failure; the contacts are kept for the next attempt.
    pub fn flush(&self, records: &Records) -> Result<usize, DomainError> {
        let taken = std::mem::take(&mut *self.pending.lock());
        if taken.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Id> = taken.keys().copied().collect();
        // A device deleted meanwhile is simply skipped.
        let stored = device::modify_many(records, &ids, |d| {
            if let Some((at, ip)) = taken.get(&d.id) {
                d.last_seen_ns = Some(d.last_seen_ns.map_or(*at, |s| s.max(*at)));
                if let Some(ip) = ip {
                    d.last_ip = Some(ip.clone());
                }
            }
        });
        match stored {
            Ok(n) => Ok(n),
            Err(e) => {
                let mut p = self.pending.lock();
                for (id, v) in taken {
                    p.entry(id).or_insert(v);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::device::{DeviceInput, create, get, update};
    use crate::storage::Storage;

    #[test]
    fn contacts_are_kept_until_flushed_and_never_go_back_in_time() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let d = create(
            &r,
            DeviceInput {
                organization: Some(Id::random().unwrap()),
                name: Some("a".into()),
                mac_address: Some("00:00:00:00:00:0a".into()),
                ..Default::default()
            },
            1,
        )
        .unwrap();
        let c = Contacts::default();
        c.note(d.id, 100, Some("10.0.0.1".into()));
        c.note(d.id, 90, None);
        assert_eq!(c.pending(d.id), Some((100, Some("10.0.0.1".into()))));
        assert_eq!(get(&r, d.id).unwrap().unwrap().last_seen_ns, None);
        c.note(Id::random().unwrap(), 5, None); // a device deleted meanwhile
        assert_eq!(c.flush(&r).unwrap(), 1);
        assert_eq!(c.pending(d.id), None);
        let stored = get(&r, d.id).unwrap().unwrap();
        assert_eq!(
            (stored.last_seen_ns, stored.last_ip.as_deref()),
            (Some(100), Some("10.0.0.1"))
        );
        // An operator's edit keeps the contact; an older contact does not move it back.
        update(
            &r,
            d.id,
            DeviceInput {
                notes: Some("x".into()),
                ..Default::default()
            },
            2,
        )
        .unwrap();
        c.note(d.id, 50, None);
        c.flush(&r).unwrap();
        let stored = get(&r, d.id).unwrap().unwrap();
        assert_eq!(
            (stored.last_seen_ns, stored.notes.as_str()),
            (Some(100), "x")
        );
    }
}
