//! The rate limiter's own storage (the SQLite database of each rate-limiter Durable Object):
//! fixed-window counters per (limit name, duration, window). Calls are synchronous, so a check
//! and its counting cannot interleave with another request.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use worker::{SqlCursor, SqlStorage, SqlStorageValue};

use super::idempotency::Record;
use super::StoreResult;

/// The rows of `cursor` as `T` (decoded like every other row, by `domain::json`).
fn rows<T: DeserializeOwned>(cursor: SqlCursor) -> StoreResult<Vec<T>> {
    super::decode_all(cursor.to_array::<Value>()?)
}

fn int(v: i64) -> SqlStorageValue {
    SqlStorageValue::Integer(v)
}

/// Creates the counters table if needed, with the index of [`expire`].
pub fn init(sql: &SqlStorage) -> StoreResult<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS counters (
           name TEXT NOT NULL, duration INTEGER NOT NULL, window INTEGER NOT NULL,
           count INTEGER NOT NULL, reset INTEGER NOT NULL,
           PRIMARY KEY (name, duration, window))",
        None,
    )?;
    sql.exec("CREATE INDEX IF NOT EXISTS counters_gone_idx ON counters (reset + duration)", None)?;
    sql.exec(
        "CREATE TABLE IF NOT EXISTS idempotency (
           key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, reply TEXT NOT NULL, expires INTEGER NOT NULL)",
        None,
    )?;
    sql.exec("CREATE INDEX IF NOT EXISTS idempotency_expiry_idx ON idempotency (expires)", None)?;
    Ok(())
}

/// The live `Idempotency-Key` record of `key` at `now`: (fingerprint, reply); expired records
/// are dropped first (indexed).
pub fn record(sql: &SqlStorage, key: &str, now: i64) -> StoreResult<Option<(String, String)>> {
    sql.exec("DELETE FROM idempotency WHERE expires <= ?", vec![int(now)])?;
    let found: Vec<Record> = rows(sql.exec(
        "SELECT fingerprint, reply FROM idempotency WHERE key = ?",
        vec![SqlStorageValue::String(key.to_string())],
    )?)?;
    Ok(found.into_iter().next().map(|r: Record| (r.fingerprint, r.reply)))
}

/// Keeps the answer to the request of `key` until `expires`.
pub fn put_record(
    sql: &SqlStorage,
    key: &str,
    fingerprint: &str,
    reply: &str,
    expires: i64,
) -> StoreResult<()> {
    let text = |s: &str| SqlStorageValue::String(s.to_string());
    sql.exec(
        "INSERT OR REPLACE INTO idempotency (key, fingerprint, reply, expires) VALUES (?, ?, ?, ?)",
        vec![text(key), text(fingerprint), text(reply), int(expires)],
    )?;
    Ok(())
}

/// Drops the records expired at `now`; when the next one expires, if any is left.
pub fn expire_records(sql: &SqlStorage, now: i64) -> StoreResult<Option<i64>> {
    sql.exec("DELETE FROM idempotency WHERE expires <= ?", vec![int(now)])?;
    let next: Vec<Next> = rows(sql.exec("SELECT MIN(expires) AS reset FROM idempotency", None)?)?;
    Ok(next.first().and_then(|r| r.reset))
}

/// When the next counter stops being needed (the end of the window after its own), if any is
/// left.
/// The earliest of something (a `MIN(…) AS reset`).
#[derive(Deserialize)]
struct Next {
    reset: Option<i64>,
}

pub fn next_reset(sql: &SqlStorage) -> StoreResult<Option<i64>> {
    let next: Vec<Next> = rows(sql.exec("SELECT MIN(reset + duration) AS reset FROM counters", None)?)?;
    Ok(next.first().and_then(|r| r.reset))
}

/// Drops the counters of windows that ended at or before `now` and are not the previous window
/// either (the sliding answer still weighs that one); indexed by that end.
pub fn expire(sql: &SqlStorage, now: i64) -> StoreResult<()> {
    sql.exec("DELETE FROM counters WHERE reset + duration <= ?", vec![int(now)])?;
    Ok(())
}

/// Takes back `cost` from one window's count (a multi-limit request that failed elsewhere).
pub fn refund(sql: &SqlStorage, name: &str, duration: i64, window: i64, cost: i64) -> StoreResult<()> {
    sql.exec(
        "UPDATE counters SET count = MAX(0, count - ?) WHERE name = ? AND duration = ? AND window = ?",
        vec![int(cost), SqlStorageValue::String(name.to_string()), int(duration), int(window)],
    )?;
    Ok(())
}

/// The count of one window (0 when it has none).
pub fn count(sql: &SqlStorage, name: &str, duration: i64, window: i64) -> StoreResult<i64> {
    #[derive(Deserialize)]
    struct Count {
        count: i64,
    }
    let found: Vec<Count> = rows(sql.exec(
        "SELECT count FROM counters WHERE name = ? AND duration = ? AND window = ?",
        vec![SqlStorageValue::String(name.to_string()), int(duration), int(window)],
    )?)?;
    Ok(found.first().map(|r| r.count).unwrap_or(0))
}

/// Stores the count of one window.
pub fn put(
    sql: &SqlStorage,
    name: &str,
    duration: i64,
    window: i64,
    count: i64,
    reset: i64,
) -> StoreResult<()> {
    sql.exec(
        "INSERT INTO counters (name, duration, window, count, reset) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name, duration, window) DO UPDATE SET count = excluded.count",
        vec![SqlStorageValue::String(name.to_string()), int(duration), int(window), int(count), int(reset)],
    )?;
    Ok(())
}
