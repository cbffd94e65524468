//! Recoverable keys: AES-256-GCM under per-workspace keys derived from the `ENCRYPTION_KEY`
//! secret (domain::crypto); the ciphertexts live in `encrypted_keys` (store::vault).

use super::{Ctx, Error, Result};
use crate::domain::crypto::{MasterKey, KEY_SCHEME};
use crate::store::key_view::KeyView;
use crate::store::{self, Stmt};

/// The master key, or 412 when the deployment has no ENCRYPTION_KEY.
pub fn master_key(ctx: &Ctx) -> Result<MasterKey> {
    let secret =
        ctx.config.encryption_key.as_deref().ok_or_else(|| {
            Error::precondition("recoverable keys need the ENCRYPTION_KEY secret to be set")
        })?;
    MasterKey::from_base64(secret).map_err(|e| Error::Internal(e.to_string()))
}

/// The statement storing the encrypted copy of a new key.
pub fn encrypted_copy(
    ctx: &Ctx,
    master: &MasterKey,
    workspace_id: &str,
    key_id: &str,
    plaintext: &str,
) -> Result<Stmt> {
    let encrypted =
        master.encrypt(workspace_id, key_id, plaintext).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(store::vault::insert(workspace_id, key_id, &encrypted, KEY_SCHEME, ctx.now))
}

/// Fills `plaintext` of the keys that have an encrypted copy.
pub async fn reveal(ctx: &Ctx, keys: &mut [KeyView]) -> Result<()> {
    let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let rows = store::vault::find(&ctx.store, &ids).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let master = master_key(ctx)?;
    for row in rows {
        if let Some(key) = keys.iter_mut().find(|k| k.id == row.key_id) {
            key.plaintext = Some(
                master
                    .decrypt(&row.workspace_id, &row.key_id, &row.encrypted)
                    .map_err(|e| Error::Internal(format!("key {}: {e}", row.key_id)))?,
            );
        }
    }
    Ok(())
}
