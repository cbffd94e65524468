//! identities.* with keygate's identity credits (decisions.md §3). An identity's credits are a
//! `credits` row with `identity_id` set, charged before the key's own balance; every change of
//! that balance goes through the credits service.

use super::auth::Principal;
use super::{credits, Ctx, Error, Resource, Result};
use crate::domain::credits::{
    plan_identity_credits, Balance, CreditsInput, CreditsOwner, CreditsPlan, LimiterStep, StoredCredits,
};
use crate::domain::identities::{
    check_refill_day, duplicate_ratelimit_message, encode_meta_within, first_duplicate, plan_ratelimits,
    MetaLimit,
};
use crate::domain::ids::{new_id, IdKind};
use crate::domain::patch::Patch;
use crate::domain::permissions::require;
pub use crate::domain::ratelimit::NamedLimit as LimitSpec;
use crate::domain::Meta;
use crate::store::audit::Target;
use crate::store::credits as credit_store;
pub use crate::store::credits::CreditsRow;
use crate::store::identities::{self as identity_store, IdentityRow};
pub use crate::store::identities::{IdentityPage, IdentityRef, PageQuery};
use crate::store::ratelimits;
pub use crate::store::ratelimits::IdentityLimitRow;
use crate::store::{keys, AuditEvent, Batch};

/// Identities are created in this environment (the v1 SDK sends none).
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// An identity with its rate limits and credits.
#[derive(Debug, Clone)]
pub struct IdentityView {
    pub identity: IdentityRow,
    pub ratelimits: Vec<IdentityLimitRow>,
    pub credits: Option<CreditsRow>,
}

/// How a request addresses an identity: `identityId` wins over `externalId` (looked up in an
/// environment); neither is a 400.
pub fn lookup<'a>(
    identity_id: Option<&'a str>,
    external_id: Option<&'a str>,
    environment: &'a str,
) -> Result<IdentityRef<'a>> {
    match (identity_id, external_id) {
        (Some(id), _) => Ok(IdentityRef::Id(id)),
        (None, Some(external_id)) => Ok(IdentityRef::External { external_id, environment }),
        (None, None) => Err(Error::bad_request("Provide either identityId or externalId")),
    }
}

async fn find(ctx: &Ctx, workspace_id: &str, by: IdentityRef<'_>) -> Result<IdentityRow> {
    identity_store::find(&ctx.store, workspace_id, by)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Identity, format!("identity {} not found", by.shown())))
}

async fn view(ctx: &Ctx, identity: IdentityRow) -> Result<IdentityView> {
    let ratelimits = ratelimits::of_identity(&ctx.store, &identity.id).await?;
    let credits = credit_store::find(&ctx.store, &CreditsOwner::Identity(identity.id.clone())).await?;
    Ok(IdentityView { identity, ratelimits, credits })
}

/// A daily refill has no `refillDay`.
fn check_credits(credits: &CreditsInput) -> Result<()> {
    if let Some(refill) = credits.refill.value() {
        check_refill_day(!refill.monthly, refill.day, "credits.refill")?;
    }
    Ok(())
}

fn check_ratelimit_names(ratelimits: &[LimitSpec]) -> Result<()> {
    match first_duplicate(ratelimits.iter().map(|r| r.name.as_str())) {
        Some(name) => Err(Error::conflict(Resource::Identity, duplicate_ratelimit_message(name))),
        None => Ok(()),
    }
}

fn identity_target(identity_id: &str, external_id: &str) -> Target {
    Target::named("identity", identity_id, Some(external_id.to_string()))
}

/// The audit event of a change to one of the identity's rate limits.
fn ratelimit_event(
    ctx: &Ctx,
    p: &Principal,
    event: &str,
    identity: &Target,
    id: &str,
    name: &str,
) -> AuditEvent {
    let verb = match event {
        "ratelimit.create" => "Created",
        "ratelimit.update" => "Updated",
        _ => "Deleted",
    };
    let targets = vec![identity.clone(), Target::named("ratelimit", id, Some(name.to_string()))];
    ctx.event(&p.actor(), &p.workspace_id, event, &format!("{verb} {id}"), targets)
}

fn insert_limit(
    ctx: &Ctx,
    p: &Principal,
    batch: &mut Batch,
    identity: &Target,
    rl: &LimitSpec,
) -> Result<()> {
    let id = new_id(IdKind::Ratelimit, ctx.now)?;
    batch.push(ratelimits::insert_identity_limit(&id, &p.workspace_id, &identity.id, rl, ctx.now));
    batch.audit(ratelimit_event(ctx, p, "ratelimit.create", identity, &id, &rl.name));
    Ok(())
}

pub struct NewIdentity {
    pub external_id: String,
    pub meta: Option<Meta>,
    pub ratelimits: Vec<LimitSpec>,
    pub credits: Option<CreditsInput>,
    pub meta_limit: MetaLimit,
}

/// Creates an identity with its rate limits and credits; returns its id.
pub async fn create(ctx: &Ctx, p: &Principal, req: NewIdentity) -> Result<String> {
    let meta = req.meta.as_ref().map(|m| encode_meta_within(m, req.meta_limit)).transpose()?;
    check_ratelimit_names(&req.ratelimits)?;
    if let Some(credits) = &req.credits {
        check_credits(credits)?;
    }
    let ws = &p.workspace_id;
    let identity_id = new_id(IdKind::Identity, ctx.now)?;
    let target = identity_target(&identity_id, &req.external_id);
    let display = format!("Created {identity_id}");
    let mut batch = ctx.batch(&p.actor(), ws, "identity.create", &display, vec![target.clone()]);
    batch.push(identity_store::insert(
        &identity_id,
        &req.external_id,
        ws,
        DEFAULT_ENVIRONMENT,
        meta.as_deref(),
        ctx.now,
    ));
    for rl in &req.ratelimits {
        insert_limit(ctx, p, &mut batch, &target, rl)?;
    }
    let credits = plan_identity_credits(&identity_id, None, &req.credits.map_or(Patch::Absent, Patch::Value));
    credits::stage(&mut batch, &credits, ws, ctx.now)?;
    match ctx.store.commit(batch).await {
        Ok(_) => Ok(identity_id),
        Err(e) if e.is_conflict_on("identities") => Err(Error::conflict(
            Resource::Identity,
            format!("Identity with externalId \"{}\" already exists in this workspace", req.external_id),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(ctx: &Ctx, p: &Principal, by: IdentityRef<'_>) -> Result<IdentityView> {
    let identity = find(ctx, &p.workspace_id, by).await?;
    view(ctx, identity).await
}

/// v2's getIdentity: the root key needs `read_identity` for the identity found.
pub async fn get_checked(ctx: &Ctx, p: &Principal, by: IdentityRef<'_>) -> Result<IdentityView> {
    let identity = find(ctx, &p.workspace_id, by).await?;
    p.require(&require::identity(Some(&identity.id), "read_identity"))?;
    view(ctx, identity).await
}

/// A page of identities. With `checked` (v2) the root key needs `read_identity` for each one
/// returned (an empty page needs nothing).
pub async fn list(ctx: &Ctx, p: &Principal, query: &PageQuery<'_>, checked: bool) -> Result<IdentityPage> {
    let page = identity_store::page(&ctx.store, &p.workspace_id, query).await?;
    if checked {
        for row in &page.rows {
            p.require(&require::identity(Some(&row.id), "read_identity"))?;
        }
    }
    Ok(page)
}

pub struct IdentityUpdate {
    pub meta: Patch<Meta>,
    /// Replaces the whole set (same names keep their rows).
    pub ratelimits: Option<Vec<LimitSpec>>,
    pub credits: Patch<CreditsInput>,
    pub meta_limit: MetaLimit,
}

/// Updates an identity; returns it as stored after the change.
pub async fn update(
    ctx: &Ctx,
    p: &Principal,
    by: IdentityRef<'_>,
    req: IdentityUpdate,
) -> Result<IdentityView> {
    if let Some(ratelimits) = &req.ratelimits {
        check_ratelimit_names(ratelimits)?;
    }
    let meta = req.meta.try_map(|m| encode_meta_within(&m, req.meta_limit))?;
    if let Some(credits) = req.credits.value() {
        check_credits(credits)?;
    }
    let ws = &p.workspace_id;
    let identity = find(ctx, ws, by).await?;
    let target = identity_target(&identity.id, &identity.external_id);
    let display = format!("Updated {}", identity.id);
    let mut batch = ctx.batch(&p.actor(), ws, "identity.update", &display, vec![target.clone()]);
    batch.push(identity_store::update_meta(&identity.id, &meta, ctx.now));
    if let Some(wanted) = &req.ratelimits {
        let existing: Vec<(String, String)> = ratelimits::of_identity(&ctx.store, &identity.id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let plan = plan_ratelimits(&existing, wanted, |r| r.name.as_str());
        for id in &plan.delete {
            batch.push(ratelimits::delete_limit(id));
            let name = existing.iter().find(|(e, _)| e == id).map(|(_, n)| n.as_str()).unwrap_or_default();
            batch.audit(ratelimit_event(ctx, p, "ratelimit.delete", &target, id, name));
        }
        for (id, rl) in &plan.update {
            batch.push(ratelimits::update_limit(id, rl, ctx.now));
            batch.audit(ratelimit_event(ctx, p, "ratelimit.update", &target, id, &rl.name));
        }
        for rl in &plan.create {
            insert_limit(ctx, p, &mut batch, &target, rl)?;
        }
    }
    let stored = match req.credits.is_absent() {
        true => None,
        false => credit_store::find(&ctx.store, &CreditsOwner::Identity(identity.id.clone())).await?,
    };
    let stored = stored.map(|row| StoredCredits {
        id: row.id,
        refill_amount: row.refill_amount,
        refill_day: row.refill_day,
    });
    let plan = plan_identity_credits(&identity.id, stored.as_ref(), &req.credits);
    credits::stage(&mut batch, &plan, ws, ctx.now)?;
    credits::commit(ctx, batch, &plan).await?;
    get(ctx, p, IdentityRef::Id(&identity.id)).await
}

/// Deletes an identity, its rate limits and credits; its keys stay, without an identity.
pub async fn delete(ctx: &Ctx, p: &Principal, by: IdentityRef<'_>) -> Result<()> {
    let ws = &p.workspace_id;
    let identity = find(ctx, ws, by).await?;
    let target = identity_target(&identity.id, &identity.external_id);
    let limits = ratelimits::of_identity(&ctx.store, &identity.id).await?;
    let stored = credit_store::find(&ctx.store, &CreditsOwner::Identity(identity.id.clone())).await?;
    let display = format!("Deleted {}", identity.id);
    let mut batch = ctx.batch(&p.actor(), ws, "identity.delete", &display, vec![target.clone()]);
    batch.push(ratelimits::delete_of_identity(&identity.id));
    batch.push(credit_store::delete_of_identity(&identity.id));
    // no dangling references: the identity's keys stay, without an identity
    batch.push(keys::detach_identity(&identity.id, ctx.now));
    batch.push(identity_store::delete(&identity.id));
    for rl in &limits {
        batch.audit(ratelimit_event(ctx, p, "ratelimit.delete", &target, &rl.id, &rl.name));
    }
    let limiter =
        stored.map(|row| LimiterStep::Reload(Balance::IdentityCredits(row.id))).into_iter().collect();
    credits::commit(ctx, batch, &CreditsPlan { writes: vec![], limiter }).await
}
