//! Row types shared by several routes and their loaders.

use serde::{Deserialize, Deserializer};
use worker::D1Database;

use crate::stmt;

/// SQLite stores booleans as 0/1.
pub fn int_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Num(f64),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Num(n) => n != 0.0,
    })
}

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

/// The api `api_id` of `workspace_id`, unless it is deleted (or in another workspace).
pub async fn find_api(db: &D1Database, workspace_id: &str, api_id: &str) -> worker::Result<Option<ApiRow>> {
    stmt!(
        db,
        "SELECT a.id, a.name, a.workspace_id, a.key_auth_id, a.delete_protection,
                ka.default_prefix, ka.default_bytes, COALESCE(ka.store_encrypted_keys, 0) AS store_encrypted_keys
         FROM apis a LEFT JOIN key_auth ka ON ka.id = a.key_auth_id AND ka.deleted_at_m IS NULL
         WHERE a.id = ?1 AND a.workspace_id = ?2 AND a.deleted_at_m IS NULL",
        api_id,
        workspace_id
    )?
    .first(None)
    .await
}
