//! The request's `Idempotency-Key` (verifyKey, updateRemaining / updateCredits, ratelimits.limit
//! / ratelimit.limit): checked before anything is read or charged, then handed to the limiter
//! object that owns the balance or counter, which answers a repeated request with its first
//! answer (see `docs/decisions.md`).

use super::{Ctx, Error, Resource, Result};
use crate::domain::idempotency::{check as check_key, fingerprint, HEADER};
use crate::limiter::protocol::Idempotency;

/// Refuses a malformed header (400 naming it) before anything else happens.
pub fn check(ctx: &Ctx) -> Result<()> {
    match &ctx.idempotency_key {
        Some(key) => check_key(key).map_err(Error::BadRequest),
        None => Ok(()),
    }
}

/// The request's key in `workspace_id`, with the fingerprint of what the request asks (`parts`).
pub fn claim(ctx: &Ctx, workspace_id: &str, parts: &[&str]) -> Option<Idempotency> {
    ctx.idempotency_key.as_ref().map(|key| Idempotency {
        workspace_id: workspace_id.to_string(),
        key: key.clone(),
        fingerprint: fingerprint(parts),
    })
}

/// The limiter's answer was an earlier request's (`Idempotent-Replayed: true`).
pub fn replayed(ctx: &Ctx, replayed: bool) {
    if replayed {
        ctx.replayed.set(true);
    }
}

/// The key was used for a different request (409): nothing was charged or counted.
pub fn reused() -> Error {
    Error::conflict(
        Resource::IdempotencyKey,
        format!(
            "{HEADER}: this key was used for a different request in the last 24 hours; nothing was charged or counted. Use a new key for a new request"
        ),
    )
}
