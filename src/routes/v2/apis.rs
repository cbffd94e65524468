//! v2 `apis.*` routes.

use super::keys::wire_key;
use crate::api::v2::apis::*;
use crate::api::v2::keys::KeyResponse;
use crate::api::v2::{Data, Empty, Page};
use crate::service::auth::Principal;
use crate::service::keys::{self, ListFilter};
use crate::service::{apis, Ctx, Result};

pub async fn create_api(ctx: &Ctx, p: &Principal, req: CreateApiRequest) -> Result<Data<CreateApiResponse>> {
    Ok(Data::of(CreateApiResponse { api_id: apis::create(ctx, p, &req.name).await? }))
}

pub async fn get_api(ctx: &Ctx, p: &Principal, req: GetApiRequest) -> Result<Data<GetApiResponse>> {
    let api = apis::find(ctx, &p.workspace_id, &req.api_id).await?;
    Ok(Data::of(GetApiResponse { id: api.id, name: api.name }))
}

pub async fn list_keys(ctx: &Ctx, p: &Principal, req: ListKeysRequest) -> Result<Page<KeyResponse>> {
    let limit = req.limit.unwrap_or(100);
    let filter = ListFilter {
        api_id: req.api_id,
        limit: Some(limit),
        cursor: req.cursor,
        owner_id: None,
        external_id: req.external_id,
        decrypt: req.decrypt == Some(true),
        v2: true,
        offset: 0,
    };
    let page = keys::list(ctx, p, &filter).await?;
    Ok(Page::of(page.keys, limit, |k| k.id.clone(), wire_key))
}

pub async fn delete_api(ctx: &Ctx, p: &Principal, req: DeleteApiRequest) -> Result<Data<Empty>> {
    apis::delete(ctx, p, &req.api_id).await?;
    Ok(Data::of(Empty {}))
}
