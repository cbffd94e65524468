//! Audit log rows, written in the same batch as the change they describe.

use worker::D1PreparedStatement;

use crate::domain::ids::{new_id, IdKind};
use crate::http::{ApiError, Ctx};
use crate::stmt;

/// Who made a change.
#[derive(Debug, Clone)]
pub enum Actor {
    RootKey { key_id: String, name: Option<String> },
    Admin,
}

/// A resource a change touched.
#[derive(Debug, Clone)]
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

/// The statements recording `event` in `workspace_id`.
pub fn log(
    ctx: &Ctx,
    workspace_id: &str,
    actor: &Actor,
    event: &str,
    display: &str,
    targets: &[Target],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let id = new_id(IdKind::AuditLog, ctx.now)?;
    let (actor_type, actor_id, actor_name) = match actor {
        Actor::RootKey { key_id, name } => ("key", key_id.clone(), name.clone()),
        Actor::Admin => ("admin", "admin".to_string(), None),
    };
    let mut out = vec![stmt!(
        &ctx.db,
        "INSERT INTO audit_log (id, workspace_id, event, time, display, remote_ip, user_agent,
                                actor_type, actor_id, actor_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?4)",
        &id,
        workspace_id,
        event,
        ctx.now,
        display,
        ctx.ip.clone(),
        ctx.user_agent.clone(),
        actor_type,
        actor_id,
        actor_name
    )?];
    for t in targets {
        out.push(stmt!(
            &ctx.db,
            "INSERT OR IGNORE INTO audit_log_target
               (workspace_id, audit_log_id, display_name, type, id, name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            workspace_id,
            &id,
            t.name.clone().unwrap_or_default(),
            t.kind,
            &t.id,
            t.name.clone(),
            ctx.now
        )?);
    }
    Ok(out)
}
