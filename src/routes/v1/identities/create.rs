use super::{credits_input, limit_spec};
use crate::api::v1::identities::{CreateIdentityRequest, CreateIdentityResponse};
use crate::domain::identities::MetaLimit;
use crate::service::auth::Principal;
use crate::service::identities::{self, NewIdentity};
use crate::service::{Ctx, Result};

pub async fn create(ctx: &Ctx, p: &Principal, req: CreateIdentityRequest) -> Result<CreateIdentityResponse> {
    let input = NewIdentity {
        external_id: req.external_id,
        meta: req.meta,
        ratelimits: req.ratelimits.unwrap_or_default().into_iter().map(limit_spec).collect(),
        credits: req.credits.map(credits_input),
        meta_limit: MetaLimit::Chars,
    };
    Ok(CreateIdentityResponse { identity_id: identities::create(ctx, p, input).await? })
}
