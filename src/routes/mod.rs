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

    // ---- ratelimits.*

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
