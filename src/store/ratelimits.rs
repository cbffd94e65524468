//! `ratelimits` rows: the named limits of keys (`default`, from createKey/updateKey) and of
//! identities. (Namespaces and overrides of `ratelimits.limit` are in [`super::namespaces`].)

use serde::Deserialize;

use super::{Stmt, Store, StoreResult};
use crate::domain::ratelimit::NamedLimit;
use crate::stmt;

/// Creates or replaces (by name) a limit of a key.
pub fn upsert_key_limit(id: &str, key_id: &str, workspace_id: &str, rl: &NamedLimit, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO ratelimits (id, name, workspace_id, created_at, key_id, \"limit\", duration, auto_apply)
         VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6, ?8)
         ON CONFLICT (key_id, name) DO UPDATE SET
           \"limit\" = excluded.\"limit\", duration = excluded.duration, auto_apply = excluded.auto_apply,
           updated_at = ?3",
        id,
        workspace_id,
        now,
        key_id,
        rl.limit,
        rl.duration,
        rl.name.as_str(),
        rl.auto_apply
    )
}

/// A key's limits: (id, name).
pub async fn of_key(store: &Store, key_id: &str) -> StoreResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        name: String,
    }
    let rows: Vec<Row> =
        store.all(stmt!("SELECT id, name FROM ratelimits WHERE key_id = ?1", key_id)).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// Every limit of a key.
pub async fn limits_of_key(store: &Store, key_id: &str) -> StoreResult<Vec<NamedLimit>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
        limit: i64,
        duration: i64,
        #[serde(deserialize_with = "super::int_bool")]
        auto_apply: bool,
    }
    let rows: Vec<Row> = store
        .all(stmt!("SELECT name, \"limit\", duration, auto_apply FROM ratelimits WHERE key_id = ?1", key_id))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| NamedLimit { name: r.name, limit: r.limit, duration: r.duration, auto_apply: r.auto_apply })
        .collect())
}

/// New settings of a key's or an identity's limit.
pub fn update_limit(id: &str, rl: &NamedLimit, now: i64) -> Stmt {
    stmt!(
        "UPDATE ratelimits SET \"limit\" = ?2, duration = ?3, auto_apply = ?4, updated_at = ?5 WHERE id = ?1",
        id,
        rl.limit,
        rl.duration,
        rl.auto_apply,
        now
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
    #[serde(deserialize_with = "super::int_bool")]
    pub auto_apply: bool,
}

pub async fn of_identity(store: &Store, identity_id: &str) -> StoreResult<Vec<IdentityLimitRow>> {
    store
        .all(stmt!(
            "SELECT id, identity_id, name, \"limit\", duration, auto_apply FROM ratelimits WHERE identity_id = ?1 ORDER BY name",
            identity_id
        ))
        .await
}

/// A new limit of an identity.
pub fn insert_identity_limit(
    id: &str,
    workspace_id: &str,
    identity_id: &str,
    rl: &NamedLimit,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO ratelimits (id, name, workspace_id, created_at, identity_id, \"limit\", duration, auto_apply)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        id,
        rl.name.as_str(),
        workspace_id,
        now,
        identity_id,
        rl.limit,
        rl.duration,
        rl.auto_apply
    )
}

pub fn delete_limit(id: &str) -> Stmt {
    stmt!("DELETE FROM ratelimits WHERE id = ?1", id)
}

pub fn delete_of_identity(identity_id: &str) -> Stmt {
    stmt!("DELETE FROM ratelimits WHERE identity_id = ?1", identity_id)
}
