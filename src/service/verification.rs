//! keys.verifyKey (v1 §3, v2 §4.1): load the key, run the ordered checks (domain::verify), then
//! rate limits (which spend no credits when they reject), then credits; record the outcome.
//! v1 verifies any key (public route); v2 verifies as a root key, and a key outside the root key's
//! workspace or verify rights is NOT_FOUND.

use std::rc::Rc;

use super::auth::Principal;
use super::{analytics, idempotency, keycache, Ctx, Error, Result};
use crate::domain::analytics::Event;
use crate::domain::credits::Balance;
use crate::domain::keys::hash_key;
use crate::domain::permissions::{require, PermissionQuery, QuerySyntaxError};
use crate::domain::ratelimit::{
    plan_checks, summarise, Algorithm, Configured, LimitResult, LimitSummary, Planned, Requested,
    UnknownLimit,
};
use crate::domain::verify::{precheck, Caller, Denial};
use crate::limiter::protocol::UsageReply;
use crate::store::verification::{KeyLimitRow, LoadedKey};

/// What a verification asks.
#[derive(Debug, Clone, Default)]
pub struct VerifyInput {
    pub key: String,
    pub api_id: Option<String>,
    pub tags: Vec<String>,
    /// The permission query; a v2 query that does not parse is a 400 once the key is found.
    pub permissions: Option<std::result::Result<PermissionQuery, QuerySyntaxError>>,
    /// Credits to spend (default 1).
    pub cost: i64,
    pub ratelimits: Vec<Requested>,
    /// How rate limits are answered (v1 fixed window, v2 sliding).
    pub algorithm: Algorithm,
}

/// One rate limit a verification checked.
#[derive(Debug, Clone)]
pub struct CheckedLimit {
    /// The configured limit's id (`None` for an ad hoc limit).
    pub id: Option<String>,
    pub auto_apply: bool,
    pub duration: i64,
    pub result: LimitResult,
}

/// A verification of an existing key: a denial, or valid with what was charged.
pub struct Verified {
    pub key: Rc<LoadedKey>,
    pub denial: Option<Denial>,
    pub ratelimit: Option<LimitSummary>,
    pub limits: Vec<CheckedLimit>,
    /// The charged balance after the verification; `None` = unlimited (or not reached).
    pub remaining: Option<i64>,
    /// The credit check ran.
    pub charged: bool,
    pub spent: i64,
}

impl Verified {
    /// The balance to show: the one charged, else the balance the key would charge as its usage
    /// limiter holds it now (a spend of 0: nothing written, answered from the object's memory) —
    /// not the verification cache's copy, which spends do not renew.
    pub async fn credits(&self, ctx: &Ctx) -> Result<Option<i64>> {
        if self.charged {
            return Ok(self.remaining);
        }
        match self.key.key.balance() {
            Some(balance) => Ok(ctx.limiters.spend(&balance, 0, ctx.now, None).await?.remaining),
            None => Ok(None),
        }
    }

    /// The identity's configured limits that no key limit of the same name replaces.
    pub fn identity_limits(&self) -> Vec<&KeyLimitRow> {
        let limits = &self.key.ratelimits;
        limits.iter().filter(|r| !r.on_key && !limits.iter().any(|k| k.on_key && k.name == r.name)).collect()
    }
}

/// Verifies a key (v1, no caller); `None` when there is no such key (NOT_FOUND).
pub async fn verify(ctx: &Ctx, input: &VerifyInput) -> Result<Option<Verified>> {
    idempotency::check(ctx)?;
    let Some(key) = keycache::load(ctx, &hash_key(&input.key)).await? else {
        return Ok(None);
    };
    finish(ctx, key, input).await
}

/// Verifies a key for a root key (v2): `None` (NOT_FOUND) also when the key belongs to another
/// workspace or the root key may not verify keys of its api. A key whose hash is unknown is
/// looked up through the key migration `migration_id` when one is given.
pub async fn verify_as(
    ctx: &Ctx,
    p: &Principal,
    input: &VerifyInput,
    migration_id: Option<&str>,
) -> Result<Option<Verified>> {
    idempotency::check(ctx)?;
    let hash = hash_key(&input.key);
    let mut loaded = keycache::load(ctx, &hash).await?;
    if loaded.is_none() {
        if let Some(migration_id) = migration_id {
            // adopting commits a change, so the cache reads the adopted key afresh
            if super::migrations::adopt(ctx, &p.workspace_id, migration_id, &input.key).await? {
                loaded = keycache::load(ctx, &hash).await?;
            }
        }
    }
    let Some(key) = loaded else {
        return Ok(None);
    };
    if key.key.workspace_id != p.workspace_id || !p.allows(&require::api(&key.key.api_id, "verify_key")) {
        return Ok(None);
    }
    finish(ctx, key, input).await
}

async fn finish(ctx: &Ctx, key: Rc<LoadedKey>, input: &VerifyInput) -> Result<Option<Verified>> {
    if !key.key.workspaces_enabled {
        return Err(Error::Forbidden("workspace is disabled".into()));
    }
    let verified = check(ctx, key, input).await?;
    // a replayed answer was recorded the first time
    if !ctx.replayed.get() {
        record(ctx, &verified, input);
    }
    Ok(Some(verified))
}

/// Checks 4–10 of v1 §3.2 in order.
async fn check(ctx: &Ctx, key: Rc<LoadedKey>, input: &VerifyInput) -> Result<Verified> {
    let query = input.permissions.clone().transpose().map_err(|e| Error::QuerySyntax(e.to_string()))?;
    let mut v = Verified {
        key,
        denial: None,
        ratelimit: None,
        limits: Vec::new(),
        remaining: None,
        charged: false,
        spent: 0,
    };
    let facts = v.key.facts();
    let caller = Caller {
        api_id: input.api_id.as_deref(),
        ip: ctx.origin.ip_for(&facts),
        permissions: query.as_ref(),
    };
    if let Err(denial) = precheck(&facts, &caller, ctx.now) {
        v.denial = Some(denial);
        return Ok(v);
    }
    let balance = v.key.key.balance();
    let spent = match limit(ctx, &mut v, input, balance.as_ref()).await? {
        Limited::Passed(spent) => spent,
        Limited::Denied => return Ok(v),
    };
    if let Some(balance) = balance {
        charge(ctx, &mut v, input, &balance, spent).await?;
    }
    Ok(v)
}

/// What the rate-limit step decided.
enum Limited {
    /// Every limit passed (or there were none); with the spend that rode on the check, if any.
    Passed(Option<UsageReply>),
    Denied,
}

/// Checks the key's rate limits (step 9). Without an `Idempotency-Key` the spend from `balance`
/// rides on the check, in the same wait, when they pass (see `Limiters::limit_then_spend`).
async fn limit(
    ctx: &Ctx,
    v: &mut Verified,
    input: &VerifyInput,
    balance: Option<&Balance>,
) -> Result<Limited> {
    let planned = ratelimit_checks(&v.key, &input.ratelimits)?;
    if planned.is_empty() {
        return Ok(Limited::Passed(None));
    }
    let k = &v.key.key;
    let identifier = k.identity_id.as_deref().unwrap_or(&k.id);
    let checks: Vec<_> = planned.iter().map(|p| p.check.clone()).collect();
    let (reply, spent) = match (balance, &ctx.idempotency_key) {
        (Some(balance), None) => {
            ctx.limiters
                .limit_then_spend(identifier, checks, ctx.now, input.algorithm, balance, input.cost)
                .await?
        }
        (_, idempotency_key) => {
            let claim = match idempotency_key {
                Some(_) => {
                    let asked = serde_json::to_string(&checks)?;
                    idempotency::claim(ctx, &k.workspace_id, &["verifyKey.ratelimits", &k.id, &asked])
                }
                None => None,
            };
            (ctx.limiters.limit(identifier, checks, ctx.now, input.algorithm, claim).await?, None)
        }
    };
    if reply.reused {
        return Err(idempotency::reused());
    }
    idempotency::replayed(ctx, reply.replayed);
    v.ratelimit = summarise(&reply.results);
    v.limits = planned
        .into_iter()
        .zip(reply.results)
        .map(|(p, result)| CheckedLimit {
            id: p.id,
            auto_apply: p.auto_apply,
            duration: p.check.duration,
            result,
        })
        .collect();
    if !reply.passed {
        v.denial = Some(Denial::RateLimited);
        return Ok(Limited::Denied);
    }
    Ok(Limited::Passed(spent))
}

/// Charges the verification's cost to `balance` (step 10), unless `spent` already did.
async fn charge(
    ctx: &Ctx,
    v: &mut Verified,
    input: &VerifyInput,
    balance: &Balance,
    spent: Option<UsageReply>,
) -> Result<()> {
    let reply = match spent {
        Some(reply) => reply,
        None => {
            let k = &v.key.key;
            let claim = ctx.idempotency_key.as_ref().and_then(|_| {
                idempotency::claim(
                    ctx,
                    &k.workspace_id,
                    &["verifyKey.credits", &k.id, &input.cost.to_string()],
                )
            });
            ctx.limiters.spend(balance, input.cost, ctx.now, claim).await?
        }
    };
    if reply.reused {
        return Err(idempotency::reused());
    }
    idempotency::replayed(ctx, reply.replayed);
    v.remaining = reply.remaining;
    v.charged = true;
    match (reply.valid, reply.exists) {
        (true, true) => v.spent = input.cost,
        (true, false) => {}
        (false, _) => v.denial = Some(Denial::UsageExceeded),
    }
    Ok(())
}

/// The limits to check; a requested limit that exists nowhere is a 412 (v1 answers it as a 400).
fn ratelimit_checks(loaded: &LoadedKey, requested: &[Requested]) -> Result<Vec<Planned>> {
    let configured = |on_key: bool| -> Vec<Configured> {
        loaded.ratelimits.iter().filter(|r| r.on_key == on_key).map(KeyLimitRow::configured).collect()
    };
    plan_checks(&configured(false), &configured(true), requested).map_err(|UnknownLimit(name)| {
        let key = &loaded.key;
        let who = match (&key.identity_id, &key.identity_external_id) {
            (Some(id), Some(external)) => format!(" nor identity {{ id: {id}, externalId: {external}}}"),
            _ => " and there is no identity connected".to_string(),
        };
        Error::precondition(format!(
            "ratelimit \"{name}\" was requested but does not exist for key \"{}\"{who}",
            key.id
        ))
    })
}

/// Records the outcome (written after the response, see `service::analytics`).
fn record(ctx: &Ctx, v: &Verified, input: &VerifyInput) {
    let key = &v.key.key;
    analytics::record(
        ctx,
        &Event {
            workspace_id: &key.workspace_id,
            key_space_id: &key.key_auth_id,
            key_id: &key.id,
            identity_id: key.identity_id.as_deref(),
            tags: &input.tags,
            time: ctx.now,
            denial: v.denial,
            spent: v.spent,
        },
    );
}
