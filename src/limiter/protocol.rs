//! The messages between the worker and the limiter Durable Objects, one reply type per request:
//! JSON, except a verification's spend and rate-limit check and their replies, which travel as
//! short text (`domain::spend_text`, `domain::rate_text`; an object reads both forms and answers
//! in the form it was asked).

use serde::{Deserialize, Serialize};

use crate::domain::credits::{Adjustment, Balance};
use crate::domain::rate_text;
use crate::domain::ratelimit::{Algorithm, LimitCheck, LimitResult};
use crate::domain::spend_text::{self, Spent};
use crate::store::Stmt;

/// A request's `Idempotency-Key` as the limiter keeps it: the key (unique per workspace), and
/// what the request asked (`fingerprint`): the same key with another fingerprint is refused.
/// Sent as one string, `workspace\nkey\nfingerprint` (none of them holds a line break), which
/// keeps the tagged [`UsageOp`]'s decoding small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub workspace_id: String,
    pub key: String,
    pub fingerprint: String,
}

impl Serialize for Idempotency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}\n{}\n{}", self.workspace_id, self.key, self.fingerprint))
    }
}

impl<'de> Deserialize<'de> for Idempotency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut parts = text.splitn(3, '\n').map(str::to_string);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(workspace_id), Some(key), Some(fingerprint)) => {
                Ok(Idempotency { workspace_id, key, fingerprint })
            }
            _ => Err(serde::de::Error::custom("an idempotency claim is workspace, key and fingerprint")),
        }
    }
}

/// A request to a usage limiter (one object per balance).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum UsageOp {
    /// Charge `cost` (>= 0; the object refuses a negative one) for a verification at `now`
    /// (unix ms). Answered with [`UsageReply`].
    /// With `idempotency`, a spend already answered for the key is answered again (`replayed`).
    Spend {
        balance: Balance,
        cost: i64,
        now: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency: Option<Idempotency>,
    },
    /// Change the balance (updateRemaining, updateKey, updateIdentity). Answered with [`UsageReply`]
    /// (`valid: false`: refused, the result would leave ±(2^53 − 1); nothing changed). `then`
    /// (the rest of the change and its audit rows) is written in the same transaction, right
    /// after the change (and its idempotency record).
    Adjust {
        balance: Balance,
        adjustment: Adjustment,
        now: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency: Option<Idempotency>,
        #[serde(default, skip_serializing_if = "Vec::is_empty", with = "as_text")]
        then: Vec<Stmt>,
    },
    /// Write `stmts` (a change of this balance and its audit rows) as one transaction and forget
    /// the cached balance, before anything else runs in the object. Answered with [`Reloaded`].
    Commit {
        #[serde(with = "as_text")]
        stmts: Vec<Stmt>,
    },
    /// Forget the cached balance; the next request reads storage again. Answered with [`Reloaded`].
    Reload,
}

/// Statements travel as one JSON string (see `Stmt::to_json`), not through the buffering that the
/// tagged [`UsageOp`] needs for its fields (smaller code).
mod as_text {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use crate::store::Stmt;

    pub fn serialize<S: Serializer>(stmts: &[Stmt], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Stmt::to_json(stmts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Stmt>, D::Error> {
        Stmt::from_json(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// A usage limiter's answer to a spend or an adjustment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageReply {
    /// The balance exists (a deleted credits row or key does not).
    pub exists: bool,
    pub valid: bool,
    /// The balance after the operation (`max(0, balance)` when rejected); `None` = unlimited.
    pub remaining: Option<i64>,
    /// The answer of an earlier request with the same `Idempotency-Key`: nothing was charged now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replayed: bool,
    /// The `Idempotency-Key` was used for a different request: nothing was charged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reused: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl UsageReply {
    pub const MISSING: UsageReply =
        UsageReply { exists: false, valid: true, remaining: None, replayed: false, reused: false };
    pub const UNLIMITED: UsageReply =
        UsageReply { exists: true, valid: true, remaining: None, replayed: false, reused: false };
    pub const REUSED: UsageReply =
        UsageReply { exists: true, valid: false, remaining: None, replayed: false, reused: true };

    pub fn new(exists: bool, valid: bool, remaining: Option<i64>) -> Self {
        UsageReply { exists, valid, remaining, replayed: false, reused: false }
    }

    /// The answer in the form of its spend: the short text (`domain::spend_text`; a spend in that
    /// form has no `Idempotency-Key`, so it is never replayed or refused as reused), or JSON.
    pub fn text(self, short: bool) -> Result<String, String> {
        match short {
            true => Ok(spend_text::reply(Spent {
                exists: self.exists,
                valid: self.valid,
                remaining: self.remaining,
            })),
            false => serde_json::to_string(&self).map_err(|e| e.to_string()),
        }
    }

    /// A spend's answer in either form: the short text, or JSON.
    pub fn read(text: &str) -> Result<UsageReply, String> {
        match spend_text::parse_reply(text) {
            Some(spent) => spent.map(|s| UsageReply::new(s.exists, s.valid, s.remaining)),
            None => crate::domain::json::from_str(text).map_err(|e| e.to_string()),
        }
    }
}

/// The acknowledgement of [`UsageOp::Reload`]: the cache is dropped.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reloaded {
    pub reloaded: bool,
}

/// A request to a rate limiter (one object per identifier): check all limits at `now`, count
/// them only if every one passes. The object refuses negative costs and windows shorter than 1 ms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateRequest {
    pub limits: Vec<LimitCheck>,
    pub now: i64,
    /// How the counts are judged (v1: fixed window, v2: sliding).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Take the costs back instead (answered with `passed` and no results): a request whose
    /// limits live in several objects undoes what it counted when one of them rejected it.
    #[serde(default)]
    pub refund: bool,
    /// With a key the object already answered, the request is answered again without counting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,
    /// Report the size of the object's storage in the reply (operators and tests ask; the worker
    /// does not, so a verification does not pay for it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub report_size: bool,
}

/// The rate limiter's answer: one result per limit, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateReply {
    pub passed: bool,
    pub results: Vec<LimitResult>,
    /// The size of the object's storage after the request, in bytes (0 unless `report_size`).
    #[serde(default)]
    pub stored_bytes: i64,
    /// The answer of an earlier request with the same `Idempotency-Key` (nothing counted now).
    #[serde(default, skip_serializing_if = "is_false")]
    pub replayed: bool,
    /// The `Idempotency-Key` was used for a different request: nothing counted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reused: bool,
}

impl RateReply {
    /// The answer in the form of its check: the short text (`domain::rate_text`), or JSON (also
    /// for a name the short text cannot hold).
    pub fn text(&self, short: bool) -> Result<String, String> {
        match short.then(|| rate_text::reply(self.passed, &self.results)).flatten() {
            Some(text) => Ok(text),
            None => serde_json::to_string(self).map_err(|e| e.to_string()),
        }
    }

    /// A check's answer in either form: the short text, or JSON.
    pub fn read(text: &str) -> Result<RateReply, String> {
        match rate_text::parse_reply(text) {
            Some(reply) => reply.map(|(passed, results)| RateReply {
                passed,
                results,
                stored_bytes: 0,
                replayed: false,
                reused: false,
            }),
            None => crate::domain::json::from_str(text).map_err(|e| e.to_string()),
        }
    }
}
