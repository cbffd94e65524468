//! keys.getKey, apis.listKeys and keys.whoami.

use super::super::auth::{Credentials, Principal};
use super::super::{apis, keycache, vault, Ctx, Error, Result};
use super::not_found;
use crate::domain::keys::hash_key;
use crate::domain::permissions::require;
use crate::store::key_view::{self, KeyView, Page};
use crate::store::{identities, keys};

fn require_decrypt(p: &Principal, api_id: &str) -> Result<()> {
    if p.allows(&require::api(api_id, "decrypt_key")) {
        Ok(())
    } else {
        Err(Error::unauthorized("you're not allowed to decrypt this key"))
    }
}

/// getKey: loads the key first (an unknown key is a 404 without credentials), then
/// authenticates with the key's api in the permission query.
pub async fn get(ctx: &Ctx, creds: &Credentials, key_id: &str, decrypt: bool) -> Result<KeyView> {
    let view = key_view::by_id(&ctx.store, key_id).await?.ok_or_else(|| not_found(key_id))?;
    let api_id = view.api_id.clone().unwrap_or_default();
    let p = creds.authenticate(ctx, Some(&require::api(&api_id, "read_key"))).await?;
    if view.workspace_id != p.workspace_id {
        return Err(not_found(key_id));
    }
    let mut keys = [view];
    if decrypt {
        require_decrypt(&p, &api_id)?;
        vault::reveal(ctx, &mut keys).await?;
    }
    let [view] = keys;
    Ok(view)
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
}

pub struct KeyPage {
    pub keys: Vec<KeyView>,
    /// Live keys of the api.
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
    let page = Page {
        key_auth_id,
        cursor: f.cursor.as_deref(),
        identity_id: identity_id.as_deref(),
        owner_id: f.owner_id.as_deref(),
        limit: f.limit.unwrap_or(100),
    };
    let mut keys = key_view::page(&ctx.store, &page).await?;
    if f.decrypt {
        vault::reveal(ctx, &mut keys).await?;
    }
    let total = keys::keyspace_size(&ctx.store, key_auth_id).await?;
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
    let missing = || Error::not_found("Key not found");
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
