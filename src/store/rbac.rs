//! Roles and permissions of a workspace (`permissions`, `roles`, `roles_permissions`) and their
//! links to keys (`keys_permissions`, `keys_roles`). Names travel as one JSON array argument
//! (`json_each`), so any number fits one statement.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::{json_list, results, Arg, Batch, Stmt, Store, StoreResult};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::rbac::{Known, LinkKind, Wanted};
use crate::domain::validate::MAX_SAFE_INTEGER;
use crate::stmt;

fn table(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Role => "roles",
        LinkKind::Permission => "permissions",
    }
}

/// The column a role (name) or permission (slug) is named by.
fn name_column(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Role => "name",
        LinkKind::Permission => "slug",
    }
}

/// The table linking keys to roles / permissions, and its role / permission column.
fn key_links(kind: LinkKind) -> (&'static str, &'static str) {
    match kind {
        LinkKind::Role => ("keys_roles", "role_id"),
        LinkKind::Permission => ("keys_permissions", "permission_id"),
    }
}

#[derive(Deserialize)]
struct KnownRow {
    id: String,
    name: String,
    key: String,
}

fn known(rows: Vec<KnownRow>) -> Vec<Known> {
    rows.into_iter().map(|r| Known { id: r.id, name: r.name, key: r.key }).collect()
}

/// The names that do not exist yet in the workspace, in request order.
pub async fn missing(
    store: &Store,
    kind: LinkKind,
    workspace_id: &str,
    names: &[String],
) -> StoreResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT value AS name FROM json_each(?2)
         WHERE value NOT IN (SELECT {col} FROM {table} WHERE workspace_id = ?1)",
        col = name_column(kind),
        table = table(kind)
    );
    let rows: Vec<Name> = store.all(stmt!(sql, workspace_id, json_list(names))).await?;
    // in request order, each once
    let mut found: HashSet<String> = rows.into_iter().map(|r| r.name).collect();
    Ok(names.iter().filter(|n| found.remove(n.as_str())).cloned().collect())
}

/// Creates each named role / permission (a permission's name is its slug) unless it exists.
pub fn create_named(
    batch: &mut Batch,
    kind: LinkKind,
    workspace_id: &str,
    names: &[String],
    now: i64,
) -> StoreResult<()> {
    for name in names {
        batch.push(match kind {
            LinkKind::Role => stmt!(
                "INSERT INTO roles (id, workspace_id, name, created_at_m) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                new_id(IdKind::Role, now)?,
                workspace_id,
                name,
                now
            ),
            LinkKind::Permission => stmt!(
                "INSERT INTO permissions (id, workspace_id, name, slug, created_at_m) VALUES (?1, ?2, ?3, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                new_id(IdKind::Permission, now)?,
                workspace_id,
                name,
                now
            ),
        });
    }
    Ok(())
}

/// Connects the named roles / permissions of the workspace to a key (existing links are kept).
pub fn connect(kind: LinkKind, key_id: &str, workspace_id: &str, names: &[String], now: i64) -> Stmt {
    let sql = match kind {
        LinkKind::Role => {
            "INSERT INTO keys_roles (role_id, key_id, workspace_id, created_at_m)
             SELECT id, ?1, ?2, ?3 FROM roles WHERE workspace_id = ?2 AND name IN (SELECT value FROM json_each(?4))
             ON CONFLICT DO NOTHING"
        }
        LinkKind::Permission => {
            "INSERT INTO keys_permissions (key_id, permission_id, workspace_id, created_at_m)
             SELECT ?1, id, ?2, ?3 FROM permissions WHERE workspace_id = ?2 AND slug IN (SELECT value FROM json_each(?4))
             ON CONFLICT DO NOTHING"
        }
    };
    stmt!(sql, key_id, workspace_id, now, json_list(names))
}

/// Removes the links of a key to the roles / permissions with these ids.
pub fn disconnect(kind: LinkKind, key_id: &str, ids: &[String]) -> Stmt {
    let (table, column) = key_links(kind);
    stmt!(
        format!("DELETE FROM {table} WHERE key_id = ?1 AND {column} IN (SELECT value FROM json_each(?2))"),
        key_id,
        json_list(ids)
    )
}

/// The existing roles/permissions of the workspace that `wanted` names (by id or name).
pub async fn lookup(
    store: &Store,
    kind: LinkKind,
    workspace_id: &str,
    wanted: &[Wanted],
) -> StoreResult<Vec<Known>> {
    let ids = json_list(wanted.iter().filter_map(|w| w.id.as_ref()));
    let names = json_list(wanted.iter().filter_map(|w| w.name.as_ref()));
    let sql = match kind {
        LinkKind::Permission => {
            "SELECT id, name, slug AS key FROM permissions WHERE workspace_id = ?1
               AND (id IN (SELECT value FROM json_each(?2)) OR slug IN (SELECT value FROM json_each(?3)))"
        }
        LinkKind::Role => {
            "SELECT id, name, name AS key FROM roles WHERE workspace_id = ?1
               AND (id IN (SELECT value FROM json_each(?2)) OR name IN (SELECT value FROM json_each(?3)))"
        }
    };
    Ok(known(store.all(stmt!(sql, workspace_id, ids, names)).await?))
}

/// The roles/permissions connected to the key directly.
pub async fn connected(store: &Store, kind: LinkKind, key_id: &str) -> StoreResult<Vec<Known>> {
    let sql = match kind {
        LinkKind::Permission => {
            "SELECT p.id, p.name, p.slug AS key FROM keys_permissions kp JOIN permissions p ON p.id = kp.permission_id
             WHERE kp.key_id = ?1"
        }
        LinkKind::Role => {
            "SELECT r.id, r.name, r.name AS key FROM keys_roles kr JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = ?1"
        }
    };
    Ok(known(store.all(stmt!(sql, key_id)).await?))
}

// ---- permissions

#[derive(Debug, Clone, Deserialize)]
pub struct PermissionRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
}

/// The permission with this id (or, `by_slug`, this slug).
pub async fn find_permission(
    store: &Store,
    workspace_id: &str,
    id: &str,
    by_slug: bool,
) -> StoreResult<Option<PermissionRow>> {
    store
        .first(stmt!(
            "SELECT id, name, slug, description FROM permissions
             WHERE workspace_id = ?2 AND (id = ?1 OR (?3 <> 0 AND slug = ?1)) ORDER BY id = ?1 DESC LIMIT 1",
            id,
            workspace_id,
            by_slug
        ))
        .await
}

/// Which rows of a catalog list to read: ids (or all), a case-insensitive search over the text
/// columns, an inclusive cursor, and a limit (`None`: all).
#[derive(Debug, Clone, Copy, Default)]
pub struct Listing<'a> {
    pub ids: Option<&'a [String]>,
    pub search: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<i64>,
}

impl Listing<'_> {
    /// `?2` ids (JSON or NULL), `?3` search, `?4` cursor, `?5` limit after `?1` the workspace
    /// (no limit: 2^53 − 1, as Postgres has no `LIMIT -1`).
    fn args(&self, workspace_id: &str) -> Vec<Arg> {
        vec![
            Arg::from(workspace_id),
            Arg::from(self.ids.map(json_list)),
            Arg::from(self.search.filter(|s| !s.is_empty())),
            Arg::from(self.cursor.filter(|c| !c.is_empty())),
            Arg::from(self.limit.unwrap_or(MAX_SAFE_INTEGER)),
        ]
    }
}

/// The ids a listing selects from `table`, whose searchable text is `text`.
fn listing_ids(table: &str, text: &str) -> String {
    format!(
        "SELECT id FROM {table} WHERE workspace_id = ?1
           AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))
           AND (?3 IS NULL OR instr(lower({text}), lower(?3)) > 0)
           AND (?4 IS NULL OR id >= ?4)
         ORDER BY id LIMIT ?5"
    )
}

/// Permissions of the workspace in id order.
pub async fn permissions(
    store: &Store,
    workspace_id: &str,
    l: &Listing<'_>,
) -> StoreResult<Vec<PermissionRow>> {
    let ids =
        listing_ids("permissions", "id || ' ' || name || ' ' || slug || ' ' || COALESCE(description, '')");
    store
        .all(Stmt::new(
            format!("SELECT id, name, slug, description FROM permissions WHERE id IN ({ids}) ORDER BY id"),
            l.args(workspace_id),
        ))
        .await
}

pub fn insert_permission(
    id: &str,
    workspace_id: &str,
    name: &str,
    slug: &str,
    description: Option<&str>,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO permissions (id, workspace_id, name, slug, description, created_at_m)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        id,
        workspace_id,
        name,
        slug,
        description,
        now
    )
}

/// Deletes a permission and every link to it.
pub fn delete_permission(batch: &mut Batch, workspace_id: &str, id: &str) {
    batch.push(stmt!(
        "DELETE FROM keys_permissions WHERE permission_id = ?1 AND workspace_id = ?2",
        id,
        workspace_id
    ));
    batch.push(stmt!(
        "DELETE FROM roles_permissions WHERE permission_id = ?1 AND workspace_id = ?2",
        id,
        workspace_id
    ));
    batch.push(stmt!("DELETE FROM permissions WHERE id = ?1 AND workspace_id = ?2", id, workspace_id));
}

/// The permissions whose slug or name is one of `names`: `(id, name, slug)`.
pub async fn permissions_named(
    store: &Store,
    workspace_id: &str,
    names: &[String],
) -> StoreResult<Vec<(String, String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        name: String,
        slug: String,
    }
    let rows: Vec<Row> = store
        .all(stmt!(
            "SELECT id, name, slug FROM permissions
             WHERE workspace_id = ?1
               AND (slug IN (SELECT value FROM json_each(?2)) OR name IN (SELECT value FROM json_each(?2)))",
            workspace_id,
            json_list(names)
        ))
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p.name, p.slug)).collect())
}

// ---- roles

#[derive(Debug, Clone, Deserialize)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// A role with its permissions.
#[derive(Debug, Clone)]
pub struct RoleWithPermissions {
    pub role: RoleRow,
    /// `(id, name, slug)`, ordered by id.
    pub permissions: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct RolePermissionRow {
    role_id: String,
    id: String,
    name: String,
    slug: String,
}

fn assemble(roles: Vec<RoleRow>, links: Vec<RolePermissionRow>) -> Vec<RoleWithPermissions> {
    let mut by_role: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
    for l in links {
        by_role.entry(l.role_id).or_default().push((l.id, l.name, l.slug));
    }
    roles
        .into_iter()
        .map(|role| RoleWithPermissions { permissions: by_role.remove(&role.id).unwrap_or_default(), role })
        .collect()
}

/// The role with this id (or, `by_name`, this name).
pub async fn find_role(
    store: &Store,
    workspace_id: &str,
    id: &str,
    by_name: bool,
) -> StoreResult<Option<RoleRow>> {
    store
        .first(stmt!(
            "SELECT id, name, description FROM roles
             WHERE workspace_id = ?2 AND (id = ?1 OR (?3 <> 0 AND name = ?1)) ORDER BY id = ?1 DESC LIMIT 1",
            id,
            workspace_id,
            by_name
        ))
        .await
}

/// Roles of the workspace in id order, with their permissions.
pub async fn roles(
    store: &Store,
    workspace_id: &str,
    l: &Listing<'_>,
) -> StoreResult<Vec<RoleWithPermissions>> {
    let ids = listing_ids("roles", "id || ' ' || name || ' ' || COALESCE(description, '')");
    let [roles, links] = results(
        store
            .batch(vec![
                Stmt::new(
                    format!("SELECT id, name, description FROM roles WHERE id IN ({ids}) ORDER BY id"),
                    l.args(workspace_id),
                ),
                Stmt::new(
                    format!(
                        "SELECT rp.role_id, p.id, p.name, p.slug FROM roles_permissions rp
                         JOIN permissions p ON p.id = rp.permission_id AND p.workspace_id = rp.workspace_id
                         WHERE rp.workspace_id = ?1 AND rp.role_id IN ({ids}) ORDER BY p.id"
                    ),
                    l.args(workspace_id),
                ),
            ])
            .await?,
    )?;
    Ok(assemble(roles.parse()?, links.parse()?))
}

pub fn insert_role(id: &str, workspace_id: &str, name: &str, description: Option<&str>, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO roles (id, workspace_id, name, description, created_at_m) VALUES (?1, ?2, ?3, ?4, ?5)",
        id,
        workspace_id,
        name,
        description,
        now
    )
}

/// Links a role to permissions (by id; one deleted meanwhile is not linked).
pub fn link_role_permissions(role_id: &str, workspace_id: &str, permission_ids: &[String], now: i64) -> Stmt {
    stmt!(
        "INSERT INTO roles_permissions (role_id, permission_id, workspace_id, created_at_m)
         SELECT ?1, p.id, ?2, ?3 FROM permissions p
         WHERE p.workspace_id = ?2 AND p.id IN (SELECT value FROM json_each(?4))
         ON CONFLICT DO NOTHING",
        role_id,
        workspace_id,
        now,
        json_list(permission_ids)
    )
}

/// Makes a role's permissions exactly the ones with these slugs (which exist or are created
/// earlier in the same batch).
pub fn set_role_permissions(
    batch: &mut Batch,
    role_id: &str,
    workspace_id: &str,
    slugs: &[String],
    now: i64,
) {
    let slugs = json_list(slugs);
    batch.push(stmt!(
        "DELETE FROM roles_permissions WHERE role_id = ?1 AND workspace_id = ?2
           AND permission_id NOT IN (SELECT id FROM permissions WHERE workspace_id = ?2
                                     AND slug IN (SELECT value FROM json_each(?3)))",
        role_id,
        workspace_id,
        slugs.clone()
    ));
    batch.push(stmt!(
        "INSERT INTO roles_permissions (role_id, permission_id, workspace_id, created_at_m)
         SELECT ?1, id, ?2, ?4 FROM permissions WHERE workspace_id = ?2 AND slug IN (SELECT value FROM json_each(?3))
         ON CONFLICT DO NOTHING",
        role_id,
        workspace_id,
        slugs,
        now
    ));
}

/// Deletes a role and every link to it.
pub fn delete_role(batch: &mut Batch, workspace_id: &str, id: &str) {
    batch.push(stmt!("DELETE FROM keys_roles WHERE role_id = ?1 AND workspace_id = ?2", id, workspace_id));
    batch.push(stmt!(
        "DELETE FROM roles_permissions WHERE role_id = ?1 AND workspace_id = ?2",
        id,
        workspace_id
    ));
    batch.push(stmt!("DELETE FROM roles WHERE id = ?1 AND workspace_id = ?2", id, workspace_id));
}
