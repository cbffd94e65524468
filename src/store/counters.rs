//! The rate limiter's own storage (the SQLite database of each rate-limiter Durable Object):
//! fixed-window counters per (limit name, duration, window). Calls are synchronous, so a check
//! and its counting cannot interleave with another request.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use super::StoreResult;

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
    Ok(())
}

/// When the next counter stops being needed (the end of the window after its own), if any is
/// left.
pub fn next_reset(sql: &SqlStorage) -> StoreResult<Option<i64>> {
    #[derive(Deserialize)]
    struct Next {
        reset: Option<i64>,
    }
    let rows: Vec<Next> =
        sql.exec("SELECT MIN(reset + duration) AS reset FROM counters", None)?.to_array()?;
    Ok(rows.first().and_then(|r| r.reset))
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
    let rows: Vec<Count> = sql
        .exec(
            "SELECT count FROM counters WHERE name = ? AND duration = ? AND window = ?",
            vec![SqlStorageValue::String(name.to_string()), int(duration), int(window)],
        )?
        .to_array()?;
    Ok(rows.first().map(|r| r.count).unwrap_or(0))
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
