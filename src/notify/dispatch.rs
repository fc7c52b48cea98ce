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
        crate::telemetry::global()
            .notification_deliveries
            .with(&[
                kind,
                if result.is_ok() {
                    "delivered"
                } else {
                    "failed"
                },
            ])
            .inc();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::DomainSettings;
    use crate::notify::http_sink::{HttpSink, HttpSinkOptions};
    use crate::notify::smtp::Security;
    use crate::notify::smtp_sink::{SmtpSink, SmtpSinkOptions, Step};
    use crate::time::MockClock;

    const T0: i64 = 1_790_000_000 * 1_000_000_000;

    fn domain() -> (Domain, Arc<MockClock>) {
        let clock = Arc::new(MockClock::new(Timestamp::from_nanos(T0)));
        let d = Domain::in_memory(DomainSettings::defaults("openwisp2"), clock.clone());
        (d, clock)
    }

    fn webhook_to(sink: &HttpSink) -> Channels {
        Channels {
            smtp: None,
            webhook: Some(WebhookSettings {
                url: sink.url("/hook"),
                headers: Vec::new(),
                timeout: Duration::from_secs(5),
                ca_file: None,
            }),
        }
    }

    #[tokio::test]
    async fn a_failed_webhook_call_is_retried_after_its_back_off_and_sent_once() {
        let (d, clock) = domain();
        let (_, sink) = HttpSink::start(HttpSinkOptions {
            responses: vec![503],
            then: 204,
            ..Default::default()
        })
        .await;
        let ch = webhook_to(&sink);
        let id = d
            .queue_delivery(Channel::Webhook {
                body: "{\"type\":\"test\"}".into(),
            })
            .unwrap();
        assert_eq!(work_queue(&d, &ch).await, 1);
        assert_eq!(sink.requests().len(), 1);
        let q = d.deliveries().unwrap();
        assert_eq!((q.len(), q[0].attempts, q[0].failed), (1, 1, false));
        assert!(q[0].last_error.as_deref().unwrap_or("").contains("503"));
        // Not due before its back-off (30 s).
        clock.advance(Duration::from_secs(20));
        assert_eq!(work_queue(&d, &ch).await, 0);
        clock.advance(Duration::from_secs(11));
        assert_eq!(work_queue(&d, &ch).await, 1);
        let reqs = sink.requests();
        assert_eq!(reqs.len(), 2);
        // Both attempts carry the same delivery id, so the receiver can tell a repeat.
        assert_eq!(
            reqs[0].header("X-Wispmon-Delivery"),
            Some(id.to_string().as_str())
        );
        assert_eq!(
            reqs[1].header("X-Wispmon-Delivery"),
            reqs[0].header("X-Wispmon-Delivery")
        );
        assert!(d.deliveries().unwrap().is_empty());
        clock.advance(Duration::from_secs(3600));
        assert_eq!(work_queue(&d, &ch).await, 0);
        assert_eq!(sink.requests().len(), 2);
    }

    #[tokio::test]
    async fn a_permanent_refusal_is_given_up_and_kept_for_the_operator() {
        let (d, clock) = domain();
        let (_, sink) = HttpSink::start(HttpSinkOptions {
            then: 404,
            ..Default::default()
        })
        .await;
        let ch = webhook_to(&sink);
        d.queue_delivery(Channel::Webhook { body: "{}".into() })
            .unwrap();
        work_queue(&d, &ch).await;
        clock.advance(Duration::from_secs(7200));
        assert_eq!(work_queue(&d, &ch).await, 0);
        assert_eq!(sink.requests().len(), 1);
        let q = d.deliveries().unwrap();
        assert!(q[0].failed);
    }

    #[tokio::test]
    async fn a_relay_that_defers_gets_the_mail_later_with_the_same_message_id() {
        let (d, clock) = domain();
        let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
            fail: Some((Step::Rcpt, 451)),
            ..Default::default()
        })
        .await;
        let settings = SmtpSettings {
            host: "127.0.0.1".into(),
            port: addr.port(),
            security: Security::None,
            username: None,
            password: None,
            from: "wispmon@example.net".into(),
            helo_name: "wispmon".into(),
            timeout: Duration::from_secs(5),
            ca_file: None,
            allow_insecure_auth: false,
        };
        let ch = Channels {
            smtp: Some(settings.clone()),
            webhook: None,
        };
        let id = d
            .queue_delivery(Channel::Email {
                to: "noc@example.net".into(),
                subject: "[x] PROBLEM: r1 is not reachable".into(),
                text: "The device r1 is not reachable.\n".into(),
                html: "<p>The device r1 is not reachable.</p>".into(),
            })
            .unwrap();
        work_queue(&d, &ch).await;
        assert!(sink.messages().is_empty());
        assert_eq!(d.deliveries().unwrap()[0].attempts, 1);
        // The relay recovers (a new sink on the same settings' port is not possible, so a
        // second relay takes over).
        let (addr2, sink2) = SmtpSink::start(SmtpSinkOptions::default()).await;
        let ch2 = Channels {
            smtp: Some(SmtpSettings {
                port: addr2.port(),
                ..settings
            }),
            webhook: None,
        };
        clock.advance(Duration::from_secs(31));
        assert_eq!(work_queue(&d, &ch2).await, 1);
        let m = sink2.wait_for_messages(1, Duration::from_secs(5)).await;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].header("Message-ID"), Some(format!("<{id}@wispmon>")));
        assert!(d.deliveries().unwrap().is_empty());
    }
}
