//! `apis.*` routes.

use crate::api::v1::apis::*;
use crate::api::v1::common::Empty;
use crate::service::auth::Principal;
use crate::service::{apis, Ctx, Result};

pub async fn create_api(ctx: &Ctx, p: &Principal, req: CreateApiRequest) -> Result<CreateApiResponse> {
    let api_id = apis::create(ctx, p, &req.name).await?;
    Ok(CreateApiResponse { api_id, name: req.name })
}

pub async fn get_api(ctx: &Ctx, p: &Principal, req: GetApiQuery) -> Result<GetApiResponse> {
    let api = apis::find(ctx, &p.workspace_id, &req.api_id).await?;
    Ok(GetApiResponse { id: api.id, workspace_id: api.workspace_id, name: api.name })
}

pub async fn delete_api(ctx: &Ctx, p: &Principal, req: DeleteApiRequest) -> Result<Empty> {
    apis::delete(ctx, p, &req.api_id).await?;
    Ok(Empty {})
}

pub async fn delete_keys(ctx: &Ctx, p: &Principal, req: DeleteKeysRequest) -> Result<DeleteKeysResponse> {
    Ok(DeleteKeysResponse { deleted_keys: apis::delete_keys(ctx, p, &req.api_id, req.permanent).await? })
}
