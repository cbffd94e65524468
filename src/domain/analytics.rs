//! Verification analytics: the in-memory hourly rollups a worker isolate aggregates between two
//! flushes, and the retention cutoffs. Recording is on the verification path, so [`Rollups::add`]
//! does no I/O and allocates only for a rollup it has not seen since the last flush.

use std::collections::HashMap;

use super::verify::Denial;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The outcome counters of a rollup, in this order (also the column order of the table).
pub const OUTCOMES: usize = 7;

/// The counter of an outcome: VALID, RATE_LIMITED, USAGE_EXCEEDED, DISABLED, EXPIRED, FORBIDDEN,
/// INSUFFICIENT_PERMISSIONS.
pub fn outcome_index(denial: Option<Denial>) -> usize {
    match denial {
        None => 0,
        Some(Denial::RateLimited) => 1,
        Some(Denial::UsageExceeded) => 2,
        Some(Denial::Disabled) => 3,
        Some(Denial::Expired) => 4,
        Some(Denial::Forbidden) => 5,
        Some(Denial::InsufficientPermissions) => 6,
    }
}

/// The start of the hour (UTC) of a unix ms time.
pub fn hour_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

/// The unix ms before which rows older than `days` are deleted.
pub fn retention_cutoff(now: i64, days: i64) -> i64 {
    now - days * DAY_MS
}

/// One verification, as recorded (borrowed from the verification: nothing is copied for a
/// rollup that already exists).
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub workspace_id: &'a str,
    pub key_space_id: &'a str,
    pub key_id: &'a str,
    pub identity_id: Option<&'a str>,
    /// The request's tags, in any order, possibly repeated.
    pub tags: &'a [String],
    /// Unix ms.
    pub time: i64,
    pub denial: Option<Denial>,
    /// Credits the verification deducted.
    pub spent: i64,
}

/// The verifications of one key in one hour with one identity and one tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    pub workspace_id: String,
    pub key_space_id: String,
    pub key_id: String,
    /// `""` when the key had no identity.
    pub identity_id: String,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
    pub hour: i64,
    pub counts: [i64; OUTCOMES],
    pub spent: i64,
}

impl Rollup {
    fn matches(&self, hour: i64, identity_id: &str, tags: &[String]) -> bool {
        self.hour == hour && self.identity_id == identity_id && same_tag_set(&self.tags, tags)
    }

    /// The tag set as stored: a JSON array of the sorted tags.
    pub fn tags_json(&self) -> String {
        serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into())
    }
}

/// `tags` (any order, repeats allowed) hold exactly the tags of `set` (sorted, unique), without
/// allocating.
fn same_tag_set(set: &[String], tags: &[String]) -> bool {
    let distinct = tags.iter().enumerate().filter(|(i, t)| !tags[..*i].contains(t)).count();
    distinct == set.len() && tags.iter().all(|t| set.binary_search(t).is_ok())
}

/// The canonical tag set: sorted, without duplicates.
pub fn tag_set(tags: &[String]) -> Vec<String> {
    let mut set = tags.to_vec();
    set.sort();
    set.dedup();
    set
}

/// The rollups of the verifications recorded since the last flush, by key.
#[derive(Debug, Default)]
pub struct Rollups {
    by_key: HashMap<String, Vec<Rollup>>,
    len: usize,
}

impl Rollups {
    /// Distinct rollups held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Counts one verification.
    pub fn add(&mut self, e: &Event<'_>) {
        let hour = hour_of(e.time);
        let identity = e.identity_id.unwrap_or("");
        let slots = match self.by_key.get_mut(e.key_id) {
            Some(slots) => slots,
            None => self.by_key.entry(e.key_id.to_string()).or_default(),
        };
        let slot = match slots.iter().position(|r| r.matches(hour, identity, e.tags)) {
            Some(i) => &mut slots[i],
            None => {
                self.len += 1;
                slots.push(Rollup {
                    workspace_id: e.workspace_id.to_string(),
                    key_space_id: e.key_space_id.to_string(),
                    key_id: e.key_id.to_string(),
                    identity_id: identity.to_string(),
                    tags: tag_set(e.tags),
                    hour,
                    counts: [0; OUTCOMES],
                    spent: 0,
                });
                let last = slots.len() - 1;
                &mut slots[last]
            }
        };
        slot.counts[outcome_index(e.denial)] += 1;
        slot.spent += e.spent;
    }

    /// Takes every rollup out (to be written), leaving this empty.
    pub fn take(&mut self) -> Vec<Rollup> {
        self.len = 0;
        self.by_key.drain().flat_map(|(_, slots)| slots).collect()
    }

    /// Adds rollups back (a flush that failed), summing with the ones recorded meanwhile; keeps at
    /// most `cap` distinct rollups and returns how many were dropped.
    pub fn merge(&mut self, rows: Vec<Rollup>, cap: usize) -> usize {
        let mut dropped = 0;
        for row in rows {
            let slots = self.by_key.entry(row.key_id.clone()).or_default();
            match slots.iter_mut().find(|r| r.matches(row.hour, &row.identity_id, &row.tags)) {
                Some(slot) => {
                    for (sum, n) in slot.counts.iter_mut().zip(row.counts) {
                        *sum += n;
                    }
                    slot.spent += row.spent;
                }
                None if self.len < cap => {
                    self.len += 1;
                    slots.push(row);
                }
                None => dropped += 1,
            }
        }
        self.by_key.retain(|_, slots| !slots.is_empty());
        dropped
    }
}

/// The time slices of an analytics query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeBucket {
    Hour,
    Day,
    Month,
}

/// How analytics rows are grouped (several at once; none = one row for the whole range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grouping {
    /// The coarsest time slice asked for (upstream's rule when several are given).
    pub time: Option<TimeBucket>,
    pub key: bool,
    pub identity: bool,
    /// The whole tag set of the verifications.
    pub tags: bool,
    /// Each tag on its own (a verification with two tags counts in both).
    pub tag: bool,
}

impl Grouping {
    pub fn by_time(&mut self, bucket: TimeBucket) {
        self.time = Some(self.time.map_or(bucket, |t| t.max(bucket)));
    }
}

/// The numbers an analytics query can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Time,
    /// One of the outcome counters ([`outcome_index`] order).
    Outcome(usize),
    Total,
    SpentCredits,
    /// An outcome keygate never records (NOT_FOUND, UNAUTHORIZED): always 0.
    Zero,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn event<'a>(key: &'a str, t: &'a [String], time: i64, denial: Option<Denial>, spent: i64) -> Event<'a> {
        Event {
            workspace_id: "ws_1",
            key_space_id: "ks_1",
            key_id: key,
            identity_id: None,
            tags: t,
            time,
            denial,
            spent,
        }
    }

    fn sorted(mut rows: Vec<Rollup>) -> Vec<Rollup> {
        rows.sort_by(|a, b| (&a.key_id, a.hour, &a.tags).cmp(&(&b.key_id, b.hour, &b.tags)));
        rows
    }

    #[test]
    fn the_coarsest_time_slice_wins() {
        let mut g = Grouping::default();
        g.by_time(TimeBucket::Hour);
        assert_eq!(g.time, Some(TimeBucket::Hour));
        g.by_time(TimeBucket::Month);
        g.by_time(TimeBucket::Day);
        assert_eq!(g.time, Some(TimeBucket::Month));
    }

    #[test]
    fn hours_and_cutoffs() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MS - 1), 0);
        assert_eq!(hour_of(HOUR_MS), HOUR_MS);
        assert_eq!(hour_of(1_700_000_123_456), 1_699_999_200_000);
        assert_eq!(retention_cutoff(100 * DAY_MS, 90), 10 * DAY_MS);
    }

    #[test]
    fn outcomes_have_distinct_counters() {
        let all = [
            None,
            Some(Denial::RateLimited),
            Some(Denial::UsageExceeded),
            Some(Denial::Disabled),
            Some(Denial::Expired),
            Some(Denial::Forbidden),
            Some(Denial::InsufficientPermissions),
        ];
        let mut seen: Vec<usize> = all.iter().map(|d| outcome_index(*d)).collect();
        seen.sort();
        assert_eq!(seen, (0..OUTCOMES).collect::<Vec<_>>());
    }

    #[test]
    fn tag_sets_ignore_order_and_repeats() {
        assert!(same_tag_set(&tags(&["a", "b"]), &tags(&["b", "a", "b"])));
        assert!(!same_tag_set(&tags(&["a", "b"]), &tags(&["a"])));
        assert!(!same_tag_set(&tags(&["a"]), &tags(&["a", "c"])));
        assert!(same_tag_set(&[], &[]));
        assert_eq!(tag_set(&tags(&["b", "a", "b"])), tags(&["a", "b"]));
    }

    #[test]
    fn aggregates_by_key_hour_identity_and_tag_set() {
        let mut r = Rollups::default();
        let ab = tags(&["a", "b"]);
        let ba = tags(&["b", "a"]);
        let none: Vec<String> = vec![];
        r.add(&event("key_1", &ab, 10, None, 2));
        r.add(&event("key_1", &ba, 20, Some(Denial::UsageExceeded), 0));
        r.add(&event("key_1", &none, 30, None, 1));
        r.add(&event("key_1", &ab, HOUR_MS + 5, Some(Denial::RateLimited), 0));
        r.add(&event("key_2", &ab, 40, Some(Denial::Expired), 0));
        let mut with_identity = event("key_1", &ab, 50, None, 3);
        with_identity.identity_id = Some("id_1");
        r.add(&with_identity);
        assert_eq!(r.len(), 5);
        let rows = sorted(r.take());
        assert!(r.is_empty());
        assert_eq!(rows.len(), 5);
        let first = &rows[0];
        assert_eq!((first.key_id.as_str(), first.hour, first.tags.as_slice()), ("key_1", 0, &[][..]));
        assert_eq!((first.counts[0], first.spent), (1, 1));
        let ab_rows: Vec<&Rollup> =
            rows.iter().filter(|x| x.key_id == "key_1" && x.hour == 0 && x.tags == ab).collect();
        assert_eq!(ab_rows.len(), 2);
        let plain = ab_rows.iter().find(|x| x.identity_id.is_empty()).expect("no identity");
        assert_eq!((plain.counts, plain.spent), ([1, 0, 1, 0, 0, 0, 0], 2));
        let identity = ab_rows.iter().find(|x| x.identity_id == "id_1").expect("identity");
        assert_eq!((identity.counts[0], identity.spent), (1, 3));
        assert_eq!(rows.iter().find(|x| x.hour == HOUR_MS).map(|x| x.counts[1]), Some(1));
        assert_eq!(rows.iter().find(|x| x.key_id == "key_2").map(|x| x.counts[4]), Some(1));
        assert_eq!(rows[0].tags_json(), "[]");
        assert_eq!(plain.tags_json(), r#"["a","b"]"#);
    }

    #[test]
    fn merge_sums_and_caps() {
        let ab = tags(&["a", "b"]);
        let mut failed = Rollups::default();
        failed.add(&event("key_1", &ab, 10, None, 2));
        failed.add(&event("key_2", &ab, 10, None, 0));
        let failed = failed.take();
        let mut r = Rollups::default();
        r.add(&event("key_1", &ab, 20, None, 1));
        assert_eq!(r.merge(failed.clone(), 10), 0);
        assert_eq!(r.len(), 2);
        let rows = sorted(r.take());
        assert_eq!((rows[0].counts[0], rows[0].spent), (2, 3));
        // over the cap, new rollups are dropped but existing ones still sum
        let mut r = Rollups::default();
        r.add(&event("key_1", &ab, 20, None, 1));
        assert_eq!(r.merge(failed, 1), 1);
        assert_eq!(r.len(), 1);
        assert_eq!(r.take()[0].counts[0], 2);
    }
}
