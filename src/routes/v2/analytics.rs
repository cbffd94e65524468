//! v2 `analytics.getVerifications`: not supported yet (decisions.md §5). It authenticates and
//! checks the rights as upstream would, then answers upstream's own answer for a workspace
//! without analytics: 412 `analytics_not_configured`.

use serde_json::Value;

use crate::api::v2::analytics::GetVerificationsRequest;
use crate::api::v2::Data;
use crate::domain::permissions::grants_some_api;
use crate::service::auth::Principal;
use crate::service::{Ctx, Error, Result};

pub async fn get_verifications(
    _ctx: &Ctx,
    p: &Principal,
    _req: GetVerificationsRequest,
) -> Result<Data<Vec<Value>>> {
    // `api.*.read_analytics` for the workspace, or `api.<apiId>.read_analytics` for some api
    if !grants_some_api(&p.permissions, "read_analytics") {
        return Err(Error::InsufficientPermissions(
            "Missing one of these permissions: 'api.*.read_analytics', 'api.<apiId>.read_analytics'".into(),
        ));
    }
    Err(Error::precondition(
        "analytics.getVerifications is not supported by keygate yet: verification analytics are recorded, \
         but SQL queries over them are not served (analytics_not_configured)",
    ))
}
