//! Guards the layering of DESIGN.md, which one package cannot get from crate walls:
//! - a module imports only the modules below it (the edges listed in `ALLOWED`);
//! - `sled` only in `storage/kv.rs`, `rustix` only in `storage/space.rs`, `socket2` only in
//!   `net/`, `hyper`, `hyper_util` and `axum` only in `api/` and `notify/`, `rust_embed`,
//!   `http_body_util`, `futures_util` and `tower` only in `api/`, `rustls`, `tokio_rustls` and
//!   `rustls_pki_types` only in `notify/`, the random source
//!   and `blake2` only in `domain/id.rs`, `argon2` in `domain/user.rs`, `jiff` in
//!   `time/zone.rs`;
//! - `unsafe` only in the modules of `UNSAFE_ALLOWED` (none today), and `lib.rs` denies it.
//!
//! The checks read the source text: comments and string literals are blanked first, so prose
//! that names a module does not count as an import.

#![allow(clippy::unwrap_used)] // a test: a panic is a failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Modules every module may use: the L0 foundations.
const FOUNDATION: &[&str] = &["time", "config", "telemetry", "seeds"];

/// `(module, modules it may import besides FOUNDATION)`. A module absent here may import only
/// the foundations.
const ALLOWED: &[(&str, &[&str])] = &[
    ("time", &[]),
    ("telemetry", &[]),
    ("seeds", &[]),
    ("config", &[]),
    ("storage", &[]),
    ("net", &[]),
    ("lineproto", &[]),
    ("influxql", &["storage"]),
    ("domain", &["storage", "influxql"]),
    ("notify", &["domain"]),
    ("monitor", &["domain", "net"]),
    ("api", &["domain", "influxql", "lineproto", "storage"]),
    (
        "app",
        &[
            "storage",
            "net",
            "lineproto",
            "influxql",
            "domain",
            "notify",
            "api",
            "monitor",
        ],
    ),
    ("main", &["app"]),
    // Tool binaries (load generator): top-level programs like main, over the library's API.
    (
        "bin",
        &[
            "storage",
            "net",
            "lineproto",
            "influxql",
            "domain",
            "notify",
            "api",
            "monitor",
            "app",
        ],
    ),
    ("lib", &[]),
];

/// Outside crates owned by exactly one place: `(crate path prefix, allowed file prefixes)`.
const OWNED_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("sled", &["storage/kv.rs"]),
    ("socket2", &["net/"]),
    ("hyper", &["api/", "notify/"]),
    ("axum", &["api/", "notify/"]),
    ("rust_embed", &["api/"]),
    ("http_body_util", &["api/"]),
    ("futures_util", &["api/"]),
    ("tower", &["api/"]),
    ("rustls", &["notify/"]),
    ("tokio_rustls", &["notify/"]),
    ("rustls_pki_types", &["notify/"]),
    ("hyper_util", &["api/", "notify/"]),
    ("rustix", &["storage/space.rs"]),
    ("getrandom", &["domain/id.rs"]),
    ("blake2", &["domain/id.rs"]),
    ("argon2", &["domain/user.rs"]),
    ("md5", &["domain/controller.rs"]),
    ("jiff", &["time/zone.rs"]),
    ("regex", &["influxql/"]),
];

/// Files allowed to contain `unsafe` (each must document why in its module docs).
const UNSAFE_ALLOWED: &[&str] = &[];

/// A layering violation found in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    what: String,
}

/// The top module a source file belongs to: `storage/kv.rs` → `storage`, `time.rs` → `time`.
fn module_of(rel: &str) -> String {
    let first = rel.split('/').next().unwrap_or(rel);
    first.trim_end_matches(".rs").to_owned()
}

/// Blanks comments, string and char-ish literals, keeping line structure.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push(b'\n');
                    }
                    i += 1;
                }
            }
        } else if b[i] == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"'
                    && b[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == b'#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == b'\n' {
                    out.push(b'\n');
                }
                j += 1;
            }
            out.extend_from_slice(b"\"\"");
            i = j;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Top-level modules named after `prefix::` (e.g. `crate::`), including `prefix::{a, b::c}`.
fn referenced_modules(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(pos) = rest.find(prefix) {
        let before_ok = rest[..pos].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = &rest[pos + prefix.len()..];
        rest = after;
        if !before_ok {
            continue;
        }
        let after = after.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            // Split the group at top-level commas only.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        item.push(c);
                    }
                    '}' if depth == 0 => break,
                    '}' => {
                        depth -= 1;
                        item.push(c);
                    }
                    ',' if depth == 0 => {
                        found.insert(item.trim().chars().take_while(|c| is_ident(*c)).collect());
                        item.clear();
                    }
                    _ => item.push(c),
                }
            }
            found.insert(item.trim().chars().take_while(|c| is_ident(*c)).collect());
        } else {
            found.insert(after.chars().take_while(|c| is_ident(*c)).collect());
        }
    }
    found.remove("");
    found
}

/// Whether `word` occurs as a whole token in `code`.
fn has_token(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = code[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_ident(c));
        before && after
    })
}

/// Checks one file; `rel` is its path under `src/` with `/` separators.
fn check_file(rel: &str, src: &str) -> Vec<Violation> {
    let code = strip(src);
    let module = module_of(rel);
    let mut v = Vec::new();
    let mut push = |what: String| {
        v.push(Violation {
            file: rel.to_owned(),
            what,
        })
    };

    let allowed: Option<&[&str]> = ALLOWED.iter().find(|(m, _)| *m == module).map(|(_, a)| *a);
    match allowed {
        None => push(format!("module `{module}` has no layer in ALLOWED")),
        Some(allowed) => {
            // The binary reaches the library through its crate name, the library through `crate::`.
            let prefix = if module == "main" {
                "wispmon::"
            } else {
                "crate::"
            };
            for m in referenced_modules(&code, prefix) {
                let ok = m == module
                    || (FOUNDATION.contains(&m.as_str()) && !(module == "time" && m == "config"))
                    || allowed.contains(&m.as_str());
                if !ok {
                    push(format!("`{module}` imports `{m}`, which is not below it"));
                }
            }
        }
    }

    for (dep, owners) in OWNED_DEPENDENCIES {
        let owned_here = owners.iter().any(|o| rel.starts_with(o));
        if !owned_here
            && (code.contains(&format!("{dep}::"))
                || has_token(&code, &format!("extern crate {dep}")))
        {
            push(format!("`{dep}` used outside {owners:?}"));
        }
    }

    if has_token(&code, "unsafe") && !UNSAFE_ALLOWED.contains(&rel) {
        push("`unsafe` outside the documented unsafe modules".to_owned());
    }
    if code.contains("allow(unsafe_code)") && !UNSAFE_ALLOWED.contains(&rel) {
        push("`allow(unsafe_code)` outside the documented unsafe modules".to_owned());
    }
    if rel == "lib.rs" && !code.contains("#![deny(unsafe_code)]") {
        push("lib.rs must carry #![deny(unsafe_code)]".to_owned());
    }
    v
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn source_tree_respects_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found only {} files", files.len());
    let mut violations = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        violations.extend(check_file(&rel, &std::fs::read_to_string(f).unwrap()));
    }
    violations.sort();
    assert!(
        violations.is_empty(),
        "layering violations:\n{violations:#?}"
    );
}

#[test]
fn every_layer_of_the_design_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for m in [
        "time.rs",
        "config",
        "storage",
        "net",
        "net/icmp",
        "lineproto",
        "influxql",
        "domain",
        "notify",
        "api",
        "monitor",
        "app",
        "main.rs",
        "lib.rs",
    ] {
        assert!(src.join(m).exists(), "src/{m} is missing");
    }
}

fn whats(rel: &str, src: &str) -> Vec<String> {
    check_file(rel, src).into_iter().map(|v| v.what).collect()
}

#[test]
fn checker_flags_upward_imports() {
    assert_eq!(
        whats("storage/engine.rs", "use crate::domain::Device;\n"),
        ["`storage` imports `domain`, which is not below it"]
    );
    assert_eq!(
        whats("domain/x.rs", "use crate::{storage::Records, api::router};"),
        ["`domain` imports `api`, which is not below it"]
    );
    assert_eq!(
        whats("net/icmp/x.rs", "fn f() { crate::monitor::run() }"),
        ["`net` imports `monitor`, which is not below it"]
    );
    assert_eq!(
        whats("time.rs", "use crate::config::Config;"),
        ["`time` imports `config`, which is not below it"]
    );
    assert_eq!(
        whats("main.rs", "use wispmon::storage::Storage;"),
        ["`main` imports `storage`, which is not below it"]
    );
    assert_eq!(
        whats("mystery/x.rs", ""),
        ["module `mystery` has no layer in ALLOWED"]
    );
}

#[test]
fn checker_allows_downward_imports_and_ignores_prose() {
    assert!(
        whats(
            "api/x.rs",
            "use crate::{domain::{Domain, user}, storage::Storage, time};"
        )
        .is_empty()
    );
    assert!(whats("app/mod.rs", "use crate::api; use crate::monitor::Monitor;").is_empty());
    assert!(
        whats(
            "storage/x.rs",
            "// see crate::domain::Device\nlet s = \"crate::api\";"
        )
        .is_empty()
    );
    assert!(
        whats(
            "storage/x.rs",
            "/* crate::api /* nested */ crate::domain */ use crate::time;"
        )
        .is_empty()
    );
    assert!(whats("storage/x.rs", "let s = r#\"crate::api \"quoted\" \"#;").is_empty());
    assert!(whats("storage/x.rs", "use mycrate::api;").is_empty());
}

#[test]
fn checker_flags_owned_dependencies_out_of_place() {
    assert_eq!(
        whats("storage/engine.rs", "let db = sled::open(p);"),
        ["`sled` used outside [\"storage/kv.rs\"]"]
    );
    assert!(whats("storage/kv.rs", "let db = sled::open(p);").is_empty());
    assert_eq!(
        whats("monitor/x.rs", "use socket2::Socket;"),
        ["`socket2` used outside [\"net/\"]"]
    );
    assert_eq!(
        whats("domain/x.rs", "use axum::Router;"),
        ["`axum` used outside [\"api/\", \"notify/\"]"]
    );
    assert!(whats("api/ui.rs", "#[derive(rust_embed::Embed)] struct A;").is_empty());
}

#[test]
fn checker_flags_unsafe() {
    assert_eq!(
        whats("storage/x.rs", "fn f() { unsafe { g() } }"),
        ["`unsafe` outside the documented unsafe modules"]
    );
    assert_eq!(
        whats("net/x.rs", "#![allow(unsafe_code)]"),
        ["`allow(unsafe_code)` outside the documented unsafe modules"]
    );
    assert!(
        whats(
            "storage/x.rs",
            "// unsafe is banned\n#[deny(unsafe_code)] fn f() {}"
        )
        .is_empty()
    );
    assert_eq!(
        whats("lib.rs", "pub mod time;"),
        ["lib.rs must carry #![deny(unsafe_code)]"]
    );
}
