//! Encrypted copies of recoverable keys (`encrypted_keys`). Encryption itself happens in the
//! service layer; this module only stores and reads the ciphertexts.

use serde::Deserialize;

use super::{json_list, Stmt, Store, StoreResult};
use crate::stmt;

/// The encrypted copy of a new key; `label` names the master key that sealed it.
pub fn insert(workspace_id: &str, key_id: &str, encrypted: &str, label: &str, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO encrypted_keys (workspace_id, key_id, created_at, encrypted, encryption_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        workspace_id,
        key_id,
        now,
        encrypted,
        label
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedRow {
    pub key_id: String,
    pub workspace_id: String,
    pub encrypted: String,
    pub encryption_key_id: String,
}

/// The encrypted copies of the given keys (those that have one).
pub async fn find(store: &Store, key_ids: &[String]) -> StoreResult<Vec<EncryptedRow>> {
    if key_ids.is_empty() {
        return Ok(Vec::new());
    }
    store
        .all(stmt!(
            "SELECT key_id, workspace_id, encrypted, encryption_key_id FROM encrypted_keys
             WHERE key_id IN (SELECT value FROM json_each(?1))",
            json_list(key_ids)
        ))
        .await
}

/// Up to `limit` copies not sealed with the master key `label`, least recently touched first
/// (a copy that cannot be re-encrypted is touched and goes to the back).
pub async fn stale(store: &Store, label: &str, limit: i64) -> StoreResult<Vec<EncryptedRow>> {
    store
        .all(stmt!(
            "SELECT key_id, workspace_id, encrypted, encryption_key_id FROM encrypted_keys
             WHERE encryption_key_id <> ?1 ORDER BY COALESCE(updated_at, created_at), key_id LIMIT ?2",
            label,
            limit
        ))
        .await
}

/// Replaces a copy by one sealed with the master key `label`, unless it changed meanwhile.
pub fn reseal(row: &EncryptedRow, encrypted: &str, label: &str, now: i64) -> Stmt {
    stmt!(
        "UPDATE encrypted_keys SET encrypted = ?3, encryption_key_id = ?4, updated_at = ?5
         WHERE key_id = ?1 AND encrypted = ?2",
        &row.key_id,
        &row.encrypted,
        encrypted,
        label,
        now
    )
}

/// Marks a copy that could not be re-encrypted as tried now.
pub fn touch(key_id: &str, now: i64) -> Stmt {
    stmt!("UPDATE encrypted_keys SET updated_at = ?2 WHERE key_id = ?1", key_id, now)
}
