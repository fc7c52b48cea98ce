//! Which checks run, what ping probes, and the data checks, on a mock clock.

use std::time::Duration;

use super::*;
use crate::domain::check::CheckInput;
use crate::domain::device::DeviceInput;
use crate::domain::netjson;
use crate::domain::org::OrganizationInput;
use crate::domain::testing::*;

fn run_of(w: &World, device: Id, t: CheckType) -> CheckRun {
    let c = check::of_device(&w.d.records, device)
        .unwrap()
        .into_iter()
        .find(|c| c.check_type == t)
        .unwrap();
    w.d.begin_check(device, c.id).unwrap().unwrap()
}

fn wifi_doc(macs: &[&str]) -> netjson::Document {
    let clients: Vec<String> = macs
        .iter()
        .map(|m| {
            format!(
                r#"{{"mac":"{m}","auth":true,"authorized":true,"ht":true,"vht":false,"wmm":true,"mfp":false}}"#
            )
        })
        .collect();
    netjson::parse_document(
        format!(
            r#"{{"type":"DeviceMonitoring","interfaces":[{{"name":"wlan0","type":"wireless","wireless":{{"mode":"access_point","ssid":"guest","channel":1,"country":"IT","frequency":2412,"noise":-95,"tx_power":20,"clients":[{}]}}}}]}}"#,
            clients.join(",")
        )
        .as_bytes(),
    )
    .unwrap()
}

fn stored(o: RunOutcome) -> Vec<(String, f64)> {
    match o {
        RunOutcome::Stored(v) => v,
        RunOutcome::Skipped(why) => panic!("skipped: {why}"),
    }
}

#[test]
fn a_round_runs_active_checks_of_live_devices_parents_first() {
    let w = world();
    let mk = |name: &str, mac: &str, org| w.add_device(org, name, mac);
    let child = mk("child", "00:11:22:33:44:01", w.org);
    let off = mk("off", "00:11:22:33:44:02", w.org);
    let closed_org =
        w.d.create_organization(
            &w.root,
            OrganizationInput {
                name: Some("closed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let in_closed = mk("in-closed", "00:11:22:33:44:03", closed_org.id);
    w.d.update_organization(
        &w.root,
        closed_org.id,
        OrganizationInput {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    w.d.update_device(
        &w.root,
        off.id,
        DeviceInput {
            is_deactivated: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    w.d.set_device_parent(&w.root, child.id, Some(w.dev.id))
        .unwrap();
    // The child's ping is switched off; its two other default checks stay.
    let ping = run_of(&w, child.id, CheckType::Ping).check;
    w.d.save_check(
        &w.root,
        child.id,
        Some(ping.id),
        CheckInput {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let round = w.d.scheduled_checks().unwrap();
    let devices: Vec<Id> = round.iter().map(|s| s.device).collect();
    assert!(!devices.contains(&off.id), "deactivated");
    assert!(!devices.contains(&in_closed.id), "organization disabled");
    assert_eq!(devices.iter().filter(|d| **d == w.dev.id).count(), 3);
    assert_eq!(devices.iter().filter(|d| **d == child.id).count(), 2);
    // Parents first; a child shares its parent's root.
    let first_child = devices.iter().position(|d| *d == child.id).unwrap();
    assert!(devices[..first_child].iter().all(|d| *d == w.dev.id));
    assert!(
        round
            .iter()
            .filter(|s| s.device == child.id)
            .all(|s| s.root == w.dev.id && s.depth == 1)
    );
    // A deleted check is a warning and nothing else.
    assert!(
        w.d.begin_check(w.dev.id, Id::random().unwrap())
            .unwrap()
            .is_none()
    );
}

#[test]
fn ping_targets_follow_the_management_ip_rule() {
    let only = world();
    let mut d = device::get(&only.d.records, only.dev.id).unwrap().unwrap();
    assert_eq!(
        only.d.ping_target(&d),
        PingTarget::Address("10.0.0.2".parse().unwrap())
    );
    d.management_ip = None;
    d.last_ip = Some("192.0.2.7".into());
    assert_eq!(
        only.d.ping_target(&d),
        PingTarget::Nothing,
        "never assessed"
    );
    d.status = HealthStatus::Ok;
    assert_eq!(only.d.ping_target(&d), PingTarget::Unreachable);
    let lan = world_with(|s| s.checks.management_ip_only = false);
    assert_eq!(
        lan.d.ping_target(&d),
        PingTarget::Address("192.0.2.7".parse().unwrap())
    );
    d.last_ip = Some("not an address".into());
    assert_eq!(lan.d.ping_target(&d), PingTarget::Unreachable);
}

#[test]
fn ping_parameters_come_from_the_check_over_the_defaults() {
    let w = world();
    let run = run_of(&w, w.dev.id, CheckType::Ping);
    assert_eq!(
        w.d.ping_params(&run.check),
        PingParams {
            count: 5,
            interval_ms: 25,
            bytes: 56,
            timeout_ms: 800
        }
    );
    let mut params = serde_json::Map::new();
    params.insert("count".into(), 3.into());
    params.insert("timeout".into(), 1500.into());
    let c =
        w.d.save_check(
            &w.root,
            w.dev.id,
            Some(run.check.id),
            CheckInput {
                params: Some(params),
                ..Default::default()
            },
        )
        .unwrap();
    let p = w.d.ping_params(&c);
    assert_eq!((p.count, p.interval_ms, p.timeout_ms), (3, 25, 1500));
}

#[test]
fn a_ping_round_stores_its_statistics_and_each_reply() {
    let w = world_with(ping_only);
    let d = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    let stats = PingStats {
        loss: 40.0,
        rtt: Some((0.5, 1.0, 1.5)),
        jitter: Some(0.5),
        rtts: vec![0.5, 1.0, 1.5],
    };
    let v = stored(w.d.record_ping(&d, Some(&stats)).unwrap());
    assert_eq!(v[0], ("reachable".into(), 1.0));
    assert_eq!(v[1], ("loss".into(), 40.0));
    assert_eq!(w.status(), "ok");
    let m = metric::of_object(&w.d.records, w.dev.id).unwrap();
    let ping = m.iter().find(|m| m.key == "ping").unwrap();
    assert!(ping.alert.is_some(), "alert settings on the first result");
    assert!(!ping.charts.is_empty(), "charts on the first result");
    let db = "openwisp2";
    let eqs = [("object_id".to_owned(), vec![w.dev.id.to_string()])];
    let series =
        w.d.engine
            .series_matching_all(db, "ping_rtt", &eqs)
            .unwrap();
    let col =
        w.d.engine
            .read(db, None, series[0], "rtt", 0, i64::MAX)
            .unwrap()
            .unwrap();
    assert_eq!(col.len(), 3, "one point per reply, 1 µs apart");
    let rs = w.d.engine.series_matching_all(db, "ping", &eqs).unwrap();
    let jitter =
        w.d.engine
            .read(db, None, rs[0], "jitter", 0, i64::MAX)
            .unwrap()
            .unwrap();
    assert_eq!(jitter.value(0), Some(FieldValue::Float(0.5)));
    // No address on an assessed device: simulated down.
    w.clock.advance(Duration::from_secs(60));
    let v = stored(w.d.record_ping(&d, None).unwrap());
    assert_eq!(v, [("reachable".into(), 0.0), ("loss".into(), 100.0)]);
    assert_eq!(w.status(), "critical");
}

#[test]
fn data_collected_looks_for_recent_passive_points() {
    let w = world();
    let run = run_of(&w, w.dev.id, CheckType::DataCollected);
    assert_eq!(
        stored(w.d.run_data_check(&run).unwrap())[0].1,
        0.0,
        "nothing yet"
    );
    let cpu = netjson::parse_document(
        br#"{"type":"DeviceMonitoring","resources":{"load":[0.1,0.1,0.1],"cpus":1}}"#,
    )
    .unwrap();
    w.d.ingest(&run.device, cpu, w.d.now()).unwrap();
    w.clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(stored(w.d.run_data_check(&run).unwrap())[0].1, 1.0);
    w.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        stored(w.d.run_data_check(&run).unwrap())[0].1,
        0.0,
        "an hour ago"
    );
    // Ping results are not "data collected".
    let d = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    w.d.record_ping(&d, None).unwrap();
    assert_eq!(stored(w.d.run_data_check(&run).unwrap())[0].1, 0.0);
}

#[test]
fn wifi_clients_counts_unique_macs_in_both_windows() {
    let w = world_with(|s| s.checks.auto_wifi_clients_check = true);
    let run = run_of(&w, w.dev.id, CheckType::WifiClients);
    assert_eq!(
        w.d.run_data_check(&run).unwrap(),
        RunOutcome::Skipped("device unknown or critical")
    );
    w.ping(1.0);
    let run = run_of(&w, w.dev.id, CheckType::WifiClients);
    let d = &run.device;
    w.d.ingest(
        d,
        wifi_doc(&["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"]),
        w.d.now(),
    )
    .unwrap();
    w.clock.advance(Duration::from_secs(600));
    w.d.ingest(
        d,
        wifi_doc(&["AA:BB:CC:DD:EE:02", "aa:bb:cc:dd:ee:03"]),
        w.d.now(),
    )
    .unwrap();
    let v = stored(w.d.run_data_check(&run).unwrap());
    assert_eq!(
        v,
        [
            ("wifi_clients_min".into(), 3.0),
            ("wifi_clients_max".into(), 2.0)
        ]
    );
}

#[test]
fn wifi_clients_sleeps_through_its_snooze_schedule() {
    let w = world_with(|s| {
        s.checks.auto_wifi_clients_check = true;
        s.checks.wifi_clients_check_snooze_schedule = vec![
            crate::config::parse_snooze_range(&toml::Value::Array(vec![
                "22:00".into(),
                "06:00".into(),
            ]))
            .unwrap(),
        ];
        s.checks.time_zone = "Europe/Rome".into();
    });
    // T0 is 2026-09-21 14:13:20 UTC, 16:13 in Rome: awake.
    assert!(!w.d.wifi_clients_snoozed(w.d.now()));
    // 20:30 UTC is 22:30 in Rome (summer time): asleep.
    let evening = w.d.now() + (6 * 3600 + 17 * 60) * 1_000_000_000;
    assert!(w.d.wifi_clients_snoozed(evening));
    w.ping(1.0);
    w.clock.advance(Duration::from_secs(6 * 3600 + 16 * 60));
    let run = run_of(&w, w.dev.id, CheckType::WifiClients);
    assert_eq!(
        w.d.run_data_check(&run).unwrap(),
        RunOutcome::Skipped("snoozed")
    );
}
