//! Notifications (spec §5.8): who is told what when a metric's tolerant health changes, the
//! in-app notification list, each user's preferences, and the queue of e-mails and webhook
//! calls waiting for delivery.
//!
//! Owns: the sixteen notification types with upstream's levels, verbs, subjects and messages;
//! recipients (superusers; administrators of the device's organization); preferences per user,
//! per type and per organization (web and e-mail, on by default); the stored notifications
//! (keyed `user \0 time \0 id`, so a user's list is one prefix range in time order); and the
//! delivery queue (keyed by delivery id). Talking to mail relays and webhooks belongs to
//! `notify`, which works the queue; a delivery leaves the queue only once delivered, so a
//! crash or a failing relay delays it but never loses it.

use super::error::DomainError;
use super::id::Id;
use crate::storage::{Record, Records};

/// Texts of one notification type (spec §5.8). `{site}`, `{target}`, `{target_link}`,
/// `{verb}` and `{threshold}` are filled in by [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeTexts {
    /// Type name, `<configuration>_<problem|recovery>`.
    pub name: &'static str,
    /// Display name.
    pub label: &'static str,
    /// `warning` or `info`.
    pub level: &'static str,
    /// Verb.
    pub verb: &'static str,
    /// E-mail subject.
    pub subject: &'static str,
    /// Message, Markdown.
    pub message: &'static str,
}

const PROBLEM_SUBJECT: &str = "[{site}] PROBLEM: {target} {verb}";
const RECOVERY_SUBJECT: &str = "[{site}] RECOVERY: {target} {verb}";
const DEVICE_VERB: &str = "The device [{target}]({target_link}) {verb}.";

/// Every built-in type, exactly as upstream words them (the double space in the max WiFi
/// clients recovery message included).
pub const TYPES: [TypeTexts; 16] = [
    TypeTexts {
        name: "ping_problem",
        label: "Ping PROBLEM",
        level: "warning",
        verb: "is not reachable",
        subject: PROBLEM_SUBJECT,
        message: DEVICE_VERB,
    },
    TypeTexts {
        name: "ping_recovery",
        label: "Ping RECOVERY",
        level: "info",
        verb: "is reachable again",
        subject: RECOVERY_SUBJECT,
        message: DEVICE_VERB,
    },
    TypeTexts {
        name: "config_applied_problem",
        label: "Configuration Applied PROBLEM",
        level: "warning",
        verb: "has not been applied",
        subject: "[{site}] PROBLEM: {target} configuration status issue",
        message: "The configuration of device [{target}]({target_link}) {verb} in a timely manner.",
    },
    TypeTexts {
        name: "config_applied_recovery",
        label: "Configuration Applied RECOVERY",
        level: "info",
        verb: "configuration has been applied again",
        subject: "[{site}] RECOVERY: {target} {verb} successfully",
        message: "The configuration of device [{target}]({target_link}) {verb} successfully.",
    },
    TypeTexts {
        name: "data_collected_problem",
        label: "Monitoring Data Collected PROBLEM",
        level: "warning",
        verb: "has not been sending",
        subject: "[{site}] PROBLEM: {target} {verb} monitoring data",
        message: "The [{target}]({target_link}) device {verb} monitoring data.",
    },
    TypeTexts {
        name: "data_collected_recovery",
        label: "Monitoring Data Collected RECOVERY",
        level: "info",
        verb: "has resumed sending",
        subject: "[{site}] RECOVERY: {target} {verb} monitoring data",
        message: "The [{target}]({target_link}) device {verb} monitoring data.",
    },
    TypeTexts {
        name: "wifi_clients_max_problem",
        label: "Max WiFi clients PROBLEM",
        level: "warning",
        verb: "exceeds the expected threshold",
        subject: "[{site}] PROBLEM: {target} has too many WiFi clients",
        message: "The WiFi client count on [{target}]({target_link}) {verb}.",
    },
    TypeTexts {
        name: "wifi_clients_max_recovery",
        label: "Max WiFi clients RECOVERY",
        level: "info",
        verb: "has decreased",
        subject: "[{site}] RECOVERY: {target} WiFi client count has returned to normal",
        message: "The WiFi client count on  [{target}]({target_link}) {verb} and is now within the expected range.",
    },
    TypeTexts {
        name: "wifi_clients_min_problem",
        label: "Min WiFi clients PROBLEM",
        level: "warning",
        verb: "is below the expected threshold",
        subject: "[{site}] PROBLEM: {target} has too few WiFi clients",
        message: "The WiFi client count on [{target}]({target_link}) {verb}.",
    },
    TypeTexts {
        name: "wifi_clients_min_recovery",
        label: "Min WiFi clients RECOVERY",
        level: "info",
        verb: "has increased",
        subject: "[{site}] RECOVERY: {target} has WiFi clients connecting again",
        message: "The WiFi client count on [{target}]({target_link}) {verb} and is now within the expected range.",
    },
    TypeTexts {
        name: "disk_problem",
        label: "Disk usage PROBLEM",
        level: "warning",
        verb: "is experiencing a peak in",
        subject: "[{site}] PROBLEM: {target} {verb} disk usage",
        message: "The device [{target}]({target_link}) {verb} disk usage which has gone over {threshold}%.",
    },
    TypeTexts {
        name: "disk_recovery",
        label: "Disk usage RECOVERY",
        level: "info",
        verb: "has returned to normal levels",
        subject: "[{site}] RECOVERY: {target} disk usage {verb}",
        message: "The device [{target}]({target_link}) disk usage {verb}.",
    },
    TypeTexts {
        name: "memory_problem",
        label: "Memory usage PROBLEM",
        level: "warning",
        verb: "is experiencing a peak in",
        subject: "[{site}] PROBLEM: {target} {verb} RAM usage",
        message: "The device [{target}]({target_link}) {verb} RAM usage which has gone over {threshold}%.",
    },
    TypeTexts {
        name: "memory_recovery",
        label: "Memory usage RECOVERY",
        level: "info",
        verb: "has returned to normal levels",
        subject: "[{site}] RECOVERY: {target} RAM usage {verb}",
        message: "The device [{target}]({target_link}) RAM usage {verb}.",
    },
    TypeTexts {
        name: "cpu_problem",
        label: "CPU usage PROBLEM",
        level: "warning",
        verb: "is experiencing a peak in",
        subject: "[{site}] PROBLEM: {target} {verb} CPU usage",
        message: "The device [{target}]({target_link}) {verb} CPU usage which has gone over {threshold}%.",
    },
    TypeTexts {
        name: "cpu_recovery",
        label: "CPU usage RECOVERY",
        level: "info",
        verb: "has returned to normal levels",
        subject: "[{site}] RECOVERY: {target} CPU usage {verb}",
        message: "The device [{target}]({target_link}) CPU usage {verb}.",
    },
];

/// The texts of a type: a built-in one, or generic texts for a type registered by a metric
/// added in the configuration (upstream requires such metrics to register their own texts;
/// generic ones are friendlier than silence).
pub fn texts(name: &str) -> TypeTexts {
    if let Some(t) = TYPES.iter().find(|t| t.name == name) {
        return *t;
    }
    if name.ends_with("_recovery") {
        TypeTexts {
            name: "custom_recovery",
            label: "RECOVERY",
            level: "info",
            verb: "is back within the expected range",
            subject: "[{site}] RECOVERY: {target} {metric} {verb}",
            message: "The {metric} of device [{target}]({target_link}) {verb}.",
        }
    } else {
        TypeTexts {
            name: "custom_problem",
            label: "PROBLEM",
            level: "warning",
            verb: "has crossed its threshold",
            subject: "[{site}] PROBLEM: {target} {metric} {verb}",
            message: "The {metric} of device [{target}]({target_link}) {verb} of {threshold}.",
        }
    }
}

/// What a notification's texts are filled with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Site name.
    pub site: &'a str,
    /// Device name.
    pub target: &'a str,
    /// Device page address.
    pub target_link: &'a str,
    /// Effective threshold, as upstream prints it.
    pub threshold: &'a str,
    /// Metric name (generic texts only).
    pub metric: &'a str,
}

/// Fills a template; the verb first, so a verb is never itself re-expanded from a device
/// name containing a placeholder.
pub fn render(template: &str, verb: &str, c: &Context<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(j) = after.find('}') else {
            out.push_str(after);
            return out;
        };
        match &after[1..j] {
            "site" => out.push_str(c.site),
            "target" => out.push_str(c.target),
            "target_link" => out.push_str(c.target_link),
            "verb" => out.push_str(verb),
            "threshold" => out.push_str(c.threshold),
            "metric" => out.push_str(c.metric),
            _ => out.push_str(&after[..=j]),
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

/// A stored in-app notification of one user.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Notification {
    /// Primary key.
    pub id: Id,
    /// Recipient's username.
    pub recipient: String,
    /// Type name.
    pub kind: String,
    /// `warning` or `info`.
    pub level: String,
    /// Verb.
    pub verb: String,
    /// Subject line.
    pub subject: String,
    /// Message, Markdown.
    pub message: String,
    /// The device's organization.
    pub organization: Option<Id>,
    /// The device.
    pub device: Option<Id>,
    /// The metric.
    pub metric: Option<Id>,
    /// Device page address.
    pub link: Option<String>,
    /// Not yet read.
    pub unread: bool,
    /// When, ns since the epoch.
    pub created_ns: i64,
}

impl Record for Notification {
    const TREE: &'static str = "notifications";
    const VERSION: u8 = 1;
}

/// The record key of a notification.
pub fn key(recipient: &str, created_ns: i64, id: Id) -> Vec<u8> {
    let mut k = user_prefix(recipient);
    // Offset so negative times still sort before positive ones.
    k.extend_from_slice(&(created_ns as u64 ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(&id.0);
    k
}

fn user_prefix(user: &str) -> Vec<u8> {
    let mut k = user.as_bytes().to_vec();
    k.push(0);
    k
}

/// A user's notifications, newest first.
///
/// # Errors
/// Storage failure.
pub fn of_user(records: &Records, user: &str) -> Result<Vec<Notification>, DomainError> {
    let mut v: Vec<Notification> = records
        .list_prefix::<Notification>(&user_prefix(user))?
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    v.reverse();
    Ok(v)
}

/// Marks notifications of a user read (`ids` empty: all). Returns how many changed.
///
/// # Errors
/// Storage failure.
pub fn mark_read(records: &Records, user: &str, ids: &[Id]) -> Result<usize, DomainError> {
    let mut changed = Vec::new();
    for (k, mut n) in records.list_prefix::<Notification>(&user_prefix(user))? {
        if n.unread && (ids.is_empty() || ids.contains(&n.id)) {
            n.unread = false;
            changed.push((k, n));
        }
    }
    records.put_all(&changed)?;
    Ok(changed.len())
}

/// Deletes one notification of a user; whether it existed.
///
/// # Errors
/// Storage failure.
pub fn remove(records: &Records, user: &str, id: Id) -> Result<bool, DomainError> {
    for (k, n) in records.list_prefix::<Notification>(&user_prefix(user))? {
        if n.id == id {
            records.remove::<Notification>(&k)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// One preference rule: for a type (or every type) in an organization (or every one).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Rule {
    /// `None`: every organization.
    pub organization: Option<Id>,
    /// `None`: every type.
    pub kind: Option<String>,
    /// Show in the web UI.
    pub web: bool,
    /// Send by e-mail (only with `web`, as upstream: an e-mail about a notification the
    /// user switched off would be odd).
    pub email: bool,
}

/// A user's notification preferences and e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct Preferences {
    /// Where e-mails go; none means no e-mail.
    pub email: Option<String>,
    /// Rules; the most specific matching one applies.
    pub rules: Vec<Rule>,
}

impl Record for Preferences {
    const TREE: &'static str = "notification_preferences";
    const VERSION: u8 = 1;
}

impl Preferences {
    /// (web, e-mail) for a type in an organization: the most specific rule (organization and
    /// type, then organization, then type, then the catch-all); on when none matches.
    pub fn channels(&self, kind: &str, organization: Option<Id>) -> (bool, bool) {
        let score = |r: &Rule| -> Option<u8> {
            let org = match r.organization {
                None => 0,
                Some(o) if Some(o) == organization => 2,
                Some(_) => return None,
            };
            let k = match &r.kind {
                None => 0,
                Some(k) if k == kind => 1,
                Some(_) => return None,
            };
            Some(org + k)
        };
        self.rules
            .iter()
            .filter_map(|r| score(r).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map_or((true, true), |(_, r)| (r.web, r.web && r.email))
    }
}

/// A user's preferences (defaults when none were saved).
///
/// # Errors
/// Storage failure.
pub fn preferences(records: &Records, user: &str) -> Result<Preferences, DomainError> {
    Ok(records
        .get::<Preferences>(user.as_bytes())?
        .unwrap_or_default())
}

/// Stores a user's preferences.
///
/// # Errors
/// An invalid e-mail address, storage failure.
pub fn save_preferences(records: &Records, user: &str, p: &Preferences) -> Result<(), DomainError> {
    if let Some(e) = &p.email
        && !valid_email(e)
    {
        return Err(DomainError::Invalid {
            field: "email",
            reason: "Enter a valid email address.".into(),
        });
    }
    Ok(records.put(user.as_bytes(), p)?)
}

/// A plausible address: one `@`, something on each side, no spaces, controls or header
/// separators (it ends up in SMTP commands and headers).
pub fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && e.len() <= 254
        && !domain.contains('@')
        && domain.contains('.') | (domain == "localhost")
        && e.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"' | '\\'))
}

/// What a delivery carries.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Channel {
    /// An e-mail to one address.
    Email {
        /// Address.
        to: String,
        /// Subject.
        subject: String,
        /// Plain text (the Markdown message, link written out).
        text: String,
        /// HTML alternative.
        html: String,
    },
    /// A call of the configured webhook with this JSON body.
    Webhook {
        /// JSON document.
        body: String,
    },
}

/// One e-mail or webhook call waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Delivery {
    /// Primary key; also the e-mail's Message-ID and the webhook's delivery header, so a
    /// retry after a crash can be recognised by the receiver.
    pub id: Id,
    /// What to send.
    pub channel: Channel,
    /// Attempts made.
    pub attempts: u32,
    /// Not before, ns since the epoch.
    pub next_attempt_ns: i64,
    /// Last failure.
    pub last_error: Option<String>,
    /// Given up (a permanent failure, or retries exhausted); kept for the operator to see.
    pub failed: bool,
    /// When queued, ns since the epoch.
    pub created_ns: i64,
}

impl Record for Delivery {
    const TREE: &'static str = "deliveries";
    const VERSION: u8 = 1;
}

/// Deliveries due at `now_ns`, oldest first.
///
/// # Errors
/// Storage failure.
pub fn due(records: &Records, now_ns: i64) -> Result<Vec<Delivery>, DomainError> {
    let mut v: Vec<Delivery> = records
        .list::<Delivery>()?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| !d.failed && d.next_attempt_ns <= now_ns)
        .collect();
    v.sort_by_key(|d| d.created_ns);
    Ok(v)
}

/// Every queued delivery (failed ones included).
///
/// # Errors
/// Storage failure.
pub fn deliveries(records: &Records) -> Result<Vec<Delivery>, DomainError> {
    Ok(records
        .list::<Delivery>()?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// Removes a delivered delivery.
///
/// # Errors
/// Storage failure.
pub fn delivered(records: &Records, id: Id) -> Result<(), DomainError> {
    Ok(records.remove::<Delivery>(&id.0)?)
}

/// Longest wait between attempts.
pub const MAX_BACKOFF_NS: i64 = 3_600 * 1_000_000_000;
/// First wait.
pub const FIRST_BACKOFF_NS: i64 = 30 * 1_000_000_000;
/// A delivery still failing after this long is given up.
pub const GIVE_UP_AFTER_NS: i64 = 2 * 86_400 * 1_000_000_000;

/// Records a failed attempt: retried with exponential back-off (30 s doubling, at most an
/// hour) unless `permanent` or older than two days. Returns the stored delivery.
///
/// # Errors
/// Storage failure.
pub fn attempt_failed(
    records: &Records,
    mut d: Delivery,
    error: &str,
    permanent: bool,
    now_ns: i64,
) -> Result<Delivery, DomainError> {
    d.attempts = d.attempts.saturating_add(1);
    d.last_error = Some(error.to_owned());
    let wait = FIRST_BACKOFF_NS
        .saturating_mul(1i64 << d.attempts.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_NS);
    d.next_attempt_ns = now_ns.saturating_add(wait);
    d.failed = permanent || now_ns.saturating_sub(d.created_ns) > GIVE_UP_AFTER_NS;
    records.put(&d.id.0, &d)?;
    Ok(d)
}

#[cfg(test)]
mod tests;
