//! Wire types of the v2 `keys.*` routes (v2-api.md §4.1–4.10).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    duplicate_ratelimits, CreditsResponse, Meta, Patch, RatelimitRequest, RatelimitResponse, RefillInterval,
    RefillRequest, ID_PATTERN, SLUG_PATTERN,
};
use crate::api::v2::identities::Identity;
use crate::api::Refine;

// ---- keys.verifyKey

/// Credits a verification spends.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VerifyCredits {
    /// Credits to deduct (0 checks without spending); default 1.
    #[schemars(range(min = 0, max = 1_000_000_000_000i64))]
    pub cost: i64,
}

/// A rate limit a verification checks: a configured one by name, or an ad hoc one (`limit` and
/// `duration`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VerifyRatelimit {
    #[schemars(length(min = 3, max = 255))]
    pub name: String,
    /// Default 1.
    #[schemars(range(min = 0))]
    pub cost: Option<i64>,
    /// With `duration`: an ad hoc limit counted for this key (0 rejects everything).
    #[schemars(range(min = 0))]
    pub limit: Option<i64>,
    /// The ad hoc limit's window in milliseconds (at least 1000).
    #[schemars(range(min = 1000))]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct VerifyKeyRequest {
    /// The key as your user presented it.
    #[schemars(length(min = 1, max = 512))]
    pub key: String,
    /// Recorded with the verification (analytics).
    #[schemars(length(max = 20), inner(length(min = 1, max = 512)))]
    pub tags: Option<Vec<String>>,
    /// A permission query the key must satisfy, e.g. `"documents.read AND (documents.write OR admin)"`.
    #[schemars(length(min = 1, max = 1000))]
    pub permissions: Option<String>,
    pub credits: Option<VerifyCredits>,
    pub ratelimits: Option<Vec<VerifyRatelimit>>,
    /// Look the key up through this key migration when its hash is unknown.
    #[schemars(length(max = 256))]
    pub migration_id: Option<String>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    InsufficientPermissions,
    UsageExceeded,
    RateLimited,
    Disabled,
    Expired,
}

/// A rate limit the verification checked.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRatelimitData {
    pub exceeded: bool,
    /// The configured limit's id; empty for an ad hoc limit.
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    /// End of the current window (unix ms).
    pub reset: i64,
    pub remaining: i64,
    pub auto_apply: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// The balance after this verification (credit-limited keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<VerifyRatelimitData>>,
}

impl Refine for VerifyKeyRequest {}

// ---- keys.createKey

/// Credits of a new key: `remaining` (`null` = unlimited) and an optional refill.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreditsRequest {
    #[schemars(range(min = 0))]
    pub remaining: Option<i64>,
    pub refill: Option<RefillRequest>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct CreateKeyRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub api_id: String,
    /// The key becomes `<prefix>_<random>`; defaults to the api's default prefix.
    #[schemars(length(min = 1, max = 16), pattern(ID_PATTERN))]
    pub prefix: Option<String>,
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// Random bytes of the key (default: the api's default, else 16).
    #[schemars(range(min = 16, max = 255))]
    pub byte_length: Option<i64>,
    /// Links the key to this identity (created when missing).
    #[schemars(length(min = 1, max = 255))]
    pub external_id: Option<String>,
    pub meta: Option<Meta>,
    /// Role names; each must exist.
    #[schemars(length(max = 100), inner(length(min = 1, max = 128)))]
    pub roles: Option<Vec<String>>,
    /// Permission slugs; missing ones are created (with `rbac.*.create_permission`).
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Option<Vec<String>>,
    /// Unix ms after which the key is expired.
    #[schemars(range(min = 0, max = 4_102_444_800_000i64))]
    pub expires: Option<i64>,
    pub credits: Option<CreditsRequest>,
    #[schemars(length(max = 50))]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    pub enabled: Option<bool>,
    /// Keep the key encrypted so that getKey/listKeys can show it again (`decrypt`).
    pub recoverable: Option<bool>,
}

/// `credits.refill` needs `credits.remaining`; a monthly refill needs `refillDay`.
pub fn check_new_credits(path: &str, credits: Option<&CreditsRequest>) -> Result<(), String> {
    let Some(c) = credits else { return Ok(()) };
    if let Some(refill) = &c.refill {
        if c.remaining.is_none() {
            return Err(format!(
                "{path}.remaining: `credits.remaining` must be provided when `credits.refill` is set."
            ));
        }
        refill.check(&format!("{path}.refill"))?;
    }
    Ok(())
}

impl Refine for CreateKeyRequest {
    fn refine(&self) -> Result<(), String> {
        check_new_credits("credits", self.credits.as_ref())?;
        duplicate_ratelimits("ratelimits", self.ratelimits.as_ref())
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyResponse {
    pub key_id: String,
    /// Shown once: keygate keeps only its hash (and an encrypted copy for recoverable keys).
    pub key: String,
}

// ---- keys.getKey, keys.whoami, apis.listKeys

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct GetKeyRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    /// Include `plaintext` (recoverable keys; needs `api.*.decrypt_key`).
    pub decrypt: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WhoamiRequest {
    #[schemars(length(min = 1, max = 512))]
    pub key: String,
}

/// A key as getKey, whoami and apis.listKeys return it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponse {
    pub key_id: String,
    pub start: String,
    pub enabled: bool,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Slugs, direct and through roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// Role names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The key's own rate limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
}

// ---- keys.updateKey, keys.updateCredits

/// updateKey's credits: `remaining` `null` makes the key unlimited; `refill` `null` removes the
/// refill.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UpdateCreditsData {
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub remaining: Patch<i64>,
    #[serde(default)]
    pub refill: Patch<RefillRequest>,
}

/// PATCH semantics: an absent field stays, `null` clears it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    pub name: Patch<String>,
    /// Links the key to this identity (created when missing); `null` unlinks it.
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    pub external_id: Patch<String>,
    #[serde(default)]
    pub meta: Patch<Meta>,
    #[serde(default)]
    #[schemars(range(min = 0, max = 4_102_444_800_000i64))]
    pub expires: Patch<i64>,
    /// `null`: unlimited.
    #[serde(default)]
    pub credits: Patch<UpdateCreditsData>,
    /// Replaces the key's rate limits by name (kept names keep their ids).
    #[schemars(length(max = 50))]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    pub enabled: Option<bool>,
    /// Replaces the key's roles (names; each must exist).
    #[schemars(length(max = 100), inner(length(min = 1, max = 128)))]
    pub roles: Option<Vec<String>>,
    /// Replaces the key's direct permissions (slugs; missing ones are created).
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Option<Vec<String>>,
}

impl Refine for UpdateKeyRequest {
    fn refine(&self) -> Result<(), String> {
        if let Some(refill) = self.credits.value().and_then(|c| c.refill.value()) {
            if refill.interval == RefillInterval::Daily && refill.refill_day.is_some() {
                return Err("credits.refill.refillDay: `refillDay` must not be provided when the refill interval is `daily`.".into());
            }
            refill.check("credits.refill")?;
        }
        duplicate_ratelimits("ratelimits", self.ratelimits.as_ref())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreditsOperation {
    Set,
    Increment,
    Decrement,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct UpdateCreditsRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    /// `set` (`null` = unlimited, also removing the refill), `increment`, `decrement` (stops at 0).
    pub operation: CreditsOperation,
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub value: Patch<i64>,
}

impl Refine for UpdateCreditsRequest {
    fn refine(&self) -> Result<(), String> {
        match (self.operation, &self.value) {
            (CreditsOperation::Increment | CreditsOperation::Decrement, Patch::Absent | Patch::Null) => {
                Err("value: When specifying an increment or decrement operation, a value must be provided."
                    .into())
            }
            _ => Ok(()),
        }
    }
}

// ---- keys.deleteKey, keys.rerollKey

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DeleteKeyRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    /// Delete for good instead of marking it deleted.
    #[serde(default)]
    pub permanent: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct RerollKeyRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    /// Milliseconds until the old key expires (0: now); rounded up to a full minute.
    #[schemars(range(min = 0, max = 4_102_444_800_000i64))]
    pub expiration: i64,
}

// ---- keys.{add,remove,set}{Permissions,Roles}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct KeyPermissionsRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    #[schemars(length(min = 1, max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Vec<String>,
}

/// setPermissions: the list may be empty (removes every direct permission).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct SetKeyPermissionsRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct KeyRolesRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    /// Role names (or ids).
    #[schemars(length(min = 1, max = 100), inner(length(min = 1, max = 128)))]
    pub roles: Vec<String>,
}

/// setRoles: the list may be empty (removes every role).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct SetKeyRolesRequest {
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub key_id: String,
    #[schemars(length(max = 100), inner(length(min = 1, max = 128)))]
    pub roles: Vec<String>,
}

// ---- keys.migrateKeys

/// A key exported elsewhere, by its hash.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct MigrateKey {
    /// The hash as the migration's algorithm defines it.
    #[schemars(length(min = 3))]
    pub hash: String,
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    #[schemars(length(min = 1, max = 255))]
    pub external_id: Option<String>,
    pub meta: Option<Meta>,
    #[schemars(length(max = 100), inner(length(min = 1, max = 128)))]
    pub roles: Option<Vec<String>>,
    #[schemars(length(max = 1000), inner(length(min = 1, max = 128), pattern(SLUG_PATTERN)))]
    pub permissions: Option<Vec<String>>,
    #[schemars(range(min = 0, max = 4_102_444_800_000i64))]
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub credits: Option<CreditsRequest>,
    #[schemars(length(max = 50))]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct MigrateKeysRequest {
    /// A key migration of the workspace (operator API `admin.createKeyMigration`).
    #[schemars(length(min = 3, max = 255))]
    pub migration_id: String,
    #[schemars(length(min = 3, max = 255), pattern(ID_PATTERN))]
    pub api_id: String,
    #[schemars(length(min = 1, max = 100))]
    pub keys: Vec<MigrateKey>,
}

impl Refine for MigrateKeysRequest {
    fn refine(&self) -> Result<(), String> {
        for (i, k) in self.keys.iter().enumerate() {
            check_new_credits(&format!("keys.{i}.credits"), k.credits.as_ref())?;
            duplicate_ratelimits(&format!("keys.{i}.ratelimits"), k.ratelimits.as_ref())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    pub hash: String,
    pub key_id: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MigrateKeysResponse {
    pub migrated: Vec<Migrated>,
    /// Hashes that already exist (nothing was written for them).
    pub failed: Vec<String>,
}
