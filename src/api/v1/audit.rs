//! Wire types of `audit.listLogs` (a keygate addition: upstream v1 had no audit read route).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListLogsQuery {
    /// Only logs of this event, e.g. `key.create`.
    #[schemars(length(min = 1))]
    pub event: Option<String>,
    /// Only logs of this actor: a root key id, `admin` (the operator API) or `cron`.
    #[schemars(length(min = 1))]
    pub actor_id: Option<String>,
    /// Only logs naming this resource (a key, api, identity, role, permission, ... id).
    #[schemars(length(min = 1))]
    pub resource_id: Option<String>,
    /// Unix ms (inclusive).
    pub start: Option<i64>,
    /// Unix ms (exclusive).
    pub end: Option<i64>,
    /// Logs per page (default 100).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// The `cursor` of the previous page.
    #[schemars(length(min = 1))]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditActor {
    /// `key` (a root key), `admin` (the operator API) or `system` (keygate's cron).
    pub r#type: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditResource {
    /// `key`, `keyAuth`, `api`, `identity`, `permission`, `role`, `ratelimit`, ...
    pub r#type: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    pub id: String,
    /// Unix ms.
    pub time: i64,
    pub event: String,
    pub description: String,
    pub actor: AuditActor,
    /// The caller's IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub resources: Vec<AuditResource>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListLogsResponse {
    /// Newest first.
    pub logs: Vec<AuditLog>,
    /// Present when more logs follow: pass it as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
