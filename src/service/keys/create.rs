//! keys.createKey (v1 and v2), migrations.createKeys and keys.rerollKey: they write keys with
//! credits rows (never the legacy columns), named ratelimit rows, identity, roles and permissions,
//! in one batch.

use std::collections::HashSet;
use std::rc::Rc;

use super::super::auth::Principal;
use super::super::{apis, vault, Ctx, Error, Resource, Result};
use super::meta_json;
use crate::domain::credits::{CreditWrite, CreditsOwner};
use crate::domain::crypto::Keyring;
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{hash_key, key_start, new_key, new_plain_key};
use crate::domain::names::{check_new_names, NameRules};
use crate::domain::permissions::require;
use crate::domain::ratelimit::NamedLimit;
use crate::domain::rbac::LinkKind;
use crate::domain::refill::Refill;
use crate::domain::Meta;
use crate::store::apis::ApiRow;
use crate::store::audit::Target;
use crate::store::keys::{self, NewKeyRow};
use crate::store::{credits, ratelimits, rbac, Batch};

/// The key material of a new key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyFormat {
    /// v1: `prefix_` + base58([version, length, bytes]); `start` follows the request's prefix.
    #[default]
    Versioned,
    /// v2: `prefix_` + base58(bytes); `start` is `prefix_` + 4 characters.
    Plain,
}

/// createKey's input.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub api_id: String,
    pub prefix: Option<String>,
    pub name: Option<String>,
    pub byte_length: Option<i64>,
    /// externalId ?? ownerId: the owner id and the identity to link (created if missing).
    pub owner: Option<String>,
    pub meta: Option<Meta>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub expires: Option<i64>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub ratelimits: Vec<NamedLimit>,
    pub enabled: Option<bool>,
    pub recoverable: bool,
    pub environment: Option<String>,
    pub format: KeyFormat,
    /// Missing roles are created (v1, with `rbac.*.create_role`); else each must exist (v2).
    pub create_roles: bool,
    /// The rules of the permissions and roles it creates.
    pub names: NameRules,
}

/// A key about to be inserted.
struct Insert {
    id: String,
    key_auth_id: String,
    workspace_id: String,
    hash: String,
    start: String,
    name: Option<String>,
    owner: Option<String>,
    meta: Option<String>,
    expires: Option<i64>,
    enabled: bool,
    environment: Option<String>,
    remaining: Option<i64>,
    refill: Option<Refill>,
    ratelimits: Vec<NamedLimit>,
    roles: Vec<String>,
    permissions: Vec<String>,
    /// The plaintext to keep encrypted (recoverable keys), with the master key.
    recoverable: Option<(String, Rc<Keyring>)>,
    /// The key migration it was imported through.
    pending_migration_id: Option<String>,
}

fn stage_insert(ctx: &Ctx, batch: &mut Batch, k: &Insert) -> Result<()> {
    if let Some(owner) = &k.owner {
        batch.push(keys::ensure_identity(
            &new_id(IdKind::Identity, ctx.now)?,
            &k.workspace_id,
            owner,
            ctx.now,
        ));
    }
    batch.push(keys::insert(
        &NewKeyRow {
            id: &k.id,
            key_auth_id: &k.key_auth_id,
            workspace_id: &k.workspace_id,
            hash: &k.hash,
            start: &k.start,
            name: k.name.as_deref(),
            owner: k.owner.as_deref(),
            meta: k.meta.as_deref(),
            expires: k.expires,
            enabled: k.enabled,
            environment: k.environment.as_deref(),
            for_workspace_id: None,
            pending_migration_id: k.pending_migration_id.as_deref(),
        },
        ctx.now,
    ));
    if let Some(remaining) = k.remaining {
        let write = CreditWrite::InsertRow {
            owner: CreditsOwner::Key(k.id.clone()),
            remaining,
            refill: k.refill,
            stamp_now: false,
        };
        credits::stage(batch, &write, &k.workspace_id, ctx.now)?;
    }
    for rl in &k.ratelimits {
        let id = new_id(IdKind::Ratelimit, ctx.now)?;
        batch.push(ratelimits::upsert_key_limit(&id, &k.id, &k.workspace_id, rl, ctx.now));
    }
    if !k.roles.is_empty() {
        batch.push(rbac::connect(LinkKind::Role, &k.id, &k.workspace_id, &k.roles, ctx.now));
    }
    if !k.permissions.is_empty() {
        batch.push(rbac::connect(LinkKind::Permission, &k.id, &k.workspace_id, &k.permissions, ctx.now));
    }
    if let Some((plaintext, master)) = &k.recoverable {
        batch.push(vault::encrypted_copy(ctx, master, &k.workspace_id, &k.id, plaintext)?);
    }
    Ok(())
}

/// The api a key is created in, with its keyspace (404/412).
async fn keys_api(ctx: &Ctx, p: &Principal, api_id: &str) -> Result<(ApiRow, String)> {
    let api = apis::find(ctx, &p.workspace_id, api_id).await?;
    let key_auth_id = apis::keyspace(&api)?.to_string();
    Ok((api, key_auth_id))
}

/// Recoverable keys need an api that stores encrypted keys, the `encrypt_key` right, and the
/// ENCRYPTION_KEYS secret; checked before anything is written.
fn encryption(ctx: &Ctx, p: &Principal, api: &ApiRow) -> Result<Rc<Keyring>> {
    if !api.store_encrypted_keys {
        return Err(Error::precondition(format!("api {} does not support recoverable keys", api.id)));
    }
    let query = require::api(&api.id, "encrypt_key");
    if !p.allows(&query) {
        return Err(Error::InsufficientPermissions(format!(
            "insufficient permissions to encrypt keys: {}",
            query.missing_message(&p.permissions)
        )));
    }
    Ok(Rc::new(vault::master_keys(ctx)?))
}

fn check_refill_day(refill: Option<&Refill>) -> Result<()> {
    match refill {
        Some(r) if r.day_conflicts() => {
            Err(Error::bad_request("when interval is set to 'daily', 'refillDay' must be null."))
        }
        _ => Ok(()),
    }
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The role names that do not exist: created when allowed (v1), else a 404 naming the first.
async fn check_roles(ctx: &Ctx, p: &Principal, roles: &[String], create: bool) -> Result<Vec<String>> {
    let missing = rbac::missing(&ctx.store, LinkKind::Role, &p.workspace_id, roles).await?;
    match missing.first() {
        None => Ok(missing),
        Some(_) if create => {
            p.require(&require::rbac(&["create_role"]))?;
            Ok(missing)
        }
        Some(name) => Err(Error::not_found(Resource::Role, format!("Role '{name}' was not found."))),
    }
}

/// The permission slugs that do not exist; creating them needs `rbac.*.create_permission`.
async fn check_permissions(ctx: &Ctx, p: &Principal, permissions: &[String]) -> Result<Vec<String>> {
    let missing = rbac::missing(&ctx.store, LinkKind::Permission, &p.workspace_id, permissions).await?;
    if !missing.is_empty() {
        p.require(&require::rbac(&["create_permission"]))?;
    }
    Ok(missing)
}

/// A new key and its `start`.
fn material(
    format: KeyFormat,
    request_prefix: Option<&str>,
    prefix: Option<&str>,
    bytes: usize,
) -> Result<(String, String)> {
    Ok(match format {
        KeyFormat::Versioned => {
            let key = new_key(prefix, bytes)?;
            let start = key_start(&key, request_prefix);
            (key, start)
        }
        KeyFormat::Plain => new_plain_key(prefix, bytes)?,
    })
}

/// Creates a key; returns its id and the key (shown once).
pub async fn create(ctx: &Ctx, p: &Principal, req: NewKey) -> Result<(String, String)> {
    let (api, key_auth_id) = keys_api(ctx, p, &req.api_id).await?;
    let master = if req.recoverable { Some(encryption(ctx, p, &api)?) } else { None };
    if req.remaining.is_some_and(|r| r < 0) {
        return Err(Error::bad_request("remaining must not be negative."));
    }
    if req.refill.is_some() && req.remaining.is_none() {
        return Err(Error::bad_request("remaining must be set if you are using refill."));
    }
    check_refill_day(req.refill.as_ref())?;
    let roles = dedup(req.roles);
    let permissions = dedup(req.permissions);
    let ws = &p.workspace_id;
    let missing_permissions = check_permissions(ctx, p, &permissions).await?;
    let missing_roles = check_roles(ctx, p, &roles, req.create_roles).await?;
    // what createKey creates follows createPermission's and createRole's rules
    check_new_names(
        req.names,
        LinkKind::Permission,
        permissions.iter().map(|n| Some(n.as_str())),
        &missing_permissions,
    )?;
    check_new_names(req.names, LinkKind::Role, roles.iter().map(|n| Some(n.as_str())), &missing_roles)?;

    let prefix = req.prefix.clone().or(api.default_prefix.clone());
    let byte_length = req.byte_length.or(api.default_bytes).unwrap_or(16).clamp(16, 255) as usize;
    let (key, start) = material(req.format, req.prefix.as_deref(), prefix.as_deref(), byte_length)?;
    let new = Insert {
        id: new_id(IdKind::Key, ctx.now)?,
        key_auth_id: key_auth_id.clone(),
        workspace_id: ws.clone(),
        hash: hash_key(&key),
        start,
        name: req.name,
        owner: req.owner,
        meta: meta_json(req.meta.as_ref(), "meta")?,
        expires: req.expires,
        enabled: req.enabled.unwrap_or(true),
        environment: req.environment,
        remaining: req.remaining,
        refill: req.refill,
        ratelimits: req.ratelimits,
        roles,
        permissions,
        recoverable: master.map(|m| (key.clone(), m)),
        pending_migration_id: None,
    };
    let targets = vec![
        Target::named("key", &new.id, new.name.clone()),
        Target::named("api", &api.id, Some(api.name.clone())),
    ];
    let mut batch = ctx.batch(&p.actor(), ws, "key.create", "", targets);
    // a fresh random key: no verification anyone cached can be about it
    batch.only_adds_keys();
    rbac::create_named(&mut batch, LinkKind::Permission, ws, &missing_permissions, ctx.now)?;
    rbac::create_named(&mut batch, LinkKind::Role, ws, &missing_roles, ctx.now)?;
    stage_insert(ctx, &mut batch, &new)?;
    batch.push(keys::keyspace_grows(&key_auth_id, 1, ctx.now));
    ctx.store.commit(batch).await?;
    Ok((new.id, key))
}

/// One key of migrations.createKeys.
#[derive(Debug, Clone, Default)]
pub struct MigratedKey {
    pub api_id: String,
    pub name: Option<String>,
    pub plaintext: Option<String>,
    /// The sha256/base64 hash of a key exported elsewhere.
    pub hash: Option<String>,
    pub start: Option<String>,
    pub owner: Option<String>,
    pub meta: Option<Meta>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub expires: Option<i64>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub enabled: Option<bool>,
    pub environment: Option<String>,
}

/// Imports keys (plaintexts or hashes) in one batch; returns their ids in order.
pub async fn migrate(ctx: &Ctx, p: &Principal, import: Vec<MigratedKey>) -> Result<Vec<String>> {
    let ws = &p.workspace_id;
    let mut apis: Vec<(ApiRow, String)> = Vec::new();
    let mut new_keys = Vec::with_capacity(import.len());
    for (i, k) in import.into_iter().enumerate() {
        p.require(&require::api(&k.api_id, "create_key"))
            .map_err(|_| Error::InsufficientPermissions("unauthorized".into()))?;
        if !apis.iter().any(|(a, _)| a.id == k.api_id) {
            apis.push(keys_api(ctx, p, &k.api_id).await?);
        }
        let (api, key_auth_id) = apis
            .iter()
            .find(|(a, _)| a.id == k.api_id)
            .ok_or_else(|| Error::Internal("migrated key without its api".into()))?;
        if k.refill.is_some() && k.remaining.is_none() {
            return Err(Error::bad_request("remaining must be set if you are using refill."));
        }
        check_refill_day(k.refill.as_ref())?;
        // a plaintext imported into an api that stores encrypted keys stays recoverable
        let recoverable = match &k.plaintext {
            Some(plain) if api.store_encrypted_keys && k.hash.is_none() => {
                Some((plain.clone(), encryption(ctx, p, api)?))
            }
            _ => None,
        };
        let (hash, start) = match (&k.hash, &k.plaintext) {
            (Some(h), _) => (h.clone(), k.start.clone().unwrap_or_default()),
            (None, Some(plain)) => {
                (hash_key(plain), k.start.clone().unwrap_or_else(|| plain.chars().take(4).collect()))
            }
            (None, None) => return Err(Error::bad_request("provide either `hash` or `plaintext`")),
        };
        new_keys.push(Insert {
            id: new_id(IdKind::Key, ctx.now)?,
            key_auth_id: key_auth_id.clone(),
            workspace_id: ws.clone(),
            hash,
            start,
            name: k.name,
            owner: k.owner,
            meta: meta_json(k.meta.as_ref(), &format!("{i}.meta"))?,
            expires: k.expires,
            enabled: k.enabled.unwrap_or(true),
            environment: k.environment,
            remaining: k.remaining,
            refill: k.refill,
            ratelimits: Vec::new(),
            roles: dedup(k.roles),
            permissions: dedup(k.permissions),
            recoverable,
            pending_migration_id: None,
        });
    }
    let all_roles = dedup(new_keys.iter().flat_map(|k| k.roles.clone()).collect());
    let missing_roles = rbac::missing(&ctx.store, LinkKind::Role, ws, &all_roles).await?;
    if !missing_roles.is_empty() {
        return Err(Error::precondition(format!(
            "Roles {} are missing, please create them first",
            serde_json::Value::from(missing_roles)
        )));
    }
    let all_permissions = dedup(new_keys.iter().flat_map(|k| k.permissions.clone()).collect());
    let missing_permissions = rbac::missing(&ctx.store, LinkKind::Permission, ws, &all_permissions).await?;
    if !missing_permissions.is_empty() {
        return Err(Error::precondition(format!(
            "Permissions {} are missing, please create them first",
            serde_json::Value::from(missing_permissions)
        )));
    }

    let targets = new_keys.iter().map(|k| Target::named("key", &k.id, k.name.clone())).collect();
    let mut batch = ctx.batch(&p.actor(), ws, "key.create", "migrated keys", targets);
    for k in &new_keys {
        stage_insert(ctx, &mut batch, k)?;
    }
    for (_, key_auth_id) in &apis {
        let added = new_keys.iter().filter(|k| &k.key_auth_id == key_auth_id).count();
        batch.push(keys::keyspace_grows(key_auth_id, added as i64, ctx.now));
    }
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(new_keys.into_iter().map(|k| k.id).collect()),
        Err(e) if e.is_conflict() => {
            Err(Error::conflict(Resource::Key, "a key with this hash already exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// One key of v2 keys.migrateKeys: a key exported elsewhere, by the hash its migration defines.
#[derive(Debug, Clone, Default)]
pub struct HashedKey {
    pub hash: String,
    pub name: Option<String>,
    /// The identity to link (created if missing).
    pub owner: Option<String>,
    pub meta: Option<Meta>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub expires: Option<i64>,
    pub enabled: Option<bool>,
    pub remaining: Option<i64>,
    pub refill: Option<Refill>,
    pub ratelimits: Vec<NamedLimit>,
}

/// What keys.migrateKeys did: `(hash, key id)` of every imported key, and the hashes that exist
/// already (nothing was written for them).
pub struct HashedImport {
    pub migrated: Vec<(String, String)>,
    pub failed: Vec<String>,
}

/// Imports keys by hash through a key migration of the workspace, in one batch (v2).
pub async fn migrate_hashed(
    ctx: &Ctx,
    p: &Principal,
    migration_id: &str,
    api_id: &str,
    import: Vec<HashedKey>,
) -> Result<HashedImport> {
    let migration = super::super::migrations::find(ctx, &p.workspace_id, migration_id).await?;
    let (api, key_auth_id) = keys_api(ctx, p, api_id).await?;
    let ws = &p.workspace_id;
    let hashes: Vec<String> = import.iter().map(|k| k.hash.clone()).collect();
    let existing = crate::store::migrations::existing_hashes(&ctx.store, &hashes).await?;
    let mut failed = Vec::new();
    let mut new_keys: Vec<Insert> = Vec::new();
    for k in import {
        if existing.contains(&k.hash) || new_keys.iter().any(|n| n.hash == k.hash) {
            failed.push(k.hash);
            continue;
        }
        if k.refill.is_some() && k.remaining.is_none() {
            return Err(Error::bad_request("remaining must be set if you are using refill."));
        }
        new_keys.push(Insert {
            id: new_id(IdKind::Key, ctx.now)?,
            key_auth_id: key_auth_id.clone(),
            workspace_id: ws.clone(),
            hash: k.hash,
            start: String::new(),
            name: k.name,
            owner: k.owner,
            meta: meta_json(k.meta.as_ref(), "meta")?,
            expires: k.expires,
            enabled: k.enabled.unwrap_or(true),
            environment: None,
            remaining: k.remaining,
            refill: k.refill,
            ratelimits: k.ratelimits,
            roles: dedup(k.roles),
            permissions: dedup(k.permissions),
            recoverable: None,
            pending_migration_id: Some(migration.id.clone()),
        });
    }
    let roles = dedup(new_keys.iter().flat_map(|k| k.roles.clone()).collect());
    check_roles(ctx, p, &roles, false).await?;
    let permissions = dedup(new_keys.iter().flat_map(|k| k.permissions.clone()).collect());
    let missing_permissions = check_permissions(ctx, p, &permissions).await?;
    let migrated = new_keys.iter().map(|k| (k.hash.clone(), k.id.clone())).collect();
    if new_keys.is_empty() {
        return Ok(HashedImport { migrated, failed });
    }
    let mut targets: Vec<Target> =
        new_keys.iter().map(|k| Target::named("key", &k.id, k.name.clone())).collect();
    targets.push(Target::named("api", &api.id, Some(api.name.clone())));
    let display = format!("migrated keys through {}", migration.id);
    let mut batch = ctx.batch(&p.actor(), ws, "key.create", &display, targets);
    rbac::create_named(&mut batch, LinkKind::Permission, ws, &missing_permissions, ctx.now)?;
    for k in &new_keys {
        stage_insert(ctx, &mut batch, k)?;
    }
    batch.push(keys::keyspace_grows(&key_auth_id, new_keys.len() as i64, ctx.now));
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(HashedImport { migrated, failed }),
        Err(e) if e.is_conflict() => {
            Err(Error::conflict(Resource::Key, "a key with one of these hashes was imported meanwhile"))
        }
        Err(e) => Err(e.into()),
    }
}
