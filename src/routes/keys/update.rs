//! `keys.updateKey`, `keys.updateRemaining` and `keys.deleteKey`: the credits dual path.
//! Writes go to the key's credits row if it has one, else to the legacy column if that is set,
//! else a new credits row is created. Every balance change goes through the usage limiter of the
//! balance (or makes it reload) before the route answers, so the next verification sees it.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::key_not_found;
use super::rbac::{set_statements, Wanted};
use crate::api::common::{Empty, Patch, RefillInterval};
use crate::api::keys::*;
use crate::domain::credits::{Adjustment, Balance};
use crate::domain::ids::{new_id, IdKind};
use crate::http::auth::root_key;
use crate::http::{ApiError, ApiResult, Ctx};
use crate::limiter::usage;
use crate::routes::apis::api_permission;
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::credits::{self, CreditsOwner};
use crate::store::keys::{hard_delete_key, refresh_keyspace_size};
use crate::store::links::{self, identity_id_sql, Rbac};
use crate::store::{self, Arg};

/// What the credit routes need to know about a key.
#[derive(Debug, Deserialize)]
struct KeyState {
    id: String,
    workspace_id: String,
    key_auth_id: String,
    api_id: Option<String>,
    name: Option<String>,
    remaining_requests: Option<i64>,
    credit_id: Option<String>,
    default_ratelimit_duration: Option<i64>,
}

impl KeyState {
    fn api_id(&self) -> &str {
        self.api_id.as_deref().unwrap_or_default()
    }

    /// The key's own balance (updateRemaining and updateKey never target identity credits).
    fn balance(&self) -> Option<Balance> {
        Balance::choose(None, self.credit_id.as_deref(), &self.id, self.remaining_requests)
    }
}

async fn key_state(ctx: &Ctx, key_id: &str) -> ApiResult<Option<KeyState>> {
    Ok(store::first(stmt!(
        &ctx.db,
        "SELECT k.id, k.workspace_id, k.key_auth_id, a.id AS api_id, k.name, k.remaining_requests,
                c.id AS credit_id, rl.duration AS default_ratelimit_duration
         FROM keys k
         LEFT JOIN apis a ON a.key_auth_id = k.key_auth_id
         LEFT JOIN credits c ON c.key_id = k.id
         LEFT JOIN ratelimits rl ON rl.key_id = k.id AND rl.name = 'default'
         WHERE k.id = ?1 AND k.deleted_at_m IS NULL",
        key_id
    )?)
    .await?)
}

/// A usage-limiter call to make once the batch is written.
enum LimiterCall {
    Set(Balance, i64),
    Reload(Balance),
}

impl LimiterCall {
    async fn run(self, ctx: &Ctx) -> ApiResult<()> {
        match self {
            LimiterCall::Set(balance, v) => {
                usage::adjust(&ctx.env, &balance, Adjustment::Set(v), ctx.now).await.map(|_| ())
            }
            LimiterCall::Reload(balance) => usage::reload(&ctx.env, &balance).await,
        }
    }
}

/// `(is set, value)` arguments for `CASE WHEN ?set THEN ?value ELSE column END`.
fn patch_args<T: Clone + Into<Arg>>(p: &Patch<T>) -> (Arg, Arg) {
    match p {
        Patch::Absent => (Arg::Int(0), Arg::Null),
        Patch::Null => (Arg::Int(1), Arg::Null),
        Patch::Value(v) => (Arg::Int(1), v.clone().into()),
    }
}

pub async fn update_key(ctx: &Ctx, req: UpdateKeyRequest) -> ApiResult<Empty> {
    let root = root_key(ctx, None).await?;
    let key = key_state(ctx, &req.key_id)
        .await?
        .filter(|k| k.workspace_id == root.workspace_id)
        .ok_or_else(|| key_not_found(&req.key_id))?;
    root.require(&api_permission(key.api_id(), "update_key"))?;
    let has_new = key.credit_id.is_some();
    let has_old = key.remaining_requests.is_some();
    let refill = req.refill.value();
    if refill.is_some()
        && (req.remaining == Patch::Null || (!has_new && !has_old && req.remaining.value().is_none()))
    {
        return Err(ApiError::bad_request("Cannot set refill on a key with unlimited requests"));
    }
    if refill.is_some_and(|r| r.interval == RefillInterval::Daily && r.refill_day.is_some()) {
        return Err(ApiError::bad_request("Cannot set 'refillDay' if 'interval' is 'daily'"));
    }
    let ratelimit = match &req.ratelimit {
        Patch::Value(r) => {
            let duration = r
                .duration
                .or(r.refill_interval)
                .or(key.default_ratelimit_duration)
                .ok_or_else(|| ApiError::bad_request("ratelimit.duration: Required"))?;
            Patch::Value((r.limit, duration))
        }
        Patch::Null => Patch::Null,
        Patch::Absent => Patch::Absent,
    };

    let db = &ctx.db;
    let mut stmts: Vec<D1PreparedStatement> = Vec::new();
    let mut after: Vec<LimiterCall> = Vec::new();

    // identity: externalId wins over the deprecated ownerId
    let owner = if req.external_id.is_absent() { &req.owner_id } else { &req.external_id };
    if let Patch::Value(external_id) = owner {
        stmts.push(links::ensure_identity(db, &root.workspace_id, external_id, ctx.now)?);
    }
    let (set_name, name) = patch_args(&req.name);
    let (set_owner, owner_value) = patch_args(owner);
    let meta = match &req.meta {
        Patch::Value(m) => Patch::Value(serde_json::to_string(m)?),
        Patch::Null => Patch::Null,
        Patch::Absent => Patch::Absent,
    };
    let (set_meta, meta) = patch_args(&meta);
    let (set_expires, expires) = patch_args(&req.expires);
    stmts.push(store::prepare(
        db,
        &format!(
            "UPDATE keys SET
               name = CASE WHEN ?2 THEN ?3 ELSE name END,
               owner_id = CASE WHEN ?4 THEN ?5 ELSE owner_id END,
               identity_id = CASE WHEN ?4 THEN {} ELSE identity_id END,
               meta = CASE WHEN ?6 THEN ?7 ELSE meta END,
               expires = CASE WHEN ?8 THEN ?9 ELSE expires END,
               enabled = COALESCE(?10, enabled),
               updated_at_m = ?11
             WHERE id = ?1",
            identity_id_sql("?12", "?5")
        ),
        vec![
            Arg::from(&key.id),
            set_name,
            name,
            set_owner,
            owner_value,
            set_meta,
            meta,
            set_expires,
            expires,
            Arg::from(req.enabled),
            Arg::from(ctx.now),
            Arg::from(&root.workspace_id),
        ],
    )?);

    // credits: the credits row if there is one, else the legacy column if set, else a new row
    let mut credits_row_kept = has_new;
    match (&req.remaining, &key.credit_id, has_old) {
        (Patch::Absent, _, _) => {}
        (Patch::Null, Some(credit_id), _) => {
            stmts.push(stmt!(db, "DELETE FROM credits WHERE id = ?1", credit_id)?);
            after.push(LimiterCall::Reload(Balance::KeyCredits(credit_id.clone())));
            credits_row_kept = false;
        }
        (Patch::Value(v), Some(credit_id), _) => {
            after.push(LimiterCall::Set(Balance::KeyCredits(credit_id.clone()), *v))
        }
        (Patch::Null, None, true) => {
            stmts.push(stmt!(db, "UPDATE keys SET remaining_requests = NULL WHERE id = ?1", &key.id)?);
            after.push(LimiterCall::Reload(Balance::LegacyKey(key.id.clone())));
        }
        (Patch::Value(v), None, true) => after.push(LimiterCall::Set(Balance::LegacyKey(key.id.clone()), *v)),
        // no credits anywhere: null is a no-op (upstream answered 500), a number creates a row
        (Patch::Null, None, false) => {}
        (Patch::Value(v), None, false) => {
            let credit_id = new_id(IdKind::Credit, ctx.now)?;
            let owner = CreditsOwner::Key(key.id.clone());
            // a new row's refill schedule starts now (as upstream's updateKey stamps it)
            stmts.push(credits::insert_refilled_at(
                db,
                &credit_id,
                &key.workspace_id,
                &owner,
                *v,
                refill,
                Some(ctx.now),
                ctx.now,
            )?);
        }
    }

    // refill: on the credits row (if kept) and on the legacy columns (if set); a new refill
    // schedule starts now
    if !req.refill.is_absent() {
        let amount = refill.map(|r| r.amount);
        let day = refill.and_then(|r| r.stored_day());
        if let (true, Some(credit_id)) = (credits_row_kept, &key.credit_id) {
            stmts.push(stmt!(
                db,
                "UPDATE credits SET refill_amount = ?2, refill_day = ?3,
                   refilled_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END, updated_at = ?4
                 WHERE id = ?1",
                credit_id,
                amount,
                day,
                ctx.now
            )?);
            if !matches!(after.last(), Some(LimiterCall::Set(..))) {
                after.push(LimiterCall::Reload(Balance::KeyCredits(credit_id.clone())));
            }
        }
        if has_old {
            stmts.push(stmt!(
                db,
                "UPDATE keys SET refill_amount = ?2, refill_day = ?3,
                   last_refill_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END
                 WHERE id = ?1",
                &key.id,
                amount,
                day,
                ctx.now
            )?);
            if !has_new && !matches!(after.last(), Some(LimiterCall::Set(..))) {
                after.push(LimiterCall::Reload(Balance::LegacyKey(key.id.clone())));
            }
        }
    }

    match ratelimit {
        Patch::Absent => {}
        Patch::Null => stmts.push(stmt!(db, "DELETE FROM ratelimits WHERE key_id = ?1 AND name = 'default'", &key.id)?),
        Patch::Value((limit, duration)) => stmts.push(stmt!(
            db,
            "INSERT INTO ratelimits (id, name, workspace_id, created_at, key_id, \"limit\", duration, auto_apply)
             VALUES (?1, 'default', ?2, ?3, ?4, ?5, ?6, 1)
             ON CONFLICT (key_id, name) DO UPDATE SET
               \"limit\" = excluded.\"limit\", duration = excluded.duration, auto_apply = 1, updated_at = ?3",
            new_id(IdKind::Ratelimit, ctx.now)?,
            &key.workspace_id,
            ctx.now,
            &key.id,
            limit,
            duration
        )?),
    }

    // roles and permissions are replaced as keys.setRoles / keys.setPermissions do
    if let Some(roles) = &req.roles {
        let wanted: Vec<Wanted> = roles.iter().map(Wanted::from).collect();
        stmts.extend(set_statements(ctx, &root, Rbac::Role, &key.id, &wanted).await?.0);
    }
    if let Some(permissions) = &req.permissions {
        let wanted: Vec<Wanted> = permissions.iter().map(Wanted::from).collect();
        stmts.extend(set_statements(ctx, &root, Rbac::Permission, &key.id, &wanted).await?.0);
    }

    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "key.update",
        "",
        &[Target::named("key", &key.id, key.name.clone())],
    )?);
    store::batch(db, stmts).await?;
    for call in after {
        call.run(ctx).await?;
    }
    Ok(Empty {})
}

pub async fn update_remaining(ctx: &Ctx, req: UpdateRemainingRequest) -> ApiResult<UpdateRemainingResponse> {
    let key = key_state(ctx, &req.key_id).await?.ok_or_else(|| key_not_found(&req.key_id))?;
    let root = root_key(ctx, Some(&api_permission(key.api_id(), "update_key"))).await?;
    if key.workspace_id != root.workspace_id {
        return Err(key_not_found(&req.key_id));
    }
    let db = &ctx.db;
    let balance = key.balance();
    let remaining = match (req.op, req.value.value().copied(), &balance) {
        (RemainingOp::Increment | RemainingOp::Decrement, value, balance) => {
            let op = if req.op == RemainingOp::Increment { "increment" } else { "decrement" };
            let Some(balance) = balance else {
                return Err(ApiError::bad_request(format!(
                    "cannot {op} a key with unlimited remaining requests, please 'set' a value instead."
                )));
            };
            let Some(v) = value else {
                return Err(ApiError::bad_request(format!("cannot {op} a key by null.")));
            };
            let adjustment = if req.op == RemainingOp::Increment {
                Adjustment::Increment(v)
            } else {
                Adjustment::Decrement(v)
            };
            usage::adjust(&ctx.env, balance, adjustment, ctx.now).await?.remaining
        }
        (RemainingOp::Set, Some(v), Some(balance)) => {
            usage::adjust(&ctx.env, balance, Adjustment::Set(v), ctx.now).await?.remaining
        }
        (RemainingOp::Set, None, Some(balance @ Balance::KeyCredits(credit_id))) => {
            // the legacy column, if set, becomes effective again
            stmt!(db, "DELETE FROM credits WHERE id = ?1", credit_id)?.run().await?;
            usage::reload(&ctx.env, balance).await?;
            key.remaining_requests
        }
        (RemainingOp::Set, None, Some(balance)) => {
            stmt!(
                db,
                "UPDATE keys SET remaining_requests = NULL, updated_at_m = ?2 WHERE id = ?1",
                &key.id,
                ctx.now
            )?
            .run()
            .await?;
            usage::reload(&ctx.env, balance).await?;
            None
        }
        (RemainingOp::Set, Some(v), None) => {
            // refilled_at = now: a refill configured later counts from here
            stmt!(
                db,
                "INSERT INTO credits (id, workspace_id, key_id, remaining, refilled_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (key_id) DO UPDATE SET remaining = excluded.remaining, updated_at = ?5",
                new_id(IdKind::Credit, ctx.now)?,
                &key.workspace_id,
                &key.id,
                v,
                ctx.now
            )?
            .run()
            .await?;
            Some(v)
        }
        (RemainingOp::Set, None, None) => None,
    };
    let shown = remaining.map(|r| r.to_string()).unwrap_or_else(|| "unlimited".into());
    store::batch(
        db,
        audit::log(
            ctx,
            &root.workspace_id,
            &root.actor(),
            "key.update",
            &format!("Changed remaining to {shown}"),
            &[Target::named("key", &key.id, key.name.clone())],
        )?,
    )
    .await?;
    Ok(UpdateRemainingResponse { remaining })
}

pub async fn delete_key(ctx: &Ctx, req: DeleteKeyRequest) -> ApiResult<Empty> {
    let key = key_state(ctx, &req.key_id).await?.ok_or_else(|| key_not_found(&req.key_id))?;
    let root = root_key(ctx, Some(&api_permission(key.api_id(), "delete_key"))).await?;
    if key.workspace_id != root.workspace_id {
        return Err(ApiError::unauthorized("you are not allowed to do this"));
    }
    let db = &ctx.db;
    let mut stmts = if req.permanent {
        hard_delete_key(db, &key.id)?
    } else {
        vec![stmt!(
            db,
            "UPDATE keys SET deleted_at_m = ?2, updated_at_m = ?2 WHERE id = ?1",
            &key.id,
            ctx.now
        )?]
    };
    stmts.push(refresh_keyspace_size(db, &key.key_auth_id, ctx.now)?);
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "key.delete",
        "",
        &[Target::named("key", &key.id, key.name.clone())],
    )?);
    store::batch(db, stmts).await?;
    if let Some(credit_id) = &key.credit_id {
        usage::reload(&ctx.env, &Balance::KeyCredits(credit_id.clone())).await?;
    }
    if key.remaining_requests.is_some() {
        usage::reload(&ctx.env, &Balance::LegacyKey(key.id.clone())).await?;
    }
    Ok(Empty {})
}
