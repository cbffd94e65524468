//! A key's roles and permissions: `keys.addPermissions`, `removePermissions`, `setPermissions`,
//! `addRoles`, `removeRoles`, `setRoles`, and the `roles`/`permissions` fields of updateKey.
//! Links are read at every verification, so a change takes effect on the next one.
//!
//! Upstream quirks keygate fixes (wire shapes kept):
//! - remove* used only the first element of the request to filter: every element is removed.
//! - roles created by addRoles got `perm_` ids: they get `role_` ids.
//! - addRoles/setRoles creation checked `rbac.*.create_permission`: `rbac.*.create_role` works
//!   too (the old permission is still accepted so existing root keys keep working).

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::key_not_found;
use crate::api::common::Empty;
use crate::api::keys::*;
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::{root_key, RootKey};
use crate::http::{ApiError, ApiResult, Ctx};
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::links::{self, Rbac};
use crate::store::{self, json_list, Arg};

/// A role or permission as a request names it: by id, or by name (a permission's slug).
#[derive(Debug, Clone)]
pub struct Wanted {
    id: Option<String>,
    name: Option<String>,
    create: bool,
}

impl From<&PermissionRef> for Wanted {
    fn from(p: &PermissionRef) -> Self {
        Wanted { id: p.id.clone(), name: p.slug.clone().or(p.name.clone()), create: p.create == Some(true) }
    }
}

impl From<&RoleRef> for Wanted {
    fn from(r: &RoleRef) -> Self {
        Wanted { id: r.id.clone(), name: r.name.clone(), create: r.create == Some(true) }
    }
}

/// An existing role or permission (`key` is a permission's slug or a role's name).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct Known {
    id: String,
    name: String,
    key: String,
}

fn noun(kind: Rbac) -> &'static str {
    match kind {
        Rbac::Permission => "permission",
        Rbac::Role => "role",
    }
}

fn rights(kind: Rbac, action: &str) -> PermissionQuery {
    match (kind, action) {
        (Rbac::Permission, "create") => PermissionQuery::any_of(["*", "rbac.*.create_permission"]),
        (Rbac::Role, "create") => {
            PermissionQuery::any_of(["*", "rbac.*.create_role", "rbac.*.create_permission"])
        }
        (Rbac::Permission, a) => {
            PermissionQuery::any_of(["*".to_string(), format!("rbac.*.{a}_permission_{}", to_from(a))])
        }
        (Rbac::Role, a) => {
            PermissionQuery::any_of(["*".to_string(), format!("rbac.*.{a}_role_{}", to_from(a))])
        }
    }
}

fn to_from(action: &str) -> &'static str {
    if action == "add" {
        "to_key"
    } else {
        "from_key"
    }
}

/// The existing roles/permissions of the workspace that `wanted` names.
async fn lookup(ctx: &Ctx, kind: Rbac, ws: &str, wanted: &[Wanted]) -> ApiResult<Vec<Known>> {
    let ids = json_list(wanted.iter().filter_map(|w| w.id.as_ref()));
    let names = json_list(wanted.iter().filter_map(|w| w.name.as_ref()));
    let sql = match kind {
        Rbac::Permission => {
            "SELECT id, name, slug AS key FROM permissions WHERE workspace_id = ?1
               AND (id IN (SELECT value FROM json_each(?2)) OR slug IN (SELECT value FROM json_each(?3)))"
        }
        Rbac::Role => {
            "SELECT id, name, name AS key FROM roles WHERE workspace_id = ?1
               AND (id IN (SELECT value FROM json_each(?2)) OR name IN (SELECT value FROM json_each(?3)))"
        }
    };
    Ok(stmt!(&ctx.db, sql, ws, ids, names)?.all().await?.results()?)
}

/// The roles/permissions connected to the key directly.
async fn connected(ctx: &Ctx, kind: Rbac, key_id: &str) -> ApiResult<Vec<Known>> {
    let sql = match kind {
        Rbac::Permission => {
            "SELECT p.id, p.name, p.slug AS key FROM keys_permissions kp JOIN permissions p ON p.id = kp.permission_id
             WHERE kp.key_id = ?1"
        }
        Rbac::Role => {
            "SELECT r.id, r.name, r.name AS key FROM keys_roles kr JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = ?1"
        }
    };
    Ok(stmt!(&ctx.db, sql, key_id)?.all().await?.results()?)
}

/// The live key `key_id` of the root key's workspace.
async fn key_of(ctx: &Ctx, root: &RootKey, key_id: &str) -> ApiResult<(String, Option<String>)> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        name: Option<String>,
    }
    let row: Row = store::first(stmt!(
        &ctx.db,
        "SELECT id, name FROM keys WHERE id = ?1 AND workspace_id = ?2 AND deleted_at_m IS NULL",
        key_id,
        &root.workspace_id
    )?)
    .await?
    .ok_or_else(|| key_not_found(key_id))?;
    Ok((row.id, row.name))
}

/// How a set* route reports a name that does not exist and may not be created.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Set,
}

/// What the request names, resolved: the existing ones and the names to create.
struct Resolved {
    /// The slugs (permissions) / names (roles) of everything requested, in request order.
    keys: Vec<String>,
    existing: Vec<Known>,
    create: Vec<String>,
}

/// 400 for the `i`th element naming nothing.
fn unnamed(kind: Rbac, i: usize) -> ApiError {
    let field = match kind {
        Rbac::Permission => "permissions",
        Rbac::Role => "roles",
    };
    ApiError::bad_request(format!("{field}.{i}: provide either an id or a name"))
}

fn resolve(kind: Rbac, wanted: &[Wanted], known: &[Known], mode: Mode) -> ApiResult<Resolved> {
    let mut out = Resolved { keys: Vec::new(), existing: Vec::new(), create: Vec::new() };
    for (i, w) in wanted.iter().enumerate() {
        let found = match (&w.id, &w.name) {
            (Some(id), _) => Some(
                known
                    .iter()
                    .find(|k| &k.id == id)
                    .ok_or_else(|| ApiError::not_found(format!("{} {id} not found", noun(kind))))?,
            ),
            (None, Some(name)) => known.iter().find(|k| &k.key == name),
            (None, None) => return Err(unnamed(kind, i)),
        };
        let key = match (found, &w.name) {
            (Some(k), _) => {
                if !out.existing.contains(k) {
                    out.existing.push(k.clone());
                }
                k.key.clone()
            }
            (None, Some(name)) if w.create => {
                if !out.create.contains(name) {
                    out.create.push(name.clone());
                }
                name.clone()
            }
            (None, Some(name)) => {
                let suffix = if mode == Mode::Set { " and not allowed to create" } else { "" };
                return Err(ApiError::not_found(format!("{} {name} not found{suffix}", noun(kind))));
            }
            (None, None) => continue,
        };
        if !out.keys.contains(&key) {
            out.keys.push(key);
        }
    }
    Ok(out)
}

/// The rows `keys` name after the batch, in that order, as `[{id, name}]`.
async fn answer(ctx: &Ctx, kind: Rbac, ws: &str, keys: &[String]) -> ApiResult<Vec<Connected>> {
    let wanted: Vec<Wanted> =
        keys.iter().map(|k| Wanted { id: None, name: Some(k.clone()), create: false }).collect();
    let known = lookup(ctx, kind, ws, &wanted).await?;
    Ok(keys
        .iter()
        .filter_map(|k| known.iter().find(|x| &x.key == k))
        .map(|k| Connected { id: k.id.clone(), name: k.name.clone() })
        .collect())
}

fn audit_targets(kind: Rbac, key_id: &str, key_name: Option<String>, items: &[String]) -> Vec<Target> {
    let mut targets = vec![Target::named("key", key_id, key_name)];
    targets.extend(items.iter().map(|k| Target::named(noun(kind), k, Some(k.clone()))));
    targets
}

async fn add(ctx: &Ctx, kind: Rbac, key_id: &str, wanted: Vec<Wanted>) -> ApiResult<Vec<Connected>> {
    let root = root_key(ctx, Some(&rights(kind, "add"))).await?;
    let (key_id, key_name) = key_of(ctx, &root, key_id).await?;
    let ws = &root.workspace_id;
    let resolved = resolve(kind, &wanted, &lookup(ctx, kind, ws, &wanted).await?, Mode::Add)?;
    if !resolved.create.is_empty() && !root.allows(&rights(kind, "create")) {
        return Err(ApiError::unauthorized(format!("you are not allowed to create {}s", noun(kind))));
    }
    let db = &ctx.db;
    let mut stmts = links::create(db, kind, ws, &resolved.create, ctx.now)?;
    stmts.push(links::connect(db, kind, &key_id, ws, &resolved.keys, ctx.now)?);
    let event = format!("authorization.connect_{}_and_key", noun(kind));
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        &event,
        "",
        &audit_targets(kind, &key_id, key_name, &resolved.keys),
    )?);
    store::batch(db, stmts).await?;
    answer(ctx, kind, ws, &resolved.keys).await
}

async fn remove(ctx: &Ctx, kind: Rbac, key_id: &str, wanted: Vec<Wanted>) -> ApiResult<Empty> {
    let root = root_key(ctx, Some(&rights(kind, "remove"))).await?;
    let (key_id, key_name) = key_of(ctx, &root, key_id).await?;
    let ws = &root.workspace_id;
    if let Some(i) = wanted.iter().position(|w| w.id.is_none() && w.name.is_none()) {
        return Err(unnamed(kind, i));
    }
    // every element counts (upstream used only the first)
    let known = lookup(ctx, kind, ws, &wanted).await?;
    let ids: Vec<String> = known.iter().map(|k| k.id.clone()).collect();
    if ids.is_empty() {
        return Ok(Empty {});
    }
    let db = &ctx.db;
    let (table, column) = kind.key_links();
    let mut stmts = vec![stmt!(
        db,
        &format!("DELETE FROM {table} WHERE key_id = ?1 AND {column} IN (SELECT value FROM json_each(?2))"),
        &key_id,
        json_list(ids.iter())
    )?];
    let event = format!("authorization.disconnect_{}_and_key", noun(kind));
    let names: Vec<String> = known.iter().map(|k| k.key.clone()).collect();
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        &event,
        "",
        &audit_targets(kind, &key_id, key_name, &names),
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}

/// The statements that make the key's roles/permissions exactly `wanted`, after the checks of
/// setRoles/setPermissions (also used by updateKey).
pub async fn set_statements(
    ctx: &Ctx,
    root: &RootKey,
    kind: Rbac,
    key_id: &str,
    wanted: &[Wanted],
) -> ApiResult<(Vec<D1PreparedStatement>, Vec<String>)> {
    let ws = &root.workspace_id;
    let resolved = resolve(kind, wanted, &lookup(ctx, kind, ws, wanted).await?, Mode::Set)?;
    if !resolved.create.is_empty() {
        root.require(&rights(kind, "create"))?;
    }
    let current = connected(ctx, kind, key_id).await?;
    let removed: Vec<String> =
        current.iter().filter(|c| !resolved.keys.contains(&c.key)).map(|c| c.id.clone()).collect();
    if !removed.is_empty() && !root.allows(&rights(kind, "remove")) {
        return Err(ApiError::unauthorized(format!(
            "you are not allowed to remove {}s from keys",
            noun(kind)
        )));
    }
    if resolved.keys.iter().any(|k| !current.iter().any(|c| &c.key == k)) {
        root.require(&rights(kind, "add"))?;
    }
    let db = &ctx.db;
    let (table, column) = kind.key_links();
    let mut stmts = Vec::new();
    if !removed.is_empty() {
        stmts.push(store::prepare(
            db,
            &format!(
                "DELETE FROM {table} WHERE key_id = ?1 AND {column} IN (SELECT value FROM json_each(?2))"
            ),
            vec![Arg::from(key_id), Arg::from(json_list(removed.iter()))],
        )?);
    }
    stmts.extend(links::create(db, kind, ws, &resolved.create, ctx.now)?);
    if !resolved.keys.is_empty() {
        stmts.push(links::connect(db, kind, key_id, ws, &resolved.keys, ctx.now)?);
    }
    Ok((stmts, resolved.keys))
}

async fn set(ctx: &Ctx, kind: Rbac, key_id: &str, wanted: Vec<Wanted>) -> ApiResult<Vec<Connected>> {
    let root = root_key(ctx, None).await?;
    let (key_id, key_name) = key_of(ctx, &root, key_id).await?;
    let (mut stmts, keys) = set_statements(ctx, &root, kind, &key_id, &wanted).await?;
    let ws = &root.workspace_id;
    let event = format!("authorization.connect_{}_and_key", noun(kind));
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        &event,
        "set",
        &audit_targets(kind, &key_id, key_name, &keys),
    )?);
    store::batch(&ctx.db, stmts).await?;
    answer(ctx, kind, ws, &keys).await
}

pub async fn add_permissions(ctx: &Ctx, req: KeyPermissionsRequest) -> ApiResult<Vec<Connected>> {
    add(ctx, Rbac::Permission, &req.key_id, req.permissions.iter().map(Wanted::from).collect()).await
}

pub async fn remove_permissions(ctx: &Ctx, req: KeyPermissionsRequest) -> ApiResult<Empty> {
    remove(ctx, Rbac::Permission, &req.key_id, req.permissions.iter().map(Wanted::from).collect()).await
}

pub async fn set_permissions(ctx: &Ctx, req: KeyPermissionsRequest) -> ApiResult<Vec<Connected>> {
    set(ctx, Rbac::Permission, &req.key_id, req.permissions.iter().map(Wanted::from).collect()).await
}

pub async fn add_roles(ctx: &Ctx, req: KeyRolesRequest) -> ApiResult<Vec<Connected>> {
    add(ctx, Rbac::Role, &req.key_id, req.roles.iter().map(Wanted::from).collect()).await
}

pub async fn remove_roles(ctx: &Ctx, req: KeyRolesRequest) -> ApiResult<Empty> {
    remove(ctx, Rbac::Role, &req.key_id, req.roles.iter().map(Wanted::from).collect()).await
}

pub async fn set_roles(ctx: &Ctx, req: KeyRolesRequest) -> ApiResult<Vec<Connected>> {
    set(ctx, Rbac::Role, &req.key_id, req.roles.iter().map(Wanted::from).collect()).await
}
