//! Recoverable keys: AES-256-GCM under per-workspace keys derived from a versioned master key
//! (domain::crypto); the ciphertexts live in `encrypted_keys` (store::vault).
//!
//! Rotation: the operator puts a new master key first in `ENCRYPTION_KEYS` and keeps the old ones
//! after it. New copies are sealed with the newest; a copy sealed with an older key is read with
//! that key and re-sealed with the newest after the read, and the hourly cron re-seals the rest in
//! batches, so the old key can be dropped once no copy names it. A copy that cannot be opened
//! (its master key is gone, or it is corrupt) never fails a read: that key is answered without
//! `plaintext` and the reason is logged under the request id.

use super::{Ctx, Error, Result};
use crate::domain::crypto::{Keyring, MasterKey};
use crate::store::key_view::KeyView;
use crate::store::vault::EncryptedRow;
use crate::store::{self, Batch, Stmt};

/// Copies the cron re-seals per run.
const RESEAL_BATCH: i64 = 200;

/// The configured master keys; `None` when the deployment has none.
fn keyring(ctx: &Ctx) -> Result<Option<Keyring>> {
    Keyring::from_base64(&ctx.config.encryption_keys).map_err(|e| Error::Internal(e.to_string()))
}

/// The master keys, or 412 when the deployment has none.
pub fn master_keys(ctx: &Ctx) -> Result<Keyring> {
    keyring(ctx)?.ok_or_else(|| {
        Error::precondition("recoverable keys need the ENCRYPTION_KEYS (or ENCRYPTION_KEY) secret to be set")
    })
}

/// The statement storing the encrypted copy of a new key (sealed with the newest master key).
pub fn encrypted_copy(
    ctx: &Ctx,
    keys: &Keyring,
    workspace_id: &str,
    key_id: &str,
    plaintext: &str,
) -> Result<Stmt> {
    let master = keys.newest();
    let encrypted =
        master.encrypt(workspace_id, key_id, plaintext).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(store::vault::insert(workspace_id, key_id, &encrypted, &master.label(), ctx.now))
}

/// A copy re-sealed with `master`.
fn reseal(ctx: &Ctx, master: &MasterKey, row: &EncryptedRow, plaintext: &str) -> Result<Stmt> {
    let encrypted = master
        .encrypt(&row.workspace_id, &row.key_id, plaintext)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(store::vault::reseal(row, &encrypted, &master.label(), ctx.now))
}

/// Fills `plaintext` of the keys that have a readable encrypted copy; copies sealed with an older
/// master key are re-sealed with the newest after the response.
pub async fn reveal(ctx: &Ctx, keys: &mut [KeyView]) -> Result<()> {
    let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let rows = store::vault::find(&ctx.store, &ids).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let ring = master_keys(ctx)?;
    let mut resealed = Batch::unaudited();
    for row in &rows {
        let Some(key) = keys.iter_mut().find(|k| k.id == row.key_id) else { continue };
        match ring.decrypt(&row.workspace_id, &row.key_id, &row.encrypted, &row.encryption_key_id) {
            Ok(opened) => {
                if opened.stale {
                    resealed.push(reseal(ctx, ring.newest(), row, &opened.plaintext)?);
                }
                key.plaintext = Some(opened.plaintext);
            }
            // one unreadable copy never fails the answer: that key has no plaintext
            Err(e) => worker::console_error!("{}: key {}: {e}", ctx.request_id, row.key_id),
        }
    }
    if !resealed.is_empty() {
        let store = ctx.store.clone();
        let request_id = ctx.request_id.clone();
        ctx.defer(async move {
            if let Err(e) = store.commit(resealed).await {
                worker::console_error!("{request_id}: re-encrypting recoverable keys: {e}");
            }
        });
    }
    Ok(())
}

/// The cron's share of a rotation: re-seals up to [`RESEAL_BATCH`] copies not sealed with the
/// newest master key; returns how many it re-sealed.
pub async fn reencrypt_batch(ctx: &Ctx) -> Result<usize> {
    let Some(ring) = keyring(ctx)? else { return Ok(0) };
    let newest = ring.newest();
    let rows = store::vault::stale(&ctx.store, &newest.label(), RESEAL_BATCH).await?;
    let mut batch = Batch::unaudited();
    let mut resealed = 0;
    for row in &rows {
        match ring.decrypt(&row.workspace_id, &row.key_id, &row.encrypted, &row.encryption_key_id) {
            Ok(opened) => {
                batch.push(reseal(ctx, newest, row, &opened.plaintext)?);
                resealed += 1;
            }
            Err(e) => {
                worker::console_error!("re-encrypting key {}: {e}", row.key_id);
                batch.push(store::vault::touch(&row.key_id, ctx.now));
            }
        }
    }
    ctx.store.commit(batch).await?;
    Ok(resealed)
}
