//! Wire types of the `permissions` routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::limits::MAX_LIST;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionRequest {
    /// The unique name of the permission: 3..256 characters of `[a-zA-Z0-9_.:-]`.
    #[schemars(length(min = 3, max = 256), regex(pattern = r"^[a-zA-Z0-9_\.:\-]*$"))]
    pub name: String,
    /// The unique slug of the permission (same rules as `name`); defaults to the name.
    #[schemars(length(min = 3, max = 256), regex(pattern = r"^[a-zA-Z0-9_\.:\-]*$"))]
    pub slug: Option<String>,
    /// What the permission allows: empty or 3..256 characters.
    #[schemars(length(max = 256))]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionResponse {
    pub permission_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetPermissionQuery {
    #[schemars(length(min = 1))]
    pub permission_id: String,
}

/// A permission as returned by getPermission and listPermissions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The array listPermissions answers.
pub type PermissionList = Vec<Permission>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletePermissionRequest {
    #[schemars(length(min = 1))]
    pub permission_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleRequest {
    /// The unique name of the role (3..256 characters).
    #[schemars(length(min = 3, max = 256))]
    pub name: String,
    /// What the role is for: empty or 3..256 characters.
    #[schemars(length(max = 256))]
    pub description: Option<String>,
    /// keygate: slugs (or names) of existing permissions of the workspace to put into the role.
    #[schemars(length(max = MAX_LIST), inner(length(min = 1, max = 512)))]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleResponse {
    pub role_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetRoleQuery {
    #[schemars(length(min = 1))]
    pub role_id: String,
}

/// A permission inside a role.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RolePermission {
    pub id: String,
    pub name: String,
    pub slug: String,
}

/// A role as returned by getRole and listRoles.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// keygate: the permissions of the role.
    pub permissions: Vec<RolePermission>,
}

/// The array listRoles answers.
pub type RoleList = Vec<Role>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRoleRequest {
    #[schemars(length(min = 1))]
    pub role_id: String,
}
