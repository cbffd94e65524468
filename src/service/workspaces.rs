//! The operator API's operations (decisions.md §4): workspaces, root keys, api settings.

use super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{hash_key, key_start, new_key};
use crate::domain::patch::Patch;
use crate::domain::rbac::LinkKind;
use crate::domain::verify::normalise_ip_whitelist;
use crate::store::apis;
pub use crate::store::apis::ApiSettings;
use crate::store::audit::{Actor, Target};
use crate::store::keys::{self, NewKeyRow};
use crate::store::{rbac, workspaces};

/// keygate's own workspace and keyspace, where root keys live (created by the first migration).
pub const INTERNAL_WORKSPACE: &str = "ws_keygate";
pub const INTERNAL_KEYSPACE: &str = "ks_keygate";
/// Prefix of root keys.
const ROOT_KEY_PREFIX: &str = "keygate";

fn workspace_not_found(id: &str) -> Error {
    Error::not_found(Resource::Workspace, format!("workspace {id} not found"))
}

/// A workspace the operator may change (never keygate's own).
pub(crate) async fn require_workspace(ctx: &Ctx, id: &str) -> Result<()> {
    if id != INTERNAL_WORKSPACE && workspaces::exists(&ctx.store, id).await? {
        Ok(())
    } else {
        Err(workspace_not_found(id))
    }
}

pub async fn create_workspace(ctx: &Ctx, name: &str) -> Result<String> {
    let id = new_id(IdKind::Workspace, ctx.now)?;
    let target = vec![Target::named("workspace", &id, Some(name.to_string()))];
    let mut batch = ctx.batch(&Actor::Admin, &id, "workspace.create", "", target);
    batch.push(workspaces::insert(&id, name, ctx.now));
    ctx.store.commit(batch).await?;
    Ok(id)
}

pub async fn set_workspace_enabled(ctx: &Ctx, id: &str, enabled: Option<bool>) -> Result<()> {
    require_workspace(ctx, id).await?;
    if let Some(enabled) = enabled {
        let display = if enabled { "enabled the workspace" } else { "disabled the workspace" };
        let mut batch =
            ctx.batch(&Actor::Admin, id, "workspace.update", display, vec![Target::new("workspace", id)]);
        batch.push(workspaces::set_enabled(id, enabled, ctx.now));
        ctx.store.commit(batch).await?;
    }
    Ok(())
}

/// A new root key for `workspace_id` holding `permissions`: its id and the key (shown once).
pub async fn create_root_key(
    ctx: &Ctx,
    workspace_id: &str,
    permissions: &[String],
    name: Option<&str>,
) -> Result<(String, String)> {
    require_workspace(ctx, workspace_id).await?;
    let mut permissions = permissions.to_vec();
    permissions.sort();
    permissions.dedup();
    let key = new_key(Some(ROOT_KEY_PREFIX), 16)?;
    let key_id = new_id(IdKind::Key, ctx.now)?;
    let target = vec![Target::named("key", &key_id, name.map(String::from))];
    let mut batch = ctx.batch(&Actor::Admin, workspace_id, "rootKey.create", "created a root key", target);
    rbac::create_named(&mut batch, LinkKind::Permission, INTERNAL_WORKSPACE, &permissions, ctx.now)?;
    let hash = hash_key(&key);
    let start = key_start(&key, Some(ROOT_KEY_PREFIX));
    batch.push(keys::insert(
        &NewKeyRow {
            id: &key_id,
            key_auth_id: INTERNAL_KEYSPACE,
            workspace_id: INTERNAL_WORKSPACE,
            hash: &hash,
            start: &start,
            name,
            owner: None,
            meta: None,
            expires: None,
            enabled: true,
            environment: None,
            for_workspace_id: Some(workspace_id),
            pending_migration_id: None,
        },
        ctx.now,
    ));
    if !permissions.is_empty() {
        batch.push(rbac::connect(LinkKind::Permission, &key_id, INTERNAL_WORKSPACE, &permissions, ctx.now));
    }
    ctx.store.commit(batch).await?;
    Ok((key_id, key))
}

/// Changes an api's settings (any workspace but keygate's own).
pub async fn update_api(ctx: &Ctx, api_id: &str, mut settings: ApiSettings) -> Result<()> {
    let (workspace_id, key_auth_id) = apis::find_any(&ctx.store, api_id, INTERNAL_WORKSPACE)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Api, format!("api {api_id} not found")))?;
    // an empty list after trimming removes the whitelist
    if let Patch::Value(v) = &settings.ip_whitelist {
        settings.ip_whitelist = normalise_ip_whitelist(v).map_or(Patch::Null, Patch::Value);
    }
    let mut batch =
        ctx.batch(&Actor::Admin, &workspace_id, "api.update", "", vec![Target::new("api", api_id)]);
    apis::update_settings(&mut batch, api_id, key_auth_id.as_deref(), &settings, ctx.now);
    ctx.store.commit(batch).await?;
    Ok(())
}
