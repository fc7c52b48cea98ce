//! Organizations: the tenants. Every device, location and metric belongs to exactly one, and a
//! user sees only the organizations they are a member of (superusers see all).
//!
//! Owns: the organization record, its validation and its registration shared secret.

use super::error::DomainError;
use super::id::{Id, random_hex};
use crate::storage::{Record, Records};

/// One tenant.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Organization {
    /// Primary key.
    pub id: Id,
    /// Display name, unique.
    pub name: String,
    /// URL-safe short name, unique.
    pub slug: String,
    /// An inactive organization's devices are refused by the device endpoints.
    pub is_active: bool,
    /// Free text.
    pub description: String,
    /// Contact address.
    pub email: String,
    /// Web site.
    pub url: String,
    /// Secret devices present to register themselves (issue: controller endpoints).
    pub shared_secret: String,
    /// Whether devices may register themselves with the shared secret.
    pub registration_enabled: bool,
    /// Creation and last change, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Organization {
    const TREE: &'static str = "organizations";
    const VERSION: u8 = 1;
}

/// What an operator may set on an organization; `None` keeps the current value (or the
/// default on creation).
#[derive(Debug, Clone, Default)]
pub struct OrganizationInput {
    /// See [`Organization::name`].
    pub name: Option<String>,
    /// See [`Organization::slug`]; derived from the name when absent on creation.
    pub slug: Option<String>,
    /// See [`Organization::is_active`].
    pub is_active: Option<bool>,
    /// See [`Organization::description`].
    pub description: Option<String>,
    /// See [`Organization::email`].
    pub email: Option<String>,
    /// See [`Organization::url`].
    pub url: Option<String>,
    /// See [`Organization::shared_secret`]; generated when absent on creation.
    pub shared_secret: Option<String>,
    /// See [`Organization::registration_enabled`].
    pub registration_enabled: Option<bool>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A slug as Django's `slugify` makes one: ASCII letters, digits, `_` and `-`, lower case,
/// whitespace runs become one `-`.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else if c.is_whitespace() {
            pending_dash = true;
        }
    }
    out
}

fn check(org: &Organization, others: &[Organization]) -> Result<(), DomainError> {
    if org.name.trim().is_empty() {
        return Err(invalid("name", "This field may not be blank."));
    }
    if org.name.chars().count() > 64 {
        return Err(invalid(
            "name",
            "Ensure this field has no more than 64 characters.",
        ));
    }
    if org.slug.is_empty()
        || org.slug.len() > 64
        || !org
            .slug
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err(invalid(
            "slug",
            "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, underscores or hyphens.",
        ));
    }
    if org.shared_secret.len() < 8
        || org.shared_secret.len() > 64
        || !org.shared_secret.bytes().all(|c| c.is_ascii_graphic())
    {
        return Err(invalid(
            "shared_secret",
            "Must have 8 to 64 printable ASCII characters.",
        ));
    }
    for o in others.iter().filter(|o| o.id != org.id) {
        if o.name == org.name {
            return Err(invalid(
                "name",
                "organization with this name already exists.",
            ));
        }
        if o.slug == org.slug {
            return Err(invalid(
                "slug",
                "organization with this slug already exists.",
            ));
        }
    }
    Ok(())
}

fn apply(org: &mut Organization, input: OrganizationInput) {
    let OrganizationInput {
        name,
        slug,
        is_active,
        description,
        email,
        url,
        shared_secret,
        registration_enabled,
    } = input;
    if let Some(v) = name {
        org.name = v.trim().to_owned();
    }
    if let Some(v) = slug {
        org.slug = v;
    }
    if let Some(v) = is_active {
        org.is_active = v;
    }
    if let Some(v) = description {
        org.description = v;
    }
    if let Some(v) = email {
        org.email = v;
    }
    if let Some(v) = url {
        org.url = v;
    }
    if let Some(v) = shared_secret {
        org.shared_secret = v;
    }
    if let Some(v) = registration_enabled {
        org.registration_enabled = v;
    }
}

/// Creates an organization.
///
/// # Errors
/// Invalid or duplicate values, randomness or storage failure.
pub fn create(
    records: &Records,
    input: OrganizationInput,
    now_ns: i64,
) -> Result<Organization, DomainError> {
    let name = input.name.clone().unwrap_or_default();
    let mut org = Organization {
        id: Id::random()?,
        slug: slugify(&name),
        name,
        is_active: true,
        description: String::new(),
        email: String::new(),
        url: String::new(),
        shared_secret: random_hex(16)?,
        registration_enabled: true,
        created_ns: now_ns,
        modified_ns: now_ns,
    };
    apply(&mut org, input);
    check(&org, &list(records)?)?;
    records.put(&org.id.0, &org)?;
    Ok(org)
}

/// Changes an organization; `None` when it does not exist.
///
/// # Errors
/// Invalid or duplicate values, or storage failure.
pub fn update(
    records: &Records,
    id: Id,
    input: OrganizationInput,
    now_ns: i64,
) -> Result<Option<Organization>, DomainError> {
    let Some(mut org) = get(records, id)? else {
        return Ok(None);
    };
    apply(&mut org, input);
    org.modified_ns = now_ns;
    check(&org, &list(records)?)?;
    records.put(&org.id.0, &org)?;
    Ok(Some(org))
}

/// The organization with this id.
///
/// # Errors
/// Storage failure.
pub fn get(records: &Records, id: Id) -> Result<Option<Organization>, DomainError> {
    Ok(records.get::<Organization>(&id.0)?)
}

/// Every organization, by name.
///
/// # Errors
/// Storage failure.
pub fn list(records: &Records) -> Result<Vec<Organization>, DomainError> {
    let mut v: Vec<Organization> = records
        .list::<Organization>()?
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

/// Removes an organization record (the caller removes what belongs to it first).
///
/// # Errors
/// Storage failure.
pub fn remove(records: &Records, id: Id) -> Result<(), DomainError> {
    Ok(records.remove::<Organization>(&id.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn input(name: &str) -> OrganizationInput {
        OrganizationInput {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn organizations_get_a_slug_and_a_secret_and_stay_unique() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let a = create(&r, input("ACME Wireless  Co."), 1).unwrap();
        assert_eq!(a.slug, "acme-wireless-co");
        assert_eq!(a.shared_secret.len(), 32);
        assert!(a.is_active && a.registration_enabled);
        assert_eq!(get(&r, a.id).unwrap(), Some(a.clone()));
        let dup = create(&r, input("ACME Wireless  Co."), 2).unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{dup}");
        let blank = create(&r, input("  "), 2).unwrap_err();
        assert!(blank.to_string().contains("blank"), "{blank}");
        let short = create(
            &r,
            OrganizationInput {
                shared_secret: Some("short".into()),
                ..input("B")
            },
            2,
        )
        .unwrap_err();
        assert!(short.to_string().contains("shared_secret"), "{short}");
        let b = create(&r, input("B"), 2).unwrap();
        let renamed = update(
            &r,
            b.id,
            OrganizationInput {
                is_active: Some(false),
                ..Default::default()
            },
            3,
        )
        .unwrap()
        .unwrap();
        assert!(!renamed.is_active);
        assert_eq!(renamed.modified_ns, 3);
        assert_eq!(list(&r).unwrap().len(), 2);
        remove(&r, a.id).unwrap();
        assert_eq!(list(&r).unwrap().len(), 1);
        assert!(update(&r, a.id, input("x"), 4).unwrap().is_none());
    }

    #[test]
    fn slugify_follows_django() {
        assert_eq!(slugify("Sync test"), "sync-test");
        assert_eq!(slugify("  Café  Wi-Fi_2 "), "caf-wi-fi_2");
        assert_eq!(slugify("a\t\nb"), "a-b");
    }
}
