//! Encrypted copies of recoverable keys (`encrypted_keys`). Encryption itself happens in the
//! service layer; this module only stores and reads the ciphertexts.

use serde::Deserialize;

use super::{json_list, Stmt, Store, StoreResult};
use crate::stmt;

/// The encrypted copy of a new key.
pub fn insert(workspace_id: &str, key_id: &str, encrypted: &str, scheme: &str, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO encrypted_keys (workspace_id, key_id, created_at, encrypted, encryption_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        workspace_id,
        key_id,
        now,
        encrypted,
        scheme
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedRow {
    pub key_id: String,
    pub workspace_id: String,
    pub encrypted: String,
}

/// The encrypted copies of the given keys (those that have one).
pub async fn find(store: &Store, key_ids: &[String]) -> StoreResult<Vec<EncryptedRow>> {
    if key_ids.is_empty() {
        return Ok(Vec::new());
    }
    store
        .all(stmt!(
            "SELECT key_id, workspace_id, encrypted FROM encrypted_keys WHERE key_id IN (SELECT value FROM json_each(?1))",
            json_list(key_ids)
        ))
        .await
}
