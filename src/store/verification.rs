//! The key loader shared by `keys.verifyKey`, `keys.whoami` and root-key authentication: the key
//! by hash with its api, workspaces, credits, identity, permissions, roles and ratelimits, in one
//! D1 round trip (a batch of four reads).

use serde::Deserialize;

use super::{int_bool, results, Store, StoreResult};
use crate::domain::credits::Balance;
use crate::domain::ratelimit::Configured;
use crate::domain::verify::KeyFacts;
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub key_auth_id: String,
    pub workspace_id: String,
    pub for_workspace_id: Option<String>,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    pub identity_id: Option<String>,
    pub meta: Option<String>,
    pub expires: Option<i64>,
    #[serde(deserialize_with = "int_bool")]
    pub enabled: bool,
    pub remaining_requests: Option<i64>,
    pub environment: Option<String>,
    pub created_at_m: i64,
    pub api_id: String,
    pub ip_whitelist: Option<String>,
    /// Both the key's workspace and (for root keys) the administered workspace are enabled.
    #[serde(deserialize_with = "int_bool")]
    pub workspaces_enabled: bool,
    pub credit_id: Option<String>,
    /// The key's own credits balance (not the identity's).
    pub credit_remaining: Option<i64>,
    pub identity_external_id: Option<String>,
    pub identity_meta: Option<String>,
    pub identity_credit_id: Option<String>,
}

/// A rate limit configured on the key or on its identity.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyLimitRow {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    #[serde(deserialize_with = "int_bool")]
    pub auto_apply: bool,
    /// The limit is the key's own (else the identity's).
    #[serde(deserialize_with = "int_bool")]
    pub on_key: bool,
}

#[derive(Debug, Clone)]
pub struct LoadedKey {
    pub key: KeyRow,
    /// Permission slugs, direct and through roles, without duplicates.
    pub permissions: Vec<String>,
    /// Role names.
    pub roles: Vec<String>,
    pub ratelimits: Vec<KeyLimitRow>,
}

impl KeyRow {
    /// The balance a verification of this key charges (see `Balance::choose`), if any.
    pub fn balance(&self) -> Option<Balance> {
        Balance::choose(
            self.identity_credit_id.as_deref(),
            self.credit_id.as_deref(),
            &self.id,
            self.remaining_requests,
        )
    }
}

impl KeyLimitRow {
    pub fn configured(&self) -> Configured {
        Configured {
            id: self.id.clone(),
            name: self.name.clone(),
            limit: self.limit,
            duration: self.duration,
            auto_apply: self.auto_apply,
        }
    }
}

impl LoadedKey {
    /// What the verification prechecks need to know about this key.
    pub fn facts(&self) -> KeyFacts<'_> {
        KeyFacts {
            enabled: self.key.enabled,
            api_id: &self.key.api_id,
            expires: self.key.expires,
            ip_whitelist: self.key.ip_whitelist.as_deref(),
            permissions: &self.permissions,
        }
    }
}

#[derive(Deserialize)]
struct Slug {
    slug: String,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

const KEY_SQL: &str = "
SELECT k.id, k.key_auth_id, k.workspace_id, k.for_workspace_id, k.name, k.owner_id, k.identity_id,
       k.meta, k.expires, k.enabled, k.remaining_requests, k.environment, k.created_at_m,
       a.id AS api_id, a.ip_whitelist,
       (COALESCE(w.enabled, 0) <> 0 AND (k.for_workspace_id IS NULL OR COALESCE(fw.enabled, 0) <> 0)) AS workspaces_enabled,
       c.id AS credit_id, c.remaining AS credit_remaining,
       i.external_id AS identity_external_id, i.meta AS identity_meta,
       ic.id AS identity_credit_id
FROM keys k
JOIN key_auth ka ON ka.id = k.key_auth_id AND ka.deleted_at_m IS NULL
JOIN apis a ON a.key_auth_id = k.key_auth_id AND a.deleted_at_m IS NULL
LEFT JOIN workspaces w ON w.id = k.workspace_id
LEFT JOIN workspaces fw ON fw.id = k.for_workspace_id
LEFT JOIN credits c ON c.key_id = k.id
LEFT JOIN identities i ON i.id = k.identity_id
LEFT JOIN credits ic ON ic.identity_id = i.id
WHERE k.hash = ?1 AND k.deleted_at_m IS NULL";

const PERMISSIONS_SQL: &str = "
WITH key AS (SELECT id FROM keys WHERE hash = ?1 AND deleted_at_m IS NULL)
SELECT DISTINCT p.slug FROM permissions p
WHERE p.id IN (SELECT permission_id FROM keys_permissions WHERE key_id IN (SELECT id FROM key))
   OR p.id IN (SELECT rp.permission_id FROM roles_permissions rp
               JOIN keys_roles kr ON kr.role_id = rp.role_id
               WHERE kr.key_id IN (SELECT id FROM key))
ORDER BY p.slug";

const ROLES_SQL: &str = "
SELECT r.name FROM roles r JOIN keys_roles kr ON kr.role_id = r.id
WHERE kr.key_id IN (SELECT id FROM keys WHERE hash = ?1 AND deleted_at_m IS NULL)
ORDER BY r.name";

const RATELIMITS_SQL: &str = "
WITH key AS (SELECT id, identity_id FROM keys WHERE hash = ?1 AND deleted_at_m IS NULL)
SELECT id, name, \"limit\", duration, auto_apply, (key_id IS NOT NULL) AS on_key FROM ratelimits
WHERE key_id IN (SELECT id FROM key)
   OR identity_id IN (SELECT identity_id FROM key WHERE identity_id IS NOT NULL)
ORDER BY on_key, name";

/// Loads the key whose hash is `hash`; `None` when there is no such live key, or its keyspace or
/// api is deleted.
pub async fn load_by_hash(store: &Store, hash: &str) -> StoreResult<Option<LoadedKey>> {
    let [key, permissions, roles, ratelimits] = results(
        store
            .batch(vec![
                stmt!(KEY_SQL, hash),
                stmt!(PERMISSIONS_SQL, hash),
                stmt!(ROLES_SQL, hash),
                stmt!(RATELIMITS_SQL, hash),
            ])
            .await?,
    )?;
    let Some(key) = key.first::<KeyRow>()? else {
        return Ok(None);
    };
    Ok(Some(LoadedKey {
        key,
        permissions: permissions.parse::<Slug>()?.into_iter().map(|s| s.slug).collect(),
        roles: roles.parse::<Name>()?.into_iter().map(|r| r.name).collect(),
        ratelimits: ratelimits.parse::<KeyLimitRow>()?,
    }))
}
