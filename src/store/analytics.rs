//! Verification analytics in keygate's own D1 table (upstream used ClickHouse): hourly rollups
//! per (key, hour, identity, tag set), written by one upsert per flush, read by the analytics
//! routes, deleted after the retention period.

use serde::Deserialize;

use super::{json_list, Arg, Dialect, Stmt, Store, StoreResult};
use crate::domain::analytics::{Grouping, Measure, Rollup, TimeBucket, DAY_MS};
use crate::stmt;

const COUNTERS: [&str; 7] = [
    "valid",
    "rate_limited",
    "usage_exceeded",
    "disabled",
    "expired",
    "forbidden",
    "insufficient_permissions",
];

/// Adds the rollups to the stored ones: ONE statement whatever their number (the rows travel as
/// one JSON argument), so a flush is one D1 round trip and one transaction.
pub async fn add(store: &Store, rows: &[Rollup]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let json: Vec<_> = rows
        .iter()
        .map(|r| {
            let c = r.counts;
            (&r.key_id, r.hour, &r.identity_id, r.tags_json(), &r.workspace_id, &r.key_space_id, c, r.spent)
        })
        .collect();
    let json = serde_json::to_string(&json).map_err(|e| super::StoreError::Decode(e.to_string()))?;
    let counters = COUNTERS.join(", ");
    // the rows out of the JSON array: the two dialects read JSON differently
    let (from_json, source): (Vec<String>, &str) = match store.dialect() {
        Dialect::Sqlite => (
            (0..6)
                .map(|i| format!("json_extract(value, '$[{i}]')"))
                .chain((0..7).map(|i| format!("json_extract(value, '$[6][{i}]')")))
                .chain(std::iter::once("json_extract(value, '$[7]')".to_string()))
                .collect(),
            "json_each(?1) WHERE true",
        ),
        Dialect::Postgres => (
            (0..6)
                .map(|i| if i == 1 { format!("(v->>{i})::bigint") } else { format!("v->>{i}") })
                .chain((0..7).map(|i| format!("(v->6->>{i})::bigint")))
                .chain(std::iter::once("(v->>7)::bigint".to_string()))
                .collect(),
            "json_array_elements(?1::json) AS e(v)",
        ),
    };
    let sums: Vec<String> = COUNTERS
        .iter()
        .chain(["spent_credits"].iter())
        .map(|c| format!("{c} = verification_rollups.{c} + excluded.{c}"))
        .collect();
    store
        .run(stmt!(
            format!(
                "INSERT INTO verification_rollups
                   (key_id, hour, identity_id, tags, workspace_id, key_space_id, {counters}, spent_credits)
                 SELECT {} FROM {source}
                 ON CONFLICT (key_id, hour, identity_id, tags) DO UPDATE SET {}",
                from_json.join(", "),
                sums.join(", ")
            ),
            json
        ))
        .await?;
    Ok(())
}

/// What an analytics read selects. Rollups are hourly: `[from, to)` selects the hours that
/// begin in it (the caller rounds `from` down to its hour).
pub struct Query<'a> {
    pub workspace_id: &'a str,
    pub key_space_id: Option<&'a str>,
    pub key_ids: Option<&'a [String]>,
    pub identity_id: Option<&'a str>,
    /// Verifications carrying any of these tags.
    pub any_tag: Option<&'a [String]>,
    pub from: i64,
    pub to: i64,
    pub grouping: Grouping,
    pub order_by: Option<Measure>,
    pub descending: bool,
    pub limit: i64,
}

/// One datapoint: the sums of a group.
#[derive(Debug, Clone, Deserialize)]
pub struct Datapoint {
    pub time: Option<i64>,
    pub key_id: Option<String>,
    pub identity_id: Option<String>,
    pub external_id: Option<String>,
    /// The tag set (JSON text) when grouping by tags.
    pub tags: Option<String>,
    pub tag: Option<String>,
    pub valid: i64,
    pub rate_limited: i64,
    pub usage_exceeded: i64,
    pub disabled: i64,
    pub expired: i64,
    pub forbidden: i64,
    pub insufficient_permissions: i64,
    pub total: i64,
    pub spent_credits: i64,
}

fn time_sql(bucket: TimeBucket, dialect: Dialect) -> String {
    match (bucket, dialect) {
        (TimeBucket::Hour, _) => "r.hour".into(),
        (TimeBucket::Day, _) => format!("(r.hour - r.hour % {DAY_MS})"),
        // the first day of the month (UTC), in each dialect's date functions
        (TimeBucket::Month, Dialect::Sqlite) => {
            "(CAST(strftime('%s', r.hour / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000)".into()
        }
        (TimeBucket::Month, Dialect::Postgres) => {
            "(CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(r.hour / 1000) AT TIME ZONE 'UTC')) AS BIGINT) * 1000)"
                .into()
        }
    }
}

/// The sums per group, ordered, at most `limit` rows.
pub async fn query(store: &Store, q: &Query<'_>) -> StoreResult<Vec<Datapoint>> {
    let mut args: Vec<Arg> = vec![q.workspace_id.into(), q.from.into(), q.to.into()];
    let mut arg = |a: Arg| {
        args.push(a);
        format!("?{}", args.len())
    };
    let mut filters = String::new();
    if let Some(ks) = q.key_space_id {
        filters += &format!(" AND r.key_space_id = {}", arg(ks.into()));
    }
    if let Some(ids) = q.key_ids {
        filters += &format!(" AND r.key_id IN (SELECT value FROM json_each({}))", arg(json_list(ids).into()));
    }
    if let Some(id) = q.identity_id {
        filters += &format!(" AND r.identity_id = {}", arg(id.into()));
    }
    let g = q.grouping;
    let mut from = "verification_rollups r".to_string();
    if let Some(tags) = q.any_tag {
        let list = arg(json_list(tags).into());
        if g.tag {
            filters += &format!(" AND t.value IN (SELECT value FROM json_each({list}))");
        } else {
            filters += &format!(
                " AND EXISTS (SELECT 1 FROM json_each(r.tags) x WHERE x.value IN (SELECT value FROM json_each({list})))"
            );
        }
    }
    let mut select = Vec::new();
    let mut group = Vec::new();
    if let Some(bucket) = g.time {
        select.push(format!("{} AS time", time_sql(bucket, store.dialect())));
        group.push("time");
    }
    if g.key {
        select.push("r.key_id AS key_id".into());
        group.push("r.key_id");
    }
    if g.identity {
        // one identity per id: MAX picks its external id (Postgres wants an aggregate)
        select.push("r.identity_id AS identity_id, MAX(i.external_id) AS external_id".into());
        group.push("r.identity_id");
        from += " LEFT JOIN identities i ON i.id = r.identity_id";
    }
    if g.tags {
        select.push("r.tags AS tags".into());
        group.push("r.tags");
    }
    if g.tag {
        select.push("t.value AS tag".into());
        group.push("t.value");
        from += " CROSS JOIN json_each(r.tags) t";
    }
    // Postgres sums BIGINTs as NUMERIC
    for c in COUNTERS.iter().chain(["spent_credits"].iter()) {
        select.push(format!("CAST(COALESCE(SUM(r.{c}), 0) AS BIGINT) AS {c}"));
    }
    select.push(format!("CAST(COALESCE(SUM(r.{}), 0) AS BIGINT) AS total", COUNTERS.join(" + r.")));
    let mut order = Vec::new();
    let dir = if q.descending { "DESC" } else { "ASC" };
    match q.order_by {
        Some(Measure::Time) if g.time.is_some() => order.push(format!("time {dir}")),
        Some(Measure::Outcome(i)) => order.push(format!("{} {dir}", COUNTERS[i.min(6)])),
        Some(Measure::Total) => order.push(format!("total {dir}")),
        Some(Measure::SpentCredits) => order.push(format!("spent_credits {dir}")),
        _ => {}
    }
    order.extend(group.iter().map(|c| c.to_string()));
    let limit = arg(q.limit.into());
    let sql = format!(
        "SELECT {} FROM {from} WHERE r.workspace_id = ?1 AND r.hour >= ?2 AND r.hour < ?3{filters}{}{} LIMIT {limit}",
        select.join(", "),
        if group.is_empty() { String::new() } else { format!(" GROUP BY {}", group.join(", ")) },
        if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) },
    );
    store.all(Stmt::new(sql, args)).await
}

/// Deletes at most `limit` rollups of hours before `cutoff`; how many it deleted.
pub async fn delete_before(store: &Store, cutoff: i64, limit: i64) -> StoreResult<i64> {
    store
        .run(stmt!(
            "DELETE FROM verification_rollups WHERE (key_id, hour, identity_id, tags) IN
               (SELECT key_id, hour, identity_id, tags FROM verification_rollups WHERE hour < ?1 LIMIT ?2)",
            cutoff,
            limit
        ))
        .await
}
