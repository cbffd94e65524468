//! `credits` rows: one per key or per identity (never both), `remaining` NOT NULL.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use crate::api::common::RefillRequest;
use crate::stmt;

/// Whose balance a credits row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditsOwner {
    Key(String),
    Identity(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreditsRow {
    pub id: String,
    pub remaining: i64,
    pub refill_day: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refilled_at: Option<i64>,
}

/// Inserts a credits row. `refilled_at` is `now` when a refill is configured (the schedule starts
/// now), else NULL, as upstream's createKey does.
pub fn insert(
    db: &D1Database,
    id: &str,
    workspace_id: &str,
    owner: &CreditsOwner,
    remaining: i64,
    refill: Option<&RefillRequest>,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    insert_refilled_at(db, id, workspace_id, owner, remaining, refill, refill.map(|_| now), now)
}

/// Inserts a credits row with an explicit `refilled_at` (updateKey stamps new rows with now).
#[allow(clippy::too_many_arguments)]
pub fn insert_refilled_at(
    db: &D1Database,
    id: &str,
    workspace_id: &str,
    owner: &CreditsOwner,
    remaining: i64,
    refill: Option<&RefillRequest>,
    refilled_at: Option<i64>,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    let (key_id, identity_id) = match owner {
        CreditsOwner::Key(k) => (Some(k.as_str()), None),
        CreditsOwner::Identity(i) => (None, Some(i.as_str())),
    };
    stmt!(
        db,
        "INSERT INTO credits (id, workspace_id, key_id, identity_id, remaining, refill_day, refill_amount, refilled_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        id,
        workspace_id,
        key_id,
        identity_id,
        remaining,
        refill.and_then(RefillRequest::stored_day),
        refill.map(|r| r.amount),
        refilled_at,
        now
    )
}

/// The credits row of a key or an identity.
pub async fn find(db: &D1Database, owner: &CreditsOwner) -> worker::Result<Option<CreditsRow>> {
    let (column, id) = match owner {
        CreditsOwner::Key(k) => ("key_id", k),
        CreditsOwner::Identity(i) => ("identity_id", i),
    };
    stmt!(
        db,
        &format!(
            "SELECT id, remaining, refill_day, refill_amount, refilled_at FROM credits WHERE {column} = ?1"
        ),
        id
    )?
    .first(None)
    .await
}
