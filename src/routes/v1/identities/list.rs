use super::{credits, wire_limit};
use crate::api::v1::identities::{ListIdentitiesQuery, ListIdentitiesResponse, ListedIdentity};
use crate::service::auth::Principal;
use crate::service::identities::{self, PageQuery};
use crate::service::{Ctx, Result};

pub async fn list(ctx: &Ctx, p: &Principal, req: ListIdentitiesQuery) -> Result<ListIdentitiesResponse> {
    let query = PageQuery {
        environment: Some(&req.environment),
        cursor: req.cursor.as_deref(),
        limit: req.limit.unwrap_or(100),
        ..PageQuery::default()
    };
    let page = identities::list(ctx, p, &query, false).await?;
    let identities: Vec<ListedIdentity> = page
        .rows
        .into_iter()
        .map(|row| ListedIdentity {
            ratelimits: page.ratelimits.iter().filter(|r| r.identity_id == row.id).map(wire_limit).collect(),
            credits: row.credit_remaining.map(|remaining| {
                credits(remaining, row.credit_refill_amount, row.credit_refill_day, row.credit_refilled_at)
            }),
            id: row.id,
            external_id: row.external_id,
        })
        .collect();
    let cursor = identities.last().map(|i| i.id.clone());
    Ok(ListIdentitiesResponse { identities, cursor, total: page.total })
}
