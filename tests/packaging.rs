//! The Debian package's sources, checked without building a package: the config file it
//! installs as `/etc/wispmon/wispmon.toml` is the built-in defaults except the deliberate
//! Debian changes, the systemd unit carries every directive its hardening relies on, and the
//! cargo-deb metadata installs what the unit and the config name. `packaging/test-deb.sh`
//! builds, installs and runs the real package (CI runs it after `cargo test`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wispmon::config::{Config, ListenAddr, Overrides};

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn shipped_config_is_the_defaults_but_listen_and_data_dir() {
    let file = repo_path("packaging/wispmon.toml");
    // No environment and no flags: the file alone, as `wispmon serve --config` reads it.
    let shipped = Config::load(Some(&file), std::iter::empty(), &Overrides::default())
        .unwrap_or_else(|e| panic!("packaging/wispmon.toml: {e}"));
    // The deliberate changes, documented in the file: routers on the LAN reach the
    // appliance, and the data goes where the unit's StateDirectory= and postinst put it.
    let expected = Config {
        listen: "0.0.0.0:8086".parse::<ListenAddr>().unwrap(),
        data_dir: PathBuf::from("/var/lib/wispmon"),
        ..Config::default()
    };
    // The TOML renderings first, for a readable report of every value that drifted...
    let drift = differing_lines(&shipped.to_string(), &expected.to_string());
    assert!(
        drift.is_empty(),
        "packaging/wispmon.toml must equal the built-in defaults except listen and data_dir \
         (when a default changes in src/config/, change it there too):\n{}",
        drift.join("\n")
    );
    // ...then the structs, which also cover anything the rendering might not show.
    assert_eq!(shipped, expected);
}

/// The lines where two renderings of a configuration differ, each with its section.
fn differing_lines(shipped: &str, default: &str) -> Vec<String> {
    let mut section = "";
    let mut out = Vec::new();
    let (a, b): (Vec<&str>, Vec<&str>) = (shipped.lines().collect(), default.lines().collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if let Some(s) = x.filter(|l| l.starts_with('[')) {
            section = s;
        }
        if x != y {
            out.push(format!(
                "  {section} {} (default: {})",
                x.unwrap_or("<nothing>"),
                y.unwrap_or("<nothing>")
            ));
        }
    }
    out
}

/// `Key=value` lines of a unit file, per section, in order; comments and blanks skipped.
fn unit_directives(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a directive: {line}"));
        sections
            .entry(section.clone())
            .or_default()
            .push((key.trim().to_owned(), value.trim().to_owned()));
    }
    sections
}

#[test]
fn systemd_unit_has_every_required_directive() {
    let text = read("systemd/wispmon.service");
    let sections = unit_directives(&text);
    let values = |section: &str, key: &str| -> Vec<String> {
        sections
            .get(section)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    // Each set exactly once, to exactly this: a second line could widen what the first
    // restricts (another capability, address family, ...).
    for (key, value) in [
        ("Type", "notify"),
        (
            "ExecStart",
            "/usr/bin/wispmon serve --config /etc/wispmon/wispmon.toml",
        ),
        ("User", "wispmon"),
        ("Group", "wispmon"),
        ("StateDirectory", "wispmon"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("Restart", "on-failure"),
        ("LimitNOFILE", "65536"),
        ("CapabilityBoundingSet", "CAP_NET_RAW"),
        ("AmbientCapabilities", "CAP_NET_RAW"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallArchitectures", "native"),
    ] {
        assert_eq!(
            values("Service", key),
            [value],
            "[Service] {key}= in systemd/wispmon.service"
        );
    }
    assert!(
        values("Service", "SystemCallFilter").contains(&"@system-service".to_owned()),
        "SystemCallFilter=@system-service"
    );
    assert_eq!(
        values("Service", "TimeoutStopSec").len(),
        1,
        "TimeoutStopSec="
    );
    // PrivateUsers: CAP_NET_RAW inside a user namespace does not reach the host's network;
    // PrivateNetwork: no network to monitor; DynamicUser: a UID of the moment would not be
    // the wispmon user that owns /var/lib/wispmon outside systemd (postinst, vacuum).
    for key in ["PrivateUsers", "PrivateNetwork", "DynamicUser"] {
        assert!(values("Service", key).is_empty(), "{key}= must not be set");
    }
    assert_eq!(values("Install", "WantedBy"), ["multi-user.target"]);
}

#[test]
fn systemd_unit_comments_every_directive() {
    // Directives come in blocks separated by blank lines; each block opens with a comment
    // saying why its directives are there.
    let text = read("systemd/wispmon.service");
    let mut commented = false;
    for (n, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('[') {
            commented = false;
        } else if line.starts_with('#') {
            commented = true;
        } else {
            assert!(
                commented,
                "systemd/wispmon.service line {}: {line} has no comment above it",
                n + 1
            );
        }
    }
}

#[test]
fn deb_metadata_installs_what_the_unit_and_config_name() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets: Vec<Vec<&str>> = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect()
        })
        .collect();
    for expected in [
        ["target/release/wispmon", "usr/bin/", "755"],
        ["packaging/wispmon.toml", "etc/wispmon/wispmon.toml", "640"],
    ] {
        assert!(assets.contains(&expected.to_vec()), "asset {expected:?}");
    }
    assert_eq!(
        deb["systemd-units"]["unit-scripts"].as_str(),
        Some("systemd/")
    );
    assert!(deb["depends"].as_str().unwrap().contains("adduser"));
    assert!(deb["recommends"].as_str().unwrap().contains("ieee-data"));

    // cargo-deb puts its systemd snippets at the debhelper token; a script without it would
    // silently lose them.
    for script in ["postinst", "prerm", "postrm"] {
        let text = read(&format!("packaging/debian/{script}"));
        assert!(
            text.contains("\n#DEBHELPER#\n"),
            "{script} lacks #DEBHELPER#"
        );
        assert!(text.contains("\nset -e\n"), "{script} lacks set -e");
    }

    // The package version comes from Cargo.toml and the revision from cargo-deb (-1); the
    // Debian changelog's latest entry must describe that version.
    let changelog = read("packaging/debian/changelog");
    let top = changelog.lines().next().unwrap_or_default();
    let expected = format!("wispmon ({}-1) ", env!("CARGO_PKG_VERSION"));
    assert!(
        top.starts_with(&expected),
        "packaging/debian/changelog starts {top:?}; add an entry for {expected:?}"
    );
}
