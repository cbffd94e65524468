//! `keys.createKey` and `migrations.createKeys`: both write keys with credits rows (never the
//! legacy columns), a `default` ratelimit row, identity, roles and permissions, in one batch.

use std::rc::Rc;

use worker::D1PreparedStatement;

use crate::api::common::{RefillInterval, RefillRequest};
use crate::api::keys::*;
use crate::domain::crypto::MasterKey;
use crate::domain::ids::{new_id, IdKind};
use crate::domain::keys::{hash_key, key_start, new_key};
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::{root_key, RootKey};
use crate::http::{ApiError, ApiResult, Ctx};
use crate::routes::apis::{api_not_found, api_permission};
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::credits::{self, CreditsOwner};
use crate::store::keys::refresh_keyspace_size;
use crate::store::links::{self, identity_id_sql, Rbac};
use crate::store::rows::{find_api, ApiRow};
use crate::store::{self, is_unique_violation, vault};

/// A key about to be inserted.
struct NewKey {
    id: String,
    key_auth_id: String,
    workspace_id: String,
    hash: String,
    start: String,
    name: Option<String>,
    /// externalId ?? ownerId: the owner id and the identity to link.
    owner: Option<String>,
    meta: Option<String>,
    expires: Option<i64>,
    enabled: bool,
    environment: Option<String>,
    remaining: Option<i64>,
    refill: Option<RefillRequest>,
    /// The `default` limit: (limit, duration).
    ratelimit: Option<(i64, i64)>,
    roles: Vec<String>,
    permissions: Vec<String>,
    /// The plaintext to keep encrypted (recoverable keys), with the master key.
    recoverable: Option<(String, Rc<MasterKey>)>,
}

fn insert_statements(ctx: &Ctx, k: &NewKey) -> ApiResult<Vec<D1PreparedStatement>> {
    let db = &ctx.db;
    let mut stmts = Vec::with_capacity(6);
    if let Some(owner) = &k.owner {
        stmts.push(links::ensure_identity(db, &k.workspace_id, owner, ctx.now)?);
    }
    stmts.push(stmt!(
        db,
        &format!(
            "INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, name, owner_id, identity_id, meta,
                               expires, created_at_m, enabled, environment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {}, ?8, ?9, ?10, ?11, ?12)",
            identity_id_sql("?5", "?7")
        ),
        &k.id,
        &k.key_auth_id,
        &k.hash,
        &k.start,
        &k.workspace_id,
        k.name.clone(),
        k.owner.clone(),
        k.meta.clone(),
        k.expires,
        ctx.now,
        k.enabled,
        k.environment.clone()
    )?);
    if let Some(remaining) = k.remaining {
        let credit_id = new_id(IdKind::Credit, ctx.now)?;
        let owner = CreditsOwner::Key(k.id.clone());
        stmts.push(credits::insert(
            db,
            &credit_id,
            &k.workspace_id,
            &owner,
            remaining,
            k.refill.as_ref(),
            ctx.now,
        )?);
    }
    if let Some((limit, duration)) = k.ratelimit {
        stmts.push(stmt!(
            db,
            "INSERT INTO ratelimits (id, name, workspace_id, created_at, key_id, \"limit\", duration, auto_apply)
             VALUES (?1, 'default', ?2, ?3, ?4, ?5, ?6, 1)",
            new_id(IdKind::Ratelimit, ctx.now)?,
            &k.workspace_id,
            ctx.now,
            &k.id,
            limit,
            duration
        )?);
    }
    if !k.roles.is_empty() {
        stmts.push(links::connect(db, Rbac::Role, &k.id, &k.workspace_id, &k.roles, ctx.now)?);
    }
    if !k.permissions.is_empty() {
        stmts.push(links::connect(db, Rbac::Permission, &k.id, &k.workspace_id, &k.permissions, ctx.now)?);
    }
    if let Some((plaintext, master)) = &k.recoverable {
        stmts.push(vault::store(ctx, master, &k.workspace_id, &k.id, plaintext)?);
    }
    Ok(stmts)
}

/// The api a key is created in, with the 404/412 checks of createKey.
async fn keys_api(ctx: &Ctx, root: &RootKey, api_id: &str) -> ApiResult<(ApiRow, String)> {
    let api = find_api(&ctx.db, &root.workspace_id, api_id).await?.ok_or_else(|| api_not_found(api_id))?;
    let key_auth_id = api
        .key_auth_id
        .clone()
        .ok_or_else(|| ApiError::precondition(format!("api {api_id} is not setup to handle keys")))?;
    Ok((api, key_auth_id))
}

/// Recoverable keys need an api that stores encrypted keys, the `encrypt_key` right, and the
/// ENCRYPTION_KEY secret; checked before anything is written.
fn encryption(ctx: &Ctx, root: &RootKey, api: &ApiRow) -> ApiResult<Rc<MasterKey>> {
    if !api.store_encrypted_keys {
        return Err(ApiError::precondition(format!("api {} does not support recoverable keys", api.id)));
    }
    let query = api_permission(&api.id, "encrypt_key");
    if !root.allows(&query) {
        return Err(ApiError::insufficient_permissions(format!(
            "insufficient permissions to encrypt keys: {}",
            query.missing_message(&root.permissions)
        )));
    }
    Ok(Rc::new(vault::master_key(ctx)?))
}

fn check_refill_day(refill: Option<&RefillRequest>) -> ApiResult<()> {
    match refill {
        Some(r) if r.interval == RefillInterval::Daily && r.refill_day.is_some() => {
            Err(ApiError::bad_request("when interval is set to 'daily', 'refillDay' must be null."))
        }
        _ => Ok(()),
    }
}

fn meta_json(meta: Option<&crate::api::common::Meta>) -> ApiResult<Option<String>> {
    Ok(meta.map(serde_json::to_string).transpose()?)
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

pub async fn create_key(ctx: &Ctx, req: CreateKeyRequest) -> ApiResult<CreateKeyResponse> {
    let root = root_key(ctx, Some(&api_permission(&req.api_id, "create_key"))).await?;
    let (api, key_auth_id) = keys_api(ctx, &root, &req.api_id).await?;
    let master = match req.recoverable {
        Some(true) => Some(encryption(ctx, &root, &api)?),
        _ => None,
    };
    if req.remaining.is_some_and(|r| r <= 0) {
        return Err(ApiError::bad_request("remaining must be greater than 0."));
    }
    if req.refill.is_some() && req.remaining.is_none() {
        return Err(ApiError::bad_request("remaining must be set if you are using refill."));
    }
    check_refill_day(req.refill.as_ref())?;
    let ratelimit = match &req.ratelimit {
        None => None,
        Some(r) => {
            let duration = r
                .duration
                .or(r.refill_interval)
                .ok_or_else(|| ApiError::bad_request("ratelimit.duration: Required"))?;
            Some((r.limit, duration))
        }
    };
    let roles = dedup(req.roles.clone().unwrap_or_default());
    let permissions = dedup(req.permissions.clone().unwrap_or_default());
    let db = &ctx.db;
    let missing_permissions = links::missing(db, Rbac::Permission, &root.workspace_id, &permissions).await?;
    let missing_roles = links::missing(db, Rbac::Role, &root.workspace_id, &roles).await?;
    if !missing_permissions.is_empty() {
        root.require(&PermissionQuery::any_of(["*", "rbac.*.create_permission"]))?;
    }
    if !missing_roles.is_empty() {
        root.require(&PermissionQuery::any_of(["*", "rbac.*.create_role"]))?;
    }

    let prefix = req.prefix.clone().or(api.default_prefix.clone());
    let byte_length = req.byte_length.or(api.default_bytes).unwrap_or(16).clamp(16, 255) as usize;
    let key = new_key(prefix.as_deref(), byte_length)?;
    let recoverable = master.map(|m| (key.clone(), m));
    let new = NewKey {
        id: new_id(IdKind::Key, ctx.now)?,
        key_auth_id: key_auth_id.clone(),
        workspace_id: root.workspace_id.clone(),
        hash: hash_key(&key),
        start: key_start(&key, req.prefix.as_deref()),
        name: req.name.clone(),
        owner: req.external_id.clone().or(req.owner_id.clone()),
        meta: meta_json(req.meta.as_ref())?,
        expires: req.expires,
        enabled: req.enabled.unwrap_or(true),
        environment: req.environment.clone(),
        remaining: req.remaining,
        refill: req.refill.clone(),
        ratelimit,
        roles,
        permissions,
        recoverable,
    };
    let mut stmts = links::create(db, Rbac::Permission, &root.workspace_id, &missing_permissions, ctx.now)?;
    stmts.extend(links::create(db, Rbac::Role, &root.workspace_id, &missing_roles, ctx.now)?);
    stmts.extend(insert_statements(ctx, &new)?);
    stmts.push(refresh_keyspace_size(db, &key_auth_id, ctx.now)?);
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "key.create",
        "",
        &[
            Target::named("key", &new.id, new.name.clone()),
            Target::named("api", &api.id, Some(api.name.clone())),
        ],
    )?);
    store::batch(db, stmts).await?;
    Ok(CreateKeyResponse { key_id: new.id, key })
}

/// `migrations.enqueueKeys` needs a queue binding upstream; keygate has no queue (imports go
/// through `migrations.createKeys`, 100 keys per call), so it answers as upstream does without one.
pub async fn enqueue_keys(_ctx: &Ctx, _req: serde_json::Value) -> ApiResult<crate::api::common::Empty> {
    Err(ApiError::precondition("queue migrations are not enabled"))
}

pub async fn migrate_keys(
    ctx: &Ctx,
    req: CreateKeysMigrationRequest,
) -> ApiResult<CreateKeysMigrationResponse> {
    let root = root_key(ctx, None).await?;
    let db = &ctx.db;
    let mut apis: Vec<(ApiRow, String)> = Vec::new();
    let mut new_keys = Vec::with_capacity(req.0.len());
    for k in &req.0 {
        root.require(&api_permission(&k.api_id, "create_key"))
            .map_err(|_| ApiError::insufficient_permissions("unauthorized"))?;
        if !apis.iter().any(|(a, _)| a.id == k.api_id) {
            apis.push(keys_api(ctx, &root, &k.api_id).await?);
        }
        let key_auth_id =
            apis.iter().find(|(a, _)| a.id == k.api_id).map(|(_, ks)| ks.clone()).unwrap_or_default();
        if k.refill.is_some() && k.remaining.is_none() {
            return Err(ApiError::bad_request("remaining must be set if you are using refill."));
        }
        check_refill_day(k.refill.as_ref())?;
        let api = apis.iter().find(|(a, _)| a.id == k.api_id).map(|(a, _)| a);
        // a plaintext imported into an api that stores encrypted keys stays recoverable
        let recoverable = match (&k.plaintext, api) {
            (Some(plain), Some(api)) if api.store_encrypted_keys && k.hash.is_none() => {
                Some((plain.clone(), encryption(ctx, &root, api)?))
            }
            _ => None,
        };
        let (hash, start) = match (&k.hash, &k.plaintext) {
            (Some(h), _) => (h.value.clone(), k.start.clone().unwrap_or_default()),
            (None, Some(plain)) => {
                (hash_key(plain), k.start.clone().unwrap_or_else(|| plain.chars().take(4).collect()))
            }
            (None, None) => return Err(ApiError::bad_request("provide either `hash` or `plaintext`")),
        };
        new_keys.push(NewKey {
            id: new_id(IdKind::Key, ctx.now)?,
            key_auth_id,
            workspace_id: root.workspace_id.clone(),
            hash,
            start,
            name: k.name.clone(),
            owner: k.external_id.clone().or(k.owner_id.clone()),
            meta: meta_json(k.meta.as_ref())?,
            expires: k.expires,
            enabled: k.enabled.unwrap_or(true),
            environment: k.environment.clone(),
            remaining: k.remaining,
            refill: k.refill.clone(),
            ratelimit: None,
            roles: dedup(k.roles.clone().unwrap_or_default()),
            permissions: dedup(k.permissions.clone().unwrap_or_default()),
            recoverable,
        });
    }
    let all_roles = dedup(new_keys.iter().flat_map(|k| k.roles.clone()).collect());
    let missing_roles = links::missing(db, Rbac::Role, &root.workspace_id, &all_roles).await?;
    if !missing_roles.is_empty() {
        return Err(ApiError::precondition(format!(
            "Roles {} are missing, please create them first",
            serde_json::Value::from(missing_roles)
        )));
    }
    let all_permissions = dedup(new_keys.iter().flat_map(|k| k.permissions.clone()).collect());
    let missing_permissions =
        links::missing(db, Rbac::Permission, &root.workspace_id, &all_permissions).await?;
    if !missing_permissions.is_empty() {
        return Err(ApiError::precondition(format!(
            "Permissions {} are missing, please create them first",
            serde_json::Value::from(missing_permissions)
        )));
    }

    let mut stmts = Vec::new();
    let mut targets = Vec::with_capacity(new_keys.len());
    for k in &new_keys {
        stmts.extend(insert_statements(ctx, k)?);
        targets.push(Target::named("key", &k.id, k.name.clone()));
    }
    for (_, key_auth_id) in &apis {
        stmts.push(refresh_keyspace_size(db, key_auth_id, ctx.now)?);
    }
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "key.create",
        "migrated keys",
        &targets,
    )?);
    match store::batch(db, stmts).await {
        Ok(_) => Ok(CreateKeysMigrationResponse { key_ids: new_keys.into_iter().map(|k| k.id).collect() }),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict("a key with this hash already exists")),
        Err(e) => Err(e.into()),
    }
}
