//! `identities.*` routes (v1 §2.5 #28–32) with keygate's identity credits (decisions.md §3).
//!
//! An identity's credits are a `credits` row with `identity_id` set. Its balance is serialised by
//! the usage limiter of `Balance::IdentityCredits(<credit id>)`: a balance set on an existing row
//! goes through that object (`usage::adjust`), and a removed row makes it reload, before the
//! route answers, so the very next verification sees the change.

use serde::Deserialize;
use serde_json::Value;
use worker::{D1Database, D1PreparedStatement};

use crate::api::common::{Empty, Meta, Patch, RefillInterval, RefillRequest, RefillResponse};
use crate::api::identities::*;
use crate::domain::credits::{Adjustment, Balance};
use crate::domain::identities::{
    check_refill_day, duplicate_ratelimit_message, encode_meta, first_duplicate, plan_ratelimits,
    refill_changed,
};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::{root_key, RootKey};
use crate::http::{ApiError, ApiResult, Ctx};
use crate::limiter::usage;
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::credits::{self as credit_store, CreditsOwner, CreditsRow};
use crate::store::{self, is_unique_violation};

#[derive(Debug, Clone, Deserialize)]
struct IdentityRow {
    id: String,
    external_id: String,
    meta: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct RatelimitRow {
    id: String,
    identity_id: String,
    name: String,
    limit: i64,
    duration: i64,
}

impl RatelimitRow {
    fn wire(&self) -> IdentityRatelimit {
        IdentityRatelimit { name: self.name.clone(), limit: self.limit, duration: self.duration }
    }
}

/// How an identity is addressed: by id, or by external id within an environment.
enum Lookup<'a> {
    Id(&'a str),
    External { external_id: &'a str, environment: &'a str },
}

impl<'a> Lookup<'a> {
    /// `identityId` takes precedence over `externalId`; neither is a 400.
    fn from_request(
        identity_id: Option<&'a str>,
        external_id: Option<&'a str>,
        environment: &'a str,
    ) -> ApiResult<Self> {
        match (identity_id, external_id) {
            (Some(id), _) => Ok(Lookup::Id(id)),
            (None, Some(external_id)) => Ok(Lookup::External { external_id, environment }),
            (None, None) => Err(ApiError::bad_request("Provide either identityId or externalId")),
        }
    }

    fn not_found(&self) -> ApiError {
        let shown = match self {
            Lookup::Id(id) => id,
            Lookup::External { external_id, .. } => external_id,
        };
        ApiError::not_found(format!("identity {shown} not found"))
    }
}

/// The live identity of `workspace_id` addressed by `lookup`.
async fn find_identity(db: &D1Database, workspace_id: &str, lookup: &Lookup<'_>) -> ApiResult<IdentityRow> {
    let stmt = match lookup {
        Lookup::Id(id) => stmt!(
            db,
            "SELECT id, external_id, meta FROM identities WHERE workspace_id = ?1 AND id = ?2 AND deleted = 0",
            workspace_id,
            *id
        )?,
        Lookup::External { external_id, environment } => stmt!(
            db,
            "SELECT id, external_id, meta FROM identities
             WHERE workspace_id = ?1 AND external_id = ?2 AND environment = ?3 AND deleted = 0",
            workspace_id,
            *external_id,
            *environment
        )?,
    };
    store::first::<IdentityRow>(stmt).await?.ok_or_else(|| lookup.not_found())
}

async fn ratelimits_of(db: &D1Database, identity_id: &str) -> ApiResult<Vec<RatelimitRow>> {
    Ok(store::all(stmt!(
        db,
        "SELECT id, identity_id, name, \"limit\", duration FROM ratelimits WHERE identity_id = ?1 ORDER BY name",
        identity_id
    )?)
    .await?)
}

/// Stored metadata as returned: `{}` when there is none (or it is not an object).
fn parse_meta(meta: Option<&str>) -> Meta {
    match meta.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(m))) => m,
        _ => Meta::new(),
    }
}

fn credits_response(
    remaining: i64,
    amount: Option<i64>,
    day: Option<i64>,
    at: Option<i64>,
) -> CreditsResponse {
    CreditsResponse { remaining, refill: RefillResponse::from_columns(amount, day, at) }
}

fn credits_of_row(row: &CreditsRow) -> CreditsResponse {
    credits_response(row.remaining, row.refill_amount, row.refill_day, row.refilled_at)
}

/// The identity as getIdentity and updateIdentity return it, read from D1.
async fn identity_response(db: &D1Database, identity: IdentityRow) -> ApiResult<IdentityResponse> {
    let ratelimits = ratelimits_of(db, &identity.id).await?;
    let credits = credit_store::find(db, &CreditsOwner::Identity(identity.id.clone())).await?;
    Ok(IdentityResponse {
        meta: parse_meta(identity.meta.as_deref()),
        id: identity.id,
        external_id: identity.external_id,
        ratelimits: ratelimits.iter().map(RatelimitRow::wire).collect(),
        credits: credits.as_ref().map(credits_of_row),
    })
}

/// Cross-field rules of identity credits: a daily refill has no `refillDay`.
fn check_credits(credits: &CreditsRequest) -> ApiResult<()> {
    if let Some(refill) = credits.refill.value() {
        check_refill_day(refill.interval == RefillInterval::Daily, refill.refill_day, "credits.refill")?;
    }
    Ok(())
}

fn check_ratelimit_names(ratelimits: &[IdentityRatelimit]) -> ApiResult<()> {
    match first_duplicate(ratelimits.iter().map(|r| r.name.as_str())) {
        Some(name) => Err(ApiError::conflict(duplicate_ratelimit_message(name))),
        None => Ok(()),
    }
}

fn insert_ratelimit(
    ctx: &Ctx,
    workspace_id: &str,
    identity_id: &str,
    rl: &IdentityRatelimit,
) -> ApiResult<(String, D1PreparedStatement)> {
    let id = new_id(IdKind::Ratelimit, ctx.now)?;
    let stmt = stmt!(
        &ctx.db,
        "INSERT INTO ratelimits (id, name, workspace_id, created_at, identity_id, \"limit\", duration, auto_apply)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
        &id,
        &rl.name,
        workspace_id,
        ctx.now,
        identity_id,
        rl.limit,
        rl.duration
    )?;
    Ok((id, stmt))
}

/// The audit statements of a change to one of the identity's rate limits.
fn ratelimit_audit(
    ctx: &Ctx,
    root: &RootKey,
    event: &str,
    identity: &Target,
    ratelimit_id: &str,
    name: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let verb = match event {
        "ratelimit.create" => "Created",
        "ratelimit.update" => "Updated",
        _ => "Deleted",
    };
    audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        event,
        &format!("{verb} {ratelimit_id}"),
        &[identity.clone(), Target::named("ratelimit", ratelimit_id, Some(name.to_string()))],
    )
}

fn identity_target(identity_id: &str, external_id: &str) -> Target {
    Target::named("identity", identity_id, Some(external_id.to_string()))
}

pub async fn create_identity(ctx: &Ctx, req: CreateIdentityRequest) -> ApiResult<CreateIdentityResponse> {
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "identity.*.create_identity"]))).await?;
    let meta = req.meta.as_ref().map(encode_meta).transpose()?;
    let ratelimits = req.ratelimits.unwrap_or_default();
    check_ratelimit_names(&ratelimits)?;
    if let Some(credits) = &req.credits {
        check_credits(credits)?;
    }
    let db = &ctx.db;
    let ws = root.workspace_id.as_str();
    let identity_id = new_id(IdKind::Identity, ctx.now)?;
    let target = identity_target(&identity_id, &req.external_id);
    let mut stmts = vec![stmt!(
        db,
        "INSERT INTO identities (id, external_id, workspace_id, environment, meta, deleted, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
        &identity_id,
        &req.external_id,
        ws,
        DEFAULT_ENVIRONMENT,
        meta,
        ctx.now
    )?];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "identity.create",
        &format!("Created {identity_id}"),
        std::slice::from_ref(&target),
    )?);
    for rl in &ratelimits {
        let (rl_id, insert) = insert_ratelimit(ctx, ws, &identity_id, rl)?;
        stmts.push(insert);
        stmts.extend(ratelimit_audit(ctx, &root, "ratelimit.create", &target, &rl_id, &rl.name)?);
    }
    if let Some(credits) = &req.credits {
        let credit_id = new_id(IdKind::Credit, ctx.now)?;
        stmts.push(credit_store::insert(
            db,
            &credit_id,
            ws,
            &CreditsOwner::Identity(identity_id.clone()),
            credits.remaining,
            credits.refill.value(),
            ctx.now,
        )?);
    }
    match store::batch(db, stmts).await {
        Ok(_) => Ok(CreateIdentityResponse { identity_id }),
        Err(e) if is_unique_violation(&e) && e.to_string().contains("identities.") => {
            Err(ApiError::conflict(format!(
                "Identity with externalId \"{}\" already exists in this workspace",
                req.external_id
            )))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_identity(ctx: &Ctx, req: GetIdentityQuery) -> ApiResult<IdentityResponse> {
    let lookup =
        Lookup::from_request(req.identity_id.as_deref(), req.external_id.as_deref(), &req.environment)?;
    // upstream left "*" out of this query; keygate accepts it (a "*" root key can do anything)
    let mut allowed = vec!["*".to_string(), "identity.*.read_identity".to_string()];
    if let Some(id) = &req.identity_id {
        allowed.push(format!("identity.{id}.read_identity"));
    }
    let root = root_key(ctx, Some(&PermissionQuery::any_of(allowed))).await?;
    let identity = find_identity(&ctx.db, &root.workspace_id, &lookup).await?;
    identity_response(&ctx.db, identity).await
}

#[derive(Debug, Deserialize)]
struct ListedRow {
    id: String,
    external_id: String,
    credit_remaining: Option<i64>,
    credit_refill_amount: Option<i64>,
    credit_refill_day: Option<i64>,
    credit_refilled_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Count {
    n: i64,
}

/// The page: `?1` workspace, `?2` environment, `?3` cursor (or NULL), `?4` limit.
const PAGE: &str = "SELECT id FROM identities
                    WHERE workspace_id = ?1 AND environment = ?2 AND deleted = 0 AND (?3 IS NULL OR id > ?3)
                    ORDER BY id LIMIT ?4";

pub async fn list_identities(ctx: &Ctx, req: ListIdentitiesQuery) -> ApiResult<ListIdentitiesResponse> {
    let root = root_key(
        ctx,
        Some(&PermissionQuery::any_of([
            "*".to_string(),
            "identity.*.read_identity".to_string(),
            format!("identity.{}.read_identity", req.environment),
        ])),
    )
    .await?;
    let db = &ctx.db;
    let ws = root.workspace_id.as_str();
    let env = req.environment.as_str();
    let limit = req.limit.unwrap_or(100);
    let cursor = req.cursor.as_deref();
    // one batch, so the page, its rate limits and the total are one snapshot
    let results = store::batch(
        db,
        vec![
            stmt!(
                db,
                &format!(
                    "SELECT i.id, i.external_id, c.remaining AS credit_remaining,
                            c.refill_amount AS credit_refill_amount, c.refill_day AS credit_refill_day,
                            c.refilled_at AS credit_refilled_at
                     FROM identities i LEFT JOIN credits c ON c.identity_id = i.id
                     WHERE i.id IN ({PAGE}) ORDER BY i.id"
                ),
                ws,
                env,
                cursor,
                limit
            )?,
            stmt!(
                db,
                &format!(
                    "SELECT id, identity_id, name, \"limit\", duration FROM ratelimits
                     WHERE identity_id IN ({PAGE}) ORDER BY identity_id, name"
                ),
                ws,
                env,
                cursor,
                limit
            )?,
            stmt!(
                db,
                "SELECT COUNT(*) AS n FROM identities WHERE workspace_id = ?1 AND environment = ?2 AND deleted = 0",
                ws,
                env
            )?,
        ],
    )
    .await?;
    let [page, ratelimits, total] = results.as_slice() else {
        return Err(ApiError::internal("listIdentities: unexpected batch result"));
    };
    let page = page.results::<ListedRow>()?;
    let ratelimits = ratelimits.results::<RatelimitRow>()?;
    let total = total.results::<Count>()?.first().map(|c| c.n).unwrap_or(0);
    let identities: Vec<ListedIdentity> = page
        .into_iter()
        .map(|row| ListedIdentity {
            ratelimits: ratelimits
                .iter()
                .filter(|r| r.identity_id == row.id)
                .map(RatelimitRow::wire)
                .collect(),
            credits: row.credit_remaining.map(|remaining| {
                credits_response(
                    remaining,
                    row.credit_refill_amount,
                    row.credit_refill_day,
                    row.credit_refilled_at,
                )
            }),
            id: row.id,
            external_id: row.external_id,
        })
        .collect();
    let cursor = identities.last().map(|i| i.id.clone());
    Ok(ListIdentitiesResponse { identities, cursor, total })
}

/// After the batch: the limiter call that makes the identity's balance change visible.
enum BalanceSync {
    None,
    Set { credit_id: String, remaining: i64 },
    Reload { credit_id: String },
}

/// The statements writing `credits` for the identity, and what the limiter must learn after them.
async fn credits_update(
    ctx: &Ctx,
    workspace_id: &str,
    identity_id: &str,
    credits: &Patch<CreditsRequest>,
) -> ApiResult<(Vec<D1PreparedStatement>, BalanceSync)> {
    if credits.is_absent() {
        return Ok((Vec::new(), BalanceSync::None));
    }
    let db = &ctx.db;
    let owner = CreditsOwner::Identity(identity_id.to_string());
    let existing = credit_store::find(db, &owner).await?;
    Ok(match (credits, existing) {
        (Patch::Absent, _) | (Patch::Null, None) => (Vec::new(), BalanceSync::None),
        (Patch::Null, Some(row)) => (
            vec![stmt!(db, "DELETE FROM credits WHERE id = ?1", &row.id)?],
            BalanceSync::Reload { credit_id: row.id },
        ),
        (Patch::Value(c), None) => {
            let credit_id = new_id(IdKind::Credit, ctx.now)?;
            let insert = credit_store::insert(
                db,
                &credit_id,
                workspace_id,
                &owner,
                c.remaining,
                c.refill.value(),
                ctx.now,
            )?;
            (vec![insert], BalanceSync::None)
        }
        (Patch::Value(c), Some(row)) => {
            let mut stmts = Vec::new();
            if !c.refill.is_absent() {
                let refill = c.refill.value();
                let new = (refill.map(|r| r.amount), refill.and_then(RefillRequest::stored_day));
                if refill_changed((row.refill_amount, row.refill_day), new) {
                    // a new schedule starts now; no schedule, no refill time
                    let refilled_at = refill.map(|_| ctx.now);
                    stmts.push(stmt!(
                        db,
                        "UPDATE credits SET refill_amount = ?2, refill_day = ?3, refilled_at = ?4, updated_at = ?5
                         WHERE id = ?1",
                        &row.id,
                        new.0,
                        new.1,
                        refilled_at,
                        ctx.now
                    )?);
                }
            }
            (stmts, BalanceSync::Set { credit_id: row.id, remaining: c.remaining })
        }
    })
}

pub async fn update_identity(ctx: &Ctx, req: UpdateIdentityRequest) -> ApiResult<IdentityResponse> {
    // upstream left "*" out of this query; keygate accepts it (a "*" root key can do anything)
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "identity.*.update_identity"]))).await?;
    let lookup =
        Lookup::from_request(req.identity_id.as_deref(), req.external_id.as_deref(), &req.environment)?;
    if let Some(ratelimits) = &req.ratelimits {
        check_ratelimit_names(ratelimits)?;
    }
    let meta = match &req.meta {
        Patch::Value(m) => Patch::Value(encode_meta(m)?),
        Patch::Null => Patch::Null,
        Patch::Absent => Patch::Absent,
    };
    if let Some(credits) = req.credits.value() {
        check_credits(credits)?;
    }
    let db = &ctx.db;
    let ws = root.workspace_id.as_str();
    let identity = find_identity(db, ws, &lookup).await?;
    let target = identity_target(&identity.id, &identity.external_id);

    let mut stmts = vec![match &meta {
        Patch::Absent => {
            stmt!(db, "UPDATE identities SET updated_at = ?2 WHERE id = ?1", &identity.id, ctx.now)?
        }
        _ => stmt!(
            db,
            "UPDATE identities SET meta = ?2, updated_at = ?3 WHERE id = ?1",
            &identity.id,
            meta.value().cloned(),
            ctx.now
        )?,
    }];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "identity.update",
        &format!("Updated {}", identity.id),
        std::slice::from_ref(&target),
    )?);
    if let Some(wanted) = &req.ratelimits {
        let existing: Vec<(String, String)> =
            ratelimits_of(db, &identity.id).await?.into_iter().map(|r| (r.id, r.name)).collect();
        let plan = plan_ratelimits(&existing, wanted, |r| r.name.as_str());
        for id in &plan.delete {
            stmts.push(stmt!(db, "DELETE FROM ratelimits WHERE id = ?1", *id)?);
            let name = existing.iter().find(|(e, _)| e == id).map(|(_, n)| n.as_str()).unwrap_or_default();
            stmts.extend(ratelimit_audit(ctx, &root, "ratelimit.delete", &target, id, name)?);
        }
        for (id, rl) in &plan.update {
            stmts.push(stmt!(
                db,
                "UPDATE ratelimits SET \"limit\" = ?2, duration = ?3, updated_at = ?4 WHERE id = ?1",
                *id,
                rl.limit,
                rl.duration,
                ctx.now
            )?);
            stmts.extend(ratelimit_audit(ctx, &root, "ratelimit.update", &target, id, &rl.name)?);
        }
        for rl in &plan.create {
            let (rl_id, insert) = insert_ratelimit(ctx, ws, &identity.id, rl)?;
            stmts.push(insert);
            stmts.extend(ratelimit_audit(ctx, &root, "ratelimit.create", &target, &rl_id, &rl.name)?);
        }
    }
    let (credit_stmts, sync) = credits_update(ctx, ws, &identity.id, &req.credits).await?;
    stmts.extend(credit_stmts);
    store::batch(db, stmts).await?;
    match sync {
        BalanceSync::None => {}
        BalanceSync::Set { credit_id, remaining } => {
            usage::adjust(
                &ctx.env,
                &Balance::IdentityCredits(credit_id),
                Adjustment::Set(remaining),
                ctx.now,
            )
            .await?;
        }
        BalanceSync::Reload { credit_id } => {
            usage::reload(&ctx.env, &Balance::IdentityCredits(credit_id)).await?;
        }
    }
    let updated = find_identity(db, ws, &Lookup::Id(&identity.id)).await?;
    identity_response(db, updated).await
}

pub async fn delete_identity(ctx: &Ctx, req: DeleteIdentityRequest) -> ApiResult<Empty> {
    // upstream left "*" out of this query; keygate accepts it (a "*" root key can do anything)
    let root = root_key(
        ctx,
        Some(&PermissionQuery::any_of([
            "*".to_string(),
            "identity.*.delete_identity".to_string(),
            format!("identity.{}.delete_identity", req.identity_id),
        ])),
    )
    .await?;
    let db = &ctx.db;
    let ws = root.workspace_id.as_str();
    let identity = find_identity(db, ws, &Lookup::Id(&req.identity_id)).await?;
    let target = identity_target(&identity.id, &identity.external_id);
    let ratelimits = ratelimits_of(db, &identity.id).await?;
    let credits = credit_store::find(db, &CreditsOwner::Identity(identity.id.clone())).await?;
    let mut stmts = vec![
        stmt!(db, "DELETE FROM ratelimits WHERE identity_id = ?1", &identity.id)?,
        stmt!(db, "DELETE FROM credits WHERE identity_id = ?1", &identity.id)?,
        // no dangling references: the identity's keys stay, without an identity
        stmt!(
            db,
            "UPDATE keys SET identity_id = NULL, updated_at_m = ?2 WHERE identity_id = ?1",
            &identity.id,
            ctx.now
        )?,
        stmt!(db, "DELETE FROM identities WHERE id = ?1", &identity.id)?,
    ];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "identity.delete",
        &format!("Deleted {}", identity.id),
        std::slice::from_ref(&target),
    )?);
    for rl in &ratelimits {
        stmts.extend(ratelimit_audit(ctx, &root, "ratelimit.delete", &target, &rl.id, &rl.name)?);
    }
    store::batch(db, stmts).await?;
    if let Some(row) = credits {
        usage::reload(&ctx.env, &Balance::IdentityCredits(row.id)).await?;
    }
    Ok(Empty {})
}
