//! Operator API (decisions.md §4). The ADMIN_TOKEN check runs before these handlers.

use crate::api::admin::*;
use crate::api::common::{Empty, Patch};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{hash_key, key_start, new_key};
use crate::domain::rules::normalise_ip_whitelist;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::stmt;
use crate::store::audit::{self, Actor, Target};
use crate::store::{self, Arg};

/// keygate's own workspace and keyspace, where root keys live (created by the first migration).
pub const INTERNAL_WORKSPACE: &str = "ws_keygate";
pub const INTERNAL_KEYSPACE: &str = "ks_keygate";
/// Prefix of root keys.
const ROOT_KEY_PREFIX: &str = "keygate";

async fn workspace_exists(ctx: &Ctx, id: &str) -> ApiResult<bool> {
    if id == INTERNAL_WORKSPACE {
        return Ok(false);
    }
    let found: Option<serde_json::Value> =
        store::first(stmt!(&ctx.db, "SELECT id FROM workspaces WHERE id = ?1 AND deleted_at_m IS NULL", id)?)
            .await?;
    Ok(found.is_some())
}

pub async fn create_workspace(ctx: &Ctx, req: CreateWorkspaceRequest) -> ApiResult<CreateWorkspaceResponse> {
    let id = new_id(IdKind::Workspace, ctx.now)?;
    let mut stmts = vec![stmt!(
        &ctx.db,
        "INSERT INTO workspaces (id, name, enabled, created_at_m) VALUES (?1, ?2, 1, ?3)",
        &id,
        &req.name,
        ctx.now
    )?];
    stmts.extend(audit::log(
        ctx,
        &id,
        &Actor::Admin,
        "workspace.create",
        "",
        &[Target::named("workspace", &id, Some(req.name.clone()))],
    )?);
    store::batch(&ctx.db, stmts).await?;
    Ok(CreateWorkspaceResponse { workspace_id: id })
}

pub async fn update_workspace(ctx: &Ctx, req: UpdateWorkspaceRequest) -> ApiResult<Empty> {
    if !workspace_exists(ctx, &req.workspace_id).await? {
        return Err(ApiError::not_found(format!("workspace {} not found", req.workspace_id)));
    }
    if let Some(enabled) = req.enabled {
        let mut stmts = vec![stmt!(
            &ctx.db,
            "UPDATE workspaces SET enabled = ?2, updated_at_m = ?3 WHERE id = ?1",
            &req.workspace_id,
            enabled,
            ctx.now
        )?];
        stmts.extend(audit::log(
            ctx,
            &req.workspace_id,
            &Actor::Admin,
            "workspace.update",
            if enabled { "enabled the workspace" } else { "disabled the workspace" },
            &[Target::new("workspace", &req.workspace_id)],
        )?);
        store::batch(&ctx.db, stmts).await?;
    }
    Ok(Empty {})
}

pub async fn create_root_key(ctx: &Ctx, req: CreateRootKeyRequest) -> ApiResult<CreateRootKeyResponse> {
    if !workspace_exists(ctx, &req.workspace_id).await? {
        return Err(ApiError::not_found(format!("workspace {} not found", req.workspace_id)));
    }
    let mut permissions = req.permissions.clone();
    permissions.sort();
    permissions.dedup();
    let key = new_key(Some(ROOT_KEY_PREFIX), 16)?;
    let key_id = new_id(IdKind::Key, ctx.now)?;
    let db = &ctx.db;
    let mut stmts = Vec::with_capacity(permissions.len() * 2 + 1);
    for slug in &permissions {
        stmts.push(stmt!(
            db,
            "INSERT OR IGNORE INTO permissions (id, workspace_id, name, slug, created_at_m)
             VALUES (?1, ?2, ?3, ?3, ?4)",
            new_id(IdKind::Permission, ctx.now)?,
            INTERNAL_WORKSPACE,
            slug,
            ctx.now
        )?);
    }
    stmts.push(stmt!(
        db,
        "INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, for_workspace_id, name, created_at_m, enabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
        &key_id,
        INTERNAL_KEYSPACE,
        hash_key(&key),
        key_start(&key, Some(ROOT_KEY_PREFIX)),
        INTERNAL_WORKSPACE,
        &req.workspace_id,
        req.name.clone(),
        ctx.now
    )?);
    for slug in &permissions {
        stmts.push(stmt!(
            db,
            "INSERT INTO keys_permissions (key_id, permission_id, workspace_id, created_at_m)
             SELECT ?1, id, ?2, ?3 FROM permissions WHERE workspace_id = ?2 AND slug = ?4",
            &key_id,
            INTERNAL_WORKSPACE,
            ctx.now,
            slug
        )?);
    }
    stmts.extend(audit::log(
        ctx,
        &req.workspace_id,
        &Actor::Admin,
        "rootKey.create",
        "created a root key",
        &[Target::named("key", &key_id, req.name.clone())],
    )?);
    store::batch(db, stmts).await?;
    Ok(CreateRootKeyResponse { key_id, key })
}

fn patch_arg<T: Clone + Into<Arg>>(p: &Patch<T>) -> (i64, Arg) {
    match p {
        Patch::Absent => (0, Arg::Null),
        Patch::Null => (1, Arg::Null),
        Patch::Value(v) => (1, v.clone().into()),
    }
}

pub async fn update_api(ctx: &Ctx, req: UpdateApiRequest) -> ApiResult<Empty> {
    #[derive(serde::Deserialize)]
    struct Row {
        workspace_id: String,
        key_auth_id: Option<String>,
    }
    let api: Row = store::first(stmt!(
        &ctx.db,
        "SELECT workspace_id, key_auth_id FROM apis WHERE id = ?1 AND deleted_at_m IS NULL AND workspace_id != ?2",
        &req.api_id,
        INTERNAL_WORKSPACE
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("api {} not found", req.api_id)))?;
    let whitelist = match &req.ip_whitelist {
        // an empty list after trimming removes the whitelist
        Patch::Value(v) => normalise_ip_whitelist(v).map_or(Patch::Null, Patch::Value),
        other => other.clone(),
    };
    let (set_wl, wl) = patch_arg(&whitelist);
    let (set_prefix, prefix) = patch_arg(&req.default_prefix);
    let (set_bytes, bytes) = match &req.default_bytes {
        Patch::Null => (1, Arg::Int(16)),
        other => patch_arg(other),
    };
    let db = &ctx.db;
    let mut stmts = vec![stmt!(
        db,
        "UPDATE apis SET
           ip_whitelist = CASE WHEN ?2 THEN ?3 ELSE ip_whitelist END,
           delete_protection = COALESCE(?4, delete_protection),
           updated_at_m = ?5
         WHERE id = ?1",
        &req.api_id,
        set_wl,
        wl,
        req.delete_protection,
        ctx.now
    )?];
    if let Some(ks) = &api.key_auth_id {
        stmts.push(store::prepare(
            db,
            "UPDATE key_auth SET
               default_prefix = CASE WHEN ?2 THEN ?3 ELSE default_prefix END,
               default_bytes = CASE WHEN ?4 THEN ?5 ELSE default_bytes END,
               store_encrypted_keys = COALESCE(?6, store_encrypted_keys),
               updated_at_m = ?7
             WHERE id = ?1",
            vec![
                ks.into(),
                set_prefix.into(),
                prefix,
                set_bytes.into(),
                bytes,
                req.store_encrypted_keys.into(),
                ctx.now.into(),
            ],
        )?);
    }
    stmts.extend(audit::log(
        ctx,
        &api.workspace_id,
        &Actor::Admin,
        "api.update",
        "",
        &[Target::new("api", &req.api_id)],
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}
