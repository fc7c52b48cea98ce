//! `GROUP BY time(every[, offset])` buckets, aligned to the epoch in the query's zone: with
//! `tz('Europe/Rome')` day buckets start at local midnight and a DST day lasts 23 or 25 hours.

use crate::time::Zone;

/// How time is cut into buckets.
#[derive(Debug, Clone)]
pub(super) struct Windowing {
    pub every: i64,
    pub offset: i64,
    pub zone: Zone,
}

impl Windowing {
    /// The start of the bucket holding `t` (InfluxDB's `IteratorOptions.Window`).
    pub(super) fn start_of(&self, t: i64) -> i64 {
        let t0 = t.saturating_sub(self.offset);
        let zone = self.zone.offset_ns(t0);
        let dt = t0.saturating_add(zone).rem_euclid(self.every);
        let mut start = t0.saturating_sub(dt);
        if !self.zone.is_utc() {
            // The bucket may start on the other side of a DST change: use that side's offset,
            // unless the change is as long as the bucket itself.
            let o = zone - self.zone.offset_ns(start);
            if o != 0 && o.abs() < self.every {
                start = start.saturating_add(o);
            }
        }
        start.saturating_add(self.offset)
    }

    /// The start of the bucket after the one starting at `start`.
    pub(super) fn next(&self, start: i64) -> i64 {
        let n = self.start_of(start.saturating_add(self.every));
        if n > start {
            return n;
        }
        // A bucket longer than `every` (the day a DST change gives back an hour).
        let n = self.start_of(start.saturating_add(self.every + self.every / 2));
        if n > start {
            n
        } else {
            start.saturating_add(self.every)
        }
    }
}

/// Whether every bucket boundary falls on a whole UTC hour, so hourly rollups can answer.
pub(super) fn hour_aligned(starts: &[i64]) -> bool {
    const HOUR: i64 = 3_600_000_000_000;
    starts.iter().all(|s| s.rem_euclid(HOUR) == 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn utc_buckets_are_epoch_aligned() {
        let w = Windowing {
            every: 7 * 24 * H,
            offset: 0,
            zone: Zone::utc(),
        };
        // 1970-01-01 was a Thursday: weekly buckets start on Thursdays.
        let t = Zone::utc().parse_time("2024-05-14").unwrap();
        let s = w.start_of(t);
        assert_eq!(Zone::utc().format_rfc3339(s), "2024-05-09T00:00:00Z");
        assert_eq!(w.next(s), s + 7 * 24 * H);
        let off = Windowing {
            every: 6 * H,
            offset: 90 * 60 * 1_000_000_000,
            zone: Zone::utc(),
        };
        assert_eq!(
            Zone::utc().format_rfc3339(off.start_of(t)),
            "2024-05-13T19:30:00Z"
        );
    }

    #[test]
    fn day_buckets_follow_local_midnight_across_dst() {
        let rome = Zone::named("Europe/Rome").unwrap();
        let w = Windowing {
            every: 24 * H,
            offset: 0,
            zone: rome.clone(),
        };
        let t = rome.parse_time("2023-03-25 12:00:00").unwrap();
        let mut s = w.start_of(t);
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(rome.format_rfc3339(s));
            s = w.next(s);
        }
        assert_eq!(
            seen,
            [
                "2023-03-25T00:00:00+01:00",
                "2023-03-26T00:00:00+01:00",
                "2023-03-27T00:00:00+02:00"
            ]
        );
        let t = rome.parse_time("2023-10-28 12:00:00").unwrap();
        let a = w.start_of(t);
        let b = w.next(a);
        let c = w.next(b);
        assert_eq!(rome.format_rfc3339(b), "2023-10-29T00:00:00+02:00");
        assert_eq!(rome.format_rfc3339(c), "2023-10-30T00:00:00+01:00");
        assert_eq!(c - b, 25 * H);
    }
}
