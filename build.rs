//! Fetches the web UI's front-end libraries from the npm registry, as `web/package-lock.json`
//! pins them, and lays the files the UI loads out in `$OUT_DIR/vendor/`, which `src/api/ui.rs`
//! embeds into the binary. The libraries are not committed: a fresh checkout gets exactly the
//! locked versions, checked against the lockfile's integrity hashes by `npm ci`.
//!
//! Set `WISPMON_NPM` to use another npm binary. A build without npm fails with a message that
//! says so, rather than producing a binary whose UI cannot draw a chart.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files the UI loads: (path under `node_modules/`, name under `vendor/`).
const FILES: &[(&str, &str)] = &[
    ("uplot/dist/uPlot.iife.min.js", "uplot.js"),
    ("uplot/dist/uPlot.min.css", "uplot.css"),
    ("uplot/LICENSE", "LICENSES/uplot.txt"),
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    (
        "leaflet/dist/images/marker-icon.png",
        "images/marker-icon.png",
    ),
    (
        "leaflet/dist/images/marker-icon-2x.png",
        "images/marker-icon-2x.png",
    ),
    (
        "leaflet/dist/images/marker-shadow.png",
        "images/marker-shadow.png",
    ),
    ("leaflet/dist/images/layers.png", "images/layers.png"),
    ("leaflet/dist/images/layers-2x.png", "images/layers-2x.png"),
    ("leaflet/LICENSE", "LICENSES/leaflet.txt"),
    (
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "leaflet.markercluster.js",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.css",
        "MarkerCluster.css",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.Default.css",
        "MarkerCluster.Default.css",
    ),
    (
        "leaflet.markercluster/MIT-LICENCE.txt",
        "LICENSES/leaflet.markercluster.txt",
    ),
    (
        "topojson-client/dist/topojson-client.min.js",
        "topojson-client.js",
    ),
    ("topojson-client/LICENSE", "LICENSES/topojson-client.txt"),
    // The offline basemap: Natural Earth's 1:50m countries (public domain).
    ("world-atlas/countries-50m.json", "countries-50m.json"),
    ("world-atlas/LICENSE", "LICENSES/world-atlas.txt"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-env-changed=WISPMON_NPM");
    if let Err(e) = run() {
        panic!("building the web UI's libraries: {e}");
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let npm_dir = out.join("npm");
    fs::create_dir_all(&npm_dir).map_err(|e| format!("{}: {e}", npm_dir.display()))?;
    let lock = read(&manifest.join("web/package-lock.json"))?;
    let stamp = npm_dir.join("installed-lock.json");
    // npm ci only when the lockfile changed since the last install into this OUT_DIR.
    if fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
        copy(
            &manifest.join("web/package.json"),
            &npm_dir.join("package.json"),
        )?;
        copy(
            &manifest.join("web/package-lock.json"),
            &npm_dir.join("package-lock.json"),
        )?;
        let npm = env::var("WISPMON_NPM").unwrap_or_else(|_| "npm".to_owned());
        let status = Command::new(&npm)
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&npm_dir)
            .status()
            .map_err(|e| {
                format!("cannot run `{npm} ci` ({e}); install Node.js and npm, or set WISPMON_NPM")
            })?;
        if !status.success() {
            return Err(format!(
                "`{npm} ci` in {} failed: {status}",
                npm_dir.display()
            ));
        }
        fs::write(&stamp, &lock).map_err(|e| e.to_string())?;
    }
    let vendor = out.join("vendor");
    for (from, to) in FILES {
        copy(&npm_dir.join("node_modules").join(from), &vendor.join(to))?;
    }
    Ok(())
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
}
