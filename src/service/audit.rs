//! Audit events of the changes made through keygate: who (a root key, the operator, keygate
//! itself), from where, what, to which resources. They are written with the change itself
//! ([`crate::store::Batch::audited`]).

use super::{Ctx, Error, Result};
use crate::store::audit::{self, Actor, LogFilter, LogRow, Target, TargetRow};
use crate::store::{AuditEvent, Batch};

impl Ctx {
    /// An audit event of this request.
    pub fn event(
        &self,
        actor: &Actor,
        workspace_id: &str,
        event: &str,
        display: &str,
        targets: Vec<Target>,
    ) -> AuditEvent {
        AuditEvent {
            workspace_id: workspace_id.to_string(),
            event: event.to_string(),
            display: display.to_string(),
            actor: actor.clone(),
            remote_ip: self.origin.ip().map(str::to_string),
            user_agent: self.origin.user_agent().map(str::to_string),
            time: self.now,
            targets,
        }
    }

    /// A batch for a change of this request, with its audit event.
    pub fn batch(
        &self,
        actor: &Actor,
        workspace_id: &str,
        event: &str,
        display: &str,
        targets: Vec<Target>,
    ) -> Batch {
        Batch::audited(self.event(actor, workspace_id, event, display, targets))
    }
}

/// What audit.listLogs asks.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub event: Option<String>,
    pub actor_id: Option<String>,
    /// Logs that name this resource (a key, an api, an identity, ...).
    pub resource_id: Option<String>,
    /// `[start, end)`, unix ms.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub limit: i64,
    /// From a previous page: `<time>_<id>` of its last log.
    pub cursor: Option<String>,
}

/// One audit log with the resources it names.
pub struct Log {
    pub log: LogRow,
    pub targets: Vec<TargetRow>,
}

pub struct LogPage {
    pub logs: Vec<Log>,
    /// Present when more logs follow.
    pub cursor: Option<String>,
}

/// The audit logs of a workspace, newest first.
pub async fn list(ctx: &Ctx, workspace_id: &str, q: &LogQuery) -> Result<LogPage> {
    let before = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('_')
                .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id)))
                .ok_or_else(|| Error::bad_request("cursor: not a cursor of audit.listLogs"))?,
        ),
    };
    let filter = LogFilter {
        workspace_id,
        event: q.event.as_deref(),
        actor_id: q.actor_id.as_deref(),
        resource_id: q.resource_id.as_deref(),
        from: q.start.unwrap_or(0),
        to: q.end.unwrap_or(i64::MAX),
        before,
        limit: q.limit + 1,
    };
    let (mut rows, targets) = audit::list(&ctx.store, &filter).await?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit.max(0) as usize);
    let cursor = if more { rows.last().map(|l| format!("{}_{}", l.time, l.id)) } else { None };
    let mut logs: Vec<Log> = rows.into_iter().map(|log| Log { log, targets: Vec::new() }).collect();
    for t in targets {
        if let Some(l) = logs.iter_mut().find(|l| l.log.id == t.audit_log_id) {
            l.targets.push(t);
        }
    }
    Ok(LogPage { logs, cursor })
}
