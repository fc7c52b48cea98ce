//! Identifiers and secrets: UUIDs (the primary keys OpenWISP clients know), device keys and API
//! tokens, all drawn from the operating system's random source.
//!
//! Owns: their text forms (UUIDs with or without dashes on input, dashed on output; 32-hex
//! device keys; 40-hex tokens), constant-time comparison of secrets, and the use of the
//! operating system's random source (`getrandom`) and of `blake2`.

use std::fmt;

use super::error::DomainError;

/// A 128-bit identifier shown as a dashed, lower-case UUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode)]
pub struct Id(pub [u8; 16]);

impl Id {
    /// A random (version 4) identifier.
    ///
    /// # Errors
    /// The random source failed.
    pub fn random() -> Result<Id, DomainError> {
        let mut b = [0u8; 16];
        fill_random(&mut b)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Ok(Id(b))
    }

    /// Parses 32 hex digits, with or without the four dashes of the canonical form, in any
    /// case. Devices and scripts send both spellings.
    pub fn parse(s: &str) -> Option<Id> {
        let b = s.as_bytes();
        let hex: Vec<u8> = if b.len() == 36 {
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            b.iter().copied().filter(|&c| c != b'-').collect()
        } else if b.len() == 32 {
            b.to_vec()
        } else {
            return None;
        };
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Id(out))
    }

    /// The 32 hex digits without dashes.
    pub fn simple(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.simple();
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[(x >> 4) as usize] as char);
        s.push(DIGITS[(x & 15) as usize] as char);
    }
    s
}

/// Fills `buf` from the operating system's random source.
///
/// # Errors
/// The random source failed.
pub fn fill_random(buf: &mut [u8]) -> Result<(), DomainError> {
    getrandom::fill(buf).map_err(|e| DomainError::Random(e.to_string()))
}

/// A random secret of `bytes` bytes as lower-case hex (device keys: 16 → 32 digits, like
/// openwisp-controller's; API tokens: 20 → 40 digits, like Django REST framework's).
///
/// # Errors
/// The random source failed.
pub fn random_hex(bytes: usize) -> Result<String, DomainError> {
    let mut b = vec![0u8; bytes];
    fill_random(&mut b)?;
    Ok(to_hex(&b))
}

/// Compares two secrets in time that depends only on their lengths, so a device key cannot be
/// guessed byte by byte from response times.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    secrets_equal_bytes(a.as_bytes(), b.as_bytes())
}

/// [`secrets_equal`] for bytes.
pub fn secrets_equal_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A digest of an API token, under which the token is stored: a copy of the record store
/// does not hand out working tokens.
pub fn token_digest(token: &str) -> [u8; 32] {
    use blake2::Digest;
    let mut h = blake2::Blake2s256::new();
    h.update(b"wispmon api token v1\0");
    h.update(token.as_bytes());
    h.finalize().into()
}

/// A digest of `parts` under a secret `key` (each part length-prefixed, so no two different
/// lists of parts collide by concatenation).
pub fn keyed_digest(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use blake2::Digest;
    let mut h = blake2::Blake2s256::new();
    h.update(b"wispmon keyed digest v1\0");
    h.update(key);
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Whether `s` is a well-formed device key: 1 to 64 characters of `[A-Za-z0-9]`, as
/// openwisp-controller accepts (generated keys are 32 hex digits).
pub fn is_valid_device_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_with_and_without_dashes_and_print_dashed() {
        let a = Id::parse("5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33").unwrap();
        let b = Id::parse("5D2B7C1E8F434A7E9C612F0E9B1A7D33").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33");
        assert_eq!(a.simple(), "5d2b7c1e8f434a7e9c612f0e9b1a7d33");
        for bad in [
            "",
            "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d3",
            "5d2b7c1e+8f43-4a7e-9c61-2f0e9b1a7d33",
            "5d2b7c1e8f434a7e9c612f0e9b1a7d3g",
            "5d2b7c1e-8f434a7e-9c61-2f0e9b1a7d33x",
            "ü5d2b7c1e8f434a7e9c612f0e9b1a7d3",
        ] {
            assert_eq!(Id::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn random_ids_are_version_4_and_differ() {
        let a = Id::random().unwrap();
        let b = Id::random().unwrap();
        assert_ne!(a, b);
        let s = a.to_string();
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(Id::parse(&s), Some(a));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert_eq!(random_hex(16).unwrap().len(), 32);
        assert_ne!(token_digest("a"), token_digest("b"));
        assert!(is_valid_device_key(&random_hex(16).unwrap()));
        assert!(!is_valid_device_key("has space"));
        assert!(!is_valid_device_key(""));
    }
}
