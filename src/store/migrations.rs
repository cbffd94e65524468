//! Key migrations (`key_migrations`) and the keys imported through them (v2 keys.migrateKeys).

use serde::Deserialize;

use super::{json_list, Stmt, Store, StoreResult};
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct MigrationRow {
    pub id: String,
    pub algorithm: String,
}

pub fn insert(id: &str, workspace_id: &str, algorithm: &str, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO key_migrations (id, workspace_id, algorithm, created_at_m) VALUES (?1, ?2, ?3, ?4)",
        id,
        workspace_id,
        algorithm,
        now
    )
}

/// The migration `id` of `workspace_id`.
pub async fn find(store: &Store, workspace_id: &str, id: &str) -> StoreResult<Option<MigrationRow>> {
    store
        .first(stmt!(
            "SELECT id, algorithm FROM key_migrations WHERE id = ?1 AND workspace_id = ?2",
            id,
            workspace_id
        ))
        .await
}

/// Which of these hashes some key already has.
pub async fn existing_hashes(store: &Store, hashes: &[String]) -> StoreResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        hash: String,
    }
    let rows: Vec<Row> = store
        .all(stmt!(
            "SELECT hash FROM keys WHERE hash IN (SELECT value FROM json_each(?1))",
            json_list(hashes)
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.hash).collect())
}

/// Re-hashes the live key of the workspace that waits in `migration_id` under `old_hash`; the
/// number of keys changed (0 or 1).
pub async fn adopt(
    store: &Store,
    workspace_id: &str,
    migration_id: &str,
    old_hash: &str,
    new_hash: &str,
    start: &str,
    now: i64,
) -> StoreResult<i64> {
    let changed = store
        .run(stmt!(
            "UPDATE keys SET hash = ?4, start = ?5, pending_migration_id = NULL, updated_at_m = ?6
             WHERE hash = ?3 AND workspace_id = ?1 AND pending_migration_id = ?2 AND deleted_at_m IS NULL",
            workspace_id,
            migration_id,
            old_hash,
            new_hash,
            start,
            now
        ))
        .await;
    // a key changed its hash: what this isolate read of the workspace, and any unknown key, may
    // be stale (see `changed_since`)
    super::changed(&super::Scope::Workspaces(vec![workspace_id.to_string()]));
    changed
}
