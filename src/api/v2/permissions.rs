//! Wire types of the v2 `permissions.*` routes (v2-api.md §4.16).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SLUG_PATTERN;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreatePermissionRequest {
    #[schemars(length(min = 1, max = 512))]
    pub name: String,
    /// What keys hold and verifications ask for, e.g. `documents.read`; unique in the workspace.
    #[schemars(length(min = 1, max = 128), pattern(SLUG_PATTERN))]
    pub slug: String,
    #[schemars(length(max = 512))]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionResponse {
    pub permission_id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GetPermissionRequest {
    /// The permission's id or slug.
    #[schemars(length(min = 1, max = 255))]
    pub permission: String,
}

pub type DeletePermissionRequest = GetPermissionRequest;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// listPermissions and listRoles.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ListRequest {
    #[schemars(length(max = 1024))]
    pub cursor: Option<String>,
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// Case-insensitive part of the id, name, slug or description.
    #[schemars(length(max = 256))]
    pub search: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    #[schemars(length(max = 512))]
    pub description: Option<String>,
    /// Permission slugs to put in the role; missing ones are created (needs `create_permission`).
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleResponse {
    pub role_id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GetRoleRequest {
    /// The role's id or name.
    #[schemars(length(min = 1, max = 255))]
    pub role: String,
}

pub type DeleteRoleRequest = GetRoleRequest;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct SetRolePermissionsRequest {
    /// The role's id.
    #[schemars(length(min = 3, max = 255), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub role_id: String,
    /// The role's permissions become exactly these slugs (missing ones are created).
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Vec<String>,
}
