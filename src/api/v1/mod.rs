//! The v1 wire types (upstream Unkey v1 shapes) of every route, and v1's OpenAPI document.

pub mod admin;
pub mod analytics;
pub mod apis;
pub mod audit;
pub mod common;
pub mod identities;
pub mod keys;
pub mod permissions;
pub mod ratelimits;

use serde_json::Value;

use crate::api::openapi::{document, response_schema, DocInfo, RouteDoc};
use crate::api::{no_refinement, one_of};

no_refinement!(
    admin::CreateWorkspaceRequest,
    admin::UpdateWorkspaceRequest,
    admin::CreateRootKeyRequest,
    admin::UpdateApiRequest,
    admin::CreateKeyMigrationRequest,
    admin::ListRootKeysRequest,
    admin::RevokeRootKeyRequest,
    admin::RotateRootKeyRequest,
    apis::CreateApiRequest,
    audit::ListLogsQuery,
    apis::GetApiQuery,
    apis::DeleteApiRequest,
    apis::DeleteKeysRequest,
    common::Empty,
    identities::CreateIdentityRequest,
    identities::ListIdentitiesQuery,
    identities::DeleteIdentityRequest,
    keys::CreateKeyRequest,
    keys::GetKeyQuery,
    keys::WhoamiRequest,
    keys::UpdateKeyRequest,
    keys::UpdateRemainingRequest,
    keys::DeleteKeyRequest,
    keys::ListKeysQuery,
    keys::VerifyKeyRequest,
    keys::CreateKeysMigrationRequest,
    keys::KeyPermissionsRequest,
    keys::KeyRolesRequest,
    keys::LegacyVerifyRequest,
    keys::LegacyListKeysQuery,
    permissions::CreatePermissionRequest,
    permissions::GetPermissionQuery,
    permissions::DeletePermissionRequest,
    permissions::CreateRoleRequest,
    permissions::GetRoleQuery,
    permissions::DeleteRoleRequest,
    ratelimits::LimitRequest,
);

one_of!(
    identities::UpdateIdentityRequest: "identityId" | "externalId",
    ratelimits::SetOverrideRequest: "namespaceId" | "namespaceName",
    ratelimits::GetOverrideQuery: "namespaceId" | "namespaceName",
    ratelimits::DeleteOverrideRequest: "namespaceId" | "namespaceName",
    ratelimits::ListOverridesQuery: "namespaceId" | "namespaceName",
);

/// getIdentity names its identity by id or by external id; neither is a 400 before
/// authentication (upstream's order).
impl crate::api::Refine for identities::GetIdentityQuery {
    const ONE_OF: &'static [&'static str] = &["identityId", "externalId"];

    fn refine(&self) -> Result<(), String> {
        match (&self.identity_id, &self.external_id) {
            (None, None) => Err("Provide either identityId or externalId".into()),
            _ => Ok(()),
        }
    }
}

/// The OpenAPI 3.1 document of the v1 routes.
pub fn openapi(routes: &[RouteDoc]) -> Value {
    document(
        routes,
        &DocInfo {
            title: "keygate",
            description: "Unkey-v1-compatible API keys, credits, rate limits, identities and permissions.",
            error_schema: response_schema::<common::ErrorEnvelope>,
            errors: &[
                ("400", "BAD_REQUEST: the request failed validation"),
                ("403", "UNAUTHORIZED, FORBIDDEN, INSUFFICIENT_PERMISSIONS, DISABLED ..."),
                ("404", "NOT_FOUND"),
                ("409", "CONFLICT"),
                ("412", "PRECONDITION_FAILED, DELETE_PROTECTED"),
                ("413", "PAYLOAD_TOO_LARGE: the request body is over 1 MiB"),
                ("429", "RATE_LIMITED"),
                ("500", "INTERNAL_SERVER_ERROR"),
            ],
        },
    )
}
