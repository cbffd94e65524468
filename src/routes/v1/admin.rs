//! The operator API (decisions.md §4); the route table checks the ADMIN_TOKEN first.

use crate::api::v1::admin::*;
use crate::api::v1::common::Empty;
use crate::service::workspaces::{self, ApiSettings};
use crate::service::{migrations, Ctx, Result};

pub async fn create_workspace(ctx: &Ctx, req: CreateWorkspaceRequest) -> Result<CreateWorkspaceResponse> {
    Ok(CreateWorkspaceResponse { workspace_id: workspaces::create_workspace(ctx, &req.name).await? })
}

pub async fn update_workspace(ctx: &Ctx, req: UpdateWorkspaceRequest) -> Result<Empty> {
    workspaces::set_workspace_enabled(ctx, &req.workspace_id, req.enabled).await?;
    Ok(Empty {})
}

pub async fn create_root_key(ctx: &Ctx, req: CreateRootKeyRequest) -> Result<CreateRootKeyResponse> {
    let (key_id, key) =
        workspaces::create_root_key(ctx, &req.workspace_id, &req.permissions, req.name.as_deref()).await?;
    Ok(CreateRootKeyResponse { key_id, key })
}

pub async fn update_api(ctx: &Ctx, req: UpdateApiRequest) -> Result<Empty> {
    let settings = ApiSettings {
        ip_whitelist: req.ip_whitelist,
        delete_protection: req.delete_protection,
        default_prefix: req.default_prefix,
        default_bytes: req.default_bytes,
        store_encrypted_keys: req.store_encrypted_keys,
    };
    workspaces::update_api(ctx, &req.api_id, settings).await?;
    Ok(Empty {})
}

pub async fn create_key_migration(
    ctx: &Ctx,
    req: CreateKeyMigrationRequest,
) -> Result<CreateKeyMigrationResponse> {
    Ok(CreateKeyMigrationResponse {
        migration_id: migrations::create(ctx, &req.workspace_id, &req.algorithm).await?,
    })
}
pub async fn list_root_keys(ctx: &Ctx, req: ListRootKeysRequest) -> Result<ListRootKeysResponse> {
    let keys = workspaces::list_root_keys(ctx, &req.workspace_id).await?;
    Ok(ListRootKeysResponse {
        root_keys: keys
            .into_iter()
            .map(|k| RootKey {
                key_id: k.key_id,
                name: k.name,
                start: k.start,
                permissions: k.permissions,
                created_at: k.created_at,
                expires: k.expires,
            })
            .collect(),
    })
}

pub async fn revoke_root_key(ctx: &Ctx, req: RevokeRootKeyRequest) -> Result<Empty> {
    workspaces::revoke_root_key(ctx, &req.key_id).await?;
    Ok(Empty {})
}

pub async fn rotate_root_key(ctx: &Ctx, req: RotateRootKeyRequest) -> Result<CreateRootKeyResponse> {
    let (key_id, key) =
        workspaces::rotate_root_key(ctx, &req.key_id, req.grace_period_ms.unwrap_or(0)).await?;
    Ok(CreateRootKeyResponse { key_id, key })
}
