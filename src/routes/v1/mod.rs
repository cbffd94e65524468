//! The v1 wire layer: one line per route drives dispatch, input validation, authentication and
//! `/openapi.json`. Handlers map wire types to service calls and back, nothing else.
//!
//! Authentication is decided here, per route:
//! - `public`: no credentials (keys.verifyKey).
//! - `admin`: the operator token, checked before the input is read (404 when the operator API is
//!   off, 403 for a wrong token).
//! - `root(|req| query)`: the root key must satisfy `query` (built from the request) before the
//!   handler runs; the handler gets the authenticated [`Principal`].
//! - `root_then`: the root key is authenticated here; the service checks the rights that depend
//!   on stored data (e.g. updateKey: the key's api).
//! - `loads_first`: **exceptions** — upstream loads the resource before authenticating, so an
//!   unknown id is a 404 even without credentials (getKey, whoami, deleteKey, updateRemaining);
//!   the handler gets the unchecked [`Credentials`] and the service authenticates after loading.
//!
//! Validation of the input (body or query) comes first on every route, as upstream's does.
//!
//! A path may hold parameters (`/v1/apis/{apiId}/keys`, the legacy REST routes): they are added
//! to the input under their name before validation. A route may answer on a second path too
//! (`alias "…"`, documented as a deprecated alias), and may set its HTTP status from its output
//! (`status fn [other statuses]`), else it is 200.

#[cfg(target_arch = "wasm32")]
mod admin;
#[cfg(target_arch = "wasm32")]
mod analytics;
#[cfg(target_arch = "wasm32")]
mod apis;
#[cfg(target_arch = "wasm32")]
mod audit;
#[cfg(target_arch = "wasm32")]
pub mod envelope;
#[cfg(target_arch = "wasm32")]
mod identities;
#[cfg(target_arch = "wasm32")]
mod keys;
#[cfg(target_arch = "wasm32")]
mod permissions;
#[cfg(target_arch = "wasm32")]
mod ratelimits;

// the table's types are used by the worker's dispatch and by the documentation test
#[cfg(target_arch = "wasm32")]
use serde_json::json;
#[cfg(any(test, target_arch = "wasm32"))]
use serde_json::Value;

#[cfg(any(test, target_arch = "wasm32"))]
use crate::api::v1::{self as api, common::Empty};
#[cfg(target_arch = "wasm32")]
use crate::domain::permissions::require;
#[cfg(target_arch = "wasm32")]
use crate::domain::rbac::LinkKind;

/// The v1 OpenAPI document, generated from the route table below by `cargo test` (which fails
/// when this file is stale; `UPDATE_OPENAPI=1 cargo test` rewrites it). The worker serves it and
/// validates requests against it, so no schema is generated at run time.
#[cfg(target_arch = "wasm32")]
pub const OPENAPI: &str = include_str!("../../../openapi/v1.json");

/// `GET /v1/liveness`.
#[cfg(target_arch = "wasm32")]
async fn liveness(_ctx: &crate::service::Ctx, _req: Empty) -> crate::service::Result<Value> {
    Ok(json!({
        "status": "we're so back",
        "services": {
            "metrics": "NoopMetrics",
            "logger": "ConsoleLogger",
            "ratelimit": "DurableRateLimiter",
            "usagelimit": "DurableUsageLimiter"
        }
    }))
}

#[cfg(any(test, target_arch = "wasm32"))]
use api::{analytics as an, apis as a, identities as i, keys as k, permissions as p, ratelimits as r};

crate::routes::route_table! {
    Get "/v1/liveness" public "Liveness" => liveness, Empty => Value;

    // ---- keys.* and migrations.*
    Post "/v1/keys.verifyKey" public "Verify a key" =>
        keys::verify_key, k::VerifyKeyRequest => k::VerifyKeyResponse;
    Post "/v1/keys.createKey" root(|r: &k::CreateKeyRequest| require::api(&r.api_id, "create_key")) "Create a key"
        alias "/v1/keys" =>
        keys::create_key, k::CreateKeyRequest => k::CreateKeyResponse;
    Get "/v1/keys.getKey" loads_first "Get a key" =>
        keys::get_key, k::GetKeyQuery => k::Key;
    Post "/v1/keys.whoami" loads_first "Look a key up by its value" =>
        keys::whoami, k::WhoamiRequest => k::WhoamiResponse;
    Post "/v1/keys.updateKey" root_then "Update a key" =>
        keys::update_key, k::UpdateKeyRequest => Empty;
    Post "/v1/keys.updateRemaining" loads_first "Change a key's credits" =>
        keys::update_remaining, k::UpdateRemainingRequest => k::UpdateRemainingResponse;
    Post "/v1/keys.deleteKey" loads_first "Delete a key" =>
        keys::delete_key, k::DeleteKeyRequest => Empty;
    Get "/v1/apis.listKeys" root(|r: &k::ListKeysQuery| require::api_all(&r.api_id, &["read_key", "read_api"]))
        "List the keys of an api" =>
        keys::list_keys, k::ListKeysQuery => k::ListKeysResponse;
    Post "/v1/keys.addPermissions" root(|_: &k::KeyPermissionsRequest| require::link(LinkKind::Permission, "add"))
        "Connect permissions to a key" =>
        keys::add_permissions, k::KeyPermissionsRequest => Vec<k::Connected>;
    Post "/v1/keys.removePermissions" root(|_: &k::KeyPermissionsRequest| require::link(LinkKind::Permission, "remove"))
        "Disconnect permissions from a key" =>
        keys::remove_permissions, k::KeyPermissionsRequest => Empty;
    Post "/v1/keys.setPermissions" root_then "Set exactly the permissions of a key" =>
        keys::set_permissions, k::KeyPermissionsRequest => Vec<k::Connected>;
    Post "/v1/keys.addRoles" root(|_: &k::KeyRolesRequest| require::link(LinkKind::Role, "add")) "Connect roles to a key" =>
        keys::add_roles, k::KeyRolesRequest => Vec<k::Connected>;
    Post "/v1/keys.removeRoles" root(|_: &k::KeyRolesRequest| require::link(LinkKind::Role, "remove"))
        "Disconnect roles from a key" =>
        keys::remove_roles, k::KeyRolesRequest => Empty;
    Post "/v1/keys.setRoles" root_then "Set exactly the roles of a key" =>
        keys::set_roles, k::KeyRolesRequest => Vec<k::Connected>;
    Post "/v1/migrations.createKeys" root_then "Import keys (plaintext or sha256 hashes)" =>
        keys::migrate_keys, k::CreateKeysMigrationRequest => k::CreateKeysMigrationResponse;
    Post "/v1/migrations.enqueueKeys" root(|_: &Value| require::any_api("create_key"))
        "Queued imports (not available: use migrations.createKeys)" =>
        keys::enqueue_keys, serde_json::Value => Empty;

    // ---- analytics and audit logs
    Get "/v1/keys.getVerifications" loads_first "Daily verifications of a key, or of every key of an owner" =>
        analytics::key_verifications, an::KeyVerificationsQuery => an::KeyVerificationsResponse;
    Get "/v1/analytics.getVerifications" root(|r: &an::AnalyticsQuery| require::api(&r.api_id, "read_api"))
        "Verifications of an api's keys: outcome sums and credits spent per time, key, identity or tag" =>
        analytics::verifications, an::AnalyticsQuery => Vec<an::Datapoint>;
    Get "/v1/audit.listLogs" root(|_: &api::audit::ListLogsQuery| require::audit("read_log"))
        "Audit logs of the workspace, newest first (keygate)" =>
        audit::list_logs, api::audit::ListLogsQuery => api::audit::ListLogsResponse;

    // ---- legacy REST routes (deprecated upstream; POST /v1/keys is an alias of keys.createKey)
    Post "/v1/keys/verify" public "Deprecated: keys.verifyKey (HTTP 404 for NOT_FOUND and EXPIRED)" =>
        keys::legacy_verify_key, k::LegacyVerifyRequest => k::LegacyVerifyResponse, status k::LegacyVerifyResponse::status [404];
    Get "/v1/apis/{apiId}/keys" root(|r: &k::LegacyListKeysQuery| require::api_all(&r.api_id, &["read_key", "read_api"]))
        "Deprecated: apis.listKeys with offset paging" =>
        keys::legacy_list_keys, k::LegacyListKeysQuery => k::LegacyListKeysResponse;

    // ---- identities.*
    Post "/v1/identities.createIdentity" root(|_: &i::CreateIdentityRequest| require::identity(None, "create_identity"))
        "Create an identity" =>
        identities::create, i::CreateIdentityRequest => i::CreateIdentityResponse;
    Get "/v1/identities.getIdentity"
        root(|r: &i::GetIdentityQuery| require::identity(r.identity_id.as_deref(), "read_identity"))
        "Get an identity by id or externalId" =>
        identities::get, i::GetIdentityQuery => i::IdentityResponse;
    Get "/v1/identities.listIdentities"
        root(|r: &i::ListIdentitiesQuery| require::identity(Some(&r.environment), "read_identity"))
        "List the identities of an environment" =>
        identities::list, i::ListIdentitiesQuery => i::ListIdentitiesResponse;
    Post "/v1/identities.updateIdentity" root(|_: &i::UpdateIdentityRequest| require::identity(None, "update_identity"))
        "Update an identity's meta, ratelimits and credits" =>
        identities::update, i::UpdateIdentityRequest => i::IdentityResponse;
    Post "/v1/identities.deleteIdentity"
        root(|r: &i::DeleteIdentityRequest| require::identity(Some(&r.identity_id), "delete_identity"))
        "Delete an identity, its ratelimits and its credits" =>
        identities::delete, i::DeleteIdentityRequest => Empty;

    // ---- permissions.*
    Post "/v1/permissions.createPermission" root(|_: &p::CreatePermissionRequest| require::rbac(&["create_permission"]))
        "Create a permission" =>
        permissions::create_permission, p::CreatePermissionRequest => p::CreatePermissionResponse;
    Get "/v1/permissions.getPermission" root(|_: &p::GetPermissionQuery| require::rbac(&["read_permission"]))
        "Get a permission" =>
        permissions::get_permission, p::GetPermissionQuery => p::Permission;
    Get "/v1/permissions.listPermissions" root(|_: &Empty| require::rbac(&["read_permission"]))
        "List the permissions of the workspace" =>
        permissions::list_permissions, Empty => p::PermissionList;
    Post "/v1/permissions.deletePermission" root(|_: &p::DeletePermissionRequest| require::rbac(&["delete_permission"]))
        "Delete a permission" =>
        permissions::delete_permission, p::DeletePermissionRequest => Empty;
    Post "/v1/permissions.createRole" root(|_: &p::CreateRoleRequest| require::rbac(&["create_role"]))
        "Create a role (optionally with permissions)" =>
        permissions::create_role, p::CreateRoleRequest => p::CreateRoleResponse;
    Get "/v1/permissions.getRole" root(|_: &p::GetRoleQuery| require::rbac(&["read_role"]))
        "Get a role and its permissions" =>
        permissions::get_role, p::GetRoleQuery => p::Role;
    Get "/v1/permissions.listRoles" root(|_: &Empty| require::rbac(&["read_role"]))
        "List the roles of the workspace" =>
        permissions::list_roles, Empty => p::RoleList;
    Post "/v1/permissions.deleteRole" root(|_: &p::DeleteRoleRequest| require::rbac(&["delete_role"]))
        "Delete a role" =>
        permissions::delete_role, p::DeleteRoleRequest => Empty;

    // ---- ratelimits.*
    Post "/v1/ratelimits.limit" root_then "Count a request against a fixed-window rate limit" =>
        ratelimits::limit, r::LimitRequest => r::LimitResponse;
    Post "/v1/ratelimits.setOverride" root(|_: &r::SetOverrideRequest| require::ratelimit(None, "set_override"))
        "Create or update an override of a namespace" =>
        ratelimits::set_override, r::SetOverrideRequest => r::SetOverrideResponse;
    Get "/v1/ratelimits.getOverride" root(|_: &r::GetOverrideQuery| require::ratelimit(None, "read_override"))
        "Get an override" =>
        ratelimits::get_override, r::GetOverrideQuery => r::Override;
    Post "/v1/ratelimits.deleteOverride" root(|_: &r::DeleteOverrideRequest| require::ratelimit(None, "delete_override"))
        "Delete an override" =>
        ratelimits::delete_override, r::DeleteOverrideRequest => Empty;
    Get "/v1/ratelimits.listOverrides" root(|_: &r::ListOverridesQuery| require::ratelimit(None, "read_override"))
        "List the overrides of a namespace" =>
        ratelimits::list_overrides, r::ListOverridesQuery => r::ListOverridesResponse;

    // ---- apis.*
    Post "/v1/apis.createApi" root(|_: &a::CreateApiRequest| require::any_api("create_api")) "Create an api" =>
        apis::create_api, a::CreateApiRequest => a::CreateApiResponse;
    Get "/v1/apis.getApi" root(|r: &a::GetApiQuery| require::api(&r.api_id, "read_api")) "Get an api" =>
        apis::get_api, a::GetApiQuery => a::GetApiResponse;
    Post "/v1/apis.deleteApi" root(|r: &a::DeleteApiRequest| require::api(&r.api_id, "delete_api"))
        "Delete an api and its keys" =>
        apis::delete_api, a::DeleteApiRequest => Empty;
    Post "/v1/apis.deleteKeys" root(|r: &a::DeleteKeysRequest| require::api(&r.api_id, "delete_key"))
        "Delete every key of an api" =>
        apis::delete_keys, a::DeleteKeysRequest => a::DeleteKeysResponse;

    // ---- admin.* (operator API)
    Post "/v1/admin.createWorkspace" admin "Create a workspace (operator API)" =>
        admin::create_workspace, api::admin::CreateWorkspaceRequest => api::admin::CreateWorkspaceResponse;
    Post "/v1/admin.updateWorkspace" admin "Enable or disable a workspace (operator API)" =>
        admin::update_workspace, api::admin::UpdateWorkspaceRequest => Empty;
    Post "/v1/admin.createRootKey" admin "Create a root key for a workspace (operator API)" =>
        admin::create_root_key, api::admin::CreateRootKeyRequest => api::admin::CreateRootKeyResponse;
    Post "/v1/admin.updateApi" admin "Change an api's settings (operator API)" =>
        admin::update_api, api::admin::UpdateApiRequest => Empty;
    Post "/v1/admin.createKeyMigration" admin "Create a key migration for v2 keys.migrateKeys (operator API)" =>
        admin::create_key_migration, api::admin::CreateKeyMigrationRequest => api::admin::CreateKeyMigrationResponse;
    Post "/v1/admin.listRootKeys" admin "List the working root keys of a workspace (operator API)" =>
        admin::list_root_keys, api::admin::ListRootKeysRequest => api::admin::ListRootKeysResponse;
    Post "/v1/admin.revokeRootKey" admin "Revoke a root key at once (operator API)" =>
        admin::revoke_root_key, api::admin::RevokeRootKeyRequest => Empty;
    Post "/v1/admin.rotateRootKey" admin "Replace a root key; the old one stops after a grace period (operator API)" =>
        admin::rotate_root_key, api::admin::RotateRootKeyRequest => api::admin::CreateRootKeyResponse;
}

/// The OpenAPI 3.1 document of every v1 route, generated from the Rust types.
#[cfg(test)]
pub fn openapi() -> Value {
    api::openapi(&routes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_snapshot_is_current() {
        crate::routes::table::check_snapshot(&super::openapi(), "openapi/v1.json");
    }
}
