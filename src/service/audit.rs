//! Audit events of the changes made through keygate: who (a root key, the operator, keygate
//! itself), from where, what, to which resources. They are written with the change itself
//! ([`crate::store::Batch::audited`]).

use super::Ctx;
use crate::store::audit::{Actor, Target};
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
            remote_ip: self.origin.ip.clone(),
            user_agent: self.origin.user_agent.clone(),
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
