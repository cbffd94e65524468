//! ratelimits.*: `limit` through the rate-limiter object of namespace+identifier, and the
//! namespace overrides (exact identifier first, else the oldest matching wildcard rule).

use super::auth::Principal;
use super::{Ctx, Error, Resource, Result};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::overrides;
use crate::domain::permissions::require;
use crate::domain::ratelimit::{Algorithm, LimitCheck};
use crate::store::audit::Target;
use crate::store::namespaces::{self, Namespace};
pub use crate::store::namespaces::{OverrideRow, OverrideSettings};

/// One `ratelimits.limit` request.
#[derive(Debug, Clone)]
pub struct LimitInput {
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
}

/// The answer of `ratelimits.limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitOutcome {
    pub success: bool,
    /// The limit that applied (an override's, else the request's).
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
}

/// Creates the namespace `name` (with its audit row); a concurrent creation wins quietly.
async fn create_namespace(ctx: &Ctx, p: &Principal, name: &str) -> Result<Option<Namespace>> {
    let id = new_id(IdKind::RatelimitNamespace, ctx.now)?;
    let target = vec![Target::named("ratelimitNamespace", &id, Some(name.to_string()))];
    let mut batch =
        ctx.batch(&p.actor(), &p.workspace_id, "ratelimitNamespace.create", &format!("Created {id}"), target);
    batch.push(namespaces::insert(&id, &p.workspace_id, name, ctx.now));
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(Some(Namespace { id, name: name.to_string() })),
        // created meanwhile by another request (or a deleted namespace holds the name)
        Err(e) if e.is_conflict() => Ok(namespaces::by_name(&ctx.store, &p.workspace_id, name).await?),
        Err(e) => Err(e.into()),
    }
}

/// Counts one request against a fixed-window limit (exact, whatever `async` says).
pub async fn limit(ctx: &Ctx, p: &Principal, req: &LimitInput) -> Result<LimitOutcome> {
    let ws = &p.workspace_id;
    let namespace = match namespaces::by_name(&ctx.store, ws, &req.namespace).await? {
        Some(ns) => Some(ns),
        None if p.allows(&require::ratelimit(None, "create_namespace")) => {
            create_namespace(ctx, p, &req.namespace).await?
        }
        None => None,
    };
    let ns = namespace.ok_or_else(|| {
        Error::not_found(Resource::Namespace, format!("namespace {} not found", req.namespace))
    })?;
    p.require(&require::ratelimit(Some(&ns.id), "limit"))?;
    let candidates = namespaces::candidates(&ctx.store, ws, &ns.id, &req.identifier).await?;
    let (limit, duration) = match overrides::pick(&req.identifier, &candidates, |o| &o.identifier) {
        Some(o) => (o.limit, o.duration),
        None => (req.limit, req.duration),
    };
    let check = LimitCheck { name: "limit".into(), limit, duration, cost: req.cost };
    let identifier = format!("rl:{}:{}", ns.id, req.identifier);
    let reply = ctx.limiters.limit(&identifier, vec![check], ctx.now, Algorithm::Fixed).await?;
    let result = reply.results.first().ok_or_else(|| Error::Internal("rate limiter: no result".into()))?;
    Ok(LimitOutcome { success: reply.passed, limit, remaining: result.remaining.max(0), reset: result.reset })
}

/// How an override route names its namespace: by id (wins) or by name.
#[derive(Debug, Clone, Copy, Default)]
pub struct NamespaceRef<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
}

async fn namespace(ctx: &Ctx, p: &Principal, by: NamespaceRef<'_>) -> Result<Namespace> {
    let ws = &p.workspace_id;
    let (found, given) = match (by.id.filter(|s| !s.is_empty()), by.name.filter(|s| !s.is_empty())) {
        (Some(id), _) => (namespaces::by_id(&ctx.store, ws, id).await?, id),
        (None, Some(name)) => (namespaces::by_name(&ctx.store, ws, name).await?, name),
        (None, None) => return Err(Error::bad_request("You must provide a namespaceId or a namespaceName")),
    };
    found.ok_or_else(|| Error::not_found(Resource::Namespace, format!("Namespace {given} not found")))
}

/// Creates or updates the override of an identifier (reviving a deleted one); returns its id.
pub async fn set_override(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    s: &OverrideSettings<'_>,
) -> Result<String> {
    let ns = namespace(ctx, p, by).await?;
    let ws = &p.workspace_id;
    // update the existing override, else insert; a concurrent insert of the same identifier makes
    // the insert fail, and the second attempt updates it instead
    for _ in 0..2 {
        let (id, write) = match namespaces::override_id(&ctx.store, &ns.id, s.identifier).await? {
            Some(id) => {
                let write = namespaces::update_override(&id, s, ctx.now);
                (id, write)
            }
            None => {
                let id = new_id(IdKind::RatelimitOverride, ctx.now)?;
                let write = namespaces::insert_override(&id, ws, &ns.id, s, ctx.now);
                (id, write)
            }
        };
        let display = format!("Set ratelimit override for {} and {}", ns.id, s.identifier);
        let targets = vec![
            Target::named("ratelimitNamespace", &ns.id, Some(ns.name.clone())),
            Target::named("ratelimitOverride", &id, Some(s.identifier.to_string())),
        ];
        let mut batch = ctx.batch(&p.actor(), ws, "ratelimit.set_override", &display, targets);
        batch.push(write);
        match ctx.store.commit(batch).await {
            Ok(_) => return Ok(id),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal("the override changed concurrently, please retry".into()))
}

pub async fn get_override(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    identifier: &str,
) -> Result<OverrideRow> {
    let ns = namespace(ctx, p, by).await?;
    namespaces::live_override(&ctx.store, &ns.id, identifier)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Override, "Override not found"))
}

pub async fn delete_override(ctx: &Ctx, p: &Principal, by: NamespaceRef<'_>, identifier: &str) -> Result<()> {
    let ns = namespace(ctx, p, by).await?;
    let found = namespaces::live_override(&ctx.store, &ns.id, identifier).await?.ok_or_else(|| {
        Error::not_found(Resource::Override, format!("Override with {identifier} identifier not found"))
    })?;
    let display = format!("Deleted ratelimit override {}", found.id);
    let targets = vec![
        Target::named("ratelimitNamespace", &ns.id, Some(ns.name.clone())),
        Target::named("ratelimitOverride", &found.id, Some(found.identifier.clone())),
    ];
    let mut batch = ctx.batch(&p.actor(), &p.workspace_id, "ratelimit.delete_override", &display, targets);
    batch.push(namespaces::delete_override(&found.id, ctx.now));
    ctx.store.commit(batch).await?;
    Ok(())
}

/// A page of a namespace's live overrides and their total.
pub async fn list_overrides(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<(Vec<OverrideRow>, i64)> {
    let ns = namespace(ctx, p, by).await?;
    Ok(namespaces::page(&ctx.store, &ns.id, cursor, limit).await?)
}
