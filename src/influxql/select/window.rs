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
    /// The start of the bucket holding `t`. Buckets are aligned on the zone's wall clock: a
    /// bucket's bounds are the first instants showing its wall-clock start and end, so a
    /// two-hour bucket spanning the repeated hour of an autumn DST change lasts three hours.
    /// When the clock change is as long as a bucket (hourly buckets), buckets stay fixed.
    pub(super) fn start_of(&self, t: i64) -> i64 {
        let z = self.zone.offset_ns(t);
        let wall = t.saturating_add(z).saturating_sub(self.offset);
        let wall_start = wall
            .saturating_sub(wall.rem_euclid(self.every))
            .saturating_add(self.offset);
        let fixed = wall_start.saturating_sub(z);
        if self.zone.is_utc() {
            return fixed;
        }
        let moved = self.zone.instant_of_local(wall_start);
        if moved != fixed && (moved - fixed).abs() < self.every && moved <= t {
            moved
        } else {
            fixed
        }
    }

    /// The start of the bucket after the one starting at `start`: the first instant showing
    /// the wall-clock end of the bucket (its wall-clock start is on the grid even when a DST
    /// gap moved the instant forward).
    pub(super) fn next(&self, start: i64) -> i64 {
        let fixed = start.saturating_add(self.every);
        if self.zone.is_utc() {
            return fixed;
        }
        let wall = start
            .saturating_add(self.zone.offset_ns(start))
            .saturating_sub(self.offset);
        let wall_end = wall
            .saturating_sub(wall.rem_euclid(self.every))
            .saturating_add(self.offset)
            .saturating_add(self.every);
        let moved = self.zone.instant_of_local(wall_end);
        if moved > start && (moved - fixed).abs() < self.every {
            moved
        } else {
            fixed
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
        // Two-hour buckets: the one holding the repeated hour lasts three hours.
        let two = Windowing {
            every: 2 * H,
            offset: 0,
            zone: rome.clone(),
        };
        let t = rome.parse_time("2023-10-29T02:30:00+01:00").unwrap();
        let s = two.start_of(t);
        assert_eq!(rome.format_rfc3339(s), "2023-10-29T02:00:00+02:00");
        assert_eq!(
            rome.format_rfc3339(two.next(s)),
            "2023-10-29T04:00:00+01:00"
        );
        // Hourly buckets stay an hour long.
        let one = Windowing {
            every: H,
            offset: 0,
            zone: rome.clone(),
        };
        let s = one.start_of(t);
        assert_eq!(rome.format_rfc3339(s), "2023-10-29T02:00:00+01:00");
        assert_eq!(one.next(s) - s, H);
        let s = one.start_of(t - H);
        assert_eq!(rome.format_rfc3339(s), "2023-10-29T02:00:00+02:00");
        assert_eq!(one.next(s) - s, H);
        // Spring: the two-hour bucket of the skipped hour lasts one hour.
        let t = rome.parse_time("2023-03-26T03:30:00+02:00").unwrap();
        let s = two.start_of(t);
        assert_eq!(rome.format_rfc3339(s), "2023-03-26T03:00:00+02:00");
        assert_eq!(
            rome.format_rfc3339(two.next(s)),
            "2023-03-26T04:00:00+02:00"
        );
    }
}
