//! `keys.verifyKey` (v1 §3) and `keys.whoami`.

use super::parse_meta;
use crate::api::common::Meta;
use crate::api::keys::*;
use crate::domain::credits::Balance;
use crate::domain::keys::hash_key;
use crate::domain::permissions::PermissionQuery;
use crate::domain::ratelimit::{plan_checks, Configured, LimitCheck, Requested, UnknownLimit};
use crate::domain::verify::{precheck, Caller, Denial};
use crate::http::auth::root_key;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::limiter::{rate, usage};
use crate::routes::apis::api_permission;
use crate::store::analytics::{self, VerificationEvent};
use crate::store::verification::{load_by_hash, LoadedKey};

/// The outcome of the checks after loading: a denial, or valid with what was charged.
struct Checked {
    denial: Option<Denial>,
    ratelimit: Option<VerifyRatelimitResult>,
    remaining: Option<i64>,
    spent: i64,
}

pub async fn verify_key(ctx: &Ctx, req: VerifyKeyRequest) -> ApiResult<VerifyKeyResponse> {
    let query = permission_query(&req)?;
    let Some(loaded) = load_by_hash(&ctx.db, &hash_key(&req.key)).await? else {
        return Ok(not_found(ctx));
    };
    if !loaded.key.workspaces_enabled {
        return Err(ApiError::forbidden("workspace is disabled"));
    }
    let checked = check(ctx, &loaded, &req, query.as_ref()).await?;
    record(ctx, &loaded, &req, &checked);
    Ok(response(ctx, loaded, checked))
}

/// Checks 4–10 of v1 §3.2 in order: the pure prechecks, then rate limits (which spend no credits
/// when they reject), then credits.
async fn check(
    ctx: &Ctx,
    loaded: &LoadedKey,
    req: &VerifyKeyRequest,
    query: Option<&PermissionQuery>,
) -> ApiResult<Checked> {
    let key = &loaded.key;
    let caller = Caller { api_id: req.api_id.as_deref(), ip: ctx.ip.as_deref(), permissions: query };
    let mut checked = Checked { denial: None, ratelimit: None, remaining: None, spent: 0 };
    if let Err(denial) = precheck(&loaded.facts(), &caller, ctx.now) {
        checked.denial = Some(denial);
        return Ok(checked);
    }

    let limits = ratelimit_checks(loaded, req)?;
    if !limits.is_empty() {
        let identifier = key.identity_id.as_deref().unwrap_or(&key.id);
        let reply =
            rate::limit(&ctx.env, identifier, limits.iter().map(rate::WireLimit::from).collect(), ctx.now)
                .await?;
        checked.ratelimit = reply.summary();
        if !reply.passed {
            checked.denial = Some(Denial::RateLimited);
            return Ok(checked);
        }
    }

    let balance = Balance::choose(
        key.identity_credit_id.as_deref(),
        key.credit_id.as_deref(),
        &key.id,
        key.remaining_requests,
    );
    if let Some(balance) = balance {
        let cost = req.remaining.as_ref().and_then(|r| r.cost).unwrap_or(1);
        let reply = usage::spend(&ctx.env, &balance, cost, ctx.now).await?;
        checked.remaining = reply.remaining;
        if reply.valid {
            checked.spent = if reply.exists { cost } else { 0 };
        } else {
            checked.denial = Some(Denial::UsageExceeded);
        }
    }
    Ok(checked)
}

/// `authorization.permissions`, validated (400 "permission query is invalid").
fn permission_query(req: &VerifyKeyRequest) -> ApiResult<Option<PermissionQuery>> {
    match req.authorization.as_ref().and_then(|a| a.permissions.as_ref()).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => PermissionQuery::parse(v)
            .map(Some)
            .map_err(|_| ApiError::bad_request("permission query is invalid")),
    }
}

/// The limits to check, or the spec's 400 for a requested limit that exists nowhere.
fn ratelimit_checks(loaded: &LoadedKey, req: &VerifyKeyRequest) -> ApiResult<Vec<LimitCheck>> {
    let (key_limits, identity_limits): (Vec<_>, Vec<_>) = loaded.ratelimits.iter().partition(|r| r.on_key);
    let configured = |rows: Vec<&crate::store::verification::RatelimitRow>| -> Vec<Configured> {
        rows.into_iter()
            .map(|r| Configured {
                name: r.name.clone(),
                limit: r.limit,
                duration: r.duration,
                auto_apply: r.auto_apply,
            })
            .collect()
    };
    let requested: Vec<Requested> = req
        .ratelimits
        .iter()
        .flatten()
        .map(|r| Requested { name: r.name.clone(), cost: r.cost, limit: r.limit, duration: r.duration })
        .collect();
    plan_checks(&configured(identity_limits), &configured(key_limits), &requested).map_err(
        |UnknownLimit(name)| {
            let key = &loaded.key;
            let who = match (&key.identity_id, &key.identity_external_id) {
                (Some(id), Some(external)) => format!(" nor identity {{ id: {id}, externalId: {external}}}"),
                _ => " and there is no identity connected".to_string(),
            };
            ApiError::bad_request(format!(
                "ratelimit \"{name}\" was requested but does not exist for key \"{}\"{who}",
                key.id
            ))
        },
    )
}

fn not_found(ctx: &Ctx) -> VerifyKeyResponse {
    VerifyKeyResponse {
        key_id: None,
        valid: false,
        name: None,
        owner_id: None,
        meta: None,
        expires: None,
        ratelimit: None,
        remaining: None,
        code: VerifyCode::NotFound,
        enabled: None,
        permissions: None,
        roles: None,
        environment: None,
        identity: None,
        request_id: ctx.request_id.clone(),
    }
}

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

fn record(ctx: &Ctx, loaded: &LoadedKey, req: &VerifyKeyRequest, checked: &Checked) {
    let key = &loaded.key;
    let event = VerificationEvent {
        request_id: ctx.request_id.clone(),
        time: ctx.now,
        workspace_id: key.workspace_id.clone(),
        key_space_id: key.key_auth_id.clone(),
        key_id: key.id.clone(),
        outcome: checked.denial.map(Denial::code).unwrap_or("VALID"),
        identity_id: key.identity_id.clone(),
        tags: req.tags.clone().unwrap_or_default(),
        spent_credits: checked.spent,
    };
    ctx.worker.wait_until(analytics::record(ctx.env.clone(), event));
}

fn response(ctx: &Ctx, loaded: LoadedKey, checked: Checked) -> VerifyKeyResponse {
    let key = loaded.key;
    let identity = match (key.identity_id, key.identity_external_id) {
        (Some(id), Some(external_id)) => Some(VerifyIdentity {
            id,
            external_id,
            meta: parse_meta(key.identity_meta.as_deref()).unwrap_or_default(),
        }),
        _ => None,
    };
    VerifyKeyResponse {
        key_id: Some(key.id),
        valid: checked.denial.is_none(),
        name: key.name,
        // the identity's external id wins over the deprecated owner id (upstream #4516)
        owner_id: identity.as_ref().map(|i| i.external_id.clone()).or(key.owner_id),
        meta: parse_meta(key.meta.as_deref()),
        expires: key.expires,
        ratelimit: checked.ratelimit,
        remaining: checked.remaining,
        code: code(checked.denial),
        enabled: Some(key.enabled),
        permissions: Some(loaded.permissions),
        roles: Some(loaded.roles),
        environment: key.environment,
        identity,
        request_id: ctx.request_id.clone(),
    }
}

pub async fn whoami(ctx: &Ctx, req: WhoamiRequest) -> ApiResult<WhoamiResponse> {
    let not_found = || ApiError::not_found("Key not found");
    let loaded = load_by_hash(&ctx.db, &hash_key(&req.key)).await?.ok_or_else(not_found)?;
    let root = root_key(ctx, Some(&api_permission(&loaded.key.api_id, "read_key"))).await?;
    let key = loaded.key;
    if key.workspace_id != root.workspace_id {
        return Err(not_found());
    }
    Ok(WhoamiResponse {
        id: key.id,
        name: key.name,
        remaining: key.credit_remaining.or(key.remaining_requests),
        identity: match (key.identity_id, key.identity_external_id) {
            (Some(id), Some(external_id)) => Some(WhoamiIdentity { id, external_id }),
            _ => None,
        },
        meta: parse_meta(key.meta.as_deref()).filter(|m: &Meta| !m.is_empty()),
        created_at: key.created_at_m,
        enabled: key.enabled,
        environment: key.environment,
    })
}
