//! Domain events: health status changes, threshold crossings, new notifications and checks
//! to run now, for the parts that react to them (the UI's live updates, the notification
//! dispatcher, the check scheduler).
//!
//! Owns: the subscriber list. Delivery is best effort and never blocks the publisher (an
//! ingest or a check): each subscriber has a bounded queue, and a subscriber that falls behind
//! loses events, counted, rather than slowing devices down. Subscribers that need every fact
//! read it from the records (notifications and deliveries are stored before their event).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::channel::{Receiver, Sender, TrySendError, bounded};
use parking_lot::Mutex;

use super::device::HealthStatus;
use super::id::Id;

/// Something that happened in the domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A device's health status changed (spec §5.5 `health_status_changed`).
    HealthChanged {
        /// The device.
        device: Id,
        /// Its organization.
        organization: Id,
        /// Before.
        from: HealthStatus,
        /// After.
        to: HealthStatus,
    },
    /// A metric's health flags changed (spec §5.3 `threshold_crossed`).
    ThresholdCrossed {
        /// The metric.
        metric: Id,
        /// The device, for device metrics.
        device: Option<Id>,
        /// New `is_healthy`.
        is_healthy: Option<bool>,
        /// New `is_healthy_tolerant`.
        is_healthy_tolerant: Option<bool>,
        /// Whether the tolerant flag left "not assessed".
        first_time: Option<bool>,
    },
    /// Notifications were stored for these users (the UI's bell) and deliveries queued.
    Notified {
        /// Recipients.
        users: Vec<String>,
        /// E-mails or webhook calls are waiting.
        deliveries: bool,
    },
    /// These checks of a device should run now (recovery detection, spec §5.6).
    RunChecks {
        /// The device.
        device: Id,
        /// Check ids.
        checks: Vec<Id>,
    },
}

/// How many events a slow subscriber may have queued before it starts losing them.
const QUEUE: usize = 4096;

/// The publishers' side.
#[derive(Debug, Clone, Default)]
pub struct Events {
    subscribers: Arc<Mutex<Vec<Sender<Event>>>>,
    dropped: Arc<AtomicU64>,
}

impl Events {
    /// A new subscription, receiving every event published from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = bounded(QUEUE);
        self.subscribers.lock().push(tx);
        rx
    }

    /// Publishes an event to every subscriber; gone subscribers are forgotten.
    pub fn publish(&self, e: &Event) {
        let mut subs = self.subscribers.lock();
        subs.retain(|s| match s.try_send(e.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Events lost by subscribers that fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_subscribers_lose_events_and_gone_ones_are_forgotten() {
        let ev = Events::default();
        let a = ev.subscribe();
        let b = ev.subscribe();
        drop(b);
        let e = Event::Notified {
            users: vec!["x".into()],
            deliveries: false,
        };
        for _ in 0..QUEUE + 3 {
            ev.publish(&e);
        }
        assert_eq!(ev.dropped(), 3);
        assert_eq!(a.try_iter().count(), QUEUE);
        assert_eq!(ev.subscribers.lock().len(), 1);
    }
}
