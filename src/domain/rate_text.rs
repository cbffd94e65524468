//! The short text of the rate limiter's commonest message: a check without an
//! `Idempotency-Key` (every verification of a key with rate limits), and of its answer. Refunds,
//! checks with a key, and these when a test or an operator sends JSON, stay JSON; the object
//! answers in the form it was asked.
//!
//! Fields are separated by tabs. A check is `r<now>`, the algorithm (`f` fixed, `s` sliding),
//! then per limit its limit, duration, cost and name; its answer `+` (all passed) or `-`, then per
//! limit whether it passed (`1`/`0`), its limit, remaining, reset, the count to store, and name.
//! Neither can be taken for JSON (which starts with `{` or `"`), and neither holds a line break
//! (a batch message is a line per check). A name with a tab or a line break has no short form.
//! Measured against the JSON of both (docs/performance.md).

use std::fmt::Write;

use super::ratelimit::{Algorithm, LimitCheck, LimitResult};

fn plain(name: &str) -> bool {
    !name.contains(['\t', '\n', '\r'])
}

/// The check's text; `None` when a limit's name holds a tab or a line break (JSON is used).
pub fn request(limits: &[LimitCheck], now: i64, algorithm: Algorithm) -> Option<String> {
    if !limits.iter().all(|l| plain(&l.name)) {
        return None;
    }
    let algorithm = match algorithm {
        Algorithm::Fixed => 'f',
        Algorithm::Sliding => 's',
    };
    let mut text = format!("r{now}\t{algorithm}");
    for l in limits {
        let _ = write!(text, "\t{}\t{}\t{}\t{}", l.limit, l.duration, l.cost, l.name);
    }
    Some(text)
}

/// A check as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub limits: Vec<LimitCheck>,
    pub now: i64,
    pub algorithm: Algorithm,
}

/// A check read back: `None` when `text` is not in this form (JSON); `Some(Err)` when it is but
/// does not read.
pub fn parse_request(text: &str) -> Option<Result<Check, String>> {
    let rest = text.strip_prefix('r')?;
    Some(read_request(rest).ok_or_else(|| format!("bad rate-limiter request: {text:?} is not a check")))
}

fn read_request(rest: &str) -> Option<Check> {
    let mut fields = rest.split('\t');
    let now = fields.next()?.parse().ok()?;
    let algorithm = match fields.next()? {
        "f" => Algorithm::Fixed,
        "s" => Algorithm::Sliding,
        _ => return None,
    };
    let mut limits = Vec::new();
    while let Some(limit) = fields.next() {
        let limit = limit.parse().ok()?;
        let duration = fields.next()?.parse().ok()?;
        let cost = fields.next()?.parse().ok()?;
        let name = fields.next()?.to_string();
        limits.push(LimitCheck { name, limit, duration, cost });
    }
    Some(Check { limits, now, algorithm })
}

/// The answer's text; `None` when a name holds a tab or a line break.
pub fn reply(passed: bool, results: &[LimitResult]) -> Option<String> {
    if !results.iter().all(|r| plain(&r.name)) {
        return None;
    }
    let mut text = String::from(if passed { "+" } else { "-" });
    for r in results {
        let flag = if r.passed { 1 } else { 0 };
        let _ =
            write!(text, "\t{flag}\t{}\t{}\t{}\t{}\t{}", r.limit, r.remaining, r.reset, r.next_count, r.name);
    }
    Some(text)
}

/// An answer read back: `None` when `text` is not in this form (JSON); `Some(Err)` when it is but
/// does not read.
pub fn parse_reply(text: &str) -> Option<Result<(bool, Vec<LimitResult>), String>> {
    let passed = match text.as_bytes().first()? {
        b'+' => true,
        b'-' => false,
        _ => return None,
    };
    Some(
        read_results(&text[1..])
            .map(|r| (passed, r))
            .ok_or_else(|| format!("a rate limiter answered {text:?}")),
    )
}

fn read_results(rest: &str) -> Option<Vec<LimitResult>> {
    let mut results = Vec::new();
    if rest.is_empty() {
        return Some(results);
    }
    let mut fields = rest.strip_prefix('\t')?.split('\t');
    while let Some(flag) = fields.next() {
        let passed = match flag {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let limit = fields.next()?.parse().ok()?;
        let remaining = fields.next()?.parse().ok()?;
        let reset = fields.next()?.parse().ok()?;
        let next_count = fields.next()?.parse().ok()?;
        let name = fields.next()?.to_string();
        results.push(LimitResult { name, passed, limit, remaining, reset, next_count });
    }
    Some(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, limit: i64, duration: i64, cost: i64) -> LimitCheck {
        LimitCheck { name: name.into(), limit, duration, cost }
    }

    #[test]
    fn a_check_reads_back_as_it_was_written() {
        let cases = [
            vec![],
            vec![check("requests", 10, 60_000, 1)],
            vec![check("a name with spaces", 0, 1, 0), check("", i64::MAX, 2, -3), check("t", 5, 1000, 2)],
        ];
        for limits in cases {
            for algorithm in [Algorithm::Fixed, Algorithm::Sliding] {
                let text = request(&limits, 1_764_000_000_000, algorithm).expect("plain names");
                assert!(!text.contains('\n'));
                let check = Check { limits: limits.clone(), now: 1_764_000_000_000, algorithm };
                assert_eq!(parse_request(&text), Some(Ok(check)));
            }
        }
    }

    #[test]
    fn an_answer_reads_back_as_it_was_written() {
        let results = [
            LimitResult {
                name: "requests".into(),
                passed: true,
                limit: 10,
                remaining: 9,
                reset: 60_000,
                next_count: 1,
            },
            LimitResult {
                name: "a b".into(),
                passed: false,
                limit: 0,
                remaining: 0,
                reset: -1,
                next_count: 0,
            },
            LimitResult { name: "".into(), passed: true, limit: 1, remaining: 0, reset: 2, next_count: 1 },
        ];
        for passed in [true, false] {
            for n in 0..=results.len() {
                let text = reply(passed, &results[..n]).expect("plain names");
                assert_eq!(parse_reply(&text), Some(Ok((passed, results[..n].to_vec()))));
            }
        }
    }

    #[test]
    fn names_with_tabs_or_line_breaks_have_no_short_form() {
        for name in ["a\tb", "a\nb", "a\rb"] {
            assert_eq!(request(&[check(name, 1, 1, 1)], 0, Algorithm::Fixed), None);
            let r = LimitResult {
                name: name.into(),
                passed: true,
                limit: 1,
                remaining: 0,
                reset: 1,
                next_count: 1,
            };
            assert_eq!(reply(true, &[r]), None);
        }
    }

    #[test]
    fn json_is_not_taken_for_the_short_form() {
        assert_eq!(parse_request(r#"{"limits":[],"now":1}"#), None);
        assert_eq!(parse_reply(r#"{"passed":true,"results":[]}"#), None);
        assert_eq!(parse_reply(r#""an error""#), None);
    }

    #[test]
    fn malformed_short_forms_are_errors_not_json() {
        for text in [
            "r",
            "rx\tf",
            "r1",
            "r1\tx",
            "r1\tf\t1",
            "r1\tf\t1\t2\t3",
            "r1\tf\t1\t2.5\t3\tn",
            "r1\tf\tx\t2\t3\tn",
        ] {
            assert!(matches!(parse_request(text), Some(Err(_))), "{text:?}");
        }
        for text in ["+x", "+\t", "+\t1", "+\t2\t1\t1\t1\t1\tn", "-\t1\t1\t1\t1\tn", "+\t1\t1\t1\t1\tx\tn"] {
            assert!(matches!(parse_reply(text), Some(Err(_))), "{text:?}");
        }
    }
}
