//! Key rows: bulk deletion and the keyspace size counter.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use crate::stmt;

/// Recomputes `key_auth.size_approx` (the `total` of apis.listKeys) from the live keys.
pub fn refresh_keyspace_size(
    db: &D1Database,
    key_auth_id: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    stmt!(
        db,
        "UPDATE key_auth SET size_approx = (SELECT COUNT(*) FROM keys WHERE key_auth_id = ?1 AND deleted_at_m IS NULL),
                             size_last_updated_at = ?2
         WHERE id = ?1",
        key_auth_id,
        now
    )
}

/// How many keys the keyspace holds (live only, or all).
pub async fn count_keys(db: &D1Database, key_auth_id: &str, include_deleted: bool) -> worker::Result<i64> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let row: Option<Count> = stmt!(
        db,
        "SELECT COUNT(*) AS n FROM keys WHERE key_auth_id = ?1 AND (?2 OR deleted_at_m IS NULL)",
        key_auth_id,
        include_deleted
    )?
    .first(None)
    .await?;
    Ok(row.map(|c| c.n).unwrap_or(0))
}

/// Marks every live key of a keyspace deleted.
pub fn soft_delete_keyspace_keys(
    db: &D1Database,
    key_auth_id: &str,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    Ok(vec![
        stmt!(
            db,
            "UPDATE keys SET deleted_at_m = ?2, updated_at_m = ?2 WHERE key_auth_id = ?1 AND deleted_at_m IS NULL",
            key_auth_id,
            now
        )?,
        refresh_keyspace_size(db, key_auth_id, now)?,
    ])
}

/// The rows that belong to a key and go with it when it is deleted for good.
const KEY_DEPENDENTS: [&str; 5] =
    ["credits", "ratelimits", "encrypted_keys", "keys_permissions", "keys_roles"];

/// Deletes the keys selected by `key_filter` (an SQL condition on `keys` using `?1`) and every
/// row that depends on them.
fn hard_delete_where(
    db: &D1Database,
    key_filter: &str,
    arg: &str,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let mut stmts = Vec::with_capacity(KEY_DEPENDENTS.len() + 1);
    for table in KEY_DEPENDENTS {
        stmts.push(stmt!(
            db,
            &format!("DELETE FROM {table} WHERE key_id IN (SELECT id FROM keys WHERE {key_filter})"),
            arg
        )?);
    }
    stmts.push(stmt!(db, &format!("DELETE FROM keys WHERE {key_filter}"), arg)?);
    Ok(stmts)
}

/// Deletes every key of a keyspace for good, with its credits, ratelimits, encrypted copy,
/// permission and role links.
pub fn hard_delete_keyspace_keys(
    db: &D1Database,
    key_auth_id: &str,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let mut stmts = hard_delete_where(db, "key_auth_id = ?1", key_auth_id)?;
    stmts.push(refresh_keyspace_size(db, key_auth_id, now)?);
    Ok(stmts)
}

/// Deletes one key for good, with everything that depends on it.
pub fn hard_delete_key(db: &D1Database, key_id: &str) -> worker::Result<Vec<D1PreparedStatement>> {
    hard_delete_where(db, "id = ?1", key_id)
}
