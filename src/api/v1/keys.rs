//! Wire types of the `keys.*` and `migrations.*` routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{Meta, Patch, RefillRequest, RefillResponse};
use crate::domain::limits::{
    MAX_LIST, MAX_NAME, MAX_RATELIMITS, MAX_RATE_DURATION_MS, MAX_RATE_LIMIT, MAX_SECRET,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatelimitType {
    Fast,
    Consistent,
}

/// The key's `default` rate limit as createKey takes it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRatelimit {
    /// Accepted for compatibility; keygate's limits are always exact.
    #[serde(default)]
    pub r#async: Option<bool>,
    /// Deprecated, accepted for compatibility.
    pub r#type: Option<RatelimitType>,
    /// Requests allowed per window.
    #[schemars(range(min = 1, max = MAX_RATE_LIMIT))]
    pub limit: i64,
    /// Window length in ms (at most 30 days).
    #[schemars(range(min = 1000, max = MAX_RATE_DURATION_MS))]
    pub duration: Option<i64>,
    /// Deprecated alias of `limit`.
    #[schemars(range(min = 1, max = MAX_RATE_LIMIT))]
    pub refill_rate: Option<i64>,
    /// Deprecated alias of `duration`.
    #[schemars(range(min = 1, max = MAX_RATE_DURATION_MS))]
    pub refill_interval: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyRequest {
    /// The api the key belongs to.
    #[schemars(length(min = 1))]
    pub api_id: String,
    /// Prefix of the key (`prefix_…`); defaults to the api's default prefix.
    #[schemars(length(min = 1, max = 16))]
    pub prefix: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub name: Option<String>,
    /// Random bytes of the key; defaults to the api's default, else 16.
    #[schemars(range(min = 16, max = 255))]
    pub byte_length: Option<i64>,
    /// Deprecated: use externalId.
    #[schemars(length(max = MAX_NAME))]
    pub owner_id: Option<String>,
    /// Links the key to the identity with this external id (created when missing).
    #[schemars(length(max = MAX_NAME))]
    pub external_id: Option<String>,
    /// Any JSON object, at most 64,000 characters as JSON.
    pub meta: Option<Meta>,
    /// Role names; missing roles are created (3..256 characters, needs `rbac.*.create_role`).
    #[schemars(length(max = MAX_LIST), inner(length(min = 1, max = 512)))]
    pub roles: Option<Vec<String>>,
    /// Permission slugs; missing permissions are created with createPermission's rules (needs
    /// `rbac.*.create_permission`).
    #[schemars(length(max = MAX_LIST), inner(length(min = 1, max = 512)))]
    pub permissions: Option<Vec<String>>,
    /// Unix ms after which the key is expired.
    pub expires: Option<i64>,
    /// Credits of the key (a positive number); absent = unlimited.
    pub remaining: Option<i64>,
    pub refill: Option<RefillRequest>,
    pub ratelimit: Option<CreateRatelimit>,
    pub enabled: Option<bool>,
    /// Store the key encrypted so that it can be shown again.
    pub recoverable: Option<bool>,
    #[schemars(length(max = 256))]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyResponse {
    pub key_id: String,
    /// The key. Shown once: keygate stores only its hash (and, for recoverable keys, an
    /// encrypted copy).
    pub key: String,
}

/// The key's `default` rate limit as returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRatelimit {
    pub r#async: bool,
    pub limit: i64,
    pub duration: i64,
    pub refill_rate: i64,
    pub refill_interval: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyIdentity {
    pub id: String,
    pub external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// A key as getKey and listKeys return it (fields absent when unset).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    pub start: String,
    pub workspace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<KeyRatelimit>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<KeyIdentity>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetKeyQuery {
    #[schemars(length(min = 1))]
    pub key_id: String,
    /// Return the plaintext of a recoverable key (needs `decrypt_key`).
    pub decrypt: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiRequest {
    /// The key to look up.
    #[schemars(length(min = 1))]
    pub key: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiIdentity {
    pub id: String,
    pub external_id: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<WhoamiIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub created_at: i64,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// The key's `default` rate limit as updateKey takes it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRatelimit {
    pub r#type: Option<RatelimitType>,
    pub r#async: Option<bool>,
    #[schemars(range(min = 1, max = MAX_RATE_LIMIT))]
    pub limit: i64,
    #[schemars(range(min = 1, max = MAX_RATE_LIMIT))]
    pub refill_rate: Option<i64>,
    #[schemars(range(min = 1, max = MAX_RATE_DURATION_MS))]
    pub refill_interval: Option<i64>,
    #[schemars(range(min = 1, max = MAX_RATE_DURATION_MS))]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateKeyRequest {
    #[schemars(length(min = 1))]
    pub key_id: String,
    #[serde(default)]
    #[schemars(length(max = MAX_NAME))]
    pub name: Patch<String>,
    /// Deprecated: use externalId.
    #[serde(default)]
    #[schemars(length(max = MAX_NAME))]
    pub owner_id: Patch<String>,
    #[serde(default)]
    #[schemars(length(max = MAX_NAME))]
    pub external_id: Patch<String>,
    /// Any JSON object, at most 64,000 characters as JSON.
    #[serde(default)]
    pub meta: Patch<Meta>,
    #[serde(default)]
    pub expires: Patch<i64>,
    #[serde(default)]
    pub ratelimit: Patch<UpdateRatelimit>,
    /// New balance; `null` makes the key unlimited.
    #[serde(default)]
    pub remaining: Patch<i64>,
    #[serde(default)]
    pub refill: Patch<RefillRequest>,
    pub enabled: Option<bool>,
    /// Replaces the key's roles (as keys.setRoles).
    #[schemars(length(max = MAX_LIST))]
    pub roles: Option<Vec<RoleRef>>,
    /// Replaces the key's permissions (as keys.setPermissions).
    #[schemars(length(max = MAX_LIST))]
    pub permissions: Option<Vec<PermissionRef>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemainingOp {
    Increment,
    Decrement,
    Set,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRemainingRequest {
    #[schemars(length(min = 1))]
    pub key_id: String,
    pub op: RemainingOp,
    /// Required; `null` only with `set` (makes the key unlimited).
    pub value: Patch<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UpdateRemainingResponse {
    /// The new balance; `null` = unlimited.
    pub remaining: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteKeyRequest {
    #[schemars(length(min = 1))]
    pub key_id: String,
    /// Delete the key and everything that depends on it for good.
    #[serde(default)]
    pub permanent: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListKeysQuery {
    #[schemars(length(min = 1))]
    pub api_id: String,
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Deprecated: use externalId.
    #[schemars(length(max = MAX_NAME))]
    pub owner_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub external_id: Option<String>,
    pub decrypt: Option<bool>,
    /// Accepted for compatibility (keygate has no list cache).
    pub revalidate_keys_cache: Option<bool>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListKeysResponse {
    pub keys: Vec<Key>,
    /// Keys of the api (not deleted).
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

// ---- verification

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct VerifyAuthorization {
    /// A permission query: a permission name, `{"and": [...]}` or `{"or": [...]}`.
    pub permissions: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct VerifyCost {
    /// Credits this verification costs (default 1, 0 checks without spending).
    #[schemars(range(min = 0))]
    pub cost: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct VerifyRatelimit {
    /// The name of a configured limit, or of an ad-hoc limit with `limit` and `duration`.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub name: String,
    #[schemars(range(min = 0))]
    pub cost: Option<i64>,
    #[schemars(range(min = 0, max = MAX_RATE_LIMIT))]
    pub limit: Option<i64>,
    /// Window length in ms (at most 30 days).
    #[schemars(range(min = 1, max = MAX_RATE_DURATION_MS))]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyRequest {
    #[schemars(length(min = 1))]
    pub key: String,
    pub api_id: Option<String>,
    #[schemars(length(max = 10), inner(length(min = 1, max = 128)))]
    pub tags: Option<Vec<String>>,
    pub authorization: Option<VerifyAuthorization>,
    pub remaining: Option<VerifyCost>,
    /// Deprecated and ignored (as upstream): use `ratelimits`.
    pub ratelimit: Option<VerifyCost>,
    /// At most 50 limits.
    #[schemars(length(max = MAX_RATELIMITS))]
    pub ratelimits: Option<Vec<VerifyRatelimit>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct VerifyRatelimitResult {
    /// The limit of the key's `default` limit, when one applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    pub remaining: i64,
    pub reset: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyIdentity {
    pub id: String,
    pub external_id: String,
    pub meta: Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    UsageExceeded,
    RateLimited,
    Unauthorized,
    Disabled,
    InsufficientPermissions,
    Expired,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<VerifyRatelimitResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    pub code: VerifyCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<VerifyIdentity>,
    pub request_id: String,
}

// ---- migrations

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashVariant {
    Sha256Base64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct MigrationHash {
    #[schemars(length(min = 1, max = MAX_SECRET))]
    pub value: String,
    pub variant: HashVariant,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrateKey {
    #[schemars(length(min = 1))]
    pub api_id: String,
    #[schemars(length(min = 1, max = 8))]
    pub prefix: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub name: Option<String>,
    /// The key itself (hashed by keygate); or give `hash`.
    #[schemars(length(min = 1, max = MAX_SECRET))]
    pub plaintext: Option<String>,
    pub hash: Option<MigrationHash>,
    /// The visible start of the key.
    #[schemars(length(max = MAX_NAME))]
    pub start: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub owner_id: Option<String>,
    #[schemars(length(max = MAX_NAME))]
    pub external_id: Option<String>,
    /// Any JSON object, at most 64,000 characters as JSON.
    pub meta: Option<Meta>,
    #[schemars(length(max = MAX_LIST), inner(length(min = 1, max = 512)))]
    pub roles: Option<Vec<String>>,
    #[schemars(length(max = MAX_LIST), inner(length(min = 1, max = 512)))]
    pub permissions: Option<Vec<String>>,
    pub expires: Option<i64>,
    #[schemars(range(min = 1))]
    pub remaining: Option<i64>,
    pub refill: Option<RefillRequest>,
    /// Accepted and ignored, as upstream.
    pub ratelimit: Option<Value>,
    pub enabled: Option<bool>,
    #[schemars(length(max = 256))]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CreateKeysMigrationRequest(#[schemars(length(max = 100))] pub Vec<MigrateKey>);

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeysMigrationResponse {
    /// Ids of the created keys, in request order.
    pub key_ids: Vec<String>,
}

// ---- a key's roles and permissions

/// A permission named by id, or by slug (`name` is accepted as the slug, as upstream).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("anyOf" = [
    {"required": ["id"], "properties": {"id": {"type": "string"}}},
    {"required": ["name"], "properties": {"name": {"type": "string"}}},
    {"required": ["slug"], "properties": {"slug": {"type": "string"}}}
]))]
pub struct PermissionRef {
    #[schemars(length(min = 3, max = MAX_NAME))]
    pub id: Option<String>,
    #[schemars(length(min = 1, max = 512))]
    pub name: Option<String>,
    #[schemars(length(min = 1, max = 512))]
    pub slug: Option<String>,
    /// Create the permission when it does not exist (needs `rbac.*.create_permission`).
    pub create: Option<bool>,
}

/// A role named by id or name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("anyOf" = [
    {"required": ["id"], "properties": {"id": {"type": "string"}}},
    {"required": ["name"], "properties": {"name": {"type": "string"}}}
]))]
pub struct RoleRef {
    #[schemars(length(min = 3, max = MAX_NAME))]
    pub id: Option<String>,
    #[schemars(length(min = 1, max = 512))]
    pub name: Option<String>,
    /// Create the role when it does not exist (needs `rbac.*.create_role`).
    pub create: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPermissionsRequest {
    #[schemars(length(min = 1))]
    pub key_id: String,
    #[schemars(length(min = 1, max = MAX_LIST))]
    pub permissions: Vec<PermissionRef>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRolesRequest {
    #[schemars(length(min = 1))]
    pub key_id: String,
    #[schemars(length(min = 1, max = MAX_LIST))]
    pub roles: Vec<RoleRef>,
}

/// A role or permission connected to a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Connected {
    pub id: String,
    pub name: String,
}

// ---- legacy REST routes (v1 §2.5 #42–44)

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyVerifyRequest {
    #[schemars(length(min = 1))]
    pub key: String,
    pub api_id: Option<String>,
}

/// `POST /v1/keys/verify`: answered with HTTP 404 when the code is NOT_FOUND or EXPIRED.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyVerifyResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<VerifyRatelimitResult>,
    /// Why the key is not valid (absent when it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<VerifyCode>,
}

impl LegacyVerifyResponse {
    /// The HTTP status upstream answered with.
    pub fn status(&self) -> u16 {
        match self.code {
            Some(VerifyCode::NotFound | VerifyCode::Expired) => 404,
            _ => 200,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyListKeysQuery {
    /// The api (path parameter).
    #[schemars(length(min = 1))]
    pub api_id: String,
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// Keys to skip.
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LegacyListKeysResponse {
    pub keys: Vec<Key>,
    /// Live keys of the api.
    pub total: i64,
}
