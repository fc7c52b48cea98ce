//! The dispatcher: works the domain's delivery queue, sending e-mails through the SMTP relay
//! and calls to the webhook, with retries and back-off, never in the way of ingest or checks.
//!
//! Owns: the one task that sends. One task means one attempt at a time per delivery, so a
//! slow relay never makes two copies of the same e-mail; a delivery leaves the queue only
//! after the relay or the webhook accepted it. A crash between "accepted" and "removed" can
//! repeat that one delivery after the restart: the e-mail keeps its Message-ID and the webhook
//! call its `X-Wispmon-Delivery` header, so receivers can drop the repeat.

use std::time::Duration;

use tokio::sync::watch;

use super::DeliveryError;
use super::smtp::{self, Email, SmtpSettings};
use super::webhook::{self, WebhookSettings};
use crate::domain::Domain;
use crate::domain::events::Event;
use crate::domain::notification::{Channel, Delivery};
use crate::time::Timestamp;

/// Where deliveries go; a channel left `None` keeps its deliveries queued (none are made).
#[derive(Debug, Clone, Default)]
pub struct Channels {
    /// The SMTP relay.
    pub smtp: Option<SmtpSettings>,
    /// The webhook.
    pub webhook: Option<WebhookSettings>,
}

/// How often the queue is looked at when no event says there is something new: the
/// back-off's retries come due on their own.
const POLL: Duration = Duration::from_secs(5);

/// Sends one delivery.
async fn send(channels: &Channels, d: &Delivery) -> Result<(), DeliveryError> {
    match &d.channel {
        Channel::Email {
            to,
            subject,
            text,
            html,
        } => {
            let Some(s) = &channels.smtp else {
                return Err(DeliveryError::Permanent(
                    "no SMTP relay is configured".into(),
                ));
            };
            let mail = Email {
                to: vec![to.clone()],
                subject: subject.clone(),
                text: text.clone(),
                html: Some(html.clone()),
                message_id: format!("<{}@wispmon>", d.id),
                date: Timestamp::from_nanos(d.created_ns),
            };
            smtp::send(s, &mail).await
        }
        Channel::Webhook { body } => {
            let Some(w) = &channels.webhook else {
                return Err(DeliveryError::Permanent("no webhook is configured".into()));
            };
            webhook::post(w, body.as_bytes(), &d.id.to_string()).await
        }
    }
}

/// Sends every due delivery once; returns how many were attempted.
async fn work_queue(domain: &Domain, channels: &Channels) -> usize {
    let d = domain.clone();
    let due = match tokio::task::spawn_blocking(move || d.due_deliveries()).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading the notification queue failed");
            return 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "notification queue task failed");
            return 0;
        }
    };
    let n = due.len();
    for delivery in due {
        let result = send(channels, &delivery).await;
        let id = delivery.id;
        let kind = match delivery.channel {
            Channel::Email { .. } => "e-mail",
            Channel::Webhook { .. } => "webhook",
        };
        let outcome = match &result {
            Ok(()) => {
                tracing::info!(delivery = %id, kind, "notification delivered");
                None
            }
            Err(e) => {
                let permanent = matches!(e, DeliveryError::Permanent(_));
                tracing::warn!(delivery = %id, kind, error = %e, permanent, "notification delivery failed");
                Some((e.to_string(), permanent))
            }
        };
        let d = domain.clone();
        let stored = tokio::task::spawn_blocking(move || {
            d.delivery_attempted(delivery, outcome.as_ref().map(|(w, p)| (w.as_str(), *p)))
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            tracing::warn!(delivery = %id, "recording a delivery attempt failed; it will be retried");
        }
    }
    n
}

/// Works the queue until stopped: at once when the domain says deliveries were queued,
/// otherwise every few seconds for retries that came due.
pub async fn run(domain: Domain, channels: Channels, mut stopped: watch::Receiver<bool>) {
    let events = domain.events().subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut since_poll = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        since_poll += Duration::from_millis(250);
        let woken = events.try_iter().any(|e| {
            matches!(
                e,
                Event::Notified {
                    deliveries: true,
                    ..
                }
            )
        });
        if woken || since_poll >= POLL {
            since_poll = Duration::ZERO;
            work_queue(&domain, &channels).await;
        }
    }
}

/// The running dispatcher.
#[derive(Debug)]
pub struct Notifier {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Notifier {
    /// Starts working the queue.
    pub fn start(domain: Domain, channels: Channels) -> Notifier {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(domain, channels, stopped));
        Notifier { stop, task }
    }

    /// Stops after the delivery in progress, waiting up to `grace`; a delivery cut off stays
    /// queued and is sent after the next start.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}
