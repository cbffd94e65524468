//! `ratelimits` rows: the named limits of keys (`default`, from createKey/updateKey) and of
//! identities. (Namespaces and overrides of `ratelimits.limit` are in [`super::namespaces`].)

use serde::Deserialize;

use super::{Stmt, Store, StoreResult};
use crate::stmt;

/// Creates or replaces the `default` limit of a key (auto-applied).
pub fn upsert_key_default(
    id: &str,
    key_id: &str,
    workspace_id: &str,
    limit: i64,
    duration: i64,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO ratelimits (id, name, workspace_id, created_at, key_id, \"limit\", duration, auto_apply)
         VALUES (?1, 'default', ?2, ?3, ?4, ?5, ?6, 1)
         ON CONFLICT (key_id, name) DO UPDATE SET
           \"limit\" = excluded.\"limit\", duration = excluded.duration, auto_apply = 1, updated_at = ?3",
        id,
        workspace_id,
        now,
        key_id,
        limit,
        duration
    )
}

pub fn delete_key_default(key_id: &str) -> Stmt {
    stmt!("DELETE FROM ratelimits WHERE key_id = ?1 AND name = 'default'", key_id)
}

/// A limit of an identity.
#[derive(Debug, Clone, Deserialize)]
pub struct IdentityLimitRow {
    pub id: String,
    pub identity_id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
}

pub async fn of_identity(store: &Store, identity_id: &str) -> StoreResult<Vec<IdentityLimitRow>> {
    store
        .all(stmt!(
            "SELECT id, identity_id, name, \"limit\", duration FROM ratelimits WHERE identity_id = ?1 ORDER BY name",
            identity_id
        ))
        .await
}

/// A new auto-applied limit of an identity.
pub fn insert_identity_limit(
    id: &str,
    workspace_id: &str,
    identity_id: &str,
    name: &str,
    limit: i64,
    duration: i64,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO ratelimits (id, name, workspace_id, created_at, identity_id, \"limit\", duration, auto_apply)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
        id,
        name,
        workspace_id,
        now,
        identity_id,
        limit,
        duration
    )
}

pub fn update_limit(id: &str, limit: i64, duration: i64, now: i64) -> Stmt {
    stmt!(
        "UPDATE ratelimits SET \"limit\" = ?2, duration = ?3, updated_at = ?4 WHERE id = ?1",
        id,
        limit,
        duration,
        now
    )
}

pub fn delete_limit(id: &str) -> Stmt {
    stmt!("DELETE FROM ratelimits WHERE id = ?1", id)
}

pub fn delete_of_identity(identity_id: &str) -> Stmt {
    stmt!("DELETE FROM ratelimits WHERE identity_id = ?1", identity_id)
}
