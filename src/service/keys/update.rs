//! keys.updateKey, keys.updateRemaining and keys.deleteKey: the credits dual path (planned in
//! `domain::credits`, executed by the credits service) plus the key's other fields.

use super::super::auth::{Credentials, Principal};
use super::super::{credits, rbac, Ctx, Error, Result};
use super::{credits_of, meta_json, not_found, state};
use crate::domain::credits::{plan_key_update, plan_remaining, CreditsPlan, RemainingOp, RemainingPlan};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::patch::Patch;
use crate::domain::permissions::require;
use crate::domain::rbac::{LinkKind, Wanted};
use crate::domain::refill::Refill;
use crate::domain::Meta;
use crate::store::audit::Target;
use crate::store::keys::{self, KeyFields};
use crate::store::ratelimits;

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
    pub ratelimit: Patch<RatelimitPatch>,
    pub remaining: Patch<i64>,
    pub refill: Patch<Refill>,
    pub enabled: Option<bool>,
    /// Replaces the key's roles (setRoles semantics).
    pub roles: Option<Vec<Wanted>>,
    /// Replaces the key's permissions (setPermissions semantics).
    pub permissions: Option<Vec<Wanted>>,
}

pub async fn update(ctx: &Ctx, p: &Principal, req: KeyUpdate) -> Result<()> {
    let key = state(ctx, &req.key_id).await.and_then(|k| {
        if k.workspace_id == p.workspace_id {
            Ok(k)
        } else {
            Err(not_found(&req.key_id))
        }
    })?;
    p.require(&require::api(key.api_id.as_deref().unwrap_or_default(), "update_key"))?;
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
            batch.push(ratelimits::upsert_key_default(
                &id,
                &key.id,
                &key.workspace_id,
                limit,
                duration,
                ctx.now,
            ));
        }
    }
    // roles and permissions are replaced as keys.setRoles / keys.setPermissions do
    if let Some(roles) = &req.roles {
        rbac::stage_set(ctx, p, &mut batch, LinkKind::Role, &key.id, roles).await?;
    }
    if let Some(permissions) = &req.permissions {
        rbac::stage_set(ctx, p, &mut batch, LinkKind::Permission, &key.id, permissions).await?;
    }
    credits::commit(ctx, batch, &plan).await
}

/// updateRemaining: loads the key first (an unknown key is a 404 without credentials), then
/// authenticates; answers the balance as stored after the change.
pub async fn update_remaining(
    ctx: &Ctx,
    creds: &Credentials,
    key_id: &str,
    op: RemainingOp,
    value: Option<i64>,
) -> Result<Option<i64>> {
    let key = state(ctx, key_id).await?;
    let p = creds
        .authenticate(ctx, Some(&require::api(key.api_id.as_deref().unwrap_or_default(), "update_key")))
        .await?;
    if key.workspace_id != p.workspace_id {
        return Err(not_found(key_id));
    }
    let plan = plan_remaining(&credits_of(&key), op, value).map_err(|e| Error::bad_request(e.to_string()))?;
    let mut writes = CreditsPlan::default();
    let remaining = match plan {
        RemainingPlan::Adjust(balance, adjustment) => {
            credits::adjust(ctx, &balance, adjustment).await?.remaining
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
    let target = vec![Target::named("key", &key.id, key.name.clone())];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.update", &display, target);
    credits::stage(&mut batch, &writes, &key.workspace_id, ctx.now)?;
    credits::commit(ctx, batch, &writes).await?;
    Ok(remaining)
}

/// deleteKey: loads the key first, then authenticates; soft or permanent.
pub async fn delete(ctx: &Ctx, creds: &Credentials, key_id: &str, permanent: bool) -> Result<()> {
    let key = state(ctx, key_id).await?;
    let p = creds
        .authenticate(ctx, Some(&require::api(key.api_id.as_deref().unwrap_or_default(), "delete_key")))
        .await?;
    if key.workspace_id != p.workspace_id {
        return Err(Error::unauthorized("you are not allowed to do this"));
    }
    let target = vec![Target::named("key", &key.id, key.name.clone())];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.delete", "", target);
    if permanent {
        keys::hard_delete(&mut batch, &key.id);
    } else {
        batch.push(keys::soft_delete(&key.id, ctx.now));
    }
    batch.push(keys::refresh_keyspace_size(&key.key_auth_id, ctx.now));
    let plan = CreditsPlan { writes: vec![], limiter: credits::key_removed(&credits_of(&key)) };
    credits::commit(ctx, batch, &plan).await
}
