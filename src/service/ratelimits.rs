//! ratelimits.* (v1) and ratelimit.* (v2): `limit` through the rate-limiter object of
//! namespace+identifier (one counter store for both versions: v1 answers the fixed window, v2 the
//! sliding window), v2's `multiLimit` (all or nothing across objects), and the namespace overrides
//! (exact identifier first, else the oldest matching wildcard rule).

use super::auth::Principal;
use super::{idempotency, Ctx, Error, Resource, Result};
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
    idempotency::check(ctx)?;
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
    // what was asked (not what an override made of it: a retry after an override changed is the
    // same request)
    let claim = ctx.idempotency_key.as_ref().and_then(|_| {
        let asked = [req.limit, req.duration, req.cost].map(|n| n.to_string());
        let parts = ["ratelimits.limit", &req.namespace, &req.identifier, &asked[0], &asked[1], &asked[2]];
        idempotency::claim(ctx, ws, &parts)
    });
    let reply = ctx.limiters.limit(&identifier, vec![check], ctx.now, Algorithm::Fixed, claim).await?;
    if reply.reused {
        return Err(idempotency::reused());
    }
    idempotency::replayed(ctx, reply.replayed);
    let result = reply.results.first().ok_or_else(|| Error::Internal("rate limiter: no result".into()))?;
    Ok(LimitOutcome { success: reply.passed, limit, remaining: result.remaining.max(0), reset: result.reset })
}

/// One check of v2's ratelimit.limit / multiLimit.
#[derive(Debug, Clone)]
pub struct Check {
    /// The namespace's id or name (created on first use with `create_namespace`).
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub cost: i64,
}

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub passed: bool,
    /// The limit that applied (an override's, else the request's).
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
    pub override_id: Option<String>,
}

/// v2: the namespace named by id or name; a deleted one is gone (410); a missing one is created
/// when the root key may (`ratelimit.*.create_namespace`, else 403).
async fn namespace_for_limit(ctx: &Ctx, p: &Principal, id_or_name: &str) -> Result<Namespace> {
    match namespaces::by_id_or_name(&ctx.store, &p.workspace_id, id_or_name).await? {
        Some(ns) if ns.deleted => {
            Err(Error::Gone("This namespace has been deleted. Contact support to restore.".into()))
        }
        Some(ns) => Ok(Namespace { id: ns.id, name: ns.name }),
        None => {
            let create = require::ratelimit(None, "create_namespace");
            if !p.allows(&create) {
                return Err(Error::InsufficientPermissions(format!(
                    "namespace '{id_or_name}' does not exist and creating it needs 'ratelimit.*.create_namespace': {}",
                    create.missing_message(&p.permissions)
                )));
            }
            create_namespace(ctx, p, id_or_name).await?.ok_or_else(|| {
                Error::Gone("This namespace has been deleted. Contact support to restore.".into())
            })
        }
    }
}

/// Counts v2 checks with the sliding window, all or nothing: each namespace+identifier has its
/// own rate-limiter object, so when one rejects, the objects that counted are refunded. Returns
/// whether all passed and each check's answer, in order.
pub async fn limit_all(ctx: &Ctx, p: &Principal, checks: &[Check]) -> Result<(bool, Vec<CheckOutcome>)> {
    idempotency::check(ctx)?;
    let ws = &p.workspace_id;
    let mut found: Vec<(String, Namespace)> = Vec::new();
    let mut planned = Vec::with_capacity(checks.len());
    for c in checks {
        let ns = match found.iter().find(|(given, _)| *given == c.namespace) {
            Some((_, ns)) => ns.clone(),
            None => {
                let ns = namespace_for_limit(ctx, p, &c.namespace).await?;
                found.push((c.namespace.clone(), ns.clone()));
                ns
            }
        };
        p.require(&require::ratelimit(Some(&ns.id), "limit"))?;
        let candidates = namespaces::candidates(&ctx.store, ws, &ns.id, &c.identifier).await?;
        let picked = overrides::pick(&c.identifier, &candidates, |o| &o.identifier);
        let (limit, duration) = picked.map_or((c.limit, c.duration), |o| (o.limit, o.duration));
        let check = LimitCheck { name: "limit".into(), limit, duration, cost: c.cost };
        planned.push((format!("rl:{}:{}", ns.id, c.identifier), check, picked.map(|o| o.id.clone())));
    }
    // one call per rate-limiter object, with all of its checks
    let mut objects: Vec<String> = Vec::new();
    for (object, ..) in &planned {
        if !objects.contains(object) {
            objects.push(object.clone());
        }
    }
    // what was asked, as a whole: every object keeps the answer under the same fingerprint (only
    // for a request with an Idempotency-Key)
    let asked: Vec<String> = checks
        .iter()
        .filter(|_| ctx.idempotency_key.is_some())
        .flat_map(|c| {
            [
                c.namespace.clone(),
                c.identifier.clone(),
                c.limit.to_string(),
                c.duration.to_string(),
                c.cost.to_string(),
            ]
        })
        .collect();
    let mut parts = vec!["ratelimit.limit"];
    parts.extend(asked.iter().map(String::as_str));
    let mut replies = Vec::with_capacity(objects.len());
    for object in &objects {
        let limits: Vec<LimitCheck> =
            planned.iter().filter(|(o, ..)| o == object).map(|(_, c, _)| c.clone()).collect();
        let claim = idempotency::claim(ctx, ws, &parts);
        let reply = ctx.limiters.limit(object, limits.clone(), ctx.now, Algorithm::Sliding, claim).await?;
        if reply.reused {
            return Err(idempotency::reused());
        }
        idempotency::replayed(ctx, reply.replayed);
        replies.push((reply, limits));
    }
    let all = replies.iter().all(|(r, _)| r.passed);
    if !all {
        for (object, (reply, limits)) in objects.iter().zip(&replies) {
            // a replayed answer counted nothing now (its first request refunded what it had to)
            if reply.passed && !reply.replayed {
                ctx.limiters.refund(object, limits.clone(), ctx.now).await?;
            }
        }
    }
    let mut taken = vec![0usize; objects.len()];
    let mut outcomes = Vec::with_capacity(planned.len());
    for (object, check, override_id) in planned {
        let at = objects.iter().position(|o| *o == object).unwrap_or_default();
        let (reply, _) = &replies[at];
        let result = reply
            .results
            .get(taken[at])
            .ok_or_else(|| Error::Internal("rate limiter: missing result".into()))?;
        taken[at] += 1;
        // a refunded check was not counted after all
        let refunded = !all && reply.passed;
        let remaining =
            if refunded { (result.remaining + check.cost).min(check.limit) } else { result.remaining };
        outcomes.push(CheckOutcome {
            passed: result.passed,
            limit: check.limit,
            remaining: remaining.max(0),
            reset: result.reset,
            override_id,
        });
    }
    Ok((all, outcomes))
}

/// How an override route names its namespace.
#[derive(Debug, Clone, Copy)]
pub enum NamespaceRef<'a> {
    Id(&'a str),
    Name(&'a str),
    /// v2: an id or a name (an id match wins).
    IdOrName(&'a str),
}

impl<'a> NamespaceRef<'a> {
    /// v1's `namespaceId` (wins) / `namespaceName`; neither is a 400.
    pub fn v1(id: Option<&'a str>, name: Option<&'a str>) -> Result<Self> {
        match (id.filter(|s| !s.is_empty()), name.filter(|s| !s.is_empty())) {
            (Some(id), _) => Ok(NamespaceRef::Id(id)),
            (None, Some(name)) => Ok(NamespaceRef::Name(name)),
            (None, None) => Err(Error::bad_request("You must provide a namespaceId or a namespaceName")),
        }
    }
}

/// The live namespace `by` names (404); with `action` (v2), the root key needs it on that
/// namespace (`ratelimit.<namespaceId>.<action>` or `ratelimit.*.<action>`).
async fn namespace(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    action: Option<&str>,
) -> Result<Namespace> {
    let ws = &p.workspace_id;
    let (found, given) = match by {
        NamespaceRef::Id(id) => (namespaces::by_id(&ctx.store, ws, id).await?, id),
        NamespaceRef::Name(name) => (namespaces::by_name(&ctx.store, ws, name).await?, name),
        NamespaceRef::IdOrName(s) => {
            let found = namespaces::by_id_or_name(&ctx.store, ws, s).await?;
            (found.filter(|n| !n.deleted).map(|n| Namespace { id: n.id, name: n.name }), s)
        }
    };
    let ns =
        found.ok_or_else(|| Error::not_found(Resource::Namespace, format!("Namespace {given} not found")))?;
    if let Some(action) = action {
        p.require(&require::ratelimit(Some(&ns.id), action))?;
    }
    Ok(ns)
}

/// Creates or updates the override of an identifier (reviving a deleted one); returns its id.
pub async fn set_override(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    s: &OverrideSettings<'_>,
    action: Option<&str>,
) -> Result<String> {
    let ns = namespace(ctx, p, by, action).await?;
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

/// The override of exactly this identifier, or (`matching`, v2) else the first wildcard override
/// that matches it.
pub async fn get_override(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    identifier: &str,
    matching: bool,
    action: Option<&str>,
) -> Result<OverrideRow> {
    let ns = namespace(ctx, p, by, action).await?;
    let missing = || Error::not_found(Resource::Override, "Override not found");
    if matching {
        let candidates = namespaces::candidates(&ctx.store, &p.workspace_id, &ns.id, identifier).await?;
        return overrides::pick(identifier, &candidates, |o| &o.identifier).cloned().ok_or_else(missing);
    }
    namespaces::live_override(&ctx.store, &ns.id, identifier).await?.ok_or_else(missing)
}

pub async fn delete_override(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    identifier: &str,
    action: Option<&str>,
) -> Result<()> {
    let ns = namespace(ctx, p, by, action).await?;
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

/// Which overrides a page shows: after `cursor` (v1) or from it (`inclusive`, v2).
#[derive(Debug, Clone, Copy)]
pub struct OverridePage<'a> {
    pub cursor: Option<&'a str>,
    pub inclusive: bool,
    pub limit: i64,
}

/// A page of a namespace's live overrides and their total.
pub async fn list_overrides(
    ctx: &Ctx,
    p: &Principal,
    by: NamespaceRef<'_>,
    page: OverridePage<'_>,
    action: Option<&str>,
) -> Result<(Vec<OverrideRow>, i64)> {
    let ns = namespace(ctx, p, by, action).await?;
    Ok(namespaces::page(&ctx.store, &ns.id, page.cursor, page.inclusive, page.limit).await?)
}
