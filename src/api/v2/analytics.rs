//! Wire types of `analytics.getVerifications` (v2-api.md §4.20), which keygate does not answer yet.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GetVerificationsRequest {
    /// A ClickHouse SELECT over `key_verifications_v1` and its aggregates (upstream).
    #[schemars(length(min = 1))]
    pub query: String,
}
