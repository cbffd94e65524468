//! The v2 wire layer (upstream Unkey v2, v2-api.md): one line per route drives dispatch, input
//! validation, authentication and `/v2/openapi.json`. Handlers map wire types to service calls
//! and back, nothing else.
//!
//! Every route is `POST` with a JSON body (a known path asked with another method is a plain 405).
//! Order, as upstream: the body is validated (unknown fields refused), then the root key is
//! authenticated (`Authorization: Bearer <root key>`: missing or malformed 400, unknown 401), then
//! the route's permission query:
//! - `root(|req| query)`: 403 INSUFFICIENT_PERMISSIONS unless the root key satisfies `query`;
//! - `masked(|req| query, Resource)`: a failure is the route's 404 (upstream masks it);
//! - `root_then`: the service checks the rights that depend on stored data.
//!
//! The root permission `*` grants everything on v2 too (decisions.md §5; every query is built by
//! `domain::permissions::require`).

#[cfg(target_arch = "wasm32")]
mod analytics;
#[cfg(target_arch = "wasm32")]
mod apis;
#[cfg(target_arch = "wasm32")]
pub mod envelope;
#[cfg(target_arch = "wasm32")]
mod identities;
#[cfg(target_arch = "wasm32")]
mod keys;
#[cfg(target_arch = "wasm32")]
mod permissions;
#[cfg(target_arch = "wasm32")]
mod ratelimit;

#[cfg(target_arch = "wasm32")]
use std::future::Future;
#[cfg(target_arch = "wasm32")]
use std::pin::Pin;

// the table's types are used by the worker's dispatch and by the documentation test
#[cfg(any(test, target_arch = "wasm32"))]
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use worker::Method;

#[cfg(any(test, target_arch = "wasm32"))]
use crate::api::v2::{self as api, Data, Empty, Liveness, MetaOnly, Page};
#[cfg(target_arch = "wasm32")]
use crate::api::v2::{Reply, ResponseMeta};
#[cfg(target_arch = "wasm32")]
use crate::api::Refine;
#[cfg(target_arch = "wasm32")]
use crate::domain::permissions::{require, PermissionQuery};
#[cfg(target_arch = "wasm32")]
use crate::domain::validate::{decode, Source, ValidationError};
#[cfg(target_arch = "wasm32")]
use crate::http::{self, Incoming};
#[cfg(target_arch = "wasm32")]
use crate::service::auth::{authenticate, Principal};
#[cfg(target_arch = "wasm32")]
use crate::service::{AuthFailure, Ctx, Error, Resource, Result};
#[cfg(target_arch = "wasm32")]
use envelope::mask;

/// The v2 OpenAPI document, generated from the route table below by `cargo test` (which fails
/// when this file is stale; `UPDATE_OPENAPI=1 cargo test` rewrites it). The worker serves it and
/// validates request bodies against it.
#[cfg(target_arch = "wasm32")]
pub const OPENAPI: &str = include_str!("../../../openapi/v2.json");

/// The JSON body of a request (one non-generic function for every route).
#[cfg(target_arch = "wasm32")]
fn read_body(req: &http::Req) -> Result<Value> {
    http::body(req).map_err(|e| match e {
        http::BodyError::TooLarge => crate::routes::edge::too_large(),
        http::BodyError::Malformed => {
            Error::Invalid(ValidationError::new("", "Malformed JSON in request body"))
        }
    })
}

/// Validates a route's body against its schema in the v2 document (unknown fields refused), then
/// its cross-field rules.
#[cfg(target_arch = "wasm32")]
fn validate<T: serde::de::DeserializeOwned + Refine>(path: &'static str, value: Value) -> Result<T> {
    let value = crate::routes::edge::checked_input(OPENAPI, "Post", path, (value, Source::Checked))?;
    let input: T = decode(value)?;
    input.refine().map_err(refinement)?;
    Ok(input)
}

/// A failed cross-field rule: `field: message` names its field (v2's envelope lists it).
#[cfg(target_arch = "wasm32")]
fn refinement(m: String) -> Error {
    match m.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => Error::Invalid(ValidationError::new(path, message)),
        _ => Error::BadRequest(m),
    }
}

/// The root key of `Authorization: Bearer <root key>`, authenticated (one boxed future for every
/// route).
#[cfg(target_arch = "wasm32")]
fn root_key<'a>(
    ctx: &'a Ctx,
    incoming: &'a Incoming,
) -> Pin<Box<dyn Future<Output = Result<Principal>> + 'a>> {
    Box::pin(async move {
        let header = incoming.authorization().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let token = header
            .trim()
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::Unauthenticated(AuthFailure::Malformed))?;
        authenticate(ctx, Some(token), None).await
    })
}

#[cfg(target_arch = "wasm32")]
macro_rules! authorize {
    (root_then, $p:ident, $input:ident) => {};
    (root ($query:expr), $p:ident, $input:ident) => {
        $p.require(&($query)(&$input))?
    };
    (masked ($query:expr, $resource:expr), $p:ident, $input:ident) => {
        mask($p.require(&($query)(&$input)), $resource)?
    };
}

macro_rules! route_table {
    ($( $path:literal $auth:ident $( ( $($arg:tt)* ) )? $summary:literal
        => $handler:path, $req:ty => $resp:ty; )*) => {
        /// Runs the v2 route matching the request, if there is one.
        #[cfg(target_arch = "wasm32")]
        pub async fn dispatch(ctx: &Ctx, req: &http::Req, incoming: &Incoming) -> Option<worker::Result<http::Answer>> {
            $(
                if incoming.path == $path {
                    if incoming.method != Method::Post {
                        return Some(http::method_not_allowed("POST"));
                    }
                    let run = async {
                        let input = validate::<$req>($path, read_body(req)?)?;
                        let principal = root_key(ctx, incoming).await?;
                        authorize!($auth $( ( $($arg)* ) )?, principal, input);
                        let mut output: $resp = $handler(ctx, &principal, input).await?;
                        output.meta().request_id = ctx.request_id.clone();
                        Ok::<_, Error>(output)
                    };
                    return Some(match run.await {
                        Ok(output) => http::json(&output, 200, incoming.pretty),
                        Err(e) => envelope::error(&e, incoming),
                    });
                }
            )*
            None
        }

        /// Every route, as documented (for the OpenAPI snapshot test).
        #[cfg(test)]
        pub fn routes() -> Vec<crate::api::openapi::RouteDoc> {
            use crate::api::openapi::{request_schema, response_schema, Auth, HttpMethod, RouteDoc};
            let mut routes = vec![RouteDoc {
                method: HttpMethod::Get,
                path: "/v2/liveness",
                summary: "Liveness",
                auth: Auth::Public,
                request: request_schema::<Empty>,
                response: response_schema::<Data<Liveness>>,
                output_statuses: &[],
            }];
            routes.extend([$(
                RouteDoc {
                    method: HttpMethod::Post,
                    path: $path,
                    summary: $summary,
                    auth: Auth::RootKey,
                    request: request_schema::<$req>,
                    response: response_schema::<$resp>,
                    output_statuses: &[],
                },
            )*]);
            routes
        }
    };
}

/// `GET /v2/liveness`
#[cfg(target_arch = "wasm32")]
pub fn liveness(request_id: &str) -> Data<Liveness> {
    Data {
        meta: ResponseMeta { request_id: request_id.into() },
        data: Liveness { message: "we're cooking".into() },
    }
}

/// createKey: `create_key` (and `encrypt_key` for a recoverable key) on the api; upstream masks a
/// failure as the api's 404.
#[cfg(target_arch = "wasm32")]
fn create_key_rights(r: &k::CreateKeyRequest) -> PermissionQuery {
    if r.recoverable == Some(true) {
        require::api_all(&r.api_id, &["create_key", "encrypt_key"])
    } else {
        require::api(&r.api_id, "create_key")
    }
}

/// createRole: `create_role`, and `add_permission_to_role` when it comes with permissions.
#[cfg(target_arch = "wasm32")]
fn create_role_rights(r: &p::CreateRoleRequest) -> PermissionQuery {
    if r.permissions.as_ref().is_some_and(|p| !p.is_empty()) {
        require::rbac_all(&["create_role", "add_permission_to_role"])
    } else {
        require::rbac(&["create_role"])
    }
}

#[cfg(any(test, target_arch = "wasm32"))]
use api::{analytics as an, apis as a, identities as i, keys as k, permissions as p, ratelimit as r};

route_table! {
    // ---- keys.*
    "/v2/keys.verifyKey" root_then "Verify a key (api.*.verify_key or api.<apiId>.verify_key)" =>
        keys::verify_key, k::VerifyKeyRequest => Data<k::VerifyKeyResponse>;
    "/v2/keys.createKey" masked(create_key_rights, Resource::Api) "Create a key" =>
        keys::create_key, k::CreateKeyRequest => Data<k::CreateKeyResponse>;
    "/v2/keys.getKey" root_then "Get a key" =>
        keys::get_key, k::GetKeyRequest => Data<k::KeyResponse>;
    "/v2/keys.whoami" root_then "Look a key up by its value" =>
        keys::whoami, k::WhoamiRequest => Data<k::KeyResponse>;
    "/v2/keys.updateKey" root_then "Update a key" =>
        keys::update_key, k::UpdateKeyRequest => Data<Empty>;
    "/v2/keys.updateCredits" root_then "Set, increment or decrement a key's credits" =>
        keys::update_credits, k::UpdateCreditsRequest => Data<api::CreditsResponse>;
    "/v2/keys.deleteKey" root_then "Delete a key" =>
        keys::delete_key, k::DeleteKeyRequest => Data<Empty>;
    "/v2/keys.rerollKey" root_then "Replace a key by a new one; the old one expires after a grace period" =>
        keys::reroll_key, k::RerollKeyRequest => Data<k::CreateKeyResponse>;
    "/v2/keys.addPermissions" root(|_: &k::KeyPermissionsRequest| require::rbac(&["add_permission_to_key"]))
        "Connect permissions to a key" =>
        keys::add_permissions, k::KeyPermissionsRequest => Data<Vec<p::Permission>>;
    "/v2/keys.removePermissions"
        root(|_: &k::KeyPermissionsRequest| require::rbac(&["remove_permission_from_key"]))
        "Disconnect permissions from a key" =>
        keys::remove_permissions, k::KeyPermissionsRequest => Data<Vec<p::Permission>>;
    "/v2/keys.setPermissions"
        root(|_: &k::SetKeyPermissionsRequest| require::rbac_all(&["add_permission_to_key", "remove_permission_from_key"]))
        "Set exactly the direct permissions of a key" =>
        keys::set_permissions, k::SetKeyPermissionsRequest => Data<Vec<p::Permission>>;
    "/v2/keys.addRoles" root(|_: &k::KeyRolesRequest| require::rbac(&["add_role_to_key"])) "Connect roles to a key" =>
        keys::add_roles, k::KeyRolesRequest => Data<Vec<p::Role>>;
    "/v2/keys.removeRoles" root_then "Disconnect roles from a key" =>
        keys::remove_roles, k::KeyRolesRequest => Data<Vec<p::Role>>;
    "/v2/keys.setRoles" root_then "Set exactly the roles of a key" =>
        keys::set_roles, k::SetKeyRolesRequest => Data<Vec<p::Role>>;
    "/v2/keys.migrateKeys" root(|r: &k::MigrateKeysRequest| require::api(&r.api_id, "create_key"))
        "Import keys by hash through a key migration" =>
        keys::migrate_keys, k::MigrateKeysRequest => Data<k::MigrateKeysResponse>;

    // ---- apis.*
    "/v2/apis.createApi" root(|_: &a::CreateApiRequest| require::any_api("create_api")) "Create an api" =>
        apis::create_api, a::CreateApiRequest => Data<a::CreateApiResponse>;
    "/v2/apis.getApi" root(|r: &a::GetApiRequest| require::api(&r.api_id, "read_api")) "Get an api" =>
        apis::get_api, a::GetApiRequest => Data<a::GetApiResponse>;
    "/v2/apis.listKeys"
        masked(|r: &a::ListKeysRequest| require::api_all(&r.api_id, &["read_key", "read_api"]), Resource::Api)
        "List the keys of an api" =>
        apis::list_keys, a::ListKeysRequest => Page<k::KeyResponse>;
    "/v2/apis.deleteApi" root(|r: &a::DeleteApiRequest| require::api(&r.api_id, "delete_api")) "Delete an api" =>
        apis::delete_api, a::DeleteApiRequest => Data<Empty>;

    // ---- identities.*
    "/v2/identities.createIdentity"
        root(|_: &i::CreateIdentityRequest| require::identity(None, "create_identity")) "Create an identity" =>
        identities::create, i::CreateIdentityRequest => Data<i::CreateIdentityResponse>;
    "/v2/identities.getIdentity" root_then "Get an identity by id or external id" =>
        identities::get, i::GetIdentityRequest => Data<i::Identity>;
    "/v2/identities.listIdentities" root_then "List identities" =>
        identities::list, i::ListIdentitiesRequest => Page<i::Identity>;
    "/v2/identities.updateIdentity"
        root(|_: &i::UpdateIdentityRequest| require::identity(None, "update_identity"))
        "Update an identity's meta, rate limits and credits" =>
        identities::update, i::UpdateIdentityRequest => Data<i::Identity>;
    "/v2/identities.deleteIdentity"
        root(|_: &i::GetIdentityRequest| require::identity(None, "delete_identity")) "Delete an identity" =>
        identities::delete, i::GetIdentityRequest => MetaOnly;

    // ---- permissions.*
    "/v2/permissions.createPermission"
        root(|_: &p::CreatePermissionRequest| require::rbac(&["create_permission"])) "Create a permission" =>
        permissions::create_permission, p::CreatePermissionRequest => Data<p::CreatePermissionResponse>;
    "/v2/permissions.getPermission"
        root(|_: &p::GetPermissionRequest| require::rbac(&["read_permission"])) "Get a permission by id or slug" =>
        permissions::get_permission, p::GetPermissionRequest => Data<p::Permission>;
    "/v2/permissions.listPermissions" root(|_: &p::ListRequest| require::rbac(&["read_permission"]))
        "List permissions" =>
        permissions::list_permissions, p::ListRequest => Page<p::Permission>;
    "/v2/permissions.deletePermission"
        root(|_: &p::GetPermissionRequest| require::rbac(&["delete_permission"])) "Delete a permission" =>
        permissions::delete_permission, p::GetPermissionRequest => Data<Empty>;
    "/v2/permissions.createRole" root(create_role_rights) "Create a role (optionally with permissions)" =>
        permissions::create_role, p::CreateRoleRequest => Data<p::CreateRoleResponse>;
    "/v2/permissions.getRole" root(|_: &p::GetRoleRequest| require::rbac(&["read_role"]))
        "Get a role by id or name" =>
        permissions::get_role, p::GetRoleRequest => Data<p::Role>;
    "/v2/permissions.listRoles" root(|_: &p::ListRequest| require::rbac(&["read_role"])) "List roles" =>
        permissions::list_roles, p::ListRequest => Page<p::Role>;
    "/v2/permissions.deleteRole" root(|_: &p::GetRoleRequest| require::rbac(&["delete_role"])) "Delete a role" =>
        permissions::delete_role, p::GetRoleRequest => Data<Empty>;
    "/v2/permissions.setRolePermissions"
        root(|_: &p::SetRolePermissionsRequest| require::rbac_all(&["add_permission_to_role", "remove_permission_from_role"]))
        "Set exactly the permissions of a role" =>
        permissions::set_role_permissions, p::SetRolePermissionsRequest => Data<Vec<p::Permission>>;

    // ---- ratelimit.*
    "/v2/ratelimit.limit" root_then "Count a request against a sliding-window rate limit" =>
        ratelimit::limit, r::LimitRequest => Data<r::LimitResponse>;
    "/v2/ratelimit.multiLimit" root_then "Count several rate limits, all or nothing" =>
        ratelimit::multi_limit, r::MultiLimitRequest => Data<r::MultiLimitResponse>;
    "/v2/ratelimit.setOverride" root_then "Create or update an override of a namespace" =>
        ratelimit::set_override, r::SetOverrideRequest => Data<r::SetOverrideResponse>;
    "/v2/ratelimit.getOverride" root_then "The override that applies to an identifier" =>
        ratelimit::get_override, r::OverrideRequest => Data<r::Override>;
    "/v2/ratelimit.deleteOverride" root_then "Delete an override" =>
        ratelimit::delete_override, r::OverrideRequest => Data<Empty>;
    "/v2/ratelimit.listOverrides" root_then "List the overrides of a namespace" =>
        ratelimit::list_overrides, r::ListOverridesRequest => Page<r::Override>;

    // ---- analytics.*
    "/v2/analytics.getVerifications" root_then "Query verifications (not supported yet: 412)" =>
        analytics::get_verifications, an::GetVerificationsRequest => Data<Vec<Value>>;
}

/// The OpenAPI 3.1 document of every v2 route, generated from the Rust types.
#[cfg(test)]
pub fn openapi() -> Value {
    api::openapi(&routes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_snapshot_is_current() {
        crate::routes::table::check_snapshot(&super::openapi(), "openapi/v2.json");
    }
}
