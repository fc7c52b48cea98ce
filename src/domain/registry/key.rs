//! Timeseries key cleaning (spec §1.1 `clean_timeseries_data_key`): measurement names,
//! `ifname` tags and the dashboard's interface names.
//!
//! Django's `slugify` first folds text to ASCII (`NFKD` then dropping what is not ASCII), so
//! `é` becomes `e` and `ﬁ` becomes `fi`. `ascii_fold.json` is that folding for every
//! non-ASCII code point whose result survives slugify's filter, generated from Python's
//! `unicodedata` (Unicode 14.0) as runs `[first, last, replacement of first]` where a run
//! maps consecutive code points to consecutive letters. Anything not listed is dropped.

use std::sync::OnceLock;

const ASCII_FOLD_JSON: &str = include_str!("ascii_fold.json");

/// `(first, last, replacement)` runs, sorted by `first`.
fn fold_table() -> &'static [(u32, u32, String)] {
    static TABLE: OnceLock<Vec<(u32, u32, String)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // Embedded, generated data checked by a unit test; an unreadable table would only
        // mean non-ASCII letters are dropped instead of folded.
        serde_json::from_str(ASCII_FOLD_JSON).unwrap_or_default()
    })
}

/// The ASCII folding of one non-ASCII character (empty: dropped).
fn fold(c: char, out: &mut String) {
    let cp = u32::from(c);
    let table = fold_table();
    let idx = table.partition_point(|(first, _, _)| *first <= cp);
    let Some((first, last, repl)) = idx.checked_sub(1).and_then(|i| table.get(i)) else {
        return;
    };
    if cp > *last {
        return;
    }
    if first == last {
        out.push_str(repl);
    } else if let Some(c) = repl
        .chars()
        .next()
        .and_then(|r| char::from_u32(u32::from(r) + (cp - first)))
    {
        out.push(c);
    }
}

/// Python's `\s` on ASCII text.
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1f'
    )
}

/// Django's `slugify` (without `allow_unicode`): fold to ASCII, lower-case, drop everything but
/// letters, digits, `_`, `-` and blanks, collapse runs of `-`/blanks into one `-`, strip `-`
/// and `_` from both ends.
fn slugify(value: &str) -> String {
    let mut ascii = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            fold(c, &mut ascii);
        }
    }
    let mut out = String::with_capacity(ascii.len());
    let mut in_sep = false;
    for c in ascii.chars() {
        let c = c.to_ascii_lowercase();
        if c == '-' || is_space(c) {
            if !in_sep {
                out.push('-');
                in_sep = true;
            }
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_sep = false;
        }
        // Anything else is removed before the collapse, so it does not split a run of
        // separators: `a - ! - b` → `a-b`.
    }
    out.trim_matches(['-', '_']).to_owned()
}

/// Upstream `clean_timeseries_data_key`: `.` → `_`, Django slugify, then `-` → `_`.
/// `eth0.2` → `eth0_2`, `br-lan` → `br_lan`, `WAN` → `wan`, `Sync test` → `sync_test`.
pub fn clean_timeseries_data_key(key: &str) -> String {
    slugify(&key.replace('.', "_")).replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(clean_timeseries_data_key("eth0.2"), "eth0_2");
        assert_eq!(clean_timeseries_data_key("br-lan"), "br_lan");
        assert_eq!(clean_timeseries_data_key("WAN"), "wan");
        assert_eq!(clean_timeseries_data_key("Sync test"), "sync_test");
    }

    #[test]
    fn slugify_semantics() {
        // Punctuation dropped; blanks and dashes collapse; ends stripped of - and _.
        assert_eq!(
            clean_timeseries_data_key("  My   WiFi!! -- 5GHz "),
            "my_wifi_5ghz"
        );
        assert_eq!(clean_timeseries_data_key("a - ! - b"), "a_b");
        // `.` became `_` first, and `_` is a word character.
        assert_eq!(clean_timeseries_data_key("a - . - b"), "a___b");
        assert_eq!(clean_timeseries_data_key(".eth0."), "eth0");
        assert_eq!(clean_timeseries_data_key("_x_"), "x");
        assert_eq!(clean_timeseries_data_key("wlan0\tap"), "wlan0_ap");
        assert_eq!(clean_timeseries_data_key("a@b#c"), "abc");
        assert_eq!(clean_timeseries_data_key(""), "");
        assert_eq!(clean_timeseries_data_key("!!!"), "");
    }

    #[test]
    fn non_ascii_is_folded_or_dropped() {
        // NFKD folding, as Django does.
        assert_eq!(clean_timeseries_data_key("Café Wi-Fi"), "cafe_wi_fi");
        assert_eq!(clean_timeseries_data_key("Ｗａｎ"), "wan");
        assert_eq!(clean_timeseries_data_key("ﬁber"), "fiber");
        assert_eq!(clean_timeseries_data_key("x²"), "x2");
        // Non-breaking space is a blank after folding.
        assert_eq!(clean_timeseries_data_key("a\u{a0}b"), "a_b");
        // No decomposition: dropped.
        assert_eq!(clean_timeseries_data_key("Straße"), "strae");
        assert_eq!(clean_timeseries_data_key("łódź"), "odz");
        assert_eq!(clean_timeseries_data_key("网络eth0"), "eth0");
        // Combining marks are dropped, the base letter stays.
        assert_eq!(clean_timeseries_data_key("e\u{301}th0"), "eth0");
    }

    proptest::proptest! {
        /// Any text cleans to `[a-z0-9_]*` without `_` at either end, and cleaning is
        /// idempotent.
        #[test]
        fn cleaned_keys_are_clean(key in "\\PC{0,40}") {
            let k = clean_timeseries_data_key(&key);
            proptest::prop_assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            proptest::prop_assert!(!k.starts_with('_') && !k.ends_with('_'));
            proptest::prop_assert_eq!(clean_timeseries_data_key(&k), k.clone());
        }
    }

    #[test]
    fn fold_table_parses_and_is_sorted() {
        let parsed: Vec<(u32, u32, String)> = serde_json::from_str(ASCII_FOLD_JSON).unwrap();
        assert!(parsed.len() > 900);
        assert!(parsed.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(parsed.iter().all(|(a, b, r)| a <= b && !r.is_empty()));
        // Mathematical bold capitals form one run A–Z.
        let mut s = String::new();
        fold('\u{1d400}', &mut s);
        fold('\u{1d419}', &mut s);
        assert_eq!(s, "az");
    }
}
