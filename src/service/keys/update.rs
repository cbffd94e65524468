//! keys.updateKey, keys.updateRemaining / updateCredits and keys.deleteKey: the credits dual path
//! (planned in `domain::credits`, executed by the credits service) plus the key's other fields.

use super::super::auth::{Credentials, Principal};
use super::super::rbac::{self, LinkRules};
use super::super::{credits, idempotency, Ctx, Error, Result};
use super::{credits_of, meta_json, not_found, state};
use crate::domain::credits::{plan_key_update, plan_remaining, CreditsPlan, RemainingOp, RemainingPlan};
use crate::domain::identities::plan_ratelimits;
use crate::domain::ids::{new_id, IdKind};
use crate::domain::patch::Patch;
use crate::domain::permissions::require;
use crate::domain::ratelimit::NamedLimit;
use crate::domain::rbac::{LinkKind, Wanted};
use crate::domain::refill::Refill;
use crate::domain::Meta;
use crate::store::audit::Target;
use crate::store::balances;
use crate::store::keys::{self, KeyFields, KeyState};
use crate::store::ratelimits;
use crate::store::Scope;

/// updateKey's `ratelimit`: the limit and its window (`duration ?? refillInterval`, else the
/// existing limit's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatelimitPatch {
    pub limit: i64,
    pub duration: Option<i64>,
}

/// updateKey's input: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub key_id: String,
    pub name: Patch<String>,
    /// The owner id (externalId ?? ownerId); the identity link follows it.
    pub owner: Patch<String>,
    pub meta: Patch<Meta>,
    pub expires: Patch<i64>,
    /// The `default` limit (v1).
    pub ratelimit: Patch<RatelimitPatch>,
    /// Replaces every limit of the key by name; kept names keep their ids (v2).
    pub ratelimits: Option<Vec<NamedLimit>>,
    pub remaining: Patch<i64>,
    pub refill: Patch<Refill>,
    pub enabled: Option<bool>,
    /// Replaces the key's roles (setRoles semantics).
    pub roles: Option<Vec<Wanted>>,
    /// Replaces the key's permissions (setPermissions semantics).
    pub permissions: Option<Vec<Wanted>>,
    /// The rights `roles` and `permissions` need.
    pub rules: Option<LinkRules>,
}

/// The live key of the principal's workspace (else 404) that the root key may `action` (else 403).
async fn key_for(ctx: &Ctx, p: &Principal, key_id: &str, action: &str) -> Result<KeyState> {
    let key = state(ctx, key_id).await?;
    if key.workspace_id != p.workspace_id {
        return Err(not_found(key_id));
    }
    p.require(&require::api(key.api_id.as_deref().unwrap_or_default(), action))?;
    Ok(key)
}

/// Stages replacing a key's limits by `wanted` (by name: kept names keep their ids).
async fn stage_ratelimits(
    ctx: &Ctx,
    batch: &mut crate::store::Batch,
    key: &KeyState,
    wanted: &[NamedLimit],
) -> Result<()> {
    let existing = ratelimits::of_key(&ctx.store, &key.id).await?;
    let plan = plan_ratelimits(&existing, wanted, |r| r.name.as_str());
    for id in &plan.delete {
        batch.push(ratelimits::delete_limit(id));
    }
    for (id, rl) in &plan.update {
        batch.push(ratelimits::update_limit(id, rl, ctx.now));
    }
    for rl in &plan.create {
        let id = new_id(IdKind::Ratelimit, ctx.now)?;
        batch.push(ratelimits::upsert_key_limit(&id, &key.id, &key.workspace_id, rl, ctx.now));
    }
    Ok(())
}

pub async fn update(ctx: &Ctx, p: &Principal, req: KeyUpdate) -> Result<()> {
    let key = key_for(ctx, p, &req.key_id, "update_key").await?;
    let plan = plan_key_update(&credits_of(&key), &req.remaining, &req.refill)
        .map_err(|e| Error::bad_request(e.to_string()))?;
    if req.refill.value().is_some_and(Refill::day_conflicts) {
        return Err(Error::bad_request("Cannot set 'refillDay' if 'interval' is 'daily'"));
    }
    let ratelimit = req.ratelimit.try_map(|r| {
        r.duration
            .or(key.default_ratelimit_duration)
            .map(|duration| (r.limit, duration))
            .ok_or_else(|| Error::bad_request("ratelimit.duration: Required"))
    })?;

    let ws = &p.workspace_id;
    let target = vec![Target::named("key", &key.id, key.name.clone())];
    let mut batch = ctx.batch(&p.actor(), ws, "key.update", "", target);
    // an identity it names is linked (made when new), never changed
    batch.only_changes_keys(&[&key.id]);
    if let Patch::Value(external_id) = &req.owner {
        batch.push(keys::ensure_identity(&new_id(IdKind::Identity, ctx.now)?, ws, external_id, ctx.now));
    }
    let fields = KeyFields {
        name: req.name,
        owner: req.owner,
        meta: req.meta.try_map(|m| meta_json(Some(&m), "meta").map(Option::unwrap_or_default))?,
        expires: req.expires,
        enabled: req.enabled,
    };
    batch.push(keys::update_fields(&key.id, ws, &fields, ctx.now));
    credits::stage(&mut batch, &plan, &key.workspace_id, ctx.now)?;
    match ratelimit {
        Patch::Absent => {}
        Patch::Null => {
            batch.push(ratelimits::delete_key_default(&key.id));
        }
        Patch::Value((limit, duration)) => {
            let id = new_id(IdKind::Ratelimit, ctx.now)?;
            let rl = NamedLimit { name: "default".into(), limit, duration, auto_apply: true };
            batch.push(ratelimits::upsert_key_limit(&id, &key.id, &key.workspace_id, &rl, ctx.now));
        }
    }
    if let Some(wanted) = &req.ratelimits {
        stage_ratelimits(ctx, &mut batch, &key, wanted).await?;
    }
    // roles and permissions are replaced as keys.setRoles / keys.setPermissions do
    let rules = req.rules.unwrap_or(LinkRules::V1);
    if let Some(roles) = &req.roles {
        rbac::stage_set(ctx, p, &mut batch, LinkKind::Role, &key.id, roles, rules).await?;
    }
    if let Some(permissions) = &req.permissions {
        rbac::stage_set(ctx, p, &mut batch, LinkKind::Permission, &key.id, permissions, rules).await?;
    }
    credits::commit(ctx, batch, &plan).await
}

/// A key's own balance after updateRemaining / updateCredits, and its refill (amount, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemainingAfter {
    pub remaining: Option<i64>,
    pub refill: Option<(i64, Option<i64>)>,
}

/// updateRemaining (v1): loads the key first (an unknown key is a 404 without credentials), then
/// authenticates; answers the balance as stored after the change.
pub async fn update_remaining(
    ctx: &Ctx,
    creds: &Credentials,
    key_id: &str,
    op: RemainingOp,
    value: Option<i64>,
) -> Result<Option<i64>> {
    idempotency::check(ctx)?;
    let key = state(ctx, key_id).await?;
    let p = creds
        .authenticate(ctx, Some(&require::api(key.api_id.as_deref().unwrap_or_default(), "update_key")))
        .await?;
    if key.workspace_id != p.workspace_id {
        return Err(not_found(key_id));
    }
    Ok(change_remaining(ctx, &p, key, op, value).await?.remaining)
}

/// updateCredits (v2): the key of the principal's workspace (404), `update_key` on its api (403).
pub async fn update_credits(
    ctx: &Ctx,
    p: &Principal,
    key_id: &str,
    op: RemainingOp,
    value: Option<i64>,
) -> Result<RemainingAfter> {
    idempotency::check(ctx)?;
    let key = key_for(ctx, p, key_id, "update_key").await?;
    change_remaining(ctx, p, key, op, value).await
}

async fn change_remaining(
    ctx: &Ctx,
    p: &Principal,
    key: KeyState,
    op: RemainingOp,
    value: Option<i64>,
) -> Result<RemainingAfter> {
    let plan = plan_remaining(&credits_of(&key), op, value).map_err(|e| Error::bad_request(e.to_string()))?;
    let refill = key.refill_amount.filter(|a| *a != 0).map(|a| (a, key.refill_day));
    let target = vec![Target::named("key", &key.id, key.name.clone())];
    let mut writes = CreditsPlan::default();
    let remaining = match plan {
        // the change, its audit row (naming the balance after it) and its idempotency record are
        // one transaction, written by the balance's limiter
        RemainingPlan::Adjust(balance, adjustment) => {
            let display = "Changed remaining to {remaining}";
            let event = ctx.event(&p.actor(), &p.workspace_id, "key.update", display, target);
            let then = balances::audit_of_change(&balance, &event)?;
            let asked = [format!("{op:?}"), format!("{value:?}")];
            let claim = idempotency::claim(
                ctx,
                &p.workspace_id,
                &["keys.updateRemaining", &key.id, &asked[0], &asked[1]],
            );
            let scope = Scope::Keys(vec![key.id.clone()]);
            let remaining = credits::adjust(ctx, &balance, adjustment, claim, then, &scope).await?.remaining;
            ctx.injected_failure("after-commit")?;
            return Ok(RemainingAfter { remaining, refill });
        }
        RemainingPlan::Remove { write, reload, answer } => {
            writes.writes.push(write);
            writes.limiter.push(crate::domain::credits::LimiterStep::Reload(reload));
            answer
        }
        RemainingPlan::Create(write, v) => {
            writes.writes.push(write);
            Some(v)
        }
        RemainingPlan::Nothing => None,
    };
    let shown = remaining.map(|r| r.to_string()).unwrap_or_else(|| "unlimited".into());
    let display = format!("Changed remaining to {shown}");
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.update", &display, target);
    batch.only_changes_keys(&[&key.id]);
    credits::stage(&mut batch, &writes, &key.workspace_id, ctx.now)?;
    credits::commit(ctx, batch, &writes).await?;
    Ok(RemainingAfter { remaining, refill: None })
}

/// deleteKey (v1): loads the key first, then authenticates; another workspace's key is a 403.
pub async fn delete(ctx: &Ctx, creds: &Credentials, key_id: &str, permanent: bool) -> Result<()> {
    let key = state(ctx, key_id).await?;
    let p = creds
        .authenticate(ctx, Some(&require::api(key.api_id.as_deref().unwrap_or_default(), "delete_key")))
        .await?;
    if key.workspace_id != p.workspace_id {
        return Err(Error::unauthorized("you are not allowed to do this"));
    }
    remove(ctx, &p, key, permanent).await
}

/// deleteKey (v2): another workspace's key is not found.
pub async fn delete_as(ctx: &Ctx, p: &Principal, key_id: &str, permanent: bool) -> Result<()> {
    let key = key_for(ctx, p, key_id, "delete_key").await?;
    remove(ctx, p, key, permanent).await
}

async fn remove(ctx: &Ctx, p: &Principal, key: KeyState, permanent: bool) -> Result<()> {
    let target = vec![Target::named("key", &key.id, key.name.clone())];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.delete", "", target);
    batch.only_changes_keys(&[&key.id]);
    keys::keyspace_loses(&mut batch, &key.key_auth_id, &key.id, ctx.now);
    if permanent {
        keys::hard_delete(&mut batch, &key.id);
    } else {
        batch.push(keys::soft_delete(&key.id, ctx.now));
    }
    let plan = CreditsPlan { writes: vec![], limiter: credits::key_removed(&credits_of(&key)) };
    credits::commit(ctx, batch, &plan).await
}
