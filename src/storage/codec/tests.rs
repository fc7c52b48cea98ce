//! Cross-codec tests: block round trips, hostile input, error coverage and
//! the size report quoted in the notes.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// Deterministic generator for the size report (no extra dependency).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish integer in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

const T0: i64 = 1_700_000_000_000_000_000;
const FIVE_MIN: i64 = 300_000_000_000;

fn fixed_interval(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| T0 + i * FIVE_MIN).collect()
}

fn jittered(n: usize, rng: &mut SplitMix) -> Vec<i64> {
    // Scrapes land within +-5 ms of the nominal instant.
    (0..n as i64)
        .map(|i| T0 + i * FIVE_MIN + rng.range(-5_000_000, 5_000_000))
        .collect()
}

fn second_precision(n: usize, rng: &mut SplitMix) -> Vec<i64> {
    // Whole seconds; one sample in ten lands a second early or late.
    (0..n as i64)
        .map(|i| {
            let wobble = if rng.next().is_multiple_of(10) {
                rng.range(-1, 1)
            } else {
                0
            };
            T0 + (i * 300 + wobble) * 1_000_000_000
        })
        .collect()
}

fn cpu_load(n: usize, rng: &mut SplitMix) -> Vec<f64> {
    // Random walk in 0.00..=4.00 with two decimals, like a load average.
    let mut centi: i64 = 150;
    (0..n)
        .map(|_| {
            centi = (centi + rng.range(-30, 30)).clamp(0, 400);
            centi as f64 / 100.0
        })
        .collect()
}

/// A random walk of integers in `lo..=hi` with steps up to `step`, scaled
/// to `digits` decimals the way a text parser reads them.
fn decimal_walk(
    n: usize,
    rng: &mut SplitMix,
    (lo, hi, step): (i64, i64, i64),
    digits: u8,
) -> Vec<f64> {
    let mut x = (lo + hi) / 2;
    (0..n)
        .map(|_| {
            x = (x + rng.range(-step, step)).clamp(lo, hi);
            format!("{x}e-{digits}").parse().unwrap()
        })
        .collect()
}

/// Uniform in `[0, 1)` at full precision.
fn unit(rng: &mut SplitMix) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

fn traffic_counter(n: usize, rng: &mut SplitMix) -> Vec<i64> {
    let mut x: i64 = 987_654_321_000;
    (0..n)
        .map(|_| {
            let v = x;
            x += rng.range(950, 1050);
            v
        })
        .collect()
}

fn mostly_true(n: usize, rng: &mut SplitMix) -> Vec<bool> {
    (0..n).map(|_| !rng.next().is_multiple_of(50)).collect()
}

fn statuses(n: usize, rng: &mut SplitMix) -> Vec<String> {
    const POOL: [&str; 5] = ["ok", "warning", "critical", "unknown", "maintenance"];
    (0..n)
        .map(|_| {
            // Mostly "ok", like a health check.
            let i = if rng.next() % 10 < 7 {
                0
            } else {
                (rng.next() % 5) as usize
            };
            POOL[i].to_string()
        })
        .collect()
}

/// Prints column sizes for the common shapes and checks the headline bounds.
///
/// Run with `cargo test size_report -- --nocapture` to see the table.
#[test]
fn size_report() {
    println!("| shape | points | codec | bytes | bytes/value |");
    println!("|---|---:|---|---:|---:|");
    let row = |shape: &str, n: usize, codec: String, bytes: usize| {
        println!(
            "| {shape} | {n} | {codec} | {bytes} | {:.3} |",
            bytes as f64 / n as f64
        );
    };
    for n in [288usize, 4096] {
        let mut rng = SplitMix(n as u64);

        let ts = fixed_interval(n);
        let (c, b) = encode_timestamps(&ts).unwrap();
        assert!(b.len() < 32);
        row("timestamps, fixed 300 s", n, format!("{c:?}"), b.len());

        let ts = second_precision(n, &mut rng);
        let (c, b) = encode_timestamps(&ts).unwrap();
        row(
            "timestamps, 300 s, 1 s precision, 10% +-1 s",
            n,
            format!("{c:?}"),
            b.len(),
        );

        let ts = jittered(n, &mut rng);
        let (c, b) = encode_timestamps(&ts).unwrap();
        row(
            "timestamps, 300 s +-5 ms jitter (ns)",
            n,
            format!("{c:?}"),
            b.len(),
        );

        let (c, b) = encode_floats(&vec![1.0; n]).unwrap();
        assert!(b.len() < 16);
        row("float, constant", n, format!("{c:?}"), b.len());

        let (c, b) = encode_floats(&cpu_load(n, &mut rng)).unwrap();
        assert_eq!(c, FloatCodec::Decimal);
        assert!(b.len() <= 2 * n, "cpu load uses {} bytes", b.len());
        row("float, cpu load 0-4 (2 dp)", n, format!("{c:?}"), b.len());

        let (c, b) = encode_integers(&traffic_counter(n, &mut rng)).unwrap();
        assert!(b.len() * 2 < n * 3, "counter uses {} bytes", b.len());
        row("integer, counter +1000+-50", n, format!("{c:?}"), b.len());

        let (c, b) = encode_booleans(&mostly_true(n, &mut rng)).unwrap();
        row("boolean, 98% true", n, format!("{c:?}"), b.len());

        let (c, b) = encode_strings(&statuses(n, &mut rng)).unwrap();
        row("string, 5 distinct statuses", n, format!("{c:?}"), b.len());

        // A whole block: header, both sections and checksum.
        let block = encode_block(
            &fixed_interval(n),
            &ColumnValues::Float(cpu_load(n, &mut rng)),
        )
        .unwrap();
        row(
            "block: fixed ts + cpu load",
            n,
            "-".to_string(),
            block.len(),
        );

        // Float gauges, from their own generator so the rows above keep
        // their data. (lo, hi, max step) are in units of the last digit.
        let mut rng = SplitMix(n as u64 ^ 0xF10A7);
        let gauges = [
            (
                "float, memory % 0-100, 2 dp, walk",
                (0, 10_000, 150),
                2,
                Some(2.0),
            ),
            (
                "float, rtt ms 0.2-40, 3 dp, walk",
                (200, 40_000, 1_500),
                3,
                Some(2.0),
            ),
            (
                "float, rtt ms 0.2-40, 3 dp, uniform",
                (200, 40_000, 40_000),
                3,
                None,
            ),
            (
                "float, temperature C, 1 dp, walk",
                (-300, 500, 5),
                1,
                Some(1.0),
            ),
        ];
        for (shape, walk, digits, max_per_value) in gauges {
            let v = decimal_walk(n, &mut rng, walk, digits);
            let (c, b) = encode_floats(&v).unwrap();
            assert_eq!(c, FloatCodec::Decimal, "{shape}");
            if let Some(max) = max_per_value {
                assert!(
                    b.len() as f64 <= max * n as f64,
                    "{shape}: {} bytes",
                    b.len()
                );
            }
            let back = decode_floats(c, &b, n as u32).unwrap();
            assert!(back.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()));
            let gorilla = encode_floats_with(FloatCodec::Gorilla, &v)
                .unwrap()
                .unwrap();
            row(
                &format!("{shape} (gorilla: {} B)", gorilla.len()),
                n,
                format!("{c:?}"),
                b.len(),
            );
        }

        // Full-precision data must not be taken for decimals.
        let mut x = 50.0;
        let walk: Vec<f64> = (0..n)
            .map(|_| {
                x += unit(&mut rng) - 0.5;
                x
            })
            .collect();
        let (c, b) = encode_floats(&walk).unwrap();
        assert_eq!(c, FloatCodec::Gorilla);
        row(
            "float, random walk, full precision",
            n,
            format!("{c:?}"),
            b.len(),
        );
        let noise: Vec<f64> = (0..n).map(|_| unit(&mut rng) * 100.0).collect();
        let (c, b) = encode_floats(&noise).unwrap();
        assert_ne!(c, FloatCodec::Decimal);
        assert_eq!(
            encode_floats_with(FloatCodec::Decimal, &noise).unwrap(),
            None
        );
        row("float, uniform noise 0-100", n, format!("{c:?}"), b.len());
    }
}

/// A block written before the decimal codec existed (Gorilla, tag 3)
/// still decodes; re-encoding it now picks Decimal (tag 4).
#[test]
fn blocks_from_before_decimal_still_decode() {
    const OLD: [u8; 115] = [
        0x01, 0x01, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4f, 0x00,
        0x00, 0x00, 0xae, 0x47, 0xe1, 0x7a, 0x14, 0xae, 0xf3, 0x3f, 0x33, 0xc0, 0x03, 0x3f, 0x8f,
        0x3c, 0xf2, 0xc8, 0x23, 0x4f, 0xff, 0x5f, 0x1e, 0x79, 0xe4, 0x91, 0x47, 0x9e, 0xfc, 0x7f,
        0x06, 0x78, 0xe0, 0xe7, 0x91, 0x47, 0x1e, 0x79, 0xe4, 0xe9, 0xff, 0xcb, 0x23, 0x8f, 0x3c,
        0xf2, 0xc8, 0x93, 0xff, 0xcf, 0x00, 0x0f, 0xfc, 0x3c, 0xf2, 0xc8, 0x23, 0x8f, 0x3c, 0xfd,
        0x7f, 0x79, 0xe4, 0x91, 0x47, 0x1e, 0x79, 0xf2, 0xff, 0x19, 0xe0, 0x81, 0x9f, 0x47, 0x1e,
        0x79, 0xe4, 0x91, 0xa7, 0xff, 0x07, 0xb4, 0x41, 0x93, 0xde,
    ];
    let ts: Vec<i64> = (0..12).map(|i| 1_000 + i * 10).collect();
    let values: Vec<f64> = [1.23, 1.73, 2.23]
        .iter()
        .copied()
        .cycle()
        .take(12)
        .collect();
    let values = ColumnValues::Float(values);
    assert_eq!(OLD[27], FloatCodec::Gorilla.to_code());
    assert_eq!(decode_block(&OLD).unwrap(), (ts.clone(), values.clone()));
    let new = encode_block(&ts, &values).unwrap();
    assert_eq!(new[27], FloatCodec::Decimal.to_code());
    assert!(new.len() < OLD.len());
    assert_eq!(decode_block(&new).unwrap(), (ts, values));
}

#[test]
fn large_blocks_round_trip_and_limit() {
    let mut rng = SplitMix(7);
    let n = MAX_BLOCK_POINTS as usize;
    let ts = jittered(n, &mut rng);
    let values = ColumnValues::Integer(traffic_counter(n, &mut rng));
    let bytes = encode_block(&ts, &values).unwrap();
    assert_eq!(decode_block(&bytes).unwrap(), (ts, values));

    let ts = fixed_interval(n + 1);
    let values = ColumnValues::Boolean(vec![true; n + 1]);
    assert_eq!(
        encode_block(&ts, &values),
        Err(CodecError::TooManyValues {
            count: n as u64 + 1,
            max: MAX_BLOCK_POINTS
        })
    );
}

#[test]
fn field_type_codes() {
    for t in [
        FieldType::Float,
        FieldType::Integer,
        FieldType::Unsigned,
        FieldType::Boolean,
        FieldType::String,
    ] {
        assert_eq!(FieldType::try_from_code(t.to_code()), Some(t));
    }
    assert_eq!(FieldType::try_from_code(0), None);
    assert_eq!(FieldType::try_from_code(6), None);
    let v = ColumnValues::Unsigned(vec![1, 2]);
    assert_eq!(
        (v.len(), v.is_empty(), v.field_type()),
        (2, false, FieldType::Unsigned)
    );
    assert!(ColumnValues::String(vec![]).is_empty());
}

/// Appends a valid checksum so a hand-made body reaches the parser.
fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// A valid block's bytes without the checksum, for re-framing.
fn body_of(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() - 4].to_vec()
}

/// Exhaustive on purpose: a new variant fails to compile here until the
/// coverage test below produces it.
fn variant_name(e: &CodecError) -> &'static str {
    match e {
        CodecError::Truncated { .. } => "Truncated",
        CodecError::TrailingBytes { .. } => "TrailingBytes",
        CodecError::UnsupportedVersion { .. } => "UnsupportedVersion",
        CodecError::ChecksumMismatch { .. } => "ChecksumMismatch",
        CodecError::UnknownFieldType { .. } => "UnknownFieldType",
        CodecError::UnknownCodec { .. } => "UnknownCodec",
        CodecError::TooManyValues { .. } => "TooManyValues",
        CodecError::LengthMismatch { .. } => "LengthMismatch",
        CodecError::StringTooLong { .. } => "StringTooLong",
        CodecError::TooManyStringBytes { .. } => "TooManyStringBytes",
        CodecError::InvalidUtf8 => "InvalidUtf8",
        CodecError::Invalid { .. } => "Invalid",
    }
}

#[test]
fn every_error_variant_is_produced() {
    let ts = fixed_interval(3);
    let good = encode_block(&ts, &ColumnValues::Integer(vec![1, 2, 3])).unwrap();
    let body = body_of(&good);
    let mut errors: Vec<CodecError> = Vec::new();

    errors.push(decode_block(&[]).unwrap_err());
    errors.push(decode_block(&[BLOCK_FORMAT_VERSION, 1, 2]).unwrap_err());
    errors.push(decode_block(&with_crc([body.clone(), vec![0]].concat())).unwrap_err());

    let mut b = good.clone();
    b[0] = 2;
    errors.push(decode_block(&b).unwrap_err());

    let mut b = good.clone();
    b[8] ^= 0x40;
    errors.push(decode_block(&b).unwrap_err());

    let mut b = body.clone();
    b[1] = 9;
    errors.push(decode_block(&with_crc(b)).unwrap_err());

    let mut b = body.clone();
    b[6] = 0;
    errors.push(decode_block(&with_crc(b)).unwrap_err());

    let mut b = body.clone();
    b[2..6].copy_from_slice(&(MAX_BLOCK_POINTS + 1).to_le_bytes());
    errors.push(decode_block(&with_crc(b)).unwrap_err());

    errors.push(encode_block(&ts, &ColumnValues::Integer(vec![1])).unwrap_err());
    errors.push(encode_strings(&["x".repeat(MAX_STRING_LEN as usize + 1)]).unwrap_err());
    let big = vec!["z".repeat(MAX_STRING_LEN as usize); 513];
    errors.push(encode_strings(&big).unwrap_err());
    errors.push(decode_strings(StringCodec::Plain, &[8, 1, 0xFF], 1).unwrap_err());
    errors.push(decode_booleans(BooleanCodec::Constant, &[7], 1).unwrap_err());

    let produced: BTreeSet<&str> = errors.iter().map(variant_name).collect();
    let expected: BTreeSet<&str> = [
        "Truncated",
        "TrailingBytes",
        "UnsupportedVersion",
        "ChecksumMismatch",
        "UnknownFieldType",
        "UnknownCodec",
        "TooManyValues",
        "LengthMismatch",
        "StringTooLong",
        "TooManyStringBytes",
        "InvalidUtf8",
        "Invalid",
    ]
    .into_iter()
    .collect();
    assert_eq!(produced, expected, "{errors:?}");

    // Messages are lowercase and carry no trailing period.
    for e in &errors {
        let msg = e.to_string();
        assert!(!msg.ends_with('.'), "{msg}");
        assert_eq!(
            msg.chars().next().map(|c| c.is_lowercase()),
            Some(true),
            "{msg}"
        );
    }
}

#[test]
fn count_disagreeing_with_sections_is_rejected() {
    // Irregular data, so neither section is a count-free constant encoding
    // (those take their length from the header alone, which the checksum
    // protects).
    let ts: Vec<i64> = (0..10).map(|i| i * i * 1000).collect();
    let values = ColumnValues::Float((0..10).map(|i| f64::from(i).sqrt()).collect());
    let good = encode_block(&ts, &values).unwrap();
    for count in [0u32, 9, 11] {
        let mut b = body_of(&good);
        b[2..6].copy_from_slice(&count.to_le_bytes());
        assert!(decode_block(&with_crc(b)).is_err(), "count {count}");
    }
}

fn column(n: usize) -> impl Strategy<Value = ColumnValues> {
    let floats = prop_oneof![
        any::<u64>().prop_map(move |b| vec![f64::from_bits(b); n]),
        proptest::collection::vec(0u32..=400, n)
            .prop_map(|v| v.into_iter().map(|c| f64::from(c) / 100.0).collect()),
        (
            0u8..=6,
            proptest::collection::vec(-1_000_000i64..1_000_000, n)
        )
            .prop_map(|(k, m)| m
                .into_iter()
                .map(|m| format!("{m}e-{k}").parse().unwrap())
                .collect()),
        proptest::collection::vec(any::<u64>().prop_map(f64::from_bits), n),
    ]
    .prop_map(ColumnValues::Float);
    let integers = prop_oneof![
        any::<i64>().prop_map(move |v| vec![v; n]),
        (any::<i64>(), proptest::collection::vec(900i64..1100, n)).prop_map(|(start, steps)| {
            let mut x = start;
            steps
                .into_iter()
                .map(|s| {
                    x = x.wrapping_add(s);
                    x
                })
                .collect()
        }),
        proptest::collection::vec(any::<i64>(), n),
    ]
    .prop_map(ColumnValues::Integer);
    let unsigned = prop_oneof![
        proptest::collection::vec(any::<u64>(), n),
        proptest::collection::vec(prop_oneof![Just(u64::MAX), Just(0u64), 0u64..10], n),
    ]
    .prop_map(ColumnValues::Unsigned);
    let booleans = prop_oneof![
        any::<bool>().prop_map(move |b| vec![b; n]),
        proptest::collection::vec(any::<bool>(), n),
    ]
    .prop_map(ColumnValues::Boolean);
    let strings = prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just("ok"), Just("warn"), Just("crit"), Just("")],
            n
        )
        .prop_map(|v| v.into_iter().map(String::from).collect()),
        proptest::collection::vec(
            proptest::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter),
            n
        ),
    ]
    .prop_map(ColumnValues::String);
    prop_oneof![floats, integers, unsigned, booleans, strings]
}

fn points() -> impl Strategy<Value = (Vec<i64>, ColumnValues)> {
    prop_oneof![Just(0usize), Just(1usize), 0usize..400].prop_flat_map(|n| {
        let ts = prop_oneof![
            (any::<i64>(), 1i64..1_000_000_000_000).prop_map(move |(s, d)| (0..n as i64)
                .map(|i| s.wrapping_add(d.wrapping_mul(i)))
                .collect::<Vec<_>>()),
            (
                1i64..1_000_000_000_000,
                proptest::collection::vec(0i64..1_000_000, n)
            )
                .prop_map(|(d, jitter)| jitter
                    .iter()
                    .enumerate()
                    .map(|(i, j)| T0 + i as i64 * d + j)
                    .collect()),
            proptest::collection::vec(any::<i64>(), n),
        ];
        (ts, column(n))
    })
}

fn assert_same(a: &ColumnValues, b: &ColumnValues) -> Result<(), TestCaseError> {
    // Floats compare by bits so NaN payloads count.
    match (a, b) {
        (ColumnValues::Float(x), ColumnValues::Float(y)) => {
            let xb: Vec<u64> = x.iter().map(|f| f.to_bits()).collect();
            let yb: Vec<u64> = y.iter().map(|f| f.to_bits()).collect();
            prop_assert_eq!(xb, yb);
        }
        _ => prop_assert_eq!(a, b),
    }
    Ok(())
}

proptest! {
    #[test]
    fn block_round_trip((ts, values) in points()) {
        let bytes = encode_block(&ts, &values).unwrap();
        let (ts2, values2) = decode_block(&bytes).unwrap();
        prop_assert_eq!(&ts2, &ts);
        assert_same(&values2, &values)?;
        let summary = block_summary(&bytes).unwrap();
        prop_assert_eq!(summary.count as usize, ts.len());
        prop_assert_eq!(summary.field_type, values.field_type());
        let range = ts.iter().min().zip(ts.iter().max()).map(|(&a, &b)| (a, b));
        prop_assert_eq!(summary.time_range, range);
    }

    #[test]
    fn block_never_larger_than_raw((ts, values) in points()) {
        let bytes = encode_block(&ts, &values).unwrap();
        let raw_values = match &values {
            ColumnValues::Float(v) => encode_floats_with(FloatCodec::Raw, v).unwrap(),
            ColumnValues::Integer(v) => encode_integers_with(IntegerCodec::Raw, v).unwrap(),
            ColumnValues::Unsigned(v) => encode_unsigned_with(IntegerCodec::Raw, v).unwrap(),
            ColumnValues::Boolean(v) => encode_booleans_with(BooleanCodec::Bitmap, v).unwrap(),
            ColumnValues::String(v) => encode_strings_with(StringCodec::Plain, v).unwrap(),
        }
        .unwrap();
        prop_assert!(bytes.len() <= 20 + ts.len() * 8 + raw_values.len());
    }

    #[test]
    fn truncated_or_flipped_blocks_fail(
        (ts, values) in points(),
        cut in any::<proptest::sample::Index>(),
        at in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let bytes = encode_block(&ts, &values).unwrap();
        let prefix = &bytes[..cut.index(bytes.len())];
        prop_assert!(decode_block(prefix).is_err());
        prop_assert!(block_summary(prefix).is_err());
        // CRC-32 detects every error confined to one byte.
        let mut flipped = bytes.clone();
        flipped[at.index(bytes.len())] ^= mask;
        prop_assert!(decode_block(&flipped).is_err());
        prop_assert!(block_summary(&flipped).is_err());
    }

    #[test]
    fn random_bytes_fail(bytes in proptest::collection::vec(any::<u8>(), 0..300), v1 in any::<bool>()) {
        let mut bytes = bytes;
        if v1 && !bytes.is_empty() {
            bytes[0] = BLOCK_FORMAT_VERSION;
        }
        prop_assert!(decode_block(&bytes).is_err());
        prop_assert!(block_summary(&bytes).is_err());
    }

    /// Bypasses the checksum so the parser and section decoders see the
    /// hostile bytes: they must stay bounded and panic-free.
    #[test]
    fn random_bodies_with_valid_crc_never_panic(
        field in 0u8..=6,
        count in prop_oneof![0u32..20, 0u32..=70_000],
        ts_tag in 0u8..=4,
        v_tag in 0u8..=5,
        ts_section in proptest::collection::vec(any::<u8>(), 0..120),
        v_section in proptest::collection::vec(any::<u8>(), 0..120),
        len_fudge in prop_oneof![Just(0i64), -3i64..=3],
    ) {
        let mut body = vec![BLOCK_FORMAT_VERSION, field];
        body.extend_from_slice(&count.to_le_bytes());
        body.push(ts_tag);
        body.extend_from_slice(&((ts_section.len() as i64 + len_fudge).max(0) as u32).to_le_bytes());
        body.extend_from_slice(&ts_section);
        body.push(v_tag);
        body.extend_from_slice(&(v_section.len() as u32).to_le_bytes());
        body.extend_from_slice(&v_section);
        let bytes = with_crc(body);
        if let Ok((ts, values)) = decode_block(&bytes) {
            prop_assert_eq!(ts.len(), count as usize);
            prop_assert_eq!(values.len(), count as usize);
        }
        let _ = block_summary(&bytes);
    }

    #[test]
    fn mutated_valid_blocks_with_fixed_crc_never_panic(
        (ts, values) in points(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 1..6),
    ) {
        let good = encode_block(&ts, &values).unwrap();
        let mut body = body_of(&good);
        for (at, mask) in flips {
            // Leave the version byte alone so the parser goes deeper.
            let i = 1 + at.index(body.len() - 1);
            body[i] ^= mask;
        }
        let bytes = with_crc(body);
        if let Ok((ts2, values2)) = decode_block(&bytes) {
            prop_assert_eq!(ts2.len(), values2.len());
            prop_assert!(ts2.len() <= MAX_BLOCK_POINTS as usize);
        }
        let _ = block_summary(&bytes);
    }
}

#[test]
fn every_encoder_and_decoder_enforces_the_point_limit() {
    let n = MAX_BLOCK_POINTS as usize + 1;
    let too_many = |r: Result<(), CodecError>| {
        assert!(matches!(r, Err(CodecError::TooManyValues { .. })), "{r:?}");
    };
    too_many(encode_timestamps(&vec![0; n]).map(drop));
    too_many(encode_floats(&vec![0.0; n]).map(drop));
    too_many(encode_integers(&vec![0; n]).map(drop));
    too_many(encode_unsigned(&vec![0; n]).map(drop));
    too_many(encode_booleans(&vec![false; n]).map(drop));
    too_many(encode_strings(&vec![""; n]).map(drop));
    let over = MAX_BLOCK_POINTS + 1;
    too_many(decode_timestamps(TimestampCodec::ConstantDelta, &[0; 16], over).map(drop));
    too_many(decode_floats(FloatCodec::Constant, &[0; 8], over).map(drop));
    too_many(decode_integers(IntegerCodec::Constant, &[0; 8], over).map(drop));
    too_many(decode_unsigned(IntegerCodec::Constant, &[0; 8], over).map(drop));
    too_many(decode_booleans(BooleanCodec::Constant, &[1], over).map(drop));
    too_many(decode_strings(StringCodec::Dictionary, &[], over).map(drop));
    // Exactly the limit is fine, even from a 16-byte section.
    let ts = decode_timestamps(TimestampCodec::ConstantDelta, &[0; 16], MAX_BLOCK_POINTS);
    assert_eq!(ts.unwrap().len(), MAX_BLOCK_POINTS as usize);
}
