//! `keys` rows: insertion, field updates, deletion (soft and for good, with everything that
//! depends on a key) and the keyspace size counter.

use serde::Deserialize;

use super::{patch_args, Arg, Batch, Count, Dialect, Stmt, Store, StoreResult};
use crate::domain::patch::Patch;
use crate::stmt;

/// The SQL expression for the id of the live identity `?ws`/`?external` (NULL if none); used
/// inside statements of the same batch that created it with [`ensure_identity`].
fn identity_id_sql(ws_param: &str, external_param: &str) -> String {
    format!("(SELECT id FROM identities WHERE workspace_id = {ws_param} AND external_id = {external_param} AND deleted = 0)")
}

/// Creates the identity `external_id` (environment "default", meta {}) unless it exists.
pub fn ensure_identity(identity_id: &str, workspace_id: &str, external_id: &str, now: i64) -> Stmt {
    stmt!(
        "INSERT INTO identities (id, external_id, workspace_id, environment, meta, deleted, created_at)
         VALUES (?1, ?2, ?3, 'default', '{}', 0, ?4)
         ON CONFLICT (workspace_id, external_id, deleted) DO NOTHING",
        identity_id,
        external_id,
        workspace_id,
        now
    )
}

/// A key row about to be inserted.
pub struct NewKeyRow<'a> {
    pub id: &'a str,
    pub key_auth_id: &'a str,
    pub workspace_id: &'a str,
    pub hash: &'a str,
    pub start: &'a str,
    pub name: Option<&'a str>,
    /// The owner id; the key is linked to the identity with this external id.
    pub owner: Option<&'a str>,
    pub meta: Option<&'a str>,
    pub expires: Option<i64>,
    pub enabled: bool,
    pub environment: Option<&'a str>,
    /// The root key's administered workspace (root keys only).
    pub for_workspace_id: Option<&'a str>,
    /// The key migration the key was imported through (re-hashed on its first verification).
    pub pending_migration_id: Option<&'a str>,
}

/// The key row (linked to the identity of its owner, which must exist or be created in the same
/// batch with [`ensure_identity`]).
pub fn insert(k: &NewKeyRow<'_>, now: i64) -> Stmt {
    Stmt::new(
        format!(
            "INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, for_workspace_id, name, owner_id,
                               identity_id, meta, expires, created_at_m, enabled, environment, pending_migration_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?13, ?6, ?7, {}, ?8, ?9, ?10, ?11, ?12, ?14)",
            identity_id_sql("?5", "?7")
        ),
        vec![
            k.id.into(),
            k.key_auth_id.into(),
            k.hash.into(),
            k.start.into(),
            k.workspace_id.into(),
            k.name.into(),
            k.owner.into(),
            k.meta.into(),
            k.expires.into(),
            now.into(),
            k.enabled.into(),
            k.environment.into(),
            k.for_workspace_id.into(),
            k.pending_migration_id.into(),
        ],
    )
}

/// What the update and delete routes need to know about a key.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyState {
    pub id: String,
    pub workspace_id: String,
    pub key_auth_id: String,
    pub api_id: Option<String>,
    pub name: Option<String>,
    pub remaining_requests: Option<i64>,
    pub credit_id: Option<String>,
    pub default_ratelimit_duration: Option<i64>,
    /// Field-wise over the credits row and the legacy columns.
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
}

/// The live key `key_id` (of any workspace: the caller checks the workspace).
pub async fn state(store: &Store, key_id: &str) -> StoreResult<Option<KeyState>> {
    store
        .first(stmt!(
            "SELECT k.id, k.workspace_id, k.key_auth_id, a.id AS api_id, k.name, k.remaining_requests,
                    c.id AS credit_id, rl.duration AS default_ratelimit_duration,
                    COALESCE(c.refill_amount, k.refill_amount) AS refill_amount,
                    COALESCE(c.refill_day, k.refill_day) AS refill_day
             FROM keys k
             LEFT JOIN apis a ON a.key_auth_id = k.key_auth_id
             LEFT JOIN credits c ON c.key_id = k.id
             LEFT JOIN ratelimits rl ON rl.key_id = k.id AND rl.name = 'default'
             WHERE k.id = ?1 AND k.deleted_at_m IS NULL",
            key_id
        ))
        .await
}

/// updateKey's field changes (absent fields stay).
pub struct KeyFields {
    pub name: Patch<String>,
    /// The owner id; the identity link follows it.
    pub owner: Patch<String>,
    pub meta: Patch<String>,
    pub expires: Patch<i64>,
    pub enabled: Option<bool>,
}

pub fn update_fields(key_id: &str, workspace_id: &str, f: &KeyFields, now: i64) -> Stmt {
    let (set_name, name) = patch_args(&f.name);
    let (set_owner, owner) = patch_args(&f.owner);
    let (set_meta, meta) = patch_args(&f.meta);
    let (set_expires, expires) = patch_args(&f.expires);
    Stmt::new(
        format!(
            "UPDATE keys SET
               name = CASE WHEN ?2 <> 0 THEN ?3 ELSE name END,
               owner_id = CASE WHEN ?4 <> 0 THEN ?5 ELSE owner_id END,
               identity_id = CASE WHEN ?4 <> 0 THEN {} ELSE identity_id END,
               meta = CASE WHEN ?6 <> 0 THEN ?7 ELSE meta END,
               expires = CASE WHEN ?8 <> 0 THEN ?9 ELSE expires END,
               enabled = COALESCE(?10, enabled),
               updated_at_m = ?11
             WHERE id = ?1",
            identity_id_sql("?12", "?5")
        ),
        vec![
            Arg::from(key_id),
            set_name,
            name,
            set_owner,
            owner,
            set_meta,
            meta,
            set_expires,
            expires,
            Arg::from(f.enabled),
            Arg::from(now),
            Arg::from(workspace_id),
        ],
    )
}

/// A copy of a key under a new id, hash and start (rerollKey): the same api, workspace, name,
/// owner, identity, meta, expiry, enabled flag and legacy credit columns; its roles and direct
/// permissions are copied too.
pub fn copy_key(batch: &mut Batch, from: &str, to: &str, hash: &str, start: &str, now: i64) {
    batch.push(stmt!(
        "INSERT INTO keys (id, key_auth_id, hash, start, workspace_id, name, owner_id, identity_id, meta,
                           expires, created_at_m, enabled, environment,
                           remaining_requests, refill_day, refill_amount, last_refill_at)
         SELECT ?2, key_auth_id, ?3, ?4, workspace_id, name, owner_id, identity_id, meta,
                expires, ?5, enabled, environment,
                remaining_requests, refill_day, refill_amount, last_refill_at
         FROM keys WHERE id = ?1",
        from,
        to,
        hash,
        start,
        now
    ));
    batch.push(stmt!(
        "INSERT INTO keys_roles (role_id, key_id, workspace_id, created_at_m)
         SELECT role_id, ?2, workspace_id, ?3 FROM keys_roles WHERE key_id = ?1",
        from,
        to,
        now
    ));
    batch.push(stmt!(
        "INSERT INTO keys_permissions (key_id, permission_id, workspace_id, created_at_m)
         SELECT ?2, permission_id, workspace_id, ?3 FROM keys_permissions WHERE key_id = ?1",
        from,
        to,
        now
    ));
}

/// The visible start of a key.
pub async fn start_of(store: &Store, key_id: &str) -> StoreResult<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        start: String,
    }
    let row: Option<Row> = store.first(stmt!("SELECT start FROM keys WHERE id = ?1", key_id)).await?;
    Ok(row.map(|r| r.start))
}

/// Makes a key expire at `at` at the latest.
pub fn expire_by(key_id: &str, at: i64, now: i64) -> Stmt {
    stmt!(
        "UPDATE keys SET expires = CASE WHEN expires <= ?2 THEN expires ELSE ?2 END, updated_at_m = ?3 WHERE id = ?1",
        key_id,
        at,
        now
    )
}

/// `key_auth.size_approx`, the `total` of apis.listKeys, is the number of live keys of the
/// keyspace, kept by the writes that change it, in their own transaction: [`keyspace_grows`] after
/// keys are inserted, [`keyspace_loses`] before one is deleted. Each is O(1); a recount reads
/// every key of the keyspace (56 ms of SQLite for a million keys, in every createKey and
/// deleteKey, and as many rows read on D1's bill), so only an api's deletion recounts
/// ([`refresh_keyspace_size`]), as it touches every key anyway.
pub fn keyspace_grows(key_auth_id: &str, added: i64, now: i64) -> Stmt {
    stmt!(
        "UPDATE key_auth SET size_approx = size_approx + ?2, size_last_updated_at = ?3 WHERE id = ?1",
        key_auth_id,
        added,
        now
    )
}

/// After a key was copied into the keyspace (rerollKey): it counts if it is there and live.
pub fn keyspace_gains(key_auth_id: &str, key_id: &str, now: i64) -> Stmt {
    count_if_live(key_auth_id, key_id, 1, now)
}

/// Before a key is deleted (soft or for good): the keyspace loses it if it is live. The key's
/// row is written first, so that of two deletions of one key at once the second waits for the
/// first and then counts the key as gone (on Postgres too, where a statement that waited on a
/// lock still counts with the snapshot it started with; the count is the next statement).
pub fn keyspace_loses(batch: &mut Batch, key_auth_id: &str, key_id: &str, now: i64) {
    batch.push(stmt!("UPDATE keys SET updated_at_m = ?2 WHERE id = ?1", key_id, now));
    batch.push(count_if_live(key_auth_id, key_id, -1, now));
}

/// Adds `sign` (1 or −1) to the keyspace's count if the key `key_id` is live.
fn count_if_live(key_auth_id: &str, key_id: &str, sign: i64, now: i64) -> Stmt {
    stmt!(
        "UPDATE key_auth SET size_approx = size_approx +
                ?4 * (SELECT COUNT(*) FROM keys WHERE id = ?2 AND deleted_at_m IS NULL),
                size_last_updated_at = ?3
         WHERE id = ?1",
        key_auth_id,
        key_id,
        now,
        sign
    )
}

/// Recomputes `key_auth.size_approx` from the live keys (an api's deletion; see [`keyspace_grows`]).
pub fn refresh_keyspace_size(key_auth_id: &str, now: i64) -> Stmt {
    stmt!(
        "UPDATE key_auth SET size_approx = (SELECT COUNT(*) FROM keys WHERE key_auth_id = ?1 AND deleted_at_m IS NULL),
                             size_last_updated_at = ?2
         WHERE id = ?1",
        key_auth_id,
        now
    )
}

/// The stored number of live keys of a keyspace (see [`keyspace_grows`]).
pub async fn keyspace_size(store: &Store, key_auth_id: &str) -> StoreResult<i64> {
    #[derive(Deserialize)]
    struct Size {
        size_approx: i64,
    }
    let row: Option<Size> =
        store.first(stmt!("SELECT size_approx FROM key_auth WHERE id = ?1", key_auth_id)).await?;
    Ok(row.map(|s| s.size_approx).unwrap_or(0))
}

/// How many keys the keyspace holds (live only, or all).
pub async fn count(store: &Store, key_auth_id: &str, include_deleted: bool) -> StoreResult<i64> {
    let row: Option<Count> = store
        .first(stmt!(
            "SELECT COUNT(*) AS n FROM keys WHERE key_auth_id = ?1 AND (?2 <> 0 OR deleted_at_m IS NULL)",
            key_auth_id,
            include_deleted
        ))
        .await?;
    Ok(row.map(|c| c.n).unwrap_or(0))
}

pub fn soft_delete(key_id: &str, now: i64) -> Stmt {
    stmt!("UPDATE keys SET deleted_at_m = ?2, updated_at_m = ?2 WHERE id = ?1", key_id, now)
}

/// Marks every live key of a keyspace deleted.
pub fn soft_delete_keyspace(batch: &mut Batch, key_auth_id: &str, now: i64) {
    batch.push(stmt!(
        "UPDATE keys SET deleted_at_m = ?2, updated_at_m = ?2 WHERE key_auth_id = ?1 AND deleted_at_m IS NULL",
        key_auth_id,
        now
    ));
    batch.push(refresh_keyspace_size(key_auth_id, now));
}

/// The rows that belong to a key and go with it when it is deleted for good.
const KEY_DEPENDENTS: [&str; 5] =
    ["credits", "ratelimits", "encrypted_keys", "keys_permissions", "keys_roles"];

/// Deletes the keys selected by `key_filter` (an SQL condition on `keys` using `?1`, `?2`) and
/// every row that depends on them.
fn hard_delete_where(batch: &mut Batch, key_filter: &str, args: &[Arg]) {
    for table in KEY_DEPENDENTS {
        batch.push(Stmt::new(
            format!("DELETE FROM {table} WHERE key_id IN (SELECT id FROM keys WHERE {key_filter})"),
            args.to_vec(),
        ));
    }
    batch.push(Stmt::new(format!("DELETE FROM keys WHERE {key_filter}"), args.to_vec()));
}

/// Deletes every key of a keyspace for good, with everything that depends on them.
pub fn hard_delete_keyspace(batch: &mut Batch, key_auth_id: &str, now: i64) {
    hard_delete_where(batch, "key_auth_id = ?1", &[key_auth_id.into()]);
    batch.push(refresh_keyspace_size(key_auth_id, now));
}

/// Deletes one key for good, with everything that depends on it.
pub fn hard_delete(batch: &mut Batch, key_id: &str) {
    hard_delete_where(batch, "id = ?1", &[key_id.into()]);
}

/// Deletes for good at most `limit` keys soft-deleted before `cutoff` (in order of deletion),
/// with everything that depends on them; how many keys it deleted.
pub async fn purge_deleted(store: &Store, cutoff: i64, limit: i64) -> StoreResult<i64> {
    let mut batch = Batch::unaudited();
    hard_delete_where(
        &mut batch,
        "id IN (SELECT id FROM keys WHERE deleted_at_m < ?1 ORDER BY deleted_at_m, rowid LIMIT ?2)",
        &[cutoff.into(), limit.into()],
    );
    let rows = store.commit(batch).await?;
    Ok(rows.last().map(|r| r.changes()).unwrap_or(0))
}

/// Detaches every key of an identity (deleteIdentity).
pub fn detach_identity(identity_id: &str, now: i64) -> Stmt {
    stmt!("UPDATE keys SET identity_id = NULL, updated_at_m = ?2 WHERE identity_id = ?1", identity_id, now)
}

/// The live keys of `workspace_id` whose owner id, or whose identity's external id, is `owner`:
/// (key id, api id).
pub async fn of_owner(store: &Store, workspace_id: &str, owner: &str) -> StoreResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        api_id: String,
    }
    let rows: Vec<Row> = store
        .all(stmt!(
            // `+deleted_at_m`: search by owner and identity, not through the index of deletions
            "SELECT k.id, a.id AS api_id FROM keys k JOIN apis a ON a.key_auth_id = k.key_auth_id
             WHERE k.id IN (
               SELECT id FROM keys WHERE owner_id = ?2 AND workspace_id = ?1 AND +deleted_at_m IS NULL
               UNION
               SELECT id FROM keys WHERE +deleted_at_m IS NULL AND identity_id IN
                 (SELECT id FROM identities WHERE workspace_id = ?1 AND external_id = ?2 AND deleted = 0))
             ORDER BY k.id",
            workspace_id,
            owner
        ))
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.api_id)).collect())
}

/// A root key as the operator API shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct RootKeyRow {
    pub id: String,
    pub name: Option<String>,
    pub start: String,
    pub created_at_m: i64,
    pub expires: Option<i64>,
    /// The workspace it administers.
    pub for_workspace_id: String,
    /// Its permission names, as a JSON array.
    pub permissions: String,
}

/// A root key's permission names as one JSON array: each dialect aggregates JSON in its own way
/// (Postgres' `json_agg` gives NULL for no rows, SQLite's `json_group_array` `[]`).
fn root_key_sql(dialect: Dialect) -> String {
    let permissions = match dialect {
        Dialect::Sqlite => "json_group_array(p.slug)",
        Dialect::Postgres => "COALESCE(json_agg(p.slug ORDER BY p.slug)::text, '[]')",
    };
    format!(
        "SELECT k.id, k.name, k.start, k.created_at_m, k.expires, k.for_workspace_id,
                (SELECT {permissions} FROM keys_permissions kp JOIN permissions p ON p.id = kp.permission_id
                 WHERE kp.key_id = k.id) AS permissions
         FROM keys k
         WHERE k.key_auth_id = ?1 AND k.for_workspace_id IS NOT NULL AND k.deleted_at_m IS NULL
           AND (k.expires IS NULL OR k.expires >= ?2)"
    )
}

/// The working root keys (in keyspace `keyspace`, not revoked, not expired at `now`) of a
/// workspace, oldest first.
pub async fn root_keys(
    store: &Store,
    keyspace: &str,
    workspace_id: &str,
    now: i64,
) -> StoreResult<Vec<RootKeyRow>> {
    store
        .all(stmt!(
            format!(
                "{} AND k.for_workspace_id = ?3 ORDER BY k.created_at_m, k.id",
                root_key_sql(store.dialect())
            ),
            keyspace,
            now,
            workspace_id
        ))
        .await
}

/// The working root key `key_id`.
pub async fn root_key(
    store: &Store,
    keyspace: &str,
    key_id: &str,
    now: i64,
) -> StoreResult<Option<RootKeyRow>> {
    store
        .first(stmt!(format!("{} AND k.id = ?3", root_key_sql(store.dialect())), keyspace, now, key_id))
        .await
}
