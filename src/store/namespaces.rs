//! Rate-limit namespaces and their overrides (`ratelimit_namespaces`, `ratelimit_overrides`).

use serde::Deserialize;

use super::{opt_int_bool, results, Count, Stmt, Store, StoreResult};
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct Namespace {
    pub id: String,
    pub name: String,
}

pub async fn by_name(store: &Store, workspace_id: &str, name: &str) -> StoreResult<Option<Namespace>> {
    store
        .first(stmt!(
            "SELECT id, name FROM ratelimit_namespaces WHERE workspace_id = ?1 AND name = ?2 AND deleted_at_m IS NULL",
            workspace_id,
            name
        ))
        .await
}

pub async fn by_id(store: &Store, workspace_id: &str, id: &str) -> StoreResult<Option<Namespace>> {
    store
        .first(stmt!(
            "SELECT id, name FROM ratelimit_namespaces WHERE workspace_id = ?1 AND id = ?2 AND deleted_at_m IS NULL",
            workspace_id,
            id
        ))
        .await
}

/// A namespace named by its id or its name, deleted or not.
#[derive(Debug, Clone, Deserialize)]
pub struct NamespaceState {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "super::int_bool")]
    pub deleted: bool,
}

/// The namespace whose id (preferred) or name is `id_or_name`, deleted or not.
pub async fn by_id_or_name(
    store: &Store,
    workspace_id: &str,
    id_or_name: &str,
) -> StoreResult<Option<NamespaceState>> {
    store
        .first(stmt!(
            "SELECT id, name, deleted_at_m IS NOT NULL AS deleted FROM ratelimit_namespaces
             WHERE workspace_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
            workspace_id,
            id_or_name
        ))
        .await
}

pub fn insert(id: &str, workspace_id: &str, name: &str, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO ratelimit_namespaces (id, workspace_id, name, created_at_m) VALUES (?1, ?2, ?3, ?4)",
        id,
        workspace_id,
        name,
        now
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct OverrideRow {
    pub id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    #[serde(default, deserialize_with = "opt_int_bool")]
    pub r#async: Option<bool>,
}

const OVERRIDE_COLUMNS: &str = "id, identifier, \"limit\", duration, async";

/// The live override of exactly this identifier.
pub async fn live_override(
    store: &Store,
    namespace_id: &str,
    identifier: &str,
) -> StoreResult<Option<OverrideRow>> {
    store
        .first(stmt!(
            format!(
                "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
                 WHERE namespace_id = ?1 AND identifier = ?2 AND deleted_at_m IS NULL"
            ),
            namespace_id,
            identifier
        ))
        .await
}

/// The exact override and every wildcard rule of a namespace, in creation order.
pub async fn candidates(
    store: &Store,
    workspace_id: &str,
    namespace_id: &str,
    identifier: &str,
) -> StoreResult<Vec<OverrideRow>> {
    store
        .all(stmt!(
            format!(
                "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
                 WHERE namespace_id = ?1 AND workspace_id = ?2 AND deleted_at_m IS NULL
                   AND (identifier = ?3 OR instr(identifier, '*') > 0)
                 ORDER BY created_at_m, id"
            ),
            namespace_id,
            workspace_id,
            identifier
        ))
        .await
}

/// The id of the override of this identifier, deleted or not.
pub async fn override_id(store: &Store, namespace_id: &str, identifier: &str) -> StoreResult<Option<String>> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let row: Option<Id> = store
        .first(stmt!(
            "SELECT id FROM ratelimit_overrides WHERE namespace_id = ?1 AND identifier = ?2",
            namespace_id,
            identifier
        ))
        .await?;
    Ok(row.map(|r| r.id))
}

/// An override's settings.
pub struct OverrideSettings<'a> {
    pub identifier: &'a str,
    pub limit: i64,
    pub duration: i64,
    pub is_async: bool,
}

/// Updates an override (reviving a deleted one).
pub fn update_override(id: &str, s: &OverrideSettings<'_>, now: i64) -> Stmt {
    stmt!(
        "UPDATE ratelimit_overrides
         SET \"limit\" = ?2, duration = ?3, async = ?4, updated_at_m = ?5, deleted_at_m = NULL
         WHERE id = ?1",
        id,
        s.limit,
        s.duration,
        s.is_async,
        now
    )
}

pub fn insert_override(
    id: &str,
    workspace_id: &str,
    namespace_id: &str,
    s: &OverrideSettings<'_>,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO ratelimit_overrides
           (id, workspace_id, namespace_id, identifier, \"limit\", duration, async, created_at_m)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        id,
        workspace_id,
        namespace_id,
        s.identifier,
        s.limit,
        s.duration,
        s.is_async,
        now
    )
}

pub fn delete_override(id: &str, now: i64) -> Stmt {
    stmt!(
        "UPDATE ratelimit_overrides SET deleted_at_m = ?2, updated_at_m = ?2 WHERE id = ?1 AND deleted_at_m IS NULL",
        id,
        now
    )
}

/// A page of live overrides after `cursor` (or from it, `inclusive`) in id order, and their
/// total.
pub async fn page(
    store: &Store,
    namespace_id: &str,
    cursor: Option<&str>,
    inclusive: bool,
    limit: i64,
) -> StoreResult<(Vec<OverrideRow>, i64)> {
    let [page, total] = results(
        store
            .batch(vec![
                stmt!(
                    format!(
                        "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
                         WHERE namespace_id = ?1 AND deleted_at_m IS NULL
                           AND (?2 IS NULL OR id > ?2 OR (?4 <> 0 AND id = ?2))
                         ORDER BY id LIMIT ?3"
                    ),
                    namespace_id,
                    cursor,
                    limit,
                    inclusive
                ),
                stmt!(
                    "SELECT COUNT(*) AS n FROM ratelimit_overrides WHERE namespace_id = ?1 AND deleted_at_m IS NULL",
                    namespace_id
                ),
            ])
            .await?,
    )?;
    Ok((page.parse()?, total.first::<Count>()?.map(|t| t.n).unwrap_or(0)))
}
