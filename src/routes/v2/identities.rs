//! v2 `identities.*` routes.

use crate::api::v2::identities::*;
use crate::api::v2::{meta_out, CreditsResponse, Data, MetaOnly, Page, RatelimitRequest, RatelimitResponse};
use crate::domain::credits::CreditsInput;
use crate::domain::identities::MetaLimit;
use crate::domain::patch::Patch;
use crate::service::auth::Principal;
use crate::service::identities::{
    self, CreditsRow, IdentityLimitRow, IdentityRef, IdentityView, LimitSpec, NewIdentity, PageQuery,
};
use crate::service::{Ctx, Result};

fn limit_specs(limits: Option<Vec<RatelimitRequest>>) -> Option<Vec<LimitSpec>> {
    limits.map(|l| {
        l.into_iter()
            .map(|r| LimitSpec {
                name: r.name,
                limit: r.limit,
                duration: r.duration,
                auto_apply: r.auto_apply,
            })
            .collect()
    })
}

fn credits_input(c: IdentityCredits) -> CreditsInput {
    CreditsInput { remaining: c.remaining, refill: c.refill.map(|r| r.refill()) }
}

fn wire_limits<'a>(rows: impl Iterator<Item = &'a IdentityLimitRow>) -> Option<Vec<RatelimitResponse>> {
    let limits: Vec<RatelimitResponse> = rows
        .map(|r| RatelimitResponse {
            id: r.id.clone(),
            name: r.name.clone(),
            limit: r.limit,
            duration: r.duration,
            auto_apply: r.auto_apply,
        })
        .collect();
    (!limits.is_empty()).then_some(limits)
}

fn wire_credits(row: &CreditsRow) -> CreditsResponse {
    CreditsResponse::from_columns(Some(row.remaining), row.refill_amount, row.refill_day)
}

fn wire_identity(v: IdentityView) -> Identity {
    Identity {
        meta: meta_out(v.identity.meta.as_deref()),
        id: v.identity.id,
        external_id: v.identity.external_id,
        ratelimits: wire_limits(v.ratelimits.iter()),
        credits: v.credits.as_ref().map(wire_credits),
    }
}

pub async fn create(
    ctx: &Ctx,
    p: &Principal,
    req: CreateIdentityRequest,
) -> Result<Data<CreateIdentityResponse>> {
    let input = NewIdentity {
        external_id: req.external_id,
        meta: req.meta,
        ratelimits: limit_specs(req.ratelimits).unwrap_or_default(),
        credits: req.credits.map(credits_input),
        meta_limit: MetaLimit::Mebibyte,
    };
    Ok(Data::of(CreateIdentityResponse { identity_id: identities::create(ctx, p, input).await? }))
}

pub async fn get(ctx: &Ctx, p: &Principal, req: GetIdentityRequest) -> Result<Data<Identity>> {
    let by = IdentityRef::IdOrExternal(&req.identity);
    Ok(Data::of(wire_identity(identities::get_checked(ctx, p, by).await?)))
}

pub async fn list(ctx: &Ctx, p: &Principal, req: ListIdentitiesRequest) -> Result<Page<Identity>> {
    let limit = req.limit.unwrap_or(100);
    let query = PageQuery {
        environment: None,
        search: req.search.as_deref(),
        cursor: req.cursor.as_deref(),
        inclusive: true,
        limit: limit + 1,
    };
    let page = identities::list(ctx, p, &query, true).await?;
    let limits = page.ratelimits;
    Ok(Page::of(
        page.rows,
        limit,
        |r| r.id.clone(),
        |row| Identity {
            ratelimits: wire_limits(limits.iter().filter(|r| r.identity_id == row.id)),
            credits: row.credit_remaining.map(|remaining| {
                CreditsResponse::from_columns(
                    Some(remaining),
                    row.credit_refill_amount,
                    row.credit_refill_day,
                )
            }),
            meta: meta_out(row.meta.as_deref()),
            id: row.id,
            external_id: row.external_id,
        },
    ))
}

pub async fn update(ctx: &Ctx, p: &Principal, req: UpdateIdentityRequest) -> Result<Data<Identity>> {
    let update = identities::IdentityUpdate {
        meta: req.meta.map_or(Patch::Absent, Patch::Value),
        ratelimits: limit_specs(req.ratelimits),
        credits: req.credits.map(credits_input),
        meta_limit: MetaLimit::Mebibyte,
    };
    let by = IdentityRef::IdOrExternal(&req.identity);
    Ok(Data::of(wire_identity(identities::update(ctx, p, by, update).await?)))
}

pub async fn delete(ctx: &Ctx, p: &Principal, req: DeleteIdentityRequest) -> Result<MetaOnly> {
    identities::delete(ctx, p, IdentityRef::IdOrExternal(&req.identity)).await?;
    Ok(MetaOnly::default())
}
