//! Tests against the NetJSON fixtures (`tests/fixtures/netjson/`, read at test time) and the
//! complete example of spec §3.7.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

#[path = "../../../tests/support/netjson_cases.rs"]
mod cases;
use cases::*;

#[test]
fn json_patch_follows_rfc_6902() {
    let mut doc = json!({"a": [1, 2], "b": {"c~/d": 3}});
    apply_patch(
        &mut doc,
        &[
            json!({"op": "add", "path": "/a/-", "value": 9}),
            json!({"op": "add", "path": "/a/0", "value": 0}),
            json!({"op": "replace", "path": "/b/c~0~1d", "value": 4}),
            json!({"op": "copy", "from": "/a/1", "path": "/e"}),
            json!({"op": "remove", "path": "/a/2"}),
        ],
    );
    assert_eq!(doc, json!({"a": [0, 1, 9], "b": {"c~/d": 4}, "e": 1}));
}

#[test]
fn base64_decoder_decodes() {
    assert_eq!(base64_decode("TWFu"), b"Man");
    assert_eq!(base64_decode("TWE="), b"Ma");
    assert_eq!(base64_decode("TQ=="), b"M");
    assert_eq!(base64_decode(""), b"");
}

fn find(file: &str, id: &str) -> Request {
    requests(file).into_iter().find(|r| r.id == id).unwrap()
}

/// The `#/…` path named in a schema error's text, as segments.
fn named_path(text: &str) -> Vec<String> {
    let rest = text
        .strip_prefix("Invalid data in \"#/")
        .unwrap_or_else(|| panic!("not a schema error: {text}"));
    let (path, message) = rest.split_once("\", validator says:\n\n").unwrap();
    assert!(!message.is_empty());
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').map(str::to_owned).collect()
    }
}

#[test]
fn malformed_variants_are_all_refused() {
    let cases = requests("malformed-variants.json");
    assert_eq!(cases.len(), 82);
    for case in cases {
        assert!(case.expect_400, "{}", case.id);
        let id = &case.id;
        if id.starts_with("time-") {
            // The body is the unchanged fixture; only the time is wrong.
            let time = case.time.as_deref().unwrap();
            assert!(parse_time(time).is_err(), "{id}: {time:?} accepted");
            assert!(parse_document(&case.body).is_ok(), "{id}: body refused");
            continue;
        }
        if let Some(t) = &case.time {
            assert!(parse_time(t).is_ok(), "{id}: default time refused");
        }
        let err = match parse_document(&case.body) {
            Ok(_) => panic!("{id}: accepted"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(!text.is_empty() && text.len() < 1_000, "{id}: {text}");
        if let Some(pointer) = &case.patched {
            // The error names the patched place: the patched value itself, something inside
            // it, or (for a removed key or an appended item) the object or array holding it.
            let mut patched = tokens(pointer);
            if patched.last().is_some_and(|t| t == "-") {
                patched.pop();
            }
            let named = named_path(&text);
            let common = named
                .iter()
                .zip(&patched)
                .take_while(|(a, b)| a == b)
                .count();
            assert!(
                common == named.len().min(patched.len()) && named.len() + 1 >= patched.len(),
                "{id}: error at {named:?} for a patch at {patched:?}: {text}"
            );
        }
    }
}

#[test]
fn edge_cases_are_all_accepted() {
    let cases = requests("edge-cases-valid.json");
    assert_eq!(cases.len(), 25);
    for case in cases {
        assert!(!case.expect_400, "{}", case.id);
        if let Some(t) = &case.time {
            assert!(parse_time(t).is_ok(), "{}: time {t:?} refused", case.id);
        }
        let doc =
            parse_document(&case.body).unwrap_or_else(|e| panic!("{}: refused: {e}", case.id));
        // The snapshot is JSON that parses back.
        let again: Value = serde_json::from_str(&doc.to_json()).unwrap();
        assert_eq!(&again, doc.json(), "{}", case.id);
    }
}

#[test]
fn edge_case_times_read_as_utc() {
    let t = |id: &str| parse_time(find("edge-cases-valid.json", id).time.as_deref().unwrap());
    assert_eq!(t("time-device-clock-not-synced"), Ok(72_000_000_000));
    assert_eq!(t("time-short-fraction"), Ok(1_787_321_100_500_000_000));
    assert_eq!(t("time-in-future"), Ok(2_114_380_800_000_000_000));
    assert!(find("edge-cases-valid.json", "time-missing").time.is_none());
}

fn edge(id: &str) -> Document {
    parse_document(&find("edge-cases-valid.json", id).body).unwrap()
}

fn malformed(id: &str) -> String {
    parse_document(&find("malformed-variants.json", id).body)
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_messages_read_like_upstream() {
    let msg = |path: &str, message: &str| {
        format!("Invalid data in \"#/{path}\", validator says:\n\n{message}")
    };
    assert_eq!(
        malformed("uptime-string"),
        msg("general/uptime", "'356122' is not of type 'integer'")
    );
    assert_eq!(
        malformed("uptime-fractional"),
        msg("general/uptime", "356122.5 is not of type 'integer'")
    );
    assert_eq!(
        malformed("interface-missing-name"),
        msg("interfaces/1", "'name' is a required property")
    );
    assert_eq!(
        malformed("counter-negative"),
        msg(
            "interfaces/0/statistics/rx_bytes",
            "-5 is less than the minimum of 0"
        )
    );
    assert_eq!(
        malformed("wrong-type-value"),
        msg(
            "type",
            "'DeviceConfiguration' is not one of ['DeviceMonitoring']"
        )
    );
    assert_eq!(
        malformed("missing-type"),
        msg("", "'type' is a required property")
    );
    assert_eq!(
        malformed("top-level-array"),
        msg("", "[{'type': 'DeviceMonitoring'}] is not of type 'object'")
    );
    assert_eq!(
        malformed("cpus-zero"),
        msg("resources/cpus", "0 is less than the minimum of 1")
    );
    assert_eq!(
        malformed("clients-object-not-array"),
        msg("interfaces/5/wireless/clients", "{} is not of type 'array'")
    );
    assert_eq!(
        malformed("counter-above-u64"),
        msg(
            "interfaces/0/statistics/tx_bytes",
            "1.8446744073709552e+19 is greater than the maximum of 18446744073709551615"
        )
    );
    assert_eq!(
        malformed("mobile-imei-letters"),
        msg(
            "interfaces/0/mobile/imei",
            "'35907206123456X' does not match '^[0-9]*$'"
        )
    );
    assert_eq!(
        malformed("interface-name-empty"),
        msg("interfaces/1/name", "'' is too short")
    );
    assert!(malformed("load-wrong-length").starts_with(
        "Invalid data in \"#/resources/load\", validator says:\n\n[0.46] is too short"
    ));
}

#[test]
fn body_level_refusals_say_why() {
    assert_eq!(malformed("empty-body"), "request body is empty");
    assert_eq!(malformed("whitespace-only"), "request body is empty");
    // 34 bytes of prefix, 4 MiB of padding, 2 of suffix.
    assert_eq!(
        malformed("oversized-body"),
        format!(
            "request body is {} bytes, more than the limit of {MAX_BODY_BYTES} bytes",
            34 + 4_194_304 + 2
        )
    );
    assert!(malformed("deep-nesting").contains("recursion limit exceeded"));
    assert!(malformed("nan-token").starts_with("request body is not valid JSON"));
    assert!(malformed("trailing-garbage").contains("trailing characters"));
    // The 400-digit literal overflows f64 in the parser, or the u64 range in validation.
    let huge = malformed("counter-huge-literal");
    assert!(
        huge.contains("number out of range") || huge.contains("greater than the maximum"),
        "{huge}"
    );
}

#[test]
fn body_size_limit_is_exact() {
    let pad = |n: usize| {
        let mut body = br#"{"type":"DeviceMonitoring","pad":""#.to_vec();
        let fixed = body.len() + 2;
        body.resize(n - 2, b'A');
        assert!(n >= fixed);
        body.extend_from_slice(b"\"}");
        body
    };
    assert!(parse_document(&pad(MAX_BODY_BYTES)).is_ok());
    assert!(matches!(
        parse_document(&pad(MAX_BODY_BYTES + 1)),
        Err(Invalid::TooLarge { .. })
    ));
}

#[test]
fn exponent_counters_become_integers() {
    let doc = edge("counter-exponent-notation");
    let eth1 = &doc.sample().interfaces[0];
    assert_eq!(
        eth1.traffic,
        Some(Traffic {
            rx_bytes: 123_456_789_012_340,
            tx_bytes: 98_765_432_109_876
        })
    );
    assert!(
        doc.to_json().contains("\"rx_bytes\":123456789012340,"),
        "{}",
        doc.to_json()
    );
    let round = edge("counter-exponent-round");
    assert_eq!(
        round.sample().interfaces[0].traffic,
        Some(Traffic {
            rx_bytes: 100_000_000_000_000,
            tx_bytes: 0
        })
    );
}

#[test]
fn empty_disk_object_is_an_empty_list() {
    let doc = edge("disk-empty-object");
    // No filesystem, no disk metric (not "100 % full", see `Sample::disk`).
    assert_eq!(doc.sample().disk, None);
    assert_eq!(doc.json()["resources"]["disk"], json!([]));
}

#[test]
fn slash_escapes_are_read() {
    let doc = edge("forward-slash-escapes");
    assert_eq!(
        doc.json()["resources"]["disk"][0]["filesystem"],
        json!("/dev/root")
    );
    assert_eq!(doc.sample().disk, Some(100.0));
    assert_eq!(doc.sample().cpu.map(|c| c.cpu_usage), Some(4.5));
}

#[test]
fn non_utf8_ssid_is_decoded_lossily() {
    let doc = edge("non-utf8-ssid");
    let w = doc.sample().interfaces[0].wireless.as_ref().unwrap();
    assert_eq!(w.ssid, "Caf\u{FFFD}-Gast");
    assert!(doc.to_json().contains("Caf\u{FFFD}-Gast"));
}

#[test]
fn unregistered_modem_keeps_the_sample() {
    let doc = edge("mobile-not-registered");
    let mobile = doc.sample().interfaces[0].mobile.as_ref().unwrap();
    assert_eq!(mobile.operator_code, None);
    assert_eq!(mobile.signal, None);
    let lte = parse_document(&fixture_bytes("lte-router.json")).unwrap();
    let mobile = lte.sample().interfaces[0].mobile.as_ref().unwrap();
    assert_eq!(mobile.operator_code.as_deref(), Some("22201"));
}

#[test]
fn signal_prefers_the_most_evolved_technology() {
    let nsa = edge("mobile-lte-and-5g-nsa");
    let signal = nsa.sample().interfaces[0]
        .mobile
        .as_ref()
        .unwrap()
        .signal
        .unwrap();
    assert_eq!(
        signal,
        Signal {
            access_tech: AccessTech::Nr,
            signal_strength: None,
            signal_power: Some(-95.0),
            snr: Some(11.5),
            signal_quality: Some(-12.0),
        }
    );
    let umts = edge("mobile-umts-only");
    let signal = umts.sample().interfaces[0]
        .mobile
        .as_ref()
        .unwrap()
        .signal
        .unwrap();
    assert_eq!(
        signal,
        Signal {
            access_tech: AccessTech::Umts,
            signal_strength: None,
            signal_power: Some(-96.0),
            snr: Some(-3.5),
            signal_quality: None,
        }
    );
    assert_eq!(signal.access_tech.index(), 3);
    let empty = edge("mobile-signal-empty");
    assert_eq!(
        empty.sample().interfaces[0].mobile.as_ref().unwrap().signal,
        None
    );
}

#[test]
fn signal_ignores_unknown_sections_and_maps_evdo() {
    let body = json!({"type": "DeviceMonitoring", "interfaces": [{"name": "wwan0", "mobile": {
        "imei": "359072061234568", "operator_code": "22201", "operator_name": "TIM",
        "connection_status": "connected", "power_status": "on", "manufacturer": "Q",
        "model": "EC25",
        "signal": {"threshold": {"rssi": "x"}, "gsm": {"rssi": -80},
                   "evdo": {"rssi": -70, "ecio": -5, "io": -90, "sinr": 9}}}}]});
    let doc = parse_document(body.to_string().as_bytes()).unwrap();
    let signal = doc.sample().interfaces[0]
        .mobile
        .as_ref()
        .unwrap()
        .signal
        .unwrap();
    assert_eq!(signal.access_tech, AccessTech::Evdo);
    assert_eq!(signal.signal_strength, Some(-70.0));
    assert_eq!(signal.snr, Some(9.0));
    assert_eq!(signal.signal_power, None);
    // Numbers of every section become floats; the unknown section's string stays.
    assert_eq!(
        doc.json().pointer("/interfaces/0/mobile/signal/gsm/rssi"),
        Some(&json!(-80.0))
    );
    assert_eq!(
        doc.json()
            .pointer("/interfaces/0/mobile/signal/threshold/rssi"),
        Some(&json!("x"))
    );
}

#[test]
fn mesh_clients_keep_their_flags_under_he() {
    let doc = edge("wireless-noise-zero-and-mesh-client");
    let w = doc.sample().interfaces[6].wireless.as_ref().unwrap();
    assert_eq!(w.mode, "802.11s");
    assert_eq!(
        w.clients,
        vec![WifiClient {
            mac: "A0:F3:C1:A5:FA:35".to_owned(),
            ht: Some(true),
            vht: Some(false),
            he: Some(false),
            wmm: true,
            wds: None,
            wps: None,
            vendor: None,
        }]
    );
}

#[test]
fn memory_without_available_uses_free() {
    let doc = edge("memory-without-available-and-cached");
    let m = doc.sample().memory.unwrap();
    assert_eq!((m.cached, m.available), (None, None));
    // 100 × (1 − (51462144 + 2240512) / 128143360), computed with Python.
    assert_eq!(m.percent_used, 58.09173725427521);
}

// ---- spec §3.7 ------------------------------------------------------------------------------

const SPEC_EXAMPLE: &str = r#"{
  "type": "DeviceMonitoring",
  "general": {"hostname": "ap-lobby-01", "local_time": 1715681698, "uptime": 432105},
  "resources": {
    "load": [0.35, 0.22, 0.18],
    "cpus": 2,
    "memory": {"total": 249774080, "free": 101400576, "buffered": 6262784,
               "shared": 1060864, "cached": 33558528, "available": 130830336},
    "swap": {"total": 0, "free": 0},
    "disk": [
      {"filesystem": "/dev/root", "mount_point": "/rom", "used_bytes": 8650752,
       "available_bytes": 0, "size_bytes": 8650752, "used_percent": 100},
      {"filesystem": "/dev/ubi0_1", "mount_point": "/overlay", "used_bytes": 0,
       "available_bytes": 6029312, "size_bytes": 6029312, "used_percent": 0}
    ]
  },
  "interfaces": [
    {"name": "eth0", "type": "ethernet", "up": true, "mac": "94:83:c4:12:aa:01", "mtu": 1500,
     "txqueuelen": 1000, "multicast": true, "speed": "1000F",
     "statistics": {"rx_bytes": 10250000000, "tx_bytes": 2050000000, "rx_packets": 9120331,
                    "tx_packets": 4021987, "rx_errors": 0, "tx_errors": 0, "rx_dropped": 12,
                    "tx_dropped": 0, "multicast": 1503, "collisions": 0},
     "addresses": [{"proto": "dhcp", "family": "ipv4", "address": "192.0.2.41", "mask": 24}]},
    {"name": "br-lan", "type": "bridge", "up": true, "mac": "94:83:c4:12:aa:00", "mtu": 1500,
     "stp": false, "bridge_members": ["lan1", "wlan0", "wlan1"],
     "addresses": [{"proto": "static", "family": "ipv4", "address": "10.10.0.1", "mask": 24},
                   {"proto": "static", "family": "ipv6", "address": "fd00:10::1", "mask": 64}]},
    {"name": "wlan0", "type": "wireless", "up": true, "mac": "94:83:c4:12:aa:02", "mtu": 1500,
     "txqueuelen": 1000, "multicast": true,
     "statistics": {"rx_bytes": 520000000, "tx_bytes": 3100000000, "rx_packets": 801223, "tx_packets": 2412009},
     "wireless": {"ssid": "Lobby-Guest", "mode": "access_point", "channel": 6, "frequency": 2437,
                  "country": "IT", "noise": -95, "signal": -41, "tx_power": 20, "htmode": "HT20",
                  "quality": 61, "quality_max": 70, "bitrate": 144400,
                  "clients": [
                    {"mac": "3c:22:fb:7a:10:01", "aid": 1, "assoc": true, "auth": true, "authorized": true,
                     "ht": true, "vht": false, "he": false, "wmm": true, "wds": false, "wps": false,
                     "mfp": false, "preauth": false, "signal": -58, "noise": -95},
                    {"mac": "a4:83:e7:01:22:9f", "aid": 2, "assoc": true, "auth": true, "authorized": true,
                     "ht": true, "vht": false, "wmm": true, "wds": false, "wps": false, "mfp": true,
                     "signal": -66}]}},
    {"name": "wlan1", "type": "wireless", "up": true, "mac": "94:83:c4:12:aa:03", "mtu": 1500,
     "statistics": {"rx_bytes": 123456789, "tx_bytes": 987654321},
     "wireless": {"ssid": "Lobby-Staff", "mode": "access_point", "channel": 36, "frequency": 5180,
                  "country": "IT", "noise": -102, "tx_power": 23, "htmode": "HE80",
                  "clients": [
                    {"mac": "f0:2f:4b:55:66:77", "aid": 1, "assoc": true, "auth": true, "authorized": true,
                     "ht": true, "vht": true, "he": true, "wmm": true, "wds": false, "wps": false,
                     "mfp": true}]}},
    {"name": "wwan0", "type": "modem-manager", "up": true, "mac": "00:00:00:00:00:00", "mtu": 1500,
     "statistics": {"rx_bytes": 7340032, "tx_bytes": 1048576},
     "mobile": {"imei": "356938035643809", "operator_code": "22210", "operator_name": "Vodafone IT",
                "connection_status": "connected", "power_status": "on", "manufacturer": "Quectel",
                "model": "RM500Q-GL",
                "signal": {"lte": {"rssi": -67, "rsrp": -95, "rsrq": -11, "snr": 12},
                           "5g": {"rsrp": -88, "rsrq": -10, "snr": 15}}}}
  ],
  "dhcp_leases": [{"expiry": 1715724900, "ip": "10.10.0.152", "mac": "3c:22:fb:7a:10:01",
                   "client_name": "pixel-8", "client_id": "01:3c:22:fb:7a:10:01"}],
  "neighbors": [{"ip": "192.0.2.1", "mac": "00:1b:21:aa:bb:cc", "interface": "eth0", "state": "REACHABLE"},
                {"ip": "fe80::1", "interface": "br-lan", "state": "FAILED"}]
}"#;

#[test]
fn spec_example_gives_the_spec_numbers() {
    assert_eq!(
        parse_time("14-05-2024_10:15:00.000000"),
        Ok(1_715_681_700_000_000_000)
    );
    let doc = parse_document(SPEC_EXAMPLE.as_bytes()).unwrap();
    let s = doc.sample();
    assert_eq!(s.uptime, Some(432_105));
    assert_eq!(s.local_time, Some(1_715_681_698));
    assert_eq!(
        s.cpu,
        Some(Cpu {
            cpu_usage: 17.5,
            load_1: 0.35,
            load_5: 0.22,
            load_15: 0.18
        })
    );
    assert_eq!(s.disk, Some(58.92857142857143));
    assert_eq!(
        s.memory,
        Some(Memory {
            percent_used: 45.11315185306658,
            total: 249_774_080,
            free: 101_400_576,
            buffered: 6_262_784,
            shared: 1_060_864,
            cached: Some(33_558_528),
            available: Some(130_830_336),
        })
    );

    let names: Vec<&str> = s.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["eth0", "br-lan", "wlan0", "wlan1", "wwan0"]);
    let traffic: Vec<Option<(u64, u64)>> = s
        .interfaces
        .iter()
        .map(|i| i.traffic.map(|t| (t.rx_bytes, t.tx_bytes)))
        .collect();
    assert_eq!(
        traffic,
        [
            Some((10_250_000_000, 2_050_000_000)),
            None,
            Some((520_000_000, 3_100_000_000)),
            Some((123_456_789, 987_654_321)),
            Some((7_340_032, 1_048_576)),
        ]
    );
    assert_eq!(s.interfaces[1].kind.as_deref(), Some("bridge"));

    let wlan0 = s.interfaces[2].wireless.as_ref().unwrap();
    assert_eq!(
        (wlan0.mode.as_str(), wlan0.ssid.as_str()),
        ("access_point", "Lobby-Guest")
    );
    let flags: Vec<_> = wlan0
        .clients
        .iter()
        .map(|c| (c.mac.as_str(), c.ht, c.vht, c.he, c.wmm, c.wds, c.wps))
        .collect();
    assert_eq!(
        flags,
        [
            (
                "3c:22:fb:7a:10:01",
                Some(true),
                None,
                None,
                true,
                Some(false),
                Some(false)
            ),
            (
                "a4:83:e7:01:22:9f",
                Some(true),
                None,
                None,
                true,
                Some(false),
                Some(false)
            ),
        ]
    );
    let wlan1 = s.interfaces[3].wireless.as_ref().unwrap();
    assert_eq!(
        wlan1
            .clients
            .iter()
            .map(|c| (c.ht, c.vht, c.he))
            .collect::<Vec<_>>(),
        [(Some(true), Some(true), Some(true))]
    );

    let signal = s.interfaces[4].mobile.as_ref().unwrap().signal.unwrap();
    assert_eq!(
        signal,
        Signal {
            access_tech: AccessTech::Nr,
            signal_strength: None,
            signal_power: Some(-88.0),
            snr: Some(15.0),
            signal_quality: Some(-10.0),
        }
    );
    assert_eq!(signal.access_tech.index(), 5);

    // The stored snapshot (§3.3): flags nulled, bitrate in Mbit/s, signal values as floats.
    let j = doc.json();
    assert_eq!(
        j.pointer("/interfaces/2/wireless/bitrate"),
        Some(&json!(144.4))
    );
    let c0 = j.pointer("/interfaces/2/wireless/clients/0").unwrap();
    assert_eq!(
        (&c0["ht"], &c0["vht"], &c0["he"]),
        (&json!(true), &Value::Null, &Value::Null)
    );
    let c1 = j.pointer("/interfaces/2/wireless/clients/1").unwrap();
    assert_eq!((&c1["vht"], c1.get("he")), (&Value::Null, None));
    let text = doc.to_json();
    assert!(text.contains(r#""bitrate":144.4,"#), "{text}");
    assert!(
        text.contains(r#""5g":{"rsrp":-88.0,"rsrq":-10.0,"snr":15.0}"#),
        "{text}"
    );
    assert!(
        text.contains(r#""lte":{"rsrp":-95.0,"rsrq":-11.0,"rssi":-67.0,"snr":12.0}"#),
        "{text}"
    );
    assert!(!text.contains('\n'));
    assert!(!text.contains("vendor"));
}

#[test]
fn set_vendors_fills_clients_neighbours_and_leases() {
    let mut doc = parse_document(SPEC_EXAMPLE.as_bytes()).unwrap();
    doc.set_vendors(|mac| {
        mac.starts_with("3c:22:fb")
            .then(|| "Apple, Inc.".to_owned())
    });
    let j = doc.json();
    assert_eq!(
        j.pointer("/interfaces/2/wireless/clients/0/vendor"),
        Some(&json!("Apple, Inc."))
    );
    assert_eq!(
        j.pointer("/interfaces/2/wireless/clients/1/vendor"),
        Some(&json!(""))
    );
    assert_eq!(
        j.pointer("/interfaces/3/wireless/clients/0/vendor"),
        Some(&json!(""))
    );
    assert_eq!(
        j.pointer("/dhcp_leases/0/vendor"),
        Some(&json!("Apple, Inc."))
    );
    assert_eq!(j.pointer("/neighbors/0/vendor"), Some(&json!("")));
    // No MAC at all: the empty string, not a lookup.
    assert_eq!(j.pointer("/neighbors/1/vendor"), Some(&json!("")));
    assert_eq!(j.pointer("/interfaces/0/vendor"), None);
    let vendors: Vec<_> = doc
        .sample()
        .interfaces
        .iter()
        .flat_map(|i| i.wireless.iter().flat_map(|w| &w.clients))
        .map(|c| c.vendor.as_deref())
        .collect();
    assert_eq!(vendors, [Some("Apple, Inc."), Some(""), Some("")]);
    // `vendor` is in upstream's schema, so a posted body may already carry one.
    let mut body = fixture("ap-two-radios.json");
    for pointer in [
        "/dhcp_leases/0",
        "/neighbors/0",
        "/interfaces/5/wireless/clients/1",
    ] {
        body.pointer_mut(pointer).unwrap()["vendor"] = json!("Acme");
    }
    let doc = parse_document(body.to_string().as_bytes()).unwrap();
    let radio0 = doc.sample().interfaces[5].wireless.as_ref().unwrap();
    let vendors: Vec<_> = radio0.clients.iter().map(|c| c.vendor.as_deref()).collect();
    assert_eq!(vendors, [None, Some("Acme"), None]);
}

#[test]
fn htmode_nulls_flags_per_spec() {
    let client = json!({"mac": "aa:bb:cc:dd:ee:ff", "auth": true, "authorized": true,
                        "ht": true, "vht": false, "he": false, "wmm": true, "mfp": false});
    let flags = |htmode: Option<&str>, client: &Value| {
        let mut w = json!({"ssid": "x", "mode": "access_point", "channel": 1, "frequency": 2412,
                           "country": "IT", "noise": -90, "tx_power": 20, "clients": [client]});
        if let Some(h) = htmode {
            w["htmode"] = json!(h);
        }
        let body = json!({"type": "DeviceMonitoring",
                          "interfaces": [{"name": "wlan0", "wireless": w}]});
        let doc = parse_document(body.to_string().as_bytes()).unwrap();
        let c = &doc.sample().interfaces[0]
            .wireless
            .as_ref()
            .unwrap()
            .clients[0];
        let stored = doc
            .json()
            .pointer("/interfaces/0/wireless/clients/0")
            .unwrap()
            .clone();
        let from_json = (
            stored["ht"].as_bool(),
            stored["vht"].as_bool(),
            stored.get("he").and_then(Value::as_bool),
        );
        assert_eq!(from_json, (c.ht, c.vht, c.he), "{htmode:?}");
        (c.ht, c.vht, c.he)
    };
    assert_eq!(flags(Some("NOHT"), &client), (None, None, None));
    assert_eq!(flags(Some("HT40"), &client), (Some(true), None, None));
    assert_eq!(
        flags(Some("VHT80"), &client),
        (Some(true), Some(false), None)
    );
    assert_eq!(
        flags(Some("HE80"), &client),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!(flags(None, &client), (Some(true), Some(false), Some(false)));
    let mut capable = client.clone();
    capable["vht"] = json!(true);
    capable["he"] = json!(true);
    // Only a false flag is nulled under HT/VHT; a true one is kept.
    assert_eq!(
        flags(Some("HT20"), &capable),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(flags(Some("NOHT"), &capable), (None, None, None));
}

#[test]
fn bitrate_rounds_like_python() {
    // Expected values from Python's round(x / 1000, 1).
    for (kbit, mbit) in [
        (144_400, 144.4),
        (172_000, 172.0),
        (864_800, 864.8),
        (250, 0.2),
        (150, 0.1),
        (350, 0.3),
        (1_050, 1.1),
        (1_150, 1.1),
        (12_345, 12.3),
    ] {
        assert_eq!(round1(f64::from(kbit) / 1000.0), mbit, "{kbit}");
    }
}

// ---- the two device fixtures ---------------------------------------------------------------

#[test]
fn ap_two_radios_fixture() {
    let doc = parse_document(&fixture_bytes("ap-two-radios.json")).unwrap();
    let s = doc.sample();
    assert_eq!(s.uptime, Some(1_209_677));
    // Expected numbers computed with Python from the file, upstream's formulas.
    assert_eq!(s.cpu.map(|c| c.cpu_usage), Some(4.5));
    assert_eq!(s.cpu.map(|c| c.load_15), Some(0.09));
    assert_eq!(s.memory.map(|m| m.percent_used), Some(37.950470513921054));
    assert_eq!(s.disk, Some(55.067567567567565));
    let names: Vec<_> = s.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "wan", "eth0", "lan1", "lan2", "br-lan", "phy0-ap0", "phy1-ap0"
        ]
    );
    assert_eq!(
        s.interfaces[0].traffic,
        Some(Traffic {
            rx_bytes: 401_877_340_112,
            tx_bytes: 51_022_917_733
        })
    );
    assert_eq!(
        s.interfaces[3].traffic,
        Some(Traffic {
            rx_bytes: 0,
            tx_bytes: 0
        })
    );
    let radio0 = s.interfaces[5].wireless.as_ref().unwrap();
    assert_eq!(radio0.ssid, "Lobby-WiFi");
    assert_eq!(radio0.htmode.as_deref(), Some("HE20"));
    assert_eq!(radio0.clients.len(), 3);
    // HE radio: nothing nulled.
    assert_eq!(
        radio0
            .clients
            .iter()
            .map(|c| (c.mac.as_str(), c.he))
            .collect::<Vec<_>>(),
        [
            ("3c:22:fb:a1:07:5e", Some(true)),
            ("f0:9f:c2:6b:13:e8", Some(false)),
            ("6e:91:04:c2:5d:ab", Some(true)),
        ]
    );
    let radio1 = s.interfaces[6].wireless.as_ref().unwrap();
    assert_eq!(radio1.clients.len(), 2);
    assert_eq!(
        doc.json().pointer("/interfaces/6/wireless/bitrate"),
        Some(&json!(864.8))
    );
    assert!(s.interfaces.iter().all(|i| i.mobile.is_none()));
}

#[test]
fn lte_router_fixture() {
    let doc = parse_document(&fixture_bytes("lte-router.json")).unwrap();
    let s = doc.sample();
    assert_eq!(s.uptime, Some(356_122));
    assert_eq!(
        s.cpu,
        Some(Cpu {
            cpu_usage: 46.0,
            load_1: 0.46,
            load_5: 0.32,
            load_15: 0.28
        })
    );
    assert_eq!(s.memory.map(|m| m.percent_used), Some(50.848649512545954));
    assert_eq!(s.disk, Some(43.80506607929515));
    let wwan0 = &s.interfaces[0];
    assert_eq!(wwan0.kind.as_deref(), Some("modem-manager"));
    assert_eq!(
        wwan0.traffic,
        Some(Traffic {
            rx_bytes: 7_890_334_512,
            tx_bytes: 1_320_876_540
        })
    );
    assert_eq!(
        wwan0.mobile.as_ref().unwrap().signal,
        Some(Signal {
            access_tech: AccessTech::Lte,
            signal_strength: Some(-73.0),
            signal_power: Some(-101.0),
            snr: Some(8.4),
            signal_quality: Some(-11.0),
        })
    );
    let ap = s.interfaces[3].wireless.as_ref().unwrap();
    assert_eq!(
        ap.clients[0],
        WifiClient {
            mac: "42:ad:8e:19:c0:7a".to_owned(),
            ht: Some(true),
            vht: None,
            he: None,
            wmm: true,
            wds: Some(false),
            wps: Some(false),
            vendor: None,
        }
    );
    assert_eq!(
        s.interfaces[4].traffic,
        Some(Traffic {
            rx_bytes: 20_433_120,
            tx_bytes: 38_120_044
        })
    );
    assert!(
        doc.to_json()
            .contains(r#""lte":{"rsrp":-101.0,"rsrq":-11.0,"rssi":-73.0,"snr":8.4}"#)
    );
}

#[test]
fn traffic_needs_only_one_counter() {
    let body = json!({"type": "DeviceMonitoring", "interfaces": [
        {"name": "a", "statistics": {"tx_bytes": 5}},
        {"name": "b", "statistics": {"rx_packets": 5}},
        {"name": "c", "statistics": {}}]});
    let doc = parse_document(body.to_string().as_bytes()).unwrap();
    let t: Vec<_> = doc.sample().interfaces.iter().map(|i| i.traffic).collect();
    assert_eq!(
        t,
        [
            Some(Traffic {
                rx_bytes: 0,
                tx_bytes: 5
            }),
            None,
            None
        ]
    );
}

#[test]
fn stricter_rules_beyond_the_fixtures() {
    let refused = |body: Value| parse_document(body.to_string().as_bytes()).unwrap_err();
    let err = refused(json!({"type": "DeviceMonitoring", "resources": {"memory":
        {"total": 100, "free": 10, "buffered": 0, "shared": 0, "available": 101}}}));
    assert!(
        err.to_string().contains("#/resources/memory/available"),
        "{err}"
    );
    let err = refused(json!({"type": "DeviceMonitoring", "interfaces": [
        {"name": "eth0", "mtu": 1500}, {"name": "eth0", "mtu": 1400}]}));
    assert!(err.to_string().contains("#/interfaces/1/name"), "{err}");
    let err = refused(json!({"type": "DeviceMonitoring", "resources": {"disk": {"a": 1}}}));
    assert!(
        err.to_string().ends_with("{'a': 1} is not of type 'array'"),
        "{err}"
    );
    let err = refused(json!({"type": "DeviceMonitoring", "resources": {"disk": [
        {"mount_point": "/", "filesystem": "x", "used_bytes": 1, "available_bytes": 1,
         "used_percent": 1, "size_bytes": 2, "inode": 4}]}}));
    assert!(
        err.to_string()
            .ends_with("Additional properties are not allowed ('inode' was unexpected)"),
        "{err}"
    );
    let err = refused(
        json!({"type": "DeviceMonitoring", "interfaces": [{"name": "w",
        "wireless": {"ssid": "x", "mode": "ap", "channel": 1, "frequency": 2412,
                     "country": "IT", "noise": 0, "tx_power": 1, "bitrate": "fast"}}]}),
    );
    assert!(
        err.to_string().contains("#/interfaces/0/wireless/bitrate"),
        "{err}"
    );
    // An unknown statistics member of another shape is left alone.
    assert!(
        parse_document(
            br#"{"type":"DeviceMonitoring","interfaces":[{"name":"e","statistics":{"note":"x"}}]}"#
        )
        .is_ok()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_document(&body);
    }

    /// A byte of a real document overwritten: mostly still JSON, so this reaches the validator
    /// with every kind of wrong value. Never a panic, and an accepted document's snapshot is
    /// JSON that parses back.
    #[test]
    fn corrupted_fixtures_never_panic(
        which in 0usize..2,
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"0123456789-.e\"{}[],:tfn -A\xff".to_vec()),
    ) {
        let name = ["ap-two-radios.json", "lte-router.json"][which];
        let mut body = fixture_bytes(name);
        let i = at.index(body.len());
        body[i] = byte;
        if let Ok(doc) = parse_document(&body) {
            let again: Value = serde_json::from_str(&doc.to_json()).unwrap();
            prop_assert_eq!(&again, doc.json());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds: the fuzz target's property, on every seed file.

#[test]
fn seeds_satisfy_the_fuzz_property() {
    let accepted = crate::seeds::replay("netjson", 25, |b| {
        super::check::document_property(b).map(usize::from)
    });
    assert!(
        accepted >= 8,
        "seeds should hold accepted documents too ({accepted})"
    );
}
