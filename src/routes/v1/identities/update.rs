use super::{credits_patch, limit_spec, wire_identity};
use crate::api::v1::identities::{IdentityResponse, UpdateIdentityRequest};
use crate::domain::identities::MetaLimit;
use crate::service::auth::Principal;
use crate::service::identities::{self, lookup, IdentityUpdate};
use crate::service::{Ctx, Result};

pub async fn update(ctx: &Ctx, p: &Principal, req: UpdateIdentityRequest) -> Result<IdentityResponse> {
    let by = lookup(req.identity_id.as_deref(), req.external_id.as_deref(), &req.environment)?;
    let update = IdentityUpdate {
        meta: req.meta,
        ratelimits: req.ratelimits.map(|v| v.into_iter().map(limit_spec).collect()),
        credits: credits_patch(req.credits),
        meta_limit: MetaLimit::Chars,
    };
    Ok(wire_identity(identities::update(ctx, p, by, update).await?))
}
