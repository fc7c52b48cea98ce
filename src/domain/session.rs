//! Web UI sessions: what a login cookie stands for.
//!
//! Owns: session records (stored under the digest of the cookie's secret, as API tokens are, so
//! a copy of the database holds no usable cookie), their lifetime, and each session's CSRF
//! token. A session ends at logout, after [`IDLE`] without use, after [`LIFETIME`] whatever
//! the use, or as soon as its user is deactivated or deleted.

use super::DomainError;
use super::access::Principal;
use super::id::{random_hex, secrets_equal, token_digest};
use super::user;
use crate::storage::{Record, Records};

/// A session unused this long is over (ns): two weeks, Django's default cookie age.
pub const IDLE: i64 = 14 * 24 * 3600 * 1_000_000_000;
/// No session outlives this (ns), so a stolen cookie is not good forever.
pub const LIFETIME: i64 = 30 * 24 * 3600 * 1_000_000_000;
/// Use is written back at most this often (ns), so browsing is not a write per request.
const TOUCH_EVERY: i64 = 60 * 1_000_000_000;
/// Length of the cookie's secret and the CSRF token, in hex characters.
const SECRET_HEX: usize = 64;

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Session {
    /// Whose session it is.
    pub username: String,
    /// The token forms and scripts must echo in `X-CSRF-Token` on unsafe requests.
    pub csrf_token: String,
    /// Login time, ns since the epoch.
    pub created_ns: i64,
    /// Last use (to [`TOUCH_EVERY`] precision).
    pub used_ns: i64,
}

impl Record for Session {
    const TREE: &'static str = "sessions";
    const VERSION: u8 = 1;
}

/// A new session: the cookie's secret and the session.
#[derive(Debug, Clone)]
pub struct Login {
    /// The cookie's value; only its digest is stored.
    pub secret: String,
    /// The session.
    pub session: Session,
}

/// Starts a session for the user with these credentials; `None` when they are wrong or the
/// account is inactive.
///
/// # Errors
/// Randomness or storage failure.
pub fn login(
    records: &Records,
    username: &str,
    password: &str,
    now_ns: i64,
) -> Result<Option<Login>, DomainError> {
    let Some(u) = user::authenticate(records, username, password)? else {
        return Ok(None);
    };
    let secret = random_hex(SECRET_HEX / 2)?;
    let session = Session {
        username: u.username,
        csrf_token: random_hex(SECRET_HEX / 2)?,
        created_ns: now_ns,
        used_ns: now_ns,
    };
    records.put(&token_digest(&secret), &session)?;
    Ok(Some(Login { secret, session }))
}

/// The principal and session behind a cookie, if the session is current and its user active.
/// Expired sessions are removed when seen.
///
/// # Errors
/// Storage failure.
pub fn resolve(
    records: &Records,
    secret: &str,
    now_ns: i64,
) -> Result<Option<(Principal, Session)>, DomainError> {
    if secret.len() != SECRET_HEX || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let key = token_digest(secret);
    let Some(mut s) = records.get::<Session>(&key)? else {
        return Ok(None);
    };
    if now_ns.saturating_sub(s.used_ns) > IDLE || now_ns.saturating_sub(s.created_ns) > LIFETIME {
        records.remove::<Session>(&key)?;
        return Ok(None);
    }
    let Some(u) = user::get(records, &s.username)? else {
        records.remove::<Session>(&key)?;
        return Ok(None);
    };
    if !u.is_active {
        return Ok(None);
    }
    if now_ns.saturating_sub(s.used_ns) > TOUCH_EVERY {
        s.used_ns = now_ns;
        records.put(&key, &s)?;
    }
    Ok(Some((Principal::of(records, &u)?, s)))
}

/// Whether `given` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(s: &Session, given: &str) -> bool {
    secrets_equal(&s.csrf_token, given)
}

/// Ends the session behind a cookie (nothing happens for an unknown one).
///
/// # Errors
/// Storage failure.
pub fn logout(records: &Records, secret: &str) -> Result<(), DomainError> {
    Ok(records.remove::<Session>(&token_digest(secret))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn records() -> Records {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        user::create(&r, "ops", "password-123", false, 0).unwrap();
        r
    }

    #[test]
    fn a_login_resolves_to_its_user_until_logout() {
        let r = records();
        assert!(login(&r, "ops", "wrong-password", 0).unwrap().is_none());
        assert!(login(&r, "nobody", "password-123", 0).unwrap().is_none());
        let l = login(&r, "ops", "password-123", 5).unwrap().unwrap();
        assert_eq!(l.secret.len(), SECRET_HEX);
        assert_eq!(l.session.csrf_token.len(), SECRET_HEX);
        assert_ne!(l.secret, l.session.csrf_token);
        let (p, s) = resolve(&r, &l.secret, 10).unwrap().unwrap();
        assert_eq!(p.username, "ops");
        assert!(csrf_matches(&s, &l.session.csrf_token));
        assert!(!csrf_matches(&s, &l.secret));
        assert!(!csrf_matches(&s, ""));
        // The stored key is the digest: the secret itself is nowhere in the record.
        assert!(r.get::<Session>(l.secret.as_bytes()).unwrap().is_none());
        logout(&r, &l.secret).unwrap();
        assert!(resolve(&r, &l.secret, 11).unwrap().is_none());
    }

    #[test]
    fn sessions_expire_when_idle_or_old_and_follow_their_user() {
        let r = records();
        let l = login(&r, "ops", "password-123", 0).unwrap().unwrap();
        // Used every day: alive until the absolute lifetime.
        let day = 24 * 3600 * 1_000_000_000_i64;
        for d in 1..30 {
            assert!(
                resolve(&r, &l.secret, d * day).unwrap().is_some(),
                "day {d}"
            );
        }
        assert!(resolve(&r, &l.secret, LIFETIME + 1).unwrap().is_none());
        let l = login(&r, "ops", "password-123", 0).unwrap().unwrap();
        assert!(resolve(&r, &l.secret, IDLE + 1).unwrap().is_none());
        // A deactivated user's session stops working; a deleted user's is gone.
        let l = login(&r, "ops", "password-123", 0).unwrap().unwrap();
        let mut u = user::get(&r, "ops").unwrap().unwrap();
        u.is_active = false;
        r.put(u.username.as_bytes(), &u).unwrap();
        assert!(resolve(&r, &l.secret, 1).unwrap().is_none());
        user::remove(&r, "ops").unwrap();
        assert!(resolve(&r, &l.secret, 2).unwrap().is_none());
    }

    #[test]
    fn malformed_cookies_are_nobody() {
        let r = records();
        for bad in [
            "",
            "zz",
            &"g".repeat(SECRET_HEX),
            &"a".repeat(SECRET_HEX + 1),
        ] {
            assert!(resolve(&r, bad, 0).unwrap().is_none());
        }
    }
}
