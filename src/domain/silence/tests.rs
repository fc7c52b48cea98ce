//! Maintenance windows, parent links and flapping, through the domain on a mock clock.

use std::time::Duration;

use super::*;
use crate::domain::geo::LocationInput;
use crate::domain::testing::*;

const MIN: i64 = 60 * 1_000_000_000;

fn kinds(w: &World, user: &str) -> Vec<String> {
    w.notes(user).into_iter().map(|n| n.kind).collect()
}

fn window(w: &World, scope: Scope, from_min: i64, to_min: i64) -> MaintenanceWindow {
    let now = w.d.now_ns();
    w.d.save_maintenance_window(
        &w.root,
        None,
        WindowInput {
            organization: Some(w.org),
            scope: Some(scope),
            start_ns: Some(now + from_min * MIN),
            end_ns: Some(now + to_min * MIN),
            reason: Some("firmware upgrade".into()),
        },
    )
    .unwrap()
}

#[test]
fn a_device_in_maintenance_changes_status_but_pages_nobody() {
    let w = world_with(ping_only);
    w.instant_ping_alerts();
    window(&w, Scope::Device(w.dev.id), -1, 30);
    assert_eq!(w.ping(0.0), "critical", "health still moves");
    assert!(kinds(&w, "root").is_empty());
    let h = w.d.device_health(&w.root, w.dev.id).unwrap();
    assert!(matches!(h.silence, Some(Silence::Maintenance { .. })));
    assert_eq!(h.held.len(), 1);
    // Recovered inside the window: the held problem and its recovery both vanish.
    assert_eq!(w.ping(1.0), "ok");
    assert!(kinds(&w, "root").is_empty());
    assert!(
        w.d.device_health(&w.root, w.dev.id)
            .unwrap()
            .held
            .is_empty()
    );
    w.clock.advance(Duration::from_secs(3600));
    assert_eq!(w.d.release_held_alerts().unwrap(), 0);
    assert!(kinds(&w, "root").is_empty());
}

#[test]
fn a_problem_still_standing_when_the_window_closes_is_told_once() {
    let w = world_with(ping_only);
    w.instant_ping_alerts();
    window(&w, Scope::Organization, -1, 10);
    w.ping(0.0);
    assert_eq!(w.d.release_held_alerts().unwrap(), 0, "window still open");
    assert!(kinds(&w, "alice").is_empty());
    w.clock.advance(Duration::from_secs(600));
    assert_eq!(w.d.release_held_alerts().unwrap(), 1);
    assert_eq!(kinds(&w, "alice"), ["ping_problem"]);
    assert_eq!(w.d.release_held_alerts().unwrap(), 0, "told once");
    // Its recovery is told as usual: the problem was.
    w.ping(1.0);
    assert_eq!(kinds(&w, "alice").len(), 2);
}

#[test]
fn windows_cover_their_scope_and_time_only() {
    let w = world_with(ping_only);
    let loc =
        w.d.create_location(
            &w.root,
            LocationInput {
                organization: Some(w.org),
                name: Some("Tower 1".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let other = w.add_device(w.org, "ap-roof", "00:11:22:33:44:66");
    w.d.set_device_place(&w.root, w.dev.id, Some(loc.id), None, None)
        .unwrap();
    let dev = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    let now = w.d.now_ns();
    let lw = window(&w, Scope::Location(loc.id), 0, 60);
    assert!(w.d.silence_of(&dev, now).unwrap().is_some());
    assert!(w.d.silence_of(&other, now).unwrap().is_none());
    assert!(
        w.d.silence_of(&dev, now + 60 * MIN).unwrap().is_none(),
        "end excluded"
    );
    assert!(w.d.silence_of(&dev, now - 1).unwrap().is_none(), "not yet");
    w.d.delete_maintenance_window(&w.root, lw.id).unwrap();
    assert!(w.d.silence_of(&dev, now).unwrap().is_none());
    window(&w, Scope::Organization, 0, 60);
    assert!(w.d.silence_of(&other, now).unwrap().is_some());
}

#[test]
fn windows_are_validated_and_kept_within_their_organization() {
    let w = world();
    let now = w.d.now_ns();
    let input = |scope, start, end| WindowInput {
        organization: Some(w.org),
        scope: Some(scope),
        start_ns: Some(start),
        end_ns: Some(end),
        reason: None,
    };
    let field = |r: Result<MaintenanceWindow, DomainError>| match r {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(
        field(w.d.save_maintenance_window(&w.root, None, input(Scope::Organization, now, now))),
        "end"
    );
    assert_eq!(
        field(w.d.save_maintenance_window(
            &w.root,
            None,
            input(Scope::Organization, now, now + MAX_WINDOW_NS + 1)
        )),
        "end"
    );
    let foreign = w.add_device(w.other_org, "theirs", "00:11:22:33:44:77");
    assert_eq!(
        field(w.d.save_maintenance_window(
            &w.root,
            None,
            input(Scope::Device(foreign.id), now, now + MIN)
        )),
        "object_id"
    );
    let alice = w.principal("alice");
    let victor = w.principal("victor");
    let bob = w.principal("bob");
    let mine =
        w.d.save_maintenance_window(&alice, None, input(Scope::Organization, now, now + MIN))
            .unwrap();
    assert!(matches!(
        w.d.save_maintenance_window(&victor, None, input(Scope::Organization, now, now + MIN)),
        Err(DomainError::Forbidden)
    ));
    assert_eq!(w.d.maintenance_windows(&victor).unwrap().len(), 1);
    assert!(w.d.maintenance_windows(&bob).unwrap().is_empty());
    assert!(matches!(
        w.d.maintenance_window(&bob, mine.id),
        Err(DomainError::NotFound)
    ));
    assert!(matches!(
        w.d.delete_maintenance_window(&bob, mine.id),
        Err(DomainError::NotFound)
    ));
    assert_eq!(
        field(w.d.save_maintenance_window(&bob, None, input(Scope::Organization, now, now + MIN))),
        "organization"
    );
    // A change keeps what it does not name.
    let changed =
        w.d.save_maintenance_window(
            &alice,
            Some(mine.id),
            WindowInput {
                reason: Some("ticket 42".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(changed.reason, "ticket 42");
    assert_eq!(
        (changed.start_ns, changed.end_ns),
        (mine.start_ns, mine.end_ns)
    );
}

/// Puts the world's device behind a new router; both alert on the first failed ping.
fn behind_router(w: &World) -> Device {
    let router = w.add_device(w.org, "tower-router", "00:11:22:33:44:88");
    w.d.set_device_parent(&w.root, w.dev.id, Some(router.id))
        .unwrap();
    w.instant_ping_alerts();
    w.for_device(router.id).instant_ping_alerts();
    router
}

#[test]
fn a_child_does_not_page_while_its_parent_is_down() {
    let w = world_with(ping_only);
    let router = behind_router(&w);
    let rw = w.for_device(router.id);
    assert_eq!(rw.ping(0.0), "critical");
    assert_eq!(kinds(&w, "alice"), ["ping_problem"], "the router pages");
    assert_eq!(w.ping(0.0), "critical");
    assert_eq!(kinds(&w, "alice").len(), 1, "its child does not");
    let h = w.d.device_health(&w.root, w.dev.id).unwrap();
    assert_eq!(h.silence, Some(Silence::ParentDown { parent: router.id }));
    assert_eq!(h.parent, Some(router.id));
    // The router comes back; the child stays down: now it pages.
    rw.ping(1.0);
    assert_eq!(w.d.release_held_alerts().unwrap(), 1);
    let k = kinds(&w, "alice");
    assert_eq!(k.len(), 3, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "ping_problem").count(), 2);
}

#[test]
fn a_child_recovering_with_its_parent_stays_quiet() {
    let w = world_with(ping_only);
    let router = behind_router(&w);
    let rw = w.for_device(router.id);
    rw.ping(0.0);
    w.ping(0.0);
    w.ping(1.0);
    rw.ping(1.0);
    assert_eq!(w.d.release_held_alerts().unwrap(), 0);
    // Newest first: the router's two, nothing of its child.
    assert_eq!(kinds(&w, "alice"), ["ping_recovery", "ping_problem"]);
}

#[test]
fn parents_are_checked() {
    let w = world();
    let mk = |name: &str, mac: &str, org| w.add_device(org, name, mac).id;
    let a = w.dev.id;
    let b = mk("b", "00:11:22:33:44:01", w.org);
    let c = mk("c", "00:11:22:33:44:02", w.org);
    let theirs = mk("theirs", "00:11:22:33:44:03", w.other_org);
    let invalid = |r: Result<Option<Id>, DomainError>| {
        matches!(
            r,
            Err(DomainError::Invalid {
                field: "parent",
                ..
            })
        )
    };
    assert!(invalid(w.d.set_device_parent(&w.root, a, Some(a))));
    assert!(invalid(w.d.set_device_parent(&w.root, a, Some(theirs))));
    w.d.set_device_parent(&w.root, b, Some(a)).unwrap();
    w.d.set_device_parent(&w.root, c, Some(b)).unwrap();
    assert!(invalid(w.d.set_device_parent(&w.root, a, Some(c))), "cycle");
    assert!(matches!(
        w.d.set_device_parent(&w.principal("victor"), a, None),
        Err(DomainError::Forbidden)
    ));
    assert_eq!(
        w.d.device_dependencies(&w.root, b).unwrap(),
        (Some(a), vec![c])
    );
    // Deleting the middle device unlinks both sides.
    w.d.delete_device(&w.root, b).unwrap();
    assert_eq!(w.d.device_dependencies(&w.root, c).unwrap(), (None, vec![]));
    assert_eq!(w.d.device_dependencies(&w.root, a).unwrap(), (None, vec![]));
    w.d.set_device_parent(&w.root, c, Some(a)).unwrap();
    w.d.set_device_parent(&w.root, c, None).unwrap();
    assert_eq!(w.d.device_dependencies(&w.root, c).unwrap().0, None);
}

#[test]
fn flapping_needs_enough_health_changes_within_the_window() {
    let w = world_with(ping_only);
    w.instant_ping_alerts();
    assert!(!w.d.is_device_flapping(w.dev.id).unwrap());
    for v in [0.0, 1.0, 0.0] {
        w.ping(v);
    }
    assert!(!w.d.is_device_flapping(w.dev.id).unwrap(), "three changes");
    w.ping(1.0);
    let h = w.d.device_health(&w.root, w.dev.id).unwrap();
    assert!(h.flapping, "four changes within minutes");
    // The first assessment (unknown → ok) is in the history but not a health change.
    assert_eq!(h.changes.len(), 5);
    assert!(!h.changes[0].is_health_change());
    w.clock.advance(Duration::from_secs(3600));
    assert!(
        !w.d.is_device_flapping(w.dev.id).unwrap(),
        "calm for an hour"
    );
}

#[test]
fn flapping_can_be_turned_off() {
    let w = world_with(|s| {
        ping_only(s);
        s.health.flapping_changes = 0;
    });
    w.instant_ping_alerts();
    for v in [0.0, 1.0, 0.0, 1.0, 0.0, 1.0] {
        w.ping(v);
    }
    assert!(!w.d.is_device_flapping(w.dev.id).unwrap());
}

#[test]
fn the_history_keeps_the_latest_changes() {
    let mut h = Vec::new();
    for i in 0..100 {
        h.push(StatusChange {
            at_ns: i,
            from: HealthStatus::Ok,
            to: HealthStatus::Problem,
        });
    }
    assert!(is_flapping(&h, 100, 10, 10));
    assert!(!is_flapping(&h, 100, 10, 12));
    assert!(!is_flapping(&h, 100, 10, 0));
}
