//! Key migrations (v2 keys.migrateKeys): the operator creates one per workspace and algorithm;
//! keys imported by hash through it verify once keygate knows their hash. Keys of the
//! `prefixed-api-key` algorithm are found through their old hash on the first verification that
//! names the migration, and re-hashed then (v2-api.md §4.1.6).

use super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{
    hash_key, migrated_start, migration_hash, MIGRATION_PREFIXED_API_KEY, MIGRATION_SHA256,
};
use crate::store::audit::{Actor, Target};
use crate::store::migrations::{self, MigrationRow};

/// The migration `id` of the workspace, or 404.
pub async fn find(ctx: &Ctx, workspace_id: &str, id: &str) -> Result<MigrationRow> {
    migrations::find(&ctx.store, workspace_id, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Migration, format!("migration {id} not found")))
}

/// Creates a key migration for a workspace (operator API); returns its id.
pub async fn create(ctx: &Ctx, workspace_id: &str, algorithm: &str) -> Result<String> {
    if ![MIGRATION_SHA256, MIGRATION_PREFIXED_API_KEY].contains(&algorithm) {
        return Err(Error::bad_request(format!(
            "algorithm: expected '{MIGRATION_SHA256}' or '{MIGRATION_PREFIXED_API_KEY}'"
        )));
    }
    super::workspaces::require_workspace(ctx, workspace_id).await?;
    let id = new_id(IdKind::Migration, ctx.now)?;
    let target = vec![Target::named("keyMigration", &id, Some(algorithm.to_string()))];
    let mut batch = ctx.batch(&Actor::Admin, workspace_id, "keyMigration.create", "", target);
    batch.push(migrations::insert(&id, workspace_id, algorithm, ctx.now));
    ctx.store.commit(batch).await?;
    Ok(id)
}

/// Re-hashes the key `key` if it waits in the migration under its old hash; true when it did.
pub async fn adopt(ctx: &Ctx, workspace_id: &str, migration_id: &str, key: &str) -> Result<bool> {
    let Some(migration) = migrations::find(&ctx.store, workspace_id, migration_id).await? else {
        return Ok(false);
    };
    let Some(old_hash) = migration_hash(&migration.algorithm, key) else {
        return Ok(false);
    };
    let changed = migrations::adopt(
        &ctx.store,
        workspace_id,
        &migration.id,
        &old_hash,
        &hash_key(key),
        &migrated_start(key),
        ctx.now,
    )
    .await?;
    Ok(changed > 0)
}
