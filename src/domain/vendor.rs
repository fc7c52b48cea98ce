//! MAC address → vendor, offline, from the IEEE OUI registry as Debian's `ieee-data` package
//! ships it (`/usr/share/ieee-data/oui.txt`; `app` reads the file, this module parses it).
//!
//! Owns: the registry's text format and the lookup rule (the first three octets; an
//! unregistered prefix gives an empty name, as upstream stores it).

use std::collections::HashMap;

/// Where Debian's `ieee-data` installs the MA-L (OUI) registry.
pub const OUI_TXT: &str = "/usr/share/ieee-data/oui.txt";

/// The vendor table.
#[derive(Debug, Clone, Default)]
pub struct MacVendors {
    by_prefix: HashMap<[u8; 3], String>,
}

fn hex_byte(s: &str) -> Option<u8> {
    u8::from_str_radix(s, 16).ok()
}

impl MacVendors {
    /// Parses `oui.txt`: lines `XX-XX-XX   (hex)\t\tOrganization`; everything else is skipped.
    pub fn parse(text: &str) -> MacVendors {
        let mut by_prefix = HashMap::new();
        for line in text.lines() {
            let Some((prefix, rest)) = line.split_once("(hex)") else {
                continue;
            };
            let parts: Vec<&str> = prefix.trim().split('-').collect();
            let [a, b, c] = parts[..] else { continue };
            let (Some(a), Some(b), Some(c)) = (hex_byte(a), hex_byte(b), hex_byte(c)) else {
                continue;
            };
            by_prefix.insert([a, b, c], rest.trim().to_owned());
        }
        MacVendors { by_prefix }
    }

    /// Number of prefixes known.
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }

    /// The vendor of `mac` (any case, `:`/`-`/`.` separators); `Some("")` for a well-formed
    /// but unregistered or locally administered address, `None` for something that is not a
    /// MAC (a DHCPv6 IAID in a lease's `mac`).
    pub fn vendor(&self, mac: &str) -> Option<String> {
        let norm = super::device::normalize_mac(mac)?;
        let b: Vec<u8> = norm.split(':').take(3).filter_map(hex_byte).collect();
        let [a, b2, c] = b[..] else { return None };
        Some(self.by_prefix.get(&[a, b2, c]).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "OUI/MA-L                   Organization\n\
        company_id                 Organization\n\
        \n\
        00-22-72   (hex)\t\tAmerican Micro-Fuel Device Corp.\n\
        002272     (base 16)\t\tAmerican Micro-Fuel Device Corp.\n\
        \t\t\t\t2181 Buchanan Loop\n\
        \n\
        3C-22-FB   (hex)\t\tApple, Inc.\n\
        zz-22-FB   (hex)\t\tBroken\n";

    #[test]
    fn vendors_come_from_the_first_three_octets() {
        let v = MacVendors::parse(SAMPLE);
        assert_eq!(v.len(), 2);
        assert_eq!(
            v.vendor("3c:22:fb:7a:10:01").as_deref(),
            Some("Apple, Inc.")
        );
        assert_eq!(
            v.vendor("3C-22-FB-7A-10-01").as_deref(),
            Some("Apple, Inc.")
        );
        assert_eq!(
            v.vendor("00:22:72:00:00:01").as_deref(),
            Some("American Micro-Fuel Device Corp.")
        );
        assert_eq!(v.vendor("02:00:00:00:00:01").as_deref(), Some(""));
        assert_eq!(v.vendor("3045672"), None);
    }

    #[test]
    fn the_installed_registry_parses_when_present() {
        // Debian's ieee-data is a Recommends; CI installs it and says so. Elsewhere, without
        // it, the lookup is simply off.
        let required = std::env::var_os("CI_REQUIRE_IEEE_DATA").is_some();
        let text = std::fs::read_to_string(OUI_TXT);
        assert!(text.is_ok() || !required, "{OUI_TXT} missing");
        if let Ok(text) = text {
            let v = MacVendors::parse(&text);
            assert!(v.len() > 20_000, "{} prefixes", v.len());
            assert!(!v.vendor("3c:22:fb:00:00:00").unwrap_or_default().is_empty());
        }
    }
}
