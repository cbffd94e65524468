//! keys.verifyKey: v1's request and response shapes around `service::verification`.

use crate::api::v1::keys::*;
use crate::domain::parse_meta;
use crate::domain::permissions::PermissionQuery;
use crate::domain::ratelimit::{Algorithm, Requested};
use crate::domain::verify::Denial;
use crate::service::verification::{self, Verified, VerifyInput};
use crate::service::{Ctx, Error, Result};

pub async fn verify_key(ctx: &Ctx, req: VerifyKeyRequest) -> Result<VerifyKeyResponse> {
    let input = VerifyInput {
        permissions: permission_query(&req)?.map(Ok),
        cost: req.remaining.as_ref().and_then(|r| r.cost).unwrap_or(1),
        ratelimits: req
            .ratelimits
            .iter()
            .flatten()
            .map(|r| Requested { name: r.name.clone(), cost: r.cost, limit: r.limit, duration: r.duration })
            .collect(),
        tags: req.tags.unwrap_or_default(),
        api_id: req.api_id,
        key: req.key,
        algorithm: Algorithm::Fixed,
    };
    // v1 answers a requested rate limit that exists nowhere with a 400
    let verified = verification::verify(ctx, &input).await.map_err(|e| match e {
        Error::PreconditionFailed(m) => Error::BadRequest(m),
        e => e,
    })?;
    Ok(match verified {
        Some(verified) => response(ctx, verified),
        None => not_found(ctx),
    })
}

/// `authorization.permissions`, validated (400 "permission query is invalid").
fn permission_query(req: &VerifyKeyRequest) -> Result<Option<PermissionQuery>> {
    match req.authorization.as_ref().and_then(|a| a.permissions.as_ref()).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => {
            PermissionQuery::parse(v).map(Some).map_err(|_| Error::bad_request("permission query is invalid"))
        }
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

fn response(ctx: &Ctx, v: Verified) -> VerifyKeyResponse {
    let key = &v.key.key;
    let identity = match (&key.identity_id, &key.identity_external_id) {
        (Some(id), Some(external_id)) => Some(VerifyIdentity {
            id: id.clone(),
            external_id: external_id.clone(),
            meta: parse_meta(key.identity_meta.as_deref()).unwrap_or_default(),
        }),
        _ => None,
    };
    VerifyKeyResponse {
        key_id: Some(key.id.clone()),
        valid: v.denial.is_none(),
        name: key.name.clone(),
        // the identity's external id wins over the deprecated owner id (upstream #4516)
        owner_id: identity.as_ref().map(|i| i.external_id.clone()).or_else(|| key.owner_id.clone()),
        meta: parse_meta(key.meta.as_deref()),
        expires: key.expires,
        ratelimit: v.ratelimit.map(|s| VerifyRatelimitResult {
            limit: s.limit,
            remaining: s.remaining,
            reset: s.reset,
        }),
        remaining: v.remaining,
        code: code(v.denial),
        enabled: Some(key.enabled),
        permissions: Some(v.key.permissions.clone()),
        roles: Some(v.key.roles.clone()),
        environment: key.environment.clone(),
        identity,
        request_id: ctx.request_id.clone(),
    }
}

/// Legacy `POST /v1/keys/verify`: keys.verifyKey's service with upstream's older body: the key's
/// fields only when it is valid, the code only when it is not (HTTP 404 for NOT_FOUND and EXPIRED,
/// see [`LegacyVerifyResponse::status`]).
pub async fn legacy_verify_key(ctx: &Ctx, req: LegacyVerifyRequest) -> Result<LegacyVerifyResponse> {
    let input = VerifyInput { key: req.key, api_id: req.api_id, cost: 1, ..VerifyInput::default() };
    let r = match verification::verify(ctx, &input).await? {
        Some(verified) => response(ctx, verified),
        None => not_found(ctx),
    };
    let valid = r.valid;
    Ok(LegacyVerifyResponse {
        valid,
        code: (!valid).then_some(r.code),
        remaining: r.remaining,
        ratelimit: r.ratelimit,
        key_id: r.key_id.filter(|_| valid),
        name: r.name.filter(|_| valid),
        owner_id: r.owner_id.filter(|_| valid),
        meta: r.meta.filter(|_| valid),
        expires: r.expires.filter(|_| valid),
    })
}
