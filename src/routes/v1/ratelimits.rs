//! `ratelimits.*` routes: `limit` and namespace overrides (v1 §2.5 #23–27).

use crate::api::v1::common::Empty;
use crate::api::v1::ratelimits::*;
use crate::service::auth::Principal;
use crate::service::ratelimits::{
    self, LimitInput, NamespaceRef, OverridePage, OverrideRow, OverrideSettings,
};
use crate::service::{Ctx, Result};

fn namespace<'a>(id: &'a Option<String>, name: &'a Option<String>) -> Result<NamespaceRef<'a>> {
    NamespaceRef::v1(id.as_deref(), name.as_deref())
}

fn wire_override(r: OverrideRow) -> Override {
    Override { id: r.id, identifier: r.identifier, limit: r.limit, duration: r.duration, is_async: r.r#async }
}

pub async fn limit(ctx: &Ctx, p: &Principal, req: LimitRequest) -> Result<LimitResponse> {
    let input = LimitInput {
        namespace: req.namespace,
        identifier: req.identifier,
        limit: req.limit,
        duration: req.duration,
        cost: req.cost,
    };
    let o = ratelimits::limit(ctx, p, &input).await?;
    Ok(LimitResponse { success: o.success, limit: o.limit, remaining: o.remaining, reset: o.reset })
}

pub async fn set_override(ctx: &Ctx, p: &Principal, req: SetOverrideRequest) -> Result<SetOverrideResponse> {
    let settings = OverrideSettings {
        identifier: &req.identifier,
        limit: req.limit,
        duration: req.duration,
        is_async: req.is_async,
    };
    let by = namespace(&req.namespace_id, &req.namespace_name)?;
    let id = ratelimits::set_override(ctx, p, by, &settings, None).await?;
    Ok(SetOverrideResponse { override_id: id })
}

pub async fn get_override(ctx: &Ctx, p: &Principal, req: GetOverrideQuery) -> Result<Override> {
    let by = namespace(&req.namespace_id, &req.namespace_name)?;
    Ok(wire_override(ratelimits::get_override(ctx, p, by, &req.identifier, false, None).await?))
}

pub async fn delete_override(ctx: &Ctx, p: &Principal, req: DeleteOverrideRequest) -> Result<Empty> {
    let by = namespace(&req.namespace_id, &req.namespace_name)?;
    ratelimits::delete_override(ctx, p, by, &req.identifier, None).await?;
    Ok(Empty {})
}

pub async fn list_overrides(
    ctx: &Ctx,
    p: &Principal,
    req: ListOverridesQuery,
) -> Result<ListOverridesResponse> {
    let by = namespace(&req.namespace_id, &req.namespace_name)?;
    let page = OverridePage { cursor: req.cursor.as_deref(), inclusive: false, limit: req.limit };
    let (rows, total) = ratelimits::list_overrides(ctx, p, by, page, None).await?;
    let overrides: Vec<Override> = rows.into_iter().map(wire_override).collect();
    let cursor = overrides.last().map(|o| o.id.clone());
    Ok(ListOverridesResponse { overrides, total, cursor })
}
