//! keys.getKey, apis.listKeys and keys.whoami.

use super::super::auth::{Credentials, Principal};
use super::super::{apis, keycache, vault, Ctx, Error, Resource, Result};
use super::not_found;
use crate::domain::keys::hash_key;
use crate::domain::permissions::require;
use crate::store::key_view::{self, Detail, KeyView, Page};
use crate::store::{identities, keys};

fn require_decrypt(p: &Principal, api_id: &str) -> Result<()> {
    if p.allows(&require::api(api_id, "decrypt_key")) {
        Ok(())
    } else {
        Err(Error::unauthorized("you're not allowed to decrypt this key"))
    }
}

/// Checks a loaded key against the principal (another workspace's key is `missing`, then
/// `read_key` on its api) and reveals it when asked.
async fn shown(ctx: &Ctx, p: &Principal, view: KeyView, decrypt: bool, missing: Error) -> Result<KeyView> {
    if view.workspace_id != p.workspace_id {
        return Err(missing);
    }
    let api_id = view.api_id.clone().unwrap_or_default();
    p.require(&require::api(&api_id, "read_key"))?;
    let mut keys = [view];
    if decrypt {
        require_decrypt(p, &api_id)?;
        vault::reveal(ctx, &mut keys).await?;
    }
    let [view] = keys;
    Ok(view)
}

/// getKey (v1): loads the key first (an unknown key is a 404 without credentials), then
/// authenticates with the key's api in the permission query.
pub async fn get(ctx: &Ctx, creds: &Credentials, key_id: &str, decrypt: bool) -> Result<KeyView> {
    let detail = Detail { slugs: false, ratelimits: false };
    let view = key_view::by_id(&ctx.store, key_id, detail).await?.ok_or_else(|| not_found(key_id))?;
    let api_id = view.api_id.clone().unwrap_or_default();
    let p = creds.authenticate(ctx, Some(&require::api(&api_id, "read_key"))).await?;
    shown(ctx, &p, view, decrypt, not_found(key_id)).await
}

/// getKey (v2): the key of the principal's workspace, permissions by slug, with every rate limit.
pub async fn get_as(ctx: &Ctx, p: &Principal, key_id: &str, decrypt: bool) -> Result<KeyView> {
    let detail = Detail { slugs: true, ratelimits: true };
    let view = key_view::by_id(&ctx.store, key_id, detail).await?.ok_or_else(|| not_found(key_id))?;
    shown(ctx, p, view, decrypt, not_found(key_id)).await
}

/// whoami (v2): the key with this value, as getKey shows it.
pub async fn view_by_value(ctx: &Ctx, p: &Principal, key: &str) -> Result<KeyView> {
    let detail = Detail { slugs: true, ratelimits: true };
    let missing = || Error::not_found(Resource::Key, "The specified key was not found.");
    let view = key_view::by_hash(&ctx.store, &hash_key(key), detail).await?.ok_or_else(missing)?;
    // never the id of a key the caller may not see
    shown(ctx, p, view, false, missing()).await
}

/// Which keys of an api listKeys shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub api_id: String,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub owner_id: Option<String>,
    pub external_id: Option<String>,
    pub decrypt: bool,
    /// v2: the cursor is the first key of the page, one key more than `limit` is returned (it
    /// tells that more follow), permissions by slug and every rate limit; no total.
    pub v2: bool,
    /// Keys to skip (legacy `GET /v1/apis/{apiId}/keys`).
    pub offset: i64,
}

pub struct KeyPage {
    pub keys: Vec<KeyView>,
    /// Live keys of the api (v1 only).
    pub total: i64,
    pub cursor: Option<String>,
}

pub async fn list(ctx: &Ctx, p: &Principal, f: &ListFilter) -> Result<KeyPage> {
    let api = apis::find(ctx, &p.workspace_id, &f.api_id).await?;
    let key_auth_id = apis::keyspace(&api)?;
    if f.decrypt {
        require_decrypt(p, &api.id)?;
    }
    let identity_id = match &f.external_id {
        None => None,
        Some(external_id) => {
            match identities::id_of_external(&ctx.store, &p.workspace_id, external_id).await? {
                Some(id) => Some(id),
                None => return Ok(KeyPage { keys: vec![], total: 0, cursor: None }),
            }
        }
    };
    let limit = f.limit.unwrap_or(100);
    let page = Page {
        key_auth_id,
        cursor: f.cursor.as_deref(),
        identity_id: identity_id.as_deref(),
        owner_id: f.owner_id.as_deref(),
        limit: if f.v2 { limit + 1 } else { limit },
        inclusive: f.v2,
        offset: f.offset,
    };
    let detail = Detail { slugs: true, ratelimits: f.v2 };
    let mut keys = key_view::page(&ctx.store, &page, detail).await?;
    if f.decrypt {
        vault::reveal(ctx, &mut keys).await?;
    }
    let total = if f.v2 { 0 } else { keys::keyspace_size(&ctx.store, key_auth_id).await? };
    let cursor = keys.last().map(|k| k.id.clone());
    Ok(KeyPage { keys, total, cursor })
}

/// What whoami tells about a key.
pub struct Whoami {
    pub id: String,
    pub name: Option<String>,
    /// The key's own balance (credits row, else legacy column).
    pub remaining: Option<i64>,
    /// (id, external id)
    pub identity: Option<(String, String)>,
    /// Stored JSON text.
    pub meta: Option<String>,
    pub created_at: i64,
    pub enabled: bool,
    pub environment: Option<String>,
}

/// whoami: loads the key by its value first (unknown: 404), then authenticates.
pub async fn whoami(ctx: &Ctx, creds: &Credentials, key: &str) -> Result<Whoami> {
    let missing = || Error::not_found(Resource::Key, "Key not found");
    let loaded = keycache::load_fresh(&ctx.store, &hash_key(key)).await?.ok_or_else(missing)?;
    let p = creds.authenticate(ctx, Some(&require::api(&loaded.key.api_id, "read_key"))).await?;
    let key = loaded.key;
    if key.workspace_id != p.workspace_id {
        return Err(missing());
    }
    Ok(Whoami {
        id: key.id,
        name: key.name,
        remaining: key.credit_remaining.or(key.remaining_requests),
        identity: key.identity_id.zip(key.identity_external_id),
        meta: key.meta,
        created_at: key.created_at_m,
        enabled: key.enabled,
        environment: key.environment,
    })
}
