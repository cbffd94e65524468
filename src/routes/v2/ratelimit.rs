//! v2 `ratelimit.*` routes.

use super::mask;
use crate::api::v2::ratelimit::*;
use crate::api::v2::{Data, Empty, Page};
use crate::service::auth::Principal;
use crate::service::ratelimits::{self, Check, NamespaceRef, OverridePage, OverrideRow, OverrideSettings};
use crate::service::{Ctx, Resource, Result};

fn check(r: LimitRequest) -> Check {
    Check {
        namespace: r.namespace,
        identifier: r.identifier,
        limit: r.limit,
        duration: r.duration,
        cost: r.cost.unwrap_or(1),
    }
}

fn wire_override(o: OverrideRow) -> Override {
    Override { override_id: o.id, identifier: o.identifier, limit: o.limit, duration: o.duration }
}

pub async fn limit(ctx: &Ctx, p: &Principal, req: LimitRequest) -> Result<Data<LimitResponse>> {
    let (passed, mut outcomes) = ratelimits::limit_all(ctx, p, &[check(req)]).await?;
    let o = outcomes.pop().ok_or_else(|| crate::service::Error::Internal("no rate-limit answer".into()))?;
    Ok(Data::of(LimitResponse {
        limit: o.limit,
        remaining: o.remaining,
        reset: o.reset,
        success: passed,
        override_id: o.override_id,
    }))
}

pub async fn multi_limit(
    ctx: &Ctx,
    p: &Principal,
    req: MultiLimitRequest,
) -> Result<Data<MultiLimitResponse>> {
    let named: Vec<(String, String)> =
        req.0.iter().map(|r| (r.namespace.clone(), r.identifier.clone())).collect();
    let checks: Vec<Check> = req.0.into_iter().map(check).collect();
    let (passed, outcomes) = ratelimits::limit_all(ctx, p, &checks).await?;
    let limits = named
        .into_iter()
        .zip(outcomes)
        .map(|((namespace, identifier), o)| MultiLimitCheck {
            namespace,
            identifier,
            limit: o.limit,
            remaining: o.remaining,
            reset: o.reset,
            passed: o.passed,
            override_id: o.override_id,
        })
        .collect();
    Ok(Data::of(MultiLimitResponse { passed, limits }))
}

pub async fn set_override(
    ctx: &Ctx,
    p: &Principal,
    req: SetOverrideRequest,
) -> Result<Data<SetOverrideResponse>> {
    let settings = OverrideSettings {
        identifier: &req.identifier,
        limit: req.limit,
        duration: req.duration,
        is_async: false,
    };
    let by = NamespaceRef::IdOrName(&req.namespace);
    let id = ratelimits::set_override(ctx, p, by, &settings, Some("set_override")).await?;
    Ok(Data::of(SetOverrideResponse { override_id: id }))
}

/// The override that applies to the identifier (exact, else the first matching wildcard); a root
/// key without `read_override` learns nothing: 404.
pub async fn get_override(ctx: &Ctx, p: &Principal, req: OverrideRequest) -> Result<Data<Override>> {
    let by = NamespaceRef::IdOrName(&req.namespace);
    let found = ratelimits::get_override(ctx, p, by, &req.identifier, true, Some("read_override")).await;
    Ok(Data::of(wire_override(mask(found, Resource::Override)?)))
}

pub async fn delete_override(ctx: &Ctx, p: &Principal, req: OverrideRequest) -> Result<Data<Empty>> {
    let by = NamespaceRef::IdOrName(&req.namespace);
    ratelimits::delete_override(ctx, p, by, &req.identifier, Some("delete_override")).await?;
    Ok(Data::of(Empty {}))
}

pub async fn list_overrides(ctx: &Ctx, p: &Principal, req: ListOverridesRequest) -> Result<Page<Override>> {
    let limit = req.limit.unwrap_or(10);
    let by = NamespaceRef::IdOrName(&req.namespace);
    let page = OverridePage { cursor: req.cursor.as_deref(), inclusive: true, limit: limit + 1 };
    let (rows, _) = ratelimits::list_overrides(ctx, p, by, page, Some("read_override")).await?;
    Ok(Page::of(rows, limit, |o| o.id.clone(), wire_override))
}
