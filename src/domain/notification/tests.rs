//! Texts, preferences and back-off of notifications.

use super::*;

fn ctx<'a>() -> Context<'a> {
    Context {
        site: "example.com",
        target: "ap-lobby-01",
        target_link: "https://nms/devices/1/",
        threshold: "90",
        metric: "CPU usage",
    }
}

#[test]
fn every_type_renders_as_upstream_words_it() {
    let subject = |name: &str| {
        let t = texts(name);
        render(t.subject, t.verb, &ctx())
    };
    let message = |name: &str| {
        let t = texts(name);
        render(t.message, t.verb, &ctx())
    };
    assert_eq!(
        subject("ping_problem"),
        "[example.com] PROBLEM: ap-lobby-01 is not reachable"
    );
    assert_eq!(
        message("ping_problem"),
        "The device [ap-lobby-01](https://nms/devices/1/) is not reachable."
    );
    assert_eq!(
        subject("config_applied_recovery"),
        "[example.com] RECOVERY: ap-lobby-01 configuration has been applied again successfully"
    );
    assert_eq!(
        message("data_collected_problem"),
        "The [ap-lobby-01](https://nms/devices/1/) device has not been sending monitoring data."
    );
    assert_eq!(
        message("wifi_clients_max_recovery"),
        "The WiFi client count on  [ap-lobby-01](https://nms/devices/1/) has decreased and is now within the expected range.",
        "two spaces after \"on\", as upstream"
    );
    assert_eq!(
        message("memory_problem"),
        "The device [ap-lobby-01](https://nms/devices/1/) is experiencing a peak in RAM usage which has gone over 90%."
    );
    assert_eq!(
        subject("cpu_recovery"),
        "[example.com] RECOVERY: ap-lobby-01 CPU usage has returned to normal levels"
    );
    // Levels and distinct names.
    for t in TYPES {
        let want = if t.name.ends_with("_problem") {
            "warning"
        } else {
            "info"
        };
        assert_eq!(t.level, want, "{}", t.name);
        assert_eq!(TYPES.iter().filter(|u| u.name == t.name).count(), 1);
    }
    // A type from the configuration without texts still says something useful.
    assert_eq!(
        subject("iperf3_problem"),
        "[example.com] PROBLEM: ap-lobby-01 CPU usage has crossed its threshold"
    );
    // A device named like a placeholder stays as it is.
    let c = Context {
        target: "{verb}",
        ..ctx()
    };
    assert_eq!(render("{target} {verb}", "is down", &c), "{verb} is down");
}

#[test]
fn the_most_specific_rule_wins_and_e_mail_needs_web() {
    let org = Id([7; 16]);
    let other = Id([8; 16]);
    let rule = |organization, kind: Option<&str>, web, email| Rule {
        organization,
        kind: kind.map(str::to_owned),
        web,
        email,
    };
    let p = Preferences {
        email: Some("a@example.com".into()),
        rules: vec![
            rule(None, None, true, false),
            rule(None, Some("cpu_problem"), true, true),
            rule(Some(org), None, false, true),
            rule(Some(org), Some("ping_problem"), true, true),
        ],
    };
    assert_eq!(p.channels("disk_problem", Some(other)), (true, false));
    assert_eq!(p.channels("cpu_problem", Some(other)), (true, true));
    assert_eq!(p.channels("cpu_problem", Some(org)), (false, false));
    assert_eq!(p.channels("ping_problem", Some(org)), (true, true));
    assert_eq!(Preferences::default().channels("x", None), (true, true));
    assert!(valid_email("noc@example.net"));
    for bad in [
        "",
        "a",
        "@b.c",
        "a@",
        "a b@c.d",
        "a@b@c.d",
        "a@b.c\r\nRCPT TO:<x>",
        "<a@b.c>",
    ] {
        assert!(!valid_email(bad), "{bad:?}");
    }
}

#[test]
fn back_off_doubles_to_an_hour_and_gives_up_after_two_days() {
    let s = crate::storage::Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
    let r = s.records();
    let mut d = Delivery {
        id: Id([1; 16]),
        channel: Channel::Webhook { body: "{}".into() },
        attempts: 0,
        next_attempt_ns: 0,
        last_error: None,
        failed: false,
        created_ns: 0,
    };
    let mut waits = Vec::new();
    let mut now = 0;
    for _ in 0..10 {
        d = attempt_failed(&r, d, "503", false, now).unwrap();
        waits.push((d.next_attempt_ns - now) / 1_000_000_000);
        now = d.next_attempt_ns;
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    assert!(!d.failed);
    assert_eq!(due(&r, now).unwrap().len(), 1);
    let d = attempt_failed(&r, d, "503", false, GIVE_UP_AFTER_NS + 1).unwrap();
    assert!(d.failed);
    assert!(due(&r, i64::MAX).unwrap().is_empty());
    let d = attempt_failed(&r, Delivery { failed: false, ..d }, "550", true, 0).unwrap();
    assert!(d.failed);
}
