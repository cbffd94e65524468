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
//! (`status fn`), else it is 200.

mod admin;
mod analytics;
mod apis;
mod audit;
pub mod envelope;
mod identities;
mod keys;
mod permissions;
mod ratelimits;

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Value};
use worker::{Method, Request, Response};

use crate::api::openapi::{request_schema, response_schema, Auth, HttpMethod, RouteDoc};
use crate::api::v1::{self as api, common::Empty};
use crate::api::Refine;
use crate::domain::permissions::{require, PermissionQuery};
use crate::domain::rbac::LinkKind;
use crate::domain::validate::{parse, Source};
use crate::http::{self, Incoming};
use crate::service::auth::{admin_access, authenticate, AdminAccess, Credentials, Principal};
use crate::service::{Ctx, Error, Result};

/// The parameters of a request path that matches a path template (`{name}` matches one
/// non-empty segment); `None` when it does not match.
fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    if !template.contains('{') {
        return (template == path).then(Vec::new);
    }
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => match ts.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) if !ps.is_empty() => params.push((name, ps.to_string())),
                None if ts == ps => {}
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// Reads the input of a route as JSON: the query string for GET, the body otherwise, with the
/// path parameters (one non-generic function for every route).
async fn read_input(
    req: &mut Request,
    is_get: bool,
    params: Vec<(&'static str, String)>,
) -> Result<(Value, Source)> {
    let (mut input, source) = if is_get {
        (http::query(req).map_err(|e| Error::Internal(e.to_string()))?, Source::Query)
    } else {
        let body = http::body(req).await.map_err(|_| Error::bad_request("Malformed JSON in request body"))?;
        (body, Source::Json)
    };
    if let Value::Object(map) = &mut input {
        for (name, value) in params {
            map.insert(name.to_string(), Value::String(value));
        }
    }
    Ok((input, source))
}

/// Validates a route's input against its schema and cross-field rules.
fn validate<T: serde::de::DeserializeOwned + schemars::JsonSchema + Refine + 'static>(
    (value, source): (Value, Source),
) -> Result<T> {
    let input = parse::<T>(value, source)?;
    input.refine().map_err(Error::BadRequest)?;
    Ok(input)
}

/// Authenticates the root key of the request (one boxed future shared by every route).
fn root_key<'a>(
    ctx: &'a Ctx,
    incoming: &'a Incoming,
    query: Option<PermissionQuery>,
) -> Pin<Box<dyn Future<Output = Result<Principal>> + 'a>> {
    Box::pin(async move { authenticate(ctx, incoming.token.as_deref(), query.as_ref()).await })
}

/// The operator token check of `admin` routes; `Ok(false)` when the operator API is off.
fn admin_gate(ctx: &Ctx, incoming: &Incoming) -> Result<bool> {
    match admin_access(ctx.config.admin_token.as_deref(), incoming.token.as_deref()) {
        AdminAccess::Disabled => Ok(false),
        AdminAccess::Denied => Err(Error::unauthorized("invalid admin token")),
        AdminAccess::Granted => Ok(true),
    }
}

macro_rules! gate {
    (admin, $ctx:ident, $incoming:ident) => {
        match admin_gate($ctx, $incoming) {
            Ok(true) => {}
            Ok(false) => return Some(http::not_found()),
            Err(e) => return Some(envelope::error(&e, &$incoming.request_id, $incoming.pretty)),
        }
    };
    ($other:ident, $ctx:ident, $incoming:ident) => {};
}

macro_rules! call {
    (public, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, $input).await
    };
    (admin, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, $input).await
    };
    (loads_first, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {
        $handler($ctx, &Credentials($incoming.token.clone()), $input).await
    };
    (root_then, $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {{
        let principal = root_key($ctx, $incoming, None).await?;
        $handler($ctx, &principal, $input).await
    }};
    (root ($query:expr), $ctx:ident, $incoming:ident, $input:ident, $handler:path) => {{
        let query = ($query)(&$input);
        let principal = root_key($ctx, $incoming, Some(query)).await?;
        $handler($ctx, &principal, $input).await
    }};
}

macro_rules! status {
    ($output:ident) => {
        200
    };
    ($output:ident, $status:path) => {
        $status(&$output)
    };
}

macro_rules! doc_auth {
    (public) => {
        Auth::Public
    };
    (admin) => {
        Auth::Admin
    };
    (loads_first) => {
        Auth::RootKeyAfterLoad
    };
    ($other:ident) => {
        Auth::RootKey
    };
}

macro_rules! route_table {
    ($( $method:ident $path:literal $auth:ident $( ($query:expr) )? $summary:literal $(alias $alias:literal)?
        => $handler:path, $req:ty => $resp:ty $(, status $status:path)?; )*) => {
        /// Runs the route matching the request, if there is one.
        pub async fn dispatch(ctx: &Ctx, req: &mut Request, incoming: &Incoming) -> Option<worker::Result<Response>> {
            if incoming.method == Method::Get && incoming.path == "/v1/liveness" {
                return Some(http::json(&liveness(), 200, incoming.pretty));
            }
            $(
                let params = match_path($path, &incoming.path) $( .or_else(|| match_path($alias, &incoming.path)) )?;
                if let Some(params) = params.filter(|_| incoming.method == Method::$method) {
                    gate!($auth, ctx, incoming);
                    let run = async {
                        let input = validate::<$req>(read_input(req, incoming.method == Method::Get, params).await?)?;
                        let output: $resp = call!($auth $( ($query) )?, ctx, incoming, input, $handler)?;
                        Ok::<_, Error>(output)
                    };
                    return Some(match run.await {
                        Ok(output) => http::json(&output, status!(output $(, $status)?), incoming.pretty),
                        Err(e) => envelope::error(&e, &incoming.request_id, incoming.pretty),
                    });
                }
            )*
            None
        }

        /// Every route, as documented.
        pub fn routes() -> Vec<RouteDoc> {
            vec![$(
                RouteDoc {
                    method: HttpMethod::$method,
                    path: $path,
                    summary: $summary,
                    auth: doc_auth!($auth),
                    request: request_schema::<$req>,
                    response: response_schema::<$resp>,
                },
                $(
                    RouteDoc {
                        method: HttpMethod::$method,
                        path: $alias,
                        summary: concat!("Deprecated alias of ", $path),
                        auth: doc_auth!($auth),
                        request: request_schema::<$req>,
                        response: response_schema::<$resp>,
                    },
                )?
            )*]
        }
    };
}

fn liveness() -> Value {
    json!({
        "status": "we're so back",
        "services": {
            "metrics": "NoopMetrics",
            "logger": "ConsoleLogger",
            "ratelimit": "DurableRateLimiter",
            "usagelimit": "DurableUsageLimiter"
        }
    })
}

use api::analytics as an;
use api::apis as a;
use api::identities as i;
use api::keys as k;
use api::permissions as p;
use api::ratelimits as r;

route_table! {
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
    Post "/v1/migrations.enqueueKeys" root_then "Queued imports (not available: use migrations.createKeys)" =>
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
        keys::legacy_verify_key, k::LegacyVerifyRequest => k::LegacyVerifyResponse, status k::LegacyVerifyResponse::status;
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
}

/// The OpenAPI 3.1 document of every v1 route.
pub fn openapi() -> Value {
    api::openapi(&routes())
}
