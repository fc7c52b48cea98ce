//! Registration, the archive, reported status and the configuration-applied check.

use std::io::Read as _;
use std::time::Duration;

use super::*;
use crate::domain::org::OrganizationInput;
use crate::domain::runs::RunOutcome;
use crate::domain::testing::*;

fn secret(w: &World, org: Id) -> String {
    w.d.organization(&w.root, org).unwrap().shared_secret
}

fn form(w: &World, org: Id) -> Registration {
    Registration {
        secret: Some(secret(w, org)),
        backend: Some(BACKEND.into()),
        name: Some("ap-roof".into()),
        mac_address: Some("00:11:22:33:44:99".into()),
        model: Some("TP-Link Archer C7 v5".into()),
        os: Some("OpenWrt 23.05.5 r24106-10cc5fcd00".into()),
        system: Some("Qualcomm Atheros QCA956X ver 1 rev 0".into()),
        tags: Some("roof  north".into()),
        management_ip: Some("127.0.0.9".into()),
        ..Default::default()
    }
}

#[test]
fn md5_is_md5() {
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        md5_hex(b"The quick brown fox jumps over the lazy dog"),
        "9e107d9d372bb6826bd81d3542a419d6"
    );
}

#[test]
fn the_archive_is_the_same_bytes_every_time_and_holds_one_inert_file() {
    let a = build_archive().unwrap();
    let b = build_archive().unwrap();
    assert_eq!(a, b);
    assert_eq!(a.checksum, md5_hex(&a.bytes));
    // What every wispmon since the first has served: routers polling a new installation see
    // the checksum they already hold (a different one would make each re-apply).
    assert_eq!(a.checksum, "fbb199fe68f4e7203d50d706bb99b311");
    assert_eq!(a.checksum.len(), 32);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(a.bytes.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(tar.len() % 10_240, 0);
    let name = |block: &[u8]| {
        String::from_utf8(
            block[..100]
                .iter()
                .copied()
                .take_while(|b| *b != 0)
                .collect(),
        )
        .unwrap()
    };
    assert_eq!(name(&tar[..512]), "etc/wispmon/");
    assert_eq!(tar[156], b'5');
    assert_eq!(name(&tar[512..1024]), ARCHIVE_FILE);
    assert!(
        !ARCHIVE_FILE.starts_with("etc/config/"),
        "nothing UCI applies"
    );
    // The header checksum field matches the header.
    let h = &tar[512..1024];
    let mut sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    sum -= h[148..156].iter().map(|&b| u64::from(b)).sum::<u64>();
    sum += 8 * u64::from(b' ');
    let stored = std::str::from_utf8(&h[148..154]).unwrap();
    assert_eq!(u64::from_str_radix(stored, 8).unwrap(), sum);
    assert!(tar[1024..].starts_with(ARCHIVE_TEXT.as_bytes()));
    // Once served, the archive is stored: its checksum never changes under a device.
    let w = world();
    assert_eq!(w.d.config_archive().unwrap(), w.d.config_archive().unwrap());
}

#[test]
fn registration_checks_the_form_and_the_secret() {
    let w = world();
    let refused = |r: Registration| match w.d.register_device(r, None).unwrap() {
        Err(e) => e,
        Ok(ok) => panic!("registered {ok:?}"),
    };
    for field in ["secret", "name", "mac_address", "backend"] {
        let mut r = form(&w, w.org);
        match field {
            "secret" => r.secret = None,
            "name" => r.name = Some(String::new()),
            "mac_address" => r.mac_address = None,
            _ => r.backend = None,
        }
        assert_eq!(
            refused(r),
            Refusal::BadRequest(format!("error: missing required parameter \"{field}\""))
        );
    }
    let mut r = form(&w, w.org);
    r.backend = Some("netjsonconfig.OpenWisp".into());
    assert!(matches!(refused(r), Refusal::Forbidden(_)));
    let mut r = form(&w, w.org);
    r.secret = Some("not-the-secret".into());
    assert_eq!(
        refused(r),
        Refusal::Forbidden("error: unrecognized secret".into())
    );
    w.d.update_organization(
        &w.root,
        w.org,
        OrganizationInput {
            registration_enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(refused(form(&w, w.org)), Refusal::Forbidden(m) if m.contains("disabled")));
    let mut r = form(&w, w.other_org);
    r.key = Some("k".repeat(65));
    assert!(matches!(refused(r), Refusal::BadRequest(_)));
}

#[test]
fn a_registered_device_is_stored_whole_and_comes_back_by_its_key() {
    let w = world();
    let ok =
        w.d.register_device(form(&w, w.org), Some("127.0.0.7".into()))
            .unwrap()
            .unwrap();
    assert!(ok.is_new);
    assert_eq!(ok.key.len(), 32);
    assert!(ok.key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(ok.name, "ap-roof");
    let d = device::get(&w.d.records, ok.id).unwrap().unwrap();
    assert_eq!(d.organization, w.org);
    assert_eq!(d.mac_address, "00:11:22:33:44:99");
    assert_eq!(d.model, "TP-Link Archer C7 v5");
    assert_eq!(d.management_ip.as_deref(), Some("127.0.0.9"));
    let info = w.d.records.get::<AgentInfo>(&ok.id.0).unwrap().unwrap();
    assert_eq!(info.tags, ["roof", "north"]);
    assert_eq!(
        status_of(&w.d.records, ok.id).unwrap().unwrap().state,
        ConfigState::Modified
    );
    // Its checks were made, as for a device an operator adds.
    assert_eq!(check::of_device(&w.d.records, ok.id).unwrap().len(), 3);
    // A consistent key: the first registration creates the device with it, a second
    // (a reflashed router) finds the same device.
    let mut r = form(&w, w.org);
    r.name = Some("ap-lobby-02".into());
    r.mac_address = Some("00:11:22:33:44:aa".into());
    r.key = Some("0123456789abcdef0123456789abcdef".into());
    let first = w.d.register_device(r.clone(), None).unwrap().unwrap();
    assert!(first.is_new);
    assert_eq!(first.key, "0123456789abcdef0123456789abcdef");
    r.os = Some("OpenWrt 24.10.0".into());
    let again = w.d.register_device(r.clone(), None).unwrap().unwrap();
    assert_eq!((again.id, again.is_new), (first.id, false));
    assert_eq!(
        device::get(&w.d.records, first.id).unwrap().unwrap().os,
        "OpenWrt 24.10.0"
    );
    // The same key with another organization's secret is not theirs to take.
    r.secret = Some(secret(&w, w.other_org));
    assert!(matches!(
        w.d.register_device(r, None).unwrap(),
        Err(Refusal::Forbidden(_))
    ));
}

#[test]
fn reported_status_drives_the_configuration_applied_check() {
    let w = world_with(|s| s.health.critical.truncate(1));
    let ok = w.d.register_device(form(&w, w.org), None).unwrap().unwrap();
    let view = w.for_device(ok.id);
    view.ping(1.0);
    let run = || {
        let c = check::of_device(&w.d.records, ok.id)
            .unwrap()
            .into_iter()
            .find(|c| c.check_type == CheckType::ConfigApplied)
            .unwrap();
        let run = w.d.begin_check(ok.id, c.id).unwrap().unwrap();
        match w.d.run_data_check(&run).unwrap() {
            RunOutcome::Stored(v) => v[0].1,
            RunOutcome::Skipped(why) => panic!("skipped: {why}"),
        }
    };
    assert_eq!(run(), 1.0, "just registered: within the grace period");
    w.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(run(), 0.0, "still not applied after 5 minutes");
    assert_eq!(view.status(), "problem");
    let d = device::get(&w.d.records, ok.id).unwrap().unwrap();
    let events = w.d.events().subscribe();
    assert_eq!(
        w.d.report_config_status(&d, "applied", "").unwrap(),
        Ok("applied")
    );
    assert!(
        events
            .try_iter()
            .any(|e| matches!(e, Event::RunChecks { device, .. } if device == ok.id)),
        "a report runs the check at once"
    );
    assert_eq!(run(), 1.0);
    assert_eq!(view.status(), "ok");
    w.clock.advance(Duration::from_secs(600));
    let notes_before = w.notes("alice").len();
    assert_eq!(
        w.d.report_config_status(&d, "error", "uci: Parse error")
            .unwrap(),
        Ok("error")
    );
    assert_eq!(run(), 0.0);
    assert_eq!(view.status(), "problem", "health still changes");
    assert_eq!(
        w.notes("alice").len(),
        notes_before,
        "the report already told"
    );
    assert_eq!(
        status_of(&w.d.records, ok.id)
            .unwrap()
            .unwrap()
            .error_reason,
        "uci: Parse error"
    );
    assert_eq!(
        w.d.report_config_status(&d, "deactivating", "").unwrap(),
        Ok("deactivated")
    );
    assert!(matches!(
        w.d.report_config_status(&d, "rebooting", "").unwrap(),
        Err(Refusal::Forbidden(_))
    ));
}

#[test]
fn polling_sets_and_clears_the_management_ip() {
    let w = world();
    let d = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    assert_eq!(
        status_of(&w.d.records, d.id).unwrap(),
        None,
        "no configuration yet"
    );
    w.d.controller_contact(&d, Some("127.0.0.5".into()), Some(Some("127.0.0.6".into())))
        .unwrap();
    let d = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    assert_eq!(d.management_ip.as_deref(), Some("127.0.0.6"));
    assert!(
        status_of(&w.d.records, d.id).unwrap().is_some(),
        "a polling device has one"
    );
    w.d.controller_contact(&d, None, Some(None)).unwrap();
    assert_eq!(
        device::get(&w.d.records, w.dev.id)
            .unwrap()
            .unwrap()
            .management_ip,
        None
    );
    w.d.update_device_info(
        &d,
        Some("GL-MT3000".into()),
        None,
        Some("MediaTek MT7981".into()),
    )
    .unwrap();
    let d = device::get(&w.d.records, w.dev.id).unwrap().unwrap();
    assert_eq!(
        (d.model.as_str(), d.system.as_str()),
        ("GL-MT3000", "MediaTek MT7981")
    );
}
