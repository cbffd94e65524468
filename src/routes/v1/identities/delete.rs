use crate::api::v1::common::Empty;
use crate::api::v1::identities::DeleteIdentityRequest;
use crate::service::auth::Principal;
use crate::service::identities::{self, IdentityRef};
use crate::service::{Ctx, Result};

pub async fn delete(ctx: &Ctx, p: &Principal, req: DeleteIdentityRequest) -> Result<Empty> {
    identities::delete(ctx, p, IdentityRef::Id(&req.identity_id)).await?;
    Ok(Empty {})
}
