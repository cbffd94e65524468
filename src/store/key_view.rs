//! Keys as getKey and listKeys show them: the key with its api, credits (field-wise over the
//! legacy columns), `default` ratelimit, identity, roles and permissions — one D1 batch.

use std::collections::HashMap;

use serde::Deserialize;
use worker::D1Database;

use super::rows::int_bool;
use super::Arg;
use crate::api::common::RefillResponse;
use crate::api::keys::{Key, KeyIdentity, KeyRatelimit};
use crate::routes::keys::parse_meta;

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

#[derive(Debug, Deserialize)]
struct PermissionRow {
    key_id: String,
    name: String,
    slug: String,
}

/// Which keys to show: an SQL query selecting `id`s (using `?1`…), and its arguments.
pub struct Selection {
    pub ids_sql: String,
    pub args: Vec<Arg>,
}

/// How permissions are named: getKey shows names, listKeys slugs (as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionLabel {
    Name,
    Slug,
}

/// The selected keys in id order, with the workspace each belongs to.
pub async fn load(db: &D1Database, sel: &Selection, label: PermissionLabel) -> worker::Result<Vec<Key>> {
    let ids = &sel.ids_sql;
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
    let results = db
        .batch(vec![
            super::prepare(db, &main, sel.args.clone())?,
            super::prepare(db, &roles, sel.args.clone())?,
            super::prepare(db, &permissions, sel.args.clone())?,
        ])
        .await?;
    let [rows, roles, permissions] = results.as_slice() else {
        return Err(worker::Error::RustError("unexpected D1 batch result".into()));
    };
    let mut roles_of: HashMap<String, Vec<String>> = HashMap::new();
    for r in roles.results::<RoleRow>()? {
        roles_of.entry(r.key_id).or_default().push(r.name);
    }
    let mut permissions_of: HashMap<String, Vec<String>> = HashMap::new();
    for p in permissions.results::<PermissionRow>()? {
        let label = match label {
            PermissionLabel::Name => p.name,
            PermissionLabel::Slug => p.slug,
        };
        let list = permissions_of.entry(p.key_id).or_default();
        if !list.contains(&label) {
            list.push(label);
        }
    }
    Ok(rows
        .results::<Row>()?
        .into_iter()
        .map(|r| {
            let roles = roles_of.remove(&r.id).unwrap_or_default();
            let permissions = permissions_of.remove(&r.id).unwrap_or_default();
            to_key(r, roles, permissions)
        })
        .collect())
}

fn to_key(r: Row, roles: Vec<String>, permissions: Vec<String>) -> Key {
    Key {
        start: r.start,
        workspace_id: r.workspace_id,
        api_id: r.api_id,
        name: r.name,
        owner_id: r.owner_id,
        meta: parse_meta(r.meta.as_deref()),
        created_at: r.created_at_m,
        updated_at: r.updated_at_m,
        expires: r.expires,
        // field-wise: the credits row wins, a NULL credits field falls back to the legacy column
        remaining: r.credit_remaining.or(r.remaining_requests),
        refill: RefillResponse::from_columns(
            r.credit_refill_amount.or(r.refill_amount),
            r.credit_refill_day.or(r.refill_day),
            r.credit_refilled_at.or(r.last_refill_at),
        ),
        ratelimit: match (r.rl_limit, r.rl_duration) {
            (Some(limit), Some(duration)) => Some(KeyRatelimit {
                r#async: false,
                limit,
                duration,
                refill_rate: limit,
                refill_interval: duration,
            }),
            _ => None,
        },
        roles,
        permissions,
        enabled: r.enabled,
        plaintext: None,
        identity: match (r.identity_id, r.identity_external_id) {
            (Some(id), Some(external_id)) => {
                Some(KeyIdentity { id, external_id, meta: parse_meta(r.identity_meta.as_deref()) })
            }
            _ => None,
        },
        id: r.id,
    }
}
