//! `identities` rows.

use serde::Deserialize;

use super::ratelimits::IdentityLimitRow;
use super::{results, Arg, Count, Stmt, Store, StoreResult};
use crate::domain::patch::Patch;
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct IdentityRow {
    pub id: String,
    pub external_id: String,
    /// Stored JSON text.
    pub meta: Option<String>,
}

/// How an identity is addressed: by id, by external id within an environment, or (v2) by a
/// string that is either (an id match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRef<'a> {
    Id(&'a str),
    External { external_id: &'a str, environment: &'a str },
    IdOrExternal(&'a str),
}

impl IdentityRef<'_> {
    /// What the request named.
    pub fn shown(&self) -> &str {
        match self {
            IdentityRef::Id(id) | IdentityRef::IdOrExternal(id) => id,
            IdentityRef::External { external_id, .. } => external_id,
        }
    }
}

/// The live identity of `workspace_id` that `by` names.
pub async fn find(
    store: &Store,
    workspace_id: &str,
    by: IdentityRef<'_>,
) -> StoreResult<Option<IdentityRow>> {
    let stmt = match by {
        IdentityRef::Id(id) => stmt!(
            "SELECT id, external_id, meta FROM identities WHERE workspace_id = ?1 AND id = ?2 AND deleted = 0",
            workspace_id,
            id
        ),
        IdentityRef::External { external_id, environment } => stmt!(
            "SELECT id, external_id, meta FROM identities
             WHERE workspace_id = ?1 AND external_id = ?2 AND environment = ?3 AND deleted = 0",
            workspace_id,
            external_id,
            environment
        ),
        IdentityRef::IdOrExternal(either) => stmt!(
            "SELECT id, external_id, meta FROM identities
             WHERE workspace_id = ?1 AND (id = ?2 OR external_id = ?2) AND deleted = 0
             ORDER BY id = ?2 DESC LIMIT 1",
            workspace_id,
            either
        ),
    };
    store.first(stmt).await
}

/// The id of the live identity with this external id (any environment).
pub async fn id_of_external(
    store: &Store,
    workspace_id: &str,
    external_id: &str,
) -> StoreResult<Option<String>> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let found: Option<Id> = store
        .first(stmt!(
            "SELECT id FROM identities WHERE workspace_id = ?1 AND external_id = ?2 AND deleted = 0",
            workspace_id,
            external_id
        ))
        .await?;
    Ok(found.map(|i| i.id))
}

pub fn insert(
    id: &str,
    external_id: &str,
    workspace_id: &str,
    environment: &str,
    meta: Option<&str>,
    now: i64,
) -> Stmt {
    stmt!(
        "INSERT INTO identities (id, external_id, workspace_id, environment, meta, deleted, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
        id,
        external_id,
        workspace_id,
        environment,
        meta,
        now
    )
}

/// Touches the identity, replacing its meta unless absent.
pub fn update_meta(id: &str, meta: &Patch<String>, now: i64) -> Stmt {
    match meta {
        Patch::Absent => stmt!("UPDATE identities SET updated_at = ?2 WHERE id = ?1", id, now),
        _ => stmt!(
            "UPDATE identities SET meta = ?2, updated_at = ?3 WHERE id = ?1",
            id,
            meta.value().cloned(),
            now
        ),
    }
}

pub fn delete(id: &str) -> Stmt {
    stmt!("DELETE FROM identities WHERE id = ?1", id)
}

/// An identity of a page, with its credits.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedRow {
    pub id: String,
    pub external_id: String,
    /// Stored JSON text.
    pub meta: Option<String>,
    pub credit_remaining: Option<i64>,
    pub credit_refill_amount: Option<i64>,
    pub credit_refill_day: Option<i64>,
    pub credit_refilled_at: Option<i64>,
}

/// One page of identities.
pub struct IdentityPage {
    pub rows: Vec<ListedRow>,
    pub ratelimits: Vec<IdentityLimitRow>,
    pub total: i64,
}

/// Which identities a page shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    /// Only this environment (v1); all when `None`.
    pub environment: Option<&'a str>,
    /// A case-insensitive part of the id or external id (v2).
    pub search: Option<&'a str>,
    pub cursor: Option<&'a str>,
    /// The cursor's identity is part of the page (v2's cursor names the next page's first one).
    pub inclusive: bool,
    pub limit: i64,
}

/// The page: `?1` workspace, `?2` environment (or NULL), `?3` cursor (or NULL), `?4` limit,
/// `?5` search (or NULL), `?6` inclusive.
const PAGE: &str = "SELECT id FROM identities
                    WHERE workspace_id = ?1 AND (?2 IS NULL OR environment = ?2) AND deleted = 0
                      AND (?3 IS NULL OR id > ?3 OR (?6 <> 0 AND id = ?3))
                      AND (?5 IS NULL OR instr(lower(id || ' ' || external_id), lower(?5)) > 0)
                    ORDER BY id LIMIT ?4";

/// The identities of a page in id order, their rate limits and the total (of the environment),
/// as one snapshot.
pub async fn page(store: &Store, workspace_id: &str, q: &PageQuery<'_>) -> StoreResult<IdentityPage> {
    let args = || {
        vec![
            Arg::from(workspace_id),
            Arg::from(q.environment),
            Arg::from(q.cursor),
            Arg::from(q.limit),
            Arg::from(q.search.filter(|s| !s.is_empty())),
            Arg::from(q.inclusive),
        ]
    };
    let [rows, ratelimits, total] = results(
        store
            .batch(vec![
                Stmt::new(
                    format!(
                        "SELECT i.id, i.external_id, i.meta, c.remaining AS credit_remaining,
                                c.refill_amount AS credit_refill_amount, c.refill_day AS credit_refill_day,
                                c.refilled_at AS credit_refilled_at
                         FROM identities i LEFT JOIN credits c ON c.identity_id = i.id
                         WHERE i.id IN ({PAGE}) ORDER BY i.id"
                    ),
                    args(),
                ),
                Stmt::new(
                    format!(
                        "SELECT id, identity_id, name, \"limit\", duration, auto_apply FROM ratelimits
                         WHERE identity_id IN ({PAGE}) ORDER BY identity_id, name"
                    ),
                    args(),
                ),
                stmt!(
                    "SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ?1 AND (?2 IS NULL OR environment = ?2) AND deleted = 0",
                    workspace_id,
                    q.environment
                ),
            ])
            .await?,
    )?;
    Ok(IdentityPage {
        rows: rows.parse()?,
        ratelimits: ratelimits.parse()?,
        total: total.first::<Count>()?.map(|c| c.n).unwrap_or(0),
    })
}
