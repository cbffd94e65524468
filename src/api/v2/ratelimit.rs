//! Wire types of the v2 `ratelimit.*` routes (v2-api.md §4.17–4.19).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LimitRequest {
    /// The namespace's name (created on first use, with `ratelimit.*.create_namespace`) or id.
    #[schemars(length(min = 1, max = 512))]
    pub namespace: String,
    /// Whom the limit counts, e.g. a user id or an IP address.
    #[schemars(length(min = 1, max = 512))]
    pub identifier: String,
    #[schemars(range(min = 1))]
    pub limit: i64,
    /// The window in milliseconds.
    #[schemars(range(min = 1000, max = 2_592_000_000i64))]
    pub duration: i64,
    /// Default 1; 0 checks without counting.
    #[schemars(range(min = 0))]
    pub cost: Option<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitResponse {
    /// The limit that applied (an override's, else the request's).
    pub limit: i64,
    pub remaining: i64,
    /// End of the current window (unix ms).
    pub reset: i64,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

/// Up to 100 limits checked together: all pass and are counted, or none is counted.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct MultiLimitRequest(#[schemars(length(min = 1, max = 100))] pub Vec<LimitRequest>);

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiLimitCheck {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MultiLimitResponse {
    /// Every limit passed (and all were counted).
    pub passed: bool,
    pub limits: Vec<MultiLimitCheck>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SetOverrideRequest {
    /// The namespace's name or id.
    #[schemars(length(min = 1, max = 512))]
    pub namespace: String,
    /// An identifier, or a pattern where `*` matches any run of characters.
    #[schemars(length(min = 1, max = 512))]
    pub identifier: String,
    /// 0 blocks every request.
    #[schemars(range(min = 0))]
    pub limit: i64,
    #[schemars(range(min = 1000))]
    pub duration: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetOverrideResponse {
    pub override_id: String,
}

/// getOverride and deleteOverride.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OverrideRequest {
    #[schemars(length(min = 1, max = 512))]
    pub namespace: String,
    #[schemars(length(min = 1, max = 512))]
    pub identifier: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    pub override_id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ListOverridesRequest {
    #[schemars(length(min = 1, max = 512))]
    pub namespace: String,
    pub cursor: Option<String>,
    /// Page size (default 10).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}
