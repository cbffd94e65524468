//! keys.verifyKey (v1 §3): load the key, run the ordered checks (domain::verify), then rate
//! limits (which spend no credits when they reject), then credits; record the outcome.

use std::rc::Rc;

use super::{keycache, Ctx, Error, Result};
use crate::domain::credits::Balance;
use crate::domain::keys::hash_key;
use crate::domain::permissions::PermissionQuery;
use crate::domain::ratelimit::{
    plan_checks, summarise, Configured, LimitCheck, LimitSummary, Requested, UnknownLimit,
};
use crate::domain::verify::{precheck, Caller, Denial};
use crate::store::analytics::{self, VerificationEvent};
use crate::store::verification::{KeyLimitRow, LoadedKey};

/// What a verification asks.
#[derive(Debug, Clone, Default)]
pub struct VerifyInput {
    pub key: String,
    pub api_id: Option<String>,
    pub tags: Vec<String>,
    pub permissions: Option<PermissionQuery>,
    /// Credits to spend (default 1).
    pub cost: i64,
    pub ratelimits: Vec<Requested>,
}

/// A verification of an existing key: a denial, or valid with what was charged.
pub struct Verified {
    pub key: Rc<LoadedKey>,
    pub denial: Option<Denial>,
    pub ratelimit: Option<LimitSummary>,
    /// The charged balance after the verification; `None` = unlimited.
    pub remaining: Option<i64>,
    pub spent: i64,
}

/// Verifies a key; `None` when there is no such key (NOT_FOUND).
pub async fn verify(ctx: &Ctx, input: &VerifyInput) -> Result<Option<Verified>> {
    let Some(key) = keycache::load(ctx, &hash_key(&input.key)).await? else {
        return Ok(None);
    };
    if !key.key.workspaces_enabled {
        return Err(Error::Forbidden("workspace is disabled".into()));
    }
    let verified = check(ctx, key, input).await?;
    record(ctx, &verified, input);
    Ok(Some(verified))
}

/// Checks 4–10 of v1 §3.2 in order.
async fn check(ctx: &Ctx, key: Rc<LoadedKey>, input: &VerifyInput) -> Result<Verified> {
    let mut v = Verified { key, denial: None, ratelimit: None, remaining: None, spent: 0 };
    let caller = Caller {
        api_id: input.api_id.as_deref(),
        ip: ctx.origin.ip.as_deref(),
        permissions: input.permissions.as_ref(),
    };
    if let Err(denial) = precheck(&v.key.facts(), &caller, ctx.now) {
        v.denial = Some(denial);
        return Ok(v);
    }
    let limits = ratelimit_checks(&v.key, &input.ratelimits)?;
    if !limits.is_empty() {
        let k = &v.key.key;
        let identifier = k.identity_id.as_deref().unwrap_or(&k.id);
        let reply = ctx.limiters.limit(identifier, limits, ctx.now).await?;
        v.ratelimit = summarise(&reply.results);
        if !reply.passed {
            v.denial = Some(Denial::RateLimited);
            return Ok(v);
        }
    }
    let k = &v.key.key;
    if let Some(balance) =
        Balance::choose(k.identity_credit_id.as_deref(), k.credit_id.as_deref(), &k.id, k.remaining_requests)
    {
        let reply = ctx.limiters.spend(&balance, input.cost, ctx.now).await?;
        v.remaining = reply.remaining;
        match (reply.valid, reply.exists) {
            (true, true) => v.spent = input.cost,
            (true, false) => {}
            (false, _) => v.denial = Some(Denial::UsageExceeded),
        }
    }
    Ok(v)
}

/// The limits to check, or the spec's 400 for a requested limit that exists nowhere.
fn ratelimit_checks(loaded: &LoadedKey, requested: &[Requested]) -> Result<Vec<LimitCheck>> {
    let configured = |on_key: bool| -> Vec<Configured> {
        loaded.ratelimits.iter().filter(|r| r.on_key == on_key).map(KeyLimitRow::configured).collect()
    };
    plan_checks(&configured(false), &configured(true), requested).map_err(|UnknownLimit(name)| {
        let key = &loaded.key;
        let who = match (&key.identity_id, &key.identity_external_id) {
            (Some(id), Some(external)) => format!(" nor identity {{ id: {id}, externalId: {external}}}"),
            _ => " and there is no identity connected".to_string(),
        };
        Error::bad_request(format!(
            "ratelimit \"{name}\" was requested but does not exist for key \"{}\"{who}",
            key.id
        ))
    })
}

/// Records the outcome after the response.
fn record(ctx: &Ctx, v: &Verified, input: &VerifyInput) {
    let key = &v.key.key;
    let event = VerificationEvent {
        request_id: ctx.request_id.clone(),
        time: ctx.now,
        workspace_id: key.workspace_id.clone(),
        key_space_id: key.key_auth_id.clone(),
        key_id: key.id.clone(),
        outcome: v.denial.map(Denial::code).unwrap_or("VALID"),
        identity_id: key.identity_id.clone(),
        tags: input.tags.clone(),
        spent_credits: v.spent,
    };
    let store = ctx.store.clone();
    ctx.defer(async move {
        if let Err(e) = analytics::record(&store, &event).await {
            worker::console_error!("recording verification {}: {e}", event.request_id);
        }
    });
}
