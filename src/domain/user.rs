//! Users and their credentials: the administrator bootstrap and password checks.
//!
//! Passwords are stored only as argon2id PHC strings; checks run in constant time (argon2's
//! verifier). Must not: know about sessions, cookies or HTTP.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::error::DomainError;
use crate::storage::{Record, Records};
use crate::time::Timestamp;

/// The account created on the very first start.
pub const ADMIN_USERNAME: &str = "admin";

/// Shortest password accepted from an operator.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (argon2 has no need for more; bounds hashing work per request).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A person who can log in.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct User {
    /// Login name, unique.
    pub username: String,
    /// argon2id hash in PHC string format.
    pub password_hash: String,
    /// Superusers see and manage every organization.
    pub is_superuser: bool,
    /// Inactive users cannot log in.
    pub is_active: bool,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl Record for User {
    const TREE: &'static str = "users";
    const VERSION: u8 = 1;
}

/// What the administrator bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// Users already existed; nothing was done.
    Existing,
    /// `admin` was created with the password given by the operator.
    CreatedWithGivenPassword,
    /// `admin` was created with this generated password, to be shown once.
    CreatedWithGeneratedPassword(String),
}

/// Creates the `admin` superuser when no user exists yet.
///
/// # Errors
/// The given password is unacceptable, hashing or randomness failed, or storage failed.
pub fn bootstrap_admin(
    records: &Records,
    given_password: Option<&str>,
    now: Timestamp,
) -> Result<AdminBootstrap, DomainError> {
    if !records.is_empty::<User>()? {
        return Ok(AdminBootstrap::Existing);
    }
    let (password, generated) = match given_password {
        Some(p) => {
            validate_password(p)?;
            (p.to_owned(), false)
        }
        None => (generate_password()?, true),
    };
    let user = User {
        username: ADMIN_USERNAME.to_owned(),
        password_hash: hash_password(&password)?,
        is_superuser: true,
        is_active: true,
        created_ns: now.as_nanos(),
    };
    if !records.insert_new(ADMIN_USERNAME.as_bytes(), &user)? {
        return Ok(AdminBootstrap::Existing);
    }
    Ok(if generated {
        AdminBootstrap::CreatedWithGeneratedPassword(password)
    } else {
        AdminBootstrap::CreatedWithGivenPassword
    })
}

/// The user named `username`, if the password is right and the account active.
///
/// # Errors
/// Storage failure.
pub fn authenticate(
    records: &Records,
    username: &str,
    password: &str,
) -> Result<Option<User>, DomainError> {
    let Some(user) = candidate(records, username, password)? else {
        return Ok(None);
    };
    Ok((password_matches(&user, password) && user.is_active).then_some(user))
}

/// The stored user a password check is about: none for an unknown name or a password longer
/// than any accepted (bounding the hashing work).
fn candidate(
    records: &Records,
    username: &str,
    password: &str,
) -> Result<Option<User>, DomainError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(None);
    }
    Ok(records.get::<User>(username.as_bytes())?)
}

/// Whether `password` is the user's (argon2, constant time).
fn password_matches(user: &User, password: &str) -> bool {
    PasswordHash::new(&user.password_hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// How long a verified password is remembered for the InfluxDB API.
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);
/// Users remembered at most.
const VERIFIED_MAX: usize = 1024;

/// Passwords verified recently. Clients of the InfluxDB API send the password with every
/// request (Grafana, Telegraf, the Python client), and argon2 — slow and 19 MiB on purpose —
/// must not run per request: that would make every dashboard refresh a CPU and memory burst,
/// and any client with a valid password a cheap way to exhaust the box.
///
/// An entry holds a digest of the password under a key drawn at start (so the cache is no
/// offline oracle and dies with the process) and the stored hash it was verified against. The
/// user record is read on every check, so a changed password or a deactivated user misses at
/// once.
#[derive(Debug)]
pub struct Verified {
    /// `None` when the random source failed at start: every check runs argon2.
    key: Option<[u8; 32]>,
    entries: parking_lot::Mutex<std::collections::HashMap<String, VerifiedEntry>>,
    /// argon2 verifications run through this cache (the tests count them).
    argon2_runs: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct VerifiedEntry {
    digest: [u8; 32],
    password_hash: String,
    at: std::time::Instant,
}

impl Default for Verified {
    fn default() -> Self {
        let mut key = [0u8; 32];
        Verified {
            key: super::id::fill_random(&mut key).ok().map(|()| key),
            entries: parking_lot::Mutex::default(),
            argon2_runs: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Verified {
    /// How many argon2 verifications ran through this cache.
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// [`authenticate`], remembering a success in `cache` for [`VERIFIED_FOR`].
///
/// # Errors
/// Storage failure.
pub fn authenticate_remembered(
    records: &Records,
    cache: &Verified,
    username: &str,
    password: &str,
) -> Result<Option<User>, DomainError> {
    let Some(user) = candidate(records, username, password)? else {
        return Ok(None);
    };
    let digest = cache
        .key
        .map(|k| super::id::keyed_digest(&k, &[username.as_bytes(), password.as_bytes()]));
    if let Some(d) = &digest {
        let entries = cache.entries.lock();
        if let Some(e) = entries.get(username)
            && user.is_active
            && e.password_hash == user.password_hash
            && e.at.elapsed() < VERIFIED_FOR
            && super::id::secrets_equal_bytes(&e.digest, d)
        {
            return Ok(Some(user));
        }
    }
    cache
        .argon2_runs
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !password_matches(&user, password) || !user.is_active {
        return Ok(None);
    }
    if let Some(digest) = digest {
        let mut entries = cache.entries.lock();
        if entries.len() >= VERIFIED_MAX {
            entries.retain(|_, e| e.at.elapsed() < VERIFIED_FOR);
            if entries.len() >= VERIFIED_MAX {
                entries.clear();
            }
        }
        entries.insert(
            username.to_owned(),
            VerifiedEntry {
                digest,
                password_hash: user.password_hash.clone(),
                at: std::time::Instant::now(),
            },
        );
    }
    Ok(Some(user))
}

/// The user named `username`.
///
/// # Errors
/// Storage failure.
pub fn get(records: &Records, username: &str) -> Result<Option<User>, DomainError> {
    Ok(records.get::<User>(username.as_bytes())?)
}

/// Creates an active user.
///
/// # Errors
/// Bad username or password, an existing user of that name, hashing or storage failure.
pub fn create(
    records: &Records,
    username: &str,
    password: &str,
    is_superuser: bool,
    now_ns: i64,
) -> Result<User, DomainError> {
    if username.is_empty()
        || username.len() > 150
        || !username
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err(DomainError::Invalid {
            field: "username",
            reason: "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into(),
        });
    }
    validate_password(password)?;
    let user = User {
        username: username.to_owned(),
        password_hash: hash_password(password)?,
        is_superuser,
        is_active: true,
        created_ns: now_ns,
    };
    if !records.insert_new(username.as_bytes(), &user)? {
        return Err(DomainError::Invalid {
            field: "username",
            reason: "A user with that username already exists.".into(),
        });
    }
    Ok(user)
}

/// Every user, by name.
///
/// # Errors
/// Storage failure.
pub fn list(records: &Records) -> Result<Vec<User>, DomainError> {
    Ok(records
        .list::<User>()?
        .into_iter()
        .map(|(_, u)| u)
        .collect())
}

/// Changes a user's password, activity or superuser flag; `None` when the user is unknown.
///
/// # Errors
/// An unacceptable password, hashing or storage failure.
pub fn update(
    records: &Records,
    username: &str,
    password: Option<&str>,
    is_active: Option<bool>,
    is_superuser: Option<bool>,
) -> Result<Option<User>, DomainError> {
    let Some(mut u) = get(records, username)? else {
        return Ok(None);
    };
    if let Some(p) = password {
        validate_password(p)?;
        u.password_hash = hash_password(p)?;
    }
    if let Some(a) = is_active {
        u.is_active = a;
    }
    if let Some(s) = is_superuser {
        u.is_superuser = s;
    }
    records.put(username.as_bytes(), &u)?;
    Ok(Some(u))
}

/// Removes a user record.
///
/// # Errors
/// Storage failure.
pub fn remove(records: &Records, username: &str) -> Result<(), DomainError> {
    Ok(records.remove::<User>(username.as_bytes())?)
}

fn validate_password(p: &str) -> Result<(), DomainError> {
    let n = p.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(DomainError::Invalid {
            field: "password",
            reason: format!("must have at least {MIN_PASSWORD_LEN} characters"),
        });
    }
    if p.len() > MAX_PASSWORD_LEN {
        return Err(DomainError::Invalid {
            field: "password",
            reason: format!("must have at most {MAX_PASSWORD_LEN} bytes"),
        });
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, DomainError> {
    let mut salt = [0u8; 16];
    super::id::fill_random(&mut salt)?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| DomainError::PasswordHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::PasswordHash(e.to_string()))
}

/// A 20-character password from a 57-symbol alphabet without look-alikes (~116 bits).
fn generate_password() -> Result<String, DomainError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const LEN: usize = 20;
    // Rejection sampling keeps every symbol equally likely.
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(LEN);
    let mut buf = [0u8; 64];
    while out.len() < LEN {
        super::id::fill_random(&mut buf)?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < LEN {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn first_bootstrap_generates_a_password_that_logs_in() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let AdminBootstrap::CreatedWithGeneratedPassword(pw) =
            bootstrap_admin(&r, None, Timestamp::EPOCH).unwrap()
        else {
            panic!("expected a generated password");
        };
        assert_eq!(pw.len(), 20);
        let u = authenticate(&r, "admin", &pw).unwrap().unwrap();
        assert!(u.is_superuser);
        assert!(!u.password_hash.contains(&pw));
        assert!(
            authenticate(&r, "admin", "wrong-password")
                .unwrap()
                .is_none()
        );
        assert!(authenticate(&r, "nobody", &pw).unwrap().is_none());
        assert_eq!(
            bootstrap_admin(&r, None, Timestamp::EPOCH).unwrap(),
            AdminBootstrap::Existing
        );
    }

    #[test]
    fn given_password_is_used_and_validated() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        assert!(matches!(
            bootstrap_admin(&r, Some("short"), Timestamp::EPOCH),
            Err(DomainError::Invalid {
                field: "password",
                ..
            })
        ));
        assert_eq!(
            bootstrap_admin(&r, Some("correct horse"), Timestamp::EPOCH).unwrap(),
            AdminBootstrap::CreatedWithGivenPassword
        );
        assert!(
            authenticate(&r, "admin", "correct horse")
                .unwrap()
                .is_some()
        );
        // Stored as an argon2id PHC string (version 19, OWASP's memory and time costs), with
        // its own salt: never the password.
        let stored = r.get::<User>(b"admin").unwrap().unwrap().password_hash;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("correct horse"));
        assert_ne!(hash_password("correct horse").unwrap(), stored);
    }

    #[test]
    fn remembered_passwords_skip_argon2_until_the_password_or_the_user_changes() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        bootstrap_admin(&r, Some("correct horse"), Timestamp::EPOCH).unwrap();
        let cache = Verified::default();
        let check = |pw: &str| {
            authenticate_remembered(&r, &cache, "admin", pw)
                .unwrap()
                .is_some()
        };
        assert!(check("correct horse"));
        assert!(check("correct horse"));
        assert!(check("correct horse"));
        assert_eq!(cache.argon2_runs(), 1, "verified once, then remembered");
        assert!(!check("wrong horse"), "a remembered user is no open door");
        assert!(!check("correct horse "));
        assert_eq!(cache.argon2_runs(), 3);
        assert!(!check(&"x".repeat(MAX_PASSWORD_LEN + 1)));
        assert!(
            authenticate_remembered(&r, &cache, "nobody", "correct horse")
                .unwrap()
                .is_none()
        );
        // A new password: the old one is refused at once, the new one verified afresh.
        let mut u = r.get::<User>(b"admin").unwrap().unwrap();
        u.password_hash = hash_password("battery staple").unwrap();
        r.put(b"admin", &u).unwrap();
        assert!(!check("correct horse"));
        assert!(check("battery staple"));
        assert!(check("battery staple"));
        assert_eq!(cache.argon2_runs(), 5);
        // A deactivated user is refused, remembered or not.
        u.is_active = false;
        r.put(b"admin", &u).unwrap();
        assert!(!check("battery staple"));
    }

    #[test]
    fn generated_passwords_differ() {
        assert_ne!(generate_password().unwrap(), generate_password().unwrap());
    }
}
