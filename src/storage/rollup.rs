//! Hourly rollups and the stored block value that carries them.
//!
//! While sealing, every numeric block gets, per hour it touches, the partial aggregates
//! `count, sum, min, max, first, last` of its points. Window aggregates whose windows are whole
//! hours are then computed by combining hour partials in time order. The raw path computes the
//! very same hour partials from points and combines them the same way, so both paths give
//! bit-identical results (float sums included): the partials are a function of the points of
//! an hour, and an hour is only read from a rollup when one block holds all of its points.
//!
//! Stored block value (little-endian):
//! ```text
//! +--------------+-------------------------+-------------------------------------------+
//! | block len u32| codec block (codec/)    | rollup section                            |
//! +--------------+-------------------------+-------------------------------------------+
//! rollup section: version u8 (=1) | n u32 | hours col | counts col | sum | min | max |
//!                 first | last | crc32 u32 (over the section before it)
//! col:            codec tag u8 | len u32 | bytes   (timestamp / unsigned / value codecs)
//! ```
//! Boolean and string blocks carry `n = 0` and no columns.

use super::codec::{
    self, CodecError, ColumnValues, FieldType, FloatCodec, IntegerCodec, TimestampCodec,
};
use super::column::Column;

/// Nanoseconds in an hour.
pub(crate) const HOUR: i64 = 3_600_000_000_000;

const ROLLUP_VERSION: u8 = 1;

/// The start of the hour holding `t`.
pub(crate) fn hour_of(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}

/// Per-period partial aggregates of one numeric column, in increasing period order.
#[derive(Debug, Clone, PartialEq)]
pub struct Partials {
    /// Period starts (hours, or window starts once coarsened).
    pub starts: Vec<i64>,
    /// Points per period.
    pub counts: Vec<u64>,
    /// Sum per period (wrapping for integers, as InfluxDB).
    pub sum: ColumnValues,
    /// Minimum per period.
    pub min: ColumnValues,
    /// Maximum per period.
    pub max: ColumnValues,
    /// Earliest point's value per period.
    pub first: ColumnValues,
    /// Latest point's value per period.
    pub last: ColumnValues,
}

trait Num: Copy + PartialOrd {
    fn plus(self, o: Self) -> Self;
}
impl Num for f64 {
    fn plus(self, o: Self) -> Self {
        self + o
    }
}
impl Num for i64 {
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
}
impl Num for u64 {
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
}

struct Typed<T> {
    starts: Vec<i64>,
    counts: Vec<u64>,
    sum: Vec<T>,
    min: Vec<T>,
    max: Vec<T>,
    first: Vec<T>,
    last: Vec<T>,
}

impl<T: Num> Typed<T> {
    fn new() -> Self {
        Typed {
            starts: Vec::new(),
            counts: Vec::new(),
            sum: Vec::new(),
            min: Vec::new(),
            max: Vec::new(),
            first: Vec::new(),
            last: Vec::new(),
        }
    }

    /// Folds one point into the period `start`. Points arrive in time order, so "first" is
    /// the period's first point and "last" its latest; ties on min/max keep the earlier one,
    /// as InfluxDB's selectors do.
    fn add(&mut self, start: i64, v: T) {
        if self.starts.last() == Some(&start) {
            let i = self.starts.len() - 1;
            self.counts[i] += 1;
            self.sum[i] = self.sum[i].plus(v);
            if v < self.min[i] {
                self.min[i] = v;
            }
            if v > self.max[i] {
                self.max[i] = v;
            }
            self.last[i] = v;
        } else {
            self.starts.push(start);
            self.counts.push(1);
            self.sum.push(v);
            self.min.push(v);
            self.max.push(v);
            self.first.push(v);
            self.last.push(v);
        }
    }
}

macro_rules! typed_to_partials {
    ($t:expr, $var:ident) => {{
        let t = $t;
        Partials {
            starts: t.starts,
            counts: t.counts,
            sum: ColumnValues::$var(t.sum),
            min: ColumnValues::$var(t.min),
            max: ColumnValues::$var(t.max),
            first: ColumnValues::$var(t.first),
            last: ColumnValues::$var(t.last),
        }
    }};
}

fn points_to_typed<T: Num>(ts: &[i64], vals: &[T]) -> Typed<T> {
    let mut t = Typed::new();
    for (&ts, &v) in ts.iter().zip(vals) {
        t.add(hour_of(ts), v);
    }
    t
}

/// Hour partials of a normalized column; `None` for booleans and strings.
pub fn hour_partials(col: &Column) -> Option<Partials> {
    Some(match &col.values {
        ColumnValues::Float(v) => typed_to_partials!(points_to_typed(&col.ts, v), Float),
        ColumnValues::Integer(v) => {
            typed_to_partials!(points_to_typed(&col.ts, v), Integer)
        }
        ColumnValues::Unsigned(v) => {
            typed_to_partials!(points_to_typed(&col.ts, v), Unsigned)
        }
        ColumnValues::Boolean(_) | ColumnValues::String(_) => return None,
    })
}

/// The start of the window of width `every` (offset by `offset`) that holds `t`.
pub fn window_start(t: i64, every: i64, offset: i64) -> i64 {
    (t - offset).div_euclid(every) * every + offset
}

impl Partials {
    /// Number of periods.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are no periods.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Combines consecutive periods into windows of `every` ns shifted by `offset` ns.
    pub fn coarsen(self, every: i64, offset: i64) -> Option<Partials> {
        coarsen_hours(&[Hours::from_partials(self, Need::ALL)], every, offset)
    }
}

/// Combines the periods of `parts` (disjoint, each in order, every aggregate present) into
/// the windows of `every` ns shifted by `offset` ns that hold any of them, folding them in
/// period order as [`HourFold`] does. `None` when the parts differ in type or miss an
/// aggregate.
pub(crate) fn coarsen_hours(parts: &[Hours], every: i64, offset: i64) -> Option<Partials> {
    let mut windows: Vec<i64> = parts
        .iter()
        .flat_map(|p| p.starts.iter().map(|&s| window_start(s, every, offset)))
        .collect();
    windows.sort_unstable();
    windows.dedup();
    let mut fold = HourFold::new(windows, Need::ALL);
    if !fold.fold(parts) {
        return None;
    }
    fold.into_partials()
}

fn encode_numeric(v: &ColumnValues) -> Result<(u8, Vec<u8>), CodecError> {
    Ok(match v {
        ColumnValues::Float(x) => {
            let (c, b) = codec::encode_floats(x)?;
            (c.to_code(), b)
        }
        ColumnValues::Integer(x) => {
            let (c, b) = codec::encode_integers(x)?;
            (c.to_code(), b)
        }
        ColumnValues::Unsigned(x) => {
            let (c, b) = codec::encode_unsigned(x)?;
            (c.to_code(), b)
        }
        _ => {
            return Err(CodecError::Invalid {
                what: "non-numeric rollup column",
            });
        }
    })
}

/// Encodes a normalized column as a stored block value: codec block plus hour rollups.
pub(crate) fn encode_stored_block(col: &Column) -> Result<Vec<u8>, CodecError> {
    let block = codec::encode_block(&col.ts, &col.values)?;
    let block_len = u32::try_from(block.len()).map_err(|_| CodecError::Invalid {
        what: "block length",
    })?;
    let mut out = Vec::with_capacity(block.len() + 64);
    out.extend_from_slice(&block_len.to_le_bytes());
    out.extend_from_slice(&block);
    let start = out.len();
    out.push(ROLLUP_VERSION);
    // No hours (booleans, strings, or no points) is a count of 0 and nothing after it, which
    // is what the reader expects (an empty column used to write empty sections after its 0).
    match hour_partials(col).filter(|p| !p.is_empty()) {
        None => out.extend_from_slice(&0u32.to_le_bytes()),
        Some(p) => {
            let n = u32::try_from(p.len()).map_err(|_| CodecError::Invalid {
                what: "rollup count",
            })?;
            out.extend_from_slice(&n.to_le_bytes());
            let (c, b) = codec::encode_timestamps(&p.starts)?;
            codec::push_section(&mut out, c.to_code(), &b)?;
            let (c, b) = codec::encode_unsigned(&p.counts)?;
            codec::push_section(&mut out, c.to_code(), &b)?;
            for v in [&p.sum, &p.min, &p.max, &p.first, &p.last] {
                let (c, b) = encode_numeric(v)?;
                codec::push_section(&mut out, c, &b)?;
            }
        }
    }
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn split_block(value: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
    let len_bytes: [u8; 4] =
        value
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(CodecError::Truncated {
                what: "stored block length",
            })?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let block = value.get(4..4 + len).ok_or(CodecError::Truncated {
        what: "stored block",
    })?;
    Ok((block, &value[4 + len..]))
}

/// Decodes the points of a stored block value.
pub(crate) fn decode_stored_block(value: &[u8]) -> Result<Column, CodecError> {
    let (block, _) = split_block(value)?;
    let (ts, values) = codec::decode_block(block)?;
    Ok(Column { ts, values })
}

/// Decodes the points of a stored string block as timestamps and coded strings.
pub(crate) fn decode_stored_block_coded(
    value: &[u8],
) -> Result<(Vec<i64>, codec::CodedStrings), CodecError> {
    let (block, _) = split_block(value)?;
    codec::decode_block_coded(block)
}

/// Point count and time range of a stored block, without decoding values.
pub(crate) fn stored_block_summary(value: &[u8]) -> Result<codec::BlockSummary, CodecError> {
    let (block, _) = split_block(value)?;
    codec::block_summary(block)
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.b.len() < n {
            return Err(CodecError::Truncated { what });
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn col(&mut self, what: &'static str) -> Result<(u8, &'a [u8]), CodecError> {
        let tag = self.u8(what)?;
        let len = self.u32(what)? as usize;
        Ok((tag, self.take(len, what)?))
    }
}

fn decode_numeric(t: FieldType, tag: u8, bytes: &[u8], n: u32) -> Result<ColumnValues, CodecError> {
    let unknown = |kind| CodecError::UnknownCodec { kind, code: tag };
    Ok(match t {
        FieldType::Float => ColumnValues::Float(codec::decode_floats(
            FloatCodec::try_from_code(tag).ok_or(unknown("float"))?,
            bytes,
            n,
        )?),
        FieldType::Integer => ColumnValues::Integer(codec::decode_integers(
            IntegerCodec::try_from_code(tag).ok_or(unknown("integer"))?,
            bytes,
            n,
        )?),
        FieldType::Unsigned => ColumnValues::Unsigned(codec::decode_unsigned(
            IntegerCodec::try_from_code(tag).ok_or(unknown("unsigned"))?,
            bytes,
            n,
        )?),
        _ => {
            return Err(CodecError::Invalid {
                what: "rollup of a non-numeric block",
            });
        }
    })
}

/// The hour partials stored with a block (`None` for boolean and string blocks).
pub(crate) fn stored_block_rollups(value: &[u8]) -> Result<Option<Partials>, CodecError> {
    Ok(stored_hours(value, Need::ALL)?.and_then(Hours::into_partials))
}

/// The hour partials stored with a block, with only the aggregates `need` asks for decoded
/// (`None` for boolean and string blocks). The section's checksum and framing are checked
/// whole either way.
pub(crate) fn stored_hours(value: &[u8], need: Need) -> Result<Option<Hours>, CodecError> {
    let (block, section) = split_block(value)?;
    // The header (checked) is enough: the rollups never need the block's points decoded.
    let (field_type, count) = codec::block_count(block)?;
    if section.len() < 4 {
        return Err(CodecError::Truncated {
            what: "rollup section",
        });
    }
    let (body, crc) = section.split_at(section.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(CodecError::ChecksumMismatch {
            expected: stored,
            found: computed,
        });
    }
    let mut r = Reader { b: body };
    let version = r.u8("rollup version")?;
    if version != ROLLUP_VERSION {
        return Err(CodecError::UnsupportedVersion { found: version });
    }
    let n = r.u32("rollup count")?;
    if n == 0 {
        if !r.b.is_empty() {
            return Err(CodecError::TrailingBytes {
                what: "rollup section",
                count: r.b.len() as u64,
            });
        }
        return Ok(None);
    }
    if n > count {
        return Err(CodecError::Invalid {
            what: "more rollup hours than points",
        });
    }
    let (tag, b) = r.col("rollup hours")?;
    let starts = codec::decode_timestamps(
        TimestampCodec::try_from_code(tag).ok_or(CodecError::UnknownCodec {
            kind: "timestamp",
            code: tag,
        })?,
        b,
        n,
    )?;
    let (tag, b) = r.col("rollup counts")?;
    let counts = codec::decode_unsigned(
        IntegerCodec::try_from_code(tag).ok_or(CodecError::UnknownCodec {
            kind: "unsigned",
            code: tag,
        })?,
        b,
        n,
    )?;
    let mut cols: [Option<ColumnValues>; 5] = Default::default();
    for (i, what) in [
        "rollup sum",
        "rollup min",
        "rollup max",
        "rollup first",
        "rollup last",
    ]
    .into_iter()
    .enumerate()
    {
        let (tag, b) = r.col(what)?;
        if need.wants(i) {
            cols[i] = Some(decode_numeric(field_type, tag, b, n)?);
        }
    }
    if !r.b.is_empty() {
        return Err(CodecError::TrailingBytes {
            what: "rollup section",
            count: r.b.len() as u64,
        });
    }
    Ok(Some(Hours {
        starts,
        counts,
        cols,
    }))
}

/// Which partial aggregates a read needs besides the counts, which always come along: a
/// chart's MEAN needs the sums alone, so the other four rollup columns stay encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Sums (SUM, MEAN).
    pub sum: bool,
    /// Minima (MIN, SPREAD).
    pub min: bool,
    /// Maxima (MAX, SPREAD).
    pub max: bool,
    /// First values (FIRST).
    pub first: bool,
    /// Last values (LAST).
    pub last: bool,
}

impl Need {
    /// Every aggregate.
    pub const ALL: Need = Need {
        sum: true,
        min: true,
        max: true,
        first: true,
        last: true,
    };
    /// Counts alone.
    pub const COUNT: Need = Need {
        sum: false,
        min: false,
        max: false,
        first: false,
        last: false,
    };

    /// Whether column `i` of [`Hours::cols`] (sum, min, max, first, last) is needed.
    fn wants(self, i: usize) -> bool {
        [self.sum, self.min, self.max, self.first, self.last][i]
    }
}

/// Hour partials of one source (a block's rollup, or points reduced by hour) holding only
/// the needed aggregates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hours {
    pub(crate) starts: Vec<i64>,
    pub(crate) counts: Vec<u64>,
    /// Sum, min, max, first, last; `None` where not needed.
    pub(crate) cols: [Option<ColumnValues>; 5],
}

impl Hours {
    /// `p` without the aggregates `need` does not ask for.
    pub(crate) fn from_partials(p: Partials, need: Need) -> Hours {
        let mut cols = [
            Some(p.sum),
            Some(p.min),
            Some(p.max),
            Some(p.first),
            Some(p.last),
        ];
        for (i, c) in cols.iter_mut().enumerate() {
            if !need.wants(i) {
                *c = None;
            }
        }
        Hours {
            starts: p.starts,
            counts: p.counts,
            cols,
        }
    }

    /// Back to [`Partials`]; `None` unless every aggregate is present.
    pub(crate) fn into_partials(self) -> Option<Partials> {
        let [sum, min, max, first, last] = self.cols;
        Some(Partials {
            starts: self.starts,
            counts: self.counts,
            sum: sum?,
            min: min?,
            max: max?,
            first: first?,
            last: last?,
        })
    }

    /// The hours at indexes `take` (increasing).
    pub(crate) fn select(&self, take: &[usize]) -> Hours {
        Hours {
            starts: take.iter().map(|&i| self.starts[i]).collect(),
            counts: take.iter().map(|&i| self.counts[i]).collect(),
            cols: std::array::from_fn(|c| self.cols[c].as_ref().map(|v| v.gather(take))),
        }
    }
}

/// Moves `at` forward to the bucket of `starts` (increasing) holding `h`, for `h` coming in
/// order; `None` for a time before the first bucket.
fn walk_to(starts: &[i64], at: &mut usize, h: i64) -> Option<usize> {
    if starts.first().is_none_or(|&s| h < s) {
        return None;
    }
    while *at + 1 < starts.len() && starts[*at + 1] <= h {
        *at += 1;
    }
    Some(*at)
}

/// One of the partial aggregates of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Sum of the points.
    Sum,
    /// Smallest point (the earliest of equals).
    Min,
    /// Largest point (the earliest of equals).
    Max,
    /// Earliest point.
    First,
    /// Latest point.
    Last,
}

/// Per-bucket accumulators of one numeric type: the needed aggregates, one slot per bucket.
#[derive(Debug, Clone)]
struct Folded<T> {
    sum: Vec<T>,
    min: Vec<T>,
    max: Vec<T>,
    first: Vec<T>,
    last: Vec<T>,
}

#[derive(Debug, Clone)]
enum FoldValues {
    Float(Folded<f64>),
    Integer(Folded<i64>),
    Unsigned(Folded<u64>),
}

/// Hour partials of any number of series folded into buckets whose starts are whole hours
/// (a chart's windows, possibly uneven across DST changes), hour by hour in time order and
/// series after series: the order, and so every float sum bit, of folding each hour's
/// partials one at a time.
#[derive(Debug, Clone)]
pub struct HourFold {
    starts: Vec<i64>,
    need: Need,
    counts: Vec<u64>,
    values: Option<FoldValues>,
}

impl HourFold {
    /// Empty buckets starting at `starts` (increasing); an hour before the first start is
    /// left out, an hour after the last start goes to the last bucket.
    pub fn new(starts: Vec<i64>, need: Need) -> HourFold {
        let n = starts.len();
        HourFold {
            starts,
            need,
            counts: vec![0; n],
            values: None,
        }
    }

    /// What this fold keeps besides counts.
    pub fn need(&self) -> Need {
        self.need
    }

    /// Points folded into bucket `b` (0 when it is empty or does not exist).
    pub fn count(&self, b: usize) -> u64 {
        self.counts.get(b).copied().unwrap_or(0)
    }

    /// Aggregate `part` of bucket `b`: `None` when the bucket is empty or `part` was not
    /// needed.
    pub fn value(&self, b: usize, part: Part) -> Option<crate::storage::FieldValue> {
        use crate::storage::FieldValue as F;
        if self.count(b) == 0 {
            return None;
        }
        fn pick<T: Copy>(f: &Folded<T>, part: Part, b: usize) -> Option<T> {
            let v = match part {
                Part::Sum => &f.sum,
                Part::Min => &f.min,
                Part::Max => &f.max,
                Part::First => &f.first,
                Part::Last => &f.last,
            };
            v.get(b).copied()
        }
        match self.values.as_ref()? {
            FoldValues::Float(f) => pick(f, part, b).map(F::Float),
            FoldValues::Integer(f) => pick(f, part, b).map(F::Integer),
            FoldValues::Unsigned(f) => pick(f, part, b).map(F::Unsigned),
        }
    }

    /// The non-empty buckets as [`Partials`]; `None` unless every aggregate was needed and a
    /// typed part was folded.
    pub(crate) fn into_partials(self) -> Option<Partials> {
        if self.need != Need::ALL {
            return None;
        }
        let keep: Vec<usize> = (0..self.starts.len())
            .filter(|&b| self.counts[b] > 0)
            .collect();
        macro_rules! typed {
            ($f:expr, $var:ident) => {{
                let f = $f;
                let col = |v: Vec<_>| ColumnValues::$var(v).gather(&keep);
                (
                    col(f.sum),
                    col(f.min),
                    col(f.max),
                    col(f.first),
                    col(f.last),
                )
            }};
        }
        let (sum, min, max, first, last) = match self.values? {
            FoldValues::Float(f) => typed!(f, Float),
            FoldValues::Integer(f) => typed!(f, Integer),
            FoldValues::Unsigned(f) => typed!(f, Unsigned),
        };
        Some(Partials {
            starts: keep.iter().map(|&b| self.starts[b]).collect(),
            counts: keep.iter().map(|&b| self.counts[b]).collect(),
            sum,
            min,
            max,
            first,
            last,
        })
    }

    /// Folds the hours of one series, held by `parts` with disjoint hours, in hour order.
    /// `false` (nothing folded) when the parts' type differs from what was folded before.
    pub(crate) fn fold(&mut self, parts: &[Hours]) -> bool {
        let mut picks: Vec<(i64, u32, u32)> =
            Vec::with_capacity(parts.iter().map(|p| p.starts.len()).sum());
        for (p, part) in parts.iter().enumerate() {
            picks.extend(
                part.starts
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| (s, p as u32, i as u32)),
            );
        }
        // Each part is in order and parts mostly follow each other: nearly sorted.
        picks.sort_unstable();
        let Some(kind) = parts.iter().find_map(|p| p.cols.iter().flatten().next()) else {
            // Counts alone: no values to type.
            self.fold_counts(parts, &picks);
            return true;
        };
        let nb = self.starts.len();
        let need = self.need;
        macro_rules! typed {
            ($var:ident, $t:ty, $plus:expr) => {{
                let values = self.values.get_or_insert_with(|| {
                    let slots = |w: bool| {
                        if w {
                            vec![<$t>::default(); nb]
                        } else {
                            Vec::new()
                        }
                    };
                    FoldValues::$var(Folded {
                        sum: slots(need.sum),
                        min: slots(need.min),
                        max: slots(need.max),
                        first: slots(need.first),
                        last: slots(need.last),
                    })
                });
                let FoldValues::$var(f) = values else {
                    return false;
                };
                let mut cols: Vec<[&[$t]; 5]> = Vec::with_capacity(parts.len());
                for part in parts {
                    let mut c: [&[$t]; 5] = [&[]; 5];
                    for (i, col) in part.cols.iter().enumerate() {
                        match col {
                            Some(ColumnValues::$var(v)) => c[i] = v.as_slice(),
                            Some(_) => return false,
                            None if need.wants(i) => return false,
                            None => {}
                        }
                    }
                    cols.push(c);
                }
                let plus = $plus;
                let mut at = 0usize;
                for &(h, p, i) in &picks {
                    let (p, i) = (p as usize, i as usize);
                    let Some(b) = walk_to(&self.starts, &mut at, h) else {
                        continue;
                    };
                    let [s, mn, mx, fi, la] = cols[p];
                    let fresh = self.counts[b] == 0;
                    self.counts[b] += parts[p].counts[i];
                    if need.sum {
                        f.sum[b] = if fresh { s[i] } else { plus(f.sum[b], s[i]) };
                    }
                    // Ties keep the earlier value, as InfluxDB's selectors do.
                    if need.min && (fresh || mn[i] < f.min[b]) {
                        f.min[b] = mn[i];
                    }
                    if need.max && (fresh || mx[i] > f.max[b]) {
                        f.max[b] = mx[i];
                    }
                    if need.first && fresh {
                        f.first[b] = fi[i];
                    }
                    if need.last {
                        f.last[b] = la[i];
                    }
                }
                true
            }};
        }
        match kind {
            ColumnValues::Float(_) => typed!(Float, f64, |a: f64, b: f64| a + b),
            ColumnValues::Integer(_) => typed!(Integer, i64, i64::wrapping_add),
            ColumnValues::Unsigned(_) => typed!(Unsigned, u64, u64::wrapping_add),
            ColumnValues::Boolean(_) | ColumnValues::String(_) => false,
        }
    }

    fn fold_counts(&mut self, parts: &[Hours], picks: &[(i64, u32, u32)]) {
        let mut at = 0usize;
        for &(h, p, i) in picks {
            if let Some(b) = walk_to(&self.starts, &mut at, h) {
                self.counts[b] += parts[p as usize].counts[i as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(ts: &[i64], v: &[f64]) -> Column {
        Column {
            ts: ts.to_vec(),
            values: ColumnValues::Float(v.to_vec()),
        }
    }

    #[test]
    fn hour_partials_and_coarsening() {
        let h = HOUR;
        let c = floats(&[0, 10, h, h + 5, 3 * h], &[1.0, 3.0, 2.0, 2.0, -1.0]);
        let p = hour_partials(&c).unwrap();
        assert_eq!(p.starts, [0, h, 3 * h]);
        assert_eq!(p.counts, [2, 2, 1]);
        assert_eq!(p.sum, ColumnValues::Float(vec![4.0, 4.0, -1.0]));
        assert_eq!(p.first, ColumnValues::Float(vec![1.0, 2.0, -1.0]));
        assert_eq!(p.last, ColumnValues::Float(vec![3.0, 2.0, -1.0]));
        let w = p.coarsen(2 * h, 0).unwrap();
        assert_eq!(w.starts, [0, 2 * h]);
        assert_eq!(w.counts, [4, 1]);
        assert_eq!(w.min, ColumnValues::Float(vec![1.0, -1.0]));
        assert_eq!(w.max, ColumnValues::Float(vec![3.0, -1.0]));
        assert_eq!(w.last, ColumnValues::Float(vec![2.0, -1.0]));
        assert_eq!(window_start(-1, h, 0), -h);
        assert_eq!(window_start(5, 10, 3), 3);
    }

    #[test]
    fn stored_block_round_trips_with_rollups() {
        let ts: Vec<i64> = (0..300).map(|i| i * 300_000_000_000).collect();
        let c = Column {
            ts: ts.clone(),
            values: ColumnValues::Integer((0..300).map(|i| i * 1000).collect()),
        };
        let v = encode_stored_block(&c).unwrap();
        assert_eq!(decode_stored_block(&v).unwrap(), c);
        assert_eq!(stored_block_summary(&v).unwrap().count, 300);
        let r = stored_block_rollups(&v).unwrap().unwrap();
        assert_eq!(r, hour_partials(&c).unwrap());
        let s = Column {
            ts: vec![1, 2],
            values: ColumnValues::String(vec!["a".into(), "b".into()]),
        };
        let v = encode_stored_block(&s).unwrap();
        assert_eq!(stored_block_rollups(&v).unwrap(), None);
        assert_eq!(decode_stored_block(&v).unwrap(), s);
    }

    #[test]
    fn damaged_stored_blocks_are_errors_not_panics() {
        let c = floats(&[1, 2, 3], &[1.5, 2.5, 3.5]);
        let v = encode_stored_block(&c).unwrap();
        for cut in 0..v.len() {
            let _ = decode_stored_block(&v[..cut]);
            assert!(stored_block_rollups(&v[..cut]).is_err());
        }
        for i in 0..v.len() {
            let mut w = v.clone();
            w[i] ^= 0x55;
            let ok = decode_stored_block(&w).is_ok() && stored_block_rollups(&w).is_ok();
            // A flipped length byte may still frame a valid prefix; everything else is caught.
            assert!(!ok || i < 4, "flip at {i} went unnoticed");
        }
    }
}
