//! `apis.*` routes.

use crate::api::apis::*;
use crate::api::common::{Empty, ErrorCode};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::root_key;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::rows::{find_api, ApiRow};
use crate::store::{self, keys as key_store};

/// `or("*", "api.*.<action>", "api.<apiId>.<action>")`
pub fn api_permission(api_id: &str, action: &str) -> PermissionQuery {
    PermissionQuery::any_of(["*".to_string(), format!("api.*.{action}"), format!("api.{api_id}.{action}")])
}

pub fn api_not_found(api_id: &str) -> ApiError {
    ApiError::not_found(format!("api {api_id} not found"))
}

async fn api_of(ctx: &Ctx, workspace_id: &str, api_id: &str) -> ApiResult<ApiRow> {
    find_api(&ctx.db, workspace_id, api_id).await?.ok_or_else(|| api_not_found(api_id))
}

pub async fn create_api(ctx: &Ctx, req: CreateApiRequest) -> ApiResult<CreateApiResponse> {
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "api.*.create_api"]))).await?;
    let api_id = new_id(IdKind::Api, ctx.now)?;
    let key_auth_id = new_id(IdKind::KeyAuth, ctx.now)?;
    let db = &ctx.db;
    let mut stmts = vec![
        stmt!(
            db,
            "INSERT INTO key_auth (id, workspace_id, created_at_m) VALUES (?1, ?2, ?3)",
            &key_auth_id,
            &root.workspace_id,
            ctx.now
        )?,
        stmt!(
            db,
            "INSERT INTO apis (id, name, workspace_id, auth_type, key_auth_id, created_at_m)
             VALUES (?1, ?2, ?3, 'key', ?4, ?5)",
            &api_id,
            &req.name,
            &root.workspace_id,
            &key_auth_id,
            ctx.now
        )?,
    ];
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "api.create",
        "",
        &[Target::named("api", &api_id, Some(req.name.clone())), Target::new("keyAuth", &key_auth_id)],
    )?);
    store::batch(db, stmts).await?;
    Ok(CreateApiResponse { api_id, name: req.name })
}

pub async fn get_api(ctx: &Ctx, req: GetApiQuery) -> ApiResult<GetApiResponse> {
    let root = root_key(ctx, Some(&api_permission(&req.api_id, "read_api"))).await?;
    let api = api_of(ctx, &root.workspace_id, &req.api_id).await?;
    Ok(GetApiResponse { id: api.id, workspace_id: api.workspace_id, name: api.name })
}

fn protected(api_id: &str) -> ApiError {
    ApiError::new(ErrorCode::DeleteProtected, format!("api {api_id} is protected from deletions"))
}

pub async fn delete_api(ctx: &Ctx, req: DeleteApiRequest) -> ApiResult<Empty> {
    let root = root_key(ctx, Some(&api_permission(&req.api_id, "delete_api"))).await?;
    let api = api_of(ctx, &root.workspace_id, &req.api_id).await?;
    if api.delete_protection {
        return Err(protected(&api.id));
    }
    let db = &ctx.db;
    let mut stmts = vec![stmt!(
        db,
        "UPDATE apis SET deleted_at_m = ?2, updated_at_m = ?2 WHERE id = ?1",
        &api.id,
        ctx.now
    )?];
    if let Some(ks) = &api.key_auth_id {
        stmts.extend(key_store::soft_delete_keyspace_keys(db, ks, ctx.now)?);
    }
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "api.delete",
        "",
        &[Target::named("api", &api.id, Some(api.name.clone()))],
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}

pub async fn delete_keys(ctx: &Ctx, req: DeleteKeysRequest) -> ApiResult<DeleteKeysResponse> {
    let root = root_key(ctx, Some(&api_permission(&req.api_id, "delete_key"))).await?;
    let api = api_of(ctx, &root.workspace_id, &req.api_id).await?;
    if api.delete_protection {
        return Err(protected(&api.id));
    }
    let ks = api
        .key_auth_id
        .as_deref()
        .ok_or_else(|| ApiError::precondition(format!("api {} is not setup to handle keys", api.id)))?;
    let db = &ctx.db;
    let deleted = key_store::count_keys(db, ks, req.permanent).await?;
    let mut stmts = if req.permanent {
        key_store::hard_delete_keyspace_keys(db, ks, ctx.now)?
    } else {
        key_store::soft_delete_keyspace_keys(db, ks, ctx.now)?
    };
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "key.delete",
        &format!("deleted {deleted} keys of api {}", api.id),
        &[Target::named("api", &api.id, Some(api.name.clone()))],
    )?);
    store::batch(db, stmts).await?;
    Ok(DeleteKeysResponse { deleted_keys: deleted })
}
