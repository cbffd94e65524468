//! Audit log rows (`audit_log`, `audit_log_target`), written in the same batch as the change
//! they describe (see [`super::Batch`]); read newest first; deleted after the retention period.

use serde::Deserialize;

use crate::domain::ids::{new_id, IdKind};
use crate::stmt;

use super::{results, Arg, Dialect, Stmt, Store, StoreResult};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    RootKey {
        key_id: String,
        name: Option<String>,
    },
    /// The operator API (ADMIN_TOKEN).
    Admin,
    /// keygate itself (the cron): actor type `system`, actor id the job.
    System(&'static str),
}

/// A resource a change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: &'static str,
    pub id: String,
    pub name: Option<String>,
}

impl Target {
    pub fn new(kind: &'static str, id: impl Into<String>) -> Self {
        Target { kind, id: id.into(), name: None }
    }
    pub fn named(kind: &'static str, id: impl Into<String>, name: Option<String>) -> Self {
        Target { kind, id: id.into(), name }
    }
}

/// One audit event: what happened, by whom, from where, to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub workspace_id: String,
    pub event: String,
    pub display: String,
    pub actor: Actor,
    pub remote_ip: Option<String>,
    pub user_agent: Option<String>,
    pub time: i64,
    pub targets: Vec<Target>,
}

/// The statements recording `event`.
pub(super) fn statements(e: &AuditEvent) -> StoreResult<Vec<Stmt>> {
    recording(e, None)
}

/// The statements recording `event` for a change made by the statement just before them in the
/// batch: written only if that statement changed a row. `{remaining}` in the display becomes the
/// value of `current` (a scalar query whose argument `?11` is `current_arg`), or `unlimited`.
pub(super) fn after_change(e: &AuditEvent, current: &str, current_arg: &str) -> StoreResult<Vec<Stmt>> {
    recording(e, Some((current, current_arg)))
}

fn recording(e: &AuditEvent, after_change: Option<(&str, &str)>) -> StoreResult<Vec<Stmt>> {
    let id = new_id(IdKind::AuditLog, e.time)?;
    let (actor_type, actor_id, actor_name) = match &e.actor {
        Actor::RootKey { key_id, name } => ("key", key_id.clone(), name.clone()),
        Actor::Admin => ("admin", "admin".to_string(), None),
        Actor::System(job) => ("system", job.to_string(), None),
    };
    let columns = "INSERT INTO audit_log (id, workspace_id, event, time, display, remote_ip, user_agent,
                                actor_type, actor_id, actor_name, created_at)";
    let (log_sql, target_condition) = match after_change {
        None => (format!("{columns} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?4)"), ""),
        Some((current, _)) => (
            format!(
                "{columns} SELECT ?1, ?2, ?3, ?4,
                   replace(?5, '{{remaining}}', COALESCE(CAST(({current}) AS TEXT), 'unlimited')),
                   ?6, ?7, ?8, ?9, ?10, ?4 WHERE changes() > 0"
            ),
            " WHERE EXISTS (SELECT 1 FROM audit_log WHERE id = ?2)",
        ),
    };
    let mut log = stmt!(
        log_sql,
        &id,
        &e.workspace_id,
        &e.event,
        e.time,
        &e.display,
        e.remote_ip.clone(),
        e.user_agent.clone(),
        actor_type,
        actor_id,
        actor_name
    );
    if let Some((_, arg)) = after_change {
        log.args.push(arg.into());
    }
    let mut out = vec![log];
    for t in &e.targets {
        let values = if target_condition.is_empty() {
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)".to_string()
        } else {
            format!("SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7{target_condition}")
        };
        out.push(stmt!(
            format!(
                "INSERT INTO audit_log_target
                   (workspace_id, audit_log_id, display_name, type, id, name, created_at) {values}
                 ON CONFLICT DO NOTHING"
            ),
            &e.workspace_id,
            &id,
            t.name.clone().unwrap_or_default(),
            t.kind,
            &t.id,
            t.name.clone(),
            e.time
        ));
    }
    Ok(out)
}

/// Which audit logs a read selects (newest first).
pub struct LogFilter<'a> {
    pub workspace_id: &'a str,
    pub event: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    /// Logs with a target of this id.
    pub resource_id: Option<&'a str>,
    /// `[from, to)` in unix ms.
    pub from: i64,
    pub to: i64,
    /// Logs strictly older than this `(time, id)`.
    pub before: Option<(i64, &'a str)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogRow {
    pub id: String,
    pub time: i64,
    pub event: String,
    pub display: String,
    pub remote_ip: Option<String>,
    pub user_agent: Option<String>,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TargetRow {
    pub audit_log_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
}

/// A page of logs (newest first) and the targets of those logs, read in one snapshot.
pub async fn list(store: &Store, f: &LogFilter<'_>) -> StoreResult<(Vec<LogRow>, Vec<TargetRow>)> {
    let mut args: Vec<Arg> = vec![f.workspace_id.into(), f.from.into(), f.to.into(), f.limit.into()];
    let mut arg = |a: Arg| {
        args.push(a);
        format!("?{}", args.len())
    };
    let mut filters = String::new();
    if let Some(event) = f.event {
        filters += &format!(" AND event = {}", arg(event.into()));
    }
    if let Some(actor) = f.actor_id {
        filters += &format!(" AND actor_id = {}", arg(actor.into()));
    }
    if let Some(resource) = f.resource_id {
        filters += &format!(
            " AND id IN (SELECT audit_log_id FROM audit_log_target WHERE workspace_id = ?1 AND id = {})",
            arg(resource.into())
        );
    }
    if let Some((time, id)) = f.before {
        filters += &format!(" AND (time, id) < ({}, {})", arg(time.into()), arg(id.into()));
    }
    // by resource: the few logs naming it, found through the targets, not every log of the
    // workspace (`+workspace_id` keeps SQLite's planner off the workspace's time index; Postgres
    // has no unary plus on text, and its planner weighs the two indexes by their statistics)
    let workspace = match (f.resource_id, store.dialect()) {
        (Some(_), Dialect::Sqlite) => "+workspace_id",
        _ => "workspace_id",
    };
    let page = format!(
        "SELECT id, time, event, display, remote_ip, user_agent, actor_type, actor_id, actor_name FROM audit_log
         WHERE {workspace} = ?1 AND time >= ?2 AND time < ?3{filters} ORDER BY time DESC, id DESC LIMIT ?4"
    );
    let targets = format!(
        "SELECT audit_log_id, type, id, name FROM audit_log_target
         WHERE audit_log_id IN (SELECT id FROM ({page}) AS page) ORDER BY rowid"
    );
    let [logs, targets] =
        results(store.batch(vec![Stmt::new(page, args.clone()), Stmt::new(targets, args)]).await?)?;
    Ok((logs.parse()?, targets.parse()?))
}

/// Deletes at most `limit` logs older than `cutoff` (oldest first) with their targets; how many
/// logs it deleted.
pub async fn delete_before(store: &Store, cutoff: i64, limit: i64) -> StoreResult<i64> {
    let oldest = "SELECT id FROM audit_log WHERE time < ?1 ORDER BY time, rowid LIMIT ?2";
    let [_, logs] = results(
        store
            .batch(vec![
                stmt!(
                    format!("DELETE FROM audit_log_target WHERE audit_log_id IN ({oldest})"),
                    cutoff,
                    limit
                ),
                stmt!(format!("DELETE FROM audit_log WHERE id IN ({oldest})"), cutoff, limit),
            ])
            .await?,
    )?;
    Ok(logs.changes())
}
