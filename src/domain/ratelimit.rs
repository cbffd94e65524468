//! Fixed-window rate limiting: `window = floor(now / duration)`, `reset = (window + 1) * duration`,
//! a request passes iff `current + cost <= limit`. Several limits checked together are
//! all-or-nothing: when one rejects, no counter moves.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One limit to check in a request (sent to the rate-limiter object as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitCheck {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
}

/// The window a limit falls in at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: i64,
    pub reset: i64,
}

pub fn window(now_ms: i64, duration_ms: i64) -> Window {
    let index = now_ms.div_euclid(duration_ms.max(1));
    Window { index, reset: reset_of(index, duration_ms) }
}

/// When window `index` of limits of `duration_ms` ends.
pub fn reset_of(index: i64, duration_ms: i64) -> i64 {
    (index + 1) * duration_ms.max(1)
}

/// One limit's outcome (returned by the rate-limiter object as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitResult {
    pub name: String,
    pub passed: bool,
    pub limit: i64,
    /// `max(0, limit - count)` after this request (the count only grows when all passed).
    pub remaining: i64,
    pub reset: i64,
    /// The counter value to store when the whole request passes.
    pub next_count: i64,
}

/// How a window's count is judged: v1 counts the current fixed window only; v2 answers
/// upstream's sliding window over the same counters (the previous window's count weighted by how
/// much of it still overlaps). Both count in the current window, so a limit counted through both
/// never admits more than the limit within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Algorithm {
    #[default]
    Fixed,
    Sliding,
}

/// The counts of a limit's window and of the window before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub current: i64,
    pub previous: i64,
}

/// The previous window's count as much as it still weighs at `now`:
/// `floor(previous × (1 − elapsed / duration))`.
pub fn weighted_previous(previous: i64, now_ms: i64, duration_ms: i64) -> i64 {
    let d = duration_ms.max(1) as i128;
    let elapsed = now_ms.rem_euclid(duration_ms.max(1)) as i128;
    (previous.max(0) as i128 * (d - elapsed) / d) as i64
}

/// Checks all limits against their counts (`counts[i]` for `checks[i]`); checks of the same
/// counter (name and duration) see the costs of the ones before them. Returns each limit's result
/// and whether the request passes as a whole (only then is anything counted).
pub fn decide(
    checks: &[LimitCheck],
    counts: &[Counts],
    now_ms: i64,
    algorithm: Algorithm,
) -> (bool, Vec<LimitResult>) {
    // the count each check starts from: its window's count plus the costs of earlier checks of the
    // same counter in this request
    let start: Vec<i64> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let earlier: i64 = checks[..i]
                .iter()
                .filter(|e| e.name == c.name && e.duration == c.duration)
                .map(|e| e.cost)
                .sum();
            counts.get(i).map_or(0, |n| n.current).saturating_add(earlier)
        })
        .collect();
    let seen = |i: usize, c: &LimitCheck| match algorithm {
        Algorithm::Fixed => start[i],
        Algorithm::Sliding => start[i].saturating_add(weighted_previous(
            counts.get(i).map_or(0, |n| n.previous),
            now_ms,
            c.duration,
        )),
    };
    let passes: Vec<bool> =
        checks.iter().enumerate().map(|(i, c)| seen(i, c).saturating_add(c.cost) <= c.limit).collect();
    let all = passes.iter().all(|p| *p);
    let results = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let next = if all { start[i].saturating_add(c.cost) } else { start[i] };
            let remaining = match algorithm {
                Algorithm::Fixed => c.limit - next,
                Algorithm::Sliding if !passes[i] => 0,
                Algorithm::Sliding => c.limit - seen(i, c) - if all { c.cost } else { 0 },
            };
            LimitResult {
                name: c.name.clone(),
                passed: passes[i],
                limit: c.limit,
                remaining: remaining.max(0),
                reset: window(now_ms, c.duration).reset,
                next_count: next,
            }
        })
        .collect();
    (all, results)
}

/// What a verification reports of its rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSummary {
    /// The limit of the `default` limit, when one was checked.
    pub limit: Option<i64>,
    pub remaining: i64,
    pub reset: i64,
}

/// Remaining and reset of the first failing limit (else of the first one), and the limit of the
/// `default` limit when one was checked.
pub fn summarise(results: &[LimitResult]) -> Option<LimitSummary> {
    let decisive = results.iter().find(|r| !r.passed).or_else(|| results.first())?;
    Some(LimitSummary {
        limit: results.iter().find(|r| r.name == "default").map(|r| r.limit),
        remaining: decisive.remaining,
        reset: decisive.reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_the_failing_limit() {
        let (_, results) = decide(
            &[check("default", 10, 1000, 1), check("b", 0, 60_000, 1)],
            &counts(&[0, 0]),
            5,
            Algorithm::Fixed,
        );
        assert_eq!(summarise(&results), Some(LimitSummary { limit: Some(10), remaining: 0, reset: 60_000 }));
        let (_, results) = decide(&[check("a", 10, 1000, 1)], &counts(&[0]), 5, Algorithm::Fixed);
        assert_eq!(summarise(&results), Some(LimitSummary { limit: None, remaining: 9, reset: 1000 }));
        assert_eq!(summarise(&[]), None);
    }

    fn check(name: &str, limit: i64, duration: i64, cost: i64) -> LimitCheck {
        LimitCheck { name: name.into(), limit, duration, cost }
    }

    fn counts(current: &[i64]) -> Vec<Counts> {
        current.iter().map(|&current| Counts { current, previous: 0 }).collect()
    }

    #[test]
    fn sliding_window_weighs_the_previous_window() {
        // 10 per second; 8 counted in the previous second; a quarter into this one, 6 of them
        // still weigh: 6 + current 3 + cost 1 = 10 passes, 11 does not
        assert_eq!(weighted_previous(8, 1250, 1000), 6);
        assert_eq!(weighted_previous(8, 1000, 1000), 8);
        assert_eq!(weighted_previous(8, 1999, 1000), 0);
        let c = [check("a", 10, 1000, 1)];
        let (ok, r) = decide(&c, &[Counts { current: 3, previous: 8 }], 1250, Algorithm::Sliding);
        assert!(ok);
        assert_eq!((r[0].remaining, r[0].next_count, r[0].reset), (0, 4, 2000));
        let (ok, r) = decide(&c, &[Counts { current: 4, previous: 8 }], 1250, Algorithm::Sliding);
        assert!(!ok);
        assert_eq!((r[0].remaining, r[0].next_count), (0, 4));
        // the fixed window ignores the previous count
        assert!(decide(&c, &[Counts { current: 4, previous: 8 }], 1250, Algorithm::Fixed).0);
        // cost 0 checks without counting
        let (ok, r) =
            decide(&[check("a", 10, 1000, 0)], &[Counts { current: 2, previous: 0 }], 0, Algorithm::Sliding);
        assert!(ok);
        assert_eq!((r[0].remaining, r[0].next_count), (8, 2));
    }

    #[test]
    fn sliding_never_admits_more_than_fixed() {
        for previous in [0, 3, 10] {
            for current in 0..12 {
                for now in [0, 250, 999] {
                    let c = [check("a", 10, 1000, 1)];
                    let n = [Counts { current, previous }];
                    if decide(&c, &n, now, Algorithm::Sliding).0 {
                        assert!(decide(&c, &n, now, Algorithm::Fixed).0);
                    }
                }
            }
        }
    }

    #[test]
    fn checks_of_one_counter_add_up() {
        // the same counter twice in one request: the second sees the first's cost
        let c = [check("a", 3, 1000, 2), check("a", 3, 1000, 2)];
        let (ok, r) = decide(&c, &counts(&[0, 0]), 0, Algorithm::Fixed);
        assert!(!ok);
        assert!(r[0].passed && !r[1].passed);
        let c = [check("a", 4, 1000, 2), check("a", 4, 1000, 2)];
        let (ok, r) = decide(&c, &counts(&[0, 0]), 0, Algorithm::Fixed);
        assert!(ok);
        assert_eq!((r[0].next_count, r[1].next_count), (2, 4));
    }

    #[test]
    fn window_math() {
        assert_eq!(window(12_345, 1000), Window { index: 12, reset: 13_000 });
        assert_eq!(window(13_000, 1000), Window { index: 13, reset: 14_000 });
        assert_eq!(window(59_999, 60_000), Window { index: 0, reset: 60_000 });
    }

    #[test]
    fn passes_up_to_the_limit() {
        let c = [check("a", 3, 1000, 1)];
        assert!(decide(&c, &counts(&[2]), 0, Algorithm::Fixed).0);
        assert_eq!(decide(&c, &counts(&[2]), 0, Algorithm::Fixed).1[0].remaining, 0);
        assert!(!decide(&c, &counts(&[3]), 0, Algorithm::Fixed).0);
        let c = [check("a", 10, 1000, 4)];
        assert!(decide(&c, &counts(&[6]), 0, Algorithm::Fixed).0);
        assert!(!decide(&c, &counts(&[7]), 0, Algorithm::Fixed).0);
        // cost 0 passes even at the limit; limit 0 rejects cost 1
        assert!(decide(&[check("a", 3, 1000, 0)], &counts(&[3]), 0, Algorithm::Fixed).0);
        assert!(!decide(&[check("a", 0, 1000, 1)], &counts(&[0]), 0, Algorithm::Fixed).0);
    }

    #[test]
    fn all_or_nothing() {
        let c = [check("a", 10, 10_000, 4), check("b", 1, 60_000, 2)];
        let (ok, results) = decide(&c, &counts(&[0, 0]), 5, Algorithm::Fixed);
        assert!(!ok);
        assert!(results[0].passed);
        assert!(!results[1].passed);
        // nothing moves when the request is rejected
        assert_eq!(results[0].next_count, 0);
        assert_eq!(results[1].next_count, 0);
        assert_eq!(results[0].remaining, 10);
        let (ok, results) = decide(
            &[check("a", 10, 10_000, 4), check("b", 1, 60_000, 1)],
            &counts(&[0, 0]),
            5,
            Algorithm::Fixed,
        );
        assert!(ok);
        assert_eq!(results[0].next_count, 4);
        assert_eq!(results[0].remaining, 6);
        assert_eq!(results[1].remaining, 0);
        assert_eq!(results[1].reset, 60_000);
    }
}

/// A named rate limit to configure on a key (v1's `ratelimit` is the auto-applied limit
/// `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedLimit {
    pub name: String,
    pub limit: i64,
    /// The window in ms.
    pub duration: i64,
    /// Checked on every verification (else only when a verification names it).
    pub auto_apply: bool,
}

/// A limit configured on a key or its identity (the `ratelimits` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

/// A limit named in a verification request's `ratelimits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub name: String,
    pub cost: Option<i64>,
    pub limit: Option<i64>,
    pub duration: Option<i64>,
}

/// A requested limit that is neither ad hoc (limit + duration) nor configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLimit(pub String);

/// A limit a verification checks, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub check: LimitCheck,
    /// The configured limit's id; `None` for an ad hoc limit of the request.
    pub id: Option<String>,
    pub auto_apply: bool,
}

/// The limits a verification checks (v1 §3.2 step 9): every auto-applied configured limit (the
/// identity's, overridden by the key's of the same name) with cost 1, then each requested limit:
/// ad hoc when it has `limit` and `duration`, else the configured limit of that name, with cost
/// `cost ?? 1`. A requested name replaces an auto-applied one of the same name.
/// `identity` lists the identity's limits, `key` the key's.
pub fn plan_checks(
    identity: &[Configured],
    key: &[Configured],
    requested: &[Requested],
) -> Result<Vec<Planned>, UnknownLimit> {
    // linear in the number of limits: names are found through maps, never by scanning
    let configured = merge_configured(identity, key);
    let by_name: HashMap<&str, &Configured> = configured.iter().map(|c| (c.name.as_str(), *c)).collect();
    let planned = |c: &Configured, cost: i64| Planned {
        check: LimitCheck { name: c.name.clone(), limit: c.limit, duration: c.duration, cost },
        id: Some(c.id.clone()),
        auto_apply: c.auto_apply,
    };
    let mut checks: Vec<Planned> = Vec::new();
    let mut check_at: HashMap<String, usize> = HashMap::new();
    let mut put = |check: Planned, checks: &mut Vec<Planned>| match check_at.get(&check.check.name) {
        Some(&i) => checks[i] = check,
        None => {
            check_at.insert(check.check.name.clone(), checks.len());
            checks.push(check);
        }
    };
    for c in configured.iter().filter(|c| c.auto_apply) {
        put(planned(c, 1), &mut checks);
    }
    for r in requested {
        let cost = r.cost.unwrap_or(1);
        let check = match (r.limit, r.duration) {
            (Some(limit), Some(duration)) => Planned {
                check: LimitCheck { name: r.name.clone(), limit, duration, cost },
                id: None,
                auto_apply: false,
            },
            _ => planned(by_name.get(r.name.as_str()).ok_or_else(|| UnknownLimit(r.name.clone()))?, cost),
        };
        put(check, &mut checks);
    }
    Ok(checks)
}

/// The configured limits by name: the identity's, each replaced by the key's of the same name.
pub fn merge_configured<'a>(identity: &'a [Configured], key: &'a [Configured]) -> Vec<&'a Configured> {
    let mut configured: Vec<&Configured> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for c in identity.iter().chain(key) {
        match at.get(c.name.as_str()) {
            Some(&i) => configured[i] = c,
            None => {
                at.insert(&c.name, configured.len());
                configured.push(c);
            }
        }
    }
    configured
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn conf(name: &str, limit: i64, duration: i64, auto_apply: bool) -> Configured {
        Configured { id: format!("rl_{name}_{limit}"), name: name.into(), limit, duration, auto_apply }
    }

    fn checks(planned: Vec<Planned>) -> Vec<LimitCheck> {
        planned.into_iter().map(|p| p.check).collect()
    }

    fn req(name: &str, cost: Option<i64>, limit: Option<i64>, duration: Option<i64>) -> Requested {
        Requested { name: name.into(), cost, limit, duration }
    }

    #[test]
    fn auto_applied_limits_with_key_overriding_identity() {
        let identity = [conf("default", 100, 60_000, true), conf("tokens", 5, 1000, false)];
        let key = [conf("default", 10, 1000, true)];
        let planned = plan_checks(&identity, &key, &[]).expect("plan");
        assert_eq!(planned[0].id.as_deref(), Some("rl_default_10"));
        assert!(planned[0].auto_apply);
        assert_eq!(
            checks(planned),
            vec![LimitCheck { name: "default".into(), limit: 10, duration: 1000, cost: 1 }]
        );
    }

    #[test]
    fn requested_limits() {
        let key = [conf("default", 10, 60_000, true), conf("tokens", 5, 1000, false)];
        let got = checks(
            plan_checks(&[], &key, &[req("default", None, None, None), req("tokens", Some(3), None, None)])
                .expect("plan"),
        );
        assert_eq!(
            got,
            vec![
                LimitCheck { name: "default".into(), limit: 10, duration: 60_000, cost: 1 },
                LimitCheck { name: "tokens".into(), limit: 5, duration: 1000, cost: 3 },
            ]
        );
        // ad hoc limits need both limit and duration and replace a configured one
        let planned = plan_checks(&[], &key, &[req("default", Some(2), Some(1), Some(5000))]).expect("plan");
        assert_eq!(planned[0].id, None);
        assert_eq!(
            checks(planned),
            vec![LimitCheck { name: "default".into(), limit: 1, duration: 5000, cost: 2 }]
        );
        let got = plan_checks(
            &[],
            &[],
            &[req("a", Some(4), Some(10), Some(10_000)), req("b", None, Some(1), Some(60_000))],
        )
        .expect("plan");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].check.cost, 1);
    }

    #[test]
    fn unknown_requested_limit() {
        assert_eq!(
            plan_checks(&[], &[], &[req("nope", None, Some(5), None)]),
            Err(UnknownLimit("nope".into()))
        );
    }
}
