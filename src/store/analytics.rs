//! Verification events, kept in keygate's own D1 table (upstream used ClickHouse).

use super::{Store, StoreResult};
use crate::stmt;

#[derive(Debug, Clone)]
pub struct VerificationEvent {
    pub request_id: String,
    pub time: i64,
    pub workspace_id: String,
    pub key_space_id: String,
    pub key_id: String,
    pub outcome: &'static str,
    pub identity_id: Option<String>,
    pub tags: Vec<String>,
    /// Credits this verification deducted.
    pub spent_credits: i64,
}

/// Writes one event.
pub async fn record(store: &Store, event: &VerificationEvent) -> StoreResult<()> {
    let mut tags = event.tags.clone();
    tags.sort();
    store
        .run(stmt!(
            "INSERT INTO key_verifications
               (request_id, time, workspace_id, key_space_id, key_id, outcome, identity_id, tags, spent_credits)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &event.request_id,
            event.time,
            &event.workspace_id,
            &event.key_space_id,
            &event.key_id,
            event.outcome,
            event.identity_id.clone().unwrap_or_default(),
            serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
            event.spent_credits
        ))
        .await?;
    Ok(())
}
