//! Health status and notifications through the domain's records, on a mock clock.

use std::time::Duration;

use super::*;
use crate::domain::check::CheckInput;
use crate::domain::device::DeviceInput;
use crate::domain::events::Event;
use crate::domain::netjson;
use crate::domain::org::OrganizationInput;
use crate::domain::testing::*;
use crate::storage::FieldValue;

#[test]
fn transitions_follow_the_metrics() {
    let w = world_with(ping_only);
    assert_eq!(w.status(), "unknown");
    assert_eq!(w.ping(1.0), "ok");
    assert_eq!(w.ping(0.0), "critical");
    assert_eq!(w.ping(1.0), "ok");
    assert_eq!(w.cpu(100.0), "problem");
    assert_eq!(w.cpu(20.0), "ok");
    assert_eq!(w.cpu(100.0), "problem");
    assert_eq!(w.ping(0.0), "critical");
    assert_eq!(w.ping(1.0), "problem");
    assert_eq!(w.cpu(80.0), "ok");
    assert_eq!(w.ping(0.0), "critical");
    assert_eq!(w.cpu(100.0), "critical");
    assert_eq!(w.cpu(80.0), "critical");
    assert_eq!(w.ping(1.0), "ok");
    use HealthStatus::*;
    assert_eq!(
        w.health_events(),
        [
            (Unknown, Ok),
            (Ok, Critical),
            (Critical, Ok),
            (Ok, Problem),
            (Problem, Ok),
            (Ok, Problem),
            (Problem, Critical),
            (Critical, Problem),
            (Problem, Ok),
            (Ok, Critical),
            (Critical, Ok),
        ]
    );
}

#[test]
fn both_default_critical_metrics_must_fail_for_critical() {
    let w = world();
    assert_eq!(w.result("data_collected", "data_collected", 0.0), "problem");
    assert_eq!(w.ping(0.0), "critical");
    // Becoming critical cleared the management IP.
    let d = w.d.device(&w.root, w.dev.id).unwrap();
    assert_eq!(d.management_ip, None);
    assert_eq!(w.result("data_collected", "data_collected", 1.0), "problem");
}

#[test]
fn unknown_resets_every_metric_and_the_next_good_sample_sends_no_recovery() {
    let w = world_with(ping_only);
    w.instant_ping_alerts();
    w.ping(0.0);
    assert_eq!(w.notes("root").len(), 1);
    w.d.set_status(w.dev.id, HealthStatus::Unknown, false)
        .unwrap();
    let m = metric::of_object(&w.d.records, w.dev.id).unwrap();
    assert!(
        m.iter()
            .all(|m| m.is_healthy.is_none() && m.is_healthy_tolerant.is_none())
    );
    assert_eq!(w.ping(1.0), "ok");
    assert_eq!(w.notes("root").len(), 1, "no recovery for a reset metric");
}

#[test]
fn disabling_an_organization_resets_its_devices_only() {
    let w = world_with(ping_only);
    let other =
        w.d.create_device(
            &w.root,
            DeviceInput {
                organization: Some(w.other_org),
                name: Some("elsewhere".into()),
                mac_address: Some("00:11:22:33:44:66".into()),
                management_ip: Some(Some("10.9.9.9".into())),
                ..Default::default()
            },
        )
        .unwrap();
    let o = device::get(&w.d.records, other.id).unwrap().unwrap();
    w.d.record_check_result(
        &o,
        "ping",
        vec![("reachable".into(), FieldValue::Integer(1))],
        None,
        true,
    )
    .unwrap();
    assert_eq!(w.ping(1.0), "ok");
    w.d.update_organization(
        &w.root,
        w.org,
        OrganizationInput {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let d = w.d.device(&w.root, w.dev.id).unwrap();
    assert_eq!((d.status, d.management_ip), (HealthStatus::Unknown, None));
    assert!(
        metric::of_object(&w.d.records, w.dev.id)
            .unwrap()
            .iter()
            .all(|m| m.is_healthy.is_none())
    );
    let o = w.d.device(&w.root, other.id).unwrap();
    assert_eq!(o.status, HealthStatus::Ok);
    assert_eq!(o.management_ip.as_deref(), Some("10.9.9.9"));
}

#[test]
fn deactivation_and_activation() {
    let w = world_with(ping_only);
    w.ping(1.0);
    let set = |v: bool| {
        w.d.update_device(
            &w.root,
            w.dev.id,
            DeviceInput {
                is_deactivated: Some(v),
                ..Default::default()
            },
        )
        .unwrap()
        .status
    };
    assert_eq!(set(true), HealthStatus::Deactivated);
    // A result arriving anyway does not move a deactivated device.
    assert_eq!(w.ping(0.0), "deactivated");
    assert_eq!(set(false), HealthStatus::Unknown);
    assert!(
        metric::of_object(&w.d.records, w.dev.id)
            .unwrap()
            .iter()
            .all(|m| m.is_healthy.is_none())
    );
    assert_eq!(w.ping(1.0), "ok");
}

#[test]
fn switching_off_or_deleting_a_critical_check_makes_the_status_unknown() {
    let w = world_with(ping_only);
    assert_eq!(w.ping(1.0), "ok");
    let checks = w.d.device_checks(&w.root, w.dev.id).unwrap();
    let ping = checks
        .iter()
        .find(|c| c.check_type == CheckType::Ping)
        .unwrap();
    let config = checks
        .iter()
        .find(|c| c.check_type == CheckType::ConfigApplied)
        .unwrap();
    // A non-critical check changes nothing.
    w.d.delete_check(&w.root, w.dev.id, config.id).unwrap();
    assert_eq!(w.status(), "ok");
    w.d.save_check(
        &w.root,
        w.dev.id,
        Some(ping.id),
        CheckInput {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(w.status(), "unknown");
    assert_eq!(w.ping(1.0), "ok");
    w.d.delete_check(&w.root, w.dev.id, ping.id).unwrap();
    assert_eq!(w.status(), "unknown");
}

#[test]
fn a_contact_from_a_critical_device_reruns_its_critical_checks() {
    let w = world();
    w.result("data_collected", "data_collected", 0.0);
    assert_eq!(w.ping(0.0), "critical");
    w.health_events();
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    w.d.note_contact(&dev, Some("192.0.2.7".into())).unwrap();
    // Both critical metrics still failing: still critical, the checks asked to run.
    assert_eq!(w.status(), "critical");
    let runs: Vec<Event> = w
        .events
        .try_iter()
        .filter(|e| matches!(e, Event::RunChecks { .. }))
        .collect();
    let Event::RunChecks { checks, .. } = &runs[0] else {
        unreachable!()
    };
    assert_eq!(checks.len(), 2, "ping and data collected");
    // Data arrives again: problem, then ping confirms ok.
    assert_eq!(w.result("data_collected", "data_collected", 1.0), "problem");
    assert_eq!(w.ping(1.0), "ok");
    // A critical device without any critical check becomes ok on contact.
    assert_eq!(w.ping(0.0), "problem");
    w.result("data_collected", "data_collected", 0.0);
    assert_eq!(w.status(), "critical");
    for c in w.d.device_checks(&w.root, w.dev.id).unwrap() {
        w.d.delete_check(&w.root, w.dev.id, c.id).unwrap();
    }
    // (deleting the critical checks made it unknown; put it back to critical to test)
    w.ping(0.0);
    w.result("data_collected", "data_collected", 0.0);
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    w.d.set_status(dev.id, HealthStatus::Critical, false)
        .unwrap();
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    w.d.note_contact(&dev, None).unwrap();
    assert_eq!(w.status(), "ok");
}

#[test]
fn notifications_reach_superusers_and_the_organizations_admins_with_upstreams_texts() {
    let w = world_with(|s| {
        ping_only(s);
        s.notifications.email = true;
        s.notifications.webhook = true;
    });
    notification::save_preferences(
        &w.d.records,
        "alice",
        &notification::Preferences {
            email: Some("alice@example.com".into()),
            rules: Vec::new(),
        },
    )
    .unwrap();
    w.instant_ping_alerts();
    assert!(
        w.notes("root").is_empty(),
        "a new healthy metric notifies nobody"
    );
    w.ping(0.0);
    let n = &w.notes("alice")[0];
    assert_eq!(n.kind, "ping_problem");
    assert_eq!(n.level, "warning");
    assert_eq!(n.verb, "is not reachable");
    assert_eq!(
        n.subject,
        "[example.com] PROBLEM: ap-lobby-01 is not reachable"
    );
    let link = format!("https://nms.example.com/#/device/{}", w.dev.id);
    assert_eq!(
        n.message,
        format!("The device [ap-lobby-01]({link}) is not reachable.")
    );
    assert!(n.unread);
    assert_eq!(w.notes("root").len(), 1);
    assert!(w.notes("victor").is_empty(), "viewers are not notified");
    assert!(w.notes("bob").is_empty(), "nor other organizations' admins");
    // One e-mail (only alice has an address) and one webhook call queued.
    let q = notification::deliveries(&w.d.records).unwrap();
    assert_eq!(q.len(), 2);
    let mail = q
        .iter()
        .find_map(|d| match &d.channel {
            Channel::Email {
                to,
                subject,
                text,
                html,
            } => Some((to, subject, text, html)),
            Channel::Webhook { .. } => None,
        })
        .unwrap();
    assert_eq!(mail.0, "alice@example.com");
    assert_eq!(
        mail.1,
        "[example.com] PROBLEM: ap-lobby-01 is not reachable"
    );
    assert_eq!(
        *mail.2,
        format!("The device ap-lobby-01 is not reachable.\n\n{link}\n")
    );
    assert_eq!(
        *mail.3,
        format!("<p>The device <a href=\"{link}\">ap-lobby-01</a> is not reachable.</p>")
    );
    let hook = q
        .iter()
        .find_map(|d| match &d.channel {
            Channel::Webhook { body } => {
                Some(serde_json::from_str::<serde_json::Value>(body).unwrap())
            }
            Channel::Email { .. } => None,
        })
        .unwrap();
    assert_eq!(hook["type"], "ping_problem");
    assert_eq!(hook["device"]["name"], "ap-lobby-01");
    assert_eq!(hook["metric"]["is_healthy_tolerant"], false);
    // Recovery.
    w.ping(1.0);
    let n = &w.notes("alice")[0];
    assert_eq!(n.kind, "ping_recovery");
    assert_eq!(
        n.subject,
        "[example.com] RECOVERY: ap-lobby-01 is reachable again"
    );
    // Mark read.
    assert_eq!(
        notification::mark_read(&w.d.records, "alice", &[]).unwrap(),
        2
    );
    assert!(w.notes("alice").iter().all(|n| !n.unread));
}

#[test]
fn preferences_switch_channels_per_type_and_organization() {
    let w = world_with(|s| {
        ping_only(s);
        s.notifications.email = true;
    });
    notification::save_preferences(
        &w.d.records,
        "root",
        &notification::Preferences {
            email: Some("root@example.com".into()),
            rules: vec![
                notification::Rule {
                    organization: None,
                    kind: None,
                    web: true,
                    email: false,
                },
                notification::Rule {
                    organization: Some(w.org),
                    kind: Some("ping_problem".into()),
                    web: false,
                    email: false,
                },
            ],
        },
    )
    .unwrap();
    w.instant_ping_alerts();
    w.ping(0.0);
    assert!(w.notes("root").is_empty());
    w.ping(1.0);
    assert_eq!(w.notes("root").len(), 1, "recoveries still shown");
    assert!(
        notification::deliveries(&w.d.records).unwrap().is_empty(),
        "no e-mail"
    );
    assert!(
        notification::save_preferences(
            &w.d.records,
            "root",
            &notification::Preferences {
                email: Some("not an address".into()),
                rules: Vec::new()
            }
        )
        .is_err()
    );
}

#[test]
fn disabled_alerts_change_health_but_notify_nobody() {
    let w = world_with(ping_only);
    w.instant_ping_alerts();
    let m = metric::of_object(&w.d.records, w.dev.id).unwrap().remove(0);
    w.d.edit_alert_settings(
        &w.root,
        w.dev.id,
        m.id,
        metric::AlertInput {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(w.ping(0.0), "critical");
    assert!(w.notes("root").is_empty());
}

#[test]
fn passive_metrics_from_samples_move_health_and_historical_ones_do_not() {
    let w = world_with(ping_only);
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    // cpu_usage = 100 · load_1 / cpus.
    let doc = |cpu: f64| {
        let load = cpu / 100.0;
        netjson::parse_document(
            format!(
                r#"{{"type":"DeviceMonitoring","resources":{{"load":[{load},0.1,0.1],"cpus":1}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    };
    // Two late samples of 99 % leave it alone.
    let now = w.d.now();
    w.d.ingest(&dev, doc(99.0), now - 20 * 60_000_000_000)
        .unwrap();
    w.d.ingest(&dev, doc(99.0), now - 15 * 60_000_000_000)
        .unwrap();
    assert_eq!(w.status(), "unknown");
    // The first real-time 99 flips the immediate flag only (30-minute tolerance).
    w.d.ingest(&dev, doc(99.0), now).unwrap();
    assert_eq!(w.status(), "problem");
    let m = metric::of_object(&w.d.records, w.dev.id).unwrap();
    let cpu = m.iter().find(|m| m.key == "cpu").unwrap();
    assert_eq!(
        (cpu.is_healthy, cpu.is_healthy_tolerant),
        (Some(false), Some(true))
    );
    // Bad for 30 minutes: one problem notification, whose text gives the threshold.
    for i in 1..=7 {
        w.clock.advance(Duration::from_secs(300));
        w.d.ingest(&dev, doc(99.0), now + i * 300_000_000_000)
            .unwrap();
    }
    let n = w.notes("root");
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0].message,
        format!(
            "The device [ap-lobby-01](https://nms.example.com/#/device/{}) is experiencing a peak in CPU usage which has gone over 90%.",
            w.dev.id
        )
    );
}

#[test]
fn a_samples_metrics_are_assessed_together_and_move_the_status_once() {
    let w = world_with(ping_only);
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    // CPU 10 % (fine), memory 97 % used and disk 95 % used (both over their thresholds).
    let doc = netjson::parse_document(
        br#"{"type":"DeviceMonitoring","resources":{"load":[0.1,0.1,0.1],"cpus":1,
            "memory":{"total":1000000,"free":30000,"buffered":0,"shared":0},
            "disk":[{"filesystem":"/dev/root","mount_point":"/","size_bytes":1000000,
                     "used_bytes":950000,"available_bytes":50000,"used_percent":95}]}}"#,
    )
    .unwrap();
    w.d.ingest(&dev, doc, w.d.now()).unwrap();
    let flags = |key: &str| {
        let m = metric::of_object(&w.d.records, w.dev.id).unwrap();
        let m = m.iter().find(|m| m.key == key).unwrap();
        (m.is_healthy, m.is_healthy_tolerant)
    };
    // Disk alerts at once (no tolerance), memory only after its tolerance.
    assert_eq!(flags("cpu"), (Some(true), Some(true)));
    assert_eq!(flags("memory"), (Some(false), Some(true)));
    assert_eq!(flags("disk"), (Some(false), Some(false)));
    assert_eq!(w.status(), "problem");
    assert_eq!(w.notes("root").len(), 1, "the disk alert");
    let crossed: Vec<_> = w
        .events
        .try_iter()
        .filter_map(|e| match e {
            Event::ThresholdCrossed { is_healthy, .. } => Some(is_healthy),
            Event::HealthChanged { from, to, .. } => {
                assert_eq!((from, to), (HealthStatus::Unknown, HealthStatus::Problem));
                None
            }
            _ => None,
        })
        .collect();
    assert_eq!(crossed.len(), 3, "one threshold event per assessed metric");
}

#[test]
fn an_outage_of_a_critical_metric_closes_wifi_sessions() {
    let w = world_with(ping_only);
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    let doc = netjson::parse_document(
        br#"{"type":"DeviceMonitoring","interfaces":[{"name":"wlan0","type":"wireless","wireless":{"mode":"access_point","ssid":"guest","channel":1,"country":"IT","frequency":2412,"noise":-95,"tx_power":20,"clients":[{"mac":"aa:bb:cc:dd:ee:01","auth":true,"authorized":true,"ht":true,"vht":false,"wmm":true,"mfp":false}]}}]}"#,
    )
    .unwrap();
    w.d.ingest(&dev, doc, w.d.now()).unwrap();
    let open = |w: &World| {
        crate::domain::wifi::sessions_of(&w.d.records, w.dev.id)
            .unwrap()
            .iter()
            .filter(|s| s.stop_ns.is_none())
            .count()
    };
    assert_eq!(open(&w), 1);
    w.ping(1.0);
    assert_eq!(open(&w), 1);
    // Ping's tolerance is 30 minutes: the sessions close when the outage is confirmed.
    for _ in 0..7 {
        w.clock.advance(Duration::from_secs(240));
        w.ping(0.0);
    }
    assert_eq!(open(&w), 0);
}
