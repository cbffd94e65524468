//! What a key links to by name: its identity (by external id) and its roles and permissions.
//! Names travel as one JSON array argument (`json_each`), so any number fits one statement.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::json_list;
use crate::domain::ids::{new_id, IdKind};
use crate::http::ApiResult;
use crate::stmt;

/// The SQL expression for the id of the live identity `?ws`/`?external` (NULL if none); used
/// inside statements of the same batch that created it with [`ensure_identity`].
pub fn identity_id_sql(ws_param: &str, external_param: &str) -> String {
    format!("(SELECT id FROM identities WHERE workspace_id = {ws_param} AND external_id = {external_param} AND deleted = 0)")
}

/// Creates the identity `external_id` (environment "default", meta {}) unless it exists.
pub fn ensure_identity(
    db: &D1Database,
    workspace_id: &str,
    external_id: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    Ok(stmt!(
        db,
        "INSERT INTO identities (id, external_id, workspace_id, environment, meta, deleted, created_at)
         VALUES (?1, ?2, ?3, 'default', '{}', 0, ?4)
         ON CONFLICT (workspace_id, external_id, deleted) DO NOTHING",
        new_id(IdKind::Identity, now)?,
        external_id,
        workspace_id,
        now
    )?)
}

/// Roles are found by name, permissions by slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rbac {
    Role,
    Permission,
}

impl Rbac {
    fn table(self) -> &'static str {
        match self {
            Rbac::Role => "roles",
            Rbac::Permission => "permissions",
        }
    }
    /// The table linking keys to roles / permissions, and its role / permission column.
    pub fn key_links(self) -> (&'static str, &'static str) {
        match self {
            Rbac::Role => ("keys_roles", "role_id"),
            Rbac::Permission => ("keys_permissions", "permission_id"),
        }
    }

    fn column(self) -> &'static str {
        match self {
            Rbac::Role => "name",
            Rbac::Permission => "slug",
        }
    }
}

/// The names that do not exist yet in the workspace, in request order.
pub async fn missing(
    db: &D1Database,
    kind: Rbac,
    workspace_id: &str,
    names: &[String],
) -> worker::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT value AS name FROM json_each(?2)
         WHERE value NOT IN (SELECT {col} FROM {table} WHERE workspace_id = ?1) ORDER BY key",
        col = kind.column(),
        table = kind.table()
    );
    let rows: Vec<Name> = stmt!(db, &sql, workspace_id, json_list(names))?.all().await?.results()?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Creates each named role / permission (a permission's name is its slug) unless it exists.
pub fn create(
    db: &D1Database,
    kind: Rbac,
    workspace_id: &str,
    names: &[String],
    now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    names
        .iter()
        .map(|name| {
            Ok(match kind {
                Rbac::Role => stmt!(
                    db,
                    "INSERT OR IGNORE INTO roles (id, workspace_id, name, created_at_m) VALUES (?1, ?2, ?3, ?4)",
                    new_id(IdKind::Role, now)?,
                    workspace_id,
                    name,
                    now
                )?,
                Rbac::Permission => stmt!(
                    db,
                    "INSERT OR IGNORE INTO permissions (id, workspace_id, name, slug, created_at_m) VALUES (?1, ?2, ?3, ?3, ?4)",
                    new_id(IdKind::Permission, now)?,
                    workspace_id,
                    name,
                    now
                )?,
            })
        })
        .collect()
}

/// Connects the named roles / permissions of the workspace to a key (existing links are kept).
pub fn connect(
    db: &D1Database,
    kind: Rbac,
    key_id: &str,
    workspace_id: &str,
    names: &[String],
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    let sql = match kind {
        Rbac::Role => {
            "INSERT OR IGNORE INTO keys_roles (role_id, key_id, workspace_id, created_at_m)
             SELECT id, ?1, ?2, ?3 FROM roles WHERE workspace_id = ?2 AND name IN (SELECT value FROM json_each(?4))"
        }
        Rbac::Permission => {
            "INSERT OR IGNORE INTO keys_permissions (key_id, permission_id, workspace_id, created_at_m)
             SELECT ?1, id, ?2, ?3 FROM permissions WHERE workspace_id = ?2 AND slug IN (SELECT value FROM json_each(?4))"
        }
    };
    stmt!(db, sql, key_id, workspace_id, now, json_list(names))
}
