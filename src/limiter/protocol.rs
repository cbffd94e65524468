//! The messages between the worker and the limiter Durable Objects: serialised as they are (JSON
//! over the object's `fetch`), one reply type per request.

use serde::{Deserialize, Serialize};

use crate::domain::credits::{Adjustment, Balance};
use crate::domain::ratelimit::{Algorithm, LimitCheck, LimitResult};

/// A request to a usage limiter (one object per balance).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum UsageOp {
    /// Charge `cost` (>= 0; the object refuses a negative one) for a verification at `now`
    /// (unix ms). Answered with [`UsageReply`].
    Spend { balance: Balance, cost: i64, now: i64 },
    /// Change the balance (updateRemaining, updateKey, updateIdentity). Answered with [`UsageReply`]
    /// (`valid: false`: refused, the result would leave ±(2^53 − 1); nothing changed).
    Adjust { balance: Balance, adjustment: Adjustment, now: i64 },
    /// Forget the cached balance; the next request reads storage again. Answered with [`Reloaded`].
    Reload,
}

/// A usage limiter's answer to a spend or an adjustment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageReply {
    /// The balance exists (a deleted credits row or key does not).
    pub exists: bool,
    pub valid: bool,
    /// The balance after the operation (`max(0, balance)` when rejected); `None` = unlimited.
    pub remaining: Option<i64>,
}

impl UsageReply {
    pub const MISSING: UsageReply = UsageReply { exists: false, valid: true, remaining: None };
    pub const UNLIMITED: UsageReply = UsageReply { exists: true, valid: true, remaining: None };
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
}

/// The rate limiter's answer: one result per limit, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateReply {
    pub passed: bool,
    pub results: Vec<LimitResult>,
    /// The size of the object's storage after the request, in bytes.
    #[serde(default)]
    pub stored_bytes: i64,
}
