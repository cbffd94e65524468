//! keys.updateKey, keys.updateRemaining, keys.deleteKey.

use crate::api::v1::common::Empty;
use crate::api::v1::keys::*;
use crate::domain::credits::RemainingOp as Op;
use crate::domain::patch::Patch;
use crate::service::auth::{Credentials, Principal};
use crate::service::keys::{self, KeyUpdate, RatelimitPatch};
use crate::service::{Ctx, Result};

use super::rbac::{wanted_permissions, wanted_roles};

pub async fn update_key(ctx: &Ctx, p: &Principal, req: UpdateKeyRequest) -> Result<Empty> {
    // externalId wins over the deprecated ownerId
    let owner = if req.external_id.is_absent() { req.owner_id } else { req.external_id };
    let update = KeyUpdate {
        key_id: req.key_id,
        name: req.name,
        owner,
        meta: req.meta,
        expires: req.expires,
        ratelimit: req
            .ratelimit
            .map(|r| RatelimitPatch { limit: r.limit, duration: r.duration.or(r.refill_interval) }),
        remaining: req.remaining,
        refill: req.refill.map(|r| r.refill()),
        enabled: req.enabled,
        roles: req.roles.as_deref().map(wanted_roles),
        permissions: req.permissions.as_deref().map(wanted_permissions),
        ratelimits: None,
        rules: None,
    };
    keys::update(ctx, p, update).await?;
    Ok(Empty {})
}

pub async fn update_remaining(
    ctx: &Ctx,
    creds: &Credentials,
    req: UpdateRemainingRequest,
) -> Result<UpdateRemainingResponse> {
    let op = match req.op {
        RemainingOp::Increment => Op::Increment,
        RemainingOp::Decrement => Op::Decrement,
        RemainingOp::Set => Op::Set,
    };
    let value = match req.value {
        Patch::Value(v) => Some(v),
        _ => None,
    };
    Ok(UpdateRemainingResponse {
        remaining: keys::update_remaining(ctx, creds, &req.key_id, op, value).await?,
    })
}

pub async fn delete_key(ctx: &Ctx, creds: &Credentials, req: DeleteKeyRequest) -> Result<Empty> {
    keys::delete(ctx, creds, &req.key_id, req.permanent).await?;
    Ok(Empty {})
}
