//! `credits` rows (one per key or per identity, never both; `remaining` NOT NULL) and the
//! legacy `keys.remaining_requests` columns: the stored settings of balances. The balance
//! arithmetic of verifications lives in [`super::balances`] (the usage limiter's SQL).

use serde::Deserialize;

use super::{Batch, Stmt, Store, StoreResult};
use crate::domain::credits::{CreditWrite, CreditsOwner};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::refill::Refill;
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct CreditsRow {
    pub id: String,
    pub remaining: i64,
    pub refill_day: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refilled_at: Option<i64>,
}

/// A new credits row with an explicit `refilled_at` (the start of its refill schedule).
pub fn insert(
    credit_id: &str,
    workspace_id: &str,
    owner: &CreditsOwner,
    remaining: i64,
    refill: Option<&Refill>,
    refilled_at: Option<i64>,
    now: i64,
) -> Stmt {
    let (key_id, identity_id) = match owner {
        CreditsOwner::Key(k) => (Some(k.as_str()), None),
        CreditsOwner::Identity(i) => (None, Some(i.as_str())),
    };
    stmt!(
        "INSERT INTO credits (id, workspace_id, key_id, identity_id, remaining, refill_day, refill_amount, refilled_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        credit_id,
        workspace_id,
        key_id,
        identity_id,
        remaining,
        refill.and_then(Refill::stored_day),
        refill.map(|r| r.amount),
        refilled_at,
        now
    )
}

/// The credits row of a key or an identity.
pub async fn find(store: &Store, owner: &CreditsOwner) -> StoreResult<Option<CreditsRow>> {
    let (column, id) = match owner {
        CreditsOwner::Key(k) => ("key_id", k),
        CreditsOwner::Identity(i) => ("identity_id", i),
    };
    store
        .first(stmt!(
            format!("SELECT id, remaining, refill_day, refill_amount, refilled_at FROM credits WHERE {column} = ?1"),
            id
        ))
        .await
}

/// Deletes an identity's credits row.
pub fn delete_of_identity(identity_id: &str) -> Stmt {
    stmt!("DELETE FROM credits WHERE identity_id = ?1", identity_id)
}

/// Adds the statements of one planned write (domain::credits) to `batch`.
pub fn stage(batch: &mut Batch, write: &CreditWrite, workspace_id: &str, now: i64) -> StoreResult<()> {
    let refill_args = |r: &Option<Refill>| (r.map(|r| r.amount), r.and_then(|r| r.stored_day()));
    batch.push(match write {
        CreditWrite::DeleteRow(credit_id) => stmt!("DELETE FROM credits WHERE id = ?1", credit_id),
        CreditWrite::ClearLegacy(key_id) => {
            stmt!("UPDATE keys SET remaining_requests = NULL, updated_at_m = ?2 WHERE id = ?1", key_id, now)
        }
        CreditWrite::InsertRow { owner, remaining, refill, stamp_now } => {
            let refilled_at = if *stamp_now { Some(now) } else { refill.map(|_| now) };
            let id = new_id(IdKind::Credit, now)?;
            insert(&id, workspace_id, owner, *remaining, refill.as_ref(), refilled_at, now)
        }
        CreditWrite::SetRowRefill { credit_id, refill } => {
            let (amount, day) = refill_args(refill);
            stmt!(
                "UPDATE credits SET refill_amount = ?2, refill_day = ?3,
                   refilled_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END, updated_at = ?4
                 WHERE id = ?1",
                credit_id,
                amount,
                day,
                now
            )
        }
        CreditWrite::CopyKeyRow { from_key, to_key } => stmt!(
            "INSERT INTO credits (id, workspace_id, key_id, remaining, refill_day, refill_amount, refilled_at, created_at)
             SELECT ?3, workspace_id, ?2, remaining, refill_day, refill_amount, refilled_at, ?4
             FROM credits WHERE key_id = ?1",
            from_key,
            to_key,
            new_id(IdKind::Credit, now)?,
            now
        ),
        CreditWrite::SetLegacyRefill { key_id, refill } => {
            let (amount, day) = refill_args(refill);
            stmt!(
                "UPDATE keys SET refill_amount = ?2, refill_day = ?3,
                   last_refill_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END
                 WHERE id = ?1",
                key_id,
                amount,
                day,
                now
            )
        }
        // refilled_at = now: a refill configured later counts from here
        CreditWrite::UpsertKeyRow { key_id, remaining } => stmt!(
            "INSERT INTO credits (id, workspace_id, key_id, remaining, refilled_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (key_id) DO UPDATE SET remaining = excluded.remaining, updated_at = ?5",
            new_id(IdKind::Credit, now)?,
            workspace_id,
            key_id,
            *remaining,
            now
        ),
    });
    Ok(())
}
