//! Roles and permissions: the workspace's catalog (permissions.*) and a key's links to them
//! (keys.add/remove/set Permissions and Roles, updateKey's `roles`/`permissions`).
//! Links are read at every verification, so a change takes effect on the next one.

mod catalog;
mod links;

pub use crate::store::rbac::Listing;
pub use crate::store::rbac::{PermissionRow, RoleWithPermissions};
pub use catalog::{
    create_permission, create_role, delete_permission, delete_role, get_permission, get_role,
    list_permissions, list_roles, roles_by_id, set_role_permissions,
};
pub use links::{add, connected, remove, set, stage_set, LinkRules};
