//! `apis` and their keyspaces (`key_auth`).

use serde::Deserialize;

use super::{int_bool, patch_args, Arg, Batch, Stmt, Store, StoreResult};
use crate::domain::patch::Patch;
use crate::stmt;

/// An api with its keyspace settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRow {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub key_auth_id: Option<String>,
    #[serde(deserialize_with = "int_bool")]
    pub delete_protection: bool,
    pub default_prefix: Option<String>,
    pub default_bytes: Option<i64>,
    #[serde(default, deserialize_with = "int_bool")]
    pub store_encrypted_keys: bool,
}

/// The live api `api_id` of `workspace_id`.
pub async fn find(store: &Store, workspace_id: &str, api_id: &str) -> StoreResult<Option<ApiRow>> {
    store
        .first(stmt!(
            "SELECT a.id, a.name, a.workspace_id, a.key_auth_id, a.delete_protection,
                    ka.default_prefix, ka.default_bytes, COALESCE(ka.store_encrypted_keys, 0) AS store_encrypted_keys
             FROM apis a LEFT JOIN key_auth ka ON ka.id = a.key_auth_id AND ka.deleted_at_m IS NULL
             WHERE a.id = ?1 AND a.workspace_id = ?2 AND a.deleted_at_m IS NULL",
            api_id,
            workspace_id
        ))
        .await
}

/// The live api `api_id` of any workspace except `excluded` (the operator API): its workspace
/// and keyspace.
pub async fn find_any(
    store: &Store,
    api_id: &str,
    excluded: &str,
) -> StoreResult<Option<(String, Option<String>)>> {
    #[derive(Deserialize)]
    struct Row {
        workspace_id: String,
        key_auth_id: Option<String>,
    }
    let row: Option<Row> = store
        .first(stmt!(
            "SELECT workspace_id, key_auth_id FROM apis WHERE id = ?1 AND deleted_at_m IS NULL AND workspace_id != ?2",
            api_id,
            excluded
        ))
        .await?;
    Ok(row.map(|r| (r.workspace_id, r.key_auth_id)))
}

/// A new api with its keyspace.
pub fn insert(batch: &mut Batch, api_id: &str, key_auth_id: &str, workspace_id: &str, name: &str, now: i64) {
    batch.push(stmt!(
        "INSERT INTO key_auth (id, workspace_id, created_at_m) VALUES (?1, ?2, ?3)",
        key_auth_id,
        workspace_id,
        now
    ));
    batch.push(stmt!(
        "INSERT INTO apis (id, name, workspace_id, auth_type, key_auth_id, created_at_m)
         VALUES (?1, ?2, ?3, 'key', ?4, ?5)",
        api_id,
        name,
        workspace_id,
        key_auth_id,
        now
    ));
}

pub fn soft_delete(api_id: &str, now: i64) -> Stmt {
    stmt!("UPDATE apis SET deleted_at_m = ?2, updated_at_m = ?2 WHERE id = ?1", api_id, now)
}

/// The operator's api settings (decisions.md §4); absent fields stay.
pub struct ApiSettings {
    pub ip_whitelist: Patch<String>,
    pub delete_protection: Option<bool>,
    pub default_prefix: Patch<String>,
    /// `Null` restores the default (16).
    pub default_bytes: Patch<i64>,
    pub store_encrypted_keys: Option<bool>,
}

pub fn update_settings(
    batch: &mut Batch,
    api_id: &str,
    key_auth_id: Option<&str>,
    s: &ApiSettings,
    now: i64,
) {
    let (set_wl, wl) = patch_args(&s.ip_whitelist);
    batch.push(stmt!(
        "UPDATE apis SET
           ip_whitelist = CASE WHEN ?2 <> 0 THEN ?3 ELSE ip_whitelist END,
           delete_protection = COALESCE(?4, delete_protection),
           updated_at_m = ?5
         WHERE id = ?1",
        api_id,
        set_wl,
        wl,
        s.delete_protection,
        now
    ));
    if let Some(ks) = key_auth_id {
        let (set_prefix, prefix) = patch_args(&s.default_prefix);
        let (set_bytes, bytes) = match &s.default_bytes {
            Patch::Null => (Arg::Int(1), Arg::Int(16)),
            other => patch_args(other),
        };
        batch.push(Stmt::new(
            "UPDATE key_auth SET
               default_prefix = CASE WHEN ?2 <> 0 THEN ?3 ELSE default_prefix END,
               default_bytes = CASE WHEN ?4 <> 0 THEN ?5 ELSE default_bytes END,
               store_encrypted_keys = COALESCE(?6, store_encrypted_keys),
               updated_at_m = ?7
             WHERE id = ?1",
            vec![ks.into(), set_prefix, prefix, set_bytes, bytes, s.store_encrypted_keys.into(), now.into()],
        ));
    }
}
