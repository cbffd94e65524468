//! Encrypted copies of recoverable keys (`encrypted_keys`), under the ENCRYPTION_KEY secret.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use crate::api::keys::Key;
use crate::domain::crypto::{MasterKey, KEY_SCHEME};
use crate::http::{ApiError, ApiResult, Ctx};
use crate::stmt;

/// The master key, or 412 when the deployment has no ENCRYPTION_KEY.
pub fn master_key(ctx: &Ctx) -> ApiResult<MasterKey> {
    let secret = ctx.env.var("ENCRYPTION_KEY").map(|v| v.to_string()).unwrap_or_default();
    if secret.is_empty() {
        return Err(ApiError::precondition("recoverable keys need the ENCRYPTION_KEY secret to be set"));
    }
    MasterKey::from_base64(&secret).map_err(|e| ApiError::internal(e.to_string()))
}

/// Stores the encrypted copy of a new key.
pub fn store(
    ctx: &Ctx,
    master: &MasterKey,
    workspace_id: &str,
    key_id: &str,
    plaintext: &str,
) -> ApiResult<D1PreparedStatement> {
    let encrypted =
        master.encrypt(workspace_id, key_id, plaintext).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(stmt!(
        &ctx.db,
        "INSERT INTO encrypted_keys (workspace_id, key_id, created_at, encrypted, encryption_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        workspace_id,
        key_id,
        ctx.now,
        encrypted,
        KEY_SCHEME
    )?)
}

/// Fills `plaintext` of the keys that have an encrypted copy.
pub async fn reveal(ctx: &Ctx, db: &D1Database, keys: &mut [Key]) -> ApiResult<()> {
    #[derive(Deserialize)]
    struct Row {
        key_id: String,
        workspace_id: String,
        encrypted: String,
    }
    if keys.is_empty() {
        return Ok(());
    }
    let ids = super::json_list(keys.iter().map(|k| &k.id));
    let rows: Vec<Row> = stmt!(
        db,
        "SELECT key_id, workspace_id, encrypted FROM encrypted_keys WHERE key_id IN (SELECT value FROM json_each(?1))",
        ids
    )?
    .all()
    .await?
    .results()?;
    if rows.is_empty() {
        return Ok(());
    }
    let master = master_key(ctx)?;
    for row in rows {
        if let Some(key) = keys.iter_mut().find(|k| k.id == row.key_id) {
            key.plaintext = Some(
                master
                    .decrypt(&row.workspace_id, &row.key_id, &row.encrypted)
                    .map_err(|e| ApiError::internal(format!("key {}: {e}", row.key_id)))?,
            );
        }
    }
    Ok(())
}
