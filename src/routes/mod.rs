//! The route table: one line per route drives dispatch, input validation and `/openapi.json`.

pub mod admin;
pub mod apis;
pub mod identities;
pub mod keys;
pub mod permissions;
pub mod ratelimits;

use serde_json::Value;
use worker::{Method, Request, Response};

use crate::api::openapi::{document, request_schema, response_schema, Auth, HttpMethod, RouteDoc};
use crate::api::{self, common::Empty};
use crate::http::{extract, ApiResult, Ctx};

macro_rules! route_table {
    ($( $method:ident $path:literal $auth:ident $summary:literal => $handler:path, $req:ty => $resp:ty; )*) => {
        /// Runs the route matching `method` and `path`, if there is one.
        pub async fn dispatch(
            ctx: &Ctx,
            req: &mut Request,
            method: &Method,
            path: &str,
        ) -> Option<ApiResult<Response>> {
            $(
                if path == $path && *method == Method::$method {
                    let run = async {
                        let input = extract::input::<$req>(req, *method == Method::Get).await?;
                        let output: $resp = $handler(ctx, input).await?;
                        extract::json(&output, ctx.pretty)
                    };
                    return Some(run.await);
                }
            )*
            None
        }

        fn docs() -> Vec<RouteDoc> {
            vec![$(
                RouteDoc {
                    method: HttpMethod::$method,
                    path: $path,
                    summary: $summary,
                    auth: Auth::$auth,
                    request: request_schema::<$req>,
                    response: response_schema::<$resp>,
                },
            )*]
        }
    };
}

route_table! {
    // ---- keys.* and migrations.*
    Post "/v1/keys.verifyKey" Public "Verify a key" =>
        keys::verify_key, api::keys::VerifyKeyRequest => api::keys::VerifyKeyResponse;
    Post "/v1/keys.createKey" RootKey "Create a key" =>
        keys::create_key, api::keys::CreateKeyRequest => api::keys::CreateKeyResponse;
    Get "/v1/keys.getKey" RootKey "Get a key" =>
        keys::get_key, api::keys::GetKeyQuery => api::keys::Key;
    Post "/v1/keys.whoami" RootKey "Look a key up by its value" =>
        keys::whoami, api::keys::WhoamiRequest => api::keys::WhoamiResponse;
    Post "/v1/keys.updateKey" RootKey "Update a key" =>
        keys::update_key, api::keys::UpdateKeyRequest => Empty;
    Post "/v1/keys.updateRemaining" RootKey "Change a key's credits" =>
        keys::update_remaining, api::keys::UpdateRemainingRequest => api::keys::UpdateRemainingResponse;
    Post "/v1/keys.deleteKey" RootKey "Delete a key" =>
        keys::delete_key, api::keys::DeleteKeyRequest => Empty;
    Get "/v1/apis.listKeys" RootKey "List the keys of an api" =>
        keys::list_keys, api::keys::ListKeysQuery => api::keys::ListKeysResponse;
    Post "/v1/keys.addPermissions" RootKey "Connect permissions to a key" =>
        keys::add_permissions, api::keys::KeyPermissionsRequest => Vec<api::keys::Connected>;
    Post "/v1/keys.removePermissions" RootKey "Disconnect permissions from a key" =>
        keys::remove_permissions, api::keys::KeyPermissionsRequest => Empty;
    Post "/v1/keys.setPermissions" RootKey "Set exactly the permissions of a key" =>
        keys::set_permissions, api::keys::KeyPermissionsRequest => Vec<api::keys::Connected>;
    Post "/v1/keys.addRoles" RootKey "Connect roles to a key" =>
        keys::add_roles, api::keys::KeyRolesRequest => Vec<api::keys::Connected>;
    Post "/v1/keys.removeRoles" RootKey "Disconnect roles from a key" =>
        keys::remove_roles, api::keys::KeyRolesRequest => Empty;
    Post "/v1/keys.setRoles" RootKey "Set exactly the roles of a key" =>
        keys::set_roles, api::keys::KeyRolesRequest => Vec<api::keys::Connected>;
    Post "/v1/migrations.createKeys" RootKey "Import keys (plaintext or sha256 hashes)" =>
        keys::migrate_keys, api::keys::CreateKeysMigrationRequest => api::keys::CreateKeysMigrationResponse;
    Post "/v1/migrations.enqueueKeys" RootKey "Queued imports (not available: use migrations.createKeys)" =>
        keys::enqueue_keys, serde_json::Value => Empty;

    // ---- identities.*
    Post "/v1/identities.createIdentity" RootKey "Create an identity" =>
        identities::create_identity, api::identities::CreateIdentityRequest => api::identities::CreateIdentityResponse;
    Get "/v1/identities.getIdentity" RootKey "Get an identity by id or externalId" =>
        identities::get_identity, api::identities::GetIdentityQuery => api::identities::IdentityResponse;
    Get "/v1/identities.listIdentities" RootKey "List the identities of an environment" =>
        identities::list_identities, api::identities::ListIdentitiesQuery => api::identities::ListIdentitiesResponse;
    Post "/v1/identities.updateIdentity" RootKey "Update an identity's meta, ratelimits and credits" =>
        identities::update_identity, api::identities::UpdateIdentityRequest => api::identities::IdentityResponse;
    Post "/v1/identities.deleteIdentity" RootKey "Delete an identity, its ratelimits and its credits" =>
        identities::delete_identity, api::identities::DeleteIdentityRequest => Empty;

    // ---- permissions.*
    Post "/v1/permissions.createPermission" RootKey "Create a permission" =>
        permissions::create_permission, api::permissions::CreatePermissionRequest => api::permissions::CreatePermissionResponse;
    Get "/v1/permissions.getPermission" RootKey "Get a permission" =>
        permissions::get_permission, api::permissions::GetPermissionQuery => api::permissions::Permission;
    Get "/v1/permissions.listPermissions" RootKey "List the permissions of the workspace" =>
        permissions::list_permissions, Empty => api::permissions::PermissionList;
    Post "/v1/permissions.deletePermission" RootKey "Delete a permission" =>
        permissions::delete_permission, api::permissions::DeletePermissionRequest => Empty;
    Post "/v1/permissions.createRole" RootKey "Create a role (optionally with permissions)" =>
        permissions::create_role, api::permissions::CreateRoleRequest => api::permissions::CreateRoleResponse;
    Get "/v1/permissions.getRole" RootKey "Get a role and its permissions" =>
        permissions::get_role, api::permissions::GetRoleQuery => api::permissions::Role;
    Get "/v1/permissions.listRoles" RootKey "List the roles of the workspace" =>
        permissions::list_roles, Empty => api::permissions::RoleList;
    Post "/v1/permissions.deleteRole" RootKey "Delete a role" =>
        permissions::delete_role, api::permissions::DeleteRoleRequest => Empty;

    // ---- ratelimits.*
    Post "/v1/ratelimits.limit" RootKey "Count a request against a fixed-window rate limit" =>
        ratelimits::limit, api::ratelimits::LimitRequest => api::ratelimits::LimitResponse;
    Post "/v1/ratelimits.setOverride" RootKey "Create or update an override of a namespace" =>
        ratelimits::set_override, api::ratelimits::SetOverrideRequest => api::ratelimits::SetOverrideResponse;
    Get "/v1/ratelimits.getOverride" RootKey "Get an override" =>
        ratelimits::get_override, api::ratelimits::GetOverrideQuery => api::ratelimits::Override;
    Post "/v1/ratelimits.deleteOverride" RootKey "Delete an override" =>
        ratelimits::delete_override, api::ratelimits::DeleteOverrideRequest => Empty;
    Get "/v1/ratelimits.listOverrides" RootKey "List the overrides of a namespace" =>
        ratelimits::list_overrides, api::ratelimits::ListOverridesQuery => api::ratelimits::ListOverridesResponse;

    // ---- apis.*
    Post "/v1/apis.createApi" RootKey "Create an api" =>
        apis::create_api, api::apis::CreateApiRequest => api::apis::CreateApiResponse;
    Get "/v1/apis.getApi" RootKey "Get an api" =>
        apis::get_api, api::apis::GetApiQuery => api::apis::GetApiResponse;
    Post "/v1/apis.deleteApi" RootKey "Delete an api and its keys" =>
        apis::delete_api, api::apis::DeleteApiRequest => Empty;
    Post "/v1/apis.deleteKeys" RootKey "Delete every key of an api" =>
        apis::delete_keys, api::apis::DeleteKeysRequest => api::apis::DeleteKeysResponse;

    // ---- admin.* (operator API)
    Post "/v1/admin.createWorkspace" Admin "Create a workspace (operator API)" =>
        admin::create_workspace, api::admin::CreateWorkspaceRequest => api::admin::CreateWorkspaceResponse;
    Post "/v1/admin.updateWorkspace" Admin "Enable or disable a workspace (operator API)" =>
        admin::update_workspace, api::admin::UpdateWorkspaceRequest => Empty;
    Post "/v1/admin.createRootKey" Admin "Create a root key for a workspace (operator API)" =>
        admin::create_root_key, api::admin::CreateRootKeyRequest => api::admin::CreateRootKeyResponse;
    Post "/v1/admin.updateApi" Admin "Change an api's settings (operator API)" =>
        admin::update_api, api::admin::UpdateApiRequest => Empty;
}

/// The OpenAPI 3.1 document of every route above.
pub fn openapi() -> Value {
    document(&docs())
}
