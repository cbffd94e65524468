//! keys.rerollKey (v2): a new key that takes over an existing one (same name, identity, meta,
//! expiry, enabled flag, credits and refill, rate limits, roles and direct permissions; encrypted
//! again when the old one was recoverable), while the old key expires after a grace period.

use super::super::auth::Principal;
use super::super::{apis, credits, vault, Ctx, Error, Result};
use super::{not_found, state};
use crate::domain::credits::{CreditWrite, CreditsPlan};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{hash_key, new_plain_key, reroll_expiry};
use crate::domain::permissions::require;
use crate::store::audit::Target;
use crate::store::{keys, ratelimits};

/// The prefix of an existing key, from its visible start (`prefix_…`).
fn prefix_of(start: &str) -> Option<&str> {
    start.rsplit_once('_').map(|(prefix, _)| prefix).filter(|p| !p.is_empty())
}

/// Rerolls a key; returns the new key's id and the key (shown once).
pub async fn reroll(ctx: &Ctx, p: &Principal, key_id: &str, grace_ms: i64) -> Result<(String, String)> {
    let old = state(ctx, key_id).await?;
    if old.workspace_id != p.workspace_id {
        return Err(not_found(key_id));
    }
    let api_id = old.api_id.clone().unwrap_or_default();
    p.require(&require::api(&api_id, "create_key"))?;
    let api = apis::find(ctx, &p.workspace_id, &api_id).await?;
    let start_of_old = keys::start_of(&ctx.store, &old.id).await?.unwrap_or_default();
    let recoverable = !crate::store::vault::find(&ctx.store, std::slice::from_ref(&old.id)).await?.is_empty();
    let master = if recoverable {
        if !api.store_encrypted_keys {
            return Err(Error::precondition(format!("api {} does not support recoverable keys", api.id)));
        }
        p.require(&require::api(&api.id, "encrypt_key"))?;
        Some(vault::master_keys(ctx)?)
    } else {
        None
    };
    let prefix = prefix_of(&start_of_old).map(str::to_string).or(api.default_prefix.clone());
    let bytes = api.default_bytes.unwrap_or(16).clamp(16, 255) as usize;
    let (key, start) = new_plain_key(prefix.as_deref(), bytes)?;
    let new_key_id = new_id(IdKind::Key, ctx.now)?;

    let targets = vec![
        Target::new("key", &new_key_id),
        Target::named("key", &old.id, old.name.clone()),
        Target::named("api", &api.id, Some(api.name.clone())),
    ];
    let display = format!("Rerolled {} as {new_key_id}", old.id);
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.reroll", &display, targets);
    // the new key is new (random); the old one expires
    batch.only_changes_keys(&[&old.id]);
    keys::copy_key(&mut batch, &old.id, &new_key_id, &hash_key(&key), &start, ctx.now);
    for rl in ratelimits::limits_of_key(&ctx.store, &old.id).await? {
        let id = new_id(IdKind::Ratelimit, ctx.now)?;
        batch.push(ratelimits::upsert_key_limit(&id, &new_key_id, &p.workspace_id, &rl, ctx.now));
    }
    if let Some(master) = &master {
        batch.push(vault::encrypted_copy(ctx, master, &p.workspace_id, &new_key_id, &key)?);
    }
    batch.push(keys::expire_by(&old.id, reroll_expiry(ctx.now, grace_ms), ctx.now));
    batch.push(keys::keyspace_gains(&old.key_auth_id, &new_key_id, ctx.now));
    let plan = CreditsPlan {
        writes: vec![CreditWrite::CopyKeyRow { from_key: old.id.clone(), to_key: new_key_id.clone() }],
        limiter: Vec::new(),
    };
    credits::stage(&mut batch, &plan, &p.workspace_id, ctx.now)?;
    credits::commit(ctx, batch, &plan).await?;
    Ok((new_key_id, key))
}
