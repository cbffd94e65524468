//! Workspaces (the operator API creates them; root keys administer them).

use serde::Deserialize;

use super::{Stmt, Store, StoreResult};
use crate::stmt;

/// The live workspace `id`.
pub async fn exists(store: &Store, id: &str) -> StoreResult<bool> {
    #[derive(Deserialize)]
    struct Id {
        #[allow(dead_code)]
        id: String,
    }
    let found: Option<Id> =
        store.first(stmt!("SELECT id FROM workspaces WHERE id = ?1 AND deleted_at_m IS NULL", id)).await?;
    Ok(found.is_some())
}

pub fn insert(id: &str, name: &str, now: i64) -> Stmt {
    stmt!("INSERT INTO workspaces (id, name, enabled, created_at_m) VALUES (?1, ?2, 1, ?3)", id, name, now)
}

pub fn set_enabled(id: &str, enabled: bool, now: i64) -> Stmt {
    stmt!("UPDATE workspaces SET enabled = ?2, updated_at_m = ?3 WHERE id = ?1", id, enabled, now)
}
