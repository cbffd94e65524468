//! Operator API (decisions.md §4), behind `ADMIN_TOKEN`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Patch;
use crate::domain::limits::{MAX_NAME, MAX_RATE_DURATION_MS};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkspaceRequest {
    /// A display name for the workspace.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkspaceResponse {
    pub workspace_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWorkspaceRequest {
    #[schemars(length(min = 1))]
    pub workspace_id: String,
    /// A disabled workspace answers 403 FORBIDDEN "workspace is disabled" everywhere.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRootKeyRequest {
    #[schemars(length(min = 1))]
    pub workspace_id: String,
    /// Permission names the root key holds, e.g. `*`, `api.*.create_key`.
    #[schemars(length(max = 1000), inner(length(min = 1, max = 512)))]
    pub permissions: Vec<String>,
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRootKeyResponse {
    pub key_id: String,
    /// The root key. It is shown only once; keygate stores only its hash.
    pub key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiRequest {
    #[schemars(length(min = 1))]
    pub api_id: String,
    /// Comma-separated IPs allowed to verify keys of this api; `null` removes the whitelist.
    #[serde(default)]
    #[schemars(length(max = 512))]
    pub ip_whitelist: Patch<String>,
    pub delete_protection: Option<bool>,
    /// Prefix of new keys when createKey names none; `null` removes it.
    #[serde(default)]
    #[schemars(length(min = 1, max = 8))]
    pub default_prefix: Patch<String>,
    /// Random bytes of new keys when createKey names none; `null` resets to 16.
    #[serde(default)]
    #[schemars(range(min = 16, max = 255))]
    pub default_bytes: Patch<i64>,
    /// Allows `recoverable` keys on this api.
    pub store_encrypted_keys: Option<bool>,
}

/// A key migration for v2's keys.migrateKeys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyMigrationRequest {
    pub workspace_id: String,
    /// `sha256` (hashes are base64 SHA-256 of the whole key, as keygate's) or
    /// `github.com/seamapi/prefixed-api-key` (hex SHA-256 of the key's last `_` segment).
    pub algorithm: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyMigrationResponse {
    pub migration_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListRootKeysRequest {
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub workspace_id: String,
}

/// A working root key (never the key itself: keygate keeps only its hash).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootKey {
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first characters of the key.
    pub start: String,
    pub permissions: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
    /// keygate: when a rotated key stops working (unix ms); absent for keys without an end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListRootKeysResponse {
    /// Oldest first; revoked and expired keys are not listed.
    pub root_keys: Vec<RootKey>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeRootKeyRequest {
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub key_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateRootKeyRequest {
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub key_id: String,
    /// How long the old key keeps working, in ms (default 0: it stops at once; at most 30 days).
    #[schemars(range(min = 0, max = MAX_RATE_DURATION_MS))]
    pub grace_period_ms: Option<i64>,
}
