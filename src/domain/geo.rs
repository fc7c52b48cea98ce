//! Locations and floor plans: where devices are, outdoors on the map or indoors on a floor.
//!
//! Owns: the location record (outdoor/indoor, mobile flag, address, point), the floor-plan
//! record (floor number, image kept in its own tree so listing plans does not read images), a
//! device's place (location, floor plan, indoor `x,y`), and great-circle distances for the
//! nearby-devices list.

use super::error::DomainError;
use super::id::Id;
use crate::storage::{Record, Records};

/// A place.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Location {
    /// Primary key.
    pub id: Id,
    /// Owner.
    pub organization: Id,
    /// Display name.
    pub name: String,
    /// `outdoor` or `indoor`.
    pub kind: LocationKind,
    /// A vehicle or otherwise moving place.
    pub is_mobile: bool,
    /// Postal address.
    pub address: String,
    /// Latitude and longitude, degrees; `None` until placed.
    pub point: Option<(f64, f64)>,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for Location {
    const TREE: &'static str = "locations";
    const VERSION: u8 = 1;
}

/// Outdoor or indoor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum LocationKind {
    /// On the map.
    Outdoor,
    /// In a building, with floor plans.
    Indoor,
}

impl LocationKind {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Outdoor => "outdoor",
            LocationKind::Indoor => "indoor",
        }
    }

    /// Parses the API's name.
    pub fn parse(s: &str) -> Option<LocationKind> {
        match s {
            "outdoor" => Some(LocationKind::Outdoor),
            "indoor" => Some(LocationKind::Indoor),
            _ => None,
        }
    }
}

/// One floor of an indoor location.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct FloorPlan {
    /// Primary key.
    pub id: Id,
    /// The indoor location.
    pub location: Id,
    /// Owner (the location's).
    pub organization: Id,
    /// Floor number (negative below ground).
    pub floor: i32,
    /// MIME type of the image, when one was uploaded.
    pub image_type: Option<String>,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Last change, ns since the epoch.
    pub modified_ns: i64,
}

impl Record for FloorPlan {
    const TREE: &'static str = "floorplans";
    const VERSION: u8 = 1;
}

/// A floor plan's image bytes.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
struct FloorPlanImage(Vec<u8>);

impl Record for FloorPlanImage {
    const TREE: &'static str = "floorplan_images";
    const VERSION: u8 = 1;
}

/// Largest floor-plan image accepted.
pub const MAX_IMAGE_BYTES: usize = 8 << 20;

/// Image types accepted, by MIME type and their leading bytes.
const IMAGE_TYPES: &[(&str, &[u8])] = &[
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF8"),
    ("image/webp", b"RIFF"),
];

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// What an operator may set on a location; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct LocationInput {
    /// See [`Location::organization`] (required on creation).
    pub organization: Option<Id>,
    /// See [`Location::name`] (required on creation).
    pub name: Option<String>,
    /// See [`Location::kind`].
    pub kind: Option<LocationKind>,
    /// See [`Location::is_mobile`].
    pub is_mobile: Option<bool>,
    /// See [`Location::address`].
    pub address: Option<String>,
    /// See [`Location::point`]; `Some(None)` clears it.
    pub point: Option<Option<(f64, f64)>>,
}

fn apply(l: &mut Location, input: LocationInput) -> Result<(), DomainError> {
    if let Some(o) = input.organization {
        l.organization = o;
    }
    if let Some(n) = input.name {
        let n = n.trim().to_owned();
        if n.is_empty() || n.chars().count() > 75 {
            return Err(invalid("name", "Must have 1 to 75 characters."));
        }
        l.name = n;
    }
    if let Some(k) = input.kind {
        l.kind = k;
    }
    if let Some(m) = input.is_mobile {
        l.is_mobile = m;
    }
    if let Some(a) = input.address {
        if a.chars().count() > 256 {
            return Err(invalid(
                "address",
                "Ensure this field has no more than 256 characters.",
            ));
        }
        l.address = a;
    }
    if let Some(p) = input.point {
        if let Some((lat, lng)) = p
            && !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng))
        {
            return Err(invalid(
                "geometry",
                "Latitude must be within ±90 and longitude within ±180.",
            ));
        }
        l.point = p;
    }
    Ok(())
}

/// Creates a location (the caller checks the organization and the permission).
///
/// # Errors
/// Missing or invalid values, randomness or storage failure.
pub fn create_location(
    records: &Records,
    input: LocationInput,
    now_ns: i64,
) -> Result<Location, DomainError> {
    let organization = input
        .organization
        .ok_or_else(|| invalid("organization", "This field is required."))?;
    if input.name.is_none() {
        return Err(invalid("name", "This field is required."));
    }
    let mut l = Location {
        id: Id::random()?,
        organization,
        name: String::new(),
        kind: LocationKind::Outdoor,
        is_mobile: false,
        address: String::new(),
        point: None,
        created_ns: now_ns,
        modified_ns: now_ns,
    };
    apply(&mut l, input)?;
    records.put(&l.id.0, &l)?;
    Ok(l)
}

/// Changes a location; `None` when it does not exist.
///
/// # Errors
/// Invalid values or storage failure.
pub fn update_location(
    records: &Records,
    id: Id,
    input: LocationInput,
    now_ns: i64,
) -> Result<Option<Location>, DomainError> {
    let Some(mut l) = location(records, id)? else {
        return Ok(None);
    };
    apply(&mut l, input)?;
    l.modified_ns = now_ns;
    records.put(&l.id.0, &l)?;
    Ok(Some(l))
}

/// The location with this id.
///
/// # Errors
/// Storage failure.
pub fn location(records: &Records, id: Id) -> Result<Option<Location>, DomainError> {
    Ok(records.get::<Location>(&id.0)?)
}

/// Every location, newest first.
///
/// # Errors
/// Storage failure.
pub fn locations(records: &Records) -> Result<Vec<Location>, DomainError> {
    let mut v: Vec<Location> = records
        .list::<Location>()?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    v.sort_by(|a, b| b.created_ns.cmp(&a.created_ns).then(a.id.cmp(&b.id)));
    Ok(v)
}

/// Removes a location with its floor plans (the caller detaches devices first).
///
/// # Errors
/// Storage failure.
pub fn remove_location(records: &Records, id: Id) -> Result<(), DomainError> {
    for f in floorplans(records)?
        .into_iter()
        .filter(|f| f.location == id)
    {
        remove_floorplan(records, f.id)?;
    }
    Ok(records.remove::<Location>(&id.0)?)
}

/// Creates a floor plan on an indoor location.
///
/// # Errors
/// Not an indoor location, a floor already planned, randomness or storage failure.
pub fn create_floorplan(
    records: &Records,
    location_id: Id,
    floor: i32,
    now_ns: i64,
) -> Result<FloorPlan, DomainError> {
    let loc = location(records, location_id)?
        .ok_or_else(|| invalid("location", "Invalid pk - object does not exist."))?;
    if loc.kind != LocationKind::Indoor {
        return Err(invalid(
            "location",
            "floorplans can only be associated to locations of type \"indoor\"",
        ));
    }
    if floorplans(records)?
        .iter()
        .any(|f| f.location == location_id && f.floor == floor)
    {
        return Err(invalid(
            "floor",
            "Floor plan with this Location and Floor already exists.",
        ));
    }
    let f = FloorPlan {
        id: Id::random()?,
        location: location_id,
        organization: loc.organization,
        floor,
        image_type: None,
        created_ns: now_ns,
        modified_ns: now_ns,
    };
    records.put(&f.id.0, &f)?;
    Ok(f)
}

/// The floor plan with this id.
///
/// # Errors
/// Storage failure.
pub fn floorplan(records: &Records, id: Id) -> Result<Option<FloorPlan>, DomainError> {
    Ok(records.get::<FloorPlan>(&id.0)?)
}

/// Every floor plan, by location then floor.
///
/// # Errors
/// Storage failure.
pub fn floorplans(records: &Records) -> Result<Vec<FloorPlan>, DomainError> {
    let mut v: Vec<FloorPlan> = records
        .list::<FloorPlan>()?
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    v.sort_by(|a, b| a.location.cmp(&b.location).then(a.floor.cmp(&b.floor)));
    Ok(v)
}

/// Stores a floor plan's image; the type is recognised from its first bytes.
///
/// # Errors
/// Unknown floor plan, not an image we accept, too large, storage failure.
pub fn set_floorplan_image(
    records: &Records,
    id: Id,
    bytes: &[u8],
    now_ns: i64,
) -> Result<FloorPlan, DomainError> {
    let mut f = floorplan(records, id)?.ok_or(DomainError::NotFound)?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(invalid(
            "image",
            format!("The image is larger than {MAX_IMAGE_BYTES} bytes."),
        ));
    }
    // WebP is a RIFF container like WAV and AVI: its form type says which.
    let webp = bytes.len() >= 12 && &bytes[8..12] == b"WEBP";
    let Some((mime, _)) = IMAGE_TYPES
        .iter()
        .find(|(mime, magic)| bytes.starts_with(magic) && (*mime != "image/webp" || webp))
    else {
        return Err(invalid(
            "image",
            "Upload a valid image (PNG, JPEG, GIF or WebP).",
        ));
    };
    records.put(&id.0, &FloorPlanImage(bytes.to_vec()))?;
    f.image_type = Some((*mime).to_owned());
    f.modified_ns = now_ns;
    records.put(&id.0, &f)?;
    Ok(f)
}

/// A floor plan's image bytes and type.
///
/// # Errors
/// Storage failure.
pub fn floorplan_image(
    records: &Records,
    f: &FloorPlan,
) -> Result<Option<(String, Vec<u8>)>, DomainError> {
    let Some(mime) = &f.image_type else {
        return Ok(None);
    };
    Ok(records
        .get::<FloorPlanImage>(&f.id.0)?
        .map(|FloorPlanImage(b)| (mime.clone(), b)))
}

/// Removes a floor plan and its image.
///
/// # Errors
/// Storage failure.
pub fn remove_floorplan(records: &Records, id: Id) -> Result<(), DomainError> {
    records.remove::<FloorPlanImage>(&id.0)?;
    Ok(records.remove::<FloorPlan>(&id.0)?)
}

/// Parses an indoor position `"x,y"` (numbers).
pub fn parse_indoor(s: &str) -> Option<(f64, f64)> {
    let (x, y) = s.split_once(',')?;
    let (x, y) = (x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?);
    (x.is_finite() && y.is_finite()).then_some((x, y))
}

/// Great-circle distance between two (lat, lng) points in metres (haversine, mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn locations_floorplans_and_images() {
        let s = Storage::in_memory(std::sync::Arc::new(crate::time::SystemClock));
        let r = s.records();
        let org = Id::random().unwrap();
        let out = create_location(
            &r,
            LocationInput {
                organization: Some(org),
                name: Some("Tower".into()),
                point: Some(Some((45.0, 9.0))),
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert!(create_floorplan(&r, out.id, 0, 2).is_err());
        let bad = create_location(
            &r,
            LocationInput {
                organization: Some(org),
                name: Some("x".into()),
                point: Some(Some((95.0, 9.0))),
                ..Default::default()
            },
            1,
        );
        assert!(bad.is_err());
        let hq = create_location(
            &r,
            LocationInput {
                organization: Some(org),
                name: Some("HQ".into()),
                kind: Some(LocationKind::Indoor),
                ..Default::default()
            },
            3,
        )
        .unwrap();
        let f1 = create_floorplan(&r, hq.id, 1, 4).unwrap();
        assert!(create_floorplan(&r, hq.id, 1, 4).is_err());
        assert_eq!(f1.organization, org);
        assert!(set_floorplan_image(&r, f1.id, b"not an image", 5).is_err());
        assert!(set_floorplan_image(&r, f1.id, b"RIFF\0\0\0\0WAVEfmt ", 5).is_err());
        assert!(set_floorplan_image(&r, f1.id, b"RIFF\0\0\0\0WEBPVP8 ", 5).is_ok());
        let png = b"\x89PNG\r\n\x1a\nrest-of-image";
        let f1 = set_floorplan_image(&r, f1.id, png, 5).unwrap();
        assert_eq!(
            floorplan_image(&r, &f1).unwrap(),
            Some(("image/png".to_owned(), png.to_vec()))
        );
        assert_eq!(locations(&r).unwrap()[0].name, "HQ");
        remove_location(&r, hq.id).unwrap();
        assert!(floorplans(&r).unwrap().is_empty());
        assert_eq!(floorplan_image(&r, &f1).unwrap(), None);
    }

    #[test]
    fn indoor_positions_and_distances() {
        assert_eq!(parse_indoor("12.5, -3"), Some((12.5, -3.0)));
        assert_eq!(parse_indoor("12.5"), None);
        assert_eq!(parse_indoor("a,b"), None);
        // Rome to Milan: about 477 km.
        let d = distance_m((41.9028, 12.4964), (45.4642, 9.19));
        assert!((476_000.0..479_000.0).contains(&d), "{d}");
        assert_eq!(distance_m((1.0, 1.0), (1.0, 1.0)), 0.0);
    }
}

/// A device's place, as the device-location API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePlace {
    /// The location.
    pub location: Option<Location>,
    /// The floor plan.
    pub floorplan: Option<FloorPlan>,
    /// Indoor position `x,y`.
    pub indoor: Option<String>,
}

impl super::Domain {
    /// The locations the principal may see, newest first.
    ///
    /// # Errors
    /// Storage failure.
    pub fn locations(&self, who: &super::access::Principal) -> Result<Vec<Location>, DomainError> {
        Ok(locations(&self.records)?
            .into_iter()
            .filter(|l| who.can_view(l.organization))
            .collect())
    }

    /// One location the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn location(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<Location, DomainError> {
        match location(&self.records, id)? {
            Some(l) if who.can_view(l.organization) => Ok(l),
            _ => Err(DomainError::NotFound),
        }
    }

    /// Creates a location in an organization the principal manages.
    ///
    /// # Errors
    /// Unknown organization, no permission, invalid values, storage failure.
    pub fn create_location(
        &self,
        who: &super::access::Principal,
        input: LocationInput,
    ) -> Result<Location, DomainError> {
        let org = input
            .organization
            .ok_or_else(|| invalid("organization", "This field is required."))?;
        self.check_org_for_write(who, org)?;
        create_location(&self.records, input, self.now_ns())
    }

    /// Changes a location the principal manages.
    ///
    /// # Errors
    /// Unknown, no permission, invalid values, storage failure.
    pub fn update_location(
        &self,
        who: &super::access::Principal,
        id: Id,
        input: LocationInput,
    ) -> Result<Location, DomainError> {
        let l = self.location(who, id)?;
        if !who.can_manage(l.organization) {
            return Err(DomainError::Forbidden);
        }
        if let Some(org) = input.organization
            && org != l.organization
        {
            return Err(invalid(
                "organization",
                "A location cannot move to another organization.",
            ));
        }
        update_location(&self.records, id, input, self.now_ns())?.ok_or(DomainError::NotFound)
    }

    /// Deletes a location, its floor plans, and the devices' references to them.
    ///
    /// # Errors
    /// Unknown, no permission, storage failure.
    pub fn delete_location(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<(), DomainError> {
        let l = self.location(who, id)?;
        if !who.can_manage(l.organization) {
            return Err(DomainError::Forbidden);
        }
        for mut d in super::device::list(&self.records)?
            .into_iter()
            .filter(|d| d.location == Some(id))
        {
            d.location = None;
            d.floorplan = None;
            d.indoor = None;
            super::device::save(&self.records, &d)?;
        }
        remove_location(&self.records, id)
    }

    /// The floor plans the principal may see.
    ///
    /// # Errors
    /// Storage failure.
    pub fn floorplans(
        &self,
        who: &super::access::Principal,
    ) -> Result<Vec<FloorPlan>, DomainError> {
        Ok(floorplans(&self.records)?
            .into_iter()
            .filter(|f| who.can_view(f.organization))
            .collect())
    }

    /// One floor plan the principal may see.
    ///
    /// # Errors
    /// Unknown or invisible (`NotFound`), storage failure.
    pub fn floorplan(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<FloorPlan, DomainError> {
        match floorplan(&self.records, id)? {
            Some(f) if who.can_view(f.organization) => Ok(f),
            _ => Err(DomainError::NotFound),
        }
    }

    /// Creates a floor plan on an indoor location the principal manages.
    ///
    /// # Errors
    /// Unknown or invisible location, no permission, invalid values, storage failure.
    pub fn create_floorplan(
        &self,
        who: &super::access::Principal,
        location_id: Id,
        floor: i32,
    ) -> Result<FloorPlan, DomainError> {
        let l = self.location(who, location_id).map_err(|_| {
            invalid(
                "location",
                format!("Invalid pk \"{location_id}\" - object does not exist."),
            )
        })?;
        if !who.can_manage(l.organization) {
            return Err(DomainError::Forbidden);
        }
        create_floorplan(&self.records, location_id, floor, self.now_ns())
    }

    /// Uploads a floor plan's image.
    ///
    /// # Errors
    /// Unknown, no permission, not an image, storage failure.
    pub fn set_floorplan_image(
        &self,
        who: &super::access::Principal,
        id: Id,
        bytes: &[u8],
    ) -> Result<FloorPlan, DomainError> {
        let f = self.floorplan(who, id)?;
        if !who.can_manage(f.organization) {
            return Err(DomainError::Forbidden);
        }
        set_floorplan_image(&self.records, id, bytes, self.now_ns())
    }

    /// A floor plan's image.
    ///
    /// # Errors
    /// Unknown or invisible, storage failure.
    pub fn floorplan_image(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<Option<(String, Vec<u8>)>, DomainError> {
        let f = self.floorplan(who, id)?;
        floorplan_image(&self.records, &f)
    }

    /// Deletes a floor plan and the devices' references to it.
    ///
    /// # Errors
    /// Unknown, no permission, storage failure.
    pub fn delete_floorplan(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<(), DomainError> {
        let f = self.floorplan(who, id)?;
        if !who.can_manage(f.organization) {
            return Err(DomainError::Forbidden);
        }
        for mut d in super::device::list(&self.records)?
            .into_iter()
            .filter(|d| d.floorplan == Some(id))
        {
            d.floorplan = None;
            d.indoor = None;
            super::device::save(&self.records, &d)?;
        }
        remove_floorplan(&self.records, id)
    }

    /// A device's place.
    ///
    /// # Errors
    /// Unknown or invisible device, storage failure.
    pub fn device_place(
        &self,
        who: &super::access::Principal,
        device: Id,
    ) -> Result<DevicePlace, DomainError> {
        let d = self.device(who, device)?;
        self.place_of(&d)
    }

    pub(super) fn place_of(&self, d: &super::device::Device) -> Result<DevicePlace, DomainError> {
        let location = match d.location {
            Some(l) => location(&self.records, l)?,
            None => None,
        };
        let floorplan = match d.floorplan {
            Some(f) => floorplan(&self.records, f)?,
            None => None,
        };
        Ok(DevicePlace {
            location,
            floorplan,
            indoor: d.indoor.clone(),
        })
    }

    /// Places a device (or removes it from any place with `location: None`). The location and
    /// floor plan must belong to the device's organization; a floor plan must be of the
    /// location; an indoor position needs a floor plan.
    ///
    /// # Errors
    /// Unknown device, no permission, inconsistent values, storage failure.
    pub fn set_device_place(
        &self,
        who: &super::access::Principal,
        device: Id,
        location_id: Option<Id>,
        floorplan_id: Option<Id>,
        indoor: Option<String>,
    ) -> Result<DevicePlace, DomainError> {
        let mut d = self.device(who, device)?;
        if !who.can_manage(d.organization) {
            return Err(DomainError::Forbidden);
        }
        let loc = match location_id {
            None => None,
            Some(l) => Some(
                location(&self.records, l)?
                    .filter(|l| l.organization == d.organization)
                    .ok_or_else(|| {
                        invalid(
                            "location",
                            format!("Invalid pk \"{l}\" - object does not exist."),
                        )
                    })?,
            ),
        };
        let fp = match (floorplan_id, &loc) {
            (None, _) => None,
            (Some(_), None) => return Err(invalid("floorplan", "A floor plan needs a location.")),
            (Some(f), Some(l)) => Some(
                floorplan(&self.records, f)?
                    .filter(|f| f.location == l.id)
                    .ok_or_else(|| {
                        invalid(
                            "floorplan",
                            format!("Invalid pk \"{f}\" - object does not exist."),
                        )
                    })?,
            ),
        };
        let indoor = indoor.filter(|s| !s.is_empty());
        if let Some(pos) = &indoor {
            if fp.is_none() {
                return Err(invalid("indoor", "An indoor position needs a floor plan."));
            }
            if parse_indoor(pos).is_none() {
                return Err(invalid("indoor", "Enter the position as \"x,y\" numbers."));
            }
        }
        d.location = loc.as_ref().map(|l| l.id);
        d.floorplan = fp.as_ref().map(|f| f.id);
        d.indoor = indoor;
        d.modified_ns = self.now_ns();
        super::device::save(&self.records, &d)?;
        self.place_of(&d)
    }
}

/// Device counts of one location by health status (the map's per-location mix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounts {
    /// Devices at the location.
    pub total: usize,
    /// `ok`.
    pub ok: usize,
    /// `problem`.
    pub problem: usize,
    /// `critical`.
    pub critical: usize,
    /// `unknown`.
    pub unknown: usize,
    /// `deactivated`.
    pub deactivated: usize,
}

impl super::Domain {
    /// Locations with at least one device the principal may see, newest first, with the
    /// status mix of their devices.
    ///
    /// # Errors
    /// Storage failure.
    pub fn map_locations(
        &self,
        who: &super::access::Principal,
    ) -> Result<Vec<(Location, StatusCounts)>, DomainError> {
        use super::device::HealthStatus as H;
        let mut counts: std::collections::HashMap<Id, StatusCounts> =
            std::collections::HashMap::new();
        for d in self.devices(who)? {
            let Some(l) = d.location else { continue };
            let c = counts.entry(l).or_default();
            c.total += 1;
            match d.status {
                H::Ok => c.ok += 1,
                H::Problem => c.problem += 1,
                H::Critical => c.critical += 1,
                H::Unknown => c.unknown += 1,
                H::Deactivated => c.deactivated += 1,
            }
        }
        Ok(self
            .locations(who)?
            .into_iter()
            .filter_map(|l| counts.get(&l.id).map(|c| (l.clone(), *c)))
            .collect())
    }

    /// The devices at a location the principal may see, by name.
    ///
    /// # Errors
    /// Unknown or invisible location, storage failure.
    pub fn location_devices(
        &self,
        who: &super::access::Principal,
        id: Id,
    ) -> Result<Vec<super::device::Device>, DomainError> {
        self.location(who, id)?;
        Ok(self
            .devices(who)?
            .into_iter()
            .filter(|d| d.location == Some(id))
            .collect())
    }

    /// The nearby-devices list of a device (spec §4.5), accessed by an operator (only their
    /// organizations' devices, the device itself must be visible) or with the device's key
    /// (its own organization's devices; a wrong key is `NotFound`).
    ///
    /// # Errors
    /// Unknown, invisible or unplaced device (`NotFound`), storage failure.
    pub fn nearby(
        &self,
        access: &super::ChartAccess,
        id: Id,
    ) -> Result<Vec<(super::device::Device, f64)>, DomainError> {
        match access {
            super::ChartAccess::Operator(p) => {
                let d = self.device(p, id)?;
                let orgs = p.visible_orgs();
                self.nearby_devices(&d, orgs.as_deref())
            }
            super::ChartAccess::DeviceKey(key) => {
                let d = super::device::get(&self.records, id)?
                    .filter(|d| super::id::secrets_equal(key, &d.key))
                    .ok_or(DomainError::NotFound)?;
                // A device sees its own organization's devices only: upstream lists every
                // organization's (spec §4.5), which would hand one tenant's device names, MACs,
                // addresses and snapshots to another's routers (docs/compatibility.md).
                let own = [d.organization];
                self.nearby_devices(&d, Some(&own))
            }
        }
    }

    /// Devices with a location, nearest first from `from`'s location, with their distance in
    /// metres; `organizations` limits the candidates (`None`: all).
    ///
    /// # Errors
    /// `from` has no placed location (`NotFound`), storage failure.
    pub fn nearby_devices(
        &self,
        from: &super::device::Device,
        organizations: Option<&[Id]>,
    ) -> Result<Vec<(super::device::Device, f64)>, DomainError> {
        let here = from
            .location
            .map(|l| location(&self.records, l))
            .transpose()?
            .flatten()
            .and_then(|l| l.point)
            .ok_or(DomainError::NotFound)?;
        let places: std::collections::HashMap<Id, (f64, f64)> = locations(&self.records)?
            .into_iter()
            .filter_map(|l| l.point.map(|p| (l.id, p)))
            .collect();
        let mut out: Vec<(super::device::Device, f64)> = super::device::list(&self.records)?
            .into_iter()
            .filter(|d| d.id != from.id)
            .filter(|d| organizations.is_none_or(|o| o.contains(&d.organization)))
            .filter_map(|d| {
                let p = *places.get(&d.location?)?;
                Some((d, distance_m(here, p)))
            })
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.name.cmp(&b.0.name)));
        Ok(out)
    }
}
