//! v2 `keys.*` routes.

use super::mask;
use super::permissions::wire_role;
use crate::api::v2::identities::Identity;
use crate::api::v2::keys::*;
use crate::api::v2::permissions::{Permission, Role};
use crate::api::v2::{meta_out, CreditsResponse, Data, Empty, Patch, RatelimitRequest, RatelimitResponse};
use crate::domain::credits::RemainingOp;
use crate::domain::permissions::PermissionQuery;
use crate::domain::ratelimit::{Algorithm, NamedLimit, Requested};
use crate::domain::rbac::{Known, LinkKind, Wanted};
use crate::domain::verify::Denial;
use crate::service::auth::Principal;
use crate::service::keys::{self, HashedKey, KeyFormat, KeyUpdate, KeyView, NewKey};
use crate::service::rbac::{self, LinkRules};
use crate::service::verification::{self, Verified, VerifyInput};
use crate::service::{Ctx, Resource, Result};
use crate::store::key_view::LimitRow;

pub fn wire_limit(r: LimitRow) -> RatelimitResponse {
    RatelimitResponse {
        id: r.id,
        name: r.name,
        limit: r.limit,
        duration: r.duration,
        auto_apply: r.auto_apply,
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The v2 `KeyResponseData` of a key.
pub fn wire_key(v: KeyView) -> KeyResponse {
    KeyResponse {
        key_id: v.id,
        start: v.start,
        enabled: v.enabled,
        created_at: v.created_at,
        name: v.name.filter(|n| !n.is_empty()),
        meta: meta_out(v.meta.as_deref()),
        updated_at: v.updated_at,
        expires: v.expires,
        credits: v.remaining.map(|r| CreditsResponse::from_columns(Some(r), v.refill_amount, v.refill_day)),
        identity: v.identity.map(|i| Identity {
            id: i.id,
            external_id: i.external_id,
            meta: meta_out(i.meta.as_deref()),
            ratelimits: non_empty(i.ratelimits.into_iter().map(wire_limit).collect()),
            credits: None,
        }),
        permissions: non_empty(v.permissions),
        roles: non_empty(v.roles),
        ratelimits: non_empty(v.ratelimits.into_iter().map(wire_limit).collect()),
        plaintext: v.plaintext,
    }
}

pub async fn get_key(ctx: &Ctx, p: &Principal, req: GetKeyRequest) -> Result<Data<KeyResponse>> {
    Ok(Data::of(wire_key(keys::get_as(ctx, p, &req.key_id, req.decrypt == Some(true)).await?)))
}

/// A root key without `read_key` learns nothing: 404, as for an unknown key.
pub async fn whoami(ctx: &Ctx, p: &Principal, req: WhoamiRequest) -> Result<Data<KeyResponse>> {
    Ok(Data::of(wire_key(mask(keys::view_by_value(ctx, p, &req.key).await, Resource::Key)?)))
}

// ---- keys.verifyKey

fn code(denial: Option<Denial>) -> VerifyCode {
    match denial {
        None => VerifyCode::Valid,
        Some(Denial::Disabled) => VerifyCode::Disabled,
        Some(Denial::Forbidden) => VerifyCode::Forbidden,
        Some(Denial::Expired) => VerifyCode::Expired,
        Some(Denial::InsufficientPermissions) => VerifyCode::InsufficientPermissions,
        Some(Denial::RateLimited) => VerifyCode::RateLimited,
        Some(Denial::UsageExceeded) => VerifyCode::UsageExceeded,
    }
}

fn not_found() -> VerifyKeyResponse {
    VerifyKeyResponse {
        valid: false,
        code: VerifyCode::NotFound,
        key_id: None,
        name: None,
        meta: None,
        expires: None,
        credits: None,
        enabled: None,
        permissions: None,
        roles: None,
        identity: None,
        ratelimits: None,
    }
}

fn verified(v: Verified, credits: Option<i64>) -> VerifyKeyResponse {
    let identity_limits: Vec<RatelimitResponse> = v
        .identity_limits()
        .into_iter()
        .map(|r| RatelimitResponse {
            id: r.id.clone(),
            name: r.name.clone(),
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        })
        .collect();
    let limits = v
        .limits
        .into_iter()
        .map(|c| VerifyRatelimitData {
            exceeded: !c.result.passed,
            id: c.id.unwrap_or_default(),
            name: c.result.name,
            limit: c.result.limit,
            duration: c.duration,
            reset: c.result.reset,
            remaining: c.result.remaining,
            auto_apply: c.auto_apply,
        })
        .collect();
    let key = &v.key.key;
    VerifyKeyResponse {
        valid: v.denial.is_none(),
        code: code(v.denial),
        identity: match (&key.identity_id, &key.identity_external_id) {
            (Some(id), Some(external_id)) => Some(Identity {
                id: id.clone(),
                external_id: external_id.clone(),
                meta: meta_out(key.identity_meta.as_deref()),
                ratelimits: non_empty(identity_limits),
                credits: None,
            }),
            _ => None,
        },
        key_id: Some(key.id.clone()),
        name: key.name.clone().filter(|n| !n.is_empty()),
        meta: meta_out(key.meta.as_deref()),
        expires: key.expires,
        credits,
        enabled: Some(key.enabled),
        permissions: non_empty(v.key.permissions.clone()),
        roles: non_empty(v.key.roles.clone()),
        ratelimits: non_empty(limits),
    }
}

pub async fn verify_key(ctx: &Ctx, p: &Principal, req: VerifyKeyRequest) -> Result<Data<VerifyKeyResponse>> {
    let input = VerifyInput {
        key: req.key,
        api_id: None,
        tags: req.tags.unwrap_or_default(),
        permissions: req.permissions.map(|q| PermissionQuery::parse_v2(&q)),
        cost: req.credits.map_or(1, |c| c.cost),
        ratelimits: req
            .ratelimits
            .unwrap_or_default()
            .into_iter()
            .map(|r| Requested { name: r.name, cost: r.cost, limit: r.limit, duration: r.duration })
            .collect(),
        algorithm: Algorithm::Sliding,
    };
    Ok(Data::of(match verification::verify_as(ctx, p, &input, req.migration_id.as_deref()).await? {
        Some(v) => {
            let credits = v.credits(ctx).await?;
            verified(v, credits)
        }
        None => not_found(),
    }))
}

// ---- keys.createKey, keys.rerollKey

fn named_limits(limits: Option<Vec<RatelimitRequest>>) -> Vec<NamedLimit> {
    limits
        .unwrap_or_default()
        .into_iter()
        .map(|r| NamedLimit { name: r.name, limit: r.limit, duration: r.duration, auto_apply: r.auto_apply })
        .collect()
}

pub async fn create_key(ctx: &Ctx, p: &Principal, req: CreateKeyRequest) -> Result<Data<CreateKeyResponse>> {
    let (remaining, refill) = match req.credits {
        Some(c) => (c.remaining, c.refill.map(|r| r.refill())),
        None => (None, None),
    };
    let input = NewKey {
        api_id: req.api_id,
        prefix: req.prefix,
        name: req.name,
        byte_length: req.byte_length,
        owner: req.external_id,
        meta: req.meta,
        roles: req.roles.unwrap_or_default(),
        permissions: req.permissions.unwrap_or_default(),
        expires: req.expires,
        remaining,
        refill,
        ratelimits: named_limits(req.ratelimits),
        enabled: req.enabled,
        recoverable: req.recoverable == Some(true),
        environment: None,
        format: KeyFormat::Plain,
        create_roles: false,
        names: crate::domain::names::NameRules::Schema,
    };
    let (key_id, key) = keys::create(ctx, p, input).await?;
    Ok(Data::of(CreateKeyResponse { key_id, key }))
}

pub async fn reroll_key(ctx: &Ctx, p: &Principal, req: RerollKeyRequest) -> Result<Data<CreateKeyResponse>> {
    let (key_id, key) = keys::reroll(ctx, p, &req.key_id, req.expiration).await?;
    Ok(Data::of(CreateKeyResponse { key_id, key }))
}

// ---- keys.updateKey, keys.updateCredits, keys.deleteKey

fn named(names: Vec<String>) -> Vec<Wanted> {
    names.into_iter().map(Wanted::named).collect()
}

/// Permissions named by slug; missing ones are created (with `rbac.*.create_permission`).
fn wanted_permissions(slugs: Vec<String>) -> Vec<Wanted> {
    slugs.into_iter().map(|s| Wanted { id: None, name: Some(s), create: true }).collect()
}

pub async fn update_key(ctx: &Ctx, p: &Principal, req: UpdateKeyRequest) -> Result<Data<Empty>> {
    let (remaining, refill) = match req.credits {
        Patch::Absent => (Patch::Absent, Patch::Absent),
        // unlimited: the balance and its refill go
        Patch::Null => (Patch::Null, Patch::Null),
        Patch::Value(c) if c.remaining == Patch::Null => (Patch::Null, Patch::Null),
        Patch::Value(c) => (c.remaining, c.refill.map(|r| r.refill())),
    };
    let update = KeyUpdate {
        key_id: req.key_id,
        name: req.name,
        owner: req.external_id,
        meta: req.meta,
        expires: req.expires,
        ratelimit: Patch::Absent,
        ratelimits: req.ratelimits.map(|r| named_limits(Some(r))),
        remaining,
        refill,
        enabled: req.enabled,
        roles: req.roles.map(named),
        permissions: req.permissions.map(wanted_permissions),
        rules: Some(LinkRules::V2),
    };
    keys::update(ctx, p, update).await?;
    Ok(Data::of(Empty {}))
}

pub async fn update_credits(
    ctx: &Ctx,
    p: &Principal,
    req: UpdateCreditsRequest,
) -> Result<Data<CreditsResponse>> {
    let op = match req.operation {
        CreditsOperation::Set => RemainingOp::Set,
        CreditsOperation::Increment => RemainingOp::Increment,
        CreditsOperation::Decrement => RemainingOp::DecrementToZero,
    };
    let after = keys::update_credits(ctx, p, &req.key_id, op, req.value.value().copied()).await?;
    let (amount, day) = after.refill.map_or((None, None), |(a, d)| (Some(a), d));
    Ok(Data::of(CreditsResponse::from_columns(after.remaining, amount, day)))
}

pub async fn delete_key(ctx: &Ctx, p: &Principal, req: DeleteKeyRequest) -> Result<Data<Empty>> {
    keys::delete_as(ctx, p, &req.key_id, req.permanent).await?;
    Ok(Data::of(Empty {}))
}

// ---- keys.{add,remove,set}{Permissions,Roles}

fn wire_permissions(known: Vec<Known>) -> Vec<Permission> {
    known.into_iter().map(|k| Permission { id: k.id, name: k.name, slug: k.key, description: None }).collect()
}

async fn direct_permissions(ctx: &Ctx, key_id: &str) -> Result<Data<Vec<Permission>>> {
    Ok(Data::of(wire_permissions(rbac::connected(ctx, LinkKind::Permission, key_id).await?)))
}

pub async fn add_permissions(
    ctx: &Ctx,
    p: &Principal,
    req: KeyPermissionsRequest,
) -> Result<Data<Vec<Permission>>> {
    let wanted = wanted_permissions(req.permissions);
    rbac::add(ctx, p, LinkKind::Permission, &req.key_id, &wanted, LinkRules::V2).await?;
    direct_permissions(ctx, &req.key_id).await
}

pub async fn remove_permissions(
    ctx: &Ctx,
    p: &Principal,
    req: KeyPermissionsRequest,
) -> Result<Data<Vec<Permission>>> {
    let wanted = named(req.permissions);
    rbac::remove(ctx, p, LinkKind::Permission, &req.key_id, &wanted, LinkRules::V2).await?;
    direct_permissions(ctx, &req.key_id).await
}

pub async fn set_permissions(
    ctx: &Ctx,
    p: &Principal,
    req: SetKeyPermissionsRequest,
) -> Result<Data<Vec<Permission>>> {
    let wanted = wanted_permissions(req.permissions);
    let set = rbac::set(ctx, p, LinkKind::Permission, &req.key_id, &wanted, LinkRules::V2).await?;
    Ok(Data::of(wire_permissions(set)))
}

/// The roles (with their permissions) of `known`, in that order.
async fn roles_of(ctx: &Ctx, p: &Principal, known: Vec<Known>) -> Result<Data<Vec<Role>>> {
    let ids: Vec<String> = known.iter().map(|k| k.id.clone()).collect();
    let mut roles = rbac::roles_by_id(ctx, p, &ids).await?;
    roles.sort_by_key(|r| ids.iter().position(|id| *id == r.role.id));
    Ok(Data::of(roles.into_iter().map(wire_role).collect()))
}

pub async fn add_roles(ctx: &Ctx, p: &Principal, req: KeyRolesRequest) -> Result<Data<Vec<Role>>> {
    rbac::add(ctx, p, LinkKind::Role, &req.key_id, &named(req.roles), LinkRules::V2).await?;
    let now = rbac::connected(ctx, LinkKind::Role, &req.key_id).await?;
    roles_of(ctx, p, now).await
}

pub async fn remove_roles(ctx: &Ctx, p: &Principal, req: KeyRolesRequest) -> Result<Data<Vec<Role>>> {
    rbac::remove(ctx, p, LinkKind::Role, &req.key_id, &named(req.roles), LinkRules::V2).await?;
    let now = rbac::connected(ctx, LinkKind::Role, &req.key_id).await?;
    roles_of(ctx, p, now).await
}

pub async fn set_roles(ctx: &Ctx, p: &Principal, req: SetKeyRolesRequest) -> Result<Data<Vec<Role>>> {
    let set = rbac::set(ctx, p, LinkKind::Role, &req.key_id, &named(req.roles), LinkRules::V2).await?;
    roles_of(ctx, p, set).await
}

// ---- keys.migrateKeys

pub async fn migrate_keys(
    ctx: &Ctx,
    p: &Principal,
    req: MigrateKeysRequest,
) -> Result<Data<MigrateKeysResponse>> {
    let import = req
        .keys
        .into_iter()
        .map(|k| {
            let (remaining, refill) = match k.credits {
                Some(c) => (c.remaining, c.refill.map(|r| r.refill())),
                None => (None, None),
            };
            HashedKey {
                hash: k.hash,
                name: k.name,
                owner: k.external_id,
                meta: k.meta,
                roles: k.roles.unwrap_or_default(),
                permissions: k.permissions.unwrap_or_default(),
                expires: k.expires,
                enabled: k.enabled,
                remaining,
                refill,
                ratelimits: named_limits(k.ratelimits),
            }
        })
        .collect();
    let done = keys::migrate_hashed(ctx, p, &req.migration_id, &req.api_id, import).await?;
    Ok(Data::of(MigrateKeysResponse {
        migrated: done.migrated.into_iter().map(|(hash, key_id)| Migrated { hash, key_id }).collect(),
        failed: done.failed,
    }))
}
