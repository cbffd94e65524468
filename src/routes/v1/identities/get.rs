use super::wire_identity;
use crate::api::v1::identities::{GetIdentityQuery, IdentityResponse};
use crate::service::auth::Principal;
use crate::service::identities::{self, lookup};
use crate::service::{Ctx, Result};

pub async fn get(ctx: &Ctx, p: &Principal, req: GetIdentityQuery) -> Result<IdentityResponse> {
    let by = lookup(req.identity_id.as_deref(), req.external_id.as_deref(), &req.environment)?;
    Ok(wire_identity(identities::get(ctx, p, by).await?))
}
