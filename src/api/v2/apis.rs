//! Wire types of the v2 `apis.*` routes (v2-api.md §4.11–4.14).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ID_PATTERN;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreateApiRequest {
    #[schemars(length(min = 3, max = 255))]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiResponse {
    pub api_id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct GetApiRequest {
    #[schemars(length(min = 8, max = 255), pattern(ID_PATTERN))]
    pub api_id: String,
}

pub type DeleteApiRequest = GetApiRequest;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GetApiResponse {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct ListKeysRequest {
    #[schemars(length(min = 1, max = 255))]
    pub api_id: String,
    /// Page size (default 100).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// `pagination.cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only the keys of this identity.
    #[schemars(length(min = 1))]
    pub external_id: Option<String>,
    /// Include `plaintext` of recoverable keys (needs `api.*.decrypt_key`).
    pub decrypt: Option<bool>,
    /// Accepted; keygate has no key cache to revalidate.
    pub revalidate_keys_cache: Option<bool>,
}
