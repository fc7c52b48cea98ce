//! Health in motion: evaluating a metric after a write, storing its flags, moving the device's
//! status, and telling people (spec §5). The rules themselves are the pure functions of
//! [`super::alert`] and [`super::health`]; this file applies them to records.
//!
//! Owns: `update_status` and its side effects (metric reset on `unknown`, management IP
//! cleared on `critical`), the events published for each change, who is notified and through
//! which channels, recovery detection on device contact (§5.6) and WiFi sessions closed on
//! an outage (§5.7).

use serde_json::json;

use super::alert::{self, Alert, Rule};
use super::check::CheckType;
use super::device::{self, Device, HealthStatus};
use super::error::DomainError;
use super::events::Event;
use super::id::Id;
use super::metric::{self, Metric};
use super::notification::{self, Channel, Context, Delivery, Notification};
use super::registry::{self, Operator};
use super::{access, health, org, silence, user, wifi};

/// Settings of alerting and health (spec §8).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSettings {
    /// `TOLERANCE_INTERVAL`, seconds.
    pub tolerance_interval_s: i64,
    /// `CRITICAL_DEVICE_METRICS`.
    pub critical: Vec<crate::config::CriticalMetric>,
    /// `AUTO_CLEAR_MANAGEMENT_IP`.
    pub auto_clear_management_ip: bool,
    /// `DEVICE_RECOVERY_DETECTION`.
    pub recovery_detection: bool,
    /// Window of the flapping indicator, ns.
    pub flapping_window_ns: i64,
    /// Health changes within the window that make a device flapping (0: never).
    pub flapping_changes: u32,
}

impl HealthSettings {
    /// The shipped defaults.
    pub fn defaults() -> HealthSettings {
        let m = crate::config::Config::default().monitoring;
        HealthSettings {
            tolerance_interval_s: i64::try_from(m.tolerance_interval.as_secs()).unwrap_or(300),
            critical: m.critical_device_metrics,
            auto_clear_management_ip: m.auto_clear_management_ip,
            recovery_detection: m.device_recovery_detection,
            flapping_window_ns: i64::try_from(m.flapping_window.as_nanos()).unwrap_or(i64::MAX),
            flapping_changes: m.flapping_changes,
        }
    }

    /// Check types re-run on recovery detection.
    fn critical_checks(&self) -> Vec<CheckType> {
        self.critical
            .iter()
            .filter_map(|c| {
                // `ping`, `data_collected` or a class path (`...classes.DataCollected`).
                c.check
                    .as_deref()
                    .and_then(|t| CheckType::parse(&t.replace('_', "")))
            })
            .collect()
    }
}

/// How notifications leave the appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// `{site.name}` of the texts.
    pub site_name: String,
    /// Address of the web UI, for links (`https://wispmon.example.net`).
    pub base_url: String,
    /// An SMTP relay is configured: queue e-mails.
    pub email: bool,
    /// A webhook is configured: queue calls.
    pub webhook: bool,
}

impl NotificationSettings {
    /// No relay, no webhook.
    pub fn defaults() -> NotificationSettings {
        NotificationSettings {
            site_name: "wispmon".into(),
            base_url: "http://localhost:8000".into(),
            email: false,
            webhook: false,
        }
    }
}

/// A metric value to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    /// The metric's record key.
    pub record_key: &'a [u8],
    /// Value of its alert field.
    pub value: f64,
    /// Write time, ns.
    pub time: i64,
    /// Policy the points were written to.
    pub retention_policy: Option<&'a str>,
    /// `false` suppresses notifications (flags still change).
    pub send_alert: bool,
}

/// Escapes text for HTML.
fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The threshold as upstream prints it: a custom value is a Python float (`80.0`), a
/// configured default as written in the registry (`90`).
fn threshold_text(custom: Option<f64>, default: f64) -> String {
    let n = |f: f64| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into);
    match custom {
        Some(c) => super::charts::python_number(&n(c)),
        None if default.fract() == 0.0 && default.abs() < 1e15 => format!("{default:.0}"),
        None => super::charts::python_number(&n(default)),
    }
}

/// Whether `kind` names a notification type of the registry (`<metric>_<problem|recovery>`).
fn known_kind(registry: &registry::Registry, kind: &str) -> bool {
    registry
        .metrics()
        .values()
        .any(|m| m.notification_types.iter().any(|t| t == kind))
}

/// Measurements a check writes to the `short` policy (spec §1.2).
const SHORT_POLICY_METRICS: [&str; 2] = ["config_applied", "data_collected"];

impl super::Domain {
    /// Stores a check's result for one device metric of a registry configuration (`ping`,
    /// `data_collected`, ...) at `time` (now when `None`), creating the metric with its charts
    /// and alert settings on the first result, then evaluates it (spec §5.1, §6.1).
    /// `send_alert = false` changes health without notifying.
    ///
    /// # Errors
    /// An unknown configuration or a value missing its alert field (`Invalid`), storage
    /// failure.
    pub fn record_check_result(
        &self,
        device: &Device,
        configuration: &str,
        fields: Vec<(String, crate::storage::FieldValue)>,
        time: Option<i64>,
        send_alert: bool,
    ) -> Result<(), DomainError> {
        let invalid = |reason: String| DomainError::Invalid {
            field: "configuration",
            reason,
        };
        let cfg = self
            .settings
            .registry
            .metric(configuration)
            .ok_or_else(|| invalid(format!("unknown metric configuration {configuration:?}")))?;
        let t = time.unwrap_or_else(|| self.now_ns());
        let alert_field = self.alert_field(configuration, &cfg.field_name);
        let value = fields
            .iter()
            .find(|(k, _)| *k == alert_field)
            .and_then(|(_, v)| v.as_f64())
            .ok_or_else(|| invalid(format!("the result has no numeric {alert_field:?}")))?;
        let mut spec = metric::MetricSpec {
            configuration: configuration.to_owned(),
            name: cfg.label.clone(),
            key: cfg.key.clone(),
            field_name: cfg.field_name.clone(),
            object_id: Some(device.id),
            main_tags: Vec::new(),
            extra_tags: Vec::new(),
            charts: Vec::new(),
            alert: None,
        };
        self.complete_spec(&mut spec);
        let rk = metric::record_key(Some(device.id), &cfg.key, &cfg.field_name, &[]);
        metric::get_or_create_all(&self.records, &self.metrics, vec![spec], self.now_ns())?;
        let rp = SHORT_POLICY_METRICS
            .contains(&cfg.key.as_str())
            .then_some(super::timeseries::SHORT_RP);
        let point = crate::storage::Point {
            measurement: cfg.key.clone(),
            tags: vec![
                (
                    "content_type".to_owned(),
                    super::ingest::DEVICE_CONTENT_TYPE.to_owned(),
                ),
                ("object_id".to_owned(), device.id.to_string()),
            ],
            fields,
            time: t,
        };
        let db = self.settings.database.clone();
        self.write(&db, rp, vec![point])?;
        self.evaluate(Evaluation {
            record_key: &rk,
            value,
            time: t,
            retention_policy: rp,
            send_alert,
        })
    }

    /// The principal's own notifications, newest first (`unread`: only unread ones).
    ///
    /// # Errors
    /// Storage failure.
    pub fn notifications(
        &self,
        who: &access::Principal,
        unread: Option<bool>,
    ) -> Result<Vec<Notification>, DomainError> {
        Ok(notification::of_user(&self.records, &who.username)?
            .into_iter()
            .filter(|n| unread.is_none_or(|u| n.unread == u))
            .collect())
    }

    /// Marks the principal's notifications read (`ids` empty: all of them); how many changed.
    /// An id that is not one of theirs is `NotFound`.
    ///
    /// # Errors
    /// Unknown id, storage failure.
    pub fn mark_notifications_read(
        &self,
        who: &access::Principal,
        ids: &[Id],
    ) -> Result<usize, DomainError> {
        if !ids.is_empty() {
            let mine = notification::of_user(&self.records, &who.username)?;
            if !ids.iter().all(|id| mine.iter().any(|n| n.id == *id)) {
                return Err(DomainError::NotFound);
            }
        }
        notification::mark_read(&self.records, &who.username, ids)
    }

    /// Deletes one of the principal's notifications.
    ///
    /// # Errors
    /// Not theirs (`NotFound`), storage failure.
    pub fn delete_notification(&self, who: &access::Principal, id: Id) -> Result<(), DomainError> {
        if notification::remove(&self.records, &who.username, id)? {
            Ok(())
        } else {
            Err(DomainError::NotFound)
        }
    }

    /// The principal's notification preferences.
    ///
    /// # Errors
    /// Storage failure.
    pub fn notification_preferences(
        &self,
        who: &access::Principal,
    ) -> Result<notification::Preferences, DomainError> {
        notification::preferences(&self.records, &who.username)
    }

    /// Replaces the principal's notification preferences: organizations must be visible to
    /// them and types known to the registry.
    ///
    /// # Errors
    /// An invisible organization, an unknown type or a bad address (`Invalid`), storage
    /// failure.
    pub fn save_notification_preferences(
        &self,
        who: &access::Principal,
        p: &notification::Preferences,
    ) -> Result<(), DomainError> {
        for r in &p.rules {
            if let Some(o) = r.organization
                && (!who.can_view(o) || org::get(&self.records, o)?.is_none())
            {
                return Err(DomainError::Invalid {
                    field: "organization",
                    reason: format!("Invalid pk \"{o}\" - object does not exist."),
                });
            }
            if let Some(k) = &r.kind
                && !known_kind(&self.settings.registry, k)
            {
                return Err(DomainError::Invalid {
                    field: "type",
                    reason: format!("\"{k}\" is not a valid choice."),
                });
            }
        }
        notification::save_preferences(&self.records, &who.username, p)
    }

    /// E-mails and webhook calls due now, oldest first (for the notification dispatcher).
    ///
    /// # Errors
    /// Storage failure.
    pub fn due_deliveries(&self) -> Result<Vec<Delivery>, DomainError> {
        notification::due(&self.records, self.now_ns())
    }

    /// Queues one delivery (a test e-mail or webhook call an operator asks for; the alerts'
    /// own deliveries are queued with their notifications). Returns its id.
    ///
    /// # Errors
    /// Randomness or storage failure.
    pub fn queue_delivery(&self, channel: Channel) -> Result<Id, DomainError> {
        let now = self.now_ns();
        let d = Delivery {
            id: Id::random()?,
            channel,
            attempts: 0,
            next_attempt_ns: now,
            last_error: None,
            failed: false,
            created_ns: now,
        };
        self.records.put(&d.id.0, &d)?;
        self.events.publish(&Event::Notified {
            users: Vec::new(),
            deliveries: true,
        });
        Ok(d.id)
    }

    /// Every queued delivery, failed ones included (for operators and tests).
    ///
    /// # Errors
    /// Storage failure.
    pub fn deliveries(&self) -> Result<Vec<Delivery>, DomainError> {
        notification::deliveries(&self.records)
    }

    /// Records the outcome of one delivery attempt: delivered ones leave the queue; failed
    /// ones wait with back-off, or are given up when `permanent`.
    ///
    /// # Errors
    /// Storage failure.
    pub fn delivery_attempted(
        &self,
        d: Delivery,
        error: Option<(&str, bool)>,
    ) -> Result<(), DomainError> {
        match error {
            None => notification::delivered(&self.records, d.id),
            Some((why, permanent)) => {
                notification::attempt_failed(&self.records, d, why, permanent, self.now_ns())
                    .map(|_| ())
            }
        }
    }

    /// The effective alert rule of a metric.
    pub(crate) fn rule_of(&self, m: &Metric) -> Option<Rule> {
        let a = m.alert.as_ref()?;
        let d = self.settings.registry.metric(&m.configuration).map_or(
            registry::FALLBACK_ALERT,
            registry::MetricConfig::effective_alert,
        );
        let operator = match a.custom_operator.as_deref() {
            Some("<") => Operator::LessThan,
            Some(">") => Operator::GreaterThan,
            _ => d.operator,
        };
        Some(Rule {
            operator,
            threshold: a.custom_threshold.unwrap_or(d.threshold),
            tolerance_s: i64::from(a.custom_tolerance.unwrap_or(d.tolerance)) * 60,
        })
    }

    /// The alert field's points of a metric within `lo..=hi` (every series with its object
    /// and main tags: extra tags change when a device moves).
    fn window_points(
        &self,
        m: &Metric,
        rp: Option<&str>,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(i64, f64)>, DomainError> {
        let db = &self.settings.database;
        let mut eqs: Vec<(String, Vec<String>)> = m
            .main_tags
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect();
        if let Some(o) = m.object_id {
            eqs.push(("object_id".into(), vec![o.to_string()]));
        }
        let field = self.alert_field(&m.configuration, &m.field_name);
        let q = super::timeseries::FieldQuery {
            db,
            rp,
            measurement: &m.key,
            tags: &eqs,
            field: &field,
            lo,
            hi,
        };
        Ok(self
            .series
            .points(&q)?
            .into_iter()
            .filter_map(|(t, v)| Some((t, v.as_f64()?)))
            .collect())
    }

    /// Evaluates one written value of a metric (spec §5.1–5.3): stores changed flags,
    /// publishes `ThresholdCrossed`, notifies, closes WiFi sessions on an outage and moves
    /// the device's status. Metrics without alert settings are never evaluated.
    ///
    /// # Errors
    /// Storage failure.
    pub fn evaluate(&self, e: Evaluation<'_>) -> Result<(), DomainError> {
        self.evaluate_all(std::slice::from_ref(&e))
    }

    /// [`Domain::evaluate`] for the values of one sample (a device's first sample assesses
    /// a handful of metrics at once): the changed flags are stored with one flush, then
    /// each change is published and notified in order, and each device's status is
    /// recomputed once, from all of them. A metric named twice is evaluated on its last
    /// value.
    ///
    /// # Errors
    /// Storage failure.
    pub fn evaluate_all(&self, evals: &[Evaluation<'_>]) -> Result<(), DomainError> {
        let ti = self.settings.health.tolerance_interval_s;
        let mut changes = Vec::new();
        for (i, e) in evals.iter().enumerate() {
            if evals[i + 1..].iter().any(|l| l.record_key == e.record_key) {
                continue;
            }
            let Some(m) = self.records.get::<Metric>(e.record_key)? else {
                continue;
            };
            let (Some(rule), Some(settings)) = (self.rule_of(&m), m.alert.clone()) else {
                continue;
            };
            let tolerant = if alert::needs_window(rule, ti, e.value, m.is_healthy_tolerant) {
                let w = alert::window_s(rule.tolerance_s, ti).unwrap_or(0);
                let lo = e.time.saturating_sub(w.saturating_mul(1_000_000_000));
                let pts = self.window_points(&m, e.retention_policy, lo, e.time)?;
                alert::tolerant_crossed(rule, ti, e.value, m.is_healthy_tolerant, e.time, &pts)
            } else {
                alert::crossed(rule.operator, rule.threshold, e.value)
            };
            let o = alert::evaluate(
                rule,
                (m.is_healthy, m.is_healthy_tolerant),
                e.value,
                tolerant,
            );
            if o.changed {
                changes.push((e, m, rule, settings, o));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let flags: Vec<(&[u8], Option<bool>, Option<bool>)> = changes
            .iter()
            .map(|(e, _, _, _, o)| (e.record_key, o.is_healthy, o.is_healthy_tolerant))
            .collect();
        let stored = metric::set_health_all(&self.records, &self.metrics, &flags, self.now_ns())?;
        // Each device is read once, however many of its metrics changed.
        let mut devices: Vec<(Id, Option<Device>)> = Vec::new();
        for ((e, m, rule, settings, o), stored) in changes.into_iter().zip(stored) {
            let m = stored.unwrap_or(m);
            self.events.publish(&Event::ThresholdCrossed {
                metric: m.id,
                device: m.object_id,
                is_healthy: o.is_healthy,
                is_healthy_tolerant: o.is_healthy_tolerant,
                first_time: o.first_time,
            });
            let at = match m.object_id {
                Some(id) => Some(match devices.iter().position(|(d, _)| *d == id) {
                    Some(i) => i,
                    None => {
                        devices.push((id, device::get(&self.records, id)?));
                        devices.len() - 1
                    }
                }),
                None => None,
            };
            let dev = at.and_then(|i| devices[i].1.as_ref());
            if let Some(a) = o.alert
                && settings.is_active
                && e.send_alert
                && self.tell_or_hold(&m, dev, a == Alert::Problem, e.time)?
            {
                self.notify(&m, dev, a, rule, settings.custom_threshold, e.time)?;
            }
            if let Some(d) = dev {
                let is_critical_metric = self
                    .settings
                    .health
                    .critical
                    .iter()
                    .any(|c| c.key == m.key && c.field_name == m.field_name);
                if is_critical_metric
                    && o.first_time == Some(false)
                    && o.is_healthy_tolerant == Some(false)
                    && self.settings.wifi_sessions
                {
                    wifi::close_all(&self.records, d.id, self.now_ns())?;
                }
            }
        }
        for (id, d) in devices {
            if d.is_some() {
                self.recompute_status(id)?;
            }
        }
        Ok(())
    }

    /// Sets a device's status from its metrics (spec §5.5); a deactivated device keeps its
    /// status.
    ///
    /// # Errors
    /// Storage failure.
    pub fn recompute_status(&self, id: Id) -> Result<(), DomainError> {
        let metrics = metric::of_object(&self.records, id)?;
        let status = health::status_from_metrics(
            metrics
                .iter()
                .map(|m| (m.key.as_str(), m.field_name.as_str(), m.is_healthy)),
            &self.settings.health.critical,
        );
        self.set_status(id, status, false)?;
        Ok(())
    }

    /// `update_status` (spec §5.5): `unknown` resets the health of every metric of the device
    /// first; `critical` clears the management IP (when configured); an unchanged status is a
    /// no-op. A deactivated device's status only changes through (re)activation
    /// (`from_operator`). Returns the previous status when it changed.
    ///
    /// # Errors
    /// Storage failure.
    pub(crate) fn set_status(
        &self,
        id: Id,
        status: HealthStatus,
        from_operator: bool,
    ) -> Result<Option<HealthStatus>, DomainError> {
        if status == HealthStatus::Unknown {
            metric::reset_health(&self.records, &self.metrics, id, self.now_ns())?;
        }
        let clear_ip = self.settings.health.auto_clear_management_ip;
        let mut changed = None;
        let mut organization = None;
        let staged = device::stage_if(&self.records, id, |d: &mut Device| {
            if d.status == status || (d.status == HealthStatus::Deactivated && !from_operator) {
                return false;
            }
            changed = Some(d.status);
            organization = Some(d.organization);
            d.status = status;
            if status == HealthStatus::Critical && clear_ip {
                d.management_ip = None;
            }
            true
        })?;
        if let (Some(staged), Some(from), Some(organization)) = (staged, changed, organization) {
            // The status and its history entry become durable with one flush.
            let history = silence::stage_change(
                &self.records,
                id,
                silence::StatusChange {
                    at_ns: self.now_ns(),
                    from,
                    to: status,
                },
            )?;
            staged.and(history).sync()?;
            self.events.publish(&Event::HealthChanged {
                device: id,
                organization,
                from,
                to: status,
            });
        }
        Ok(changed)
    }

    /// Recovery detection (spec §5.6): a contact from a device marked critical re-runs its
    /// critical checks (or, without any, declares it `ok`).
    ///
    /// # Errors
    /// Storage failure.
    pub(crate) fn react_to_contact(&self, d: &Device) -> Result<(), DomainError> {
        if d.status == HealthStatus::Critical && self.settings.health.recovery_detection {
            self.trigger_critical_checks(d.id, true)?;
        }
        Ok(())
    }

    /// `trigger_device_critical_checks`: the device's active critical checks run now (an
    /// event for the check scheduler); without any, the status becomes `ok` (`critical` when
    /// not recovering). Recovering from `critical` with metrics that no longer imply it moves
    /// to `problem` first.
    ///
    /// # Errors
    /// Storage failure.
    pub fn trigger_critical_checks(&self, id: Id, recovery: bool) -> Result<(), DomainError> {
        let types = self.settings.health.critical_checks();
        let checks: Vec<Id> = super::check::of_device(&self.records, id)?
            .into_iter()
            .filter(|c| c.is_active && types.contains(&c.check_type))
            .map(|c| c.id)
            .collect();
        if checks.is_empty() {
            let to = if recovery {
                HealthStatus::Ok
            } else {
                HealthStatus::Critical
            };
            self.set_status(id, to, false)?;
            return Ok(());
        }
        let current = device::get(&self.records, id)?.map(|d| d.status);
        if recovery && current == Some(HealthStatus::Critical) {
            let metrics = metric::of_object(&self.records, id)?;
            let still = health::is_critical(
                metrics
                    .iter()
                    .map(|m| (m.key.as_str(), m.field_name.as_str(), m.is_healthy)),
                &self.settings.health.critical,
            );
            if !still {
                self.set_status(id, HealthStatus::Problem, false)?;
            }
        }
        self.events
            .publish(&Event::RunChecks { device: id, checks });
        Ok(())
    }

    /// Whether a check type is one of the critical metrics' checks.
    pub(crate) fn is_critical_check(&self, t: CheckType) -> bool {
        self.settings.health.critical_checks().contains(&t)
    }

    /// Who hears about a device's organization: active superusers, and the active
    /// administrators of that organization (general metrics: superusers only).
    fn recipients(&self, organization: Option<Id>) -> Result<Vec<String>, DomainError> {
        let mut out = Vec::new();
        for u in user::list(&self.records)? {
            if !u.is_active {
                continue;
            }
            let admin = match organization {
                Some(o) => access::memberships_of(&self.records, &u.username)?
                    .iter()
                    .any(|(org, role)| *org == o && *role == access::Role::Admin),
                None => false,
            };
            if u.is_superuser || admin {
                out.push(u.username);
            }
        }
        Ok(out)
    }

    /// Stores the notifications of one alert and queues its e-mails and webhook call.
    pub(crate) fn notify(
        &self,
        m: &Metric,
        dev: Option<&Device>,
        a: Alert,
        rule: Rule,
        custom_threshold: Option<f64>,
        at: i64,
    ) -> Result<(), DomainError> {
        let kind = format!(
            "{}_{}",
            m.configuration,
            match a {
                Alert::Problem => "problem",
                Alert::Recovery => "recovery",
            }
        );
        // Only metrics that register notification types notify (iperf3 and traffic do not).
        let registered = self
            .settings
            .registry
            .metric(&m.configuration)
            .is_some_and(|c| c.notification_types.contains(&kind));
        if !registered {
            return Ok(());
        }
        if let Some(d) = dev
            && let Some(o) = org::get(&self.records, d.organization)?
            && !o.is_active
        {
            return Ok(());
        }
        let texts = notification::texts(&kind);
        let ns = &self.settings.notifications;
        let target = dev.map_or_else(|| m.name.clone(), |d| d.name.clone());
        let link = dev.map_or_else(
            || format!("{}/", ns.base_url.trim_end_matches('/')),
            // The web UI's device page.
            |d| format!("{}/#/device/{}", ns.base_url.trim_end_matches('/'), d.id),
        );
        let threshold = threshold_text(custom_threshold, rule.threshold);
        let ctx = Context {
            site: &ns.site_name,
            target: &target,
            target_link: &link,
            threshold: &threshold,
            metric: &m.name,
        };
        let subject = notification::render(texts.subject, texts.verb, &ctx);
        let message = notification::render(texts.message, texts.verb, &ctx);
        // The e-mail: plain text names the device and gives the link on its own line; the
        // HTML alternative links the name.
        let linked = "[{target}]({target_link})";
        let text = format!(
            "{}\n\n{link}\n",
            notification::render(&texts.message.replace(linked, "{target}"), texts.verb, &ctx)
        );
        let escaped_target = html_escape(&target);
        // Names come from operators and devices (interface names): escaped like the rest.
        let escaped_metric = html_escape(&m.name);
        let escaped_threshold = html_escape(&threshold);
        let html_ctx = Context {
            target: &escaped_target,
            metric: &escaped_metric,
            threshold: &escaped_threshold,
            ..ctx
        };
        let anchor = format!("<a href=\"{}\">{{target}}</a>", html_escape(&link));
        let html = format!(
            "<p>{}</p>",
            notification::render(
                &html_escape(&texts.message.replace(linked, "\u{1}")).replace('\u{1}', &anchor),
                &html_escape(texts.verb),
                &html_ctx
            )
        );
        let organization = dev.map(|d| d.organization);
        let now = self.now_ns();
        let mut users = Vec::new();
        let mut notes = Vec::new();
        let mut queue = Vec::new();
        for u in self.recipients(organization)? {
            let prefs = notification::preferences(&self.records, &u)?;
            let (web, email) = prefs.channels(&kind, organization);
            if !web {
                continue;
            }
            let id = Id::random()?;
            notes.push((
                notification::key(&u, at, id),
                Notification {
                    id,
                    recipient: u.clone(),
                    kind: kind.clone(),
                    level: texts.level.to_owned(),
                    verb: texts.verb.to_owned(),
                    subject: subject.clone(),
                    message: message.clone(),
                    organization,
                    device: dev.map(|d| d.id),
                    metric: Some(m.id),
                    link: Some(link.clone()),
                    unread: true,
                    created_ns: at,
                },
            ));
            if email
                && ns.email
                && let Some(to) = prefs.email
            {
                queue.push(Delivery {
                    id: Id::random()?,
                    channel: Channel::Email {
                        to,
                        subject: subject.clone(),
                        text: text.clone(),
                        html: html.clone(),
                    },
                    attempts: 0,
                    next_attempt_ns: now,
                    last_error: None,
                    failed: false,
                    created_ns: now,
                });
            }
            users.push(u);
        }
        if ns.webhook {
            let body = json!({
                "type": kind,
                "level": texts.level,
                "verb": texts.verb,
                "subject": subject,
                "message": message,
                "timestamp": crate::time::Zone::utc().format_rfc3339(at),
                "device": dev.map(|d| json!({
                    "id": d.id.to_string(),
                    "name": d.name,
                    "organization": d.organization.to_string(),
                    "url": link,
                })),
                "metric": {
                    "id": m.id.to_string(),
                    "name": m.name,
                    "key": m.key,
                    "field_name": m.field_name,
                    "is_healthy": m.is_healthy,
                    "is_healthy_tolerant": m.is_healthy_tolerant,
                },
                "alert_settings": {
                    "operator": match rule.operator { Operator::LessThan => "<", Operator::GreaterThan => ">" },
                    "threshold": rule.threshold,
                    "tolerance": rule.tolerance_s / 60,
                },
            });
            queue.push(Delivery {
                id: Id::random()?,
                channel: Channel::Webhook {
                    body: body.to_string(),
                },
                attempts: 0,
                next_attempt_ns: now,
                last_error: None,
                failed: false,
                created_ns: now,
            });
        }
        self.records.put_all(&notes)?;
        let deliveries: Vec<(Vec<u8>, Delivery)> =
            queue.into_iter().map(|d| (d.id.0.to_vec(), d)).collect();
        self.records.put_all(&deliveries)?;
        if !users.is_empty() || !deliveries.is_empty() {
            self.events.publish(&Event::Notified {
                users,
                deliveries: !deliveries.is_empty(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
