//! The short text of the usage limiter's commonest message: a spend without an
//! `Idempotency-Key` (every verification of a key with credits), and of its answer. The other
//! messages, and these when a test or an operator sends JSON, stay JSON; the object answers in
//! the form it was asked.
//!
//! A spend is `s<cost> <now> <kind><balance id>` (`kind`: `i` an identity's credits row, `c` a
//! key's, `l` a key's legacy column); its answer `=<exists><valid> <remaining>` (flags `1`/`0`,
//! remaining `-` when unlimited). Neither can be taken for JSON (which starts with `{` or `"`),
//! and neither holds a line break (a batch message is a line per spend).
//! Measured against the JSON of both (docs/performance.md).

use super::credits::Balance;

/// The spend's text; `None` when the balance id holds a line break (the JSON form is used).
pub fn spend(balance: &Balance, cost: i64, now: i64) -> Option<String> {
    let (kind, id) = match balance {
        Balance::IdentityCredits(id) => ('i', id),
        Balance::KeyCredits(id) => ('c', id),
        Balance::LegacyKey(id) => ('l', id),
    };
    if id.contains(['\n', '\r']) {
        return None;
    }
    Some(format!("s{cost} {now} {kind}{id}"))
}

/// A spend read back: `None` when `text` is not in this form (JSON); `Some(Err)` when it is but
/// does not read (the message says why).
pub fn parse_spend(text: &str) -> Option<Result<(Balance, i64, i64), String>> {
    let rest = text.strip_prefix('s')?;
    Some(read_spend(rest).ok_or_else(|| format!("bad usage-limiter request: {text:?} is not a spend")))
}

fn read_spend(rest: &str) -> Option<(Balance, i64, i64)> {
    let mut parts = rest.splitn(3, ' ');
    let cost = parts.next()?.parse().ok()?;
    let now = parts.next()?.parse().ok()?;
    let target = parts.next()?;
    let mut chars = target.chars();
    let kind = chars.next()?;
    let id = chars.as_str().to_string();
    let balance = match kind {
        'i' => Balance::IdentityCredits(id),
        'c' => Balance::KeyCredits(id),
        'l' => Balance::LegacyKey(id),
        _ => return None,
    };
    Some((balance, cost, now))
}

/// The answer to a spend (see `limiter::protocol::UsageReply`, whose replayed and reused flags a
/// spend without an `Idempotency-Key` never sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    pub exists: bool,
    pub valid: bool,
    pub remaining: Option<i64>,
}

/// The answer's text.
pub fn reply(spent: Spent) -> String {
    let flag = |b: bool| if b { '1' } else { '0' };
    match spent.remaining {
        Some(n) => format!("={}{} {n}", flag(spent.exists), flag(spent.valid)),
        None => format!("={}{} -", flag(spent.exists), flag(spent.valid)),
    }
}

/// An answer read back: `None` when `text` is not in this form (JSON); `Some(Err)` when it is but
/// does not read.
pub fn parse_reply(text: &str) -> Option<Result<Spent, String>> {
    let rest = text.strip_prefix('=')?;
    Some(read_reply(rest).ok_or_else(|| format!("a usage limiter answered {text:?}")))
}

fn read_reply(rest: &str) -> Option<Spent> {
    let flag = |c: u8| match c {
        b'1' => Some(true),
        b'0' => Some(false),
        _ => None,
    };
    let (flags, remaining) = rest.split_once(' ')?;
    let [exists, valid] = flags.as_bytes() else { return None };
    let remaining = match remaining {
        "-" => None,
        n => Some(n.parse().ok()?),
    };
    Some(Spent { exists: flag(*exists)?, valid: flag(*valid)?, remaining })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spend_reads_back_as_it_was_written() {
        for balance in [
            Balance::IdentityCredits("cred_1".into()),
            Balance::KeyCredits("cred 2 with spaces".into()),
            Balance::LegacyKey("key_3".into()),
        ] {
            for (cost, now) in [(0, 0), (1, 1_764_000_000_000), (i64::MAX, -1)] {
                let text = spend(&balance, cost, now).expect("no line break");
                assert!(!text.contains('\n'));
                assert_eq!(parse_spend(&text), Some(Ok((balance.clone(), cost, now))));
            }
        }
    }

    #[test]
    fn a_negative_cost_reads_as_written_and_is_refused_by_the_object() {
        let text = spend(&Balance::KeyCredits("c".into()), -5, 1).expect("text");
        assert_eq!(parse_spend(&text), Some(Ok((Balance::KeyCredits("c".into()), -5, 1))));
    }

    #[test]
    fn json_is_not_taken_for_the_short_form() {
        assert_eq!(parse_spend(r#"{"op":"spend"}"#), None);
        assert_eq!(parse_reply(r#"{"exists":true}"#), None);
        assert_eq!(parse_reply(r#""an error""#), None);
    }

    #[test]
    fn a_balance_id_with_a_line_break_has_no_short_form() {
        assert_eq!(spend(&Balance::KeyCredits("a\nb".into()), 1, 1), None);
        assert_eq!(spend(&Balance::KeyCredits("a\rb".into()), 1, 1), None);
    }

    #[test]
    fn malformed_short_forms_are_errors_not_json() {
        for text in ["s", "s1", "s1 2", "s1 2 x9", "sx 2 c9", "s1 2.5 c9", "s1 2 "] {
            assert!(matches!(parse_spend(text), Some(Err(_))), "{text}");
        }
        for text in ["=", "=1", "=11", "=1 5", "=12 5", "=11 x", "=111 5"] {
            assert!(matches!(parse_reply(text), Some(Err(_))), "{text}");
        }
    }

    #[test]
    fn a_reply_reads_back_as_it_was_written() {
        for spent in [
            Spent { exists: true, valid: true, remaining: Some(41) },
            Spent { exists: true, valid: false, remaining: Some(0) },
            Spent { exists: true, valid: true, remaining: None },
            Spent { exists: false, valid: true, remaining: None },
            Spent { exists: true, valid: true, remaining: Some(-9_007_199_254_740_991) },
        ] {
            assert_eq!(parse_reply(&reply(spent)), Some(Ok(spent)));
        }
    }
}
