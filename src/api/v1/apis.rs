//! `apis.*` routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::limits::MAX_NAME;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateApiRequest {
    /// A name for the api, e.g. "my-api".
    #[schemars(length(min = 3, max = MAX_NAME))]
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiResponse {
    pub api_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetApiQuery {
    #[schemars(length(min = 1))]
    pub api_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetApiResponse {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteApiRequest {
    #[schemars(length(min = 1))]
    pub api_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteKeysRequest {
    #[schemars(length(min = 1))]
    pub api_id: String,
    /// Delete the keys for good instead of marking them deleted.
    #[serde(default)]
    pub permanent: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteKeysResponse {
    pub deleted_keys: i64,
}
