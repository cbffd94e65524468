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
    let d = duration_ms.max(1);
    let index = now_ms.div_euclid(d);
    Window { index, reset: (index + 1) * d }
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

/// Checks all limits against their current counts (`current[i]` for `checks[i]`).
/// Returns each limit's result and whether the request passes as a whole.
pub fn decide(checks: &[LimitCheck], current: &[i64], now_ms: i64) -> (bool, Vec<LimitResult>) {
    let passes: Vec<bool> =
        checks.iter().zip(current).map(|(c, &cur)| cur.saturating_add(c.cost) <= c.limit).collect();
    let all = passes.iter().all(|p| *p);
    let results = checks
        .iter()
        .zip(current)
        .zip(&passes)
        .map(|((c, &cur), &passed)| {
            let next = if all { cur.saturating_add(c.cost) } else { cur };
            LimitResult {
                name: c.name.clone(),
                passed,
                limit: c.limit,
                remaining: (c.limit - next).max(0),
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
        let (_, results) = decide(&[check("default", 10, 1000, 1), check("b", 0, 60_000, 1)], &[0, 0], 5);
        assert_eq!(summarise(&results), Some(LimitSummary { limit: Some(10), remaining: 0, reset: 60_000 }));
        let (_, results) = decide(&[check("a", 10, 1000, 1)], &[0], 5);
        assert_eq!(summarise(&results), Some(LimitSummary { limit: None, remaining: 9, reset: 1000 }));
        assert_eq!(summarise(&[]), None);
    }

    fn check(name: &str, limit: i64, duration: i64, cost: i64) -> LimitCheck {
        LimitCheck { name: name.into(), limit, duration, cost }
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
        assert!(decide(&c, &[2], 0).0);
        assert_eq!(decide(&c, &[2], 0).1[0].remaining, 0);
        assert!(!decide(&c, &[3], 0).0);
        let c = [check("a", 10, 1000, 4)];
        assert!(decide(&c, &[6], 0).0);
        assert!(!decide(&c, &[7], 0).0);
        // cost 0 passes even at the limit; limit 0 rejects cost 1
        assert!(decide(&[check("a", 3, 1000, 0)], &[3], 0).0);
        assert!(!decide(&[check("a", 0, 1000, 1)], &[0], 0).0);
    }

    #[test]
    fn all_or_nothing() {
        let c = [check("a", 10, 10_000, 4), check("b", 1, 60_000, 2)];
        let (ok, results) = decide(&c, &[0, 0], 5);
        assert!(!ok);
        assert!(results[0].passed);
        assert!(!results[1].passed);
        // nothing moves when the request is rejected
        assert_eq!(results[0].next_count, 0);
        assert_eq!(results[1].next_count, 0);
        assert_eq!(results[0].remaining, 10);
        let (ok, results) = decide(&[check("a", 10, 10_000, 4), check("b", 1, 60_000, 1)], &[0, 0], 5);
        assert!(ok);
        assert_eq!(results[0].next_count, 4);
        assert_eq!(results[0].remaining, 6);
        assert_eq!(results[1].remaining, 0);
        assert_eq!(results[1].reset, 60_000);
    }
}

/// A limit configured on a key or its identity (the `ratelimits` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
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

/// The limits a verification checks (v1 §3.2 step 9): every auto-applied configured limit (the
/// identity's, overridden by the key's of the same name) with cost 1, then each requested limit:
/// ad hoc when it has `limit` and `duration`, else the configured limit of that name, with cost
/// `cost ?? 1`. A requested name replaces an auto-applied one of the same name.
/// `identity` lists the identity's limits, `key` the key's.
pub fn plan_checks(
    identity: &[Configured],
    key: &[Configured],
    requested: &[Requested],
) -> Result<Vec<LimitCheck>, UnknownLimit> {
    // linear in the number of limits: names are found through maps, never by scanning
    let mut configured: Vec<&Configured> = Vec::new();
    let mut configured_at: HashMap<&str, usize> = HashMap::new();
    for c in identity.iter().chain(key) {
        match configured_at.get(c.name.as_str()) {
            Some(&i) => configured[i] = c,
            None => {
                configured_at.insert(&c.name, configured.len());
                configured.push(c);
            }
        }
    }
    let mut checks: Vec<LimitCheck> = Vec::new();
    let mut check_at: HashMap<&str, usize> = HashMap::new();
    let auto = configured.iter().filter(|c| c.auto_apply).map(|c| (c.name.as_str(), c.limit, c.duration, 1));
    let mut wanted = Vec::with_capacity(requested.len());
    for r in requested {
        let cost = r.cost.unwrap_or(1);
        wanted.push(match (r.limit, r.duration) {
            (Some(limit), Some(duration)) => (r.name.as_str(), limit, duration, cost),
            _ => {
                let c = configured_at
                    .get(r.name.as_str())
                    .map(|&i| configured[i])
                    .ok_or_else(|| UnknownLimit(r.name.clone()))?;
                (c.name.as_str(), c.limit, c.duration, cost)
            }
        });
    }
    for (name, limit, duration, cost) in auto.chain(wanted) {
        let check = LimitCheck { name: name.to_string(), limit, duration, cost };
        match check_at.get(name) {
            Some(&i) => checks[i] = check,
            None => {
                check_at.insert(name, checks.len());
                checks.push(check);
            }
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn conf(name: &str, limit: i64, duration: i64, auto_apply: bool) -> Configured {
        Configured { name: name.into(), limit, duration, auto_apply }
    }

    fn req(name: &str, cost: Option<i64>, limit: Option<i64>, duration: Option<i64>) -> Requested {
        Requested { name: name.into(), cost, limit, duration }
    }

    #[test]
    fn auto_applied_limits_with_key_overriding_identity() {
        let identity = [conf("default", 100, 60_000, true), conf("tokens", 5, 1000, false)];
        let key = [conf("default", 10, 1000, true)];
        let checks = plan_checks(&identity, &key, &[]).expect("plan");
        assert_eq!(checks, vec![LimitCheck { name: "default".into(), limit: 10, duration: 1000, cost: 1 }]);
    }

    #[test]
    fn requested_limits() {
        let key = [conf("default", 10, 60_000, true), conf("tokens", 5, 1000, false)];
        let checks =
            plan_checks(&[], &key, &[req("default", None, None, None), req("tokens", Some(3), None, None)])
                .expect("plan");
        assert_eq!(
            checks,
            vec![
                LimitCheck { name: "default".into(), limit: 10, duration: 60_000, cost: 1 },
                LimitCheck { name: "tokens".into(), limit: 5, duration: 1000, cost: 3 },
            ]
        );
        // ad hoc limits need both limit and duration and replace a configured one
        let checks = plan_checks(&[], &key, &[req("default", Some(2), Some(1), Some(5000))]).expect("plan");
        assert_eq!(checks, vec![LimitCheck { name: "default".into(), limit: 1, duration: 5000, cost: 2 }]);
        let checks = plan_checks(
            &[],
            &[],
            &[req("a", Some(4), Some(10), Some(10_000)), req("b", None, Some(1), Some(60_000))],
        )
        .expect("plan");
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[1].cost, 1);
    }

    #[test]
    fn unknown_requested_limit() {
        assert_eq!(
            plan_checks(&[], &[], &[req("nope", None, Some(5), None)]),
            Err(UnknownLimit("nope".into()))
        );
    }
}
