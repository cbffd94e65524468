//! keys.createKey, migrations.createKeys, migrations.enqueueKeys.

use crate::api::v1::common::Empty;
use crate::api::v1::keys::*;
use crate::domain::ratelimit::NamedLimit;
use crate::service::auth::Principal;
use crate::service::keys::{self, KeyFormat, MigratedKey, NewKey};
use crate::service::{Ctx, Error, Result};

pub async fn create_key(ctx: &Ctx, p: &Principal, req: CreateKeyRequest) -> Result<CreateKeyResponse> {
    // v1's rules (upstream v1 checked them in its handler): a positive `remaining`, and a
    // `ratelimit` window (`duration ?? refillInterval`)
    if req.remaining.is_some_and(|r| r <= 0) {
        return Err(Error::bad_request("remaining must be greater than 0."));
    }
    let ratelimits = match &req.ratelimit {
        None => Vec::new(),
        Some(r) => vec![NamedLimit {
            name: "default".into(),
            limit: r.limit,
            duration: r
                .duration
                .or(r.refill_interval)
                .ok_or_else(|| Error::bad_request("ratelimit.duration: Required"))?,
            auto_apply: true,
        }],
    };
    let input = NewKey {
        api_id: req.api_id,
        prefix: req.prefix,
        name: req.name,
        byte_length: req.byte_length,
        owner: req.external_id.or(req.owner_id),
        meta: req.meta,
        roles: req.roles.unwrap_or_default(),
        permissions: req.permissions.unwrap_or_default(),
        expires: req.expires,
        remaining: req.remaining,
        refill: req.refill.map(|r| r.refill()),
        ratelimits,
        enabled: req.enabled,
        recoverable: req.recoverable == Some(true),
        environment: req.environment,
        format: KeyFormat::Versioned,
        create_roles: true,
        names: crate::domain::names::NameRules::V1,
    };
    let (key_id, key) = keys::create(ctx, p, input).await?;
    Ok(CreateKeyResponse { key_id, key })
}

pub async fn migrate_keys(
    ctx: &Ctx,
    p: &Principal,
    req: CreateKeysMigrationRequest,
) -> Result<CreateKeysMigrationResponse> {
    let import = req
        .0
        .into_iter()
        .map(|k| MigratedKey {
            api_id: k.api_id,
            name: k.name,
            plaintext: k.plaintext,
            hash: k.hash.map(|h| h.value),
            start: k.start,
            owner: k.external_id.or(k.owner_id),
            meta: k.meta,
            roles: k.roles.unwrap_or_default(),
            permissions: k.permissions.unwrap_or_default(),
            expires: k.expires,
            remaining: k.remaining,
            refill: k.refill.map(|r| r.refill()),
            enabled: k.enabled,
            environment: k.environment,
        })
        .collect();
    Ok(CreateKeysMigrationResponse { key_ids: keys::migrate(ctx, p, import).await? })
}

/// `migrations.enqueueKeys` needs a queue binding upstream; keygate has no queue (imports go
/// through `migrations.createKeys`, 100 keys per call), so it answers as upstream does without
/// one — after authenticating.
pub async fn enqueue_keys(_ctx: &Ctx, _p: &Principal, _req: serde_json::Value) -> Result<Empty> {
    Err(Error::precondition("queue migrations are not enabled"))
}
