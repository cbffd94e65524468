//! `ratelimits.*` routes: `limit` and namespace overrides (v1 §2.5 #23–27).

use serde::Deserialize;

use crate::api::common::Empty;
use crate::api::ratelimits::*;
use crate::domain::ids::{new_id, IdKind};
use crate::domain::overrides;
use crate::domain::permissions::PermissionQuery;
use crate::http::auth::{root_key, RootKey};
use crate::http::{ApiError, ApiResult, Ctx};
use crate::limiter::rate::{self, WireLimit};
use crate::stmt;
use crate::store::audit::{self, Target};
use crate::store::rows::int_bool;
use crate::store::{self, is_unique_violation};

#[derive(Debug, Clone, Deserialize)]
struct Namespace {
    id: String,
    name: String,
}

async fn namespace_by_name(ctx: &Ctx, workspace_id: &str, name: &str) -> ApiResult<Option<Namespace>> {
    Ok(stmt!(
        &ctx.db,
        "SELECT id, name FROM ratelimit_namespaces
         WHERE workspace_id = ?1 AND name = ?2 AND deleted_at_m IS NULL",
        workspace_id,
        name
    )?
    .first(None)
    .await?)
}

async fn namespace_by_id(ctx: &Ctx, workspace_id: &str, id: &str) -> ApiResult<Option<Namespace>> {
    Ok(stmt!(
        &ctx.db,
        "SELECT id, name FROM ratelimit_namespaces
         WHERE workspace_id = ?1 AND id = ?2 AND deleted_at_m IS NULL",
        workspace_id,
        id
    )?
    .first(None)
    .await?)
}

/// Creates the namespace `name` (with its audit log); a concurrent creation wins quietly.
async fn create_namespace(ctx: &Ctx, root: &RootKey, name: &str) -> ApiResult<Option<Namespace>> {
    let db = &ctx.db;
    let id = new_id(IdKind::RatelimitNamespace, ctx.now)?;
    let mut stmts = vec![stmt!(
        db,
        "INSERT INTO ratelimit_namespaces (id, workspace_id, name, created_at_m) VALUES (?1, ?2, ?3, ?4)",
        &id,
        &root.workspace_id,
        name,
        ctx.now
    )?];
    stmts.extend(audit::log(
        ctx,
        &root.workspace_id,
        &root.actor(),
        "ratelimitNamespace.create",
        &format!("Created {id}"),
        &[Target::named("ratelimitNamespace", &id, Some(name.to_string()))],
    )?);
    match store::batch(db, stmts).await {
        Ok(_) => Ok(Some(Namespace { id, name: name.to_string() })),
        // created meanwhile by another request (or a deleted namespace holds the name)
        Err(e) if is_unique_violation(&e) => namespace_by_name(ctx, &root.workspace_id, name).await,
        Err(e) => Err(e.into()),
    }
}

/// The namespace an override route addresses: by id if given, else by name.
async fn override_namespace(
    ctx: &Ctx,
    workspace_id: &str,
    namespace_id: Option<&String>,
    namespace_name: Option<&String>,
) -> ApiResult<Namespace> {
    let id = namespace_id.filter(|s| !s.is_empty());
    let name = namespace_name.filter(|s| !s.is_empty());
    let (found, given) = match (id, name) {
        (Some(id), _) => (namespace_by_id(ctx, workspace_id, id).await?, id),
        (None, Some(name)) => (namespace_by_name(ctx, workspace_id, name).await?, name),
        (None, None) => {
            return Err(ApiError::bad_request("You must provide a namespaceId or a namespaceName"));
        }
    };
    found.ok_or_else(|| ApiError::not_found(format!("Namespace {given} not found")))
}

#[derive(Debug, Clone, Deserialize)]
struct OverrideRow {
    id: String,
    identifier: String,
    limit: i64,
    duration: i64,
    #[serde(default, deserialize_with = "opt_int_bool")]
    r#async: Option<bool>,
}

fn opt_int_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "int_bool")] bool);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

impl From<OverrideRow> for Override {
    fn from(r: OverrideRow) -> Self {
        Override {
            id: r.id,
            identifier: r.identifier,
            limit: r.limit,
            duration: r.duration,
            is_async: r.r#async,
        }
    }
}

const OVERRIDE_COLUMNS: &str = "id, identifier, \"limit\", duration, async";

async fn live_override(ctx: &Ctx, ns: &Namespace, identifier: &str) -> ApiResult<Option<OverrideRow>> {
    Ok(stmt!(
        &ctx.db,
        &format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
             WHERE namespace_id = ?1 AND identifier = ?2 AND deleted_at_m IS NULL"
        ),
        &ns.id,
        identifier
    )?
    .first(None)
    .await?)
}

pub async fn limit(ctx: &Ctx, req: LimitRequest) -> ApiResult<LimitResponse> {
    let root = root_key(ctx, None).await?;
    let ws = &root.workspace_id;
    let namespace = match namespace_by_name(ctx, ws, &req.namespace).await? {
        Some(ns) => Some(ns),
        None if root.allows(&PermissionQuery::any_of(["*", "ratelimit.*.create_namespace"])) => {
            create_namespace(ctx, &root, &req.namespace).await?
        }
        None => None,
    };
    let ns =
        namespace.ok_or_else(|| ApiError::not_found(format!("namespace {} not found", req.namespace)))?;
    root.require(&PermissionQuery::any_of([
        "*".to_string(),
        "ratelimit.*.limit".to_string(),
        format!("ratelimit.{}.limit", ns.id),
    ]))?;
    // the exact override and every wildcard rule, in creation order
    let candidates: Vec<OverrideRow> = store::all(stmt!(
        &ctx.db,
        &format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
             WHERE namespace_id = ?1 AND workspace_id = ?2 AND deleted_at_m IS NULL
               AND (identifier = ?3 OR instr(identifier, '*') > 0)
             ORDER BY created_at_m, id"
        ),
        &ns.id,
        ws,
        &req.identifier
    )?)
    .await?;
    let (limit, duration) = match overrides::pick(&req.identifier, &candidates, |o| &o.identifier) {
        Some(o) => (o.limit, o.duration),
        None => (req.limit, req.duration),
    };
    let reply = rate::limit(
        &ctx.env,
        &format!("rl:{}:{}", ns.id, req.identifier),
        vec![WireLimit { name: "limit".into(), limit, duration, cost: req.cost }],
        ctx.now,
    )
    .await?;
    let result = reply.results.first().ok_or_else(|| ApiError::internal("rate limiter: no result"))?;
    Ok(LimitResponse {
        success: reply.passed,
        limit,
        remaining: result.remaining.max(0),
        reset: result.reset,
    })
}

pub async fn set_override(ctx: &Ctx, req: SetOverrideRequest) -> ApiResult<SetOverrideResponse> {
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "ratelimit.*.set_override"]))).await?;
    let ws = &root.workspace_id;
    let ns = override_namespace(ctx, ws, req.namespace_id.as_ref(), req.namespace_name.as_ref()).await?;
    let db = &ctx.db;
    // update the existing override (reviving a deleted one), else insert; a concurrent insert of
    // the same identifier makes the insert fail, and the second attempt updates it instead
    for _ in 0..2 {
        let existing: Option<String> = stmt!(
            db,
            "SELECT id FROM ratelimit_overrides WHERE namespace_id = ?1 AND identifier = ?2",
            &ns.id,
            &req.identifier
        )?
        .first(Some("id"))
        .await?;
        let (id, write) = match existing {
            Some(id) => {
                let s = stmt!(
                    db,
                    "UPDATE ratelimit_overrides
                     SET \"limit\" = ?2, duration = ?3, async = ?4, updated_at_m = ?5, deleted_at_m = NULL
                     WHERE id = ?1",
                    &id,
                    req.limit,
                    req.duration,
                    req.is_async,
                    ctx.now
                )?;
                (id, s)
            }
            None => {
                let id = new_id(IdKind::RatelimitOverride, ctx.now)?;
                let s = stmt!(
                    db,
                    "INSERT INTO ratelimit_overrides
                       (id, workspace_id, namespace_id, identifier, \"limit\", duration, async, created_at_m)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    &id,
                    ws,
                    &ns.id,
                    &req.identifier,
                    req.limit,
                    req.duration,
                    req.is_async,
                    ctx.now
                )?;
                (id, s)
            }
        };
        let mut stmts = vec![write];
        stmts.extend(audit::log(
            ctx,
            ws,
            &root.actor(),
            "ratelimit.set_override",
            &format!("Set ratelimit override for {} and {}", ns.id, req.identifier),
            &[
                Target::named("ratelimitNamespace", &ns.id, Some(ns.name.clone())),
                Target::named("ratelimitOverride", &id, Some(req.identifier.clone())),
            ],
        )?);
        match store::batch(db, stmts).await {
            Ok(_) => return Ok(SetOverrideResponse { override_id: id }),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("the override changed concurrently, please retry"))
}

pub async fn get_override(ctx: &Ctx, req: GetOverrideQuery) -> ApiResult<Override> {
    // upstream's query has no "*" here
    let root = root_key(ctx, Some(&PermissionQuery::has("ratelimit.*.read_override"))).await?;
    let ns =
        override_namespace(ctx, &root.workspace_id, req.namespace_id.as_ref(), req.namespace_name.as_ref())
            .await?;
    live_override(ctx, &ns, &req.identifier)
        .await?
        .map(Override::from)
        .ok_or_else(|| ApiError::not_found("Override not found"))
}

pub async fn delete_override(ctx: &Ctx, req: DeleteOverrideRequest) -> ApiResult<Empty> {
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "ratelimit.*.delete_override"]))).await?;
    let ws = &root.workspace_id;
    let ns = override_namespace(ctx, ws, req.namespace_id.as_ref(), req.namespace_name.as_ref()).await?;
    let found = live_override(ctx, &ns, &req.identifier).await?.ok_or_else(|| {
        ApiError::not_found(format!("Override with {} identifier not found", req.identifier))
    })?;
    let db = &ctx.db;
    let mut stmts = vec![stmt!(
        db,
        "UPDATE ratelimit_overrides SET deleted_at_m = ?2, updated_at_m = ?2
         WHERE id = ?1 AND deleted_at_m IS NULL",
        &found.id,
        ctx.now
    )?];
    stmts.extend(audit::log(
        ctx,
        ws,
        &root.actor(),
        "ratelimit.delete_override",
        &format!("Deleted ratelimit override {}", found.id),
        &[
            Target::named("ratelimitNamespace", &ns.id, Some(ns.name.clone())),
            Target::named("ratelimitOverride", &found.id, Some(found.identifier.clone())),
        ],
    )?);
    store::batch(db, stmts).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
struct Total {
    n: i64,
}

pub async fn list_overrides(ctx: &Ctx, req: ListOverridesQuery) -> ApiResult<ListOverridesResponse> {
    let root = root_key(ctx, Some(&PermissionQuery::any_of(["*", "ratelimit.*.read_override"]))).await?;
    let ns =
        override_namespace(ctx, &root.workspace_id, req.namespace_id.as_ref(), req.namespace_name.as_ref())
            .await?;
    let db = &ctx.db;
    let results = store::batch(
        db,
        vec![
            stmt!(
                db,
                &format!(
                    "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
                     WHERE namespace_id = ?1 AND deleted_at_m IS NULL AND (?2 IS NULL OR id > ?2)
                     ORDER BY id LIMIT ?3"
                ),
                &ns.id,
                req.cursor.clone(),
                req.limit
            )?,
            stmt!(
                db,
                "SELECT COUNT(*) AS n FROM ratelimit_overrides WHERE namespace_id = ?1 AND deleted_at_m IS NULL",
                &ns.id
            )?,
        ],
    )
    .await?;
    let (Some(page), Some(total)) = (results.first(), results.get(1)) else {
        return Err(ApiError::internal("missing query results"));
    };
    let overrides: Vec<Override> = page.results::<OverrideRow>()?.into_iter().map(Override::from).collect();
    let total = total.results::<Total>()?.first().map(|t| t.n).unwrap_or(0);
    let cursor = overrides.last().map(|o| o.id.clone());
    Ok(ListOverridesResponse { overrides, total, cursor })
}
