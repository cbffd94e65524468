//! audit.listLogs (keygate's addition).

use crate::api::v1::audit::*;
use crate::service::audit::{self, LogQuery};
use crate::service::auth::Principal;
use crate::service::{Ctx, Result};

pub async fn list_logs(ctx: &Ctx, p: &Principal, req: ListLogsQuery) -> Result<ListLogsResponse> {
    let query = LogQuery {
        event: req.event,
        actor_id: req.actor_id,
        resource_id: req.resource_id,
        start: req.start,
        end: req.end,
        limit: req.limit.unwrap_or(100),
        cursor: req.cursor,
    };
    let page = audit::list(ctx, &p.workspace_id, &query).await?;
    Ok(ListLogsResponse {
        logs: page
            .logs
            .into_iter()
            .map(|l| AuditLog {
                id: l.log.id,
                time: l.log.time,
                event: l.log.event,
                description: l.log.display,
                actor: AuditActor { r#type: l.log.actor_type, id: l.log.actor_id, name: l.log.actor_name },
                location: l.log.remote_ip,
                user_agent: l.log.user_agent,
                resources: l
                    .targets
                    .into_iter()
                    .map(|t| AuditResource { r#type: t.kind, id: t.id, name: t.name })
                    .collect(),
            })
            .collect(),
        cursor: page.cursor,
    })
}
