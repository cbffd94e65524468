//! Keys as getKey, whoami and listKeys show them: the key with its api, credits (field-wise over
//! the legacy columns), `default` ratelimit, identity, roles, permissions and (when asked) every
//! rate limit of the key and of its identity — one D1 batch.

use std::collections::HashMap;

use serde::Deserialize;

use super::{int_bool, Arg, Stmt, Store, StoreResult};

#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    start: String,
    workspace_id: String,
    api_id: Option<String>,
    name: Option<String>,
    owner_id: Option<String>,
    meta: Option<String>,
    created_at_m: i64,
    updated_at_m: Option<i64>,
    expires: Option<i64>,
    #[serde(deserialize_with = "int_bool")]
    enabled: bool,
    remaining_requests: Option<i64>,
    refill_day: Option<i64>,
    refill_amount: Option<i64>,
    last_refill_at: Option<i64>,
    credit_remaining: Option<i64>,
    credit_refill_day: Option<i64>,
    credit_refill_amount: Option<i64>,
    credit_refilled_at: Option<i64>,
    rl_limit: Option<i64>,
    rl_duration: Option<i64>,
    identity_id: Option<String>,
    identity_external_id: Option<String>,
    identity_meta: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RoleRow {
    key_id: String,
    name: String,
}

/// A configured rate limit of a key or an identity.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitRow {
    pub id: String,
    /// The key or identity it belongs to.
    owner: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    #[serde(deserialize_with = "int_bool")]
    pub auto_apply: bool,
}

#[derive(Debug, Deserialize)]
struct PermissionRow {
    key_id: String,
    name: String,
    slug: String,
}

/// Which keys to show: an SQL query selecting `id`s (using `?1`…), and its arguments.
struct Selection {
    ids_sql: &'static str,
    args: Vec<Arg>,
}

/// A key with everything getKey and listKeys show of it.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub id: String,
    pub start: String,
    pub workspace_id: String,
    pub api_id: Option<String>,
    pub name: Option<String>,
    pub owner_id: Option<String>,
    /// Stored JSON text.
    pub meta: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub expires: Option<i64>,
    pub enabled: bool,
    /// Field-wise: the credits row wins, a NULL credits field falls back to the legacy column.
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
    pub last_refill_at: Option<i64>,
    /// The `default` rate limit: (limit, duration).
    pub ratelimit: Option<(i64, i64)>,
    pub identity: Option<ViewIdentity>,
    pub roles: Vec<String>,
    /// Names (getKey) or slugs (listKeys).
    pub permissions: Vec<String>,
    /// The decrypted key (filled by the service for `decrypt=true`).
    pub plaintext: Option<String>,
    /// Every rate limit of the key (when [`Detail::ratelimits`]).
    pub ratelimits: Vec<LimitRow>,
}

#[derive(Debug, Clone)]
pub struct ViewIdentity {
    pub id: String,
    pub external_id: String,
    /// Stored JSON text.
    pub meta: Option<String>,
    /// The identity's rate limits (when [`Detail::ratelimits`]).
    pub ratelimits: Vec<LimitRow>,
}

/// What a view shows beyond the key row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    /// Permissions by slug (else by name: v1 getKey).
    pub slugs: bool,
    /// Every rate limit of the key and of its identity.
    pub ratelimits: bool,
}

/// The live key `key_id` (of any workspace: the caller checks it).
pub async fn by_id(store: &Store, key_id: &str, detail: Detail) -> StoreResult<Option<KeyView>> {
    let sel = Selection {
        ids_sql: "SELECT id FROM keys WHERE id = ?1 AND deleted_at_m IS NULL",
        args: vec![Arg::from(key_id)],
    };
    Ok(load(store, &sel, detail).await?.into_iter().next())
}

/// The live key whose hash is `hash` (of any workspace: the caller checks it).
pub async fn by_hash(store: &Store, hash: &str, detail: Detail) -> StoreResult<Option<KeyView>> {
    let sel = Selection {
        ids_sql: "SELECT id FROM keys WHERE hash = ?1 AND deleted_at_m IS NULL",
        args: vec![Arg::from(hash)],
    };
    Ok(load(store, &sel, detail).await?.into_iter().next())
}

/// Which keys of a keyspace listKeys shows.
pub struct Page<'a> {
    pub key_auth_id: &'a str,
    /// Keys after this id.
    pub cursor: Option<&'a str>,
    pub identity_id: Option<&'a str>,
    pub owner_id: Option<&'a str>,
    pub limit: i64,
    /// The cursor's own key is part of the page (v2's cursor names the next page's first key).
    pub inclusive: bool,
    /// Keys to skip (the legacy list route pages by offset).
    pub offset: i64,
}

/// A page of live keys in id order.
pub async fn page(store: &Store, p: &Page<'_>, detail: Detail) -> StoreResult<Vec<KeyView>> {
    let sel = Selection {
        ids_sql: "SELECT id FROM keys WHERE key_auth_id = ?1 AND deleted_at_m IS NULL
                    AND (id > ?2 OR (?6 <> 0 AND id = ?2))
                    AND (?3 IS NULL OR identity_id = ?3) AND (?4 IS NULL OR owner_id = ?4)
                  ORDER BY id LIMIT ?5 OFFSET ?7",
        args: vec![
            Arg::from(p.key_auth_id),
            Arg::from(p.cursor.unwrap_or_default()),
            Arg::from(p.identity_id),
            Arg::from(p.owner_id),
            Arg::from(p.limit),
            Arg::from(p.inclusive),
            Arg::from(p.offset),
        ],
    };
    load(store, &sel, detail).await
}

/// The selected keys in id order, with the workspace each belongs to.
async fn load(store: &Store, sel: &Selection, detail: Detail) -> StoreResult<Vec<KeyView>> {
    let ids = sel.ids_sql;
    let main = format!(
        "SELECT k.id, k.start, k.workspace_id, a.id AS api_id, k.name, k.owner_id, k.meta, k.created_at_m,
                k.updated_at_m, k.expires, k.enabled,
                k.remaining_requests, k.refill_day, k.refill_amount, k.last_refill_at,
                c.remaining AS credit_remaining, c.refill_day AS credit_refill_day,
                c.refill_amount AS credit_refill_amount, c.refilled_at AS credit_refilled_at,
                rl.\"limit\" AS rl_limit, rl.duration AS rl_duration,
                i.id AS identity_id, i.external_id AS identity_external_id, i.meta AS identity_meta
         FROM keys k
         LEFT JOIN apis a ON a.key_auth_id = k.key_auth_id
         LEFT JOIN credits c ON c.key_id = k.id
         LEFT JOIN ratelimits rl ON rl.key_id = k.id AND rl.name = 'default'
         LEFT JOIN identities i ON i.id = k.identity_id
         WHERE k.id IN ({ids}) ORDER BY k.id"
    );
    let roles = format!(
        "SELECT kr.key_id, r.name FROM keys_roles kr JOIN roles r ON r.id = kr.role_id
         WHERE kr.key_id IN ({ids}) ORDER BY r.name"
    );
    let permissions = format!(
        "SELECT DISTINCT x.key_id, p.name, p.slug FROM (
           SELECT key_id, permission_id FROM keys_permissions WHERE key_id IN ({ids})
           UNION
           SELECT kr.key_id, rp.permission_id FROM keys_roles kr
           JOIN roles_permissions rp ON rp.role_id = kr.role_id WHERE kr.key_id IN ({ids})
         ) x JOIN permissions p ON p.id = x.permission_id ORDER BY p.slug"
    );
    let mut stmts = vec![
        Stmt::new(main, sel.args.clone()),
        Stmt::new(roles, sel.args.clone()),
        Stmt::new(permissions, sel.args.clone()),
    ];
    if detail.ratelimits {
        let limits = format!(
            "SELECT id, COALESCE(key_id, identity_id) AS owner, name, \"limit\", duration, auto_apply FROM ratelimits
             WHERE key_id IN ({ids})
                OR identity_id IN (SELECT identity_id FROM keys WHERE id IN ({ids}) AND identity_id IS NOT NULL)
             ORDER BY name"
        );
        stmts.push(Stmt::new(limits, sel.args.clone()));
    }
    let mut results = store.batch(stmts).await?.into_iter();
    let mut next =
        || results.next().ok_or_else(|| super::StoreError::Decode("unexpected batch result".into()));
    let (rows, roles, permissions) = (next()?, next()?, next()?);
    let limits: Vec<LimitRow> = if detail.ratelimits { next()?.parse()? } else { Vec::new() };
    let mut roles_of: HashMap<String, Vec<String>> = HashMap::new();
    for r in roles.parse::<RoleRow>()? {
        roles_of.entry(r.key_id).or_default().push(r.name);
    }
    let mut permissions_of: HashMap<String, Vec<String>> = HashMap::new();
    for p in permissions.parse::<PermissionRow>()? {
        let label = if detail.slugs { p.slug } else { p.name };
        let list = permissions_of.entry(p.key_id).or_default();
        if !list.contains(&label) {
            list.push(label);
        }
    }
    Ok(rows
        .parse::<Row>()?
        .into_iter()
        .map(|r| {
            let roles = roles_of.remove(&r.id).unwrap_or_default();
            let permissions = permissions_of.remove(&r.id).unwrap_or_default();
            to_key(r, roles, permissions, &limits)
        })
        .collect())
}

fn to_key(r: Row, roles: Vec<String>, permissions: Vec<String>, limits: &[LimitRow]) -> KeyView {
    let of = |owner: &str| limits.iter().filter(|l| l.owner == owner).cloned().collect::<Vec<_>>();
    KeyView {
        start: r.start,
        workspace_id: r.workspace_id,
        api_id: r.api_id,
        name: r.name,
        owner_id: r.owner_id,
        meta: r.meta,
        created_at: r.created_at_m,
        updated_at: r.updated_at_m,
        expires: r.expires,
        enabled: r.enabled,
        remaining: r.credit_remaining.or(r.remaining_requests),
        refill_amount: r.credit_refill_amount.or(r.refill_amount),
        refill_day: r.credit_refill_day.or(r.refill_day),
        last_refill_at: r.credit_refilled_at.or(r.last_refill_at),
        ratelimit: r.rl_limit.zip(r.rl_duration),
        identity: match (r.identity_id, r.identity_external_id) {
            (Some(id), Some(external_id)) => {
                Some(ViewIdentity { ratelimits: of(&id), id, external_id, meta: r.identity_meta })
            }
            _ => None,
        },
        roles,
        permissions,
        plaintext: None,
        ratelimits: of(&r.id),
        id: r.id,
    }
}
