//! Who may do what: organization memberships with roles, API tokens, and the [`Principal`]
//! every operator request acts as.
//!
//! Owns: the rules "superusers see everything; org admins manage their organizations' objects;
//! org viewers only read them; nobody sees another organization's objects". Handlers ask the
//! principal and answer 404 for objects outside its organizations, so existence does not leak.

use super::error::DomainError;
use super::id::{Id, random_hex, token_digest};
use super::user::{self, User};
use crate::storage::{Record, Records};

/// A user's role in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Role {
    /// Reads and changes the organization's objects.
    Admin,
    /// Reads them.
    Viewer,
}

/// A user's membership of one organization.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Membership {
    /// The member.
    pub username: String,
    /// The organization.
    pub organization: Id,
    /// What the member may do there.
    pub role: Role,
}

impl Record for Membership {
    const TREE: &'static str = "memberships";
    const VERSION: u8 = 1;
}

fn membership_key(username: &str, org: Id) -> Vec<u8> {
    let mut k = username.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&org.0);
    k
}

/// Adds or changes a membership.
///
/// # Errors
/// Storage failure.
pub fn set_membership(
    records: &Records,
    username: &str,
    org: Id,
    role: Role,
) -> Result<(), DomainError> {
    let m = Membership {
        username: username.to_owned(),
        organization: org,
        role,
    };
    Ok(records.put(&membership_key(username, org), &m)?)
}

/// Removes a membership.
///
/// # Errors
/// Storage failure.
pub fn remove_membership(records: &Records, username: &str, org: Id) -> Result<(), DomainError> {
    Ok(records.remove::<Membership>(&membership_key(username, org))?)
}

/// The memberships of a user.
///
/// # Errors
/// Storage failure.
pub fn memberships_of(records: &Records, username: &str) -> Result<Vec<(Id, Role)>, DomainError> {
    let mut prefix = username.as_bytes().to_vec();
    prefix.push(0);
    Ok(records
        .list_prefix::<Membership>(&prefix)?
        .into_iter()
        .map(|(_, m)| (m.organization, m.role))
        .collect())
}

/// Removes every token of a user (deleted or deactivated users' scripts stop working).
///
/// # Errors
/// Storage failure.
pub fn revoke_tokens_of(records: &Records, username: &str) -> Result<usize, DomainError> {
    let mut n = 0;
    for (k, t) in records.list::<ApiToken>()? {
        if t.username == username {
            records.remove::<ApiToken>(&k)?;
            n += 1;
        }
    }
    Ok(n)
}

/// An API token, stored under the digest of its text.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ApiToken {
    /// Whose token it is.
    pub username: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl Record for ApiToken {
    const TREE: &'static str = "api_tokens";
    const VERSION: u8 = 1;
}

/// Issues a new API token for the user (`POST /api/v1/users/token/`). Only its digest is
/// stored, so the text is shown this once; earlier tokens stay valid until revoked, so two
/// scripts asking for a token do not lock each other out.
///
/// # Errors
/// Randomness or storage failure.
pub fn issue_token(records: &Records, username: &str, now_ns: i64) -> Result<String, DomainError> {
    let token = random_hex(20)?;
    records.put(
        &token_digest(&token),
        &ApiToken {
            username: username.to_owned(),
            created_ns: now_ns,
        },
    )?;
    Ok(token)
}

/// Revokes one token.
///
/// # Errors
/// Storage failure.
pub fn revoke_token(records: &Records, token: &str) -> Result<(), DomainError> {
    Ok(records.remove::<ApiToken>(&token_digest(token))?)
}

/// A token as its owner sees it later: an id (the start of its digest; the text itself is
/// not kept) and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Hex of the first 8 bytes of the token's digest.
    pub id: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

fn token_id(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The user's API tokens, oldest first.
///
/// # Errors
/// Storage failure.
pub fn tokens_of(records: &Records, username: &str) -> Result<Vec<TokenInfo>, DomainError> {
    let mut v: Vec<TokenInfo> = records
        .list::<ApiToken>()?
        .into_iter()
        .filter(|(_, t)| t.username == username)
        .map(|(k, t)| TokenInfo {
            id: token_id(&k),
            created_ns: t.created_ns,
        })
        .collect();
    v.sort_by(|a, b| a.created_ns.cmp(&b.created_ns).then(a.id.cmp(&b.id)));
    Ok(v)
}

/// Revokes the user's token with this id; `NotFound` when the user has none such.
///
/// # Errors
/// Not found, storage failure.
pub fn revoke_token_by_id(records: &Records, username: &str, id: &str) -> Result<(), DomainError> {
    for (k, t) in records.list::<ApiToken>()? {
        if t.username == username && token_id(&k) == id {
            return Ok(records.remove::<ApiToken>(&k)?);
        }
    }
    Err(DomainError::NotFound)
}

/// Who is acting: a user with their organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Login name.
    pub username: String,
    /// Sees and manages everything.
    pub is_superuser: bool,
    /// Organizations and roles (empty for superusers, who need none).
    pub memberships: Vec<(Id, Role)>,
}

impl Principal {
    /// A principal for an authenticated user.
    ///
    /// # Errors
    /// Storage failure.
    pub fn of(records: &Records, user: &User) -> Result<Principal, DomainError> {
        let memberships = memberships_of(records, &user.username)?;
        Ok(Principal {
            username: user.username.clone(),
            is_superuser: user.is_superuser,
            memberships,
        })
    }

    /// Whether the principal may read objects of `org`.
    pub fn can_view(&self, org: Id) -> bool {
        self.is_superuser || self.memberships.iter().any(|(o, _)| *o == org)
    }

    /// Whether the principal may change objects of `org`.
    pub fn can_manage(&self, org: Id) -> bool {
        self.is_superuser
            || self
                .memberships
                .iter()
                .any(|(o, r)| *o == org && *r == Role::Admin)
    }

    /// The organizations the principal may read; `None` means all.
    pub fn visible_orgs(&self) -> Option<Vec<Id>> {
        (!self.is_superuser).then(|| self.memberships.iter().map(|(o, _)| *o).collect())
    }
}

/// The principal holding this API token, if it is valid and its user active.
///
/// # Errors
/// Storage failure.
pub fn principal_for_token(
    records: &Records,
    token: &str,
) -> Result<Option<Principal>, DomainError> {
    if token.len() != 40 {
        return Ok(None);
    }
    let Some(t) = records.get::<ApiToken>(&token_digest(token))? else {
        return Ok(None);
    };
    let Some(u) = user::get(records, &t.username)? else {
        return Ok(None);
    };
    if !u.is_active {
        return Ok(None);
    }
    Principal::of(records, &u).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn tokens_authenticate_their_user_until_revoked() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        user::create(&r, "ops", "password-1", false, 0).unwrap();
        let org = Id::random().unwrap();
        let other = Id::random().unwrap();
        set_membership(&r, "ops", org, Role::Viewer).unwrap();
        let t = issue_token(&r, "ops", 0).unwrap();
        assert_eq!(t.len(), 40);
        let p = principal_for_token(&r, &t).unwrap().unwrap();
        assert_eq!(p.username, "ops");
        assert!(p.can_view(org) && !p.can_manage(org) && !p.can_view(other));
        assert_eq!(p.visible_orgs(), Some(vec![org]));
        set_membership(&r, "ops", org, Role::Admin).unwrap();
        let p = principal_for_token(&r, &t).unwrap().unwrap();
        assert!(p.can_manage(org));
        let t2 = issue_token(&r, "ops", 2).unwrap();
        let listed = tokens_of(&r, "ops").unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].created_ns, 2);
        assert!(tokens_of(&r, "nobody").unwrap().is_empty());
        assert!(matches!(
            revoke_token_by_id(&r, "nobody", &listed[1].id),
            Err(DomainError::NotFound)
        ));
        assert_ne!(t, t2);
        assert!(principal_for_token(&r, &t).unwrap().is_some());
        revoke_token(&r, &t).unwrap();
        assert!(principal_for_token(&r, &t).unwrap().is_none());
        assert!(principal_for_token(&r, &t2).unwrap().is_some());
        assert!(principal_for_token(&r, "short").unwrap().is_none());
        remove_membership(&r, "ops", org).unwrap();
        let p = principal_for_token(&r, &t2).unwrap().unwrap();
        assert!(!p.can_view(org));
        let only = tokens_of(&r, "ops").unwrap();
        assert_eq!(only.len(), 1);
        revoke_token_by_id(&r, "ops", &only[0].id).unwrap();
        assert!(principal_for_token(&r, &t2).unwrap().is_none());
    }
}
