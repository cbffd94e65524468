//! Audit log rows (`audit_log`, `audit_log_target`), written in the same batch as the change
//! they describe (see [`super::Batch`]).

use crate::domain::ids::{new_id, IdKind};
use crate::stmt;

use super::{Stmt, StoreResult};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    RootKey {
        key_id: String,
        name: Option<String>,
    },
    /// The operator API (ADMIN_TOKEN).
    Admin,
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
    let id = new_id(IdKind::AuditLog, e.time)?;
    let (actor_type, actor_id, actor_name) = match &e.actor {
        Actor::RootKey { key_id, name } => ("key", key_id.clone(), name.clone()),
        Actor::Admin => ("admin", "admin".to_string(), None),
    };
    let mut out = vec![stmt!(
        "INSERT INTO audit_log (id, workspace_id, event, time, display, remote_ip, user_agent,
                                actor_type, actor_id, actor_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?4)",
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
    )];
    for t in &e.targets {
        out.push(stmt!(
            "INSERT OR IGNORE INTO audit_log_target
               (workspace_id, audit_log_id, display_name, type, id, name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
