//! Inspection of an operator's configuration archive before any device may download it.
//!
//! Owns the bounded reader of a gzip-compressed tar: what an organization's administrator
//! uploads is applied as root by every router of the organization (spec device-agents §2.4),
//! so it is read whole here first and refused, with a message naming the entry, unless it is
//! a plain archive of regular files and directories with relative paths. The agent unpacks it
//! with busybox or GNU tar; this reader accepts the ustar, GNU and pax headers those tools
//! write and nothing it cannot account for byte by byte.

use std::io::Read as _;

/// Largest compressed archive accepted.
pub const MAX_COMPRESSED: usize = 1 << 20;
/// Largest uncompressed tar accepted (a router's flash holds a few MiB).
pub const MAX_TAR: usize = 8 << 20;
/// Most entries accepted.
pub const MAX_ENTRIES: usize = 4096;
/// Longest accepted path of one entry.
pub const MAX_PATH: usize = 1024;

const BLOCK: usize = 512;

/// What one archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
}

/// One entry of an accepted archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path, relative (as the router writes it under `/`), without a leading `./`.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its size in bytes (0 for a directory).
    pub size: u64,
}

impl Entry {
    /// Whether the agent merges this entry into UCI (files under `etc/config/`) rather than
    /// writing it as a file.
    pub fn is_uci(&self) -> bool {
        self.kind == EntryKind::File && self.path.starts_with("etc/config/")
    }
}

/// Why an archive is refused; the text is the operator's error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refuse(msg: impl Into<String>) -> Refused {
    Refused(msg.into())
}

/// Reads a gzip-compressed tar as the agent downloads it.
///
/// # Errors
/// Anything but a bounded, well-formed archive of regular files and directories with
/// relative paths and at least one file.
pub fn inspect_archive(bytes: &[u8]) -> Result<Vec<Entry>, Refused> {
    inspect_tar(&decompress(bytes)?)
}

/// An accepted archive rewritten for the routers, and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repacked {
    /// The tar.gz the devices download.
    pub bytes: Vec<u8>,
    /// Its entries: the regular files of the upload, in its order.
    pub entries: Vec<Entry>,
}

/// Reads an uploaded tar.gz like [`inspect_archive`] and writes it again holding only its
/// regular files (path, permission bits, contents), in ustar format with fixed owners and
/// times, gzip without a name or time.
///
/// Why: the agent backs up every path the archive lists before applying it, and a directory
/// entry such as `etc/` (which `tar -czf x.tar.gz etc` always writes) would make every router
/// copy its whole `/etc` into RAM at every apply; tar creates the directories a file needs.
/// Archives built by OpenWISP hold files only too. Fixed owners and times make the result,
/// and so the checksum, depend on the files alone.
///
/// # Errors
/// As [`inspect_archive`], plus a path too long for ustar (255 bytes).
pub fn repack(bytes: &[u8]) -> Result<Repacked, Refused> {
    let tar = decompress(bytes)?;
    repack_tar(&tar)
}

fn repack_tar(tar: &[u8]) -> Result<Repacked, Refused> {
    let read = read_tar(tar)?;
    let mut out = Vec::with_capacity(tar.len());
    let mut entries = Vec::new();
    for (entry, file) in read {
        let Some((mode, data)) = file else { continue };
        let header = ustar_header(&entry.path, data.len() as u64, mode, b'0')?;
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        entries.push(entry);
    }
    let bytes = finish_tar_gz(out)
        .map_err(|e| refuse(format!("the archive could not be compressed: {e}")))?;
    Ok(Repacked { bytes, entries })
}

/// Time written into the archives wispmon writes (2026-01-01T00:00:00Z): fixed, so an
/// archive is the same bytes wherever and whenever it is built.
pub(super) const FIXED_MTIME: u64 = 1_767_225_600;

/// A ustar header (`kind` `b'0'` file, `b'5'` directory) with root owners and
/// [`FIXED_MTIME`]; paths over 100 bytes go in the prefix field.
///
/// # Errors
/// A path that does not fit ustar's 155 + 100 bytes split at a `/`.
pub(super) fn ustar_header(
    path: &str,
    size: u64,
    mode: u32,
    kind: u8,
) -> Result<[u8; BLOCK], Refused> {
    let too_long = || {
        refuse(format!(
            "{path}: paths longer than 100 bytes must split at a / into at most 155 + 100"
        ))
    };
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let at = path
            .char_indices()
            .filter(|&(i, c)| c == '/' && i <= 155 && path.len() - i - 1 <= 100)
            .map(|(i, _)| i)
            .next()
            .ok_or_else(too_long)?;
        (&path[..at], &path[at + 1..])
    };
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], u64::from(mode));
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], FIXED_MTIME);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// Ends a tar (two zero blocks, padded to tar's default record of 20 blocks) and compresses
/// it with a gzip header without a name or time, so the bytes depend on the contents alone.
///
/// # Errors
/// Compression failure (not expected in memory).
pub(super) fn finish_tar_gz(mut tar: Vec<u8>) -> std::io::Result<Vec<u8>> {
    tar.resize(tar.len() + 2 * BLOCK, 0);
    tar.resize(tar.len().div_ceil(20 * BLOCK) * 20 * BLOCK, 0);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &tar)?;
    gz.finish()
}

/// NUL-terminated, zero-padded octal, as ustar writes numbers (sizes here are far below the
/// field's 8 GiB).
fn put_octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    let b = s.as_bytes();
    let n = b.len().min(digits);
    field[..n].copy_from_slice(&b[b.len() - n..]);
    field[digits] = 0;
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, Refused> {
    if bytes.len() > MAX_COMPRESSED {
        return Err(refuse(format!(
            "the archive is larger than {} KiB",
            MAX_COMPRESSED / 1024
        )));
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(refuse(
            "the archive is not gzip-compressed (a .tar.gz is expected)",
        ));
    }
    // Several gzip members are one stream to `tar -z`, so they are to this reader too.
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_TAR as u64 + 1)
        .read_to_end(&mut tar)
        .map_err(|e| refuse(format!("the archive does not decompress: {e}")))?;
    if tar.len() > MAX_TAR {
        return Err(refuse(format!(
            "the archive holds more than {} MiB once decompressed",
            MAX_TAR >> 20
        )));
    }
    Ok(tar)
}

/// Reads an uncompressed tar (see [`inspect_archive`]).
///
/// # Errors
/// As [`inspect_archive`].
pub fn inspect_tar(tar: &[u8]) -> Result<Vec<Entry>, Refused> {
    Ok(read_tar(tar)?.into_iter().map(|(e, _)| e).collect())
}

/// A regular file's mode and data (`None` for directories).
type FileData<'a> = Option<(u32, &'a [u8])>;

fn read_tar(tar: &[u8]) -> Result<Vec<(Entry, FileData<'_>)>, Refused> {
    let mut entries: Vec<(Entry, FileData<'_>)> = Vec::new();
    let mut at = 0usize;
    // Names carried by a GNU `L` entry or a pax `x` header for the next entry.
    let mut long_name: Option<String> = None;
    let mut ended = false;
    while let Some(header) = tar.get(at..at + BLOCK) {
        let index = at / BLOCK;
        at += BLOCK;
        if header.iter().all(|&b| b == 0) {
            ended = true;
            break;
        }
        check_header_sum(header, index)?;
        let size = octal_field(&header[124..136])
            .ok_or_else(|| refuse(format!("header {index}: the size field is not octal")))?;
        let size_usize = usize::try_from(size)
            .ok()
            .filter(|&s| s <= MAX_TAR)
            .ok_or_else(|| refuse(format!("header {index}: entry too large")))?;
        let data_end = at
            .checked_add(size_usize)
            .filter(|&e| e <= tar.len())
            .ok_or_else(|| refuse(format!("header {index}: the entry's data is cut short")))?;
        let data = &tar[at..data_end];
        at = data_end.div_ceil(BLOCK) * BLOCK;
        let kind = header[156];
        match kind {
            b'L' => {
                long_name = Some(text(trim_nul(data), index)?);
                continue;
            }
            b'x' => {
                if let Some(p) = pax_path(data, index)? {
                    long_name = Some(p);
                }
                continue;
            }
            // A pax global header sets defaults only (mtime, charset): nothing to check.
            b'g' => continue,
            _ => {}
        }
        let raw_name = match long_name.take() {
            Some(n) => n,
            None => header_name(header, index)?,
        };
        let kind = match kind {
            b'0' | 0 | b'7' => EntryKind::File,
            b'5' => EntryKind::Directory,
            b'1' => return Err(refuse(format!("{raw_name}: hard links are refused"))),
            b'2' => return Err(refuse(format!("{raw_name}: symbolic links are refused"))),
            b'3' | b'4' | b'6' => {
                return Err(refuse(format!(
                    "{raw_name}: device files and FIFOs are refused"
                )));
            }
            other => {
                return Err(refuse(format!(
                    "{raw_name}: entry type {:?} is not a file or a directory",
                    char::from(other)
                )));
            }
        };
        let path = clean_path(&raw_name)?;
        if path.is_empty() {
            // `./` itself, as `tar -C dir -czf x .` writes first.
            if kind == EntryKind::Directory {
                continue;
            }
            return Err(refuse(format!("header {index}: a file without a name")));
        }
        if entries.len() == MAX_ENTRIES {
            return Err(refuse(format!(
                "the archive has more than {MAX_ENTRIES} entries"
            )));
        }
        let file = (kind == EntryKind::File).then(|| {
            // Permission bits only: no set-id bits reach a router.
            let mode = octal_field(&header[100..108]).unwrap_or(0o644) as u32 & 0o777;
            (mode, data)
        });
        entries.push((
            Entry {
                path,
                kind,
                size: if kind == EntryKind::File { size } else { 0 },
            },
            file,
        ));
    }
    if !ended {
        return Err(refuse(
            "the archive does not end with tar's end-of-archive blocks (cut short?)",
        ));
    }
    if long_name.is_some() {
        return Err(refuse("the archive ends after a long-name header"));
    }
    if !entries.iter().any(|(e, _)| e.kind == EntryKind::File) {
        // An empty archive would make the agent remove everything a previous one installed.
        return Err(refuse("the archive holds no file"));
    }
    Ok(entries)
}

/// The fuzz property (target `config_archive`, and the seed replay in `cargo test`): any
/// bytes, read as a tar or, when they start with gzip's magic, as a tar.gz, are read without
/// a panic, and an accepted archive holds only what the reader promises. Returns how many
/// entries were accepted.
///
/// # Errors
/// The broken promise.
pub fn fuzz_property(data: &[u8]) -> Result<usize, String> {
    let read = if data.starts_with(&[0x1f, 0x8b]) {
        inspect_archive(data)
    } else {
        inspect_tar(data)
    };
    let Ok(entries) = read else {
        return Ok(0);
    };
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(format!("{} entries accepted", entries.len()));
    }
    if !entries.iter().any(|e| e.kind == EntryKind::File) {
        return Err("accepted without a file".into());
    }
    for e in &entries {
        let parts_ok = e
            .path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains(['\0', '\\']));
        if e.path.is_empty() || e.path.starts_with('/') || !parts_ok {
            return Err(format!("accepted path {:?}", e.path));
        }
        if e.kind == EntryKind::Directory && e.size != 0 {
            return Err(format!("directory {:?} with a size", e.path));
        }
    }
    // What is accepted repacks into an archive that reads back as its files, in order, with
    // the same contents (unless a path is too long for ustar).
    let tar = if data.starts_with(&[0x1f, 0x8b]) {
        decompress(data).map_err(|e| format!("accepted, then not decompressed: {e}"))?
    } else {
        data.to_vec()
    };
    let files: Vec<(Entry, FileData<'_>)> = read_tar(&tar)
        .map_err(|e| format!("accepted, then refused: {e}"))?
        .into_iter()
        .filter(|(e, _)| e.kind == EntryKind::File)
        .collect();
    match repack_tar(&tar) {
        Ok(r) => {
            let back = decompress(&r.bytes).map_err(|e| format!("repacked: {e}"))?;
            let again = read_tar(&back).map_err(|e| format!("repacked, then refused: {e}"))?;
            if again != files {
                return Err("the repacked archive differs from the upload's files".into());
            }
        }
        Err(e) if e.0.contains("paths longer than 100 bytes") => {}
        Err(e) => return Err(format!("accepted, then not repacked: {e}")),
    }
    Ok(entries.len())
}

fn check_header_sum(header: &[u8], index: usize) -> Result<(), Refused> {
    let stored = octal_field(&header[148..156])
        .ok_or_else(|| refuse(format!("header {index}: the checksum field is not octal")))?;
    let sum: u64 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    if sum != stored {
        return Err(refuse(format!(
            "header {index}: checksum mismatch (not a tar archive, or damaged)"
        )));
    }
    Ok(())
}

/// An octal number field: optional leading spaces, digits, then only NULs or spaces.
fn octal_field(field: &[u8]) -> Option<u64> {
    let lead = field.iter().take_while(|&&b| b == b' ').count();
    let field = &field[lead..];
    let digits = field.iter().take_while(|b| b.is_ascii_digit()).count();
    if !field[digits..].iter().all(|&b| b == 0 || b == b' ') {
        return None;
    }
    field[..digits].iter().try_fold(0u64, |v, &b| {
        if b > b'7' {
            return None;
        }
        v.checked_mul(8)?.checked_add(u64::from(b - b'0'))
    })
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

fn text(b: &[u8], index: usize) -> Result<String, Refused> {
    if b.len() > MAX_PATH {
        return Err(refuse(format!(
            "header {index}: a path longer than {MAX_PATH} bytes"
        )));
    }
    String::from_utf8(b.to_vec())
        .map_err(|_| refuse(format!("header {index}: a path that is not UTF-8")))
}

/// The name of a ustar header, with its prefix field when the header is ustar.
fn header_name(header: &[u8], index: usize) -> Result<String, Refused> {
    let name = text(trim_nul(&header[..100]), index)?;
    let ustar = &header[257..262] == b"ustar";
    let prefix = if ustar {
        text(trim_nul(&header[345..500]), index)?
    } else {
        String::new()
    };
    Ok(if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    })
}

/// The `path` record of a pax extended header, if it has one (records: "LEN key=value\n").
fn pax_path(data: &[u8], index: usize) -> Result<Option<String>, Refused> {
    let bad = || refuse(format!("header {index}: a malformed pax extended header"));
    let mut rest = data;
    let mut path = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        if &record[..eq] == b"path" {
            path = Some(text(&record[eq + 1..], index)?);
        }
        rest = &rest[len..];
    }
    Ok(path)
}

/// `name` made relative and checked: no absolute path, no `..`, no empty or NUL component.
fn clean_path(name: &str) -> Result<String, Refused> {
    if name.starts_with('/') {
        return Err(refuse(format!(
            "{name}: absolute paths are refused (write paths relative to /)"
        )));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse(format!("{name}: paths with .. are refused"))),
            p if p.contains('\0') || p.contains('\\') => {
                return Err(refuse(format!("{name}: a path with NUL or backslash")));
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header as `tar` writes one.
    fn header(name: &str, size: usize, kind: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    /// A GNU long-name record naming the entry after it `path`.
    fn gnu_long_name(path: &str) -> Vec<u8> {
        let mut gnu = header("././@LongLink", path.len() + 1, b'L').to_vec();
        let mut name = path.as_bytes().to_vec();
        name.push(0);
        name.resize(name.len().div_ceil(512) * 512, 0);
        gnu.extend_from_slice(&name);
        gnu
    }

    fn tar(entries: &[(&str, &[u8], u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data, kind) in entries {
            out.extend_from_slice(&header(name, data.len(), *kind));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    #[test]
    fn files_and_directories_are_listed_with_relative_paths() {
        let t = tar(&[
            ("./", b"", b'5'),
            ("./etc/config/", b"", b'5'),
            ("./etc/config/openwisp-monitoring", b"config x\n", b'0'),
            ("etc/banner", b"hello\n", 0),
        ]);
        let e = inspect_tar(&t).unwrap();
        assert_eq!(
            e.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["etc/config", "etc/config/openwisp-monitoring", "etc/banner"]
        );
        assert!(e[1].is_uci() && !e[2].is_uci() && !e[0].is_uci());
        assert_eq!(e[2].size, 6);
    }

    #[test]
    fn dangerous_or_malformed_archives_are_refused_with_the_entry_named() {
        for (t, want) in [
            (tar(&[("/etc/passwd", b"x", b'0')]), "absolute paths"),
            (tar(&[("etc/../../x", b"x", b'0')]), "paths with .."),
            (tar(&[("etc/link", b"", b'2')]), "etc/link: symbolic links"),
            (tar(&[("etc/hard", b"", b'1')]), "hard links"),
            (tar(&[("dev/x", b"", b'3')]), "device files"),
            (tar(&[("etc/", b"", b'5')]), "holds no file"),
        ] {
            let err = inspect_tar(&t).unwrap_err().0;
            assert!(err.contains(want), "{err} should say {want}");
        }
        // Damaged header, cut data, missing end blocks.
        let mut t = tar(&[("etc/a", b"abc", b'0')]);
        t[0] = b'x';
        assert!(inspect_tar(&t).unwrap_err().0.contains("checksum mismatch"));
        let t = tar(&[("etc/a", &[1u8; 600], b'0')]);
        assert!(inspect_tar(&t[..900]).unwrap_err().0.contains("cut short"));
        assert!(
            inspect_tar(&t[..1536])
                .unwrap_err()
                .0
                .contains("end-of-archive")
        );
    }

    #[test]
    fn gnu_long_names_and_pax_paths_name_the_next_entry() {
        let long = format!("etc/{}", "d/".repeat(60)) + "file";
        let mut gnu = gnu_long_name(&long);
        gnu.extend_from_slice(&tar(&[("etc/shortened", b"x", b'0')]));
        let e = inspect_tar(&gnu).unwrap();
        assert_eq!(e[0].path, long);

        let record = format!("path={long}\n");
        let rec = format!("{} {record}", record.len() + 4);
        assert_eq!(rec.len(), record.len() + 4);
        let mut pax = header("PaxHeaders/x", rec.len(), b'x').to_vec();
        let mut body = rec.into_bytes();
        body.resize(512, 0);
        pax.extend_from_slice(&body);
        pax.extend_from_slice(&tar(&[("etc/shortened", b"x", b'0')]));
        assert_eq!(inspect_tar(&pax).unwrap()[0].path, long);
    }

    #[test]
    fn repacking_keeps_files_modes_and_contents_drops_directories_and_is_deterministic() {
        let build = |banner_mode: &[u8; 7]| {
            let mut t = tar(&[
                ("./", b"", b'5'),
                ("./etc/", b"", b'5'),
                ("./etc/banner", b"hello\n", b'0'),
                ("usr/sbin/tool", b"#!/bin/sh\n", b'0'),
            ]);
            // The tool gets mode 4755: the set-id bit must not survive.
            let (banner, tool) = (512 * 2, 512 * 4);
            t[tool + 100..tool + 107].copy_from_slice(b"0004755");
            t[banner + 100..banner + 107].copy_from_slice(banner_mode);
            for at in [banner, tool] {
                t[at + 148..at + 156].fill(b' ');
                let sum: u32 = t[at..at + 512].iter().map(|&x| u32::from(x)).sum();
                t[at + 148..at + 155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            }
            t
        };
        let r = repack_tar(&build(b"0000644")).unwrap();
        assert_eq!(
            r.entries
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["etc/banner", "usr/sbin/tool"]
        );
        let back = decompress(&r.bytes).unwrap();
        let files = read_tar(&back).unwrap();
        assert_eq!(files.len(), 2, "no directory entries");
        assert_eq!(files[0].1, Some((0o644, &b"hello\n"[..])));
        assert_eq!(files[1].1, Some((0o755, &b"#!/bin/sh\n"[..])));
        assert_eq!(repack_tar(&build(b"0000644")).unwrap(), r, "deterministic");
        assert_ne!(repack_tar(&build(b"0000600")).unwrap().bytes, r.bytes);

        // A long path goes to the ustar prefix; one that cannot split there is refused.
        let long_name = |path: &str| {
            let mut gnu = gnu_long_name(path);
            gnu.extend_from_slice(&tar(&[("x", b"data", b'0')]));
            gnu
        };
        let deep = format!("etc/{}f", "sub/".repeat(30));
        let r = repack_tar(&long_name(&deep)).unwrap();
        let back = decompress(&r.bytes).unwrap();
        let back = read_tar(&back).unwrap();
        assert_eq!(back[0].0.path, deep);
        assert_eq!(back[0].1, Some((0o644, &b"data"[..])));
        let unsplittable = format!("etc/{}", "x".repeat(120));
        let err = repack_tar(&long_name(&unsplittable)).unwrap_err().0;
        assert!(err.contains("paths longer than 100"), "{err}");
    }

    #[test]
    fn the_compressed_reader_is_bounded() {
        assert!(
            inspect_archive(b"not gzip")
                .unwrap_err()
                .0
                .contains("not gzip")
        );
        let big = vec![0x1f; MAX_COMPRESSED + 1];
        assert!(inspect_archive(&big).unwrap_err().0.contains("larger than"));
        // A small bomb: 9 MiB of zeros compress to a few KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &vec![0u8; MAX_TAR + 1]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < MAX_COMPRESSED);
        assert!(
            inspect_archive(&bomb)
                .unwrap_err()
                .0
                .contains("more than 8 MiB")
        );
        // The built-in archive passes.
        let a = super::super::build_archive().unwrap();
        let e = inspect_archive(&a.bytes).unwrap();
        assert_eq!(e.last().unwrap().path, "etc/wispmon/README");
    }
}

#[cfg(test)]
mod seeds {
    use super::*;

    /// The fuzz seeds are archives written by GNU tar in its gnu, ustar and pax formats: the
    /// reader must take what real tools make and list what `tar -t` lists.
    #[test]
    fn archives_made_by_gnu_tar_in_every_format_are_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/archive");
        let read = |name: &str| {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            if name.ends_with(".gz") {
                inspect_archive(&bytes)
            } else {
                inspect_tar(&bytes)
            }
        };
        for name in ["gnu-two-files.tar", "ustar-two-files.tar.gz"] {
            let mut paths: Vec<String> = read(name).unwrap().into_iter().map(|e| e.path).collect();
            paths.sort();
            assert_eq!(
                paths,
                [
                    "etc",
                    "etc/banner",
                    "etc/config",
                    "etc/config/openwisp-monitoring"
                ],
                "{name}"
            );
        }
        let deep = format!("etc/{}file", "deep/".repeat(25));
        for name in ["gnu-long-name.tar", "pax-long-name.tar"] {
            let e = read(name).unwrap();
            assert!(
                e.iter()
                    .any(|e| e.path == deep && e.kind == EntryKind::File),
                "{name}: {e:?}"
            );
        }
        let err = read("pax-with-symlink.tar").unwrap_err().0;
        assert_eq!(err, "./link: symbolic links are refused");
    }

    #[test]
    fn seeds_satisfy_the_fuzz_property() {
        let accepted = crate::seeds::replay("archive", 5, fuzz_property);
        assert!(
            accepted >= 8,
            "the seeds hold readable archives ({accepted} entries)"
        );
    }
}
