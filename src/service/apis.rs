//! apis: create, read, delete (with their keys).
//!
//! Like every service module, the permission checks that depend only on the request are made by
//! the wire layer's route table (each wire version states its own queries, built in
//! `domain::permissions::require`); services check the rights that depend on stored data.

use super::auth::Principal;
use super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::store::apis::{self, ApiRow};
use crate::store::audit::Target;
use crate::store::keys;

pub fn not_found(api_id: &str) -> Error {
    Error::not_found(Resource::Api, format!("api {api_id} not found"))
}

/// The live api of the workspace, or 404.
pub async fn find(ctx: &Ctx, workspace_id: &str, api_id: &str) -> Result<ApiRow> {
    apis::find(&ctx.store, workspace_id, api_id).await?.ok_or_else(|| not_found(api_id))
}

/// The keyspace of an api, or 412 when it has none.
pub fn keyspace(api: &ApiRow) -> Result<&str> {
    api.key_auth_id
        .as_deref()
        .ok_or_else(|| Error::precondition(format!("api {} is not setup to handle keys", api.id)))
}

/// Creates an api with its keyspace; returns its id.
pub async fn create(ctx: &Ctx, p: &Principal, name: &str) -> Result<String> {
    let api_id = new_id(IdKind::Api, ctx.now)?;
    let key_auth_id = new_id(IdKind::KeyAuth, ctx.now)?;
    let targets =
        vec![Target::named("api", &api_id, Some(name.to_string())), Target::new("keyAuth", &key_auth_id)];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "api.create", "", targets);
    apis::insert(&mut batch, &api_id, &key_auth_id, &p.workspace_id, name, ctx.now);
    ctx.store.commit(batch).await?;
    Ok(api_id)
}

fn protected(api_id: &str) -> Error {
    Error::DeleteProtected(format!("api {api_id} is protected from deletions"))
}

/// Soft-deletes an api and its keys (the keyspace row stays, as upstream).
pub async fn delete(ctx: &Ctx, p: &Principal, api_id: &str) -> Result<()> {
    let api = find(ctx, &p.workspace_id, api_id).await?;
    if api.delete_protection {
        return Err(protected(&api.id));
    }
    let target = vec![Target::named("api", &api.id, Some(api.name.clone()))];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "api.delete", "", target);
    batch.push(apis::soft_delete(&api.id, ctx.now));
    if let Some(ks) = &api.key_auth_id {
        keys::soft_delete_keyspace(&mut batch, ks, ctx.now);
    }
    ctx.store.commit(batch).await?;
    Ok(())
}

/// Deletes every key of an api (for good with `permanent`); returns how many.
pub async fn delete_keys(ctx: &Ctx, p: &Principal, api_id: &str, permanent: bool) -> Result<i64> {
    let api = find(ctx, &p.workspace_id, api_id).await?;
    if api.delete_protection {
        return Err(protected(&api.id));
    }
    let ks = keyspace(&api)?;
    let deleted = keys::count(&ctx.store, ks, permanent).await?;
    let display = format!("deleted {deleted} keys of api {}", api.id);
    let target = vec![Target::named("api", &api.id, Some(api.name.clone()))];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "key.delete", &display, target);
    if permanent {
        keys::hard_delete_keyspace(&mut batch, ks, ctx.now);
    } else {
        keys::soft_delete_keyspace(&mut batch, ks, ctx.now);
    }
    ctx.store.commit(batch).await?;
    Ok(deleted)
}
