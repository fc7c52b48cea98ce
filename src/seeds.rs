//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`), read by the tests that replay each
//! target's property in every `cargo test`. Test-only.

use std::path::PathBuf;

/// Every seed of `target`, in name order, with its bytes; at least `min` of them (a corpus
/// that went missing must fail the replay, not pass it empty).
///
/// # Panics
/// The directory or a file cannot be read, or it holds fewer than `min` seeds.
#[allow(clippy::unwrap_used)] // a test helper: a panic is the failure
pub(crate) fn files(target: &str, min: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(
        paths.len() >= min,
        "expected at least {min} {target} seeds, found {}",
        paths.len()
    );
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `property` on every seed of `target` (at least `min` of them) and sums what it
/// accepted; the first violation panics naming its seed.
///
/// # Panics
/// As [`files`], or when a seed violates the property.
pub(crate) fn replay<E: std::fmt::Display>(
    target: &str,
    min: usize,
    mut property: impl FnMut(&[u8]) -> Result<usize, E>,
) -> usize {
    let mut accepted = 0;
    for (path, bytes) in files(target, min) {
        match property(&bytes) {
            Ok(n) => accepted += n,
            Err(e) => panic!("seed {} violates the property: {e}", path.display()),
        }
    }
    accepted
}
