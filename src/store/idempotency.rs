//! The `Idempotency-Key` records of the usage limiters (D1 `idempotency`, one key per
//! workspace). The usage limiter of a balance writes them in the same transaction as the
//! deduction or change they answer ([`save`] after that statement), so a retry finds either the
//! record or nothing charged. Records live 24 h: lookups ignore expired ones, a new request takes
//! an expired key over, and the cron deletes them ([`delete_expired`], through the expiry index).

use serde::Deserialize;

use super::{Stmt, Store, StoreResult};
use crate::stmt;

/// A stored answer: the request it answered and the answer (JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub fingerprint: String,
    pub reply: String,
}

/// The live record of `key` in `workspace_id` at `now`.
pub async fn find(store: &Store, workspace_id: &str, key: &str, now: i64) -> StoreResult<Option<Record>> {
    store
        .first(stmt!(
            "SELECT fingerprint, reply FROM idempotency
             WHERE workspace_id = ?1 AND idem_key = ?2 AND expires_at > ?3",
            workspace_id,
            key,
            now
        ))
        .await
}

/// A request's key and what it asked, as the usage limiter stores them.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub workspace_id: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a str,
}

/// Keeps a live record as it is (the key answers another request) and takes an expired one over
/// (`?4` = now). The row counts as changed either way, so a statement after it in the batch can
/// still ask `changes()` whether the change the record answers happened.
const UPSERT: &str = "ON CONFLICT (workspace_id, idem_key) DO UPDATE SET
      fingerprint = CASE WHEN idempotency.expires_at <= ?4 THEN excluded.fingerprint ELSE idempotency.fingerprint END,
      reply = CASE WHEN idempotency.expires_at <= ?4 THEN excluded.reply ELSE idempotency.reply END,
      expires_at = CASE WHEN idempotency.expires_at <= ?4 THEN excluded.expires_at ELSE idempotency.expires_at END";

/// Stores `records` (a JSON array of `{w: workspace, k: key, f: fingerprint, r: reply}`) until
/// `expires_at`. With `after_change` they are written only if the statement before this one in
/// the batch changed a row (the deduction they answer).
pub fn save(records: String, expires_at: i64, now: i64, after_change: bool) -> Stmt {
    stmt!(
        format!(
            "INSERT INTO idempotency (workspace_id, idem_key, fingerprint, reply, expires_at)
             SELECT json_extract(value, '$.w'), json_extract(value, '$.k'), json_extract(value, '$.f'),
                    json_extract(value, '$.r'), ?2
             FROM json_each(?1) WHERE ?3 = 0 OR changes() > 0 {UPSERT}"
        ),
        records,
        expires_at,
        after_change,
        now
    )
}

/// Stores the answer of a change that the statement before this one made (if it changed a row):
/// the balance after it, read by `current` (a scalar query of the balance whose id is `?8`).
pub fn save_change(claim: Claim<'_>, current: &str, balance_id: &str, expires_at: i64, now: i64) -> Stmt {
    stmt!(
        format!(
            "INSERT INTO idempotency (workspace_id, idem_key, fingerprint, reply, expires_at)
             SELECT ?5, ?6, ?7, json_object('exists', json('true'), 'valid', json('true'), 'remaining', ({current})), ?2
             WHERE changes() > 0 {UPSERT}"
        ),
        "",
        expires_at,
        true,
        now,
        claim.workspace_id,
        claim.key,
        claim.fingerprint,
        balance_id
    )
}

/// Deletes at most `limit` records expired at `now`; how many it deleted.
pub async fn delete_expired(store: &Store, now: i64, limit: i64) -> StoreResult<i64> {
    store
        .run(stmt!(
            "DELETE FROM idempotency WHERE (workspace_id, idem_key) IN
               (SELECT workspace_id, idem_key FROM idempotency WHERE expires_at <= ?1 LIMIT ?2)",
            now,
            limit
        ))
        .await
}
